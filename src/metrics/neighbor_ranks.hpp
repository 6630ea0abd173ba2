#pragma once
// The exact neighbour machinery of quality.cpp, shared with the TorchDR evaluation metrics (knn_labels.cpp,
// neighborhood_preservation.cpp) so that every metric sees the same neighbours. Private to the library.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/core/types.hpp"

namespace nembed::detail {

/// Exact k nearest neighbours of each query point among all rows of Y (self excluded; ties to the smaller index),
/// by increasing distance: queries.size() x k, row-major. Exact double brute force, O(m N d).
std::vector<index_t> embedding_neighbors(MatrixView<double> Y, const std::vector<index_t>& queries, std::size_t k,
                                         int n_threads);

/// Exact k nearest rows of R to each row of Q (nothing excluded; ties to the smaller index), by increasing distance:
/// Q.rows x k, row-major. The same exact double scan as embedding_neighbors.
std::vector<index_t> reference_neighbors(MatrixView<double> R, MatrixView<double> Q, std::size_t k, int n_threads);

/// The k-NN vote: the most frequent of lab[0..k) (listed nearest first), a tie to the tied label that occurs nearest.
std::int64_t majority_label(const std::int64_t* lab, std::size_t k);

/// For each query q and each of its k listed neighbours j = nbrs[q*k + a], the exact high-dimensional rank r(i, j)
/// (1 = nearest; ties to the smaller index; quality.hpp), without an N x N matrix.
std::vector<std::size_t> high_dim_ranks(MatrixView<float> X, const std::vector<index_t>& queries,
                                        const std::vector<index_t>& nbrs, std::size_t k, int n_threads);

} // namespace nembed::detail
