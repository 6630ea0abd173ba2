#pragma once
/// @file full_batch_plan.hpp
/// The full-batch plan (docs/core.md §6): one step is one iteration over every point, openTSNE's order of
/// operations (docs/core.md §6). With g the gradient of the objective at Y under the phase's exaggeration:
///   1. optional per-row clip of g to `max_grad_norm`;
///   2. the optimizer's step (GainsMomentum for t-SNE: gains, momentum, per-row step clip, Y += update);
///   3. optional projection into a clip region (transform); clipped rows lose their momentum
///      (Optimizer::clear_momentum), not their gains (openTSNE's behaviour);
///   4. optional centring (column means to 0; off in transform).
/// The loss a step reports is that of the embedding after the step: on a reporting step (ctx.want_loss, and always
/// on the last step of a phase, as openTSNE logs the KL at the end of each optimize call) the objective is
/// evaluated once more at the new Y, and the next step reuses that gradient when Y and the exaggeration are
/// unchanged. So a run evaluates the gradient once per step plus once at its end, like openTSNE's loop.
#include <cstddef>
#include <functional>
#include <optional>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/train/plan.hpp"

namespace nembed {

/// Evaluates the gradient of the loss at Y (N x d) with the given exaggeration into `grad` (N x d, overwritten).
/// When `want_loss` is true it returns the loss of Y (t-SNE: KL for the un-exaggerated P); otherwise it may return
/// NaN. The gradient must not depend on want_loss.
using GradientFunction =
    std::function<double(MatrixView<double> Y, double exaggeration, double* grad, bool want_loss)>;

/// A ball (a disc in 2-D, an interval in 1-D) that points are projected back into after each step.
struct ClipRegion {
    std::vector<double> center;  ///< one entry per embedding dimension
    double radius = 0.0;         ///< > 0
};

struct FullBatchOptions {
    std::optional<double> max_grad_norm;  ///< per-row gradient clip (openTSNE's max_grad_norm); none by default
    bool center = true;                   ///< subtract the column means after every step (off in transform)
    std::optional<ClipRegion> clip;       ///< transform with FFT: keep new points inside the reference grid
    /// openTSNE's "auto" rate N / exaggeration when a phase gives none; false: a rate is required (transform).
    bool auto_learning_rate = true;
};
/// Throws InvalidArgument naming the bad field (d: the embedding dimension, for the clip centre).
void validate(const FullBatchOptions& options, std::size_t d);

class FullBatchPlan final : public BatchPlan {
public:
    /// n_points: N, for the auto learning rate. Throws InvalidArgument for bad options or a null gradient.
    FullBatchPlan(GradientFunction gradient, std::size_t n_points, FullBatchOptions options = {});
    std::string unit() const override { return "iteration"; }
    /// N / exaggeration (openTSNE's "auto"), NaN when options.auto_learning_rate is false.
    double auto_learning_rate(const Phase& phase) const override;
    /// One iteration (see the file comment). Needs the EmbeddingTable parametrisation (InvalidArgument otherwise).
    /// Throws InvalidArgument when a reported loss is not finite (a learning rate too large).
    double step(Parametrization& params, Optimizer& optimizer, const StepContext& ctx) override;
    /// The loss of the table's current positions (one gradient evaluation, kept for the next step when the
    /// exaggeration matches, or the cached one when Y has not moved since).
    double loss(Parametrization& params, double exaggeration);

private:
    Matrix<double>& table_matrix(Parametrization& params) const;
    bool cached_at(MatrixView<double> Y) const;
    double evaluate(MatrixView<double> Y, double exaggeration, bool want_loss);

    GradientFunction gradient_;
    std::size_t n_points_;
    FullBatchOptions options_;
    std::vector<double> grad_;
    std::vector<double> mean_;
    // The last evaluation with want_loss: Y it was taken at, its exaggeration and loss (grad_ holds its gradient).
    bool cached_ = false;
    std::vector<double> cached_Y_;
    double cached_exaggeration_ = 0.0;
    double cached_loss_ = 0.0;
};

} // namespace nembed
