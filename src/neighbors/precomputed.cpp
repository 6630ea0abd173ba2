// Neighbours supplied by the user: a dense distance matrix, or (index, distance) arrays.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/neighbors/distance.hpp"
#include "nembed/neighbors/knn.hpp"

namespace nembed {
namespace {
std::string at(std::size_t i, std::size_t j) { return " at row " + std::to_string(i) + ", column " + std::to_string(j); }
} // namespace

KnnGraph neighbors_from_distance_matrix(MatrixView<double> distances, std::size_t k, int n_threads) {
    const std::size_t n = distances.rows;
    require(n_threads >= 1, "neighbors_from_distance_matrix: n_threads must be >= 1");
    require(n > 0, "distance matrix: no points (0 rows)");
    require(distances.cols == n, "distance matrix must be square, got " + std::to_string(n) + " x " +
                                     std::to_string(distances.cols));
    require(distances.data != nullptr, "distance matrix: the data pointer is null");
    require(n <= static_cast<std::size_t>(std::numeric_limits<index_t>::max()),
            "distance matrix: too many points for 32-bit indices");
    detail::check_self_k(k, n);
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
            if (i == j) continue;  // the diagonal is ignored
            double d = distances(i, j);
            require_lazy(!std::isnan(d), [&] { return std::string("distance matrix: NaN" + at(i, j)); });
            require_lazy(std::isfinite(d), [&] { return std::string("distance matrix: infinite distance" + at(i, j)); });
            require_lazy(d >= 0.0, [&] { return std::string("distance matrix: negative distance " + std::to_string(d) + at(i, j)); });
        }
    }
    KnnGraph g = KnnGraph::sized(n, k, n);
    parallelize(n_threads, n, [&](int, std::size_t b, std::size_t e) {
        std::vector<std::pair<double, index_t>> row;
        row.reserve(n - 1);
        for (std::size_t i = b; i < e; ++i) {
            row.clear();
            for (std::size_t j = 0; j < n; ++j)
                if (j != i) row.emplace_back(distances(i, j), static_cast<index_t>(j));
            std::partial_sort(row.begin(), row.begin() + static_cast<std::ptrdiff_t>(k), row.end());
            for (std::size_t t = 0; t < k; ++t) {
                g.indices[i * k + t] = row[t].second;
                g.distances[i * k + t] = static_cast<float>(row[t].first);
            }
        }
    });
    return g;
}

KnnGraph neighbors_from_arrays(MatrixView<std::int64_t> indices, MatrixView<double> distances,
                               std::size_t n_reference) {
    const std::size_t n = indices.rows, k_in = indices.cols;
    require(n > 0, "neighbour arrays: no rows");
    require(k_in > 0, "neighbour arrays: no neighbours per row (0 columns)");
    require(distances.rows == n && distances.cols == k_in,
            "neighbour arrays: indices are " + std::to_string(n) + " x " + std::to_string(k_in) +
                " but distances are " + std::to_string(distances.rows) + " x " + std::to_string(distances.cols));
    require(indices.data != nullptr && distances.data != nullptr, "neighbour arrays: null data pointer");
    require(n_reference > 0, "neighbour arrays: n_reference must be positive");
    require(n_reference <= static_cast<std::size_t>(std::numeric_limits<index_t>::max()),
            "neighbour arrays: n_reference exceeds the 32-bit index limit");
    const bool self_graph = n_reference == n;

    bool any_self = false;
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < k_in; ++j) {
            std::int64_t idx = indices(i, j);
            double d = distances(i, j);
            require_lazy(idx >= 0 && static_cast<std::size_t>(idx) < n_reference, [&] { return std::string("neighbour arrays: index " + std::to_string(idx) + " out of range [0, " +
                        std::to_string(n_reference) + ")" + at(i, j)); });
            require_lazy(!std::isnan(d), [&] { return std::string("neighbour arrays: NaN distance" + at(i, j)); });
            require_lazy(std::isfinite(d), [&] { return std::string("neighbour arrays: infinite distance" + at(i, j)); });
            require_lazy(d >= 0.0, [&] { return std::string("neighbour arrays: negative distance " + std::to_string(d) + at(i, j)); });
            if (self_graph && static_cast<std::size_t>(idx) == i) any_self = true;
        }
    }
    // If the arrays list points as their own neighbours (as scikit-learn's kneighbors on the training data does),
    // drop the self entry; rows where duplicates crowded self out drop their farthest entry instead.
    const std::size_t k = any_self ? k_in - 1 : k_in;
    require(k >= 1, "neighbour arrays: after dropping each point itself no neighbours remain (k = 1); "
                    "pass at least 2 columns");
    if (self_graph) detail::check_self_k(k, n);

    KnnGraph g;
    g.n_points = n;
    g.k = k;
    g.n_reference = n_reference;
    g.indices.resize(n * k);
    g.distances.resize(n * k);
    std::vector<std::pair<double, index_t>> row;
    std::vector<index_t> seen;
    for (std::size_t i = 0; i < n; ++i) {
        row.clear();
        bool dropped = !any_self;
        for (std::size_t j = 0; j < k_in; ++j) {
            index_t idx = static_cast<index_t>(indices(i, j));
            if (any_self && static_cast<std::size_t>(idx) == i && !dropped) {
                dropped = true;
                continue;
            }
            require_lazy(!(self_graph && static_cast<std::size_t>(idx) == i), [&] { return std::string("neighbour arrays: row " + std::to_string(i) + " lists itself more than once"); });
            row.emplace_back(distances(i, j), idx);
        }
        std::sort(row.begin(), row.end());
        if (!dropped) row.pop_back();  // self crowded out by duplicates: drop the farthest
        seen.clear();
        for (const auto& r : row) seen.push_back(r.second);
        std::sort(seen.begin(), seen.end());
        auto dup = std::adjacent_find(seen.begin(), seen.end());
        require_lazy(dup == seen.end(), [&] { return std::string("neighbour arrays: row " + std::to_string(i) + " lists neighbour " +
                                       (dup == seen.end() ? std::string() : std::to_string(*dup)) + " twice"); });
        for (std::size_t t = 0; t < k; ++t) {
            g.indices[i * k + t] = row[t].second;
            g.distances[i * k + t] = static_cast<float>(row[t].first);
        }
    }
    return g;
}

} // namespace nembed
