#pragma once
/// @file umap_inverse.hpp
/// The per-pair coefficients of umap-learn's inverse_transform layout (optimize_layout_inverse), moving points in
/// data space (Euclidean input metric). For a new point x with edge weight w toward a reference point k (σ_k, ρ_k
/// the fit's smooth_knn_dist calibration of k) and d = ‖x − x_k‖:
///
///   attraction: x ← x + rate·clip(−c⁺·(x − x_k)),  c⁺ = 1/((w σ_k + 1e-6)(d + 1e-6))
///   repulsion:  x ← x + rate·clip(c⁻·(x − x_k)),   c⁻ = γ·v/(((1 − v) σ_k + 1e-6)(d + 1e-6)),
///               v = exp(−max(d − ρ_k, 1e-6)/(σ_k + 1e-6)),
///
/// the factor (x − x_k)/(d + 1e-6) being umap-learn's euclidean_grad. Another input metric with a gradient
/// (kernel/output_metric.hpp: umap-learn's named metrics with gradients, or a caller's function) replaces
/// (x − x_k)/(d + 1e-6) by its ∂d/∂x and d by its distance. The edge-epoch plan runs it
/// (train/edge_epoch_plan.hpp, the transform form: fixed reference, no mirrored attraction).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "nembed/kernel/output_metric.hpp"

namespace nembed {

struct UmapInverseLoss {
    const std::vector<double>* sigma = nullptr;  ///< per reference point (the fit's σ)
    const std::vector<double>* rho = nullptr;    ///< per reference point (the fit's ρ)
    OutputMetric metric;                         ///< the data-space metric (Euclidean: the members below)

    double attraction_coeff(double w, std::size_t k, double d2) const {
        return 1.0 / ((w * (*sigma)[k] + 1e-6) * (std::sqrt(d2) + 1e-6));
    }
    double repulsion_coeff(std::size_t k, double d2, double gamma) const {
        const double d = std::sqrt(d2), s = (*sigma)[k];
        const double v = std::exp(-std::max(d - (*rho)[k], 1e-6) / (s + 1e-6));
        return gamma * v / (((1.0 - v) * s + 1e-6) * (d + 1e-6));
    }
    /// Another metric: the moves are rate·clip(−attraction_scale·∂d/∂x) and rate·clip(repulsion_scale·∂d/∂x).
    double attraction_scale(double w, std::size_t k) const { return 1.0 / (w * (*sigma)[k] + 1e-6); }
    double repulsion_scale(std::size_t k, double dist, double gamma) const {
        const double s = (*sigma)[k];
        const double v = std::exp(-std::max(dist - (*rho)[k], 1e-6) / (s + 1e-6));
        return gamma * v / ((1.0 - v) * s + 1e-6);
    }
};

} // namespace nembed
