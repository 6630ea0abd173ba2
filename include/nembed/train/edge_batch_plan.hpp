#pragma once
/// @file edge_batch_plan.hpp
/// The edge mini-batch plan (docs/core.md §6.2): cne's training step as a BatchPlan. One step is one epoch: the
/// graph's directed edges in a random order (counter streams per epoch) cut into batches of b edges, whose sets have
/// the law of cne's uniform shuffle (the last one partial, as cne's loader with drop_last False); per batch every
/// head draws m negatives (repulsion/negative_sampling.hpp: in-batch slots, or uniform over all points, optionally
/// never a graph neighbour), its loss and gradient come from the contrastive loss (loss/contrastive.hpp; the fused
/// Cauchy kernels for 2 or 3 dimensions), the contributions are summed per point in 64-bit fixed point (the same
/// bits for any thread count), the per-point gradient is clipped by value and one optimizer step is taken. nce's
/// log Z is a parameter of the loss with its own optimizer, stepped after every batch.
///
/// Per batch the gradient with respect to the batch's positions is complete before the step. On an EmbeddingTable
/// the plan updates the table in place (plain SGD without momentum or weight decay is fused into the gradient
/// pass). Any other parametrisation (a network, parametric/network_parametrization.hpp) takes the generic path: the
/// batch's 2b slots are forwarded, the same loss code gives dL/dY per slot (summed in fixed point, not clipped:
/// the clip belongs to the parametrisation's parameters, as cne clips its model's gradients), then backward and
/// one step. The generic path needs in-batch negatives.
///
/// The plan's state (the next epoch's order, nce's log Z and its optimizer state) persists across steps, so a run
/// split over several Trainer::run calls takes the same steps, bitwise. The step's phase sets the loss's
/// exaggeration, repulsion strength and (loss_spec) its ξ/ρ.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nembed/core/sparse.hpp"
#include "nembed/loss/contrastive.hpp"
#include "nembed/optim/optimizer.hpp"
#include "nembed/repulsion/negative_sampling.hpp"
#include "nembed/train/plan.hpp"

namespace nembed {

/// A distributed run of the plan (docs/mpi.md §5): each process passes the graph's rows it owns (the other rows
/// empty; the processes' rows in rank order, so the concatenation of their edge lists is the single-process one)
/// and holds all of Y. Per epoch the edges are ordered by their owners (the single-process bucket order, cut by
/// buckets: each bucket's draws, copy and split are those of one process) and each edge goes to the
/// process that runs its chunk: chunk c of every batch runs on process c mod ranks (a chunk's heads, negatives and
/// counter stream depend on (epoch, batch, chunk) only). Per batch: the batch's slot points are all-gathered (the
/// in-batch negatives read any slot), each process runs its chunks, the 64-bit fixed-point sums of every slot go
/// to the slot's owner (alltoallv: exact integer sums, any order), the owner clips and steps (or clips, for the
/// optimizer) its slots, and the results, the chunk losses and nce's per-head dlog Z are all-gathered, so every
/// process holds the same Y and steps the same log Z. Uniform negatives reach any point: the whole fixed-point
/// vector is summed (`sum`) and every process finishes every point. Embedding tables only; no exclude_neighbors
/// (the heads' neighbour lists are spread over the processes). Unset `sum`: one process.
struct EdgeBatchShare {
    int rank = 0, ranks = 1;
    std::function<void(std::int64_t* data, std::size_t n)> sum;  ///< element-wise sum over the processes, in place
    /// dist::Comm's byte collectives: send_counts[r] bytes to process r, recv_counts[r] bytes from it (rank order).
    std::function<void(const void* send, const std::vector<std::size_t>& send_counts, void* recv,
                       const std::vector<std::size_t>& recv_counts)>
        alltoallv;
    /// Process r contributes counts[r] bytes (send_bytes == counts[rank]); recv gets all of them in rank order.
    std::function<void(const void* send, std::size_t send_bytes, void* recv, const std::vector<std::size_t>& counts)>
        allgatherv;
};

struct EdgeBatchOptions {
    std::size_t batch_size = 32768;    ///< b: edges per batch (capped at the number of edges), cne's 2^15
    /// m: negatives per head; −1 (in-batch only): every other slot of the batch. In-batch, a partial last batch of
    /// b' edges gives min(m, 2b' − 2).
    long negative_samples = 5;
    NegativeSampling sampling = NegativeSampling::in_batch;
    /// Uniform sampling only: never draw one of the head's graph neighbours (TorchDR's discard_NNs).
    bool exclude_neighbors = false;
    std::optional<double> clip = 4.0;  ///< clip each coordinate of a point's batch gradient to [−clip, clip]; none: off
    std::uint64_t seed = 0;
    /// nce: the rule that steps log Z (cne: the run's optimizer kind and momentum, no weight decay) and its rate.
    OptimizerOptions log_Z_optimizer;
    double log_Z_learning_rate = 0.001;
    EdgeBatchShare share;  ///< distributed runs only
};

class EdgeBatchPlan final : public BatchPlan {
public:
    /// graph: N × N, non-negative; its non-zeros off the diagonal are the directed edges. losses: one term (cne) or
    /// a weighted sum sharing the heads, partners and negatives; their nce_m is set per batch and nce terms share
    /// one learned log Z (the first nce term's log_Z at start). Throws InvalidArgument for a bad graph, options or
    /// loss, naming the problem.
    EdgeBatchPlan(const CsrMatrix<double>& graph, std::vector<WeightedContrastiveLoss> losses,
                  EdgeBatchOptions options, std::size_t n_components);
    EdgeBatchPlan(const CsrMatrix<double>& graph, const ContrastiveLossParams& loss, EdgeBatchOptions options,
                  std::size_t n_components);
    ~EdgeBatchPlan() override;
    EdgeBatchPlan(const EdgeBatchPlan&) = delete;
    EdgeBatchPlan& operator=(const EdgeBatchPlan&) = delete;

    std::string unit() const override { return "epoch"; }
    /// One epoch. Returns its mean per-edge loss (always evaluated: the kernels produce it on the way). Throws
    /// InvalidArgument when the parametrisation's shape differs from the plan's, a network meets uniform sampling,
    /// or the loss or embedding became non-finite.
    double step(Parametrization& params, Optimizer& optimizer, const StepContext& ctx) override;

    /// Epoch `epoch`'s edges (head·2^32 + tail) that this process trains on, in batch order: one process, the
    /// whole order; distributed, the edges of its chunks (chunk c of each batch: process c mod ranks).
    /// The plan's state does not change. Collective in a distributed run. For tests.
    std::vector<std::uint64_t> epoch_edges(std::int64_t epoch, int n_threads = 1);
    std::size_t n_points() const;
    std::size_t n_edges() const;
    std::size_t batch_size() const;   ///< b (after the cap)
    std::size_t negatives() const;    ///< m of a full batch
    /// nce's learned log Z (the initial one for other losses).
    double log_Z() const;
    const std::vector<WeightedContrastiveLoss>& losses() const;
    /// Sets term `term`'s ξ/ρ outside phases with a loss_spec (cne resolves it from m, known once the plan is made).
    void set_spec(std::size_t term, double spec);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace nembed
