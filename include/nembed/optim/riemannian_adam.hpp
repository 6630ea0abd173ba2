#pragma once
/// @file riemannian_adam.hpp
/// TorchDR 0.5's `RiemannianAdam` (geoopt's rule; COSNE's optimizer), per point on rows of d coordinates. With p a
/// row, g its Euclidean gradient, λ_p the conformal factor (kernel/hyperbolic.hpp) and c the curvature:
///
///   g  ← g + weight_decay·p
///   r  ← g/λ_p²                                  (Riemannian gradient)
///   m  ← β₁m + (1 − β₁)r                          (one vector per point)
///   v  ← β₂v + (1 − β₂)·λ_p²‖r‖²                  (one scalar per point: the metric's squared norm of r)
///   s  = lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ)
///   p' = proj(exp_p(−s·m/(√v + ε)))               (retraction; proj keeps p' inside the ball)
///   m  ← transport of m from p to p'
///
/// t is TorchDR's count, which its step increments twice per call: the k-th step uses t = 2k − 1 (1, 3, 5, ...),
/// so its bias corrections are those of Adam at odd step numbers; reproduced as is. On the Euclidean manifold
/// (TorchDR's rule for a parameter that is not a ManifoldParameter, e.g. a user-supplied COSNE init) λ = 1,
/// exp_p(u) = p + u, no projection, no transport; v is still one scalar per point.
/// Rows are independent, so results do not depend on the thread count; the state persists across steps.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "nembed/optim/optimizer.hpp"

namespace nembed {

struct RiemannianAdamOptions {
    double beta1 = 0.9;        ///< torch.optim.Adam's betas
    double beta2 = 0.999;
    double eps = 1e-8;
    double weight_decay = 0.0;
    RiemannianManifold manifold = RiemannianManifold::poincare_ball;
    double curvature = 1.0;    ///< c of the ball (radius 1/√c); TorchDR's COSNE: 1
    std::size_t row_size = 0;  ///< coordinates per point (the embedding dimension); >= 1
};
/// Throws InvalidArgument naming the bad field.
void validate(const RiemannianAdamOptions& options);

class RiemannianAdam final : public Optimizer {
public:
    explicit RiemannianAdam(RiemannianAdamOptions options);
    /// One step on n = points × row_size parameters. Throws InvalidArgument if n is not a multiple of the row size
    /// or changes between steps.
    void step(double* params, const double* grad, std::size_t n, double lr, int n_threads = 1) override;
    const RiemannianAdamOptions& options() const { return options_; }
    /// Calls made so far (k); the bias corrections use t = 2k − 1.
    std::int64_t steps() const { return k_; }
    std::string name() const override { return "riemannian_adam"; }
    void reset() override {
        m_.clear();
        v_.clear();
        k_ = 0;
    }

private:
    RiemannianAdamOptions options_;
    std::vector<double> m_;  // first moment, one per parameter
    std::vector<double> v_;  // second moment, one per point
    std::int64_t k_ = 0;
};

} // namespace nembed
