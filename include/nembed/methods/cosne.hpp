#pragma once
/// @file cosne.hpp
/// TorchDR 0.5's COSNE (hyperbolic SNE) on the NeighborEmbedding driver (methods/neighbor_embedding.hpp;
/// docs/torchdr.md "COSNE and TSNEkhorn"): the input affinity P (affinity/entropic.hpp's EntropicAffinity with the
/// arguments TorchDR's COSNE forwards: perplexity, metric, max_iter = max_iter_affinity, sparsity), the COSNE
/// objective (loss/cosne.hpp) and the driver's "RiemannianAdam" (optim/riemannian_adam.hpp) from the "hyperbolic"
/// init (init/hyperbolic.hpp). Points never leave the Poincaré ball: RiemannianAdam's retraction projects them.
/// Everything else is the driver's: lr auto max(N / exaggeration / 4, 50), the early-exaggeration phase and the
/// optimizer re-created after it, schedulers, and the min_grad_norm stop on the Riemannian gradient's norm.
///
///   torchdr::COSNEOptions opt;              // TorchDR's defaults
///   opt.random_state = 0;
///   NeResult r = torchdr::COSNE(opt).fit_transform(X);
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/core/sparse.hpp"
#include "nembed/loss/cosne.hpp"
#include "nembed/methods/neighbor_embedding.hpp"

namespace nembed::torchdr {

/// TorchDR's COSNE parameters (names and defaults as TorchDR's). init other than "hyperbolic" (pca, normal, an
/// array) is scaled as the driver's and optimised on the Euclidean manifold (TorchDR wraps only its hyperbolic init
/// in a ManifoldParameter), so it must stay inside the ball.
struct COSNEOptions : EntropicOptions {
    COSNEOptions() {
        lr.reset();                            // "auto"
        optimizer = "RiemannianAdam";
        optimizer_kwargs = OptimizerKwargs{};  // TorchDR passes None: torch.optim.Adam's defaults
        init = NeInit::hyperbolic;
        init_scaling = 0.5;
    }
    double learning_rate_for_h_loss = 1.0;  ///< λ of the norm-matching term; >= 0
    double gamma = 2.0;                     ///< Q = γ/(D_H + γ²); > 0
};

class COSNE {
public:
    using Options = COSNEOptions;
    explicit COSNE(COSNEOptions options = {}) : options_(std::move(options)) {}
    /// P from X (EntropicAffinity), ‖x_i‖² from X; process_duplicates first.
    NeResult fit_transform(MatrixView<float> X, const TrainHooks& hooks = {}) const;
    /// A given P (n × n); X (n × D) gives the squared input norms of the norm-matching term (and the pca init).
    NeResult fit_transform_affinity(const CsrMatrix<double>& P, MatrixView<float> X, const TrainHooks& hooks = {}) const;
    /// The same with the squared input norms given (X only for init = pca; may be empty otherwise).
    NeResult fit_transform_affinity(const CsrMatrix<double>& P, std::vector<double> x_sqnorm, MatrixView<float> X,
                                    const TrainHooks& hooks = {}) const;
    const COSNEOptions& options() const { return options_; }

private:
    COSNEOptions options_;
};

} // namespace nembed::torchdr
