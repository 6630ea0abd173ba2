#pragma once
/// @file umap_ne.hpp
/// TorchDR 0.5's UMAP step (docs/torchdr.md, "UMAP (TorchDR's) and transform"): closed-form gradients, no autograd,
/// as an `NeGradient` of TorchDR's plan (train/ne_plan.hpp). Distinct from umap-learn's sequential per-edge SGD
/// (methods/umap.hpp): every step computes one gradient for all points and the optimizer applies it at once.
///
/// The edges are the non-zeros (i, j) of P in row order (row i the source: only sources move). Each edge has
/// epochs_per_sample e = A_max/p (A_max the largest p), infinite (never sampled) when p <= A_max/n_epochs (fit) or
/// p < A_max/n_epochs (transform); its counter starts at e. At step t (0-based) an edge is active when its counter
/// is <= t + 1, and every active edge's counter then grows by e. With w = 1/(1 + a·D^b) (UmapCurve, D = ‖y_i − r_j‖²,
/// r the reference rows: Y itself at fit, the frozen training embedding at transform):
///
///   attraction of source i  A_i = f · Σ_{active (i,j)} clip(c⁺(D)·(y_i − r_j)),   c⁺ = −2·dlog_w(D) (0 at D = 0)
///   repulsion of source i   R_i = Σ_{s < rate·active_i} clip(c⁻(D)·(y_i − r_k_s)), c⁻ = −2b/((D + 0.001)(1 + a·D^b))
///   gradient                g_i = λ·A_i + ρ·R_i
///
/// clip is to [−4, 4] per coordinate and per edge, before the sum; f = 2 at fit (P is symmetric: the reverse edge
/// stands for the target's move) and 1 at transform; active_i counts the source's active edges and rate is
/// negative_sample_rate. Each negative k_s is uniform over the candidates: at fit the n − 1 other points (and,
/// with exclude_neighbors_from_negative_sampling, not one of the row's columns of P), at transform every
/// reference point (optionally not one of the row's columns). Draws come from counter-based streams keyed by
/// (seed, step, source), so nothing depends on the thread count.
///
/// TorchDR computes no loss for UMAP; the value returned when asked is nembed's diagnostic: the sampled
/// cross-entropy of the step, λ·Σ_active −log w + ρ·Σ_negatives −log(1 − w) (1 − w floored at 1e-300).
/// The edge schedule is state: steps are expected in order (a step out of order replays the schedule from 0).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/core/sparse.hpp"
#include "nembed/kernel/kernel.hpp"
#include "nembed/train/ne_plan.hpp"

namespace nembed {

/// What TorchDR's UMAP step needs besides P.
struct NeUmapSettings {
    UmapCurve curve;                    ///< (a, b) of the output kernel
    int negative_sample_rate = 5;       ///< negatives per active edge (>= 0)
    bool exclude_neighbors = false;     ///< exclude_neighbors_from_negative_sampling
    std::uint64_t seed = 0;             ///< random_state
    int n_threads = 1;
};

class NeUmapLoss {
public:
    /// Fit: P (n x n, non-negative, finite; UMAPAffinity's symmetric graph) with the schedule over max_iter steps.
    /// Throws InvalidArgument for a bad P or settings, or (with exclusions) a point that neighbours every other.
    NeUmapLoss(const CsrMatrix<double>& P, int max_iter, const NeUmapSettings& settings);
    /// Transform: P (n_new x n_ref) from new points to the frozen `reference` (n_ref x d) with the schedule over
    /// n_epochs steps.
    NeUmapLoss(const CsrMatrix<double>& P, Matrix<double> reference, int n_epochs, const NeUmapSettings& settings);

    double operator()(MatrixView<double> Y, const NeStepInfo& info, double* grad, bool want_loss);

    /// For tests: the per-edge epochs_per_sample (edge order = P's non-zeros), the active mask of the last step,
    /// and the last step's negatives (CSR over sources, in draw order).
    const std::vector<double>& epochs_per_sample() const { return epochs_per_sample_; }
    const std::vector<std::uint8_t>& last_active() const { return active_; }
    const std::vector<std::int64_t>& last_negatives_ptr() const { return neg_ptr_; }
    const std::vector<std::uint32_t>& last_negatives() const { return neg_; }

private:
    void init(int n_epochs, bool strict);
    void advance_to(std::int64_t step);  // sets active_ for `step` and moves the counters
    void draw(std::int64_t step);

    CsrMatrix<double> P_;
    bool transform_ = false;
    Matrix<double> reference_;           // transform only
    NeUmapSettings s_;
    std::vector<double> epochs_per_sample_, next_sample_;
    std::vector<std::uint8_t> active_;
    std::vector<std::uint32_t> columns_;  // P's columns as draw exclusions (exclude_neighbors), built once
    std::int64_t next_step_ = 0;
    std::vector<std::int64_t> neg_ptr_;
    std::vector<std::uint32_t> neg_;
    std::vector<double> row_loss_;
};

} // namespace nembed
