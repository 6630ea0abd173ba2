#pragma once
/// @file tsnekhorn.hpp
/// TorchDR 0.5's TSNEkhorn on the NeighborEmbedding driver (methods/neighbor_embedding.hpp; docs/torchdr.md
/// "COSNE and TSNEkhorn"): the input affinity P of X (affinity/symmetric_entropic.hpp's SymmetricEntropicAffinity
/// with TorchDR's TSNEkhorn arguments: perplexity, lr = lr_affinity_in, eps_square = eps_square_affinity_in,
/// tol = tol_affinity_in, max_iter = max_iter_affinity_in, metric, zero_diag = false: dense, diagonal kept; with
/// symmetric_affinity = false EntropicAffinity(perplexity, metric, max_iter = max_iter_affinity_in), sparse), or a
/// given P; the TSNEkhorn objective with the output-side Sinkhorn (loss/tsnekhorn.hpp). TorchDR's TSNEkhorn
/// overrides the exaggerated loss, so an early exaggeration changes only the driver's phases (lr, momentum, the
/// optimizer re-created), never the loss. Defaults: SGD, lr auto max(N/4, 50), momentum "auto" 0.8, pca init
/// scaled to 1e-4, max_iter 2000, min_grad_norm 1e-4.
///
///   torchdr::TSNEkhornOptions opt;                               // TorchDR's defaults
///   NeResult r = torchdr::TSNEkhorn(opt).fit_transform(X);        // P from X
///   NeResult s = torchdr::TSNEkhorn(opt).fit_transform_affinity(P, X);
#include <string>

#include "nembed/core/matrix.hpp"
#include "nembed/core/sparse.hpp"
#include "nembed/loss/tsnekhorn.hpp"
#include "nembed/methods/neighbor_embedding.hpp"

namespace nembed::torchdr {

/// TorchDR's TSNEkhorn parameters (names and defaults as TorchDR's).
struct TSNEkhornOptions : NeighborEmbeddingOptions {
    TSNEkhornOptions() {
        lr.reset();           // "auto"
        min_grad_norm = 1e-4;
        scheduler_kwargs = SchedulerKwargs{};  // TorchDR passes None: torch's defaults for a named scheduler
    }
    double perplexity = 30.0;  ///< < N; in (1, N − 1) for the symmetric affinity
    double lr_affinity_in = 0.1;          ///< SymmetricEntropicAffinity's dual-ascent rate
    bool eps_square_affinity_in = true;   ///< optimise on ε² (more stable)
    double tol_affinity_in = 1e-3;        ///< its stopping threshold on the dual gradients
    int max_iter_affinity_in = 100;       ///< its steps (EntropicAffinity's root-search steps when not symmetric)
    CostMetric metric = CostMetric::sqeuclidean;
    /// false: EntropicAffinity (sparse, the 3·perplexity nearest neighbours, not symmetrised) instead. TorchDR 0.5
    /// then fails (its dense log Q meets the N × k sparse P); here the loss −Σ P log Q + Σ Q is taken over P's
    /// entries, which is what the dense P with zeros elsewhere would give.
    bool symmetric_affinity = true;
    bool unrolling = false;      ///< only false (the gap objective) is implemented
};

class TSNEkhorn {
public:
    using Options = TSNEkhornOptions;
    explicit TSNEkhorn(TSNEkhornOptions options = {}) : options_(std::move(options)) {}
    /// P from X (input_affinity), process_duplicates first.
    NeResult fit_transform(MatrixView<float> X, const TrainHooks& hooks = {}) const;
    /// A given P (n × n); X (n × D) only for init = pca (may be empty otherwise).
    NeResult fit_transform_affinity(const CsrMatrix<double>& P, MatrixView<float> X, const TrainHooks& hooks = {}) const;
    /// The input affinity fit_transform(X) uses (N × N CSR; dense with the symmetric affinity).
    CsrMatrix<double> input_affinity(MatrixView<float> X) const;
    const TSNEkhornOptions& options() const { return options_; }

private:
    NeResult fit_owned(CsrMatrix<double> P, MatrixView<float> X, const TrainHooks& hooks) const;  // P moved in
    TSNEkhornOptions options_;
};

} // namespace nembed::torchdr
