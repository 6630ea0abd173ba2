#pragma once
/// @file user.hpp
/// A user-supplied initial embedding, validated.
#include <cstddef>

#include "nembed/core/matrix.hpp"

namespace nembed {

/// Standard deviation of column 0 above which user_init warns (openTSNE's threshold).
inline constexpr double user_init_std_warning = 1e-2;

/// Returns a copy of Y0 after checking it is n_expected x n_components (n_components = 0 accepts any width >= 1)
/// and finite; throws InvalidArgument naming the mismatch or the first non-finite entry. Warns (nembed::warn) when
/// std(Y0[:, 0]) > 1e-2: t-SNE converges poorly from wide starts, so rescale(Y, 1e-4) is suggested. The data are
/// not modified.
Matrix<double> user_init(MatrixView<double> Y0, std::size_t n_expected, std::size_t n_components = 0);

} // namespace nembed
