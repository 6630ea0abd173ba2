#pragma once
/// @file tsne_kernel.hpp
/// The t-SNE output kernel with `dof` = α (tsne.md §5):
///   w(d²)      = (1 + d²/α)^−α                       (q_ij ∝ w_ij; α = 1 is the Cauchy kernel)
///   w^((α+1)/α) = (1 + d²/α)^−(α+1) = −dw/d(d²)       (the repulsive force weight)
///   (1 + d²/α)^−1 = w^(1/α)                           (the attractive force weight)
/// α = 1 takes a fast path without pow(). Callers validate α > 0 (these helpers do not check, they sit in hot loops).
#include <cmath>

#include "nembed/kernel/kernel.hpp"

namespace nembed {

/// Migration alias (removed once every caller uses kernel.hpp).
using TsneKernel = StudentTKernel;

/// w = (1 + d²/α)^−α.
inline double tsne_kernel(double d2, double dof) { return TsneKernel(dof).w(d2); }
/// w^((α+1)/α) = (1 + d²/α)^−(α+1).
inline double tsne_force_weight(double d2, double dof) { return TsneKernel(dof).force_weight(d2); }
/// (1 + d²/α)^−1.
inline double tsne_attraction_weight(double d2, double dof) { return 1.0 / (1.0 + d2 / dof); }

} // namespace nembed
