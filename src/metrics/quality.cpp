// Exact embedding quality metrics (see quality.hpp for definitions and conventions).
#ifndef EIGEN_DONT_PARALLELIZE
#define EIGEN_DONT_PARALLELIZE  // threads come only from nembed::parallelize
#endif
#include "nembed/metrics/quality.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <string>

#include <Eigen/Dense>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/core/random.hpp"
#include "nembed/kernel/kernel.hpp"
#include "nembed/loss/attraction.hpp"
#include "nembed/loss/kl.hpp"
#include "nembed/repulsion/repulsion.hpp"
#include "nembed/neighbors/distance.hpp"
#include "neighbor_ranks.hpp"

namespace nembed {

namespace {

constexpr std::uint64_t kSubsampleStream = std::uint64_t(5) << 40;
constexpr std::uint64_t kPairStreams = std::uint64_t(6) << 40;

using RowMatF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

void check_data(MatrixView<float> X, MatrixView<double> Y, const char* what) {
    const std::string w(what);
    require(X.data != nullptr && X.rows > 0 && X.cols > 0, w + ": the data X are empty");
    require(Y.data != nullptr && Y.rows > 0 && Y.cols > 0, w + ": the embedding Y is empty");
    require(X.rows == Y.rows, w + ": X has " + std::to_string(X.rows) + " rows but the embedding has " +
                                  std::to_string(Y.rows));
    require_finite(X, w + ": X");
    require_finite(Y, w + ": embedding");
}

void check_k(std::size_t k, std::size_t n, const char* what) {
    require(k >= 1, std::string(what) + ": k must be at least 1");
    require(k < n, std::string(what) + ": k = " + std::to_string(k) + " must be smaller than the number of points " +
                       std::to_string(n));
}

// Sorted seeded subset of m of [0, n) (all of them when max_points is 0 or >= n).
std::vector<index_t> query_subset(std::size_t n, std::size_t max_points, std::uint64_t seed) {
    std::vector<index_t> idx(n);
    std::iota(idx.begin(), idx.end(), 0);
    if (max_points == 0 || max_points >= n) return idx;
    Rng rng(seed, kSubsampleStream);
    for (std::size_t i = 0; i < max_points; ++i) std::swap(idx[i], idx[i + rng.below(n - i)]);
    idx.resize(max_points);
    std::sort(idx.begin(), idx.end());
    return idx;
}

} // namespace

namespace detail {

namespace {

// The k nearest rows of R to the point y (by increasing squared distance; ties to the smaller row; row `skip`
// excluded) into bi: an exact double scan, shared by the self and the reference searches.
void nearest_rows(MatrixView<double> R, const double* y, std::size_t skip, std::size_t k, std::vector<double>& bd,
                  std::vector<index_t>& bi) {
    const std::size_t N = R.rows, d = R.cols;
    std::size_t filled = 0;
    double worst = std::numeric_limits<double>::infinity();
    auto consider = [&](std::size_t l, double d2) {
        // Candidates arrive in increasing l, so an equal distance never displaces an earlier index.
        std::size_t pos = filled < k ? filled : k - 1;
        if (filled < k) ++filled;
        while (pos > 0 && bd[pos - 1] > d2) {
            bd[pos] = bd[pos - 1];
            bi[pos] = bi[pos - 1];
            --pos;
        }
        bd[pos] = d2;
        bi[pos] = static_cast<index_t>(l);
        if (filled == k) worst = bd[k - 1];
    };
    if (d == 2) {
        const double y0 = y[0], y1 = y[1];
        for (std::size_t l = 0; l < N; ++l) {
            const double a = R.data[2 * l] - y0, c = R.data[2 * l + 1] - y1;
            const double d2 = a * a + c * c;
            if (d2 < worst && l != skip) consider(l, d2);
        }
    } else {
        for (std::size_t l = 0; l < N; ++l) {
            const double d2 = squared_distance(y, R.row(l), d);
            if (d2 < worst && l != skip) consider(l, d2);
        }
    }
}

} // namespace

// Exact k nearest neighbours (self excluded; ties to the smaller index) in the embedding of each query point.
std::vector<index_t> embedding_neighbors(MatrixView<double> Y, const std::vector<index_t>& queries, std::size_t k,
                                         int n_threads) {
    const std::size_t m = queries.size();
    std::vector<index_t> out(m * k);
    parallelize(n_threads, m, [&](int, std::size_t b, std::size_t e) {
        std::vector<double> bd(k);
        std::vector<index_t> bi(k);
        for (std::size_t q = b; q < e; ++q) {
            const std::size_t i = static_cast<std::size_t>(queries[q]);
            nearest_rows(Y, Y.row(i), i, k, bd, bi);
            std::copy(bi.begin(), bi.end(), out.begin() + static_cast<std::ptrdiff_t>(q * k));
        }
    });
    return out;
}

std::vector<index_t> reference_neighbors(MatrixView<double> R, MatrixView<double> Q, std::size_t k, int n_threads) {
    std::vector<index_t> out(Q.rows * k);
    parallelize(n_threads, Q.rows, [&](int, std::size_t b, std::size_t e) {
        std::vector<double> bd(k);
        std::vector<index_t> bi(k);
        for (std::size_t q = b; q < e; ++q) {
            nearest_rows(R, Q.row(q), R.rows, k, bd, bi);
            std::copy(bi.begin(), bi.end(), out.begin() + static_cast<std::ptrdiff_t>(q * k));
        }
    });
    return out;
}

std::int64_t majority_label(const std::int64_t* lab, std::size_t k) {
    // Scanning in distance order and replacing only on a strictly larger count gives ties to the label that occurs
    // nearest.
    std::int64_t best = lab[0];
    std::size_t best_count = 0;
    for (std::size_t a = 0; a < k; ++a) {
        bool seen = false;
        for (std::size_t s = 0; s < a; ++s) seen = seen || lab[s] == lab[a];
        if (seen) continue;
        const auto cnt = static_cast<std::size_t>(std::count(lab, lab + k, lab[a]));
        if (cnt > best_count) {
            best_count = cnt;
            best = lab[a];
        }
    }
    return best;
}

// For each query q and each of its k embedding neighbours j = nbrs[q*k + m], the exact high-dimensional rank
// r(i, j) (see quality.hpp). Float GEMM screens distances; comparisons inside the rounding-error band are redone in
// double. The GEMM runs on W = (X - mean) * s (SearchTransform: s a power of two), so the screen neither cancels for
// data far from the origin (every comparison would fall in the band) nor overflows or underflows in float32.
std::vector<std::size_t> high_dim_ranks(MatrixView<float> X, const std::vector<index_t>& queries,
                                        const std::vector<index_t>& nbrs, std::size_t k, int n_threads) {
    const std::size_t N = X.rows, D = X.cols, m = queries.size();
    constexpr std::size_t QB = 64, RC = 2048;
    const double gamma = 2.0 * static_cast<double>(D + 2) * std::ldexp(1.0, -24) * 1.01;  // 2 * gamma_{D+2}
    const SearchTransform tf(X, Metric::euclidean);
    const Matrix<float> W = tf.apply(X, n_threads);
    const double s2 = tf.scale * tf.scale;  // squared distances of W = those of X times s2 (before W's rounding)
    std::vector<double> nrm(N);
    for (std::size_t l = 0; l < N; ++l) {
        double s = 0;
        const float* x = W.row(l);
        for (std::size_t c = 0; c < D; ++c) s += static_cast<double>(x[c]) * static_cast<double>(x[c]);
        nrm[l] = s;
    }
    Eigen::Map<const RowMatF> Xall(W.data(), static_cast<Eigen::Index>(N), static_cast<Eigen::Index>(D));
    std::vector<std::size_t> ranks(m * k);
    const std::size_t n_blocks = (m + QB - 1) / QB;
    parallel_for(n_threads, n_blocks, [&](std::size_t blk) {
        const std::size_t qb = blk * QB, qe = std::min(m, qb + QB), nq = qe - qb;
        RowMatF Q(static_cast<Eigen::Index>(nq), static_cast<Eigen::Index>(D));
        for (std::size_t q = qb; q < qe; ++q)
            std::copy(W.row(static_cast<std::size_t>(queries[q])), W.row(static_cast<std::size_t>(queries[q])) + D,
                      Q.data() + (q - qb) * D);
        // Per query: thresholds (exact squared distances to its embedding neighbours) sorted ascending.
        std::vector<double> thr(nq * k), thr_w(nq * k);  // exact, and in W's units for the screen
        std::vector<index_t> thr_j(nq * k);
        std::vector<std::size_t> thr_m(nq * k);
        std::vector<std::size_t> hist(nq * (k + 1), 0), cnt(nq * k, 0);
        for (std::size_t q = 0; q < nq; ++q) {
            const std::size_t i = static_cast<std::size_t>(queries[qb + q]);
            std::vector<std::pair<double, std::size_t>> t(k);
            for (std::size_t a = 0; a < k; ++a) {
                const auto j = static_cast<std::size_t>(nbrs[(qb + q) * k + a]);
                t[a] = {squared_distance(X.row(i), X.row(j), D), a};
            }
            std::sort(t.begin(), t.end());
            for (std::size_t a = 0; a < k; ++a) {
                thr[q * k + a] = t[a].first;
                thr_w[q * k + a] = t[a].first * s2;
                thr_m[q * k + a] = t[a].second;
                thr_j[q * k + a] = nbrs[(qb + q) * k + t[a].second];
            }
        }
        RowMatF dots;
        for (std::size_t rb = 0; rb < N; rb += RC) {
            const std::size_t re = std::min(N, rb + RC), nr = re - rb;
            dots.noalias() = Q * Xall.middleRows(static_cast<Eigen::Index>(rb), static_cast<Eigen::Index>(nr)).transpose();
            for (std::size_t q = 0; q < nq; ++q) {
                const std::size_t i = static_cast<std::size_t>(queries[qb + q]);
                const double ni = nrm[i], si = std::sqrt(ni);
                const double* t = thr.data() + q * k;
                const double* tw = thr_w.data() + q * k;
                const double tmax = tw[k - 1];
                std::size_t* h = hist.data() + q * (k + 1);
                const float* drow = dots.data() + q * nr;
                for (std::size_t l = rb; l < re; ++l) {
                    if (l == i) continue;
                    const double a = ni + nrm[l] - 2.0 * static_cast<double>(drow[l - rb]);
                    // GEMM rounding, plus W's own rounding of the exact (x - mean) * s (one half-ulp per value,
                    // at most 2^-23 (|w_i| + |w_l|)^2 <= 2^-22 (|w_i|^2 + |w_l|^2) on the squared distance)
                    const double band = gamma * si * std::sqrt(nrm[l]) + 2.5e-7 * (ni + nrm[l]) + 1e-300;
                    const double lo = a - band;
                    if (lo > tmax) continue;  // certainly farther than every threshold
                    const double hi = a + band;
                    const std::size_t P = static_cast<std::size_t>(std::upper_bound(tw, tw + k, hi) - tw);
                    const std::size_t Qi = static_cast<std::size_t>(std::lower_bound(tw, tw + k, lo) - tw);
                    h[P]++;  // certainly closer than thresholds P..k-1
                    if (Qi < P) {
                        const double e = squared_distance(X.row(i), X.row(l), D);
                        for (std::size_t s = Qi; s < P; ++s)
                            if (e < t[s] || (e == t[s] && static_cast<index_t>(l) < thr_j[q * k + s]))
                                cnt[q * k + s]++;
                    }
                }
            }
        }
        for (std::size_t q = 0; q < nq; ++q) {
            std::size_t below = 0;
            for (std::size_t s = 0; s < k; ++s) {
                below += hist[q * (k + 1) + s];
                ranks[(qb + q) * k + thr_m[q * k + s]] = 1 + below + cnt[q * k + s];
            }
        }
    });
    return ranks;
}

} // namespace detail

namespace {

using detail::embedding_neighbors;
using detail::high_dim_ranks;

struct RankSummary {
    double recall;
    double trust;
};

RankSummary rank_summary(const std::vector<std::size_t>& ranks, std::size_t m, std::size_t n, std::size_t k) {
    double hits = 0, penalty = 0;
    for (std::size_t r : ranks) {
        if (r <= k) hits += 1;
        else penalty += static_cast<double>(r - k);
    }
    const double kd = static_cast<double>(k), nd = static_cast<double>(n), md = static_cast<double>(m);
    return {hits / (md * kd), 1.0 - 2.0 / (md * kd * (2.0 * nd - 3.0 * kd - 1.0)) * penalty};
}

void check_trust_k(std::size_t k, std::size_t n) {
    check_k(k, n, "trustworthiness");
    require(2 * k < n, "trustworthiness: k = " + std::to_string(k) + " must be below n_samples / 2 = " +
                           std::to_string(n / 2) + " (scikit-learn's requirement)");
}

std::vector<double> average_ranks(const std::vector<double>& v) {
    const std::size_t n = v.size();
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
    std::vector<double> r(n);
    for (std::size_t s = 0; s < n;) {
        std::size_t e = s + 1;
        while (e < n && v[order[e]] == v[order[s]]) ++e;
        const double avg = 0.5 * static_cast<double>(s + e - 1) + 1.0;
        for (std::size_t t = s; t < e; ++t) r[order[t]] = avg;
        s = e;
    }
    return r;
}

} // namespace

double knn_recall(const KnnGraph& high, MatrixView<double> Y, std::size_t k, int n_threads) {
    require(n_threads >= 1, "knn_recall: n_threads must be >= 1");
    require(Y.data != nullptr && Y.rows > 0 && Y.cols > 0, "knn_recall: the embedding is empty");
    require(high.n_points == Y.rows && high.n_reference == Y.rows,
            "knn_recall: the neighbour graph covers " + std::to_string(high.n_points) + " points (indexing " +
                std::to_string(high.n_reference) + ") but the embedding has " + std::to_string(Y.rows) + " rows");
    check_k(k, Y.rows, "knn_recall");
    require(high.k >= k, "knn_recall: the neighbour graph has only k = " + std::to_string(high.k) +
                             " neighbours per point, fewer than the requested " + std::to_string(k));
    high.validate("knn_recall: neighbour graph");
    require_finite(Y, "knn_recall: embedding");
    std::vector<index_t> all(Y.rows);
    std::iota(all.begin(), all.end(), 0);
    const std::vector<index_t> low = embedding_neighbors(Y, all, k, n_threads);
    const double hits = fixed_block_sum(n_threads, Y.rows, [&](std::size_t b, std::size_t e) {
        double h = 0;
        std::vector<index_t> a(k), c(k);
        for (std::size_t i = b; i < e; ++i) {
            std::copy(high.neighbors(i), high.neighbors(i) + k, a.begin());
            std::copy(low.begin() + static_cast<std::ptrdiff_t>(i * k),
                      low.begin() + static_cast<std::ptrdiff_t>((i + 1) * k), c.begin());
            std::sort(a.begin(), a.end());
            std::sort(c.begin(), c.end());
            std::size_t p = 0, q = 0;
            while (p < k && q < k) {
                if (a[p] == c[q]) {
                    h += 1;
                    ++p;
                    ++q;
                } else if (a[p] < c[q]) {
                    ++p;
                } else {
                    ++q;
                }
            }
        }
        return h;
    });
    return hits / (static_cast<double>(Y.rows) * static_cast<double>(k));
}

double knn_recall(MatrixView<float> X, MatrixView<double> Y, std::size_t k, int n_threads, std::size_t max_points,
                  std::uint64_t seed) {
    require(n_threads >= 1, "knn_recall: n_threads must be >= 1");
    check_data(X, Y, "knn_recall");
    check_k(k, X.rows, "knn_recall");
    const auto q = query_subset(X.rows, max_points, seed);
    const auto ranks = high_dim_ranks(X, q, embedding_neighbors(Y, q, k, n_threads), k, n_threads);
    return rank_summary(ranks, q.size(), X.rows, k).recall;
}

double trustworthiness(MatrixView<float> X, MatrixView<double> Y, std::size_t k, int n_threads,
                       std::size_t max_points, std::uint64_t seed) {
    require(n_threads >= 1, "trustworthiness: n_threads must be >= 1");
    check_data(X, Y, "trustworthiness");
    check_trust_k(k, X.rows);
    const auto q = query_subset(X.rows, max_points, seed);
    const auto ranks = high_dim_ranks(X, q, embedding_neighbors(Y, q, k, n_threads), k, n_threads);
    return rank_summary(ranks, q.size(), X.rows, k).trust;
}

double knn_accuracy(MatrixView<double> Y, const std::vector<std::int64_t>& labels, std::size_t k, int n_threads) {
    require(n_threads >= 1, "knn_accuracy: n_threads must be >= 1");
    require(Y.data != nullptr && Y.rows > 0 && Y.cols > 0, "knn_accuracy: the embedding is empty");
    require(labels.size() == Y.rows, "knn_accuracy: " + std::to_string(labels.size()) + " labels for " +
                                         std::to_string(Y.rows) + " points");
    check_k(k, Y.rows, "knn_accuracy");
    require_finite(Y, "knn_accuracy: embedding");
    std::vector<index_t> all(Y.rows);
    std::iota(all.begin(), all.end(), 0);
    const std::vector<index_t> nb = embedding_neighbors(Y, all, k, n_threads);
    const double correct = fixed_block_sum(n_threads, Y.rows, [&](std::size_t b, std::size_t e) {
        double c = 0;
        std::vector<std::int64_t> lab(k);
        for (std::size_t i = b; i < e; ++i) {
            for (std::size_t a = 0; a < k; ++a) lab[a] = labels[static_cast<std::size_t>(nb[i * k + a])];
            const std::int64_t best = detail::majority_label(lab.data(), k);
            if (best == labels[i]) c += 1;
        }
        return c;
    });
    return correct / static_cast<double>(Y.rows);
}

double distance_spearman(MatrixView<float> X, MatrixView<double> Y, std::size_t n_pairs, std::uint64_t seed,
                         int n_threads) {
    require(n_threads >= 1, "distance_spearman: n_threads must be >= 1");
    check_data(X, Y, "distance_spearman");
    require(X.rows >= 2, "distance_spearman: need at least 2 points");
    require(n_pairs >= 2, "distance_spearman: n_pairs must be at least 2");
    const std::size_t N = X.rows;
    constexpr std::size_t B = 4096;
    std::vector<double> dx(n_pairs), dy(n_pairs);
    parallel_for(n_threads, (n_pairs + B - 1) / B, [&](std::size_t blk) {
        Rng rng(seed, kPairStreams + blk);
        for (std::size_t p = blk * B; p < std::min(n_pairs, (blk + 1) * B); ++p) {
            const std::size_t i = rng.below(N);
            std::size_t j = rng.below(N - 1);
            if (j >= i) ++j;
            dx[p] = std::sqrt(squared_distance(X.row(i), X.row(j), X.cols));
            dy[p] = std::sqrt(squared_distance(Y.row(i), Y.row(j), Y.cols));
        }
    });
    const std::vector<double> rx = average_ranks(dx), ry = average_ranks(dy);
    const double mean = 0.5 * (static_cast<double>(n_pairs) + 1.0);  // mean of average ranks
    double sxy = 0, sxx = 0, syy = 0;
    for (std::size_t p = 0; p < n_pairs; ++p) {
        const double a = rx[p] - mean, b = ry[p] - mean;
        sxy += a * b;
        sxx += a * a;
        syy += b * b;
    }
    require(sxx > 0 && syy > 0, "distance_spearman: all sampled distances are equal in the data or the embedding; "
                                "the correlation is undefined");
    return sxy / std::sqrt(sxx * syy);
}

double kl_divergence_exact(const CsrMatrix<double>& P, MatrixView<double> Y, double dof, int n_threads) {
    require(n_threads >= 1, "kl_divergence_exact: n_threads must be >= 1");
    require(std::isfinite(dof) && dof > 0.0, "kl_divergence_exact: dof must be positive and finite");
    require(Y.data != nullptr && Y.rows >= 2 && Y.cols > 0, "kl_divergence_exact: need an embedding of >= 2 points");
    require(P.n_rows == Y.rows && P.n_cols == Y.rows,
            "kl_divergence_exact: P is " + std::to_string(P.n_rows) + " x " + std::to_string(P.n_cols) +
                " but the embedding has " + std::to_string(Y.rows) + " points");
    P.validate("kl_divergence_exact: P");
    require_finite(Y, "kl_divergence_exact: embedding");
    for (std::size_t i = 0; i < P.n_rows; ++i)
        for (offset_t p = P.indptr[i]; p < P.indptr[i + 1]; ++p) {
            const double v = P.values[static_cast<std::size_t>(p)];
            require_lazy(std::isfinite(v) && v >= 0.0, [&] { return std::string("kl_divergence_exact: P has a negative or non-finite entry in row " +
                                                      std::to_string(i)); });
            require(static_cast<std::size_t>(P.indices[static_cast<std::size_t>(p)]) != i || v == 0.0,
                    "kl_divergence_exact: P has a non-zero diagonal entry in row " + std::to_string(i));
        }
    const double S = P.sum();
    require(S > 0.0, "kl_divergence_exact: P sums to zero");
    // The KL of the normalised P/S from the core's parts: Z by the exact estimator, Σ p log w by the attraction's sum
    // (KL = (Σ p log p − Σ p log w)/S − log S + log Z).
    const OutputKernel kernel = StudentTKernel(dof);
    std::vector<double> forces(Y.rows * Y.cols);
    const double Z = make_exact_repulsion(n_threads)->compute(Y, kernel, forces.data());
    return (sum_p_log_p(P) - sum_p_log_w(P, Y, kernel, n_threads)) / S - std::log(S) + std::log(Z);
}

std::string QualityReport::to_string() const {
    char buf[256];
    std::string s;
    std::snprintf(buf, sizeof buf, "knn_recall@%zu: %.4f\ntrustworthiness@%zu: %.4f\ndistance_spearman: %.4f",
                  k_recall, knn_recall, k_trust, trustworthiness, distance_spearman);
    s += buf;
    if (knn_accuracy) {
        std::snprintf(buf, sizeof buf, "\nknn_accuracy@%zu: %.4f", k_accuracy, *knn_accuracy);
        s += buf;
    }
    if (kl) {
        std::snprintf(buf, sizeof buf, "\nkl_divergence: %.4f", *kl);
        s += buf;
    }
    if (n_queries < n_points) {
        std::snprintf(buf, sizeof buf, "\n(recall and trustworthiness on %zu of %zu points)", n_queries, n_points);
        s += buf;
    }
    return s;
}

QualityReport evaluate(MatrixView<float> X, MatrixView<double> Y, const std::vector<std::int64_t>* labels,
                       const CsrMatrix<double>* P, const QualityOptions& o) {
    require(o.n_threads >= 1, "evaluate: n_threads must be >= 1");
    check_data(X, Y, "evaluate");
    check_k(o.k_recall, X.rows, "evaluate: k_recall");
    check_trust_k(o.k_trust, X.rows);
    if (labels) {
        require(labels->size() == X.rows, "evaluate: " + std::to_string(labels->size()) + " labels for " +
                                              std::to_string(X.rows) + " points");
        check_k(o.k_accuracy, X.rows, "evaluate: k_accuracy");
    }
    QualityReport r;
    r.n_points = X.rows;
    r.k_recall = o.k_recall;
    r.k_trust = o.k_trust;
    r.k_accuracy = o.k_accuracy;
    const auto q = query_subset(X.rows, o.max_points, o.seed);
    r.n_queries = q.size();
    const std::size_t kmax = std::max(o.k_recall, o.k_trust);
    if (o.k_recall == o.k_trust) {
        const auto ranks = high_dim_ranks(X, q, embedding_neighbors(Y, q, kmax, o.n_threads), kmax, o.n_threads);
        const RankSummary s = rank_summary(ranks, q.size(), X.rows, kmax);
        r.knn_recall = s.recall;
        r.trustworthiness = s.trust;
    } else {
        const auto rr = high_dim_ranks(X, q, embedding_neighbors(Y, q, o.k_recall, o.n_threads), o.k_recall,
                                       o.n_threads);
        r.knn_recall = rank_summary(rr, q.size(), X.rows, o.k_recall).recall;
        const auto rt = high_dim_ranks(X, q, embedding_neighbors(Y, q, o.k_trust, o.n_threads), o.k_trust,
                                       o.n_threads);
        r.trustworthiness = rank_summary(rt, q.size(), X.rows, o.k_trust).trust;
    }
    r.distance_spearman = distance_spearman(X, Y, o.n_pairs, o.seed, o.n_threads);
    if (labels) r.knn_accuracy = knn_accuracy(Y, *labels, o.k_accuracy, o.n_threads);
    if (P) r.kl = kl_divergence_exact(*P, Y, o.dof, o.n_threads);
    return r;
}

} // namespace nembed
