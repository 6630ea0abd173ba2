// Dense kernels of the blocked sensitivity products: a register-tiled Aᵀ·W for the per-point Jacobian products
// and the symmetric inverse behind the dense-inverse Hessian solver.
#include "block_kernels.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

namespace nembed::detail {

// Vectors of doubles as GCC vector types; the tile is 4 output rows × 2 vectors, kept in registers across the whole
// K loop (one broadcast of A and one row of W per step). The kernel is instantiated per instruction set and
// chosen at run time: Eigen's GEMM in a portable build only uses SSE2, and this product dominates the per-point
// covariances at N = 10 000.
typedef double v2d __attribute__((vector_size(16)));
typedef double v4d __attribute__((vector_size(32)));
typedef double v8d __attribute__((vector_size(64)));

template <class V>
__attribute__((always_inline)) inline void tile_kernel(std::size_t K, std::size_t Dd, std::size_t M, const double* A,
                                                       std::size_t lda, const double* W, std::size_t ldw,
                                                       double* out, std::size_t ldo) {
    constexpr std::size_t L = sizeof(V) / sizeof(double), FT = 4, CT = 2 * L;
    const std::size_t f_main = Dd - Dd % FT, c_main = M - M % CT;
    for (std::size_t f0 = 0; f0 < f_main; f0 += FT) {
        for (std::size_t c0 = 0; c0 < c_main; c0 += CT) {
            V acc[FT][2] = {};
            for (std::size_t e = 0; e < K; ++e) {
                V w0, w1;
                std::memcpy(&w0, W + e * ldw + c0, sizeof(V));
                std::memcpy(&w1, W + e * ldw + c0 + L, sizeof(V));
                const double* a = A + e * lda + f0;
                for (std::size_t i = 0; i < FT; ++i) {
                    acc[i][0] += a[i] * w0;
                    acc[i][1] += a[i] * w1;
                }
            }
            for (std::size_t i = 0; i < FT; ++i) {
                std::memcpy(out + (f0 + i) * ldo + c0, &acc[i][0], sizeof(V));
                std::memcpy(out + (f0 + i) * ldo + c0 + L, &acc[i][1], sizeof(V));
            }
        }
    }
    // Ragged edges: plain loops (a small share of the work for Dd ≥ 8 and M a multiple of 16).
    auto edge = [&](std::size_t fb, std::size_t fe, std::size_t cb, std::size_t ce) {
        for (std::size_t f = fb; f < fe; ++f) {
            double* o = out + f * ldo;
            for (std::size_t c = cb; c < ce; ++c) o[c] = 0.0;
            for (std::size_t e = 0; e < K; ++e) {
                const double av = A[e * lda + f];
                const double* w = W + e * ldw;
                for (std::size_t c = cb; c < ce; ++c) o[c] += av * w[c];
            }
        }
    };
    if (c_main < M) edge(0, f_main, c_main, M);
    if (f_main < Dd) edge(f_main, Dd, 0, M);
}

namespace {
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f,fma"))) void gemm_avx512(std::size_t K, std::size_t Dd, std::size_t M,
                                                         const double* A, std::size_t lda, const double* W,
                                                         std::size_t ldw, double* out, std::size_t ldo) {
    tile_kernel<v8d>(K, Dd, M, A, lda, W, ldw, out, ldo);
}
__attribute__((target("avx2,fma"))) void gemm_avx2(std::size_t K, std::size_t Dd, std::size_t M, const double* A,
                                                    std::size_t lda, const double* W, std::size_t ldw, double* out,
                                                    std::size_t ldo) {
    tile_kernel<v4d>(K, Dd, M, A, lda, W, ldw, out, ldo);
}
#endif
void gemm_base(std::size_t K, std::size_t Dd, std::size_t M, const double* A, std::size_t lda, const double* W,
               std::size_t ldw, double* out, std::size_t ldo) {
    tile_kernel<v2d>(K, Dd, M, A, lda, W, ldw, out, ldo);
}

using GemmFn = void (*)(std::size_t, std::size_t, std::size_t, const double*, std::size_t, const double*,
                        std::size_t, double*, std::size_t);
} // namespace

bool gemm_isa_supported(GemmIsa isa) {
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (isa == GemmIsa::avx512) return __builtin_cpu_supports("avx512f");
    if (isa == GemmIsa::avx2) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    return isa == GemmIsa::baseline;
}

namespace {
GemmFn gemm_fn(GemmIsa isa) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (isa == GemmIsa::avx512) return gemm_avx512;
    if (isa == GemmIsa::avx2) return gemm_avx2;
#endif
    (void)isa;
    return gemm_base;
}
GemmFn pick_gemm() {
    for (GemmIsa isa : {GemmIsa::avx512, GemmIsa::avx2})
        if (gemm_isa_supported(isa)) return gemm_fn(isa);
    return gemm_base;
}
} // namespace

void gemm_at_b_isa(GemmIsa isa, std::size_t K, std::size_t Dd, std::size_t M, const double* A, std::size_t lda,
                   const double* W, std::size_t ldw, double* out, std::size_t ldo) {
    gemm_fn(gemm_isa_supported(isa) ? isa : GemmIsa::baseline)(K, Dd, M, A, lda, W, ldw, out, ldo);
}

void gemm_at_b(std::size_t K, std::size_t Dd, std::size_t M, const double* A, std::size_t lda, const double* W,
               std::size_t ldw, double* out, std::size_t ldo) {
    static const GemmFn fn = pick_gemm();
    fn(K, Dd, M, A, lda, W, ldw, out, ldo);
}

#ifdef NEMBED_HAVE_LAPACK
extern "C" {
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info);
void dpotri_(const char* uplo, const int* n, double* a, const int* lda, int* info);
void dsytrf_(const char* uplo, const int* n, double* a, const int* lda, int* ipiv, double* work, const int* lwork,
             int* info);
void dsytri2_(const char* uplo, const int* n, double* a, const int* lda, const int* ipiv, double* work,
              const int* lwork, int* info);
}

bool have_lapack() { return true; }

namespace {
// LAPACK leaves the result in the lower triangle; mirror it (column-major: (i, j) with i > j is below).
void mirror_lower(Eigen::MatrixXd& A) { A.triangularView<Eigen::StrictlyUpper>() = A.transpose(); }
} // namespace

bool symmetric_inverse(Eigen::MatrixXd& A, bool& definite) {
    const int n = static_cast<int>(A.rows());
    const char lo = 'L';
    int info = 0;
    // Cholesky overwrites only the lower triangle, also when it fails: the strict upper triangle and a copy of the
    // diagonal restore A without a second n × n copy.
    const Eigen::VectorXd diag = A.diagonal();
    dpotrf_(&lo, &n, A.data(), &n, &info);
    if (info == 0) {
        dpotri_(&lo, &n, A.data(), &n, &info);
        if (info != 0) return false;
        definite = true;
        mirror_lower(A);
        return true;
    }
    definite = false;
    A.triangularView<Eigen::StrictlyLower>() = A.transpose();
    A.diagonal() = diag;
    std::vector<int> ipiv(static_cast<std::size_t>(n));
    double q = 0.0;
    int lwork = -1;
    dsytrf_(&lo, &n, A.data(), &n, ipiv.data(), &q, &lwork, &info);
    lwork = std::max(1, static_cast<int>(q));
    std::vector<double> work(static_cast<std::size_t>(lwork));
    dsytrf_(&lo, &n, A.data(), &n, ipiv.data(), work.data(), &lwork, &info);
    if (info != 0) return false;
    lwork = -1;
    dsytri2_(&lo, &n, A.data(), &n, ipiv.data(), &q, &lwork, &info);
    lwork = std::max(1, static_cast<int>(q));
    work.assign(static_cast<std::size_t>(lwork), 0.0);
    dsytri2_(&lo, &n, A.data(), &n, ipiv.data(), work.data(), &lwork, &info);
    if (info != 0) return false;
    mirror_lower(A);
    return true;
}
#else
bool have_lapack() { return false; }

bool symmetric_inverse(Eigen::MatrixXd& A, bool& definite) {
    Eigen::LLT<Eigen::MatrixXd> llt(A);
    if (llt.info() != Eigen::Success) return false;
    definite = true;
    A.setIdentity();
    llt.solveInPlace(A);
    return true;
}
#endif

} // namespace nembed::detail
