// Analytic derivatives of the t-SNE KL objective in Y and X (sensitivity.md §9), matrix-free and blocked over
// right-hand sides. Conditional affinities are stored as entries e = (row i, column j) grouped by row; the
// X-derivatives run through three linear maps per column: δD (X-space → entries), the row softmax (entries →
// entries, with or without the perplexity constraint) and the force assembly (entries → Y-space), and their
// transposes in reverse order.
#include "nembed/sensitivity/tsne_derivatives.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <span>
#include <string>

#include "nembed/affinity/perplexity.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "block_kernels.hpp"

namespace nembed {
namespace {

using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// The seed's β search (sensitivity.md §4): 1000 halving/doubling/bisection steps from β = 1 on the unshifted
// squared distances, entropy with a 1e-8 floor on the normaliser, a step is skipped once |H − log U| < 1e-5.
double seed_beta(const std::vector<double>& D, double perplexity) {
    const double target = std::log(perplexity);
    double beta = 1.0, lo = -std::numeric_limits<double>::infinity(), hi = std::numeric_limits<double>::infinity();
    for (int step = 0; step < 1000; ++step) {
        double s = 0.0, sd = 0.0;
        for (double v : D) {
            const double e = std::exp(-beta * v);
            s += e;
            sd += v * e;
        }
        const double H = std::log(s + 1e-8) + beta * sd / (s + 1e-8);
        const double diff = H - target;
        if (std::abs(diff) < 1e-5) break;
        if (diff > 0) {
            lo = beta;
            beta = std::isinf(hi) ? beta * 2.0 : (beta + hi) / 2.0;
        } else {
            hi = beta;
            beta = std::isinf(lo) ? beta / 2.0 : (beta + lo) / 2.0;
        }
    }
    return beta;
}

// Work split: whole columns per worker when there are enough of them, else points within one column.
struct Split {
    int outer, inner;
};
Split split(int threads, std::size_t m) {
    if (static_cast<std::size_t>(threads) <= m || threads == 1) return {threads, 1};
    return {1, threads};
}

// The 2 x 2 block of the pair (i, j) in the Hessian without its rank-one Z term: M = a I + b d dᵀ, d = y_i − y_j,
// w = 1/(1 + |d|²), a = 4 p_ij w − 4 w²/Z, b = 16 w³/Z − 8 p_ij w². `q` walks row i of P as j ascends.
struct PairBlock {
    double m00, m01, m11;
};
inline PairBlock pair_block(const Matrix<double>& Y, const CsrMatrix<double>& P, std::size_t i, std::size_t j,
                            offset_t& q, offset_t qe, double iz) {
    const double d0 = Y(i, 0) - Y(j, 0), d1 = Y(i, 1) - Y(j, 1);
    const double w = 1.0 / (1.0 + d0 * d0 + d1 * d1);
    double a = -4.0 * iz * w * w, bb = 16.0 * iz * w * w * w;
    while (q < qe && static_cast<std::size_t>(P.indices[q]) < j) ++q;
    if (q < qe && static_cast<std::size_t>(P.indices[q]) == j) {
        const double p = P.values[q];
        a += 4.0 * p * w;
        bb -= 8.0 * p * w * w;
    }
    return {a + bb * d0 * d0, bb * d0 * d1, a + bb * d1 * d1};
}

} // namespace

TsneDerivatives::TsneDerivatives(MatrixView<double> X, MatrixView<double> Y, const DerivativeOptions& options)
    : opt_(options) {
    threads_ = resolve_threads(options.n_threads);
    require(X.rows >= 3, "sensitivity: need at least 3 points, got " + std::to_string(X.rows));
    require(X.cols >= 1, "sensitivity: X must have at least one feature");
    require(Y.rows == X.rows, "sensitivity: X has " + std::to_string(X.rows) + " rows but Y has " +
                                  std::to_string(Y.rows));
    require(Y.cols == 2, "sensitivity: Y must have 2 columns, got " + std::to_string(Y.cols));
    require_finite(X, "sensitivity: X");
    require_finite(Y, "sensitivity: Y");
    require(std::isfinite(options.perplexity) && options.perplexity > 0.0,
            "sensitivity: perplexity must be a positive number, got " + std::to_string(options.perplexity));
    require(options.calibration_tolerance > 0.0, "sensitivity: calibration_tolerance must be > 0");
    n_ = X.rows;
    d_ = X.cols;
    X_ = Matrix<double>(n_, d_, std::vector<double>(X.data, X.data + X.size()));
    // Centred: everything here depends on differences only, and the dense path's expanded forms (x_i.u_i + x_j.u_j
    // - 2 x_i.u_j) would otherwise cancel for data far from the origin.
    std::vector<double> mean(d_, 0.0);
    for (std::size_t i = 0; i < n_; ++i)
        for (std::size_t f = 0; f < d_; ++f) mean[f] += X_(i, f);
    for (double& m : mean) m /= static_cast<double>(n_);
    for (std::size_t i = 0; i < n_; ++i)
        for (std::size_t f = 0; f < d_; ++f) X_(i, f) -= mean[f];
    Y_ = Matrix<double>(n_, 2, std::vector<double>(Y.data, Y.data + Y.size()));

    dense_ = options.affinity == SensitivityAffinity::dense;
    require(!dense_ || n_ <= options.dense_max_points,
            "sensitivity: the dense affinity keeps all N^2 pairs, about " +
                std::to_string(static_cast<long long>(28.0 * static_cast<double>(n_) * static_cast<double>(n_) / 1e9)) +
                " GB for " + std::to_string(n_) + " points (limit " + std::to_string(options.dense_max_points) +
                " points); use the kNN affinity (--affinity knn) or raise dense_max_points");
    std::size_t k = n_ - 1;
    if (!dense_) {
        k = options.n_neighbors ? options.n_neighbors
                                : std::min(n_ - 1, static_cast<std::size_t>(std::floor(3.0 * options.perplexity)));
        require(k >= 1 && k <= n_ - 1, "sensitivity: n_neighbors must be in [1, N - 1] = [1, " +
                                           std::to_string(n_ - 1) + "], got " + std::to_string(k));
        if (k == n_ - 1) dense_ = true;  // every point is a neighbour: the dense layout is the same P
    }
    if (!options.beta.empty()) {
        require(options.beta.size() == n_, "sensitivity: beta must have N = " + std::to_string(n_) +
                                               " entries, got " + std::to_string(options.beta.size()));
        for (double b : options.beta)
            require(std::isfinite(b) && b > 0.0, "sensitivity: every beta must be finite and > 0");
    }
    require(!options.beta.empty() || options.seed_search || options.perplexity < static_cast<double>(k),
            "sensitivity: perplexity " + std::to_string(options.perplexity) + " must be below the " +
                std::to_string(k) + " neighbours per point (or use the seed's search, seed_search = true)");

    // Neighbour sets and squared distances (exact float64 differences, not the expansion).
    const std::size_t nnz = n_ * k;
    ptr_.resize(n_ + 1);
    for (std::size_t i = 0; i <= n_; ++i) ptr_[i] = i * k;
    col_.resize(nnz);
    dist_.resize(nnz);
    auto sqdist = [&](std::size_t i, std::size_t j) {
        double s = 0.0;
        const double *a = X_.row(i), *b = X_.row(j);
        for (std::size_t f = 0; f < d_; ++f) s += (a[f] - b[f]) * (a[f] - b[f]);
        return s;
    };
    parallelize(threads_, n_, [&](int, std::size_t b, std::size_t e) {
        std::vector<std::pair<double, std::size_t>> row(n_ - 1);
        for (std::size_t i = b; i < e; ++i) {
            std::size_t c = 0;
            for (std::size_t j = 0; j < n_; ++j)
                if (j != i) row[c++] = {sqdist(i, j), j};
            if (!dense_) {
                std::partial_sort(row.begin(), row.begin() + static_cast<std::ptrdiff_t>(k), row.end());
                std::sort(row.begin(), row.begin() + static_cast<std::ptrdiff_t>(k),
                          [](const auto& a, const auto& bb) { return a.second < bb.second; });
            }
            for (std::size_t q = 0; q < k; ++q) {
                col_[i * k + q] = row[q].second;
                dist_[i * k + q] = row[q].first;
            }
        }
    });

    // Bandwidths and conditional rows.
    beta_.resize(n_);
    mean_.resize(n_);
    var_.resize(n_);
    p_.resize(nnz);
    parallelize(threads_, n_, [&](int, std::size_t b, std::size_t e) {
        std::vector<double> D(k);
        for (std::size_t i = b; i < e; ++i) {
            for (std::size_t q = 0; q < k; ++q) D[q] = dist_[i * k + q];
            const double dmin = *std::min_element(D.begin(), D.end());
            if (!options.beta.empty()) {
                beta_[i] = options.beta[i];
            } else if (options.seed_search) {
                beta_[i] = seed_beta(D, options.perplexity);
            } else {
                std::vector<double> d2(k);
                for (std::size_t q = 0; q < k; ++q) d2[q] = D[q] - dmin;
                CalibrationOptions co;
                co.tolerance = options.calibration_tolerance;
                co.max_iter = 500;
                beta_[i] = calibrate_precision(std::span<const double>(d2), options.perplexity, co) / 2.0;
            }
            double s = 0.0;
            for (std::size_t q = 0; q < k; ++q) s += (p_[i * k + q] = std::exp(-beta_[i] * (D[q] - dmin)));
            double m = 0.0;
            for (std::size_t q = 0; q < k; ++q) m += (p_[i * k + q] /= s) * D[q];
            double v = 0.0;
            for (std::size_t q = 0; q < k; ++q) v += p_[i * k + q] * (D[q] - m) * (D[q] - m);
            mean_[i] = m;
            var_[i] = v;
        }
    });

    // Incoming entries per point (for the transposed scatter without races) and the joint P.
    in_ptr_.assign(n_ + 1, 0);
    for (std::size_t e = 0; e < nnz; ++e) in_ptr_[col_[e] + 1]++;
    std::partial_sum(in_ptr_.begin(), in_ptr_.end(), in_ptr_.begin());
    in_entry_.resize(nnz);
    {
        std::vector<std::size_t> next(in_ptr_.begin(), in_ptr_.end() - 1);
        for (std::size_t i = 0; i < n_; ++i)
            for (std::size_t e = ptr_[i]; e < ptr_[i + 1]; ++e) in_entry_[next[col_[e]]++] = e;
    }
    std::vector<Triplet<double>> t;
    t.reserve(2 * nnz);
    const double norm = 1.0 / (2.0 * static_cast<double>(n_));
    for (std::size_t i = 0; i < n_; ++i)
        for (std::size_t e = ptr_[i]; e < ptr_[i + 1]; ++e) {
            t.push_back({static_cast<index_t>(i), static_cast<index_t>(col_[e]), p_[e] * norm});
            t.push_back({static_cast<index_t>(col_[e]), static_cast<index_t>(i), p_[e] * norm});
        }
    P_ = csr_from_triplets(n_, n_, std::move(t));
    refresh_embedding();
}

void TsneDerivatives::set_embedding(MatrixView<double> Y) {
    require(Y.rows == n_ && Y.cols == 2, "sensitivity: set_embedding needs an N x 2 array");
    require_finite(Y, "sensitivity: Y");
    std::copy(Y.data, Y.data + Y.size(), Y_.data());
    refresh_embedding();
}

void TsneDerivatives::refresh_embedding() {
    wd_.resize(2 * col_.size());
    F_.assign(2 * n_, 0.0);
    std::vector<double> zrow(n_);
    parallelize(threads_, n_, [&](int, std::size_t b, std::size_t e) {
        for (std::size_t i = b; i < e; ++i) {
            const double yi0 = Y_(i, 0), yi1 = Y_(i, 1);
            double z = 0.0, f0 = 0.0, f1 = 0.0;
            for (std::size_t j = 0; j < n_; ++j) {
                if (j == i) continue;
                const double d0 = yi0 - Y_(j, 0), d1 = yi1 - Y_(j, 1);
                const double w = 1.0 / (1.0 + d0 * d0 + d1 * d1);
                z += w;
                f0 += w * w * d0;
                f1 += w * w * d1;
            }
            zrow[i] = z;
            F_[2 * i] = f0;
            F_[2 * i + 1] = f1;
            for (std::size_t q = ptr_[i]; q < ptr_[i + 1]; ++q) {
                const std::size_t j = col_[q];
                const double d0 = yi0 - Y_(j, 0), d1 = yi1 - Y_(j, 1);
                const double w = 1.0 / (1.0 + d0 * d0 + d1 * d1);
                wd_[2 * q] = w * d0;
                wd_[2 * q + 1] = w * d1;
            }
        }
    });
    z_ = 0.0;
    for (double z : zrow) z_ += z;
}

double TsneDerivatives::kl() const {
    double plogp = 0.0, plogw = 0.0, psum = 0.0;
    for (std::size_t i = 0; i < n_; ++i)
        for (offset_t q = P_.indptr[i]; q < P_.indptr[i + 1]; ++q) {
            const double p = P_.values[q];
            if (p <= 0.0) continue;
            const std::size_t j = static_cast<std::size_t>(P_.indices[q]);
            const double d0 = Y_(i, 0) - Y_(j, 0), d1 = Y_(i, 1) - Y_(j, 1);
            plogp += p * std::log(p);
            plogw -= p * std::log1p(d0 * d0 + d1 * d1);
            psum += p;
        }
    return plogp - plogw + psum * std::log(z_);
}

Eigen::VectorXd TsneDerivatives::gradient() const {
    Eigen::VectorXd g(2 * n_);
    parallelize(threads_, n_, [&](int, std::size_t b, std::size_t e) {
        for (std::size_t i = b; i < e; ++i) {
            double a0 = 0.0, a1 = 0.0;
            for (offset_t q = P_.indptr[i]; q < P_.indptr[i + 1]; ++q) {
                const std::size_t j = static_cast<std::size_t>(P_.indices[q]);
                const double d0 = Y_(i, 0) - Y_(j, 0), d1 = Y_(i, 1) - Y_(j, 1);
                const double pw = P_.values[q] / (1.0 + d0 * d0 + d1 * d1);
                a0 += pw * d0;
                a1 += pw * d1;
            }
            g[2 * i] = 4.0 * a0 - 4.0 / z_ * F_[2 * i];
            g[2 * i + 1] = 4.0 * a1 - 4.0 / z_ * F_[2 * i + 1];
        }
    });
    return g;
}

Eigen::MatrixXd TsneDerivatives::hessian_product(const Eigen::MatrixXd& V) const {
    require(static_cast<std::size_t>(V.rows()) == 2 * n_, "hessian_product: V must have 2N rows");
    const std::size_t m = static_cast<std::size_t>(V.cols());
    // Point-major copy (point i's 2m values contiguous) so the pair loop streams over right-hand sides.
    RowMajor Vr = V;
    RowMajor out = RowMajor::Zero(2 * n_, static_cast<Eigen::Index>(m));
    std::vector<double> Fv(m, 0.0);
    for (std::size_t c = 0; c < m; ++c)
        for (std::size_t i = 0; i < 2 * n_; ++i) Fv[c] += F_[i] * Vr(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(c));
    const double iz = 1.0 / z_, fz = 16.0 / (z_ * z_);
    parallelize(threads_, n_, [&](int, std::size_t b, std::size_t e) {
        for (std::size_t i = b; i < e; ++i) {
            double* o0 = out.row(static_cast<Eigen::Index>(2 * i)).data();
            double* o1 = out.row(static_cast<Eigen::Index>(2 * i + 1)).data();
            const double* vi0 = Vr.row(static_cast<Eigen::Index>(2 * i)).data();
            const double* vi1 = Vr.row(static_cast<Eigen::Index>(2 * i + 1)).data();
            offset_t q = P_.indptr[i];
            const offset_t qe = P_.indptr[i + 1];
            for (std::size_t j = 0; j < n_; ++j) {
                if (j == i) continue;
                const auto [m00, m01, m11] = pair_block(Y_, P_, i, j, q, qe, iz);  // applied to v_i − v_j
                const double* vj0 = Vr.row(static_cast<Eigen::Index>(2 * j)).data();
                const double* vj1 = Vr.row(static_cast<Eigen::Index>(2 * j + 1)).data();
                for (std::size_t c = 0; c < m; ++c) {
                    const double x0 = vi0[c] - vj0[c], x1 = vi1[c] - vj1[c];
                    o0[c] += m00 * x0 + m01 * x1;
                    o1[c] += m01 * x0 + m11 * x1;
                }
            }
            for (std::size_t c = 0; c < m; ++c) {
                o0[c] -= fz * F_[2 * i] * Fv[c];
                o1[c] -= fz * F_[2 * i + 1] * Fv[c];
            }
        }
    });
    return out;
}

Eigen::MatrixXd TsneDerivatives::hessian() const {
    const Eigen::Index n2 = static_cast<Eigen::Index>(2 * n_);
    Eigen::MatrixXd H(n2, n2);
    const double iz = 1.0 / z_, fz = 16.0 / (z_ * z_);
    // Point i fills columns 2i and 2i + 1 (contiguous in column-major storage; H is symmetric, so these are also
    // its rows): at 2N = 20 000 row-wise writes would touch a new cache line for every entry.
    parallelize(threads_, n_, [&](int, std::size_t b, std::size_t e) {
        for (std::size_t i = b; i < e; ++i) {
            const Eigen::Index r = static_cast<Eigen::Index>(2 * i);
            double* h0 = H.col(r).data();
            double* h1 = H.col(r + 1).data();
            offset_t q = P_.indptr[i];
            const offset_t qe = P_.indptr[i + 1];
            double s00 = 0.0, s01 = 0.0, s11 = 0.0;
            const double fz0 = fz * F_[2 * i], fz1 = fz * F_[2 * i + 1];
            for (std::size_t j = 0; j < n_; ++j) {
                if (j == i) continue;
                const auto [m00, m01, m11] = pair_block(Y_, P_, i, j, q, qe, iz);
                h0[2 * j] = -m00 - fz0 * F_[2 * j];
                h0[2 * j + 1] = -m01 - fz0 * F_[2 * j + 1];
                h1[2 * j] = -m01 - fz1 * F_[2 * j];
                h1[2 * j + 1] = -m11 - fz1 * F_[2 * j + 1];
                s00 += m00;
                s01 += m01;
                s11 += m11;
            }
            h0[2 * i] = s00 - fz0 * F_[2 * i];
            h0[2 * i + 1] = s01 - fz0 * F_[2 * i + 1];
            h1[2 * i] = s01 - fz1 * F_[2 * i];
            h1[2 * i + 1] = s11 - fz1 * F_[2 * i + 1];
        }
    });
    return H;
}

// ---- X-derivatives ----

void TsneDerivatives::entry_dd(const double* u, double* dd, double* work) const {
    const std::size_t k = ptr_[1];
    if (dense_) {
        // δD_ij = 2 (x_i·u_i + x_j·u_j − (X Uᵀ + U Xᵀ)_ij): one GEMM [X U]·[U X]ᵀ with contiguous reads, instead
        // of N² dot products of length D.
        const auto N = static_cast<Eigen::Index>(n_), Dd = static_cast<Eigen::Index>(d_);
        Eigen::Map<const RowMajor> Xm(X_.data(), N, Dd);
        Eigen::Map<const RowMajor> Um(u, N, Dd);
        RowMajor A(N, 2 * Dd), B(N, 2 * Dd);
        A << Xm, Um;
        B << Um, Xm;
        Eigen::Map<RowMajor> G(work, N, N);
        G.noalias() = A * B.transpose();
        const Eigen::VectorXd diag = Xm.cwiseProduct(Um).rowwise().sum();
        for (std::size_t i = 0; i < n_; ++i) {
            const double* g = work + i * n_;
            for (std::size_t q = 0; q < k; ++q) {
                const std::size_t j = col_[i * k + q];
                dd[i * k + q] = 2.0 * (diag[static_cast<Eigen::Index>(i)] + diag[static_cast<Eigen::Index>(j)] - g[j]);
            }
        }
        return;
    }
    for (std::size_t i = 0; i < n_; ++i) {
        const double *xi = X_.row(i), *ui = u + i * d_;
        for (std::size_t e = ptr_[i]; e < ptr_[i + 1]; ++e) {
            const double *xj = X_.row(col_[e]), *uj = u + col_[e] * d_;
            double s = 0.0;
            for (std::size_t f = 0; f < d_; ++f) s += (xi[f] - xj[f]) * (ui[f] - uj[f]);
            dd[e] = 2.0 * s;
        }
    }
}

void TsneDerivatives::entry_backprop(const double* dbar, double* xbar, double* work) const {
    // x̄_i = 2 Σ_j s_ij (x_i − x_j), s_ij = D̄_ij + D̄_ji (the union of both directions of every entry).
    if (dense_) {
        // With D̄ as an N × N matrix (rows contiguous, zero diagonal) and Σ = D̄ + D̄ᵀ (tiled transpose-add):
        // x̄ = 2 (diag(Σ 1) X − Σ X), one GEMM per column.
        const std::size_t k = ptr_[1];
        const auto N = static_cast<Eigen::Index>(n_), Dd = static_cast<Eigen::Index>(d_);
        double* db = work;
        double* sym = work + n_ * n_;
        for (std::size_t i = 0; i < n_; ++i) {
            double* row = db + i * n_;
            row[i] = 0.0;
            for (std::size_t q = 0; q < k; ++q) row[col_[i * k + q]] = dbar[i * k + q];
        }
        constexpr std::size_t tile = 64;
        for (std::size_t ib = 0; ib < n_; ib += tile)
            for (std::size_t jb = 0; jb < n_; jb += tile)
                for (std::size_t i = ib; i < std::min(n_, ib + tile); ++i)
                    for (std::size_t j = jb; j < std::min(n_, jb + tile); ++j)
                        sym[i * n_ + j] = db[i * n_ + j] + db[j * n_ + i];
        Eigen::Map<const RowMajor> Sm(sym, N, N);
        Eigen::Map<const RowMajor> Xm(X_.data(), N, Dd);
        Eigen::Map<RowMajor> Out(xbar, N, Dd);
        Out.noalias() = -2.0 * (Sm * Xm);
        const Eigen::VectorXd rs = Sm.rowwise().sum();
        for (Eigen::Index i = 0; i < N; ++i) Out.row(i) += 2.0 * rs[i] * Xm.row(i);
        return;
    }
    for (std::size_t i = 0; i < n_; ++i) {
        double* o = xbar + i * d_;
        std::fill(o, o + d_, 0.0);
        const double* xi = X_.row(i);
        for (std::size_t e = ptr_[i]; e < ptr_[i + 1]; ++e) {
            const double* xj = X_.row(col_[e]);
            for (std::size_t f = 0; f < d_; ++f) o[f] += 2.0 * dbar[e] * (xi[f] - xj[f]);
        }
        for (std::size_t q = in_ptr_[i]; q < in_ptr_[i + 1]; ++q) {
            const std::size_t e = in_entry_[q];
            const double* xr = X_.row(e / ptr_[1]);  // every row holds k = ptr_[1] entries
            for (std::size_t f = 0; f < d_; ++f) o[f] += 2.0 * dbar[e] * (xi[f] - xr[f]);
        }
    }
}

void TsneDerivatives::dp_from_dd(double* v) const {
    const bool diff = opt_.bandwidth == BandwidthMode::differentiated;
    for (std::size_t i = 0; i < n_; ++i) {
        const std::size_t b = ptr_[i], e = ptr_[i + 1];
        double m = 0.0, cov = 0.0;
        for (std::size_t q = b; q < e; ++q) {
            m += p_[q] * v[q];
            cov += p_[q] * (dist_[q] - mean_[i]) * v[q];
        }
        // A row with all distances equal has no curvature in β: its entropy does not move, β stays put.
        const double dbeta = (diff && var_[i] > 0.0) ? -beta_[i] * cov / var_[i] : 0.0;
        for (std::size_t q = b; q < e; ++q)
            v[q] = p_[q] * (-beta_[i] * (v[q] - m) - (dist_[q] - mean_[i]) * dbeta);
    }
}

void TsneDerivatives::dbar_from_pbar(double* v) const {
    const bool diff = opt_.bandwidth == BandwidthMode::differentiated;
    for (std::size_t i = 0; i < n_; ++i) {
        const std::size_t b = ptr_[i], e = ptr_[i + 1];
        double m = 0.0, gamma = 0.0;
        for (std::size_t q = b; q < e; ++q) {
            m += p_[q] * v[q];
            gamma -= v[q] * p_[q] * (dist_[q] - mean_[i]);
        }
        const double coef = (diff && var_[i] > 0.0) ? -gamma * beta_[i] / var_[i] : 0.0;
        for (std::size_t q = b; q < e; ++q)
            v[q] = -beta_[i] * p_[q] * (v[q] - m) + coef * p_[q] * (dist_[q] - mean_[i]);
    }
}

Eigen::MatrixXd TsneDerivatives::jacobian_product(const Eigen::MatrixXd& U) const {
    require(static_cast<std::size_t>(U.rows()) == n_ * d_, "jacobian_product: U must have N*D rows");
    const std::size_t m = static_cast<std::size_t>(U.cols()), nnz = col_.size();
    Eigen::MatrixXd out(static_cast<Eigen::Index>(2 * n_), U.cols());
    const Split sp = split(threads_, m);
    const double c = 2.0 / static_cast<double>(n_);  // 4 / (2N)
    parallelize(sp.outer, m, [&](int, std::size_t b, std::size_t e) {
        std::vector<double> dd(nnz), work(dense_ ? n_ * n_ : 0);
        for (std::size_t col = b; col < e; ++col) {
            entry_dd(U.col(static_cast<Eigen::Index>(col)).data(), dd.data(), work.data());
            dp_from_dd(dd.data());
            double* o = out.col(static_cast<Eigen::Index>(col)).data();
            parallelize(sp.inner, n_, [&](int, std::size_t ib, std::size_t ie) {
                for (std::size_t i = ib; i < ie; ++i) {
                    double g0 = 0.0, g1 = 0.0;
                    for (std::size_t q = ptr_[i]; q < ptr_[i + 1]; ++q) {
                        g0 += dd[q] * wd_[2 * q];
                        g1 += dd[q] * wd_[2 * q + 1];
                    }
                    for (std::size_t q = in_ptr_[i]; q < in_ptr_[i + 1]; ++q) {
                        const std::size_t en = in_entry_[q];
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
    require(static_cast<std::size_t>(V.rows()) == 2 * n_, "jacobian_transpose_product: V must have 2N rows");
    if (!dense_) return jacobian_transpose_knn(V);
    const std::size_t m = static_cast<std::size_t>(V.cols()), nnz = col_.size();
    Eigen::MatrixXd out(static_cast<Eigen::Index>(n_ * d_), V.cols());
    const Split sp = split(threads_, m);
    const double c = 2.0 / static_cast<double>(n_);
    parallelize(sp.outer, m, [&](int, std::size_t b, std::size_t e) {
        std::vector<double> pb(nnz), work(2 * n_ * n_);
        for (std::size_t col = b; col < e; ++col) {
            const double* v = V.col(static_cast<Eigen::Index>(col)).data();
            parallelize(sp.inner, n_, [&](int, std::size_t ib, std::size_t ie) {
                for (std::size_t i = ib; i < ie; ++i)
                    for (std::size_t q = ptr_[i]; q < ptr_[i + 1]; ++q) {
                        const std::size_t j = col_[q];
                        pb[q] = c * (wd_[2 * q] * (v[2 * i] - v[2 * j]) + wd_[2 * q + 1] * (v[2 * i + 1] - v[2 * j + 1]));
                    }
            });
            dbar_from_pbar(pb.data());
            entry_backprop(pb.data(), out.col(static_cast<Eigen::Index>(col)).data(), work.data());
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
    const bool diff = opt_.bandwidth == BandwidthMode::differentiated;
    const double cc = 2.0 / static_cast<double>(n_);
    parallelize(threads_, n_, [&](int, std::size_t ib, std::size_t ie) {
        std::vector<double> mean(w), gam(w), coef(w);
        for (std::size_t i = ib; i < ie; ++i) {
            const double* vi0 = Vr + 2 * i * ld;
            const double* vi1 = vi0 + ld;
            std::fill(mean.begin(), mean.end(), 0.0);
            std::fill(gam.begin(), gam.end(), 0.0);
            for (std::size_t q = ptr_[i]; q < ptr_[i + 1]; ++q) {
                const double* vj0 = Vr + 2 * col_[q] * ld;
                const double* vj1 = vj0 + ld;
                const double a0 = cc * wd_[2 * q], a1 = cc * wd_[2 * q + 1];
                const double pq = p_[q], pd = p_[q] * (dist_[q] - mean_[i]);
                double* r = pb + q * ld;
                for (std::size_t c = 0; c < w; ++c) {
                    r[c] = a0 * (vi0[c] - vj0[c]) + a1 * (vi1[c] - vj1[c]);
                    mean[c] += pq * r[c];
                    gam[c] -= r[c] * pd;
                }
            }
            // dbar_from_pbar, column-wise (see there)
            const double vb = var_[i] > 0.0 ? beta_[i] / var_[i] : 0.0;
            for (std::size_t c = 0; c < w; ++c) coef[c] = diff ? -gam[c] * vb : 0.0;
            for (std::size_t q = ptr_[i]; q < ptr_[i + 1]; ++q) {
                const double pq = p_[q], pd = p_[q] * (dist_[q] - mean_[i]);
                double* r = pb + q * ld;
                for (std::size_t c = 0; c < w; ++c) r[c] = -beta_[i] * pq * (r[c] - mean[c]) + coef[c] * pd;
            }
        }
    });
}

// x̄_a (D × w, row-major in o, leading dimension ld) for one point from the block's D̄ (pb). The own row's entries
// are contiguous in pb and used in place; the incoming ones are gathered. Δ rows are padded to a multiple of 4
// features so that the kernel never takes its scalar edge path over features.
void TsneDerivatives::knn_point_product(std::size_t a, const double* pb, std::size_t ld, std::size_t w,
                                        KnnScratch& s, double* o) const {
    const std::size_t k = ptr_[1], d4 = (d_ + 3) & ~std::size_t(3);
    const std::size_t n_in = in_ptr_[a + 1] - in_ptr_[a];
    s.delta.assign((k + n_in) * d4, 0.0);
    s.wt.resize(n_in * ld);
    const double* xa = X_.row(a);
    for (std::size_t t = 0; t < k; ++t) {
        const double* xo = X_.row(col_[ptr_[a] + t]);
        double* dr = s.delta.data() + t * d4;
        for (std::size_t f = 0; f < d_; ++f) dr[f] = 2.0 * (xa[f] - xo[f]);
    }
    for (std::size_t t = 0; t < n_in; ++t) {
        const std::size_t e = in_entry_[in_ptr_[a] + t];
        const double* xo = X_.row(e / k);
        double* dr = s.delta.data() + (k + t) * d4;
        for (std::size_t f = 0; f < d_; ++f) dr[f] = 2.0 * (xa[f] - xo[f]);
        std::copy(pb + e * ld, pb + e * ld + w, s.wt.data() + t * ld);
    }
    detail::gemm_at_b(k, d4, w, s.delta.data(), d4, pb + ptr_[a] * ld, ld, o, ld);
    if (n_in > 0) detail::gemm_at_b(n_in, d4, w, s.delta.data() + k * d4, d4, s.wt.data(), ld, o, ld, 1.0, true);
}

// The block loop shared by the kNN products: for each block of up to 32 columns of V, the entries' adjoints, then
// per point (in fixed chunks of 64 points, spread over the threads) x̄_a handed to `point(chunk, a, o, c0, w)`
// (o: D × w, row-major, leading dimension 32), then `block_done(c0, w)` on the calling thread.
template <class PointFn, class BlockFn>
void TsneDerivatives::knn_blocks(const Eigen::MatrixXd& V, PointFn&& point, BlockFn&& block_done) const {
    const std::size_t m = static_cast<std::size_t>(V.cols()), nnz = col_.size(), d4 = (d_ + 3) & ~std::size_t(3);
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
    const std::size_t m = static_cast<std::size_t>(V.cols());
    require(!dense_, "jacobian_transpose_pair_forms: needs the kNN layout (use jacobian_transpose_product)");
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
