// Learning-rate schedules, SGD and Adam (optim/schedule.hpp, sgd.hpp, adam.hpp).
#include <algorithm>
#include <cctype>
#include <cmath>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/optim/adam.hpp"
#include "nembed/optim/schedule.hpp"
#include "nembed/optim/sgd.hpp"
#include "nembed/core/strings.hpp"
#include "../core/isa_clones.hpp"

namespace nembed {

LrAnneal parse_lr_anneal(const std::string& name) {
    const std::string s = to_lower(name);
    if (s == "none" || s == "constant" || s == "false") return LrAnneal::none;
    if (s == "linear" || s == "true") return LrAnneal::linear;
    if (s == "cosine") return LrAnneal::cosine;
    if (s == "umap") return LrAnneal::umap;
    throw InvalidArgument("unknown learning-rate annealing '" + name + "' (expected none, linear, cosine or umap)");
}
std::string to_string(LrAnneal a) {
    switch (a) {
        case LrAnneal::none: return "none";
        case LrAnneal::linear: return "linear";
        case LrAnneal::cosine: return "cosine";
        case LrAnneal::umap: return "umap";
        case LrAnneal::linear_lr: return "LinearLR";
        case LrAnneal::cosine_annealing_lr: return "CosineAnnealingLR";
        case LrAnneal::exponential_lr: return "ExponentialLR";
    }
    return "?";
}

LrAnneal parse_torch_scheduler(const std::string& name) {
    const std::string s = to_lower(name);
    if (s == "none" || s == "constant") return LrAnneal::none;
    if (s == "linearlr") return LrAnneal::linear_lr;
    if (s == "cosineannealinglr") return LrAnneal::cosine_annealing_lr;
    if (s == "exponentiallr") return LrAnneal::exponential_lr;
    throw InvalidArgument("scheduler: '" + name +
                          "' is not supported (supported: none, LinearLR, CosineAnnealingLR, ExponentialLR)");
}

void LrSchedule::validate() const {
    require(std::isfinite(learning_rate) && learning_rate > 0, "learning_rate must be positive");
    switch (anneal) {
        case LrAnneal::linear_lr:
            require(std::isfinite(start_factor) && start_factor > 0 && start_factor <= 1,
                    "LinearLR start_factor must lie in (0, 1], got " + std::to_string(start_factor));
            require(std::isfinite(end_factor) && end_factor >= 0 && end_factor <= 1,
                    "LinearLR end_factor must lie in [0, 1], got " + std::to_string(end_factor));
            require(total_iters >= 1, "LinearLR total_iters must be >= 1, got " + std::to_string(total_iters));
            return;
        case LrAnneal::cosine_annealing_lr:
            require(t_max >= 1, "CosineAnnealingLR T_max must be >= 1, got " + std::to_string(t_max));
            require(std::isfinite(eta_min) && eta_min >= 0,
                    "CosineAnnealingLR eta_min must be >= 0, got " + std::to_string(eta_min));
            return;
        case LrAnneal::exponential_lr:
            require(std::isfinite(gamma) && gamma > 0, "ExponentialLR gamma must be positive, got " +
                                                           std::to_string(gamma));
            return;
        default: break;
    }
    require(std::isfinite(min_factor) && min_factor >= 0, "lr_min_factor must be >= 0");
    require(total_epochs >= 1, "n_epochs must be >= 1");
    require(warmup_epochs >= 0 && warmup_epochs < total_epochs, "warmup_epochs must be in [0, n_epochs)");
    require(std::isfinite(warmup_lr) && warmup_lr >= 0, "warmup_lr must be >= 0");
}

double LrSchedule::at(int epoch) const {
    switch (anneal) {  // torch's schedulers: closed forms in the step, no warm-up
        case LrAnneal::linear_lr:
            return learning_rate * (start_factor + (end_factor - start_factor) *
                                                       static_cast<double>(std::min(epoch, total_iters)) / total_iters);
        case LrAnneal::cosine_annealing_lr:
            return eta_min + (learning_rate - eta_min) * (1.0 + std::cos(3.141592653589793 * epoch / t_max)) / 2.0;
        case LrAnneal::exponential_lr: return learning_rate * std::pow(gamma, static_cast<double>(epoch));
        default: break;
    }
    if (epoch < warmup_epochs) return warmup_lr + (learning_rate - warmup_lr) * epoch / warmup_epochs;
    const double e = epoch - warmup_epochs, E = total_epochs - warmup_epochs;
    switch (anneal) {
        case LrAnneal::none: return learning_rate;
        case LrAnneal::linear: return learning_rate * std::max(min_factor, 1.0 - e / E);
        case LrAnneal::cosine: return learning_rate * (1.0 + std::cos(3.141592653589793 * e / E)) / 2.0;
        case LrAnneal::umap: return e <= 0 ? learning_rate : learning_rate * (1.0 - (e - 1.0) / E);
        default: break;
    }
    return learning_rate;
}

void Sgd::step(double* params, const double* grad, std::size_t n, double lr, int n_threads) {
    const double mom = options_.momentum, wd = options_.weight_decay;
    const bool first = buf_.empty();
    if (mom != 0.0) {
        require(first || buf_.size() == n, "Sgd::step: parameter count changed between steps");
        if (first) buf_.assign(n, 0.0);
    }
    parallelize(n_threads, n, [&](int, std::size_t b, std::size_t e) {
        for (std::size_t i = b; i < e; ++i) {
            double g = grad[i] + wd * params[i];
            if (mom != 0.0) {
                buf_[i] = first ? g : mom * buf_[i] + g;
                g = buf_[i];
            }
            params[i] -= lr * g;
        }
    });
}

namespace {
// Adam's element update over [0, n), compiled for AVX-512/AVX2 where present (a network's parameters are stepped after
// every batch: 25 502 for cne's FCNetwork). Element-wise, with the scalar loop's operations in its order and
// correctly rounded division and square root, so every clone gives the same bits.
NEMBED_ISA_CLONES void adam_update(double* __restrict p, const double* __restrict g, double* __restrict m,
                                   double* __restrict v, std::size_t n, const AdamOptions& o, double lr, double bc1,
                                   double bc2) {
    const double b1 = o.beta1, b2 = o.beta2, wd = o.weight_decay, eps = o.eps;
    for (std::size_t i = 0; i < n; ++i) {
        const double gi = g[i] + wd * p[i];
        m[i] = b1 * m[i] + (1.0 - b1) * gi;
        v[i] = b2 * v[i] + (1.0 - b2) * gi * gi;
        p[i] -= lr * (m[i] / bc1) / (std::sqrt(v[i] / bc2) + eps);
    }
}
} // namespace

void Adam::step(double* params, const double* grad, std::size_t n, double lr, int n_threads) {
    require(m_.empty() || m_.size() == n, "Adam::step: parameter count changed between steps");
    if (m_.empty()) {
        m_.assign(n, 0.0);
        v_.assign(n, 0.0);
    }
    ++t_;
    const auto& o = options_;
    const double bc1 = 1.0 - std::pow(o.beta1, static_cast<double>(t_));
    const double bc2 = 1.0 - std::pow(o.beta2, static_cast<double>(t_));
    parallelize(n_threads, n, [&](int, std::size_t b, std::size_t e) {
        adam_update(params + b, grad + b, m_.data() + b, v_.data() + b, e - b, o, lr, bc1, bc2);
    });
}

} // namespace nembed
