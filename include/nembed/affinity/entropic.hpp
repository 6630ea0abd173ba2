#pragma once
/// @file entropic.hpp
/// TorchDR's EntropicAffinity: the directed entropic affinity of SNE / t-SNE, P_ij ∝ exp(−C_ij/ε_i) with each ε_i
/// such that the row's Shannon entropy is log(perplexity) (TorchDR writes h(p) = −Σ p(log p − 1) = H + 1 with
/// target log(ξ) + 1: the same root). Rows are normalised, then divided by N (the matrix sums to 1); NOT
/// symmetrised (TSNE symmetrises it itself).
///
/// TorchDR 0.5's rules, kept for equal numbers: the perplexity is truncated to an integer and clamped to [2, N − 2]
/// (a warning says so when that changes it); with `sparsity` each row keeps its k = clamp(3·perplexity, 2, N − 2)
/// smallest costs, otherwise every other point. ε_i is found by nembed's perplexity calibration
/// (affinity/perplexity.hpp: the entropy of exp(−c τ/2) with c = C − min C, so ε = 2/τ), stopped at |H − log ξ| < tol.
#include <cstddef>
#include <vector>

#include "nembed/affinity/cost.hpp"
#include "nembed/core/matrix.hpp"
#include "nembed/core/sparse.hpp"

namespace nembed {

struct EntropicAffinityOptions {
    double perplexity = 30.0;                   ///< effective neighbours (> 0; see the rules above)
    int max_iter = 1000;                        ///< root-search steps per row (TorchDR)
    double tol = 1e-6;                          ///< |entropy − log perplexity| at which a row stops (TorchDR's 1e-6)
    bool sparsity = true;                       ///< keep the k = 3·perplexity smallest costs of each row
    CostMetric metric = CostMetric::sqeuclidean;
    bool zero_diag = true;                      ///< leave the point itself out
    KnnMethod knn_method = KnnMethod::exact;    ///< index for the (sq)euclidean neighbours (cost.hpp)
    std::size_t knn_shards = 0;                 ///< HNSW over this many shards (KnnOptions::hnsw_shards); 0 = one index
    int n_threads = 1;
};

/// TorchDR's effective perplexity for N points: ⌊perplexity⌋ clamped to [2, N − 2]. Throws for perplexity <= 0 or
/// N < 4.
double entropic_perplexity(std::size_t n, double perplexity);
/// The neighbours kept with sparsity: clamp(3·entropic_perplexity, 2, N − 2).
std::size_t entropic_neighbors(std::size_t n, double perplexity);

/// The calibration EntropicAffinity runs on each row of a sparse cost (rows ascending; s.indices may be global
/// column numbers): the row's values exp(−c/ε_i) with its entropy at log(perplexity), normalised to sum to
/// `row_total` (1/N), in s's layout; eps receives each row's ε_i. perplexity: already effective
/// (entropic_perplexity). Rows are independent, so a distributed run calibrates its own rows with the same bits.
std::vector<double> entropic_rows(const SparseCost& s, double perplexity, double row_total,
                                  const EntropicAffinityOptions& options, std::vector<double>& eps);

class EntropicAffinity {
public:
    /// Validates the options (InvalidArgument naming the parameter).
    explicit EntropicAffinity(EntropicAffinityOptions options = {});

    /// P (N x N CSR, rows sum to 1/N) of the rows of X; the k kept entries per row (all N − 1 without sparsity).
    CsrMatrix<double> operator()(MatrixView<float> X);

    const EntropicAffinityOptions& options() const { return options_; }
    /// TorchDR's eps_ of the last call: the bandwidth of each row, P_ij ∝ exp(−C_ij/ε_i).
    const std::vector<double>& eps() const { return eps_; }
    /// The perplexity the last call used after TorchDR's truncation and clamp.
    double effective_perplexity() const { return perplexity_; }

private:
    EntropicAffinityOptions options_;
    std::vector<double> eps_;
    double perplexity_ = 0.0;
};

} // namespace nembed
