#pragma once
/// @file tsne_kernel.hpp
/// The t-SNE output kernel with `dof` = α (tsne.md §5):
///   w(d²)      = (1 + d²/α)^−α                       (q_ij ∝ w_ij; α = 1 is the Cauchy kernel)
///   w^((α+1)/α) = (1 + d²/α)^−(α+1) = −dw/d(d²)       (the repulsive force weight)
///   (1 + d²/α)^−1 = w^(1/α)                           (the attractive force weight)
/// α = 1 takes a fast path without pow(). Callers validate α > 0 (these helpers do not check, they sit in hot loops).
#include <cmath>

namespace nembed {

/// Evaluates the kernel for one dof; cheap to copy, meant to be built once per call and used in inner loops.
class TsneKernel {
public:
    explicit TsneKernel(double dof) : dof_(dof), inv_dof_(1.0 / dof), cauchy_(dof == 1.0) {}

    double dof() const { return dof_; }
    /// True for α = 1, where every weight is a power of 1/(1 + d²).
    bool cauchy() const { return cauchy_; }

    /// (1 + d²/α)^−1: the attraction weight.
    double base(double d2) const { return 1.0 / (1.0 + d2 * inv_dof_); }
    /// w = (1 + d²/α)^−α.
    double w(double d2) const {
        const double b = base(d2);
        return cauchy_ ? b : std::pow(b, dof_);
    }
    /// w^((α+1)/α) = (1 + d²/α)^−(α+1): the repulsion weight (also −dw/d(d²)).
    double force_weight(double d2) const {
        const double b = base(d2);
        return cauchy_ ? b * b : std::pow(b, dof_) * b;
    }
    /// Both at once (one pow): w and w^((α+1)/α).
    void eval(double d2, double& w_out, double& force_out) const {
        const double b = base(d2);
        w_out = cauchy_ ? b : std::pow(b, dof_);
        force_out = w_out * b;
    }

private:
    double dof_;
    double inv_dof_;
    bool cauchy_;
};

/// w = (1 + d²/α)^−α.
inline double tsne_kernel(double d2, double dof) { return TsneKernel(dof).w(d2); }
/// w^((α+1)/α) = (1 + d²/α)^−(α+1).
inline double tsne_force_weight(double d2, double dof) { return TsneKernel(dof).force_weight(d2); }
/// (1 + d²/α)^−1.
inline double tsne_attraction_weight(double d2, double dof) { return 1.0 / (1.0 + d2 / dof); }

} // namespace nembed
