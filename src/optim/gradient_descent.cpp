#include "nembed/optim/gradient_descent.hpp"

#include <cmath>
#include <sstream>
#include <string>

#include "nembed/core/interrupt.hpp"
#include "nembed/core/log.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/optim/gains.hpp"  // clip_rows

namespace nembed {
namespace {

inline int sign(double x) { return (x > 0.0) - (x < 0.0); }

} // namespace

void validate(const GradientDescentOptions& o) {
    if (o.learning_rate) {
        require(std::isfinite(*o.learning_rate) && *o.learning_rate > 0.0,
                "learning_rate must be positive (or auto), got " + std::to_string(*o.learning_rate));
    }
    require(std::isfinite(o.momentum) && o.momentum >= 0.0 && o.momentum < 1.0,
            "momentum must lie in [0, 1), got " + std::to_string(o.momentum));
    require(std::isfinite(o.exaggeration) && o.exaggeration > 0.0,
            "exaggeration must be positive, got " + std::to_string(o.exaggeration));
    require(std::isfinite(o.min_gain) && o.min_gain >= 0.0,
            "min_gain must be non-negative, got " + std::to_string(o.min_gain));
    if (o.max_grad_norm) {
        require(*o.max_grad_norm > 0.0, "max_grad_norm must be positive (or none), got " +
                                            std::to_string(*o.max_grad_norm));
    }
    if (o.max_step_norm) {
        require(*o.max_step_norm > 0.0, "max_step_norm must be positive (or none), got " +
                                            std::to_string(*o.max_step_norm));
    }
    require(o.callbacks_every_iters >= 1,
            "callbacks_every_iters must be >= 1, got " + std::to_string(o.callbacks_every_iters));
    require(o.n_threads >= 1, "n_threads must be >= 1 (resolve n_jobs first)");
    if (o.clip) {
        require(std::isfinite(o.clip->radius) && o.clip->radius > 0.0, "clip radius must be positive");
    }
}

OptimizeReport GradientDescent::optimize(Matrix<double>& Y, const GradientFunction& gradient, int n_iter,
                                         const GradientDescentOptions& o) {
    require(n_iter >= 0, "n_iter must be non-negative, got " + std::to_string(n_iter));
    validate(o);
    require(static_cast<bool>(gradient), "optimize: no gradient function");
    const std::size_t n = Y.rows(), d = Y.cols();
    require(n >= 1 && d >= 1, "optimize: the embedding is empty");
    if (o.clip) {
        require(o.clip->center.size() == d, "clip region centre must have one entry per embedding dimension");
    }
    require_finite(Y.view(), "optimize: initial embedding");

    if (gains_.rows() != n || gains_.cols() != d) gains_ = Matrix<double>(n, d, 1.0);
    if (update_.rows() != n || update_.cols() != d) update_ = Matrix<double>(n, d, 0.0);
    if (grad_.rows() != n || grad_.cols() != d) grad_ = Matrix<double>(n, d, 0.0);

    OptimizeReport report;
    const double lr = o.learning_rate ? *o.learning_rate : static_cast<double>(n) / o.exaggeration;
    report.learning_rate = lr;
    const bool periodic_kl = static_cast<bool>(o.callback) || o.verbose || static_cast<bool>(o.on_iteration);
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const int nt = o.n_threads;
    std::vector<double> mean(d, 0.0);

    // Iteration `it` (0-based) evaluates the gradient at the embedding after `it` updates of this call.
    for (int it = 0; it <= n_iter; ++it) {
        const bool last = it == n_iter;
        const bool periodic = it > 0 && it % o.callbacks_every_iters == 0;
        const bool want_kl = last || (periodic && periodic_kl);
        // The final evaluation needs only the KL; callers' gradient functions still fill grad_ (cheap relative).
        double kl = gradient(Y.view(), o.exaggeration, grad_.data(), want_kl);
        if (want_kl) {
            require(std::isfinite(kl), "optimize: the KL divergence became non-finite at iteration " +
                                           std::to_string(it) + " (learning rate too large?)");
            report.kl = kl;
            if (o.verbose && (periodic || last) && it > 0) {
                std::ostringstream msg;
                msg << "Iteration " << it << ", KL divergence " << kl;
                info(msg.str());
            }
        }
        if (it > 0 && o.on_iteration) o.on_iteration(it, want_kl ? kl : nan);
        if (periodic && o.callback) {
            if (o.callback(it, kl, Y.view())) {
                report.stop = StopReason::callback;
                return report;
            }
        }
        if (last) break;
        if (interrupt_requested()) {
            clear_interrupt();
            throw Interrupted("optimization interrupted after " + std::to_string(it) + " iterations");
        }

        if (o.max_grad_norm) clip_rows(grad_.data(), n, d, *o.max_grad_norm, nt);

        const double momentum = o.momentum, min_gain = o.min_gain;
        double* g = grad_.data();
        double* gain = gains_.data();
        double* up = update_.data();
        double* y = Y.data();
        parallelize(nt, n, [&](int, std::size_t b, std::size_t e) {
            for (std::size_t k = b * d; k < e * d; ++k) {
                if (sign(up[k]) != sign(g[k])) {
                    gain[k] += 0.2;
                } else {
                    gain[k] = gain[k] * 0.8 + min_gain;
                }
                up[k] = momentum * up[k] - lr * gain[k] * g[k];
            }
        });
        if (o.max_step_norm) clip_rows(up, n, d, *o.max_step_norm, nt);
        parallelize(nt, n, [&](int, std::size_t b, std::size_t e) {
            for (std::size_t k = b * d; k < e * d; ++k) y[k] += up[k];
        });
        if (o.clip) {
            const ClipRegion& c = *o.clip;
            parallel_for(nt, n, [&](std::size_t i) {
                double* yi = y + i * d;
                double s = 0.0;
                for (std::size_t j = 0; j < d; ++j) s += (yi[j] - c.center[j]) * (yi[j] - c.center[j]);
                const double r = std::sqrt(s);
                if (r > c.radius) {
                    for (std::size_t j = 0; j < d; ++j) {
                        yi[j] = c.center[j] + (yi[j] - c.center[j]) * (c.radius / r);
                        up[i * d + j] = 0.0;  // reset momentum of clipped points (not gains: openTSNE bug #2)
                    }
                }
            });
        }
        if (o.center) {
            for (std::size_t j = 0; j < d; ++j) {
                mean[j] = fixed_block_sum(nt, n, [&](std::size_t b, std::size_t e) {
                    double s = 0.0;
                    for (std::size_t i = b; i < e; ++i) s += y[i * d + j];
                    return s;
                }) / static_cast<double>(n);
            }
            parallel_for(nt, n, [&](std::size_t i) {
                for (std::size_t j = 0; j < d; ++j) y[i * d + j] -= mean[j];
            });
        }
        ++total_iterations_;
        report.iterations = it + 1;
    }
    return report;
}

} // namespace nembed
