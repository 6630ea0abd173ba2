#pragma once
/// @file knn_graph.hpp
/// The k-nearest-neighbour graph every affinity consumes: for each point its k neighbours (self excluded) sorted
/// by increasing distance. Distances are true metric distances (never squared L2).
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "nembed/core/error.hpp"
#include "nembed/core/types.hpp"

namespace nembed {

struct KnnGraph {
    std::size_t n_points = 0;      ///< number of query points (rows)
    std::size_t k = 0;             ///< neighbours per point
    std::size_t n_reference = 0;   ///< size of the set the indices point into (= n_points for a self graph)
    std::vector<index_t> indices;  ///< n_points * k, row-major
    std::vector<float> distances;  ///< n_points * k, row-major, ascending within a row

    /// A graph of n_points rows of k zero entries (to be filled), its indices pointing into n_reference points.
    static KnnGraph sized(std::size_t n_points, std::size_t k, std::size_t n_reference) {
        KnnGraph g;
        g.n_points = n_points;
        g.k = k;
        g.n_reference = n_reference;
        g.indices.assign(n_points * k, 0);
        g.distances.assign(n_points * k, 0.0f);
        return g;
    }

    const index_t* neighbors(std::size_t i) const { return indices.data() + i * k; }
    const float* dists(std::size_t i) const { return distances.data() + i * k; }

    /// Checks shapes, index range, finiteness, non-negativity and ordering; throws InvalidArgument naming the row.
    void validate(const char* what = "neighbour graph") const {
        const std::string w(what);
        require(indices.size() == n_points * k && distances.size() == n_points * k,
                w + ": indices and distances must both hold n_points * k entries");
        for (std::size_t i = 0; i < n_points; ++i) {
            for (std::size_t j = 0; j < k; ++j) {
                index_t idx = indices[i * k + j];
                float d = distances[i * k + j];
                require_lazy(idx >= 0 && static_cast<std::size_t>(idx) < n_reference, [&] { return
                        w + ": neighbour index " + std::to_string(idx) + " out of range in row " + std::to_string(i); });
                require_lazy(std::isfinite(d) && d >= 0.0f, [&] { return
                        w + ": distances must be finite and non-negative (row " + std::to_string(i) + ")"; });
                require_lazy(j == 0 || distances[i * k + j - 1] <= d, [&] { return
                        w + ": distances must be sorted ascending within each row (row " + std::to_string(i) + ")"; });
            }
        }
    }
};

} // namespace nembed
