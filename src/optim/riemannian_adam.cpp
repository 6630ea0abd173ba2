// TorchDR's RiemannianAdam (optim/riemannian_adam.hpp) on the Poincaré ball (kernel/hyperbolic.hpp).
#include "nembed/optim/riemannian_adam.hpp"

#include <cmath>
#include <string>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/kernel/hyperbolic.hpp"

namespace nembed {

void validate(const RiemannianAdamOptions& o) {
    require(std::isfinite(o.beta1) && o.beta1 >= 0 && o.beta1 < 1, "RiemannianAdam beta1 must lie in [0, 1)");
    require(std::isfinite(o.beta2) && o.beta2 >= 0 && o.beta2 < 1, "RiemannianAdam beta2 must lie in [0, 1)");
    require(std::isfinite(o.eps) && o.eps > 0, "RiemannianAdam eps must be positive");
    require(std::isfinite(o.weight_decay) && o.weight_decay >= 0,
            "weight_decay must be >= 0, got " + std::to_string(o.weight_decay));
    require(std::isfinite(o.curvature) && o.curvature > 0,
            "curvature must be positive, got " + std::to_string(o.curvature));
    require(o.row_size >= 1, "RiemannianAdam needs the row size (embedding dimension)");
}

RiemannianAdam::RiemannianAdam(RiemannianAdamOptions options) : options_(options) { validate(options_); }

void RiemannianAdam::step(double* params, const double* grad, std::size_t n, double lr, int n_threads) {
    const std::size_t d = options_.row_size;
    require(n % d == 0, "RiemannianAdam::step: parameter count is not a multiple of the row size");
    require(m_.empty() || m_.size() == n, "RiemannianAdam::step: parameter count changed between steps");
    const std::size_t rows = n / d;
    if (m_.empty()) {
        m_.assign(n, 0.0);
        v_.assign(rows, 0.0);
    }
    ++k_;
    const auto& o = options_;
    const double t = static_cast<double>(2 * k_ - 1);  // TorchDR counts two steps per call (file comment)
    const double step_size = lr * std::sqrt(1.0 - std::pow(o.beta2, t)) / (1.0 - std::pow(o.beta1, t));
    const bool ball = o.manifold == RiemannianManifold::poincare_ball;
    const double c = o.curvature;
    parallelize(n_threads, rows, [&](int, std::size_t b, std::size_t e) {
        std::vector<double> r(d), u(d), tmp(d), q(d);
        for (std::size_t i = b; i < e; ++i) {
            double* p = params + i * d;
            double* m = m_.data() + i * d;
            const double* g = grad + i * d;
            const double lam = ball ? hyperbolic::lambda(p, d, c) : 1.0;
            const double lam2 = lam * lam;
            for (std::size_t k = 0; k < d; ++k) r[k] = (g[k] + o.weight_decay * p[k]) / lam2;
            double rr = 0.0;
            for (std::size_t k = 0; k < d; ++k) {
                m[k] = m[k] * o.beta1 + (1.0 - o.beta1) * r[k];
                rr += r[k] * r[k];
            }
            v_[i] = v_[i] * o.beta2 + (1.0 - o.beta2) * (lam2 * rr);
            const double denom = std::sqrt(v_[i]) + o.eps;
            for (std::size_t k = 0; k < d; ++k) u[k] = -step_size * (m[k] / denom);
            if (!ball) {
                for (std::size_t k = 0; k < d; ++k) p[k] += u[k];
                continue;
            }
            hyperbolic::expmap(u.data(), p, d, c, tmp.data(), q.data());
            hyperbolic::project(q.data(), d, c);
            hyperbolic::transport(p, q.data(), m, d, c, tmp.data());
            for (std::size_t k = 0; k < d; ++k) p[k] = q[k];
        }
    });
}

} // namespace nembed
