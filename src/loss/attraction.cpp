#include "nembed/loss/attraction.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>
#include <variant>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "../core/isa_clones.hpp"

namespace nembed {
namespace {

/// Per-edge terms of the Student-t kernel, in the exact form (and bits) t-SNE has always used: the attraction as one
/// division, log w with log rather than log1p (only absolute accuracy matters in the sum, and log is ~3x faster).
struct StudentTEdges {
    double dof, inv_dof;
    explicit StudentTEdges(const StudentTKernel& k) : dof(k.dof()), inv_dof(1.0 / k.dof()) {}
    /// p·(−dlog_w(D)) = p/(1 + D/α).
    double attraction(double p, double D) const { return p / (1.0 + D * inv_dof); }
    double log_w(double D) const { return -dof * std::log(1.0 + D * inv_dof); }
};

/// Per-edge terms of any other Euclidean kernel, from its log-derivative.
template <typename K>
struct KernelEdges {
    K kernel;
    double attraction(double p, double D) const { return p * -kernel.dlog_w(D); }
    double log_w(double D) const { return kernel.log_w(D); }
};

/// Calls f(edges) once with the per-edge terms of `kernel` (the cosine kernel is refused before).
template <typename F>
decltype(auto) visit_edges(const OutputKernel& kernel, F&& f) {
    return std::visit(
        [&](const auto& k) -> decltype(auto) {
            using K = std::decay_t<decltype(k)>;
            if constexpr (std::is_same_v<K, StudentTKernel>) return f(StudentTEdges(k));
            else return f(KernelEdges<K>{k});
        },
        kernel);
}

// D > 0: dimension known at compile time; D == 0: runtime `d`.
template <int D, typename E, typename T>
void attraction_rows(const CsrMatrix<double>& P, const T* values, const double* Y, const double* R, std::size_t d,
                     const E& edges, double ex, double* out, std::size_t begin, std::size_t end) {
    const std::size_t dim = D > 0 ? static_cast<std::size_t>(D) : d;
    const offset_t* indptr = P.indptr.data();
    const index_t* indices = P.indices.data();
    for (std::size_t i = begin; i < end; ++i) {
        const double* yi = Y + i * dim;
        double* oi = out + i * dim;
        if constexpr (D > 0) {
            double acc[D];
            for (int c = 0; c < D; ++c) acc[c] = 0.0;
            // Two edges per step with their own accumulators: two independent add chains instead of one (the
            // fixed pairing keeps results independent of the thread count).
            double acc2[D];
            for (int c = 0; c < D; ++c) acc2[c] = 0.0;
            offset_t p = indptr[i];
            const offset_t pe = indptr[i + 1];
            for (; p + 1 < pe; p += 2) {
                const double* ra = R + static_cast<std::size_t>(indices[p]) * D;
                const double* rb = R + static_cast<std::size_t>(indices[p + 1]) * D;
                double da[D], db[D];
                double d2a = 0.0, d2b = 0.0;
                for (int c = 0; c < D; ++c) {
                    da[c] = yi[c] - ra[c];
                    db[c] = yi[c] - rb[c];
                    d2a += da[c] * da[c];
                    d2b += db[c] * db[c];
                }
                const double fa = edges.attraction(double(values[p]), d2a);
                const double fb = edges.attraction(double(values[p + 1]), d2b);
                for (int c = 0; c < D; ++c) {
                    acc[c] += fa * da[c];
                    acc2[c] += fb * db[c];
                }
            }
            if (p < pe) {
                const double* rj = R + static_cast<std::size_t>(indices[p]) * D;
                double diff[D];
                double d2 = 0.0;
                for (int c = 0; c < D; ++c) {
                    diff[c] = yi[c] - rj[c];
                    d2 += diff[c] * diff[c];
                }
                const double f = edges.attraction(double(values[p]), d2);
                for (int c = 0; c < D; ++c) acc[c] += f * diff[c];
            }
            for (int c = 0; c < D; ++c) oi[c] = ex * (acc[c] + acc2[c]);
        } else {
            for (std::size_t c = 0; c < dim; ++c) oi[c] = 0.0;
            for (offset_t p = indptr[i]; p < indptr[i + 1]; ++p) {
                const double* rj = R + static_cast<std::size_t>(indices[p]) * dim;
                double d2 = 0.0;
                for (std::size_t c = 0; c < dim; ++c) {
                    const double t = yi[c] - rj[c];
                    d2 += t * t;
                }
                const double f = edges.attraction(double(values[p]), d2);
                for (std::size_t c = 0; c < dim; ++c) oi[c] += f * (yi[c] - rj[c]);
            }
            for (std::size_t c = 0; c < dim; ++c) oi[c] *= ex;
        }
    }
}

constexpr int kLanes = 8;
using V2 = double __attribute__((vector_size(2 * sizeof(double))));
using V4 = double __attribute__((vector_size(4 * sizeof(double))));
using V8 = double __attribute__((vector_size(kLanes * sizeof(double))));

using F8 = float __attribute__((vector_size(8 * sizeof(float))));

/// y_j's two coordinates for the 8 columns idx[0..8) of R (rows of 2): one 16-byte load per row, de-interleaved by
/// shuffles (AVX-512's gathers measured 2x slower; a float32 copy of R for the loads measured no faster).
[[gnu::always_inline]] inline void load_pairs(const double* R, const index_t* idx, V8& xj, V8& yj) {
    V2 r[kLanes];
    for (int l = 0; l < kLanes; ++l) __builtin_memcpy(&r[l], R + 2 * static_cast<std::size_t>(idx[l]), sizeof(V2));
    const V4 a = __builtin_shufflevector(r[0], r[1], 0, 1, 2, 3);
    const V4 b = __builtin_shufflevector(r[2], r[3], 0, 1, 2, 3);
    const V4 c = __builtin_shufflevector(r[4], r[5], 0, 1, 2, 3);
    const V4 d = __builtin_shufflevector(r[6], r[7], 0, 1, 2, 3);
    const V8 lo = __builtin_shufflevector(a, b, 0, 1, 2, 3, 4, 5, 6, 7);
    const V8 hi = __builtin_shufflevector(c, d, 0, 1, 2, 3, 4, 5, 6, 7);
    xj = __builtin_shufflevector(lo, hi, 0, 2, 4, 6, 8, 10, 12, 14);
    yj = __builtin_shufflevector(lo, hi, 1, 3, 5, 7, 9, 11, 13, 15);
}
[[gnu::always_inline]] inline void load_values(const double* v, V8& r) { __builtin_memcpy(&r, v, sizeof(r)); }
[[gnu::always_inline]] inline void load_values(const float* v, V8& r) {
    F8 f;
    __builtin_memcpy(&f, v, sizeof(f));
    r = __builtin_convertvector(f, V8);
}

/// The t-SNE case (Student-t kernel, 2-D map), the hot loop of every iteration (docs/tsne.md, "The attraction's row
/// loop"): 8 edges of a row at a time, lane l with its own accumulators, added in a fixed tree at the row's end.
/// Each edge's p/(1 + D/α) is the scalar loop's value to the bit; only the order of the row's sum differs from it.
/// The scalar loop was bound by its divisions (one per edge, one at a time); here they run 8 per instruction.
/// T: P's values (float: t-SNE's P rounded to float32, 8 bytes per edge instead of 12; widened, then all in double).
/// Plain vector extensions and no FMA contraction (-ffp-contract=off): every clone does the same IEEE operations
/// in the same order, so the bits are the same on any machine and for any thread count.
template <typename T>
[[gnu::always_inline]] inline void student_rows_2d_body(const offset_t* indptr, const index_t* indices,
                                                        const T* values, const double* Y, const double* R,
                                                        double inv_dof, double ex, double* out, std::size_t begin,
                                                        std::size_t end) {
    const V8 one = V8{} + 1.0, inv = V8{} + inv_dof;
    for (std::size_t i = begin; i < end; ++i) {
        V8 xi, yi;
        for (int l = 0; l < kLanes; ++l) xi[l] = Y[2 * i], yi[l] = Y[2 * i + 1];
        V8 ax = V8{}, ay = V8{};
        auto lanes = [&](const index_t* idx, const T* val) {
            V8 xj, yj, v;
            load_pairs(R, idx, xj, yj);
            load_values(val, v);
            const V8 dx = xi - xj, dy = yi - yj;
            const V8 q = v / (one + (dx * dx + dy * dy) * inv);
            ax += q * dx;
            ay += q * dy;
        };
        offset_t p = indptr[i];
        const offset_t pe = indptr[i + 1];
        for (; p + kLanes <= pe; p += kLanes) lanes(indices + p, values + p);
        if (p < pe) {
            // The row's last edges in the first lanes; the others read y_i itself with p = 0: a zero term.
            index_t idx[kLanes];
            T val[kLanes];
            for (int l = 0; l < kLanes; ++l) {
                const bool live = p + l < pe;
                idx[l] = live ? indices[p + l] : static_cast<index_t>(i);
                val[l] = live ? values[p + l] : T(0);
            }
            lanes(idx, val);
        }
        const double sx = ((ax[0] + ax[1]) + (ax[2] + ax[3])) + ((ax[4] + ax[5]) + (ax[6] + ax[7]));
        const double sy = ((ay[0] + ay[1]) + (ay[2] + ay[3])) + ((ay[4] + ay[5]) + (ay[6] + ay[7]));
        out[2 * i] = ex * sx;
        out[2 * i + 1] = ex * sy;
    }
}

NEMBED_ISA_CLONES
void student_rows_2d(const offset_t* indptr, const index_t* indices, const double* values, const double* Y,
                     const double* R, double inv_dof, double ex, double* out, std::size_t begin, std::size_t end) {
    student_rows_2d_body(indptr, indices, values, Y, R, inv_dof, ex, out, begin, end);
}
NEMBED_ISA_CLONES
void student_rows_2d(const offset_t* indptr, const index_t* indices, const float* values, const double* Y,
                     const double* R, double inv_dof, double ex, double* out, std::size_t begin, std::size_t end) {
    student_rows_2d_body(indptr, indices, values, Y, R, inv_dof, ex, out, begin, end);
}
template <int D, typename E>
double log_w_rows(const CsrMatrix<double>& P, const double* Y, const double* R, std::size_t d, const E& edges,
                  std::size_t begin, std::size_t end) {
    const std::size_t dim = D > 0 ? static_cast<std::size_t>(D) : d;
    double s = 0.0;
    for (std::size_t i = begin; i < end; ++i) {
        const double* yi = Y + i * dim;
        for (offset_t p = P.indptr[i]; p < P.indptr[i + 1]; ++p) {
            const double* rj = R + static_cast<std::size_t>(P.indices[p]) * dim;
            double d2 = 0.0;
            for (std::size_t c = 0; c < dim; ++c) {
                const double t = yi[c] - rj[c];
                d2 += t * t;
            }
            s += P.values[p] * edges.log_w(d2);
        }
    }
    return s;
}

void check_shapes(const CsrMatrix<double>& P, MatrixView<double> Y, MatrixView<double> R, const OutputKernel& kernel,
                  const char* what) {
    const std::string w(what);
    try {
        validate(kernel);
    } catch (const InvalidArgument& e) {
        throw InvalidArgument(w + ": " + e.what());
    }
    require(!std::holds_alternative<CosineKernel>(kernel),
            w + ": the cosine kernel lives on the unit sphere (D between L2-normalised vectors); this loss reads "
                "Euclidean D");
    require(P.n_rows == Y.rows, w + ": P has " + std::to_string(P.n_rows) + " rows but the embedding has " +
                                    std::to_string(Y.rows) + " points");
    require(P.n_cols == R.rows, w + ": P has " + std::to_string(P.n_cols) + " columns but the reference has " +
                                    std::to_string(R.rows) + " points");
    require(Y.cols == R.cols, w + ": embedding and reference differ in dimension");
    require(Y.cols >= 1, w + ": the embedding needs at least one dimension");
    require(P.indptr.size() == P.n_rows + 1, w + ": P's indptr must have n_rows + 1 entries");
}

template <typename T>
void attraction_impl(const CsrMatrix<double>& P, const T* values, MatrixView<double> Y, MatrixView<double> R,
                     const OutputKernel& kernel, double ex, double* out, int n_threads) {
    check_shapes(P, Y, R, kernel, "attractive_forces");
    const std::size_t d = Y.cols;
    visit_edges(kernel, [&](const auto& edges) {
        parallelize(n_threads, Y.rows, [&](int, std::size_t b, std::size_t e) {
            if constexpr (std::is_same_v<std::decay_t<decltype(edges)>, StudentTEdges>) {
                if (d == 2) {
                    student_rows_2d(P.indptr.data(), P.indices.data(), values, Y.data, R.data, edges.inv_dof, ex,
                                    out, b, e);
                    return;
                }
            }
            switch (d) {
            case 1: attraction_rows<1>(P, values, Y.data, R.data, d, edges, ex, out, b, e); break;
            case 2: attraction_rows<2>(P, values, Y.data, R.data, d, edges, ex, out, b, e); break;
            case 3: attraction_rows<3>(P, values, Y.data, R.data, d, edges, ex, out, b, e); break;
            default: attraction_rows<0>(P, values, Y.data, R.data, d, edges, ex, out, b, e); break;
            }
        });
    });
}

const float* checked_f32(const CsrMatrix<double>& P, const std::vector<float>& values_f32) {
    require(values_f32.size() == P.nnz(), "attractive_forces: " + std::to_string(values_f32.size()) +
                                              " float32 values for a P with " + std::to_string(P.nnz()) +
                                              " non-zeros");
    return values_f32.data();
}

std::vector<double> log_w_partials(const CsrMatrix<double>& P, MatrixView<double> Y, MatrixView<double> R,
                                   const OutputKernel& kernel, int n_threads) {
    check_shapes(P, Y, R, kernel, "sum_p_log_w");
    const std::size_t d = Y.cols;
    return visit_edges(kernel, [&](const auto& edges) {
        // Blocks of rows fixed by N only, so the sum does not depend on the thread count.
        const std::size_t n = Y.rows, n_blocks = (n + kLogWBlock - 1) / kLogWBlock;
        std::vector<double> partial(n_blocks, 0.0);
        parallel_for(n_threads, n_blocks, [&](std::size_t blk) {
            const std::size_t b = blk * kLogWBlock, e = std::min(n, b + kLogWBlock);
            switch (d) {
            case 1: partial[blk] = log_w_rows<1>(P, Y.data, R.data, d, edges, b, e); break;
            case 2: partial[blk] = log_w_rows<2>(P, Y.data, R.data, d, edges, b, e); break;
            default: partial[blk] = log_w_rows<0>(P, Y.data, R.data, d, edges, b, e); break;
            }
        });
        return partial;
    });
}

double log_w_impl(const CsrMatrix<double>& P, MatrixView<double> Y, MatrixView<double> R, const OutputKernel& kernel,
                  int n_threads) {
    double s = 0.0;  // in block order, as fixed_block_sum
    for (double p : log_w_partials(P, Y, R, kernel, n_threads)) s += p;
    return s;
}

} // namespace

void attractive_forces(const CsrMatrix<double>& P, MatrixView<double> Y, const OutputKernel& kernel,
                       double exaggeration, double* out, int n_threads) {
    attraction_impl(P, P.values.data(), Y, Y, kernel, exaggeration, out, n_threads);
}

void attractive_forces(const CsrMatrix<double>& P, MatrixView<double> Y_new, MatrixView<double> reference,
                       const OutputKernel& kernel, double exaggeration, double* out, int n_threads) {
    attraction_impl(P, P.values.data(), Y_new, reference, kernel, exaggeration, out, n_threads);
}

std::vector<float> values_f32(const CsrMatrix<double>& P) { return std::vector<float>(P.values.begin(), P.values.end()); }

void attractive_forces(const CsrMatrix<double>& P, const std::vector<float>& values_f32, MatrixView<double> Y,
                       const OutputKernel& kernel, double exaggeration, double* out, int n_threads) {
    attraction_impl(P, checked_f32(P, values_f32), Y, Y, kernel, exaggeration, out, n_threads);
}

void attractive_forces(const CsrMatrix<double>& P, const std::vector<float>& values_f32, MatrixView<double> Y_new,
                       MatrixView<double> reference, const OutputKernel& kernel, double exaggeration, double* out,
                       int n_threads) {
    attraction_impl(P, checked_f32(P, values_f32), Y_new, reference, kernel, exaggeration, out, n_threads);
}

double sum_p_log_w(const CsrMatrix<double>& P, MatrixView<double> Y, const OutputKernel& kernel, int n_threads) {
    return log_w_impl(P, Y, Y, kernel, n_threads);
}

double sum_p_log_w(const CsrMatrix<double>& P, MatrixView<double> Y_new, MatrixView<double> reference,
                   const OutputKernel& kernel, int n_threads) {
    return log_w_impl(P, Y_new, reference, kernel, n_threads);
}

std::vector<double> sum_p_log_w_partials(const CsrMatrix<double>& P, MatrixView<double> Y_new,
                                         MatrixView<double> reference, const OutputKernel& kernel, int n_threads) {
    return log_w_partials(P, Y_new, reference, kernel, n_threads);
}

} // namespace nembed
