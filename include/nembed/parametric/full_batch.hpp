#pragma once
/// @file full_batch.hpp
/// A full-batch phase for paraDime's routines (not in paraDime; docs/parametric.md, "Full batch"): the network,
/// after the routine's batch phases (or fresh), is trained by a TorchDR method's loss over every point at once,
/// through that method's encoder (methods/neighbor_embedding.hpp, train/ne_plan.hpp): each iteration evaluates
/// dL/dY of every point (t-SNE: the FFT repulsion; UMAP: TorchDR's edge epochs) and makes one network update. The
/// sampled batches' noise is what keeps paraDime's batch phases 0.13–0.16 below t-SNE's recall; this phase has none.
#include <cstdint>
#include <string>

#include "nembed/core/matrix.hpp"
#include "nembed/parametric/mlp.hpp"
#include "nembed/parametric/transform_consistency.hpp"

namespace nembed::paradime {

struct FullBatchOptions {
    int iterations = 0;               ///< 0: no full-batch phase
    double learning_rate = 0.003;     ///< the network's Adam rate, > 0
    std::string method = "tsne";      ///< "tsne" (TorchDR's TSNE, FFT repulsion) or "umap" (TorchDR's UMAP)
    double perplexity = 30.0;         ///< tsne
    double early_exaggeration = 12.0;  ///< tsne: TorchDR's, over the first early_exaggeration_iter iterations
    int early_exaggeration_iter = 250;
    int n_neighbors = 30;             ///< umap
    double min_dist = 0.1;            ///< umap
    double spread = 1.0;              ///< umap
    /// Gaussian noise on the inputs of every iteration, its size in mean nearest-neighbour distances
    /// (NeEncoderOptions::input_noise; >= 0, 0: off): a regulariser for held-out points.
    double input_noise = 0.0;
    /// The transform-consistency penalty (NeEncoderOptions::transform_consistency; weight 0: off): a regulariser
    /// for held-out points scored against the training map.
    TransformConsistencyOptions transform_consistency;
};
/// Throws InvalidArgument naming the bad field (only when iterations > 0).
void validate(const FullBatchOptions& options);

/// Trains `start` (X.cols inputs) for options.iterations full-batch iterations of options.method's loss on X and
/// returns it. The same seed gives the same bits for any thread count.
Mlp train_full_batch(MatrixView<float> X, const Mlp& start, const FullBatchOptions& options, std::uint64_t seed,
                     int n_threads, bool verbose = false);

} // namespace nembed::paradime
