// Conditional Gaussian affinities P(X) and their derivatives in X (affinity_derivatives.hpp,
// docs/sensitivity.md §1, §2).
#include "nembed/sensitivity/affinity_derivatives.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <span>
#include <string>

#include <Eigen/Dense>

#include "nembed/affinity/perplexity.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/strings.hpp"
#include "nembed/core/parallel.hpp"

namespace nembed {
namespace {

using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// The seed's β search, kept only to reproduce the seed's S (sensitivity.md §4): 1000 halving/doubling/bisection
// steps from β = 1 on the unshifted squared distances, entropy with a 1e-8 floor on the normaliser, a step is
// skipped once |H − log U| < 1e-5. The floor and the unshifted distances change the root (perplexities below 1
// are accepted), so this is not nembed's calibration with other tolerances.
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

} // namespace

PerplexityAffinity::PerplexityAffinity(MatrixView<double> X, const DerivativeOptions& options) {
    threads_ = resolve_threads(options.n_threads);
    require(X.rows >= 3, "sensitivity: need at least 3 points, got " + std::to_string(X.rows));
    require(X.cols >= 1, "sensitivity: X must have at least one feature");
    require_finite(X, "sensitivity: X");
    require(std::isfinite(options.perplexity) && options.perplexity > 0.0,
            "sensitivity: perplexity must be a positive number, got " + short_number(options.perplexity));
    require(options.calibration_tolerance > 0.0, "sensitivity: calibration_tolerance must be > 0");
    n_ = X.rows;
    d_ = X.cols;
    diff_ = options.bandwidth == BandwidthMode::differentiated;
    X_ = Matrix<double>(n_, d_, std::vector<double>(X.data, X.data + X.size()));
    // Centred: everything here depends on differences only, and the dense path's expanded forms (x_i.u_i + x_j.u_j
    // - 2 x_i.u_j) would otherwise cancel for data far from the origin.
    std::vector<double> mean(d_, 0.0);
    for (std::size_t i = 0; i < n_; ++i)
        for (std::size_t f = 0; f < d_; ++f) mean[f] += X_(i, f);
    for (double& m : mean) m /= static_cast<double>(n_);
    double spread = 0.0;
    for (std::size_t i = 0; i < n_; ++i)
        for (std::size_t f = 0; f < d_; ++f) spread = std::max(spread, std::abs(X_(i, f) -= mean[f]));
    // Squared distances up to D·(2·spread)² must stay finite in float64, or the bandwidths and the Hessian turn to
    // NaN (reported as a failed eigendecomposition far from the cause).
    require(spread < 0.25 * std::sqrt(std::numeric_limits<double>::max() / static_cast<double>(d_)),
            "sensitivity: X: values up to " + short_number(spread) + " from the column means overflow the squared "
            "distances in float64; rescale X");

    const bool given = !options.neighbors.empty();
    dense_ = !given && options.affinity == SensitivityAffinity::dense;
    require(!dense_ || n_ <= options.dense_max_points,
            "sensitivity: the dense affinity keeps all N^2 pairs, about " +
                std::to_string(static_cast<long long>(28.0 * static_cast<double>(n_) * static_cast<double>(n_) / 1e9)) +
                " GB for " + std::to_string(n_) + " points (limit " + std::to_string(options.dense_max_points) +
                " points); use the kNN affinity (--affinity knn) or raise dense_max_points");
    std::size_t k = n_ - 1;
    if (given) {
        k = options.neighbors_k;
        require(k >= 1 && k <= n_ - 1 && options.neighbors.size() == n_ * k,
                "sensitivity: neighbors must be N x k with 1 <= k <= N - 1 = " + std::to_string(n_ - 1) + ", got " +
                    std::to_string(options.neighbors.size()) + " entries for k = " + std::to_string(k));
        require(options.n_neighbors == 0 || options.n_neighbors == k,
                "sensitivity: n_neighbors = " + std::to_string(options.n_neighbors) +
                    " disagrees with the given neighbour sets (k = " + std::to_string(k) + ")");
        if (k == n_ - 1) dense_ = true;
    } else if (dense_) {
        // The dense P covers all N - 1 other points: a neighbour count would be silently ignored.
        require(options.n_neighbors == 0, "sensitivity: n_neighbors = " + std::to_string(options.n_neighbors) +
                                              " applies to the kNN affinity only; use affinity 'knn' (--affinity "
                                              "knn) or leave n_neighbors at 0 with the dense affinity");
    } else {
        k = options.n_neighbors ? options.n_neighbors
                                : std::min(n_ - 1, static_cast<std::size_t>(std::floor(3.0 * options.perplexity)));
        require(k >= 1 && k <= n_ - 1, "sensitivity: n_neighbors must be in [1, N - 1] = [1, " +
                                           std::to_string(n_ - 1) + "], got " + std::to_string(k));
        if (k == n_ - 1) dense_ = true;  // every point is a neighbour: the dense layout is the same P
    }
    k_ = k;
    if (!options.beta.empty()) {
        require(options.beta.size() == n_, "sensitivity: beta must have N = " + std::to_string(n_) +
                                               " entries, got " + std::to_string(options.beta.size()));
        for (double b : options.beta)
            require(std::isfinite(b) && b > 0.0, "sensitivity: every beta must be finite and > 0");
    }
    require(!options.beta.empty() || options.seed_search || options.perplexity < static_cast<double>(k),
            "sensitivity: perplexity " + short_number(options.perplexity) + " must be below the " +
                std::to_string(k) + " neighbours per point (or use the seed's search, seed_search = true)");

    // Neighbour sets and squared distances (exact float64 differences, not the expansion), columns ascending.
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
    if (given) {
        for (std::size_t i = 0; i < n_; ++i) {
            std::size_t* c = col_.data() + i * k;
            std::copy(options.neighbors.begin() + static_cast<std::ptrdiff_t>(i * k),
                      options.neighbors.begin() + static_cast<std::ptrdiff_t>((i + 1) * k), c);
            std::sort(c, c + k);
            for (std::size_t q = 0; q < k; ++q) {
                require_lazy(c[q] < n_ && c[q] != i && (q == 0 || c[q] != c[q - 1]), [&] {
                    return "sensitivity: neighbour row " + std::to_string(i) +
                           " lists itself, a point twice or an index >= N = " + std::to_string(n_);
                });
                dist_[i * k + q] = sqdist(i, c[q]);
            }
        }
    } else if (dense_) {
        parallelize(threads_, n_, [&](int, std::size_t b, std::size_t e) {
            for (std::size_t i = b; i < e; ++i) {
                std::size_t c = 0;
                for (std::size_t j = 0; j < n_; ++j)
                    if (j != i) {
                        col_[i * k + c] = j;
                        dist_[i * k + c++] = sqdist(i, j);
                    }
            }
        });
    } else {
        // Exact float64 kNN: the k smallest (D_ij, j) pairs (ties to the smaller index) of each row, kept in a max-heap.
        // A candidate's sum is abandoned as soon as its partial sum exceeds the heap's largest distance: the terms are
        // non-negative, so a floating-point partial sum never decreases and that candidate cannot enter. The sums
        // that finish are the full sums in the same order (the same bits), so the sets and distances equal a full
        // sort's; on clustered data most pairs stop after a few features (O(N² D) in the worst case).
        parallelize(threads_, n_, [&](int, std::size_t b, std::size_t e) {
            std::vector<std::pair<double, std::size_t>> heap;
            heap.reserve(k);
            for (std::size_t i = b; i < e; ++i) {
                heap.clear();
                const double* a = X_.row(i);
                for (std::size_t j = 0; j < n_; ++j) {
                    if (j == i) continue;
                    const double* bj = X_.row(j);
                    double s = 0.0;
                    if (heap.size() < k) {
                        for (std::size_t f = 0; f < d_; ++f) s += (a[f] - bj[f]) * (a[f] - bj[f]);
                        heap.emplace_back(s, j);
                        std::push_heap(heap.begin(), heap.end());
                        continue;
                    }
                    const double top = heap.front().first;
                    std::size_t f = 0;
                    while (f < d_ && s <= top) {
                        const std::size_t fe = std::min(d_, f + 8);
                        for (; f < fe; ++f) s += (a[f] - bj[f]) * (a[f] - bj[f]);
                    }
                    if (f < d_ || !(std::make_pair(s, j) < heap.front())) continue;
                    std::pop_heap(heap.begin(), heap.end());
                    heap.back() = {s, j};
                    std::push_heap(heap.begin(), heap.end());
                }
                std::sort(heap.begin(), heap.end(), [](const auto& x, const auto& y) { return x.second < y.second; });
                for (std::size_t q = 0; q < k; ++q) {
                    col_[i * k + q] = heap[q].second;
                    dist_[i * k + q] = heap[q].first;
                }
            }
        });
    }

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
                // nembed's perplexity calibration (the one t-SNE's affinities use), τ = 2β on shifted distances.
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

    // Incoming entries per point (for the transposed scatter without races).
    in_ptr_.assign(n_ + 1, 0);
    for (std::size_t e = 0; e < nnz; ++e) in_ptr_[col_[e] + 1]++;
    std::partial_sum(in_ptr_.begin(), in_ptr_.end(), in_ptr_.begin());
    in_entry_.resize(nnz);
    std::vector<std::size_t> next(in_ptr_.begin(), in_ptr_.end() - 1);
    for (std::size_t i = 0; i < n_; ++i)
        for (std::size_t e = ptr_[i]; e < ptr_[i + 1]; ++e) in_entry_[next[col_[e]]++] = e;
}

CsrMatrix<double> PerplexityAffinity::joint() const {
    std::vector<Triplet<double>> t;
    t.reserve(2 * col_.size());
    const double norm = 1.0 / (2.0 * static_cast<double>(n_));
    for (std::size_t i = 0; i < n_; ++i)
        for (std::size_t e = ptr_[i]; e < ptr_[i + 1]; ++e) {
            t.push_back({static_cast<index_t>(i), static_cast<index_t>(col_[e]), p_[e] * norm});
            t.push_back({static_cast<index_t>(col_[e]), static_cast<index_t>(i), p_[e] * norm});
        }
    return csr_from_triplets(n_, n_, std::move(t));
}

void PerplexityAffinity::entry_dd(const double* u, double* dd, double* work) const {
    const std::size_t k = k_;
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

void PerplexityAffinity::entry_backprop(const double* dbar, double* xbar, double* work) const {
    // x̄_i = 2 Σ_j s_ij (x_i − x_j), s_ij = D̄_ij + D̄_ji (the union of both directions of every entry).
    if (dense_) {
        // With D̄ as an N × N matrix (rows contiguous, zero diagonal) and Σ = D̄ + D̄ᵀ (tiled transpose-add):
        // x̄ = 2 (diag(Σ 1) X − Σ X), one GEMM per column.
        const std::size_t k = k_;
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
            const double* xr = X_.row(e / k_);  // every row holds k entries
            for (std::size_t f = 0; f < d_; ++f) o[f] += 2.0 * dbar[e] * (xi[f] - xr[f]);
        }
    }
}

void PerplexityAffinity::dp_from_dd(double* v) const {
    for (std::size_t i = 0; i < n_; ++i) {
        const std::size_t b = ptr_[i], e = ptr_[i + 1];
        double m = 0.0, cov = 0.0;
        for (std::size_t q = b; q < e; ++q) {
            m += p_[q] * v[q];
            cov += p_[q] * (dist_[q] - mean_[i]) * v[q];
        }
        // A row with all distances equal has no curvature in β: its entropy does not move, β stays put.
        const double dbeta = (diff_ && var_[i] > 0.0) ? -beta_[i] * cov / var_[i] : 0.0;
        for (std::size_t q = b; q < e; ++q)
            v[q] = p_[q] * (-beta_[i] * (v[q] - m) - (dist_[q] - mean_[i]) * dbeta);
    }
}

void PerplexityAffinity::dbar_from_pbar(double* v) const {
    for (std::size_t i = 0; i < n_; ++i) {
        const std::size_t b = ptr_[i], e = ptr_[i + 1];
        double m = 0.0, gamma = 0.0;
        for (std::size_t q = b; q < e; ++q) {
            m += p_[q] * v[q];
            gamma -= v[q] * p_[q] * (dist_[q] - mean_[i]);
        }
        const double coef = (diff_ && var_[i] > 0.0) ? -gamma * beta_[i] / var_[i] : 0.0;
        for (std::size_t q = b; q < e; ++q)
            v[q] = -beta_[i] * p_[q] * (v[q] - m) + coef * p_[q] * (dist_[q] - mean_[i]);
    }
}

void PerplexityAffinity::dbar_from_pbar_row(std::size_t i, double* v, std::size_t ld, std::size_t w,
                                            double* scratch) const {
    double* mean = scratch;
    double* gam = scratch + w;
    std::fill(mean, mean + w, 0.0);
    std::fill(gam, gam + w, 0.0);
    for (std::size_t q = ptr_[i]; q < ptr_[i + 1]; ++q) {
        const double pq = p_[q], pd = p_[q] * (dist_[q] - mean_[i]);
        const double* r = v + q * ld;
        for (std::size_t c = 0; c < w; ++c) {
            mean[c] += pq * r[c];
            gam[c] -= r[c] * pd;
        }
    }
    // dbar_from_pbar, column-wise (see there); gam becomes the β coefficient
    const double vb = var_[i] > 0.0 ? beta_[i] / var_[i] : 0.0;
    for (std::size_t c = 0; c < w; ++c) gam[c] = diff_ ? -gam[c] * vb : 0.0;
    for (std::size_t q = ptr_[i]; q < ptr_[i + 1]; ++q) {
        const double pq = p_[q], pd = p_[q] * (dist_[q] - mean_[i]);
        double* r = v + q * ld;
        for (std::size_t c = 0; c < w; ++c) r[c] = -beta_[i] * pq * (r[c] - mean[c]) + gam[c] * pd;
    }
}

void PerplexityAffinity::point_deltas(std::size_t a, std::size_t d4, std::vector<double>& delta) const {
    const std::size_t n_in = in_ptr_[a + 1] - in_ptr_[a];
    delta.assign((k_ + n_in) * d4, 0.0);
    const double* xa = X_.row(a);
    for (std::size_t t = 0; t < k_; ++t) {
        const double* xo = X_.row(col_[ptr_[a] + t]);
        double* dr = delta.data() + t * d4;
        for (std::size_t f = 0; f < d_; ++f) dr[f] = 2.0 * (xa[f] - xo[f]);
    }
    for (std::size_t t = 0; t < n_in; ++t) {
        const double* xo = X_.row(in_entry_[in_ptr_[a] + t] / k_);
        double* dr = delta.data() + (k_ + t) * d4;
        for (std::size_t f = 0; f < d_; ++f) dr[f] = 2.0 * (xa[f] - xo[f]);
    }
}

} // namespace nembed
