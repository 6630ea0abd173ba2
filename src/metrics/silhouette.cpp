// Silhouette coefficients with TorchDR's conventions (see silhouette.hpp).
#include "nembed/metrics/silhouette.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/core/random.hpp"
#include "nembed/core/strings.hpp"
#include "nembed/core/types.hpp"

namespace nembed {

namespace {

constexpr std::uint64_t kSilhouetteSubsetStream = std::uint64_t(7) << 40;

// torch.nan_to_num with its defaults.
double nan_to_num(double v) {
    if (std::isnan(v)) return 0.0;
    if (std::isinf(v)) return v > 0 ? std::numeric_limits<double>::max() : std::numeric_limits<double>::lowest();
    return v;
}

// The coefficients of the points pts[0..n) (indices into X); dist(p, q) takes indices into X.
template <typename Dist>
std::vector<double> coefficients(const std::vector<std::size_t>& pts, const std::vector<std::int64_t>& labels,
                                 const std::vector<double>* weights, Dist&& dist, int n_threads) {
    const std::size_t n = pts.size();
    std::map<std::int64_t, std::size_t> ids;
    for (std::size_t p : pts) ids.emplace(labels[p], 0);
    require(ids.size() >= 2, "silhouette: labels: the silhouette needs at least two clusters, got " +
                                 std::to_string(ids.size()));
    std::size_t next = 0;
    for (auto& kv : ids) kv.second = next++;
    const std::size_t C = ids.size();
    std::vector<std::size_t> cl(n), size(C, 0);
    std::vector<double> w(n, 1.0), W(C, 0.0);
    for (std::size_t a = 0; a < n; ++a) {
        cl[a] = ids[labels[pts[a]]];
        if (weights) w[a] = (*weights)[pts[a]];
        size[cl[a]]++;
        W[cl[a]] += w[a];
    }
    std::vector<double> s(n);
    parallelize(n_threads, n, [&](int, std::size_t b, std::size_t e) {
        std::vector<double> S(C);
        for (std::size_t a = b; a < e; ++a) {
            std::fill(S.begin(), S.end(), 0.0);
            const std::size_t p = pts[a];
            if (weights) {
                for (std::size_t q = 0; q < n; ++q) S[cl[q]] += w[q] * dist(p, pts[q]);
            } else {
                for (std::size_t q = 0; q < n; ++q) S[cl[q]] += dist(p, pts[q]);
            }
            const std::size_t c = cl[a];
            // TorchDR: a lone point's intra-cluster distance is 0; the mean otherwise excludes the point's weight.
            const double A = size[c] > 1 ? S[c] / (weights ? W[c] - w[a] : static_cast<double>(size[c] - 1)) : 0.0;
            double B = std::numeric_limits<double>::infinity();
            for (std::size_t o = 0; o < C; ++o)
                if (o != c) B = std::min(B, S[o] / (weights ? W[o] : static_cast<double>(size[o])));
            s[a] = nan_to_num((B - A) / std::max(A, B));
        }
    });
    return s;
}

void check_inputs(MatrixView<double> X, const std::vector<std::int64_t>& labels, const std::vector<double>* weights,
                  SilhouetteMetric metric) {
    require(X.data != nullptr && X.rows > 0 && X.cols > 0, "silhouette: X is empty");
    require_finite(X, "silhouette: X");
    require(labels.size() == X.rows, "silhouette: labels: " + std::to_string(labels.size()) + " labels for " +
                                         std::to_string(X.rows) + " samples");
    if (weights) {
        require(weights->size() == X.rows, "silhouette: weights: " + std::to_string(weights->size()) +
                                               " weights for " + std::to_string(X.rows) + " samples");
        for (double v : *weights)
            require(std::isfinite(v) && v >= 0, "silhouette: weights must be finite and non-negative");
    }
    if (metric == SilhouetteMetric::precomputed)
        require(X.rows == X.cols, "silhouette: X must be a square matrix with metric = 'precomputed' (got " +
                                      std::to_string(X.rows) + " x " + std::to_string(X.cols) + ")");
}

std::vector<double> coefficients(MatrixView<double> X, const std::vector<std::size_t>& pts,
                                 const std::vector<std::int64_t>& labels, const std::vector<double>* weights,
                                 SilhouetteMetric metric, int n_threads) {
    require(n_threads >= 1, "silhouette: n_threads must be >= 1");
    const std::size_t D = X.cols;
    switch (metric) {
    case SilhouetteMetric::euclidean:
        return coefficients(pts, labels, weights, [&](std::size_t p, std::size_t q) {
            const double *x = X.row(p), *y = X.row(q);
            double s = 0;
            for (std::size_t c = 0; c < D; ++c) s += (x[c] - y[c]) * (x[c] - y[c]);
            return std::sqrt(s);
        }, n_threads);
    case SilhouetteMetric::manhattan:
        return coefficients(pts, labels, weights, [&](std::size_t p, std::size_t q) {
            const double *x = X.row(p), *y = X.row(q);
            double s = 0;
            for (std::size_t c = 0; c < D; ++c) s += std::abs(x[c] - y[c]);
            return s;
        }, n_threads);
    case SilhouetteMetric::hyperbolic: {
        std::vector<double> gap(X.rows);  // 1 - |x|^2
        for (std::size_t p = 0; p < X.rows; ++p) {
            double s = 0;
            for (std::size_t c = 0; c < D; ++c) s += X(p, c) * X(p, c);
            require(s < 1.0, "silhouette: metric 'hyperbolic' needs every row inside the unit ball (row " +
                                 std::to_string(p) + " has squared norm " + std::to_string(s) + ")");
            gap[p] = 1.0 - s;
        }
        return coefficients(pts, labels, weights, [&](std::size_t p, std::size_t q) {
            const double *x = X.row(p), *y = X.row(q);
            double s = 0;
            for (std::size_t c = 0; c < D; ++c) s += (x[c] - y[c]) * (x[c] - y[c]);
            return std::acosh(1.0 + 2.0 * s / (gap[p] * gap[q]));
        }, n_threads);
    }
    case SilhouetteMetric::precomputed:
        return coefficients(pts, labels, weights, [&](std::size_t p, std::size_t q) { return X(p, q); },
                            n_threads);
    }
    throw InvalidArgument("silhouette: unknown metric");
}

} // namespace

SilhouetteMetric parse_silhouette_metric(const std::string& name) {
    const std::string m = to_lower(name);
    if (m == "euclidean") return SilhouetteMetric::euclidean;
    if (m == "manhattan") return SilhouetteMetric::manhattan;
    if (m == "hyperbolic") return SilhouetteMetric::hyperbolic;
    if (m == "precomputed") return SilhouetteMetric::precomputed;
    throw InvalidArgument("silhouette: metric = '" + name +
                          "' must be one of 'euclidean', 'manhattan', 'hyperbolic', 'precomputed'");
}

std::string to_string(SilhouetteMetric metric) {
    switch (metric) {
    case SilhouetteMetric::euclidean: return "euclidean";
    case SilhouetteMetric::manhattan: return "manhattan";
    case SilhouetteMetric::hyperbolic: return "hyperbolic";
    case SilhouetteMetric::precomputed: return "precomputed";
    }
    return "?";
}

std::vector<double> silhouette_samples(MatrixView<double> X, const std::vector<std::int64_t>& labels,
                                       const std::vector<double>* weights, SilhouetteMetric metric, int n_threads) {
    check_inputs(X, labels, weights, metric);
    std::vector<std::size_t> all(X.rows);
    std::iota(all.begin(), all.end(), std::size_t(0));
    return coefficients(X, all, labels, weights, metric, n_threads);
}

double silhouette_score(MatrixView<double> X, const std::vector<std::int64_t>& labels,
                        const std::vector<double>* weights, SilhouetteMetric metric, std::size_t sample_size,
                        std::uint64_t random_state, int n_threads) {
    check_inputs(X, labels, weights, metric);
    require(sample_size <= X.rows, "silhouette_score: sample_size = " + std::to_string(sample_size) +
                                       " exceeds the number of samples " + std::to_string(X.rows));
    std::vector<std::size_t> pts(X.rows);
    std::iota(pts.begin(), pts.end(), std::size_t(0));
    if (sample_size > 0 && sample_size < X.rows) {
        Rng rng(random_state, kSilhouetteSubsetStream);
        for (std::size_t i = 0; i < sample_size; ++i) std::swap(pts[i], pts[i + rng.below(X.rows - i)]);
        pts.resize(sample_size);
        std::sort(pts.begin(), pts.end());
    }
    const std::vector<double> s = coefficients(X, pts, labels, weights, metric, n_threads);
    double sum = 0;
    for (double v : s) sum += v;
    return sum / static_cast<double>(s.size());
}

} // namespace nembed
