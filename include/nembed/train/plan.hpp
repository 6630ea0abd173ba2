#pragma once
/// @file plan.hpp
/// Batch plans (docs/core.md §6): how one step of training visits the data and applies the optimizer.
///  - FullBatchPlan: every point every iteration, the repulsion from an estimator (t-SNE, SNE; loss/, repulsion/);
///  - EdgeEpochPlan: umap-learn's per-edge epochs (edges due by their weight, negatives per edge);
///  - EdgeBatchPlan: shuffled mini-batches of edges with in-batch negatives (cne).
/// A plan owns its loss, its estimator and its scratch; the Trainer owns the loop, phases, schedule, callbacks,
/// progress and the interrupt path, the same for all plans.
#include <cstdint>
#include <limits>
#include <string>

namespace nembed {

class Optimizer;
class Parametrization;
struct Phase;

/// What a plan needs to know about the step it runs.
struct StepContext {
    std::int64_t step = 0;        ///< global step, 0-based (resumable runs continue the count)
    std::int64_t phase_step = 0;  ///< step within the phase, 0-based
    const Phase* phase = nullptr;
    double learning_rate = 0.0;   ///< this step's rate (schedule, phase override or the plan's auto rule)
    bool want_loss = false;       ///< the loss of this step is reported (callbacks, progress, logging)
    int n_threads = 1;
};

class BatchPlan {
public:
    virtual ~BatchPlan() = default;
    /// "iteration" (full batch) or "epoch" (edge plans), for messages.
    virtual std::string unit() const = 0;
    /// The learning rate when neither the phase nor the run's schedule sets one (t-SNE's auto: N/exaggeration);
    /// NaN: the plan has no auto rule (a rate is then required).
    virtual double auto_learning_rate(const Phase&) const { return std::numeric_limits<double>::quiet_NaN(); }
    /// Runs one step: gradients of the plan's loss, optimizer step(s) on the parametrisation. Returns the loss of the
    /// step when ctx.want_loss (the plan's own measure: KL for t-SNE, mean per-edge loss for edge plans), else NaN.
    virtual double step(Parametrization& params, Optimizer& optimizer, const StepContext& ctx) = 0;
};

} // namespace nembed
