// TorchDR's k-NN label accuracy on nembed's exact neighbours (see knn_labels.hpp).
#include "nembed/metrics/knn_labels.hpp"

#include <numeric>
#include <string>

#include "nembed/core/error.hpp"
#include "nembed/core/types.hpp"
#include "neighbor_ranks.hpp"

namespace nembed {

namespace {

// Matching neighbours of each point.
std::vector<std::size_t> matches(MatrixView<double> X, const std::vector<std::int64_t>& labels, std::size_t k,
                                 bool exclude_self, int n_threads) {
    require(n_threads >= 1, "knn_label_accuracy: n_threads must be >= 1");
    require(X.data != nullptr && X.rows > 0 && X.cols > 0, "knn_label_accuracy: X is empty");
    require(labels.size() == X.rows, "knn_label_accuracy: X and labels must have the same number of samples, got " +
                                         std::to_string(X.rows) + " and " + std::to_string(labels.size()));
    require(k >= 1, "knn_label_accuracy: k must be at least 1");
    require(k < X.rows, "knn_label_accuracy: k (" + std::to_string(k) + ") must be less than the number of samples (" +
                            std::to_string(X.rows) + ")");
    require_finite(X, "knn_label_accuracy: X");
    const std::size_t n = X.rows, others = exclude_self ? k : k - 1;
    std::vector<std::size_t> hits(n, exclude_self ? 0 : 1);  // the point itself matches its own label
    if (others == 0) return hits;
    std::vector<index_t> all(n);
    std::iota(all.begin(), all.end(), index_t(0));
    const std::vector<index_t> nb = detail::embedding_neighbors(X, all, others, n_threads);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t a = 0; a < others; ++a)
            if (labels[static_cast<std::size_t>(nb[i * others + a])] == labels[i]) hits[i]++;
    return hits;
}

} // namespace

std::vector<double> knn_label_accuracy_per_sample(MatrixView<double> X, const std::vector<std::int64_t>& labels,
                                                  std::size_t k, bool exclude_self, int n_threads) {
    const auto hits = matches(X, labels, k, exclude_self, n_threads);
    std::vector<double> out(hits.size());
    for (std::size_t i = 0; i < hits.size(); ++i) out[i] = static_cast<double>(hits[i]) / static_cast<double>(k);
    return out;
}

double knn_label_accuracy(MatrixView<double> X, const std::vector<std::int64_t>& labels, std::size_t k,
                          bool exclude_self, int n_threads) {
    const auto hits = matches(X, labels, k, exclude_self, n_threads);
    const double total = static_cast<double>(std::accumulate(hits.begin(), hits.end(), std::size_t(0)));
    return total / (static_cast<double>(hits.size()) * static_cast<double>(k));
}

} // namespace nembed
