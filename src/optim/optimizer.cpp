// The optimizer concept (optim/optimizer.hpp): the factory, openTSNE's gains rule (optim/gains.hpp) and clipping.
#include "nembed/optim/optimizer.hpp"

#include <cctype>
#include <cmath>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/optim/adam.hpp"
#include "nembed/optim/gains.hpp"
#include "nembed/optim/riemannian_adam.hpp"
#include "nembed/optim/sgd.hpp"
#include "nembed/core/strings.hpp"

namespace nembed {

namespace {
inline int sign(double x) { return (x > 0.0) - (x < 0.0); }
} // namespace

void clip_rows(double* m, std::size_t n, std::size_t d, double limit, int n_threads) {
    parallel_for(n_threads, n, [&](std::size_t i) {
        double* r = m + i * d;
        double s = 0.0;
        for (std::size_t c = 0; c < d; ++c) s += r[c] * r[c];
        const double coeff = limit / (std::sqrt(s) + 1e-6);
        if (coeff < 1.0) {
            for (std::size_t c = 0; c < d; ++c) r[c] *= coeff;
        }
    });
}

void clip_values(double* v, std::size_t n, double limit, int n_threads) {
    parallelize(n_threads, n, [&](int, std::size_t b, std::size_t e) {
        for (std::size_t i = b; i < e; ++i) v[i] = v[i] > limit ? limit : (v[i] < -limit ? -limit : v[i]);
    });
}

void GainsMomentum::step(double* params, const double* grad, std::size_t n, double lr, int n_threads) {
    require(row_size_ >= 1 && n % row_size_ == 0, "GainsMomentum: parameter count is not a multiple of the row size");
    require(gains_.empty() || gains_.size() == n, "GainsMomentum: parameter count changed between steps");
    if (gains_.empty()) {
        gains_.assign(n, 1.0);
        update_.assign(n, 0.0);
    }
    const std::size_t d = row_size_, rows = n / d;
    const double momentum = momentum_, min_gain = min_gain_;
    double* gain = gains_.data();
    double* up = update_.data();
    parallelize(n_threads, rows, [&](int, std::size_t b, std::size_t e) {
        for (std::size_t k = b * d; k < e * d; ++k) {
            if (sign(up[k]) != sign(grad[k])) {
                gain[k] += 0.2;
            } else {
                gain[k] = gain[k] * 0.8 + min_gain;
            }
            up[k] = momentum * up[k] - lr * gain[k] * grad[k];
        }
    });
    if (max_step_norm_) clip_rows(up, rows, d, *max_step_norm_, n_threads);
    parallelize(n_threads, rows, [&](int, std::size_t b, std::size_t e) {
        for (std::size_t k = b * d; k < e * d; ++k) params[k] += up[k];
    });
}

OptimizerOptions::Kind parse_optimizer_kind(const std::string& name) {
    const std::string s = to_lower(name);
    if (s == "gains" || s == "opentsne") return OptimizerOptions::Kind::gains;
    if (s == "sgd") return OptimizerOptions::Kind::sgd;
    if (s == "adam") return OptimizerOptions::Kind::adam;
    if (s == "riemannianadam" || s == "riemannian_adam") return OptimizerOptions::Kind::riemannian_adam;
    throw InvalidArgument("unknown optimizer '" + name + "' (expected gains, sgd, adam or RiemannianAdam)");
}

std::string to_string(OptimizerOptions::Kind k) {
    switch (k) {
        case OptimizerOptions::Kind::gains: return "gains";
        case OptimizerOptions::Kind::sgd: return "sgd";
        case OptimizerOptions::Kind::adam: return "adam";
        case OptimizerOptions::Kind::riemannian_adam: return "RiemannianAdam";
    }
    return "?";
}

void validate(const OptimizerOptions& o) {
    require(std::isfinite(o.momentum) && o.momentum >= 0 && o.momentum < 1,
            "momentum must lie in [0, 1), got " + std::to_string(o.momentum));
    require(std::isfinite(o.weight_decay) && o.weight_decay >= 0,
            "weight_decay must be >= 0, got " + std::to_string(o.weight_decay));
    require(std::isfinite(o.beta1) && o.beta1 >= 0 && o.beta1 < 1, "Adam beta1 must lie in [0, 1)");
    require(std::isfinite(o.beta2) && o.beta2 >= 0 && o.beta2 < 1, "Adam beta2 must lie in [0, 1)");
    require(std::isfinite(o.adam_eps) && o.adam_eps > 0, "Adam eps must be positive");
    require(std::isfinite(o.min_gain) && o.min_gain >= 0, "min_gain must be non-negative, got " +
                                                                  std::to_string(o.min_gain));
    if (o.max_step_norm)
        require(*o.max_step_norm > 0, "max_step_norm must be positive (or none), got " +
                                          std::to_string(*o.max_step_norm));
    require(o.kind != OptimizerOptions::Kind::gains || o.row_size >= 1,
            "the gains optimizer needs the row size (embedding dimension)");
    require(o.kind != OptimizerOptions::Kind::riemannian_adam || o.row_size >= 1,
            "RiemannianAdam needs the row size (embedding dimension)");
    require(std::isfinite(o.curvature) && o.curvature > 0, "curvature must be positive, got " +
                                                               std::to_string(o.curvature));
}

std::unique_ptr<Optimizer> make_optimizer(const OptimizerOptions& o) {
    validate(o);
    switch (o.kind) {
        case OptimizerOptions::Kind::gains:
            return std::make_unique<GainsMomentum>(o.momentum, o.min_gain, o.max_step_norm, o.row_size);
        case OptimizerOptions::Kind::sgd: return std::make_unique<Sgd>(SgdOptions{o.momentum, o.weight_decay});
        case OptimizerOptions::Kind::adam:
            return std::make_unique<Adam>(AdamOptions{o.beta1, o.beta2, o.adam_eps, o.weight_decay});
        case OptimizerOptions::Kind::riemannian_adam:
            return std::make_unique<RiemannianAdam>(RiemannianAdamOptions{
                o.beta1, o.beta2, o.adam_eps, o.weight_decay, o.manifold, o.curvature, o.row_size});
    }
    throw InvalidArgument("unknown optimizer kind");
}

} // namespace nembed
