// Supervised UMAP (methods/umap.hpp): the data's fuzzy graph intersected with the target's, as umap-learn's fit(X, y).
#include <cmath>
#include <string>

#include "nembed/core/error.hpp"
#include "nembed/methods/umap.hpp"

namespace nembed {

CsrMatrix<double> umap_supervised_graph(const CsrMatrix<double>& graph, const UmapTarget& target,
                                        std::size_t n_neighbors, int n_threads) {
    const std::size_t n = graph.n_rows;
    require(target.values.size() == n, "target: " + std::to_string(target.values.size()) + " values for " +
                                           std::to_string(n) + " points");
    require(std::isfinite(target.weight) && target.weight >= 0.0 && target.weight <= 1.0,
            "target_weight must lie in [0, 1], got " + std::to_string(target.weight));
    if (target.categorical) {
        std::vector<std::int64_t> labels(n);
        for (std::size_t i = 0; i < n; ++i) {
            const double v = target.values[i];
            require(std::isfinite(v) && v == std::floor(v) && v >= -1.0,
                    "target: categorical labels must be integers >= -1 (-1 = unlabelled), got " + std::to_string(v));
            labels[i] = static_cast<std::int64_t>(v);
        }
        // umap-learn: far_dist = 2.5 / (1 − target_weight), 1e12 (edges across labels removed) at weight 1
        const double far_dist = target.weight < 1.0 ? 2.5 * (1.0 / (1.0 - target.weight)) : 1.0e12;
        return categorical_intersection(graph, labels, 1.0, far_dist, n_threads);
    }
    const std::size_t k_self = target.n_neighbors == 0 ? n_neighbors : target.n_neighbors;
    require(k_self >= 2, "target_n_neighbors must be greater than 1");
    require(k_self <= n, "target_n_neighbors (" + std::to_string(k_self) + ") must not exceed the number of points (" +
                             std::to_string(n) + ")");
    Matrix<float> Y(n, 1);
    for (std::size_t i = 0; i < n; ++i) {
        require(std::isfinite(target.values[i]), "target: values must be finite");
        Y(i, 0) = static_cast<float>(target.values[i]);
    }
    KnnOptions ko;
    ko.method = KnnMethod::exact;
    ko.n_threads = n_threads;
    const KnnGraph tg = find_neighbors(Y.view(), k_self - 1, ko);
    // umap-learn builds the target's set without the set operations (directed memberships, local_connectivity 1)
    FuzzyOptions fo;
    fo.n_threads = n_threads;
    const FuzzyCalibration cal = smooth_knn_distances(tg, fo);
    const CsrMatrix<double> target_graph = fuzzy_memberships(tg, cal, n_threads);
    return reset_local_connectivity(general_simplicial_set_intersection(graph, target_graph, target.weight), false,
                                    n_threads);
}

} // namespace nembed
