#pragma once
/// @file affinity_matcher.hpp
/// TorchDR 0.5's generic AffinityMatcher (docs/torchdr.md "AffinityMatcher"): min_Z loss_fn(P, affinity_out(Z)),
/// P any input affinity (dense or sparse, N x N: the Python side computes it by calling TorchDR's affinity_in
/// object), the objective loss/affinity_matcher.hpp, run on the one NeighborEmbedding driver
/// (run_neighbor_embedding: TorchDR's AffinityMatcher loop is the same loop without exaggeration). Defaults are
/// TorchDR's AffinityMatcher ones: Adam, lr 1 ("auto" is 1 too), optimizer_kwargs None (torch's defaults), no
/// scheduler (scheduler_kwargs None: torch's defaults for a named one), max_iter 1000, min_grad_norm 1e-7,
/// check_interval 50, init "pca" scaled to init_scaling 1e-4, loss_fn "square_loss".
///
/// TorchDR's NeighborEmbedding base class cannot be used on its own (its _compute_attractive_loss and
/// _compute_repulsive_loss raise NotImplementedError), so it has no counterpart here.
///
///   torchdr::AffinityMatcherOptions opt;
///   opt.affinity_out = MatcherAffinityOut::normalized_gaussian;
///   NeResult r = torchdr::AffinityMatcher(opt).fit_transform_affinity(P, X);
#include <optional>

#include "nembed/core/matrix.hpp"
#include "nembed/core/sparse.hpp"
#include "nembed/loss/affinity_matcher.hpp"
#include "nembed/methods/neighbor_embedding.hpp"

namespace nembed::torchdr {

/// TorchDR's AffinityMatcher parameters. The exaggeration and repulsion fields of the base are not TorchDR's
/// AffinityMatcher parameters: they must stay 1 (InvalidArgument otherwise).
struct AffinityMatcherOptions : NeighborEmbeddingOptions {
    AffinityMatcherOptions() {
        optimizer = "Adam";
        lr = 1.0;
        max_iter = 1000;
        optimizer_kwargs = OptimizerKwargs{};  // None: torch's defaults (SGD: no momentum)
        scheduler_kwargs = SchedulerKwargs{};  // None: torch's defaults
    }
    std::optional<MatcherAffinityOut> affinity_out;  ///< TorchDR's None is refused
    NormalizedGaussianAffinityOptions gaussian;      ///< parameters of affinity_out = NormalizedGaussianAffinity
    NormalizedStudentAffinityOptions student;        ///< ... NormalizedStudentAffinity
    SinkhornAffinityOptions sinkhorn;                ///< ... SinkhornAffinity
    MatcherLossFn loss_fn = MatcherLossFn::square_loss;
};

class AffinityMatcher {
public:
    using Options = AffinityMatcherOptions;
    explicit AffinityMatcher(AffinityMatcherOptions options = {}) : options_(std::move(options)) {}
    /// P: N x N (TorchDR's affinity_in_); X (N x D) only for init = pca (may be empty otherwise). lr unset
    /// ("auto") is 1, TorchDR's AffinityMatcher rule. Throws InvalidArgument naming a bad parameter.
    NeResult fit_transform_affinity(const CsrMatrix<double>& P, MatrixView<float> X,
                                    const TrainHooks& hooks = {}) const;
    /// The objective fit_transform_affinity runs (tests, callers evaluating L and ∂L/∂Z).
    AffinityMatcherObjective objective(const CsrMatrix<double>& P) const;
    const AffinityMatcherOptions& options() const { return options_; }

private:
    AffinityMatcherOptions options_;
};

} // namespace nembed::torchdr
