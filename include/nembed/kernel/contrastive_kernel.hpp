#pragma once
/// @file contrastive_kernel.hpp
/// cne's output similarities (contrastive.md §1.2): the Cauchy kernel q = 1/(eps + ‖y_i − y_j‖²) on Euclidean
/// distances (eps = 1: t-SNE's kernel; eps = 0: UMAP's implicit 1/d²), and the cosine similarity
/// q = exp(cos(y_i, y_j)/τ) (SimCLR). Both with their derivatives, for the losses in loss/contrastive.hpp.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>

namespace nembed {

/// Which output similarity a contrastive loss uses.
enum class ContrastiveMetric {
    euclidean,  ///< Cauchy kernel 1/(eps + d²) (cne's default)
    cosine      ///< exp(cos/temperature)
};
/// Parses "euclidean" (also "cauchy") or "cosine"; throws InvalidArgument naming the bad value.
ContrastiveMetric parse_contrastive_metric(const std::string& name);
std::string to_string(ContrastiveMetric m);

/// Squared Euclidean distance of two d-vectors.
template <typename T, typename U>
inline double squared_distance(const T* x, const U* y, std::size_t d) {
    double s = 0;
    for (std::size_t k = 0; k < d; ++k) {
        const double t = static_cast<double>(x[k]) - static_cast<double>(y[k]);
        s += t * t;
    }
    return s;
}

/// Cauchy kernel as a function of the squared distance D: q = 1/(eps + D), dq/dD = −q².
struct CauchyKernel {
    double eps = 1.0;
    double value(double D) const { return 1.0 / (eps + D); }
    double derivative(double D) const {
        const double q = value(D);
        return -q * q;
    }
};

/// exp(cos(x, y)/τ). Norms are floored at 1e-12 as torch.nn.functional.normalize does.
struct CosineKernel {
    double temperature = 0.5;
    /// Returns q; when gx / gy are given, adds w·∂q/∂x and w·∂q/∂y to them.
    template <typename T, typename U>
    double value(const T* x, const U* y, std::size_t d, double w = 0.0, double* gx = nullptr,
                 double* gy = nullptr) const {
        double xx = 0, yy = 0, xy = 0;
        for (std::size_t k = 0; k < d; ++k) {
            xx += double(x[k]) * double(x[k]);
            yy += double(y[k]) * double(y[k]);
            xy += double(x[k]) * double(y[k]);
        }
        const double nx = std::max(std::sqrt(xx), 1e-12), ny = std::max(std::sqrt(yy), 1e-12);
        const double c = xy / (nx * ny);
        const double q = std::exp(c / temperature);
        if (gx && gy && w != 0.0) {
            const double s = w * q / temperature;  // dL/dcos
            for (std::size_t k = 0; k < d; ++k) {
                gx[k] += s * (double(y[k]) / (nx * ny) - c * double(x[k]) / (nx * nx));
                gy[k] += s * (double(x[k]) / (nx * ny) - c * double(y[k]) / (ny * ny));
            }
        }
        return q;
    }
};

} // namespace nembed
