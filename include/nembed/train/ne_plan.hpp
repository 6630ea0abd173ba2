#pragma once
/// @file ne_plan.hpp
/// TorchDR's training step (docs/torchdr.md, "NeighborEmbedding and its methods"): one step is one iteration over
/// every point — the gradient of the loss at Y (what autograd gives TorchDR: the true gradient, no quarter, no
/// centring, no gains), then one optimizer step on the whole table (torch.optim.SGD or Adam). The loss is a
/// `NeGradient`: it receives the step's index, so stochastic losses (negative sampling) draw their negatives from
/// counter-based streams of (seed, step) and the run does not depend on the thread count or on how often the loss
/// is reported. The loss a step reports is that of Y before the step, as TorchDR's `_training_step` returns it.
///
/// Unlike FullBatchPlan (openTSNE's loop: the loss after the step, a cached gradient reused by the next step,
/// centring) nothing is cached: each step evaluates the gradient once, with the loss on reporting steps only.
/// The Frobenius norm of the last step's gradient is kept for TorchDR's min_grad_norm stop.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/train/plan.hpp"

namespace nembed {

/// What a TorchDR loss evaluation receives besides Y.
struct NeStepInfo {
    double exaggeration = 1.0;        ///< λ on the attraction (early_exaggeration_coeff during that phase)
    double repulsion_strength = 1.0;  ///< ρ on the repulsion
    std::int64_t step = 0;            ///< global step: keys the stochastic draws of this step
};

/// Writes ∂L/∂Y at Y (N x d) into grad (overwritten) and returns L when want_loss (else NaN allowed). The gradient
/// must not depend on want_loss.
using NeGradient = std::function<double(MatrixView<double> Y, const NeStepInfo& info, double* grad, bool want_loss)>;
/// The squared norm of one row of what TorchDR reads as the gradient (y: the row before the step, g: its gradient,
/// d values each). TorchDR reads `embedding_.grad` after the optimizer step, so an optimizer that rewrites the
/// gradient in place shows there: RiemannianAdam adds weight_decay·y and divides by λ_y² (the Riemannian
/// gradient). Empty: ‖g‖² (torch's SGD and Adam leave the gradient as it is).
using NeGradRowNorm = std::function<double(const double* y, const double* g, std::size_t d)>;

/// How a network parametrisation (TorchDR's encoder) is trained by the plan: each iteration's dL/dY, evaluated once
/// on the network's embedding of every point, is fed back in mini-batches of batch_size points from a permutation
/// drawn from the counter stream (seed, iteration); each mini-batch is one forward, backward and optimizer step.
struct NeNetworkBatches {
    std::size_t batch_size = 1024;  ///< > 0
    std::uint64_t seed = 0;
};

class NeighborEmbeddingPlan final : public BatchPlan {
public:
    /// Throws InvalidArgument for a null loss or a batch size of 0.
    explicit NeighborEmbeddingPlan(NeGradient loss, NeGradRowNorm row_norm = {}, NeNetworkBatches batches = {});
    std::string unit() const override { return "iteration"; }
    /// The embedding table: one optimizer step on Y (TorchDR's). Any other parametrisation (a network): Y is its
    /// forward pass over every point, and dL/dY is fed back in mini-batches (NeNetworkBatches). Throws
    /// InvalidArgument when the gradient or a reported loss is not finite (TorchDR's NaN check: a learning rate too
    /// large).
    double step(Parametrization& params, Optimizer& optimizer, const StepContext& ctx) override;
    /// ‖∂L/∂Y‖ (Frobenius, summed in point order) of the last step's gradient, or the norm of what row_norm says
    /// TorchDR reads; NaN before any step.
    double last_grad_norm() const { return grad_norm_; }

private:
    NeGradient loss_;
    NeGradRowNorm row_norm_;
    NeNetworkBatches batches_;
    std::vector<double> grad_;
    double grad_norm_;
};

} // namespace nembed
