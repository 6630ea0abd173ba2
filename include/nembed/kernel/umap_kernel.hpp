#pragma once
/// @file umap_kernel.hpp
/// The fit of UMAP's output kernel w = 1/(1 + a·D^b) (UmapCurve in kernel/kernel.hpp; D the squared distance) to
/// min_dist and spread (contrastive.md §2.3). umap-learn's per-pair SGD coefficients are the BCE loss's UmapCurve
/// specialisation (loss/bce.hpp).
///
/// (a, b) are fitted as umap-learn's `find_ab_params` fits them: least squares of 1/(1 + a·x^(2b)) to the target
/// 1 for x < min_dist and exp(−(x − min_dist)/spread) beyond, on 300 points evenly spaced over [0, 3·spread],
/// starting from (1, 1). scipy's curve_fit runs MINPACK's Levenberg–Marquardt; here a Levenberg–Marquardt with an
/// analytic Jacobian converges to the same minimum (agreement ~1e-6, tested against umap-learn at 1e-3).
#include "nembed/kernel/kernel.hpp"

namespace nembed {

/// umap-learn's find_ab_params(spread, min_dist). Throws InvalidArgument unless spread > 0 and 0 <= min_dist, and
/// (as umap-learn's constructor demands) min_dist <= spread; throws std::runtime_error if the fit does not converge.
UmapCurve find_ab_params(double spread, double min_dist);

} // namespace nembed
