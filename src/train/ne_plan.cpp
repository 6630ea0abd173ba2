// TorchDR's training step (train/ne_plan.hpp).
#include "nembed/train/ne_plan.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/core/random.hpp"
#include "nembed/optim/optimizer.hpp"
#include "nembed/repulsion/negative_sampling.hpp"
#include "nembed/train/parametrization.hpp"
#include "nembed/train/phase.hpp"

namespace nembed {

NeighborEmbeddingPlan::NeighborEmbeddingPlan(NeGradient loss, NeGradRowNorm row_norm, NeNetworkBatches batches)
    : loss_(std::move(loss)), row_norm_(std::move(row_norm)), batches_(batches),
      grad_norm_(std::numeric_limits<double>::quiet_NaN()) {
    require(static_cast<bool>(loss_), "NeighborEmbeddingPlan: the loss is empty");
    require(batches_.batch_size > 0, "NeighborEmbeddingPlan: the network's batch size must be > 0");
}

double NeighborEmbeddingPlan::step(Parametrization& params, Optimizer& optimizer, const StepContext& ctx) {
    EmbeddingTable* table = params.table();
    Matrix<double> Y_net;
    // A network: the iteration's order of the points (a permutation from the counter stream (seed, iteration)),
    // cut into mini-batches for the updates below.
    std::vector<index_t> perm;
    const std::size_t n_points = params.n_points(), d_out = params.n_components();
    const bool one_batch = !table && batches_.batch_size >= n_points;
    std::vector<double> pos, dY;
    if (!table) {
        perm.resize(n_points);
        for (std::size_t i = 0; i < n_points; ++i) perm[i] = static_cast<index_t>(i);
        Rng rng(batches_.seed,
                sampling_stream(SamplingFamily::torchdr_encoder_batches, static_cast<std::uint64_t>(ctx.step), 0));
        for (std::size_t i = n_points; i > 1; --i) std::swap(perm[i - 1], perm[rng.below(i)]);
        if (one_batch) {
            // One batch of every point: its training forward pass (activations kept) gives the positions, and the
            // update below reuses it instead of forwarding the same points with the same weights again.
            pos.resize(n_points * d_out);
            params.forward(perm, pos.data());
            Y_net = Matrix<double>(n_points, d_out);
            for (std::size_t r = 0; r < n_points; ++r)
                std::copy_n(pos.data() + r * d_out, d_out, Y_net.data() + static_cast<std::size_t>(perm[r]) * d_out);
        } else {
            Y_net = params.embedding();  // its positions of every point
        }
    }
    Matrix<double>& Y = table ? table->Y() : Y_net;
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
    // A network's outputs also overflow on rows too large for its float32 products (the input map off).
    const char* hint = table ? " (a learning rate too large?)"
                             : " (a learning rate too large, or rows too large for the network's float32 products "
                               "with the input map off?)";
    require_lazy(std::isfinite(grad_norm_), [&] {
        return "neighbor embedding: the gradient is not finite at iteration " + std::to_string(ctx.step) + hint;
    });
    if (ctx.want_loss)
        require_lazy(std::isfinite(loss), [&] {
            return "neighbor embedding: the loss is not finite at iteration " + std::to_string(ctx.step) + hint;
        });
    if (table) {
        optimizer.step(Y.data(), grad_.data(), grad_.size(), ctx.learning_rate, ctx.n_threads);
    } else {
        // The network: the iteration's dL/dY in mini-batches, each its own update (a batch forwarded again for
        // backward's activations, except the single batch of every point, forwarded above; the gradient rows are
        // the iteration's, evaluated once on all points).
        const std::size_t n = Y.rows(), d = Y.cols(), bs = batches_.batch_size;
        for (std::size_t lo = 0; lo < n; lo += bs) {
            const std::span<const index_t> batch(perm.data() + lo, std::min(n, lo + bs) - lo);
            pos.resize(batch.size() * d);
            dY.resize(batch.size() * d);
            if (!one_batch) params.forward(batch, pos.data());
            for (std::size_t r = 0; r < batch.size(); ++r)
                std::copy_n(grad_.data() + static_cast<std::size_t>(batch[r]) * d, d, dY.data() + r * d);
            params.backward(batch, dY.data());
            params.step(optimizer, ctx.learning_rate, ctx.n_threads);
        }
    }
    return ctx.want_loss ? loss : std::numeric_limits<double>::quiet_NaN();
}

} // namespace nembed
