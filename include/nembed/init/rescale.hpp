#pragma once
/// @file rescale.hpp
/// openTSNE's initialisation post-processing: rescale so the first coordinate has a small standard deviation (large
/// initial spreads slow t-SNE's convergence), and jitter so exactly coincident starting points can separate.
#include <cstdint>

#include "nembed/core/matrix.hpp"

namespace nembed {

/// Population standard deviation (ddof = 0, as numpy) of column `col` of Y. Throws for an empty Y or a bad column.
double column_std(MatrixView<double> Y, std::size_t col = 0);

/// Divides every column by std(Y[:, 0]) / target_std, so column 0 ends with standard deviation `target_std`
/// (openTSNE: 1e-4; cne: 1). Throws InvalidArgument for an empty Y, non-finite values, target_std <= 0, or a
/// constant column 0 (std 0: nothing to rescale by).
void rescale(Matrix<double>& Y, double target_std = 1e-4);

/// Adds independent N(0, (scale * std(Y[:, 0]))^2) noise to every entry (openTSNE: scale 0.01). Point i draws from
/// Rng(seed, stream i of the jitter family), so the result does not depend on anything but (Y, scale, seed).
/// scale = 0 leaves Y unchanged. Throws for scale < 0 or non-finite, or an empty Y.
void jitter(Matrix<double>& Y, double scale, std::uint64_t seed);

} // namespace nembed
