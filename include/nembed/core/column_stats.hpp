#pragma once
/// @file column_stats.hpp
/// Column statistics of a data matrix, the same bits for any thread count.
#include <vector>

#include "nembed/core/matrix.hpp"

namespace nembed {

/// Column means of X in double, summed over fixed blocks of rows (independent of n_threads) added in block order.
std::vector<double> column_means(MatrixView<float> X, int n_threads = 1);

} // namespace nembed
