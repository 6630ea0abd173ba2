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
///
/// Implementation (docs/torchdr.md, "UMAP (TorchDR's) and transform", "Speed"): one parallel pass over the sources
/// with the fixed row split. The schedule is stateless: with r = p/A_max rounded to 31 bits (R = r·2^31), edge e
/// fires at step t iff a multiple of its e lies in (t, t + 1], i.e. iff (t·R mod 2^31) + R >= 2^31 — TorchDR's rule
/// up to the rounding of r (2^-32, below the float32 rounding of TorchDR's own counters). Distances come from the
/// float32 copy of the embedding (TorchDR's precision); D, D^b (umap_pow), the coefficients and the clipped terms are
/// float32, summed per row in double; the gradient and the optimizer's state are double.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/core/sparse.hpp"
#include "nembed/kernel/kernel.hpp"
#include "nembed/loss/ne_loss.hpp"
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
    /// Fit on this rank's rows (loss/ne_loss.hpp NeRowSplit): P_rows = this rank's rows of P (count x N, global
    /// columns). Only sources move, so rows are independent: the owned sources' gradient rows, keyed by their
    /// global index, then all-gathered; the schedule's A_max is the global max. Bitwise the single-process fit.
    NeUmapLoss(const NeRowSplit& rows, const CsrMatrix<double>& P_rows, int max_iter, const NeUmapSettings& settings);
    /// Transform: P (n_new x n_ref) from new points to the frozen `reference` (n_ref x d) with the schedule over
    /// n_epochs steps.
    NeUmapLoss(const CsrMatrix<double>& P, Matrix<double> reference, int n_epochs, const NeUmapSettings& settings);

    double operator()(MatrixView<double> Y, const NeStepInfo& info, double* grad, bool want_loss);

    /// What step `step` uses: the active mask over P's non-zeros and the negatives (CSR over sources, in draw order).
    struct Draws {
        std::vector<std::uint8_t> active;
        std::vector<std::int64_t> neg_ptr;
        std::vector<std::uint32_t> neg;
    };
    /// For tests: the per-edge epochs_per_sample (edge order = P's non-zeros), and step `step`'s draws, computed by
    /// the same functions as the step.
    const std::vector<double>& epochs_per_sample() const { return epochs_per_sample_; }
    Draws draws(std::int64_t step) const;

private:
    void init(int n_epochs, bool strict);
    // The positions in P of row i's edges that fire at step t (t31 = t mod 2^31); returns their count.
    std::size_t active_edges(std::size_t i, std::uint32_t t31, std::uint32_t* out) const;
    // Row i's `count` negatives of step `step` into out.
    void draw_negatives(std::size_t i, std::int64_t step, std::size_t count, std::uint32_t* out) const;
    template <std::size_t kD>
    void rows(const float* Y, const float* R, std::size_t d, const NeStepInfo& info, double* grad, bool want_loss,
              std::size_t rb, std::size_t re);

    NeRowSplit rows_;
    std::size_t row0_ = 0;               // the global index of P_'s first row (rows_)
    std::size_t n_ = 0;                  // the points the sources are drawn from at fit (N)
    CsrMatrix<double> P_;
    bool transform_ = false;
    Matrix<double> reference_;           // transform only
    std::vector<float> reference_f_, yf_;  // float32 copies of the reference (transform) and of the moving points
    NeUmapSettings s_;
    std::vector<double> epochs_per_sample_;
    std::vector<std::uint32_t> rate31_;  // r·2^31 per edge (0: never sampled)
    std::vector<std::uint32_t> columns_;  // P's columns as draw exclusions (exclude_neighbors), built once
    std::size_t max_row_ = 0;            // the longest row of P
    std::vector<double> row_loss_, own_;
};

namespace detail {
/// x^b for x >= 0 in float, branch-free so that loops over it vectorise: 2^(b·log2 x) with log2 x = k + log2 z
/// (z in [0.7, 1.4), the exponent split as musl's logf), log z = 2·atanh(s), s = (z − 1)/(z + 1), by its odd series
/// to s⁹ (|s| < 0.18: truncation 1e-9) and 2^f, f in [−1/2, 1/2], by its Taylor series to f⁷ (5e-9). Relative error
/// ~1e-7·(1 + |b·log2 x|) (the float rounding of b·log2 x); 0^b = 0, inf^b = inf; subnormal x scaled first.
/// glibc's powf and vmath::pow (Eigen's SSE2 packets) both cost ~15 ns a value here; this loop ~1 ns.
inline float umap_pow(float x, float b) {
    const bool sub = x < 1.17549435e-38f;                  // FLT_MIN
    const float xs = sub ? x * 8388608.0f : x;              // × 2^23
    const std::uint32_t ix = std::bit_cast<std::uint32_t>(xs);
    const std::uint32_t tmp = ix - 0x3f330000u;
    const float k = static_cast<float>((static_cast<std::int32_t>(tmp) >> 23) - (sub ? 23 : 0));
    const float z = std::bit_cast<float>(ix - (tmp & 0xff800000u));
    const float s = (z - 1.0f) / (z + 1.0f), s2 = s * s;
    const float ln_z =
        2.0f * s * (1.0f + s2 * (1.0f / 3.0f + s2 * (1.0f / 5.0f + s2 * (1.0f / 7.0f + s2 * (1.0f / 9.0f)))));
    float y = b * (k + ln_z * 1.44269504f);
    y = y < -160.0f ? -160.0f : (y > 130.0f ? 130.0f : y);
    const float fn = (y + 12582912.0f) - 12582912.0f;       // round to nearest (1.5·2^23)
    const float f = y - fn;
    const float e2 = 1.0f + f * (0.693147181f + f * (0.240226507f + f * (0.0555041087f + f * (0.00961812911f +
                     f * (0.00133335581f + f * (0.000154035304f + f * 0.0000152527338f))))));
    // 2^n in two factors, each a normal float, so that subnormal and infinite results come out right.
    const std::int32_t n = static_cast<std::int32_t>(fn), n1 = n / 2, n2 = n - n1;
    const float r = e2 * std::bit_cast<float>(static_cast<std::uint32_t>(n1 + 127) << 23) *
                    std::bit_cast<float>(static_cast<std::uint32_t>(n2 + 127) << 23);
    return x > 0.0f ? (x <= 3.40282347e38f ? r : x) : 0.0f;
}
} // namespace detail

} // namespace nembed
