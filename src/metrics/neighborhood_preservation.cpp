// TorchDR's K-ary neighbourhood preservation from nembed's exact ranks (see neighborhood_preservation.hpp).
#include "nembed/metrics/neighborhood_preservation.hpp"

#include <numeric>
#include <string>

#include "nembed/core/error.hpp"
#include "nembed/core/types.hpp"
#include "neighbor_ranks.hpp"

namespace nembed {

namespace {

std::vector<std::size_t> overlaps(MatrixView<float> X, MatrixView<double> Z, std::size_t K, int n_threads) {
    require(n_threads >= 1, "neighborhood_preservation: n_threads must be >= 1");
    require(X.data != nullptr && X.rows > 0 && X.cols > 0, "neighborhood_preservation: X is empty");
    require(Z.data != nullptr && Z.rows > 0 && Z.cols > 0, "neighborhood_preservation: Z is empty");
    require(X.rows == Z.rows, "neighborhood_preservation: X and Z must have the same number of samples, got " +
                                  std::to_string(X.rows) + " and " + std::to_string(Z.rows));
    require(K >= 1, "neighborhood_preservation: K must be at least 1, got " + std::to_string(K));
    require(K < X.rows, "neighborhood_preservation: K (" + std::to_string(K) +
                            ") must be less than the number of samples (" + std::to_string(X.rows) + ")");
    require_finite(X, "neighborhood_preservation: X");
    require_finite(Z, "neighborhood_preservation: Z");
    const std::size_t n = X.rows;
    std::vector<index_t> all(n);
    std::iota(all.begin(), all.end(), index_t(0));
    // j is among i's K nearest in X exactly when its exact rank there is <= K.
    const auto ranks = detail::high_dim_ranks(X, all, detail::embedding_neighbors(Z, all, K, n_threads), K, n_threads);
    std::vector<std::size_t> hits(n, 0);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t a = 0; a < K; ++a)
            if (ranks[i * K + a] <= K) hits[i]++;
    return hits;
}

} // namespace

std::vector<double> neighborhood_preservation_per_sample(MatrixView<float> X, MatrixView<double> Z, std::size_t K,
                                                         int n_threads) {
    const auto hits = overlaps(X, Z, K, n_threads);
    std::vector<double> out(hits.size());
    for (std::size_t i = 0; i < hits.size(); ++i) out[i] = static_cast<double>(hits[i]) / static_cast<double>(K);
    return out;
}

double neighborhood_preservation(MatrixView<float> X, MatrixView<double> Z, std::size_t K, int n_threads) {
    const auto hits = overlaps(X, Z, K, n_threads);
    const double total = static_cast<double>(std::accumulate(hits.begin(), hits.end(), std::size_t(0)));
    return total / (static_cast<double>(hits.size()) * static_cast<double>(K));
}

} // namespace nembed
