#pragma once
/// @file symmetric_entropic.hpp
/// TorchDR's SymmetricEntropicAffinity (SNEkhorn / TSNEkhorn's affinity_in): the symmetric matrix
///
///   P_ij = exp((μ_i + μ_j − 2 C_ij)/(ε_i + ε_j))      (ε_i replaced by ε_i² with eps_square)
///
/// whose rows sum to 1 and have entropy h(P_i:) = −Σ_j P_ij(log P_ij − 1) = log(perplexity) + 1, found by TorchDR's
/// dual ascent: from ε = μ = 1, each step takes the gradients g_ε = h(P_i:) − log ξ − 1 (times 2ε with eps_square),
/// g_μ = Σ_j P_ij − 1 and moves (ε, μ) by the optimizer (torch's Adam, or SGD) at rate lr; with eps_square off ε is
/// clamped at 0. It stops when ‖g_ε‖ < tol and ‖g_μ‖ < tol or after max_iter steps. As in TorchDR the result is
/// the matrix the last gradients were computed from (the duals before the last optimizer step), divided by N; so
/// on convergence |N Σ_j P_ij − 1| < tol and |2ε_i(h_i − log ξ − 1)| < tol hold for the returned matrix. Dense: O(N²) memory and time per step, as
/// in TorchDR. Bit-identical for any thread count (rows are independent sums; norms are summed in row order).
#include <vector>

#include "nembed/affinity/cost.hpp"
#include "nembed/core/matrix.hpp"
#include "nembed/optim/optimizer.hpp"

namespace nembed {

struct SymmetricEntropicAffinityOptions {
    double perplexity = 30.0;  ///< in (1, N − 1) (TorchDR raises otherwise)
    double lr = 0.1;
    bool eps_square = true;    ///< optimise on ε² (TorchDR's default; more stable)
    double tol = 1e-3;
    int max_iter = 500;
    OptimizerOptions::Kind optimizer = OptimizerOptions::Kind::adam;  ///< "Adam" (default) or "SGD"
    CostMetric metric = CostMetric::sqeuclidean;
    bool zero_diag = true;     ///< P_ii = 0 (TorchDR's default; TSNEkhorn passes false)
    int n_threads = 1;
};

class SymmetricEntropicAffinity {
public:
    explicit SymmetricEntropicAffinity(SymmetricEntropicAffinityOptions options = {});

    /// P (N x N, dense) of the rows of X, or log P with `log` (−∞ on the diagonal with zero_diag).
    template <typename T>
    Matrix<double> operator()(MatrixView<T> X, bool log = false);

    const SymmetricEntropicAffinityOptions& options() const { return options_; }
    /// The duals of the returned matrix (ε before squaring). TorchDR's eps_ and mu_ are one optimizer step further.
    const std::vector<double>& eps() const { return eps_; }
    const std::vector<double>& mu() const { return mu_; }
    int n_iter() const { return n_iter_; }                   ///< TorchDR's n_iter_: the index of the last step

private:
    SymmetricEntropicAffinityOptions options_;
    std::vector<double> eps_, mu_;
    int n_iter_ = 0;
};

} // namespace nembed
