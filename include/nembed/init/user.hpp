#pragma once
/// @file user.hpp
/// A user-supplied initial embedding, validated.
#include <cstddef>
#include <string>

#include "nembed/core/matrix.hpp"

namespace nembed {

/// Standard deviation of column 0 above which user_init warns (openTSNE's threshold).
inline constexpr double user_init_std_warning = 1e-2;

/// Throws InvalidArgument when a column of Y0 (2 or more rows) is constant (max - min <= 1e-12 max |value|), e.g.
/// an all-zero initialisation: t-SNE, UMAP and CNE move points only along differences of positions, so such a start
/// stays collapsed in that direction (all points at one place: before this check nembed returned (0, 0) for every
/// point with exit 0). openTSNE would divide by the zero std when rescaling, umap-learn's jitter is scaled by the
/// zero nearest-neighbour distance; nembed refuses rather than inventing a start. `what` begins the message.
void check_init_spread(MatrixView<double> Y0, const std::string& what);

/// Returns a copy of Y0 after checking it is n_expected x n_components (n_components = 0 accepts any width >= 1),
/// finite and not degenerate (check_init_spread); throws InvalidArgument naming the mismatch, the first non-finite
/// entry or the constant column. Warns (nembed::warn) when
/// std(Y0[:, 0]) > 1e-2: t-SNE converges poorly from wide starts, so rescale(Y, 1e-4) is suggested. The data are
/// not modified.
/// warn_wide: warn above user_init_std_warning (openTSNE's t-SNE starts from the array as is; TorchDR's driver
/// rescales it to init_scaling afterwards and passes false).
Matrix<double> user_init(MatrixView<double> Y0, std::size_t n_expected, std::size_t n_components = 0,
                         bool warn_wide = true);

} // namespace nembed
