#pragma once
/// @file umap_output_metric.hpp
/// UMAP's cross-entropy in a non-Euclidean output space (umap-learn's optimize_layout_generic): for a pair at
/// output distance d (kernel/output_metric.hpp) with gradient ∂d/∂y, w = 1/(1 + a·d^(2b)) (1 at d = 0) and
///
///   attraction: y ← y + rate·clip(c⁺·∂d/∂y),  c⁺ = x·2b(w − 1)/(d + 1e-6)   (−∂(−log w)/∂d, x the exaggeration)
///   repulsion:  y ← y + rate·clip(c⁻·∂d/∂y),  c⁻ = γ·2b·w/(d + 1e-6)          (−∂(−γ log(1 − w))/∂d)
///
/// the 1e-6 being umap-learn's. The edge-epoch plan runs it in place of the squared-distance BCE coefficients
/// (train/edge_epoch_plan.hpp, EdgeEpochPlan::set_output_metric), in fit and transform alike.
#include <cmath>

#include "nembed/kernel/output_metric.hpp"

namespace nembed {

struct UmapOutputMetricLoss {
    OutputMetric metric;
    double a = 1.0, b = 1.0;  ///< the UMAP curve in the output distance: w = 1/(1 + a·d^(2b))

    double w(double d) const { return d > 0 ? 1.0 / (1.0 + a * std::pow(d, 2.0 * b)) : 1.0; }
    double attraction_coeff(double d) const { return 2.0 * b * (w(d) - 1.0) / (d + 1e-6); }
    double repulsion_coeff(double d, double gamma) const { return gamma * 2.0 * b * w(d) / (d + 1e-6); }
    /// −log w and −γ log(1 − w) (the latter clamped at 1 − w >= 1e-12 to stay finite at d = 0)
    double attraction_loss(double d) const { return d > 0 ? std::log1p(a * std::pow(d, 2.0 * b)) : 0.0; }
    double repulsion_loss(double d, double gamma) const {
        const double q = 1.0 - w(d);
        return -gamma * std::log(q > 1e-12 ? q : 1e-12);
    }
};

} // namespace nembed
