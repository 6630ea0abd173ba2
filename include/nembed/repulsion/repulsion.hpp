#pragma once
/// @file repulsion.hpp
/// Estimators of the t-SNE repulsive forces (tsne.md §5, §7, §8): exact O(N²), Barnes-Hut (openTSNE's tree and
/// criterion) and FFT-accelerated interpolation (FIt-SNE / openTSNE grid rules). With w_ij = (1 + |y_i − y_j|²/α)^−α,
/// α = dof, an estimator returns
///   F_i = Σ_{j≠i} w_ij^((α+1)/α) (y_i − y_j)   and   Z = Σ_{i≠j} w_ij,
/// so the openTSNE gradient (no factor 4) is grad_i = ex·Σ_j p_ij (1 + d_ij²/α)^−1 (y_i − y_j) − F_i / Z.
///
/// Estimators are stateful: trees, grids, FFT plans and buffers are kept between calls, so the steady state of an
/// optimisation allocates nothing. An object must not be used from several threads at once; it runs its own
/// `n_threads` workers, and its results do not depend on the thread count (exact and Barnes-Hut: bitwise; FFT:
/// within float rounding of the FFT itself, the grids are bitwise identical).
#include <cstddef>
#include <memory>

#include "nembed/core/matrix.hpp"

namespace nembed {

class Repulsion {
public:
    virtual ~Repulsion() = default;
    /// Y: N x d embedding. Overwrites forces (N x d) with F_i = Σ_{j≠i} w_ij^((a+1)/a) (y_i − y_j), where
    /// w_ij = (1 + |y_i − y_j|²/a)^(−a), a = dof, and returns Z = Σ_{i≠j} w_ij.
    /// Throws InvalidArgument for dof <= 0, an unsupported d, non-finite coordinates or a null `forces`.
    virtual double compute(MatrixView<double> Y, double dof, double* forces) = 0;
    /// transform: forces on each query from the fixed reference only (no query-query terms);
    /// forces (N_q x d) as above with j over the reference, z[i] = Σ_j w(q_i, r_j).
    virtual void compute_partial(MatrixView<double> reference, MatrixView<double> queries, double dof, double* forces,
                                 double* z) = 0;
};

/// Exact O(N²) sums for any dimension, threaded over rows; each row is summed in a fixed order (deterministic).
std::unique_ptr<Repulsion> make_exact_repulsion(int n_threads = 1);

/// Barnes-Hut with openTSNE's tree and criterion, for d = 1, 2, 3 (InvalidArgument above): a 2^d-tree over the
/// bounding cube (side = largest range, centred at (max + min)/2), one point per leaf (exactly coincident points
/// share a leaf), and a cell is summarised by its centre of mass when (full cell side) / distance < theta.
/// theta = 0 is exact. theta < 0 (or not finite) throws InvalidArgument. Note: bhtsne/FIt-SNE's θ uses the half
/// width, so their θ = 0.5 corresponds to about θ = 1 here.
std::unique_ptr<Repulsion> make_barnes_hut_repulsion(double theta = 0.5, int n_threads = 1);

/// FFT-accelerated interpolation settings (openTSNE's names and defaults).
struct FftOptions {
    /// Lagrange nodes per box per dimension; 3 as openTSNE/FIt-SNE (more nodes oscillate, Runge). 1..16.
    std::size_t n_interpolation_points = 3;
    /// Minimum boxes per dimension, so a small (early) embedding still gets a fine enough grid.
    std::size_t min_num_intervals = 50;
    /// Box width in embedding units: the box count grows with the span, ceil(span / ints_in_interval).
    double ints_in_interval = 1.0;
    /// Workers for scatter, FFTs and gather (>= 1).
    int n_threads = 1;
};

/// FFT interpolation for d = 1 or 2 (InvalidArgument otherwise: "FFT repulsion supports 1 or 2 output dimensions").
/// Each call lays a grid over the current bounding square (2-D: joint min/max of both coordinates; 1-D: [min, max])
/// with fft_box_count() boxes per dimension and n_interpolation_points cell-centred nodes per box.
/// dof = 1 uses the charges [1, y, |y|²] (1-D: [1, y, y²]) with the kernel w² (one kernel spectrum); dof ≠ 1 uses
/// [1, y] with K1 = w^((α+1)/α) for the forces and [1] with K2 = w for Z (two spectra). Charges are taken relative
/// to the grid centre (translation invariance; less cancellation in float than raw coordinates). The circulant
/// embedding is padded to the next even length >= 2n with factors 2, 3, 5 only (kissfft is slow for 7, 11, 13);
/// the grid itself follows openTSNE's rules exactly. Grids and FFTs are float32, per-point sums double.
/// Accuracy at the defaults is the scheme's (openTSNE's): about 2-3e-2 relative force error on 2000 clustered
/// points with box width ~1, falling ~8x per halving of ints_in_interval (tests/repulsion/test_repulsion_fft.cpp).
///
/// compute_partial() builds a grid on the reference once (square centred on the reference's bounding box, half
/// width 1.25 × half its span, i.e. padded 25 %) and caches the potentials while the reference (address, shape,
/// content hash), dof and options are unchanged; queries are interpolated from it. Queries outside the padded grid
/// are summed exactly against the reference (correct, but O(N_ref) each), so callers need not clip for correctness.
std::unique_ptr<Repulsion> make_fft_repulsion(const FftOptions& options = {});

/// The smallest FFT-friendly box count >= n from openTSNE's 206-entry list (20 .. 1000, numbers 2^a 3^b 5^c 7^d,
/// optionally times one 11 or 13); n > 1000 gives the cap 1000, n < 20 gives 20.
std::size_t fft_friendly_size(std::size_t n);

/// Boxes per dimension for a grid of width `span`: fft_friendly_size(max(min_num_intervals,
/// ceil(span / ints_in_interval))), capped at 1000. Throws InvalidArgument for ints_in_interval <= 0.
std::size_t fft_box_count(double span, std::size_t min_num_intervals, double ints_in_interval);

} // namespace nembed
