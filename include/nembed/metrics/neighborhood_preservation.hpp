#pragma once
/// @file neighborhood_preservation.hpp
/// TorchDR's K-ary neighbourhood preservation (`torchdr.eval.neighborhood_preservation`): for each point, the size
/// of the intersection of its K nearest neighbours in the data X and in the embedding Z, divided by K (self
/// excluded in both), averaged over points. This is exactly nembed's `knn_recall` (quality.hpp) on all points: the
/// mean is computed from the same exact ranks (Euclidean, ties to the smaller index) and equals it bit for bit.
#include <cstddef>
#include <vector>

#include "nembed/core/matrix.hpp"

namespace nembed {

/// Per-point overlap / K (TorchDR's return_per_sample = true). X and Z have the same number of rows N;
/// 1 <= K < N. InvalidArgument naming the parameter otherwise.
std::vector<double> neighborhood_preservation_per_sample(MatrixView<float> X, MatrixView<double> Z, std::size_t K,
                                                         int n_threads = 1);

/// The mean over points (total overlap / (N K)); equals knn_recall(X, Z, K).
double neighborhood_preservation(MatrixView<float> X, MatrixView<double> Z, std::size_t K, int n_threads = 1);

} // namespace nembed
