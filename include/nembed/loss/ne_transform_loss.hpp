#pragma once
/// @file ne_transform_loss.hpp
/// LargeVis's and InfoTSNE's losses in TorchDR's non-parametric transform (methods/ne_transform.hpp): new points
/// y_i against a frozen reference r (the training embedding). A is the bipartite affinity (n_new x n_ref), each new
/// point draws m negatives k uniformly with replacement over the reference points (optionally never one of its
/// columns of A), from counter-based streams of (seed, step, point). With D = ‖y_i − r_·‖² and n = n_new:
///
///   L = λ·(−Σ_it A_it log w_it) + ρ·L_rep,   L_rep = −(1/n) Σ_i Σ_k log(1 − w_ik)   (LargeVis, binary)
///                                            L_rep =  (1/n) Σ_i log Σ_k w_ik        (InfoTSNE, log_sum)
///   ∂L/∂y_i = 2λ·Σ_t A_it (−dlog_w)(y_i − r_t) + Σ_k c_ik (y_i − r_k),
///   c_ik = −(2ρ/n)·f_ik/(1 − w_ik) (binary) or −(2ρ/n)·f_ik/s_i, s_i = Σ_k w_ik (log_sum), f the force weight:
///
/// the gradient autograd gives TorchDR with the reference detached (only the new points' side of each pair).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/core/sparse.hpp"
#include "nembed/kernel/kernel.hpp"
#include "nembed/loss/ne_loss.hpp"
#include "nembed/train/ne_plan.hpp"

namespace nembed {

class NeBipartiteSampledLoss {
public:
    /// Throws InvalidArgument for a bad A, a reference whose length is not A's columns, n_negatives = 0, or (with
    /// exclusions) a row that covers every reference point.
    NeBipartiteSampledLoss(const CsrMatrix<double>& A, Matrix<double> reference, NeSampledRepulsion repulsion,
                           const OutputKernel& kernel, std::size_t n_negatives, bool exclude_neighbors,
                           std::uint64_t seed, int n_threads);
    double operator()(MatrixView<double> Y, const NeStepInfo& info, double* grad, bool want_loss);
    /// The negatives of the last evaluation (n_new x n_negatives, row-major).
    const std::vector<std::uint32_t>& last_negatives() const { return neg_; }

private:
    CsrMatrix<double> A_;
    Matrix<double> reference_;
    NeSampledRepulsion kind_;
    OutputKernel kernel_;
    std::size_t m_;
    bool exclude_;
    std::uint64_t seed_;
    int n_threads_;
    std::vector<std::uint32_t> neg_;
    std::vector<double> rep_;
};

} // namespace nembed
