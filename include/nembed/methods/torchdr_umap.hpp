#pragma once
/// @file torchdr_umap.hpp
/// TorchDR 0.5's UMAP (docs/torchdr.md, "UMAP (TorchDR's) and transform") on the NeighborEmbedding driver
/// (methods/neighbor_embedding.hpp): P is TorchDR's UMAPAffinity (affinity/umap_affinity.hpp), the output kernel
/// 1/(1 + a·D^b) with (a, b) fitted to min_dist and spread (kernel/umap_kernel.hpp) unless given, and the step is
/// TorchDR's closed-form gradient with its per-edge epochs_per_sample schedule (loss/umap_ne.hpp), applied by
/// torch's SGD without momentum at lr 1 decayed linearly to 0 over max_iter steps.
///
/// This is TorchDR's variant, not umap-learn's (methods/umap.hpp): all points move at once each step, only the
/// source of an edge moves (twice its pull, the symmetric graph standing for the reverse edge), negatives are drawn
/// per active edge. transform() is TorchDR's non-parametric transform (methods/ne_transform.hpp).
///
///   torchdr::UMAPOptions opt;  opt.random_state = 0;
///   torchdr::UMAP umap(opt);
///   NeResult r = umap.fit_transform(X);                        // r.embedding
///   Matrix<double> Z = umap.transform(X_new, X, r.embedding.view());
#include <optional>

#include "nembed/affinity/cost.hpp"
#include "nembed/core/matrix.hpp"
#include "nembed/core/sparse.hpp"
#include "nembed/kernel/kernel.hpp"
#include "nembed/loss/umap_ne.hpp"
#include "nembed/methods/neighbor_embedding.hpp"

namespace nembed::torchdr {

/// TorchDR's UMAP parameters and defaults (the driver's fields as TorchDR's UMAP sets them).
struct UMAPOptions : NeighborEmbeddingOptions {
    UMAPOptions() {
        lr = 1.0;
        optimizer = "SGD";
        optimizer_kwargs = OptimizerKwargs{};  // TorchDR's None: torch's SGD defaults, no momentum
        scheduler = "LinearLR";
        scheduler_kwargs.reset();              // "auto": lr to 0 over max_iter
        max_iter = 1000;
    }
    int n_neighbors = 30;              ///< counts the point itself at fit (n_neighbors − 1 others); transform: n
    double min_dist = 0.1;
    double spread = 1.0;
    std::optional<double> a, b;        ///< none (either): both fitted from min_dist and spread
    int max_iter_affinity = 100;
    CostMetric metric = CostMetric::sqeuclidean;
    int negative_sample_rate = 5;      ///< negatives per active edge (TorchDR's n_negatives = rate·n_neighbors is unused)
    bool exclude_neighbors_from_negative_sampling = false;
    KnnMethod knn_method = KnnMethod::exact;
    std::size_t knn_shards = 0;        ///< HNSW over this many shards (KnnOptions::hnsw_shards); 0 = one index
};

/// The kernel's (a, b): the given pair, else find_ab_params(spread, min_dist). Throws InvalidArgument.
UmapCurve torchdr_umap_curve(const UMAPOptions& options);
/// The step's settings TorchDR's UMAP runs with (curve, negative rate, exclusions, seed, threads).
NeUmapSettings umap_ne_settings(const UMAPOptions& options);
/// Throws InvalidArgument naming the bad parameter (n: the number of samples).
void validate(const UMAPOptions& options, std::size_t n);

class UMAP {
public:
    using Options = UMAPOptions;
    explicit UMAP(UMAPOptions options = {}) : options_(std::move(options)) {}
    /// P = UMAPAffinity(X) (X float32 n x D), then the run.
    NeResult fit_transform(MatrixView<float> X, const TrainHooks& hooks = {}) const;
    /// TorchDR's P given (n x n, UMAPAffinity's symmetric graph; X only for init = pca, may be empty otherwise).
    NeResult fit_transform_affinity(const CsrMatrix<double>& P, MatrixView<float> X, const TrainHooks& hooks = {}) const;
    /// TorchDR's non-parametric transform: X_new against the training data X_train and its embedding Y_train
    /// (frozen); returns n_new x n_components (methods/ne_transform.hpp).
    Matrix<double> transform(MatrixView<float> X_new, MatrixView<float> X_train, MatrixView<double> Y_train,
                             const TrainHooks& hooks = {}) const;
    const UMAPOptions& options() const { return options_; }

private:
    UMAPOptions options_;
};

} // namespace nembed::torchdr
