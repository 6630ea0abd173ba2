// umap-learn's output metrics with gradients (kernel/output_metric.hpp).
#include "nembed/kernel/output_metric.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "nembed/core/error.hpp"

namespace nembed {

namespace {
double sign(double v) { return v > 0 ? 1.0 : (v < 0 ? -1.0 : 0.0); }

// cosine of x and y (centred first for correlation): umap-learn's cosine_grad / correlation_grad
double cosine_grad(const double* x, const double* y, std::size_t d, double* grad, bool centre) {
    double mx = 0, my = 0;
    if (centre) {
        for (std::size_t k = 0; k < d; ++k) {
            mx += x[k];
            my += y[k];
        }
        mx /= static_cast<double>(d);
        my /= static_cast<double>(d);
    }
    double dot = 0, nx2 = 0, ny2 = 0;
    for (std::size_t k = 0; k < d; ++k) {
        const double cx = x[k] - mx, cy = y[k] - my;
        dot += cx * cy;
        nx2 += cx * cx;
        ny2 += cy * cy;
    }
    std::fill(grad, grad + d, 0.0);
    if (nx2 == 0.0 && ny2 == 0.0) return 0.0;
    if (nx2 == 0.0 || ny2 == 0.0) return 1.0;
    const double nx = std::sqrt(nx2), ny = std::sqrt(ny2);
    const double inv = 1.0 / (nx * ny), inv3 = 1.0 / (nx2 * nx * ny);
    for (std::size_t k = 0; k < d; ++k) grad[k] = (x[k] - mx) * dot * inv3 - (y[k] - my) * inv;
    return 1.0 - dot * inv;
}
} // namespace

double OutputMetric::distance_grad(const double* x, const double* y, std::size_t d, double* grad) const {
    switch (kind) {
        case OutputMetricKind::euclidean: {
            double s = 0;
            for (std::size_t k = 0; k < d; ++k) s += (x[k] - y[k]) * (x[k] - y[k]);
            const double r = std::sqrt(s);
            for (std::size_t k = 0; k < d; ++k) grad[k] = (x[k] - y[k]) / (1e-6 + r);
            return r;
        }
        case OutputMetricKind::manhattan: {
            double s = 0;
            for (std::size_t k = 0; k < d; ++k) {
                s += std::abs(x[k] - y[k]);
                grad[k] = sign(x[k] - y[k]);
            }
            return s;
        }
        case OutputMetricKind::chebyshev: {
            double r = 0;
            std::size_t at = 0;
            for (std::size_t k = 0; k < d; ++k) {
                const double v = std::abs(x[k] - y[k]);
                if (v > r) {
                    r = v;
                    at = k;
                }
            }
            std::fill(grad, grad + d, 0.0);
            grad[at] = sign(x[at] - y[at]);
            return r;
        }
        case OutputMetricKind::minkowski: {
            double s = 0;
            for (std::size_t k = 0; k < d; ++k) s += std::pow(std::abs(x[k] - y[k]), p);
            std::fill(grad, grad + d, 0.0);
            const double r = std::pow(s, 1.0 / p);
            if (s == 0.0) return r;
            const double inv = std::pow(s, (1.0 - p) / p);
            for (std::size_t k = 0; k < d; ++k)
                grad[k] = std::pow(std::abs(x[k] - y[k]), p - 1.0) * sign(x[k] - y[k]) * inv;
            return r;
        }
        case OutputMetricKind::canberra: {
            double s = 0;
            for (std::size_t k = 0; k < d; ++k) {
                const double den = std::abs(x[k]) + std::abs(y[k]);
                grad[k] = 0;
                if (den > 0) {
                    const double a = std::abs(x[k] - y[k]);
                    s += a / den;
                    grad[k] = sign(x[k] - y[k]) / den - a * sign(x[k]) / (den * den);
                }
            }
            return s;
        }
        case OutputMetricKind::braycurtis: {
            double num = 0, den = 0;
            for (std::size_t k = 0; k < d; ++k) {
                num += std::abs(x[k] - y[k]);
                den += std::abs(x[k] + y[k]);
            }
            if (!(den > 0)) {
                std::fill(grad, grad + d, 0.0);
                return 0.0;
            }
            const double r = num / den;
            for (std::size_t k = 0; k < d; ++k) grad[k] = (sign(x[k] - y[k]) - r) / den;
            return r;
        }
        case OutputMetricKind::cosine: return cosine_grad(x, y, d, grad, false);
        case OutputMetricKind::correlation: return cosine_grad(x, y, d, grad, true);
        case OutputMetricKind::haversine: {
            constexpr double half_pi = std::numbers::pi / 2;
            const double sl = std::sin(0.5 * (x[0] - y[0])), cl = std::cos(0.5 * (x[0] - y[0]));
            const double so = std::sin(0.5 * (x[1] - y[1])), co = std::cos(0.5 * (x[1] - y[1]));
            const double cc = std::cos(x[0] + half_pi) * std::cos(y[0] + half_pi);
            const double a1 = cc * so * so + sl * sl;
            const double r = 2.0 * std::asin(std::sqrt(std::min(std::abs(a1), 1.0)));
            const double den = std::sqrt(std::abs(a1 - 1.0)) * std::sqrt(std::abs(a1)) + 1e-6;
            grad[0] = (sl * cl - std::sin(x[0] + half_pi) * std::cos(y[0] + half_pi) * so * so) / den;
            grad[1] = cc * so * co / den;
            return r;
        }
        case OutputMetricKind::hyperboloid: {
            double nx = 0, ny = 0, dot = 0;
            for (std::size_t k = 0; k < d; ++k) {
                nx += x[k] * x[k];
                ny += y[k] * y[k];
                dot += x[k] * y[k];
            }
            const double s = std::sqrt(1.0 + nx), t = std::sqrt(1.0 + ny);
            double B = s * t - dot;
            if (B <= 1.0) B = 1.0 + 1e-8;
            const double c = 1.0 / (std::sqrt(B - 1.0) * std::sqrt(B + 1.0));
            for (std::size_t k = 0; k < d; ++k) grad[k] = c * (x[k] * t / s - y[k]);
            return std::acosh(B);
        }
        case OutputMetricKind::custom: return custom(x, y, d, grad);
    }
    return 0.0;
}

OutputMetric parse_output_metric(const std::string& name, double p) {
    OutputMetric m;
    m.p = p;
    using K = OutputMetricKind;
    if (name == "euclidean" || name == "l2") m.kind = K::euclidean;
    else if (name == "manhattan" || name == "taxicab" || name == "l1") m.kind = K::manhattan;
    else if (name == "chebyshev" || name == "linfinity" || name == "linfty" || name == "linf") m.kind = K::chebyshev;
    else if (name == "minkowski") m.kind = K::minkowski;
    else if (name == "canberra") m.kind = K::canberra;
    else if (name == "braycurtis") m.kind = K::braycurtis;
    else if (name == "cosine") m.kind = K::cosine;
    else if (name == "correlation") m.kind = K::correlation;
    else if (name == "haversine") m.kind = K::haversine;
    else if (name == "hyperboloid") m.kind = K::hyperboloid;
    else if (name == "seuclidean" || name == "standardised_euclidean" || name == "wminkowski" ||
             name == "weighted_minkowski" || name == "mahalanobis" || name == "hellinger" ||
             name == "softmax_hellinger" || name == "symmetric_kl" || name == "spherical_gaussian_energy" ||
             name == "diagonal_gaussian_energy" || name == "gaussian_energy")
        throw InvalidArgument("output_metric '" + name + "' (one of umap-learn's) is not built by nembed; built: "
                              "euclidean, manhattan, chebyshev, minkowski, canberra, braycurtis, cosine, correlation, "
                              "haversine, hyperboloid");
    else
        throw InvalidArgument("unknown output_metric '" + name + "' (euclidean, manhattan, chebyshev, minkowski, "
                              "canberra, braycurtis, cosine, correlation, haversine, hyperboloid)");
    return m;
}

std::string to_string(const OutputMetric& m) {
    switch (m.kind) {
        case OutputMetricKind::euclidean: return "euclidean";
        case OutputMetricKind::manhattan: return "manhattan";
        case OutputMetricKind::chebyshev: return "chebyshev";
        case OutputMetricKind::minkowski: return "minkowski";
        case OutputMetricKind::canberra: return "canberra";
        case OutputMetricKind::braycurtis: return "braycurtis";
        case OutputMetricKind::cosine: return "cosine";
        case OutputMetricKind::correlation: return "correlation";
        case OutputMetricKind::haversine: return "haversine";
        case OutputMetricKind::hyperboloid: return "hyperboloid";
        case OutputMetricKind::custom: return "custom";
    }
    return "?";
}

void validate(const OutputMetric& m, std::size_t n_components) {
    require(m.kind != OutputMetricKind::custom || static_cast<bool>(m.custom), "output_metric custom: no function");
    require(m.kind != OutputMetricKind::minkowski || (std::isfinite(m.p) && m.p > 0),
            "output_metric minkowski: p must be positive and finite, got " + std::to_string(m.p));
    require(m.kind != OutputMetricKind::haversine || n_components == 2,
            "output_metric haversine is only defined for 2 dimensional embeddings, n_components is " +
                std::to_string(n_components));
}

} // namespace nembed
