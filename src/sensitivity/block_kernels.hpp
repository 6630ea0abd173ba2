#pragma once
// Small dense kernels of the blocked sensitivity products (private to src/sensitivity).
#include <cstddef>

#include <Eigen/Dense>

namespace nembed::detail {

/// out (Dd × M, row-major, leading dimension ldo) = α·Aᵀ W (+ out when `accumulate`) with A: K × Dd (row-major, leading dimension lda) and
/// W: K × M (row-major, leading dimension ldw). The per-point product of the blocked Jᵀ·V (K ≈ 2k neighbour
/// entries, Dd features, M right-hand sides); compiled for AVX-512, AVX2 and baseline x86-64 with the best chosen
/// at run time, because Eigen's GEMM in a portable build only uses SSE2 and this product dominates the per-point
/// covariances at N = 10 000.
void gemm_at_b(std::size_t K, std::size_t Dd, std::size_t M, const double* A, std::size_t lda, const double* W,
               std::size_t ldw, double* out, std::size_t ldo, double alpha = 1.0, bool accumulate = false);

/// The instruction-set variants of gemm_at_b, for tests: each one that this CPU supports must agree with Eigen.
enum class GemmIsa { baseline, avx2, avx512 };
bool gemm_isa_supported(GemmIsa isa);
void gemm_at_b_isa(GemmIsa isa, std::size_t K, std::size_t Dd, std::size_t M, const double* A, std::size_t lda,
                   const double* W, std::size_t ldw, double* out, std::size_t ldo, double alpha = 1.0,
                   bool accumulate = false);

/// In-place inverse of a symmetric positive definite matrix (reads the upper triangle, writes both): blocked upper
/// Cholesky A = RᵀR, U = R⁻¹, A⁻¹ = U Uᵀ, every O(n³) step through gemm_at_b on `threads` threads (each output
/// tile is computed by one call, so the result does not depend on the thread count). Returns false when A is not
/// positive definite; A is then overwritten with intermediate values. Used without LAPACK; about 5–10 GFLOP/s
/// per core, memory-bound where LAPACK's packed kernels are not.
bool spd_inverse_blocked(Eigen::MatrixXd& A, int threads);

/// The same with LAPACK (dpotrf, dpotri) when the build has it, else spd_inverse_blocked. With OpenBLAS, warns
/// once when the library does not recognise the CPU (its generic kernels are several times slower).
bool spd_inverse(Eigen::MatrixXd& A, int threads);

/// In-place inverse of a symmetric indefinite matrix by LAPACK's Bunch–Kaufman factorisation (dsytrf, dsytri2);
/// false without LAPACK or when A is singular. Far slower than spd_inverse (dsytri2 is not blocked like a GEMM).
bool indefinite_inverse(Eigen::MatrixXd& A);

/// Whether the build links LAPACK (the indefinite inverse).
bool have_lapack();

} // namespace nembed::detail
