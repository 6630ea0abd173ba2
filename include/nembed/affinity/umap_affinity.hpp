#pragma once
/// @file umap_affinity.hpp
/// TorchDR's UMAPAffinity: with ρ_i = min_j C_ij over the row's kept entries,
///
///   P_ij = exp(−(C_ij − ρ_i)/σ_i),  σ_i such that Σ_j P_ij = log2(n_neighbors),
///
/// then (symmetrize) the fuzzy union P + Pᵀ − P∘Pᵀ; not normalised (values in (0, 1]). With sparsity each row keeps
/// its n_neighbors − 1 smallest costs (umap-learn's n_neighbors counts the point itself), otherwise every other point.
///
/// How it differs from umap-learn's fuzzy set (fuzzy.hpp), so that it is computed here and not by
/// smooth_knn_distances: the cost is TorchDR's (squared Euclidean by default, not the distance), there is no
/// local_connectivity interpolation and no floor of σ at 1e−3 × the mean distance, entries below ρ are not clamped
/// to 1, and σ comes from TorchDR's bisection (bracket from 1 by halving/doubling, stop at |Σ − target| < 1e−6, at
/// most max_iter steps). The fuzzy union is nembed's (symmetrize.hpp).
#include <vector>

#include "nembed/affinity/cost.hpp"
#include "nembed/core/sparse.hpp"

namespace nembed {

struct UMAPAffinityOptions {
    int n_neighbors = 30;   ///< in (1, N − 1) (TorchDR raises otherwise); counts the point itself
    int max_iter = 1000;    ///< root-search steps
    bool sparsity = true;
    CostMetric metric = CostMetric::sqeuclidean;
    bool zero_diag = true;
    bool symmetrize = true;  ///< fuzzy union P + Pᵀ − P∘Pᵀ
    KnnMethod knn_method = KnnMethod::exact;
    std::size_t knn_shards = 0;  ///< HNSW over this many shards (KnnOptions::hnsw_shards); 0 = one index
    int n_threads = 1;
};

/// The calibration UMAPAffinity runs on each row of a sparse cost (rows ascending; s.indices may be global):
/// ρ_i = the row's smallest cost, σ_i by TorchDR's binary search for Σ_t exp(−(c_t − ρ_i)/σ_i) = log2(n_neighbors),
/// the values exp(−(c − ρ_i)/σ_i) in s's layout; rho and eps receive ρ_i and σ_i. Rows are independent, so a
/// distributed run calibrates its own rows with the same bits.
std::vector<double> umap_affinity_rows(const SparseCost& s, int n_neighbors, int max_iter, int n_threads,
                                       std::vector<double>& rho, std::vector<double>& eps);

class UMAPAffinity {
public:
    explicit UMAPAffinity(UMAPAffinityOptions options = {});
    /// P (N x N CSR) of the rows of X.
    CsrMatrix<double> operator()(MatrixView<float> X);

    const UMAPAffinityOptions& options() const { return options_; }
    const std::vector<double>& rho() const { return rho_; }  ///< TorchDR's rho_
    const std::vector<double>& eps() const { return eps_; }  ///< TorchDR's eps_ (the σ_i)

private:
    UMAPAffinityOptions options_;
    std::vector<double> rho_, eps_;
};

} // namespace nembed
