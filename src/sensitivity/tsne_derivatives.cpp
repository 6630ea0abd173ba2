// The objective's derivatives composed from its two halves (tsne_derivatives.hpp): the affinity side P(X)
// (affinity_derivatives.cpp) and the KL objective in Y (kl_objective.cpp). J = ∂g/∂X runs through three linear
// maps per column: δD (X-space → entries) and the row softmax (entries → entries) of the affinity side, then the
// force assembly with the objective's mixed derivative ∂g/∂P (entries → Y-space); Jᵀ the transposes in reverse.
#include "nembed/sensitivity/tsne_derivatives.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "block_kernels.hpp"

namespace nembed {
namespace {

using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Work split: whole columns per worker when there are enough of them, else points within one column.
struct Split {
    int outer, inner;
};
Split split(int threads, std::size_t m) {
    if (static_cast<std::size_t>(threads) <= m || threads == 1) return {threads, 1};
    return {1, threads};
}

// The objective's P: the given joint one (checked), or the affinity side's (P_c + P_cᵀ)/(2N).
CsrMatrix<double> objective_p(const PerplexityAffinity& aff, const DerivativeOptions& o) {
    if (o.joint.n_rows == 0) return aff.joint();
    const std::size_t n = aff.n_points();
    const CsrMatrix<double>& P = o.joint;
    require(P.n_rows == n && P.n_cols == n, "sensitivity: the given P must be N x N = " + std::to_string(n) + " x " +
                                                std::to_string(n) + ", got " + std::to_string(P.n_rows) + " x " +
                                                std::to_string(P.n_cols));
    require(P.indptr.size() == n + 1 && P.indices.size() == P.values.size() &&
                static_cast<std::size_t>(P.indptr[n]) == P.values.size(),
            "sensitivity: the given P is not a well-formed CSR matrix");
    double sum = 0.0;
    for (std::size_t i = 0; i < n; ++i)
        for (offset_t q = P.indptr[i]; q < P.indptr[i + 1]; ++q) {
            const double v = P.values[q];
            require_lazy(std::isfinite(v) && v >= 0.0, [&] {
                return "sensitivity: the given P has a negative or non-finite entry in row " + std::to_string(i);
            });
            require_lazy(static_cast<std::size_t>(P.indices[q]) != i && (q == P.indptr[i] || P.indices[q] > P.indices[q - 1]), [&] {
                return "sensitivity: the given P must have sorted, distinct columns and no diagonal (row " +
                       std::to_string(i) + ")";
            });
            sum += v;
        }
    require(std::abs(sum - 1.0) < 1e-6, "sensitivity: the given P must sum to 1 (a joint t-SNE P), got " +
                                            std::to_string(sum));
    // Symmetric: the KL gradient formula (both directions of a pair weighted by one P_ij) needs it.
    const CsrMatrix<double> T = transpose(P);
    for (std::size_t q = 0; q < P.values.size(); ++q)
        require(T.indices[q] == P.indices[q] && std::abs(T.values[q] - P.values[q]) <= 1e-12 * (std::abs(P.values[q]) + 1e-300) + 1e-300,
                "sensitivity: the given P must be symmetric");
    return P;
}

} // namespace

TsneDerivatives::TsneDerivatives(MatrixView<double> X, MatrixView<double> Y, const DerivativeOptions& options)
    : opt_(options), threads_(resolve_threads(options.n_threads)), aff_(X, options),
      obj_((require(Y.rows == X.rows, "sensitivity: X has " + std::to_string(X.rows) + " rows but Y has " +
                                          std::to_string(Y.rows)),
            objective_p(aff_, options)),
           Y, options.kernel, options.n_threads) {
    // The given arrays live on in the two halves; options() keeps the settings.
    opt_.joint = CsrMatrix<double>{};
    opt_.neighbors.clear();
    opt_.neighbors.shrink_to_fit();
    obj_.pair_attraction(aff_.ptr(), aff_.col(), wd_);
}

void TsneDerivatives::set_embedding(MatrixView<double> Y) {
    obj_.set_embedding(Y);
    obj_.pair_attraction(aff_.ptr(), aff_.col(), wd_);
}

Eigen::MatrixXd TsneDerivatives::jacobian_product(const Eigen::MatrixXd& U) const {
    const std::size_t n = n_points(), d = n_features();
    require(static_cast<std::size_t>(U.rows()) == n * d, "jacobian_product: U must have N*D rows");
    const std::size_t m = static_cast<std::size_t>(U.cols()), nnz = aff_.col().size();
    const auto& ptr = aff_.ptr();
    const auto& in_ptr = aff_.in_ptr();
    const auto& in_entry = aff_.in_entry();
    Eigen::MatrixXd out(static_cast<Eigen::Index>(2 * n), U.cols());
    const Split sp = split(threads_, m);
    const double c = 2.0 / static_cast<double>(n);  // 4 / (2N): ∂g/∂P's 4 and P's 1/(2N)
    parallelize(sp.outer, m, [&](int, std::size_t b, std::size_t e) {
        std::vector<double> dd(nnz), work(aff_.dense() ? n * n : 0);
        for (std::size_t col = b; col < e; ++col) {
            aff_.entry_dd(U.col(static_cast<Eigen::Index>(col)).data(), dd.data(), work.data());
            aff_.dp_from_dd(dd.data());
            double* o = out.col(static_cast<Eigen::Index>(col)).data();
            parallelize(sp.inner, n, [&](int, std::size_t ib, std::size_t ie) {
                for (std::size_t i = ib; i < ie; ++i) {
                    double g0 = 0.0, g1 = 0.0;
                    for (std::size_t q = ptr[i]; q < ptr[i + 1]; ++q) {
                        g0 += dd[q] * wd_[2 * q];
                        g1 += dd[q] * wd_[2 * q + 1];
                    }
                    for (std::size_t q = in_ptr[i]; q < in_ptr[i + 1]; ++q) {
                        const std::size_t en = in_entry[q];
                        g0 -= dd[en] * wd_[2 * en];
                        g1 -= dd[en] * wd_[2 * en + 1];
                    }
                    o[2 * i] = c * g0;
                    o[2 * i + 1] = c * g1;
                }
            });
        }
    });
    return out;
}

Eigen::MatrixXd TsneDerivatives::jacobian_transpose_product(const Eigen::MatrixXd& V) const {
    const std::size_t n = n_points(), d = n_features();
    require(static_cast<std::size_t>(V.rows()) == 2 * n, "jacobian_transpose_product: V must have 2N rows");
    if (!aff_.dense()) return jacobian_transpose_knn(V);
    const std::size_t m = static_cast<std::size_t>(V.cols()), nnz = aff_.col().size();
    const auto& ptr = aff_.ptr();
    const auto& cols = aff_.col();
    Eigen::MatrixXd out(static_cast<Eigen::Index>(n * d), V.cols());
    const Split sp = split(threads_, m);
    const double c = 2.0 / static_cast<double>(n);
    parallelize(sp.outer, m, [&](int, std::size_t b, std::size_t e) {
        std::vector<double> pb(nnz), work(2 * n * n);
        for (std::size_t col = b; col < e; ++col) {
            const double* v = V.col(static_cast<Eigen::Index>(col)).data();
            parallelize(sp.inner, n, [&](int, std::size_t ib, std::size_t ie) {
                for (std::size_t i = ib; i < ie; ++i)
                    for (std::size_t q = ptr[i]; q < ptr[i + 1]; ++q) {
                        const std::size_t j = cols[q];
                        pb[q] = c * (wd_[2 * q] * (v[2 * i] - v[2 * j]) + wd_[2 * q + 1] * (v[2 * i + 1] - v[2 * j + 1]));
                    }
            });
            aff_.dbar_from_pbar(pb.data());
            aff_.entry_backprop(pb.data(), out.col(static_cast<Eigen::Index>(col)).data(), work.data());
        }
    });
    return out;
}

// kNN P, blocks of up to 32 right-hand sides at once: p̄ and D̄ for every entry and column (entry-major, so a
// row's columns are contiguous), then per point x̄_a = Δ_aᵀ D̄_a, where Δ_a stacks 2 (x_a − x_j) over the entries
// that touch a (its own row and the rows that list it) and D̄_a their adjoints: one small dense product per point
// (detail::gemm_at_b) instead of N·k·D scalar updates per column. Every point writes its own rows of the result,
// so the output does not depend on the thread count.
void TsneDerivatives::knn_dbar_block(const double* Vr, std::size_t ld, std::size_t w, double* pb) const {
    const std::size_t n = n_points();
    const auto& ptr = aff_.ptr();
    const auto& cols = aff_.col();
    const double cc = 2.0 / static_cast<double>(n);
    parallelize(threads_, n, [&](int, std::size_t ib, std::size_t ie) {
        std::vector<double> scratch(2 * w);
        for (std::size_t i = ib; i < ie; ++i) {
            // p̄ of row i's entries (the objective's mixed derivative), then D̄ (the affinity side's row map)
            const double* vi0 = Vr + 2 * i * ld;
            const double* vi1 = vi0 + ld;
            for (std::size_t q = ptr[i]; q < ptr[i + 1]; ++q) {
                const double* vj0 = Vr + 2 * cols[q] * ld;
                const double* vj1 = vj0 + ld;
                const double a0 = cc * wd_[2 * q], a1 = cc * wd_[2 * q + 1];
                double* r = pb + q * ld;
                for (std::size_t c = 0; c < w; ++c) r[c] = a0 * (vi0[c] - vj0[c]) + a1 * (vi1[c] - vj1[c]);
            }
            aff_.dbar_from_pbar_row(i, pb, ld, w, scratch.data());
        }
    });
}

// x̄_a (D × w, row-major in o, leading dimension ld) for one point from the block's D̄ (pb). The own row's entries
// are contiguous in pb and used in place; the incoming ones are gathered. Δ rows are padded to a multiple of 4
// features so that the kernel never takes its scalar edge path over features.
void TsneDerivatives::knn_point_product(std::size_t a, const double* pb, std::size_t ld, std::size_t w,
                                        KnnScratch& s, double* o) const {
    const std::size_t k = aff_.k(), d4 = (n_features() + 3) & ~std::size_t(3);
    const auto& in_ptr = aff_.in_ptr();
    const auto& in_entry = aff_.in_entry();
    const std::size_t n_in = in_ptr[a + 1] - in_ptr[a];
    aff_.point_deltas(a, d4, s.delta);
    s.wt.resize(n_in * ld);
    for (std::size_t t = 0; t < n_in; ++t) {
        const std::size_t e = in_entry[in_ptr[a] + t];
        std::copy(pb + e * ld, pb + e * ld + w, s.wt.data() + t * ld);
    }
    detail::gemm_at_b(k, d4, w, s.delta.data(), d4, pb + aff_.ptr()[a] * ld, ld, o, ld);
    if (n_in > 0) detail::gemm_at_b(n_in, d4, w, s.delta.data() + k * d4, d4, s.wt.data(), ld, o, ld, 1.0, true);
}

// The block loop shared by the kNN products: for each block of up to 32 columns of V, the entries' adjoints, then
// per point (in fixed chunks of 64 points, spread over the threads) x̄_a handed to `point(chunk, a, o, c0, w)`
// (o: D × w, row-major, leading dimension 32), then `block_done(c0, w)` on the calling thread.
template <class PointFn, class BlockFn>
void TsneDerivatives::knn_blocks(const Eigen::MatrixXd& V, PointFn&& point, BlockFn&& block_done) const {
    const std::size_t n_ = n_points();
    const std::size_t m = static_cast<std::size_t>(V.cols()), nnz = aff_.col().size(),
                      d4 = (n_features() + 3) & ~std::size_t(3);
    const std::size_t n_chunks = (n_ + knn_chunk - 1) / knn_chunk;
    std::vector<double> pb(nnz * knn_block);
    RowMajor Vr(static_cast<Eigen::Index>(2 * n_), static_cast<Eigen::Index>(knn_block));
    for (std::size_t c0 = 0; c0 < m; c0 += knn_block) {
        const std::size_t w = std::min(knn_block, m - c0);
        Vr.leftCols(static_cast<Eigen::Index>(w)) =
            V.middleCols(static_cast<Eigen::Index>(c0), static_cast<Eigen::Index>(w));
        knn_dbar_block(Vr.data(), knn_block, w, pb.data());
        parallelize(threads_, n_chunks, [&](int, std::size_t qb, std::size_t qe) {
            KnnScratch scratch;
            std::vector<double> o(d4 * knn_block);
            for (std::size_t q = qb; q < qe; ++q)
                for (std::size_t a = q * knn_chunk; a < std::min(n_, (q + 1) * knn_chunk); ++a) {
                    knn_point_product(a, pb.data(), knn_block, w, scratch, o.data());
                    point(q, a, o.data(), c0, w);
                }
        });
        block_done(c0, w);
    }
}

Eigen::MatrixXd TsneDerivatives::jacobian_transpose_knn(const Eigen::MatrixXd& V) const {
    const std::size_t n_ = n_points(), d_ = n_features();
    Eigen::MatrixXd out(static_cast<Eigen::Index>(n_ * d_), V.cols());
    knn_blocks(
        V,
        [&](std::size_t, std::size_t a, const double* o, std::size_t c0, std::size_t w) {
            for (std::size_t c = 0; c < w; ++c) {
                double* dst = out.col(static_cast<Eigen::Index>(c0 + c)).data() + a * d_;
                for (std::size_t f = 0; f < d_; ++f) dst[f] = o[f * knn_block + c];
            }
        },
        [](std::size_t, std::size_t) {});
    return out;
}

Eigen::MatrixXd TsneDerivatives::jacobian_transpose_pair_forms(const Eigen::MatrixXd& V,
                                                               const std::vector<double>& var) const {
    const std::size_t m = static_cast<std::size_t>(V.cols()), n_ = n_points(), d_ = n_features();
    require(!aff_.dense(), "jacobian_transpose_pair_forms: needs the kNN layout (use jacobian_transpose_product)");
    require(static_cast<std::size_t>(V.rows()) == 2 * n_ && m % 2 == 0,
            "jacobian_transpose_pair_forms: V must have 2N rows and an even number of columns");
    require(var.size() == n_ * d_, "jacobian_transpose_pair_forms: var must have N*D entries");
    Eigen::MatrixXd out = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(m / 2), 3);
    // Per point, Σ_f var_af · x̄_af[c] · x̄_af[c'] for the column pairs, summed per point chunk; the chunks' partial
    // sums are added in chunk order, so the result does not depend on the thread count.
    const std::size_t n_chunks = (n_ + knn_chunk - 1) / knn_chunk, per_chunk = 3 * knn_block / 2;
    std::vector<double> partial(n_chunks * per_chunk, 0.0);
    knn_blocks(
        V,
        [&](std::size_t q, std::size_t a, const double* o, std::size_t, std::size_t w) {
            double* acc = partial.data() + q * per_chunk;
            for (std::size_t f = 0; f < d_; ++f) {
                const double v = var[a * d_ + f];
                const double* of = o + f * knn_block;
                for (std::size_t c = 0; c < w; c += 2) {
                    acc[3 * (c / 2)] += v * of[c] * of[c];
                    acc[3 * (c / 2) + 1] += v * of[c] * of[c + 1];
                    acc[3 * (c / 2) + 2] += v * of[c + 1] * of[c + 1];
                }
            }
        },
        [&](std::size_t c0, std::size_t w) {
            for (std::size_t q = 0; q < n_chunks; ++q)
                for (std::size_t c = 0; c < w; c += 2)
                    for (int t = 0; t < 3; ++t)
                        out(static_cast<Eigen::Index>((c0 + c) / 2), t) += partial[q * per_chunk + 3 * (c / 2) + t];
            std::fill(partial.begin(), partial.end(), 0.0);
        });
    return out;
}

} // namespace nembed
