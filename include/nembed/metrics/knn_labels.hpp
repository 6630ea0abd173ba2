#pragma once
/// @file knn_labels.hpp
/// TorchDR's k-NN label accuracy (`torchdr.eval.knn_label_accuracy`): for each point, the fraction of its k nearest
/// neighbours that carry its label, averaged over points. This is not nembed's `knn_accuracy` (quality.hpp), which
/// scores the majority vote of the k neighbours (right or wrong per point); both read the same exact neighbours.
///
/// Neighbours: Euclidean (TorchDR's default metric; "sqeuclidean" ranks the same), exact, ties to the smaller index
/// (TorchDR's `topk` leaves ties unspecified). exclude_self = true (TorchDR's default) excludes the point itself;
/// exclude_self = false counts it as its own nearest neighbour, as TorchDR's k-NN without `exclude_diag` does, so
/// the neighbours are the point and its k - 1 nearest others.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "nembed/core/matrix.hpp"

namespace nembed {

/// Per-point fractions (TorchDR's return_per_sample = true). labels.size() == N, 1 <= k < N; InvalidArgument
/// naming the parameter otherwise.
std::vector<double> knn_label_accuracy_per_sample(MatrixView<double> X, const std::vector<std::int64_t>& labels,
                                                  std::size_t k = 10, bool exclude_self = true, int n_threads = 1);

/// Their mean (matching neighbours / (N k), one exact division).
double knn_label_accuracy(MatrixView<double> X, const std::vector<std::int64_t>& labels, std::size_t k = 10,
                          bool exclude_self = true, int n_threads = 1);

} // namespace nembed
