#pragma once
/// @file output_metric.hpp
/// umap-learn's output metrics: the distance between two embedded points in a non-Euclidean output space and its
/// gradient in the first point (docs/dropin.md, "Output metrics"). UMAP's layout in such a space (umap-learn's
/// optimize_layout_generic) is the edge-epoch plan with the loss of loss/umap_output_metric.hpp, which reads the
/// UMAP curve w = 1/(1 + a·d^(2b)) of this distance d (not of the squared Euclidean D of kernel.hpp).
///
/// Each metric is umap-learn 0.5.12's `*_grad` function of umap/distances.py, with its conventions:
///
///   manhattan   Σ|x_k − y_k|,                    ∂ = sign(x_k − y_k)
///   chebyshev   max_k |x_k − y_k|,                ∂ = sign at the (first) largest coordinate, 0 elsewhere
///   minkowski   (Σ|x_k − y_k|^p)^(1/p),           ∂ = |x_k − y_k|^(p−1) sign(x_k − y_k) S^((1−p)/p); 0 at S = 0
///   canberra    Σ |x_k − y_k|/(|x_k| + |y_k|),    true gradient (terms with a zero denominator skipped)
///   braycurtis  Σ|x − y| / Σ|x + y|,              umap-learn's (sign(x − y) − d)/Σ|x + y| (exact where x + y > 0)
///   cosine      1 − x·y/(|x||y|),                 true gradient; 0 (distance 0 or 1) when a norm is 0
///   correlation cosine of the centred vectors,    true gradient (the centring's term sums to 0)
///   haversine   great-circle distance, x = (polar angle, azimuth); d = 2 asin √min(|a|, 1) with
///               a = sin²(Δ₀/2) + sin x₀ sin y₀ sin²(Δ₁/2); ∂ = ∂a/(√|a − 1| √|a| + 1e-6) (2 dimensions only)
///   hyperboloid arccosh(B), B = √(1 + |x|²)√(1 + |y|²) − x·y (at least 1 + 1e-8), ∂ = (x_k t/s − y_k)/√(B² − 1)
///
/// The same functions are umap-learn's gradients of the named input metrics (its named_distances_with_gradients),
/// which inverse_transform follows in data space (methods/umap_inverse.hpp).
///
/// The members do not validate (they sit in inner loops); callers check once with `validate`.
#include <cstddef>
#include <functional>
#include <string>

namespace nembed {

enum class OutputMetricKind {
    euclidean, manhattan, chebyshev, minkowski, canberra, braycurtis, cosine, correlation, haversine, hyperboloid,
    custom  ///< a caller's function (a user's metric with gradient, e.g. a Python callable)
};

struct OutputMetric {
    OutputMetricKind kind = OutputMetricKind::euclidean;
    double p = 2.0;  ///< minkowski's exponent (> 0)
    /// kind == custom: d(x, y) with ∂d/∂x written to grad (x, y, grad of the given dimension)
    std::function<double(const double* x, const double* y, std::size_t d, double* grad)> custom;

    /// d(x, y) for d-vectors, with ∂d/∂x written to grad[0..d).
    double distance_grad(const double* x, const double* y, std::size_t d, double* grad) const;
    bool euclidean() const { return kind == OutputMetricKind::euclidean; }
};

/// umap-learn's names and aliases: euclidean/l2, manhattan/taxicab/l1, chebyshev/linfinity/linfty/linf, minkowski,
/// canberra, braycurtis, cosine, correlation, haversine, hyperboloid. Throws InvalidArgument naming `output_metric`
/// for another name; umap-learn's other gradient metrics (seuclidean, wminkowski, mahalanobis, hellinger, ...) are
/// named as not built by nembed.
OutputMetric parse_output_metric(const std::string& name, double p = 2.0);
std::string to_string(const OutputMetric& m);
/// Throws InvalidArgument for minkowski with p <= 0 or haversine outside 2 dimensions.
void validate(const OutputMetric& m, std::size_t n_components);

} // namespace nembed
