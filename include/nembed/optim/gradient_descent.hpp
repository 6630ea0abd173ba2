#pragma once
/// @file gradient_descent.hpp
/// openTSNE's gradient descent (tsne.md §6) as a resumable object: the gains and the momentum buffer live in the
/// `GradientDescent` and persist across `optimize` calls, so a schedule is just a sequence of calls
/// (two optimize(50) calls are bitwise identical to one optimize(100)).
///
/// Per iteration, with g = gradient(Y):
///   1. optional per-row clip of g to `max_grad_norm`;
///   2. gains: +0.2 where sign(update) != sign(g), else 0.8·gain + min_gain (additive floor, not a clamp);
///   3. update = momentum·update − lr·gains·g; optional per-row clip of update to `max_step_norm`;
///   4. Y += update; optional projection into a clip region (transform; clipped rows lose their momentum);
///   5. centre Y (column means to 0) unless disabled (transform).
/// The objective is any `GradientFunction`, so t-SNE, transform and other losses share this optimizer.
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <vector>

#include "nembed/core/error.hpp"
#include "nembed/core/matrix.hpp"
#include "nembed/train/trainer.hpp"  // StopReason

namespace nembed {

/// Called every `callbacks_every_iters` iterations with (iteration within this optimize call, counted from 1, KL of
/// the current embedding, the embedding after exactly `iteration` updates). Returning true stops the run.
/// (openTSNE passes the embedding from before that iteration's update; here KL, embedding and count agree.)
using OptimizeCallback = std::function<bool(int iteration, double kl, MatrixView<double> Y)>;

/// Evaluates the gradient of the loss at Y (N x d) with the given exaggeration into `grad` (N x d, overwritten).
/// When `want_kl` is true it returns the loss of Y for the un-exaggerated P; otherwise it may return NaN.
using GradientFunction =
    std::function<double(MatrixView<double> Y, double exaggeration, double* grad, bool want_kl)>;

/// A ball (a disc in 2-D, an interval in 1-D) that points are projected back into after each step.
struct ClipRegion {
    std::vector<double> center;  ///< one entry per embedding dimension
    double radius = 0.0;         ///< > 0
};

struct GradientDescentOptions {
    /// Step size; std::nullopt means openTSNE's "auto": N / exaggeration, evaluated per call (i.e. per phase).
    std::optional<double> learning_rate;
    double momentum = 0.8;                 ///< openTSNE 1.0.4 uses 0.8 in both phases
    double exaggeration = 1.0;             ///< factor on P's attraction (never applied to P itself)
    double min_gain = 0.01;                ///< additive gain floor (steady state 0.05)
    std::optional<double> max_grad_norm;   ///< per-row gradient clip; none by default (0.25 in transform)
    std::optional<double> max_step_norm = 5.0;  ///< per-row update clip keeps points from shooting off
    bool center = true;                    ///< subtract the mean every iteration (off in transform)
    std::optional<ClipRegion> clip;        ///< transform with FFT: keep new points inside the reference grid
    OptimizeCallback callback;             ///< optional; see OptimizeCallback
    int callbacks_every_iters = 50;        ///< also the KL logging period when verbose
    /// Progress hook, called after every iteration with (iteration counted from 1, KL or NaN when not evaluated).
    /// Setting it, a callback or verbose makes the KL be evaluated every callbacks_every_iters iterations.
    std::function<void(int iteration, double kl)> on_iteration;
    bool verbose = false;                  ///< log the KL every callbacks_every_iters iterations through nembed::info
    int n_threads = 1;                     ///< resolved thread count (>= 1)
};


struct OptimizeReport {
    int iterations = 0;  ///< updates applied in this call
    double kl = std::numeric_limits<double>::quiet_NaN();  ///< KL of the final (or stopped) embedding
    StopReason stop = StopReason::completed;
    double learning_rate = 0.0;  ///< the resolved learning rate
};

/// A callback asked to stop: carries the KL and the embedding at the stop (openTSNE's OptimizationInterrupt).
class OptimizationInterrupt : public Interrupted {
public:
    OptimizationInterrupt(double kl_, Matrix<double> embedding, int iteration_)
        : Interrupted("optimization stopped by a callback at iteration " + std::to_string(iteration_)),
          kl(kl_), final_embedding(std::move(embedding)), iteration(iteration_) {}
    double kl;
    Matrix<double> final_embedding;
    int iteration;
};

class GradientDescent {
public:
    GradientDescent() = default;

    /// Runs `n_iter` iterations on Y in place, continuing from the stored gains and momentum (created as ones /
    /// zeros on first use or when Y's shape changes). Evaluates the KL on callback/logging iterations and once at the
    /// end (one extra gradient evaluation). A callback returning true stops early (report.stop = callback); Y then
    /// holds the embedding the callback saw. If nembed::interrupt_requested() is set before an update (polled every iteration), the
    /// request is cleared and nembed::Interrupted is thrown; Y and the state are left consistent (whole iterations).
    /// Throws InvalidArgument for n_iter < 0, learning rate <= 0, momentum outside [0, 1), bad clip values.
    OptimizeReport optimize(Matrix<double>& Y, const GradientFunction& gradient, int n_iter,
                            const GradientDescentOptions& options);

    const Matrix<double>& gains() const { return gains_; }
    const Matrix<double>& update() const { return update_; }
    /// Forgets gains and momentum.
    void reset() {
        gains_ = Matrix<double>();
        update_ = Matrix<double>();
    }
    /// Total updates applied over all calls.
    std::int64_t total_iterations() const { return total_iterations_; }

private:
    Matrix<double> gains_;
    Matrix<double> update_;
    Matrix<double> grad_;
    std::int64_t total_iterations_ = 0;
};

/// Validates GradientDescentOptions (also used by the methods before starting long runs).
void validate(const GradientDescentOptions& options);

} // namespace nembed
