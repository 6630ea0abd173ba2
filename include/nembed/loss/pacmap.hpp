#pragma once
/// @file pacmap.hpp
/// PaCMAP's loss as TorchDR's PACMAP computes it (docs/torchdr.md, "PACMAP"). With D = ‖z_i − z_j‖² and
/// d̃ = 1 + D, over the three pair sets of a step:
///
///   L = w_NB Σ_{(i,j) ∈ NB} d̃/(10 + d̃) + w_MN Σ_{(i,j) ∈ MN} d̃/(10⁴ + d̃) + w_FP Σ_{(i,j) ∈ FP} 1/(1 + d̃)
///
///  - NB: i with each of its n_neighbors PACMAPAffinity neighbours (fixed);
///  - MN: n_mid_near = ⌊MN_ratio · n_neighbors⌋ mid-near partners per point, re-drawn every step by PaCMAP's rule
///    (affinity/pacmap.hpp: of 6 uniform candidates the second nearest in input space); skipped when w_MN = 0;
///  - FP: n_further = ⌊FP_ratio · n_neighbors⌋ further points per point, re-drawn every step uniformly among the
///    points other than i (and, with exclude_neighbors, other than its NB neighbours).
/// Pairs are directed and plain sums (no normalisation); the gradient is that of L in every position (a pair moves
/// both its ends, as autograd differentiates TorchDR's loss): ∂L/∂z_i = 2c(z_i − z_j), ∂L/∂z_j = −2c(z_i − z_j) with
/// c = ∂ℓ/∂D: w_NB·10/(10 + d̃)², w_MN·10⁴/(10⁴ + d̃)², −w_FP/(1 + d̃)².
///
/// Weights: TorchDR sets (w_NB, w_MN, w_FP) from its iteration counter at the end of each step, starting from −1,
/// so step s (0-based) uses pacmap_weights(s − 1): steps 0..ipp interpolate w_MN from 1000 towards 3 (1009.97 at
/// step 0), steps ipp+1..2·ipp use (3, 3, 1), later ones (1, 0, 1).
///
/// Random draws come from counter-based streams of (seed, step, point) (repulsion/negative_sampling.hpp): the pair
/// sets, and so the gradient, do not depend on the thread count. The gradient is accumulated per row in a fixed
/// order (a row's own pairs, then the pairs that end on it in (head, slot) order), whatever the thread count.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "nembed/affinity/pacmap.hpp"
#include "nembed/core/matrix.hpp"
#include "nembed/core/types.hpp"
#include "nembed/core/vmath.hpp"

namespace nembed {

struct PacmapWeights {
    double w_NB = 0.0, w_MN = 0.0, w_FP = 0.0;
};
/// TorchDR's PACMAP._set_weights at iteration counter `iter` (−1 before training) with iter_per_phase >= 1.
PacmapWeights pacmap_weights(std::int64_t iter, int iter_per_phase);
/// The weights step `step` (0-based) uses: pacmap_weights(step − 1) (see the file comment).
inline PacmapWeights pacmap_step_weights(std::int64_t step, int iter_per_phase) {
    return pacmap_weights(step - 1, iter_per_phase);
}

/// The per-pair terms as functions of D = ‖z_i − z_j‖²: the value and its derivative in D.
struct PacmapTerm {
    double value = 0.0, dD = 0.0;
};
// One division per pair (r = 1/t), the hot loop's cost.
inline PacmapTerm pacmap_near_term(double D) {      // d̃/(10 + d̃)
    const double r = 1.0 / (11.0 + D);
    return {(1.0 + D) * r, 10.0 * r * r};
}
inline PacmapTerm pacmap_mid_near_term(double D) {  // d̃/(10⁴ + d̃)
    const double r = 1.0 / (10001.0 + D);
    return {(1.0 + D) * r, 1e4 * r * r};
}
inline PacmapTerm pacmap_further_term(double D) {   // 1/(1 + d̃)
    const double r = 1.0 / (2.0 + D);
    return {r, -r * r};
}

/// The pair sets' sizes and sampling (TorchDR's names).
struct PacmapPairOptions {
    std::size_t n_mid_near = 5;     ///< ⌊MN_ratio · n_neighbors⌋
    std::size_t n_further = 20;     ///< ⌊FP_ratio · n_neighbors⌋
    bool exclude_neighbors = true;  ///< TorchDR's exclude_neighbors_from_negative_sampling
    int iter_per_phase = 100;       ///< >= 1
    std::uint64_t seed = 0;
};

/// The loss above on fixed data, for the NeighborEmbedding driver (methods/pacmap.hpp: the step from NeStepInfo).
/// Holds a copy of X (the mid-near rule reads input distances every step) and the neighbour pairs.
class PacmapObjective {
public:
    /// Throws InvalidArgument when the sizes disagree, fewer than 7 points (6 mid-near candidates need 6 others),
    /// or no further point is left to draw (exclude_neighbors with n_neighbors >= N − 1).
    PacmapObjective(Matrix<float> X, PacmapNeighbors neighbors, PacmapPairOptions options);

    /// Gradient of the loss of step `step` at Y (N × d) into grad (overwritten); the loss when want_loss, else NaN.
    /// The exaggeration is not used (the weights come from the step).
    double operator()(MatrixView<double> Y, double exaggeration, std::int64_t step, double* grad, bool want_loss);

    /// The pairs of step `step`, (head, tail) in head order then NB, MN, FP slots (MN absent when w_MN = 0).
    struct Pairs {
        std::size_t per_head = 0;    ///< slots per head
        std::size_t n_near = 0, n_mid_near = 0, n_further = 0;
        std::vector<index_t> tails;  ///< n_points × per_head
    };
    Pairs pairs(std::int64_t step, int n_threads = 1) const;
    /// The mid-near partners of point i at step `step` (n_mid_near of them), and the further points.
    void mid_near(std::int64_t step, std::size_t i, index_t* out) const;
    void further(std::int64_t step, std::size_t i, index_t* out) const;

    void set_threads(int n_threads) { n_threads_ = n_threads < 1 ? 1 : n_threads; }
    const PacmapNeighbors& neighbors() const { return nb_; }
    const PacmapPairOptions& options() const { return options_; }
    std::size_t n_points() const { return n_; }

private:
    void layout(bool with_mid_near, Pairs& out) const;  // sizes, tails resized
    void fill_pairs(std::int64_t step, bool with_mid_near, Pairs& out, int n_threads) const;
    void fill_row(std::int64_t step, std::size_t i, const Pairs& p, index_t* out) const;

    std::size_t n_ = 0, stride_ = 0;
    vmath::VBuffer<float> Xp_;             // X, rows zero-padded to stride_ (sqeuclidean_rows_f32)
    PacmapNeighbors nb_;
    PacmapPairOptions options_;
    std::size_t ex_stride_ = 0;            // k rounded up to 8
    std::vector<std::uint32_t> excluded_;  // per point its NB neighbours, padded with UINT32_MAX (FP exclusion)
    int n_threads_ = 1;
    Pairs pairs_;                          // scratch of the last evaluation
    std::vector<double> row_loss_;
    // The tail contributions of a step, per head block sorted by tail bucket (operator()).
    static constexpr std::size_t kHeadBlock = 256, kTailBucket = 512;
    std::vector<std::uint32_t> ent_tail_;
    std::vector<double> ent_delta_;
    std::vector<std::size_t> ent_offset_;  // per head block, kTailBucket-row buckets' starts (+ the end)
};

} // namespace nembed
