// TorchDR's training step (train/ne_plan.hpp).
#include "nembed/train/ne_plan.hpp"

#include <cmath>
#include <limits>
#include <string>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/optim/optimizer.hpp"
#include "nembed/train/parametrization.hpp"
#include "nembed/train/phase.hpp"

namespace nembed {

NeighborEmbeddingPlan::NeighborEmbeddingPlan(NeGradient loss, NeGradRowNorm row_norm)
    : loss_(std::move(loss)), row_norm_(std::move(row_norm)), grad_norm_(std::numeric_limits<double>::quiet_NaN()) {
    require(static_cast<bool>(loss_), "NeighborEmbeddingPlan: the loss is empty");
}

double NeighborEmbeddingPlan::step(Parametrization& params, Optimizer& optimizer, const StepContext& ctx) {
    EmbeddingTable* table = params.table();
    require(table != nullptr, "NeighborEmbeddingPlan: needs the embedding table parametrisation");
    Matrix<double>& Y = table->Y();
    grad_.resize(Y.size());
    NeStepInfo info;
    info.exaggeration = ctx.phase ? ctx.phase->exaggeration : 1.0;
    info.repulsion_strength = ctx.phase ? ctx.phase->repulsion_strength : 1.0;
    info.step = ctx.step;
    const double loss = loss_(Y.view(), info, grad_.data(), ctx.want_loss);
    // Blocks of fixed size, added in block order: the norm does not depend on the thread count.
    double sq;
    if (row_norm_) {
        const std::size_t d = Y.cols();
        sq = fixed_block_sum(ctx.n_threads, Y.rows(), [&](std::size_t b, std::size_t e) {
            double s = 0.0;
            for (std::size_t i = b; i < e; ++i) s += row_norm_(Y.data() + i * d, grad_.data() + i * d, d);
            return s;
        });
    } else {
        sq = fixed_block_sum(ctx.n_threads, grad_.size(), [&](std::size_t b, std::size_t e) {
            double s = 0.0;
            for (std::size_t k = b; k < e; ++k) s += grad_[k] * grad_[k];
            return s;
        });
    }
    grad_norm_ = std::sqrt(sq);
    require(std::isfinite(grad_norm_), "neighbor embedding: the gradient is not finite at iteration " +
                                           std::to_string(ctx.step) + " (a learning rate too large?)");
    if (ctx.want_loss)
        require(std::isfinite(loss), "neighbor embedding: the loss is not finite at iteration " +
                                         std::to_string(ctx.step) + " (a learning rate too large?)");
    optimizer.step(Y.data(), grad_.data(), grad_.size(), ctx.learning_rate, ctx.n_threads);
    return ctx.want_loss ? loss : std::numeric_limits<double>::quiet_NaN();
}

} // namespace nembed
