#pragma once
/// @file pacmap.hpp
/// TorchDR's PACMAP (docs/torchdr.md, "PACMAP") on the NeighborEmbedding driver (methods/neighbor_embedding.hpp):
/// PACMAPAffinity's neighbour pairs (affinity/pacmap.hpp), PaCMAP's loss with its mid-near and further pairs
/// re-drawn every step and TorchDR's weight schedule keyed by the step (loss/pacmap.hpp), Adam at lr 1, 450
/// iterations, pca init scaled to 1e-4, the driver's min_grad_norm stop.
///
///   torchdr::PACMAPOptions opt;               // TorchDR's defaults: n_neighbors 10, MN_ratio 0.5, FP_ratio 2
///   opt.random_state = 0;
///   NeResult r = torchdr::PACMAP(opt).fit_transform(X);
#include <cstddef>

#include "nembed/affinity/pacmap.hpp"
#include "nembed/core/matrix.hpp"
#include "nembed/loss/pacmap.hpp"
#include "nembed/methods/neighbor_embedding.hpp"
#include "nembed/neighbors/knn.hpp"

namespace nembed::torchdr {

/// TorchDR's PACMAP(...) parameters with its defaults (names as TorchDR's).
struct PACMAPOptions : NeighborEmbeddingOptions {
    PACMAPOptions() {
        lr = 1.0;                             // "auto" (unset): max(N / 4, 50)
        optimizer = "Adam";                   // or "SGD"
        optimizer_kwargs = OptimizerKwargs{};  // TorchDR passes None: torch's defaults (SGD: no momentum)
        max_iter = 450;
        scheduler_kwargs = SchedulerKwargs{};  // TorchDR passes None: torch's defaults for a named scheduler
    }
    std::size_t n_neighbors = 10;      ///< neighbour pairs per point; < N − 1 with exclusion, < N otherwise
    CostMetric metric = CostMetric::sqeuclidean;  ///< sqeuclidean or euclidean (parse_pacmap_metric)
    double MN_ratio = 0.5;             ///< n_mid_near = ⌊MN_ratio · n_neighbors⌋; >= 0
    double FP_ratio = 2.0;             ///< n_further = ⌊FP_ratio · n_neighbors⌋; >= 0
    int iter_per_phase = 100;          ///< >= 1
    bool exclude_neighbors_from_negative_sampling = true;
    KnnMethod knn_method = KnnMethod::auto_;  ///< the kNN search (TorchDR: FAISS, exact)
};
/// Throws InvalidArgument naming the bad parameter (n_points: the data size; 0 skips the size checks).
void validate(const PACMAPOptions& options, std::size_t n_points = 0);
/// ⌊MN_ratio · n_neighbors⌋ and ⌊FP_ratio · n_neighbors⌋ (TorchDR's int()).
std::size_t pacmap_n_mid_near(const PACMAPOptions& options);
std::size_t pacmap_n_further(const PACMAPOptions& options);

class PACMAP {
public:
    using Options = PACMAPOptions;
    explicit PACMAP(PACMAPOptions options = {}) : options_(std::move(options)) {}
    /// kNN -> PACMAPAffinity -> init -> the driver (process_duplicates first). No fit_transform_affinity: the
    /// mid-near pairs are drawn from X's distances every step.
    NeResult fit_transform(MatrixView<float> X, const TrainHooks& hooks = {}) const;
    const PACMAPOptions& options() const { return options_; }

private:
    PACMAPOptions options_;
};

} // namespace nembed::torchdr
