#pragma once
/// @file column_stats.hpp
/// Column statistics of a data matrix, the same bits for any thread count.
#include <vector>

#include "nembed/core/matrix.hpp"

namespace nembed {

/// Column means of X in double, summed over fixed blocks of rows (independent of n_threads) added in block order.
std::vector<double> column_means(MatrixView<float> X, int n_threads = 1);
/// Adds the column sums of X to acc (X.cols values) block by block (2048 rows, in block order), the sums
/// column_means divides by N; a distributed run chains it over ranks (core/row_share.hpp).
void add_column_sums(MatrixView<float> X, std::vector<double>& acc, int n_threads = 1);

} // namespace nembed
