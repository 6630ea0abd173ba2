// Dense kernels of the blocked sensitivity products: a register-tiled Aᵀ·W for the per-point Jacobian products
// and the symmetric inverse behind the dense-inverse Hessian solver.
#include "block_kernels.hpp"

#include "nembed/core/log.hpp"
#include "nembed/core/parallel.hpp"

#include <algorithm>
#include <cstring>
#include <string>
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
__attribute__((always_inline)) inline void store(double* p, V r, double alpha, bool accumulate) {
    r *= alpha;
    if (accumulate) {
        V o;
        std::memcpy(&o, p, sizeof(V));
        r += o;
    }
    std::memcpy(p, &r, sizeof(V));
}

template <class V>
__attribute__((always_inline)) inline void tile_kernel(std::size_t K, std::size_t Dd, std::size_t M, const double* A,
                                                       std::size_t lda, const double* W, std::size_t ldw,
                                                       double* out, std::size_t ldo, double alpha, bool accumulate) {
    constexpr std::size_t L = sizeof(V) / sizeof(double), FT = 4, CT = 2 * L;
    const std::size_t f_main = Dd - Dd % FT, c_main = M - M % CT;
    // Output columns outermost: a K × CT strip of W stays in L1/L2 while every row tile of A passes over it.
    for (std::size_t c0 = 0; c0 < c_main; c0 += CT) {
        for (std::size_t f0 = 0; f0 < f_main; f0 += FT) {
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
                store(out + (f0 + i) * ldo + c0, acc[i][0], alpha, accumulate);
                store(out + (f0 + i) * ldo + c0 + L, acc[i][1], alpha, accumulate);
            }
        }
    }
    // Ragged edges: plain loops (a small share of the work for Dd ≥ 8 and M a multiple of 16).
    // Same arithmetic as the tiles (a sum from zero, then α·sum added to or stored in out), so that a column
    // gives the same bits whether it falls in a tile or on an edge.
    auto edge = [&](std::size_t fb, std::size_t fe, std::size_t cb, std::size_t ce) {
        constexpr std::size_t chunk = 16;
        for (std::size_t f = fb; f < fe; ++f) {
            double* o = out + f * ldo;
            for (std::size_t c0 = cb; c0 < ce; c0 += chunk) {
                const std::size_t cw = std::min(chunk, ce - c0);
                double t[chunk] = {};
                for (std::size_t e = 0; e < K; ++e) {
                    const double av = A[e * lda + f];
                    const double* w = W + e * ldw + c0;
                    for (std::size_t c = 0; c < cw; ++c) t[c] += av * w[c];
                }
                for (std::size_t c = 0; c < cw; ++c) o[c0 + c] = (accumulate ? o[c0 + c] : 0.0) + alpha * t[c];
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
                                                         std::size_t ldw, double* out, std::size_t ldo, double alpha,
                                                         bool accumulate) {
    tile_kernel<v8d>(K, Dd, M, A, lda, W, ldw, out, ldo, alpha, accumulate);
}
__attribute__((target("avx2,fma"))) void gemm_avx2(std::size_t K, std::size_t Dd, std::size_t M, const double* A,
                                                    std::size_t lda, const double* W, std::size_t ldw, double* out,
                                                    std::size_t ldo, double alpha, bool accumulate) {
    tile_kernel<v4d>(K, Dd, M, A, lda, W, ldw, out, ldo, alpha, accumulate);
}
#endif
void gemm_base(std::size_t K, std::size_t Dd, std::size_t M, const double* A, std::size_t lda, const double* W,
               std::size_t ldw, double* out, std::size_t ldo, double alpha, bool accumulate) {
    tile_kernel<v2d>(K, Dd, M, A, lda, W, ldw, out, ldo, alpha, accumulate);
}

using GemmFn = void (*)(std::size_t, std::size_t, std::size_t, const double*, std::size_t, const double*,
                        std::size_t, double*, std::size_t, double, bool);
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
                   const double* W, std::size_t ldw, double* out, std::size_t ldo, double alpha, bool accumulate) {
    gemm_fn(gemm_isa_supported(isa) ? isa : GemmIsa::baseline)(K, Dd, M, A, lda, W, ldw, out, ldo, alpha, accumulate);
}

void gemm_at_b(std::size_t K, std::size_t Dd, std::size_t M, const double* A, std::size_t lda, const double* W,
               std::size_t ldw, double* out, std::size_t ldo, double alpha, bool accumulate) {
    static const GemmFn fn = pick_gemm();
    fn(K, Dd, M, A, lda, W, ldw, out, ldo, alpha, accumulate);
}

namespace {

// K split into chunks so that a chunk of W rows stays in cache across the row tiles of A (the strided panels of
// the factorisation reach K = n); the first chunk sets or accumulates as asked, the rest accumulate.
void gemm_chunked(std::size_t K, std::size_t Dd, std::size_t M, const double* A, std::size_t lda, const double* W,
                  std::size_t ldw, double* out, std::size_t ldo, double alpha, bool accumulate) {
    constexpr std::size_t kc = 256;
    if (K == 0 && !accumulate) {
        for (std::size_t f = 0; f < Dd; ++f) std::fill(out + f * ldo, out + f * ldo + M, 0.0);
        return;
    }
    for (std::size_t e0 = 0; e0 < K; e0 += kc)
        gemm_at_b(std::min(kc, K - e0), Dd, M, A + e0 * lda, lda, W + e0 * ldw, ldw, out, ldo, alpha,
                  accumulate || e0 > 0);
}

// Tile q of n_tiles whose cost grows (or shrinks) linearly with its index: pairs the cheap and the dear ones so
// that contiguous work ranges are balanced.
std::size_t balanced(std::size_t q, std::size_t n_tiles) { return q % 2 == 0 ? q / 2 : n_tiles - 1 - q / 2; }

// fn(begin, end) over [0, total) in fixed chunks of 64, the chunks spread over the threads: Eigen's triangular
// solves take different paths for different widths, so the split must not depend on the thread count.
template <class F>
void fixed_chunks(int threads, std::size_t total, F&& fn) {
    constexpr std::size_t chunk = 64;
    const std::size_t n_chunks = (total + chunk - 1) / chunk;
    parallelize(threads, n_chunks, [&](int, std::size_t qb, std::size_t qe) {
        for (std::size_t q = qb; q < qe; ++q) fn(q * chunk, std::min(total, (q + 1) * chunk));
    });
}

} // namespace

bool spd_inverse_blocked(Eigen::MatrixXd& A, int threads) {
    using Eigen::Index;
    const auto n = static_cast<std::size_t>(A.rows());
    double* a = A.data();
    constexpr std::size_t nb = 256, tile = 16;
    auto at = [&](std::size_t r, std::size_t c) { return a + c * n + r; };
    auto blk = [&](std::size_t r, std::size_t c, std::size_t nr, std::size_t nc) {
        return A.block(static_cast<Index>(r), static_cast<Index>(c), static_cast<Index>(nr), static_cast<Index>(nc));
    };

    // 1. Right-looking upper Cholesky: R11 = chol(A11), R12 = R11⁻ᵀ A12, A22 −= R12ᵀ R12 (upper part).
    std::vector<double> P;
    for (std::size_t k0 = 0; k0 < n; k0 += nb) {
        const std::size_t b = std::min(nb, n - k0), k1 = k0 + b, m = n - k1;
        Eigen::LLT<Eigen::MatrixXd, Eigen::Upper> llt(blk(k0, k0, b, b));
        if (llt.info() != Eigen::Success) return false;
        const Eigen::MatrixXd R11 = llt.matrixU();
        blk(k0, k0, b, b).triangularView<Eigen::Upper>() = R11;
        if (m == 0) break;
        fixed_chunks(threads, m, [&](std::size_t cb, std::size_t ce) {
            auto A12 = blk(k0, k1 + cb, b, ce - cb);
            R11.transpose().triangularView<Eigen::Lower>().solveInPlace(A12);
        });
        P.resize(b * m);  // R12 row-major: P[e·m + f] = R12(e, f)
        parallelize(threads, m, [&](int, std::size_t cb, std::size_t ce) {
            for (std::size_t f = cb; f < ce; ++f)
                for (std::size_t e = 0; e < b; ++e) P[e * m + f] = *at(k0 + e, k1 + f);
        });
        const std::size_t nt = (m + tile - 1) / tile;
        parallelize(threads, nt, [&](int, std::size_t qb, std::size_t qe) {
            for (std::size_t q = qb; q < qe; ++q) {
                const std::size_t j0 = balanced(q, nt) * tile, jw = std::min(tile, m - j0);
                // columns j0..j0+jw of A22, rows 0..j0+jw (the upper part and the diagonal tile)
                gemm_at_b(b, jw, j0 + jw, P.data() + j0, m, P.data(), m, at(k1, k1 + j0), n, -1.0, true);
            }
        });
    }
    A.triangularView<Eigen::StrictlyLower>().setZero();

    // 2. U = R⁻¹ in place (LAPACK's dtrtri order): block column j ← −U(0:j, 0:j) · R(0:j, j) · R(j, j)⁻¹, then the
    //    diagonal block is inverted.
    std::vector<double> X;
    for (std::size_t j = 0; j < n; j += nb) {
        const std::size_t jb = std::min(nb, n - j);
        if (j > 0) {
            X.resize(j * jb);  // R(0:j, j:j+jb) row-major
            parallelize(threads, j, [&](int, std::size_t rb, std::size_t re) {
                for (std::size_t r = rb; r < re; ++r)
                    for (std::size_t f = 0; f < jb; ++f) X[r * jb + f] = *at(r, j + f);
            });
            const std::size_t nt = (j + tile - 1) / tile;
            parallelize(threads, nt, [&](int, std::size_t qb, std::size_t qe) {
                for (std::size_t q = qb; q < qe; ++q) {
                    const std::size_t c0 = balanced(q, nt) * tile, cw = std::min(tile, j - c0);
                    // rows c0..c0+cw: Σ_{k ≥ c0} U(c, k) X(k, f) (U upper, its strict lower part is zero)
                    gemm_chunked(j - c0, jb, cw, X.data() + c0 * jb, jb, at(c0, c0), n, at(c0, j), n, 1.0, false);
                }
            });
            const Eigen::MatrixXd Rjj = blk(j, j, jb, jb).triangularView<Eigen::Upper>();
            fixed_chunks(threads, j, [&](std::size_t rb, std::size_t re) {
                auto Y = blk(rb, j, re - rb, jb);
                Rjj.triangularView<Eigen::Upper>().solveInPlace<Eigen::OnTheRight>(Y);
                Y *= -1.0;
            });
        }
        Eigen::MatrixXd D = Eigen::MatrixXd::Identity(static_cast<Index>(jb), static_cast<Index>(jb));
        blk(j, j, jb, jb).triangularView<Eigen::Upper>().solveInPlace(D);
        blk(j, j, jb, jb).triangularView<Eigen::Upper>() = D;
    }


    // 3. A⁻¹ = U Uᵀ, lower part, block column by block column into a buffer (block F reads columns k ≥ F only, so
    //    writing it back cannot disturb later blocks), then mirrored.
    constexpr std::size_t fb = 32;
    std::vector<double> buf(fb * n);
    for (std::size_t f0 = 0; f0 < n; f0 += fb) {
        const std::size_t fw = std::min(fb, n - f0), rows = n - f0, nt = (rows + tile - 1) / tile;
        parallelize(threads, nt, [&](int, std::size_t qb, std::size_t qe) {
            for (std::size_t q = qb; q < qe; ++q) {
                const std::size_t c0 = f0 + balanced(q, nt) * tile, cw = std::min(tile, n - c0);
                // Q(c, f) = Σ_{k ≥ c} U(f, k) U(c, k) for rows c ≥ f0
                gemm_chunked(n - c0, fw, cw, at(f0, c0), n, at(c0, c0), n, buf.data() + (c0 - f0), rows, 1.0, false);
            }
        });
        parallelize(threads, fw, [&](int, std::size_t cb, std::size_t ce) {
            for (std::size_t f = cb; f < ce; ++f) std::copy(buf.data() + f * rows, buf.data() + (f + 1) * rows, at(f0, f0 + f));
        });
    }
    A.triangularView<Eigen::StrictlyUpper>() = A.transpose();
    return true;
}

#ifdef NEMBED_HAVE_LAPACK
extern "C" {
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info);
void dpotri_(const char* uplo, const int* n, double* a, const int* lda, int* info);
void dsytrf_(const char* uplo, const int* n, double* a, const int* lda, int* ipiv, double* work, const int* lwork,
             int* info);
void dsytri2_(const char* uplo, const int* n, double* a, const int* lda, const int* ipiv, double* work,
              const int* lwork, int* info);
// OpenBLAS only (weak: absent with other LAPACKs): the kernel family it picked for this CPU.
char* openblas_get_corename(void) __attribute__((weak));
}

namespace {
// OpenBLAS releases older than the CPU fall back to their generic x86-64 kernels, several times slower here.
void check_openblas_kernels() {
    static const bool checked = [] {
        if (openblas_get_corename == nullptr) return true;
        const std::string core = openblas_get_corename();
#if defined(__x86_64__) && defined(__GNUC__)
        __builtin_cpu_init();
        const bool modern = __builtin_cpu_supports("avx2");
#else
        const bool modern = false;
#endif
        if (modern && (core == "Prescott" || core == "Core2" || core == "Nehalem" || core == "Penryn"))
            warn("sensitivity: OpenBLAS does not recognise this CPU and uses its generic '" + core +
                 "' kernels; set OPENBLAS_CORETYPE=Haswell (or SkylakeX with AVX-512) for a several times faster "
                 "dense Hessian inverse");
        return true;
    }();
    (void)checked;
}
} // namespace

bool spd_inverse(Eigen::MatrixXd& A, int threads) {
    (void)threads;  // LAPACK runs on the BLAS library's own threads
    check_openblas_kernels();
    const int n = static_cast<int>(A.rows());
    const char up = 'U';
    int info = 0;
    dpotrf_(&up, &n, A.data(), &n, &info);
    if (info != 0) return false;
    dpotri_(&up, &n, A.data(), &n, &info);
    if (info != 0) return false;
    A.triangularView<Eigen::StrictlyLower>() = A.transpose();
    return true;
}

bool have_lapack() { return true; }

bool indefinite_inverse(Eigen::MatrixXd& A) {
    const int n = static_cast<int>(A.rows());
    const char lo = 'L';
    int info = 0;
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
    A.triangularView<Eigen::StrictlyUpper>() = A.transpose();  // LAPACK leaves the lower triangle
    return true;
}
#else
bool have_lapack() { return false; }
bool indefinite_inverse(Eigen::MatrixXd&) { return false; }
bool spd_inverse(Eigen::MatrixXd& A, int threads) { return spd_inverse_blocked(A, threads); }
#endif

} // namespace nembed::detail
