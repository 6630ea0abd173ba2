#pragma once
/// @file umap_kernel.hpp
/// UMAP's output kernel q(d) = 1 / (1 + a·d^(2b)) and umap-learn's per-pair SGD coefficients (contrastive.md §2.3).
///
/// (a, b) are fitted as umap-learn's `find_ab_params` fits them: least squares of 1/(1 + a·x^(2b)) to the target
/// 1 for x < min_dist and exp(−(x − min_dist)/spread) beyond, on 300 points evenly spaced over [0, 3·spread],
/// starting from (1, 1). scipy's curve_fit runs MINPACK's Levenberg–Marquardt; here a Levenberg–Marquardt with an
/// analytic Jacobian converges to the same minimum (agreement ~1e-6, tested against umap-learn at 1e-3).
#include <cmath>

#include "nembed/kernel/kernel.hpp"

namespace nembed {

/// umap-learn's find_ab_params(spread, min_dist). Throws InvalidArgument unless spread > 0 and 0 <= min_dist, and
/// (as umap-learn's constructor demands) min_dist <= spread; throws std::runtime_error if the fit does not converge.
UmapCurve find_ab_params(double spread, double min_dist);

/// (d²)^b in single precision: the SGD's hot spot, and float's relative 1e-7 is far below the noise of sampling
/// (twice as fast as double pow).
inline double umap_pow(double d2, double b) {
    return static_cast<double>(std::pow(static_cast<float>(d2), static_cast<float>(b)));
}

/// q = 1 / (1 + a·(d²)^b).
inline double umap_similarity(double d2, const UmapCurve& c) { return 1.0 / (1.0 + c.a * std::pow(d2, c.b)); }

/// umap-learn's attractive coefficient: the gradient of −log q with respect to y_i is coef·(y_i − y_j), with
/// coef = 2ab·(d²)^(b−1) / (1 + a·(d²)^b); 0 at d² = 0 (umap-learn's convention, avoids 0^(b−1) = ∞).
inline double umap_attraction_coeff(double d2, const UmapCurve& c) {
    if (d2 <= 0.0) return 0.0;
    const double p = umap_pow(d2, c.b);
    return 2.0 * c.a * c.b / (d2 * (1.0 / p + c.a));  // = 2ab·p/(d²(1 + a·p)), finite when p overflows
}

/// umap-learn's repulsive coefficient: the gradient of −γ·log(1 − q) with respect to y_i is −coef·(y_i − y_j),
/// with coef = 2γb / ((0.001 + d²)(1 + a·(d²)^b)); the 0.001 keeps coincident points finite.
inline double umap_repulsion_coeff(double d2, const UmapCurve& c, double gamma = 1.0) {
    return 2.0 * gamma * c.b / ((0.001 + d2) * (1.0 + c.a * umap_pow(d2, c.b)));
}

/// umap-learn's clip of each gradient coordinate to [−4, 4].
inline double umap_clip(double g, double limit = 4.0) { return g > limit ? limit : (g < -limit ? -limit : g); }

} // namespace nembed
