#pragma once
/// @file kernel.hpp
/// Output kernels: the unnormalised similarity w(D) of two embedded points as a function of their squared distance
/// D = ‖y_i − y_j‖² (docs/core.md §1). Every loss and repulsion estimator is written against this concept, so each
/// kernel exists once in the tree. A kernel K provides
///
///   K.w(D)          w(D) > 0
///   K.log_w(D)      log w(D)
///   K.dlog_w(D)     d log w / dD          (≤ 0 for the decreasing kernels here)
///   K.d2log_w(D)    d² log w / dD²        (sensitivity and Newton-type methods)
///   K.force_weight(D) = −dw/dD = −w·dlog_w (the repulsive force weight of a normalised loss such as t-SNE's KL)
///
/// and the chain rule ∂D/∂y_i = 2(y_i − y_j) gives every gradient. Kernels:
///
///   StudentTKernel{α}   w = (1 + D/α)^−α          t-SNE (α = 1, the Cauchy kernel), heavy tails α < 1
///   CauchyKernel{ε}     w = 1/(ε + D)             cne's Euclidean similarity (ε = 1: t-SNE's; ε = 0: 1/D)
///   UmapCurve{a, b}     w = 1/(1 + a·D^b)          UMAP (a = b = 1: Cauchy); (a, b) fitted in umap_kernel.hpp
///   GaussianKernel{h}   w = exp(−D/h)             SNE
///   CosineKernel{τ}     w = exp(cos/τ) = exp((1 − D/2)/τ) with D between the L2-normalised vectors (cne/SimCLR)
///
/// The geometry seam: every kernel but the cosine one reads Euclidean D; the cosine kernel reads D on the unit
/// sphere (its vector-level `value` normalises and differentiates through the normalisation). A hyperbolic
/// geometry (Poincaré ball, CO-SNE) enters the same way: a D (the squared geodesic distance) with its own ∂D/∂y,
/// the kernels above unchanged.
///
/// Hot loops take the kernel as a template parameter (dispatch once per call through `visit`), and the members are
/// written so that the Student-t kernel with α = 1 costs one division (no pow), as t-SNE's inner loops need.
/// Callers validate parameters once (`validate`); the members do not check, they sit in inner loops.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <type_traits>
#include <variant>

namespace nembed {

/// Squared Euclidean distance of two d-vectors, accumulated in double.
template <typename T, typename U>
inline double squared_distance(const T* x, const U* y, std::size_t d) {
    double s = 0;
    for (std::size_t k = 0; k < d; ++k) {
        const double t = static_cast<double>(x[k]) - static_cast<double>(y[k]);
        s += t * t;
    }
    return s;
}

/// The Student-t kernel with α = 1 (t-SNE's Cauchy kernel, w = 1/(1 + D)) with α known at compile time, so hot
/// loops compile it to one division per pair with no pow and no per-pair branch. StudentTKernel's α = 1 path is
/// this one (bitwise the same numbers).
struct StudentT1Kernel {
    double w(double D) const { return 1.0 / (1.0 + D); }
    double force_weight(double D) const {
        const double q = w(D);
        return q * q;
    }
    void eval(double D, double& w_out, double& force_out) const {
        w_out = w(D);
        force_out = w_out * w_out;
    }
    double log_w(double D) const { return -std::log1p(D); }
    double dlog_w(double D) const { return -w(D); }
    double d2log_w(double D) const {
        const double q = w(D);
        return q * q;
    }
    std::string name() const { return "student_t(dof=1)"; }
};

/// Student-t kernel w = (1 + D/α)^−α, α = dof > 0. With b = (1 + D/α)^−1:
///   log w = α·log b,  dlog_w = −b,  d2log_w = b²/α,  force_weight = w·b = (1 + D/α)^−(α+1).
class StudentTKernel {
public:
    explicit StudentTKernel(double dof = 1.0) : dof_(dof), inv_dof_(1.0 / dof), cauchy_(dof == 1.0) {}
    double dof() const { return dof_; }
    /// α = 1: every weight is a power of 1/(1 + D) (no pow).
    bool cauchy() const { return cauchy_; }

    /// (1 + D/α)^−1: t-SNE's attraction weight (= −dlog_w).
    double base(double D) const { return 1.0 / (1.0 + D * inv_dof_); }
    double w(double D) const {
        if (cauchy_) return StudentT1Kernel{}.w(D);
        return std::pow(base(D), dof_);
    }
    double log_w(double D) const { return -dof_ * std::log1p(D * inv_dof_); }
    double dlog_w(double D) const { return -base(D); }
    double d2log_w(double D) const {
        const double b = base(D);
        return b * b * inv_dof_;
    }
    double force_weight(double D) const {
        if (cauchy_) return StudentT1Kernel{}.force_weight(D);
        const double b = base(D);
        return std::pow(b, dof_) * b;
    }
    /// w and force_weight with one pow.
    void eval(double D, double& w_out, double& force_out) const {
        if (cauchy_) return StudentT1Kernel{}.eval(D, w_out, force_out);
        const double b = base(D);
        w_out = std::pow(b, dof_);
        force_out = w_out * b;
    }
    std::string name() const { return "student_t(dof=" + std::to_string(dof_) + ")"; }

private:
    double dof_;
    double inv_dof_;
    bool cauchy_;
};

/// Cauchy kernel w = 1/(ε + D), ε ≥ 0 (cne's Euclidean similarity):
///   log w = −log(ε + D),  dlog_w = −w,  d2log_w = w²,  force_weight = w².
struct CauchyKernel {
    double eps = 1.0;
    double w(double D) const { return 1.0 / (eps + D); }
    double log_w(double D) const { return -std::log(eps + D); }
    double dlog_w(double D) const { return -w(D); }
    double d2log_w(double D) const {
        const double q = w(D);
        return q * q;
    }
    double force_weight(double D) const {
        const double q = w(D);
        return q * q;
    }
    /// dw/dD = −w² (the form cne's losses use).
    double derivative(double D) const { return -force_weight(D); }
    /// 1/w = ε + D exactly (NEG's and NCE's e = 1/(1 + ξ/w) without a division and its rounding).
    double inv_w(double D) const { return eps + D; }
    std::string name() const { return "cauchy(eps=" + std::to_string(eps) + ")"; }
};

/// UMAP's kernel w = 1/(1 + a·D^b), a, b > 0. With u = a·D^b:
///   log w = −log1p(u),  dlog_w = −(b/D)·u/(1 + u),  d2log_w = (b·u/(D²(1 + u)))·(1 − b/(1 + u)).
/// At D = 0 the derivatives are those of the limit from above for b ≥ 1 and are taken as 0 otherwise (umap-learn's
/// convention: its attraction coefficient is 0 at D = 0).
/// umap-learn's SGD coefficients (float pow, the 0.001 in the repulsion) are the BCE loss's specialisation for this
/// kernel (loss/bce.hpp).
struct UmapCurve {
    double a = 1.5769434602697652;  ///< umap-learn's fit for spread 1, min_dist 0.1
    double b = 0.8950608778515733;

    double w(double D) const { return 1.0 / (1.0 + a * std::pow(D, b)); }
    double log_w(double D) const { return -std::log1p(a * std::pow(D, b)); }
    double dlog_w(double D) const {
        if (D <= 0.0) return b == 1.0 ? -a : 0.0;  // b = 1: the limit −a (w = 1/(1 + aD) is smooth at 0)
        const double u = a * std::pow(D, b);
        return -(b / D) * u / (1.0 + u);
    }
    double d2log_w(double D) const {
        if (D <= 0.0) return b == 1.0 ? a * a : 0.0;
        const double u = a * std::pow(D, b);
        return (b * u / (D * D * (1.0 + u))) * (1.0 - b / (1.0 + u));
    }
    double force_weight(double D) const { return -w(D) * dlog_w(D); }
    std::string name() const { return "umap(a=" + std::to_string(a) + ", b=" + std::to_string(b) + ")"; }
};

/// umap-learn's clip of each gradient coordinate to [−limit, limit] (clipping by value).
inline double clip_value(double g, double limit = 4.0) { return g > limit ? limit : (g < -limit ? -limit : g); }

/// Gaussian kernel w = exp(−D/h), bandwidth h > 0 (SNE's output kernel with h = 1):
///   log w = −D/h,  dlog_w = −1/h,  d2log_w = 0,  force_weight = w/h.
struct GaussianKernel {
    double bandwidth = 1.0;
    double w(double D) const { return std::exp(-D / bandwidth); }
    double log_w(double D) const { return -D / bandwidth; }
    double dlog_w(double) const { return -1.0 / bandwidth; }
    double d2log_w(double) const { return 0.0; }
    double force_weight(double D) const { return w(D) / bandwidth; }
    std::string name() const { return "gaussian(bandwidth=" + std::to_string(bandwidth) + ")"; }
};

/// exp(cos(x, y)/τ) (SimCLR, cne's cosine similarity). On the unit sphere cos = 1 − D/2, so as a kernel of D:
///   log w = (1 − D/2)/τ,  dlog_w = −1/(2τ),  d2log_w = 0,  force_weight = w/(2τ).
/// `value` evaluates it on raw vectors, normalising them (norms floored at 1e-12 as torch.nn.functional.normalize
/// does) and differentiating through the normalisation.
struct CosineKernel {
    double temperature = 0.5;
    double w(double D) const { return std::exp((1.0 - 0.5 * D) / temperature); }
    double log_w(double D) const { return (1.0 - 0.5 * D) / temperature; }
    double dlog_w(double) const { return -0.5 / temperature; }
    double d2log_w(double) const { return 0.0; }
    double force_weight(double D) const { return w(D) * 0.5 / temperature; }
    std::string name() const { return "cosine(temperature=" + std::to_string(temperature) + ")"; }

    /// Returns w for raw vectors x, y; when gx / gy are given, adds c·∂w/∂x and c·∂w/∂y to them.
    template <typename T, typename U>
    double value(const T* x, const U* y, std::size_t d, double c = 0.0, double* gx = nullptr,
                 double* gy = nullptr) const {
        double xx = 0, yy = 0, xy = 0;
        for (std::size_t k = 0; k < d; ++k) {
            xx += double(x[k]) * double(x[k]);
            yy += double(y[k]) * double(y[k]);
            xy += double(x[k]) * double(y[k]);
        }
        const double nx = std::max(std::sqrt(xx), 1e-12), ny = std::max(std::sqrt(yy), 1e-12);
        const double cs = xy / (nx * ny);
        const double q = std::exp(cs / temperature);
        if (gx && gy && c != 0.0) {
            const double s = c * q / temperature;  // dL/dcos
            for (std::size_t k = 0; k < d; ++k) {
                gx[k] += s * (double(y[k]) / (nx * ny) - cs * double(x[k]) / (nx * nx));
                gy[k] += s * (double(x[k]) / (nx * ny) - cs * double(y[k]) / (ny * ny));
            }
        }
        return q;
    }
};

/// Any output kernel, for options structs and run-time choice; hot loops dispatch once with std::visit.
using OutputKernel = std::variant<StudentTKernel, CauchyKernel, UmapCurve, GaussianKernel, CosineKernel>;

/// Calls f(k) once with the concrete kernel type, for hot loops templated on it: t-SNE's kernel (Student-t with
/// α = 1, equally Cauchy with ε = 1) as StudentT1Kernel, every other kernel as the variant's alternative. f is
/// instantiated for every type, so it must compile for all of them (callers refuse unsupported kernels first).
template <typename F>
decltype(auto) visit_kernel(const OutputKernel& kernel, F&& f) {
    return std::visit(
        [&](const auto& k) -> decltype(auto) {
            using K = std::decay_t<decltype(k)>;
            if constexpr (std::is_same_v<K, StudentTKernel>) {
                if (k.cauchy()) return f(StudentT1Kernel{});
            } else if constexpr (std::is_same_v<K, CauchyKernel>) {
                if (k.eps == 1.0) return f(StudentT1Kernel{});
            }
            return f(k);
        },
        kernel);
}

/// Throws InvalidArgument naming the parameter when a kernel's parameters are out of range (α, h, τ, a, b > 0 and
/// finite; ε ≥ 0 and finite).
void validate(const OutputKernel& kernel);
/// "student_t(dof=1)" etc., for messages.
std::string kernel_name(const OutputKernel& kernel);

} // namespace nembed
