// Held-out points scored against a reference map (see reference_quality.hpp).
#include "nembed/metrics/reference_quality.hpp"

#include <algorithm>
#include <string>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/neighbors/knn.hpp"
#include "neighbor_ranks.hpp"

namespace nembed {

ReferenceQuality evaluate_against_reference(MatrixView<float> X_ref, MatrixView<double> Y_ref, MatrixView<float> X,
                                            MatrixView<double> Y, std::size_t k,
                                            const std::vector<std::int64_t>* ref_labels,
                                            const std::vector<std::int64_t>* labels, int n_threads) {
    const std::string w = "reference evaluation: ";
    require(n_threads >= 1, w + "n_threads must be >= 1");
    require(X_ref.data != nullptr && X_ref.rows > 0 && Y_ref.data != nullptr && Y_ref.rows > 0,
            w + "the reference data or embedding is empty");
    require(X.data != nullptr && X.rows > 0 && Y.data != nullptr && Y.rows > 0, w + "the data or embedding is empty");
    require(X_ref.rows == Y_ref.rows, w + "the reference data has " + std::to_string(X_ref.rows) +
                                          " rows but its embedding " + std::to_string(Y_ref.rows));
    require(X.rows == Y.rows, w + "the data has " + std::to_string(X.rows) + " rows but the embedding " +
                                  std::to_string(Y.rows));
    require(X.cols == X_ref.cols, w + "the data has " + std::to_string(X.cols) + " columns, the reference data " +
                                      std::to_string(X_ref.cols));
    require(Y.cols == Y_ref.cols, w + "the embedding has " + std::to_string(Y.cols) +
                                      " columns, the reference embedding " + std::to_string(Y_ref.cols));
    require(k >= 1 && k <= X_ref.rows, w + "k = " + std::to_string(k) + " must be in [1, " +
                                           std::to_string(X_ref.rows) + "] (the reference points)");
    require((labels == nullptr) == (ref_labels == nullptr), w + "accuracy needs labels for both point sets");
    require(labels == nullptr || labels->size() == X.rows,
            w + std::to_string(labels ? labels->size() : 0) + " labels for " + std::to_string(X.rows) + " points");
    require(ref_labels == nullptr || ref_labels->size() == X_ref.rows,
            w + std::to_string(ref_labels ? ref_labels->size() : 0) + " reference labels for " +
                std::to_string(X_ref.rows) + " reference points");
    require_finite(Y_ref, w + "reference embedding");
    require_finite(Y, w + "embedding");

    KnnOptions ko;
    ko.method = KnnMethod::exact;
    ko.n_threads = n_threads;
    const KnnGraph high = build_knn_index(X_ref, ko)->query(X, k);
    const std::vector<index_t> low = detail::reference_neighbors(Y_ref, Y, k, n_threads);

    ReferenceQuality r;
    r.n_points = X.rows;
    r.n_reference = X_ref.rows;
    r.k = k;
    const double hits = fixed_block_sum(n_threads, X.rows, [&](std::size_t b, std::size_t e) {
        double h = 0;
        std::vector<index_t> a(k), c(k);
        for (std::size_t i = b; i < e; ++i) {
            std::copy_n(high.neighbors(i), k, a.begin());
            std::copy_n(low.begin() + static_cast<std::ptrdiff_t>(i * k), k, c.begin());
            std::sort(a.begin(), a.end());
            std::sort(c.begin(), c.end());
            std::vector<index_t> both;
            std::set_intersection(a.begin(), a.end(), c.begin(), c.end(), std::back_inserter(both));
            h += static_cast<double>(both.size());
        }
        return h;
    });
    r.knn_recall = hits / (static_cast<double>(X.rows) * static_cast<double>(k));
    if (labels) {
        const double right = fixed_block_sum(n_threads, X.rows, [&](std::size_t b, std::size_t e) {
            double c = 0;
            std::vector<std::int64_t> lab(k);
            for (std::size_t i = b; i < e; ++i) {
                for (std::size_t a = 0; a < k; ++a) lab[a] = (*ref_labels)[static_cast<std::size_t>(low[i * k + a])];
                if (detail::majority_label(lab.data(), k) == (*labels)[i]) c += 1;
            }
            return c;
        });
        r.knn_accuracy = right / static_cast<double>(X.rows);
    }
    return r;
}

} // namespace nembed
