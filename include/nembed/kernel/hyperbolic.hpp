#pragma once
/// @file hyperbolic.hpp
/// The Poincaré ball as TorchDR 0.5 uses it (COSNE, RiemannianAdam; docs/torchdr.md "COSNE and TSNEkhorn").
/// The geometry supplies its own squared distance D and ∂D/∂y; output kernels (kernel/kernel.hpp) stay unchanged
/// and read this D (docs/core.md §1).
///
/// Squared geodesic distance, TorchDR's "sqhyperbolic" metric (curvature 1, ball of radius 1), with TorchDR's
/// shift 1e-8 inside the arccosh, so that coincident points have a finite derivative:
///
///   C = ‖a − b‖²,  u = 1 + 2C/((1 − ‖a‖²)(1 − ‖b‖²)) + 1e-8,  D = arccosh(u)²
///   ∂D/∂a = g·[(a − b) + C·a/(1 − ‖a‖²)],  ∂D/∂b = g·[(b − a) + C·b/(1 − ‖b‖²)],
///   g = (dD/du)·4/((1 − ‖a‖²)(1 − ‖b‖²)),  dD/du = 2·arccosh(u)/√(u² − 1).
///
/// u − 1 ≥ 1e-8 is formed directly (never as u − 1 after rounding), so arccosh and √(u² − 1) stay accurate for
/// close points. D(a, 0) is the squared distance to the origin that COSNE's norm term reads.
///
/// The Riemannian operations (geoopt's, as TorchDR's `PoincareBallManifold` with curvature c > 0, ball radius
/// 1/√c) are per point on rows of d values: the conformal factor λ_x = 2/max(1 − c‖x‖², 1e-15), the Riemannian
/// gradient g/λ², the metric λ²⟨u, v⟩, Möbius addition, the exponential map (tanh clamped to ±15), the projection
/// to the ball of radius (1 − 1e-5)/√c (float64's margin) and the parallel transport by gyration.
#include <algorithm>
#include <cmath>
#include <cstddef>

namespace nembed::hyperbolic {

/// TorchDR's shift inside the arccosh of its "sqhyperbolic" metric.
inline constexpr double sqdist_shift = 1e-8;
/// TorchDR's floor on norms and denominators (PoincareBallManifold.min_norm).
inline constexpr double min_norm = 1e-15;
/// TorchDR's margin of the projection for float64 (PoincareBallManifold.eps[float64]).
inline constexpr double proj_eps = 1e-5;

inline double dot(const double* a, const double* b, std::size_t d) {
    double s = 0.0;
    for (std::size_t k = 0; k < d; ++k) s += a[k] * b[k];
    return s;
}
inline double sqdiff(const double* a, const double* b, std::size_t d) {
    double s = 0.0;
    for (std::size_t k = 0; k < d; ++k) {
        const double t = a[k] - b[k];
        s += t * t;
    }
    return s;
}

/// D from C = ‖a − b‖² and the squared norms na, nb (both < 1). C < 0 (rounding) counts as 0, TorchDR's relu.
inline double sqdist_from(double C, double na, double nb) {
    C = std::max(C, 0.0);
    const double x = 2.0 * C / ((1.0 - na) * (1.0 - nb)) + sqdist_shift;  // u − 1
    const double ac = std::log1p(x + std::sqrt(x * (x + 2.0)));            // arccosh(1 + x)
    return ac * ac;
}

/// D and g (see the file comment): ∂D/∂a = g·[(a − b) + C·a/(1 − na)].
inline double sqdist_and_scale(double C, double na, double nb, double& g) {
    C = std::max(C, 0.0);
    const double den = (1.0 - na) * (1.0 - nb);
    const double x = 2.0 * C / den + sqdist_shift;
    const double s = std::sqrt(x * (x + 2.0));  // √(u² − 1)
    const double ac = std::log1p(x + s);
    g = (2.0 * ac / s) * 4.0 / den;
    return ac * ac;
}

/// Squared geodesic distance between two points of the unit ball (d coordinates each).
inline double sqdist(const double* a, const double* b, std::size_t d) {
    return sqdist_from(sqdiff(a, b, d), dot(a, a, d), dot(b, b, d));
}

/// D(a, b) with its gradients in a (ga) and b (gb, may be null).
inline double sqdist_grad(const double* a, const double* b, std::size_t d, double* ga, double* gb) {
    const double na = dot(a, a, d), nb = dot(b, b, d), C = std::max(sqdiff(a, b, d), 0.0);
    double g = 0.0;
    const double D = sqdist_and_scale(C, na, nb, g);
    const double ca = C / (1.0 - na), cb = C / (1.0 - nb);
    for (std::size_t k = 0; k < d; ++k) {
        ga[k] = g * ((a[k] - b[k]) + ca * a[k]);
        if (gb) gb[k] = g * ((b[k] - a[k]) + cb * b[k]);
    }
    return D;
}

/// λ_x = 2/max(1 − c‖x‖², 1e-15).
inline double lambda(const double* x, std::size_t d, double c) {
    return 2.0 / std::max(1.0 - c * dot(x, x, d), min_norm);
}

/// out = x ⊕_c y (out may alias neither x nor y).
inline void mobius_add(const double* x, const double* y, std::size_t d, double c, double* out) {
    const double x2 = dot(x, x, d), y2 = dot(y, y, d), xy = dot(x, y, d);
    const double ax = 1.0 + 2.0 * c * xy + c * y2, ay = 1.0 - c * x2;
    const double den = std::max(1.0 + 2.0 * c * xy + c * c * x2 * y2, min_norm);
    for (std::size_t k = 0; k < d; ++k) out[k] = (ax * x[k] + ay * y[k]) / den;
}

/// out = exp_p(u): p ⊕ tanh(√c·λ_p·‖u‖/2)·u/(√c‖u‖), ‖u‖ floored at 1e-15 and the tanh argument clamped to ±15.
/// `tmp` holds d values of scratch; out may alias neither p, u nor tmp.
inline void expmap(const double* u, const double* p, std::size_t d, double c, double* tmp, double* out) {
    const double sc = std::sqrt(c);
    const double un = std::max(std::sqrt(dot(u, u, d)), min_norm);
    const double t = std::tanh(std::clamp(sc / 2.0 * lambda(p, d, c) * un, -15.0, 15.0));
    for (std::size_t k = 0; k < d; ++k) tmp[k] = t * u[k] / (sc * un);
    mobius_add(p, tmp, d, c, out);
}

/// In place: x = exp_0(x) = tanh(√c‖x‖)·x/(√c‖x‖) (‖x‖ floored at 1e-15, the tanh argument clamped to ±15).
inline void expmap0(double* x, std::size_t d, double c) {
    const double sc = std::sqrt(c);
    const double n = std::max(std::sqrt(dot(x, x, d)), min_norm);
    const double t = std::tanh(std::clamp(sc * n, -15.0, 15.0));
    for (std::size_t k = 0; k < d; ++k) x[k] = t * x[k] / (sc * n);
}

/// In place: points beyond radius (1 − 1e-5)/√c are moved radially onto it. Returns true when x moved.
inline bool project(double* x, std::size_t d, double c) {
    const double n = std::max(std::sqrt(dot(x, x, d)), min_norm);
    const double maxnorm = (1.0 - proj_eps) / std::sqrt(c);
    if (!(n > maxnorm)) return false;
    for (std::size_t k = 0; k < d; ++k) x[k] = x[k] / n * maxnorm;
    return true;
}

/// out = gyr[u, v]w (geoopt's closed form); out may alias w.
inline void gyration(const double* u, const double* v, const double* w, std::size_t d, double c, double* out) {
    const double u2 = dot(u, u, d), v2 = dot(v, v, d), uv = dot(u, v, d), uw = dot(u, w, d), vw = dot(v, w, d);
    const double c2 = c * c;
    const double a = -c2 * uw * v2 + c * vw + 2.0 * c2 * uv * vw;
    const double b = -c2 * vw * u2 - c * uw;
    const double den = std::max(1.0 + 2.0 * c * uv + c2 * u2 * v2, min_norm);
    for (std::size_t k = 0; k < d; ++k) out[k] = w[k] + 2.0 * (a * u[k] + b * v[k]) / den;
}

/// In place: u, a tangent vector at x, transported to y: gyr[y, −x]u·λ_x/λ_y. `tmp` holds d values of scratch.
inline void transport(const double* x, const double* y, double* u, std::size_t d, double c, double* tmp) {
    const double lx = lambda(x, d, c), ly = lambda(y, d, c);
    for (std::size_t k = 0; k < d; ++k) tmp[k] = -x[k];
    gyration(y, tmp, u, d, c, u);
    for (std::size_t k = 0; k < d; ++k) u[k] = u[k] * lx / ly;
}

} // namespace nembed::hyperbolic
