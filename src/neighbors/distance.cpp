#include "nembed/neighbors/distance.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "nembed/core/column_stats.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/log.hpp"
#include "nembed/core/parallel.hpp"

namespace nembed {

double vector_norm(const float* x, std::size_t dim) {
    double s = 0.0;
    for (std::size_t d = 0; d < dim; ++d) s += static_cast<double>(x[d]) * static_cast<double>(x[d]);
    return std::sqrt(s);
}

double point_distance(const float* a, const float* b, std::size_t dim, Metric metric, double norm_a,
                      double norm_b) {
    switch (metric) {
    case Metric::euclidean: {
        double s = 0.0;
        for (std::size_t d = 0; d < dim; ++d) {
            double diff = static_cast<double>(a[d]) - static_cast<double>(b[d]);
            s += diff * diff;
        }
        return std::sqrt(s);
    }
    case Metric::cosine: {
        // umap-learn's convention for zero rows: two zero rows are at distance 0, one at distance 1 (metric.hpp)
        if (norm_a <= 0.0 || norm_b <= 0.0) return norm_a <= 0.0 && norm_b <= 0.0 ? 0.0 : 1.0;
        // 1 - cos = |a/|a| - b/|b||^2 / 2: no cancellation for close points, exactly 0 for equal vectors.
        const double ia = 1.0 / norm_a, ib = 1.0 / norm_b;
        double s = 0.0;
        for (std::size_t d = 0; d < dim; ++d) {
            double diff = static_cast<double>(a[d]) * ia - static_cast<double>(b[d]) * ib;
            s += diff * diff;
        }
        return std::clamp(0.5 * s, 0.0, 2.0);
    }
    case Metric::inner_product: {
        double s = 0.0;
        for (std::size_t d = 0; d < dim; ++d) s += static_cast<double>(a[d]) * static_cast<double>(b[d]);
        return 1.0 - s;
    }
    default:
        break;
    }
    return std::numeric_limits<double>::quiet_NaN();  // the other metrics are MetricEval's (metric.hpp)
}

Matrix<float> normalize_rows(MatrixView<float> x, int n_threads) {
    Matrix<float> out(x.rows, x.cols);
    parallel_for(n_threads, x.rows, [&](std::size_t i) {
        const float* src = x.row(i);
        float* dst = out.row(i);
        double n = vector_norm(src, x.cols);
        double inv = n > 0.0 ? 1.0 / n : 0.0;
        for (std::size_t d = 0; d < x.cols; ++d) dst[d] = static_cast<float>(static_cast<double>(src[d]) * inv);
    });
    return out;
}

SearchTransform::SearchTransform(MatrixView<float> reference, Metric m) : metric(m) {
    if (metric == Metric::cosine) return;
    if (metric == Metric::euclidean) shift = column_means(reference);  // fixed blocks: the same for any thread count
    const double largest = largest_offset(reference, shift);
    if (largest > 0.0) scale = std::ldexp(1.0, -std::ilogb(largest));
}

SearchTransform::SearchTransform(Metric m, std::vector<double> shift_, double largest) : metric(m) {
    if (metric == Metric::cosine) return;
    if (metric == Metric::euclidean) shift = std::move(shift_);
    if (largest > 0.0) scale = std::ldexp(1.0, -std::ilogb(largest));
}

double SearchTransform::largest_offset(MatrixView<float> x, const std::vector<double>& shift) {
    double largest = 0.0;
    for (std::size_t i = 0; i < x.rows; ++i) {
        const float* r = x.row(i);
        for (std::size_t d = 0; d < x.cols; ++d)
            largest = std::max(largest, std::abs(static_cast<double>(r[d]) - (shift.empty() ? 0.0 : shift[d])));
    }
    return largest;
}

Matrix<float> SearchTransform::apply(MatrixView<float> x, int n_threads, std::vector<char>* far) const {
    if (far != nullptr) far->assign(x.rows, 0);
    if (metric == Metric::cosine) {
        // Zero rows are flagged: their float keys (all 0) cannot rank the other zero rows first (distance 0).
        if (far != nullptr)
            for (std::size_t i = 0; i < x.rows; ++i) (*far)[i] = vector_norm(x.row(i), x.cols) > 0.0 ? 0 : 1;
        return normalize_rows(x, n_threads);
    }
    Matrix<float> out(x.rows, x.cols);
    parallel_for(n_threads, x.rows, [&](std::size_t i) {
        const float* src = x.row(i);
        float* dst = out.row(i);
        bool is_far = false;
        for (std::size_t d = 0; d < x.cols; ++d) {
            double v = (static_cast<double>(src[d]) - (shift.empty() ? 0.0 : shift[d])) * scale;
            if (!(std::abs(v) <= far_limit)) {
                is_far = true;
                v = std::copysign(far_limit, v);  // keeps the float keys finite; the row is answered exactly
            }
            dst[d] = static_cast<float>(v);
        }
        if (is_far && far != nullptr) (*far)[i] = 1;
    });
    return out;
}

namespace detail {

void check_knn_data(MatrixView<float> data, const std::string& what) {
    require(data.rows > 0, what + ": the data has no points (0 rows)");
    require(data.cols > 0, what + ": the data has no dimensions (0 columns)");
    require(data.data != nullptr, what + ": the data pointer is null");
    require(data.rows <= static_cast<std::size_t>(std::numeric_limits<index_t>::max()),
            what + ": " + std::to_string(data.rows) + " points exceed the 32-bit index limit (2147483647)");
    require_finite(data, what);
}

void check_self_k(std::size_t k, std::size_t n) {
    require(k >= 1, "k must be at least 1 (got 0)");
    require(k < n, "k = " + std::to_string(k) + " must be less than the number of points (" + std::to_string(n) + ")");
}

void check_query(MatrixView<float> queries, std::size_t k, std::size_t n_reference, std::size_t dim) {
    require(k >= 1, "k must be at least 1 (got 0)");
    require(k <= n_reference, "k = " + std::to_string(k) + " must not exceed the number of reference points (" +
                                  std::to_string(n_reference) + ")");
    require(queries.cols == dim, "query dimension mismatch: queries have " + std::to_string(queries.cols) +
                                     " columns but the index was built on " + std::to_string(dim));
    require(queries.rows == 0 || queries.data != nullptr, "kNN query: the query pointer is null");
    require(queries.rows <= static_cast<std::size_t>(std::numeric_limits<index_t>::max()),
            "kNN query: too many query points for 32-bit indices");
    require_finite(queries, "kNN query");
}

ExactDistance::ExactDistance(MatrixView<float> ref, Metric m, int n_threads) : reference(ref), metric(m) {
    if (metric == Metric::cosine) {
        norms.resize(ref.rows);
        parallel_for(n_threads, ref.rows, [&](std::size_t j) { norms[j] = vector_norm(ref.row(j), ref.cols); });
    }
}

void finish_row(const ExactDistance& dist, const float* query, std::vector<index_t>& candidates, std::size_t k,
                index_t* out_idx, float* out_dist, std::vector<std::pair<double, index_t>>& scratch) {
    const double qn = dist.query_norm(query);
    scratch.clear();
    for (index_t j : candidates) scratch.emplace_back(dist(query, qn, j), j);
    std::sort(scratch.begin(), scratch.end());
    for (std::size_t t = 0; t < k; ++t) {
        out_idx[t] = scratch[t].second;
        out_dist[t] = static_cast<float>(scratch[t].first);
    }
}

void brute_force_row(const ExactDistance& dist, const float* query, index_t exclude, std::size_t k,
                     index_t* out_idx, float* out_dist) {
    const double qn = dist.query_norm(query);
    std::vector<std::pair<double, index_t>> all;
    all.reserve(dist.reference.rows);
    for (std::size_t j = 0; j < dist.reference.rows; ++j) {
        index_t jj = static_cast<index_t>(j);
        if (jj != exclude) all.emplace_back(dist(query, qn, jj), jj);
    }
    require(all.size() >= k, "kNN: fewer reference points than k");
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k), all.end());
    for (std::size_t t = 0; t < k; ++t) {
        out_idx[t] = all[t].second;
        out_dist[t] = static_cast<float>(all[t].first);
    }
}

void warn_negative_distances(const KnnGraph& g) {
    std::size_t n_neg = 0;
    for (float d : g.distances) n_neg += d < 0.0f ? 1 : 0;
    if (n_neg > 0) {
        warn("inner-product kNN: " + std::to_string(n_neg) +
             " distances 1 - <x, y> are negative; affinities need non-negative distances "
             "(scale rows to norm <= 1 or use the cosine metric)");
    }
}

} // namespace detail
} // namespace nembed
