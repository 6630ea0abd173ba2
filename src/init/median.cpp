// Starting positions of new points from their reference neighbours.
#include "nembed/init/median.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "nembed/core/error.hpp"

namespace nembed {

namespace {
void check(MatrixView<double> reference, const KnnGraph& g, const char* what) {
    const std::string w(what);
    require(reference.data != nullptr && reference.rows > 0 && reference.cols > 0, w + ": the reference is empty");
    require(g.k >= 1, w + ": the neighbour graph has k = 0");
    require(g.n_reference == reference.rows,
            w + ": the neighbour graph indexes " + std::to_string(g.n_reference) + " reference points but the "
                "reference embedding has " + std::to_string(reference.rows) + " rows");
    g.validate(what);
    require_finite(reference, w + ": reference embedding");
}
} // namespace

Matrix<double> median_init(MatrixView<double> reference, const KnnGraph& knn_new) {
    check(reference, knn_new, "median_init");
    const std::size_t k = knn_new.k, d = reference.cols;
    Matrix<double> Y(knn_new.n_points, d);
    std::vector<double> v(k);
    for (std::size_t i = 0; i < knn_new.n_points; ++i) {
        const index_t* nb = knn_new.neighbors(i);
        for (std::size_t c = 0; c < d; ++c) {
            for (std::size_t j = 0; j < k; ++j) v[j] = reference(static_cast<std::size_t>(nb[j]), c);
            const std::size_t h = k / 2;
            std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(h), v.end());
            double med = v[h];
            if (k % 2 == 0) med = 0.5 * (med + *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(h)));
            Y(i, c) = med;
        }
    }
    return Y;
}

Matrix<double> weighted_mean_init(MatrixView<double> reference, const KnnGraph& knn_new) {
    check(reference, knn_new, "weighted_mean_init");
    const std::size_t k = knn_new.k, d = reference.cols;
    Matrix<double> Y(knn_new.n_points, d);
    for (std::size_t i = 0; i < knn_new.n_points; ++i) {
        const index_t* nb = knn_new.neighbors(i);
        const float* dist = knn_new.dists(i);
        const bool exact_hit = dist[0] == 0.0f;  // rows are sorted ascending
        double wsum = 0.0;
        for (std::size_t j = 0; j < k; ++j) {
            double w = exact_hit ? (dist[j] == 0.0f ? 1.0 : 0.0) : 1.0 / static_cast<double>(dist[j]);
            if (w == 0.0) continue;
            wsum += w;
            const double* r = reference.row(static_cast<std::size_t>(nb[j]));
            for (std::size_t c = 0; c < d; ++c) Y(i, c) += w * r[c];
        }
        for (std::size_t c = 0; c < d; ++c) Y(i, c) /= wsum;
    }
    return Y;
}

} // namespace nembed
