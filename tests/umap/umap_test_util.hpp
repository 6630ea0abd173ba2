#pragma once
// Shared by the UMAP / cne tests: the committed Fashion-MNIST subset and quality helpers.
#include <string>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/io/npy.hpp"
#include "nembed/metrics/quality.hpp"
#include "../common/fmnist_subset.hpp"

namespace nembed::testing {

inline Matrix<float> first_rows(const Matrix<float>& X, std::size_t n) {
    return Matrix<float>(n, X.cols(), std::vector<float>(X.data(), X.data() + n * X.cols()));
}

struct Quality {
    double recall = 0, spearman = 0, accuracy = 0;
};
inline Quality quality(const Matrix<float>& X, const Matrix<double>& Y, const std::vector<std::int64_t>& labels) {
    QualityOptions o;
    o.n_threads = 2;
    o.n_pairs = 20000;
    std::vector<std::int64_t> lab(labels.begin(), labels.begin() + static_cast<long>(X.rows()));
    QualityReport r = evaluate(X.view(), Y.view(), &lab, nullptr, o);
    return {r.knn_recall, r.distance_spearman, *r.knn_accuracy};
}

} // namespace nembed::testing
