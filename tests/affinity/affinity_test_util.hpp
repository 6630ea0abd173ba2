#pragma once
// Shared by the affinity tests: small exact kNN graphs built by brute force in double precision.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/core/random.hpp"
#include "nembed/core/sparse.hpp"
#include "nembed/neighbors/knn_graph.hpp"

namespace nembed::testing {

inline Matrix<double> gaussian_data(std::size_t n, std::size_t d, std::uint64_t seed, double scale = 1.0) {
    Matrix<double> x(n, d);
    Rng rng(seed);
    for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = scale * rng.normal();
    return x;
}

/// Exact self kNN graph (self excluded) of the rows of x, or of `queries` against x when given.
inline KnnGraph brute_knn(const Matrix<double>& x, std::size_t k, const Matrix<double>* queries = nullptr) {
    const Matrix<double>& q = queries ? *queries : x;
    KnnGraph g;
    g.n_points = q.rows();
    g.n_reference = x.rows();
    g.k = k;
    for (std::size_t i = 0; i < q.rows(); ++i) {
        std::vector<std::pair<double, index_t>> d;
        for (std::size_t j = 0; j < x.rows(); ++j) {
            if (!queries && i == j) continue;
            double s = 0;
            for (std::size_t t = 0; t < x.cols(); ++t) s += (q(i, t) - x(j, t)) * (q(i, t) - x(j, t));
            d.push_back({std::sqrt(s), static_cast<index_t>(j)});
        }
        std::sort(d.begin(), d.end());
        for (std::size_t j = 0; j < k; ++j) {
            g.indices.push_back(d[j].second);
            g.distances.push_back(static_cast<float>(d[j].first));
        }
    }
    return g;
}

/// Dense copy of a CSR matrix.
inline std::vector<double> dense(const CsrMatrix<double>& P) {
    std::vector<double> D(P.n_rows * P.n_cols, 0.0);
    for (std::size_t i = 0; i < P.n_rows; ++i)
        for (offset_t p = P.indptr[i]; p < P.indptr[i + 1]; ++p) D[i * P.n_cols + P.indices[p]] += P.values[p];
    return D;
}

/// Entropy (nats) of row i of a row-normalised matrix.
inline double row_entropy(const CsrMatrix<double>& P, std::size_t i) {
    double h = 0;
    for (offset_t p = P.indptr[i]; p < P.indptr[i + 1]; ++p)
        if (P.values[p] > 0) h -= P.values[p] * std::log(P.values[p]);
    return h;
}

} // namespace nembed::testing
