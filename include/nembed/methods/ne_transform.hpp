#pragma once
/// @file ne_transform.hpp
/// TorchDR 0.5's non-parametric transform of NegativeSamplingNeighborEmbedding (docs/torchdr.md, "UMAP (TorchDR's)
/// and transform") for UMAP, LargeVis and InfoTSNE: new points are placed against the frozen training embedding.
///
///  1. k = max(2, min(requested, n_train − 1)) nearest training points of each new point (n_train >= 3), requested
///     = n_neighbors (UMAP) or ⌊3·perplexity⌋; costs C in the method's metric (sqeuclidean), clamped at 0;
///  2. the bipartite affinity: UMAP ρ = 0, σ_i such that Σ_{t>=1} exp(−C_it/σ_i) = log2(n_neighbors) (the nearest
///     column left out of the sum, kept in the graph), A_it = exp(−C_it/σ_i); LargeVis/InfoTSNE the entropic row of
///     perplexity ξ (the raw perplexity; ξ > k refused, ξ = k uniform) normalised to 1, divided by n_new;
///  3. init: Σ_t A_it·Y_train[nn_it] / max(Σ_t A_it, 1e-10); UMAP snaps a row with a zero-cost neighbour to that
///     neighbour's position (the first in neighbour order);
///  4. min(max_iter/3, 100) steps of torch SGD (no momentum) at a quarter of the fit's learning rate (lr, or
///     "auto" max(n_train/early_exaggeration_coeff/4, 50)), decayed linearly lr·(1 − t/T); only the new points
///     move, with λ = 1 and the method's ρ. UMAP: its closed-form step on the bipartite graph (loss/umap_ne.hpp,
///     pull not doubled, epochs_per_sample over T with p >= A_max/T kept); LargeVis/InfoTSNE: their losses on the
///     bipartite affinity with n_negatives uniform draws over the training points (loss/ne_transform_loss.hpp).
///
/// The optimisation runs on the one Trainer with TorchDR's plan (train/ne_plan.hpp). Bad input (feature counts
/// that differ, X_train and Y_train of different lengths, Y_train's width not n_components, fewer than 3 training
/// points) throws InvalidArgument.
#include <cstddef>
#include <vector>

#include "nembed/affinity/cost.hpp"
#include "nembed/core/matrix.hpp"
#include "nembed/core/sparse.hpp"
#include "nembed/methods/neighbor_embedding.hpp"
#include "nembed/methods/torchdr_umap.hpp"

namespace nembed::torchdr {

/// New points' nearest training points, ascending cost within a row (ties by the smaller index).
struct BipartiteNeighbors {
    std::size_t n_new = 0, n_train = 0, k = 0;
    std::vector<index_t> indices;  ///< n_new * k
    std::vector<double> costs;     ///< n_new * k, >= 0
};

/// TorchDR's _get_n_neighbors_transform: max(2, min(requested, n_train − 1)); throws for n_train < 3.
std::size_t transform_n_neighbors(std::size_t n_train, std::size_t requested);
/// The k nearest training points of each new point under `metric` (sqeuclidean or euclidean).
BipartiteNeighbors transform_neighbors(MatrixView<float> X_new, MatrixView<float> X_train, std::size_t k,
                                       CostMetric metric, KnnMethod method, int n_threads);
/// UMAP's bipartite affinity (n_new x n_train CSR, columns sorted).
CsrMatrix<double> umap_bipartite_affinity(const BipartiteNeighbors& nb, int n_neighbors, int max_iter_affinity,
                                          int n_threads);
/// The entropic bipartite affinity of LargeVis and InfoTSNE (rows sum to 1/n_new).
CsrMatrix<double> entropic_bipartite_affinity(const BipartiteNeighbors& nb, double perplexity, int max_iter_affinity,
                                              int n_threads);
/// The initial positions (step 3); snap_exact: UMAP's exact-match rule.
Matrix<double> transform_initial_embedding(const CsrMatrix<double>& A, const BipartiteNeighbors& nb,
                                           MatrixView<double> Y_train, bool snap_exact);
/// TorchDR's _get_max_iter_transform: min(max_iter / 3, 100).
int transform_max_iter(int max_iter);
/// TorchDR's _get_transform_learning_rate: the fit's initial learning rate / 4.
double transform_learning_rate(const NeighborEmbeddingOptions& options, std::size_t n_train);
/// Runs `loss` from Y0 (n_new x d) for n_steps of SGD (no momentum) at lr·(1 − t/n_steps), λ = 1 and ρ =
/// repulsion_strength, on the Trainer with TorchDR's plan; returns the positions (Y0 when n_steps = 0).
Matrix<double> run_ne_transform(Matrix<double> Y0, NeGradient loss, double lr, int n_steps, double repulsion_strength,
                                int n_threads, TrainHooks hooks);

/// The transforms (see the file comment); return n_new x n_components.
Matrix<double> transform(const UMAPOptions& options, MatrixView<float> X_new, MatrixView<float> X_train,
                         MatrixView<double> Y_train, const TrainHooks& hooks = {});
Matrix<double> transform(const LargeVisOptions& options, MatrixView<float> X_new, MatrixView<float> X_train,
                         MatrixView<double> Y_train, const TrainHooks& hooks = {});
Matrix<double> transform(const InfoTSNEOptions& options, MatrixView<float> X_new, MatrixView<float> X_train,
                         MatrixView<double> Y_train, const TrainHooks& hooks = {});

} // namespace nembed::torchdr
