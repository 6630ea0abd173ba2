#pragma once
// Small dense kernels of the blocked sensitivity products (private to src/sensitivity).
#include <cstddef>

#include <Eigen/Dense>

namespace nembed::detail {

/// out (Dd × M, row-major, leading dimension ldo) = Aᵀ W with A: K × Dd (row-major, leading dimension lda) and
/// W: K × M (row-major, leading dimension ldw). The per-point product of the blocked Jᵀ·V (K ≈ 2k neighbour
/// entries, Dd features, M right-hand sides); compiled for AVX-512, AVX2 and baseline x86-64 with the best chosen
/// at run time, because Eigen's GEMM in a portable build only uses SSE2 and this product dominates the per-point
/// covariances at N = 10 000.
void gemm_at_b(std::size_t K, std::size_t Dd, std::size_t M, const double* A, std::size_t lda, const double* W,
               std::size_t ldw, double* out, std::size_t ldo);

/// The instruction-set variants of gemm_at_b, for tests: each one that this CPU supports must agree with Eigen.
enum class GemmIsa { baseline, avx2, avx512 };
bool gemm_isa_supported(GemmIsa isa);
void gemm_at_b_isa(GemmIsa isa, std::size_t K, std::size_t Dd, std::size_t M, const double* A, std::size_t lda,
                   const double* W, std::size_t ldw, double* out, std::size_t ldo);

/// In-place inverse of a symmetric matrix (both triangles read and written). Cholesky when A is positive definite,
/// else a symmetric indefinite (Bunch–Kaufman) factorisation; LAPACK when the build found it, Eigen otherwise.
/// Returns false when A is singular (or, without LAPACK, not positive definite); A is then unspecified.
/// `definite` reports whether the Cholesky path was taken.
bool symmetric_inverse(Eigen::MatrixXd& A, bool& definite);

/// Whether the build links LAPACK (the fast dense inverse).
bool have_lapack();

} // namespace nembed::detail
