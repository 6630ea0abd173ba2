#pragma once
/// @file repulsion.hpp
/// Estimators of the repulsive sums of a normalised loss such as t-SNE's KL (docs/core.md §3; tsne.md §5, §7, §8):
/// exact O(N²), Barnes-Hut (openTSNE's tree and criterion) and FFT-accelerated interpolation (FIt-SNE / openTSNE
/// grid rules), each parameterised by the output kernel w(D) of the squared distance D (kernel/kernel.hpp). With
/// D_ij = ‖y_i − y_j‖² an estimator returns
///   F_i = Σ_{j≠i} force_weight(D_ij) (y_i − y_j)   (force_weight = −dw/dD)   and   Z = Σ_{i≠j} w(D_ij),
/// so the normalised-KL gradient (openTSNE's, without the factor 4; loss/tsne_objective.hpp) is
///   grad_i = ex·Σ_j p_ij (−dlog_w(D_ij)) (y_i − y_j) − ρ·F_i / Z.
/// Student-t with α = 1 (t-SNE) gives F_i = Σ w_ij² (y_i − y_j), Z = Σ w_ij, w_ij = 1/(1 + D_ij).
///
/// Which kernels an estimator takes (`supports`; compute throws InvalidArgument naming the estimator, the kernel
/// and the reason otherwise):
///   exact        every Euclidean kernel (Student-t, Cauchy ε, UMAP curve, Gaussian). Not the cosine kernel: it
///                lives on the unit sphere (D between L2-normalised vectors), these sums read Euclidean D.
///   Barnes-Hut   the same. A summarised cell is at distance > side/θ from the query, so the centre-of-mass
///                summary only evaluates the kernel away from D = 0, where every kernel here is smooth. Kernels
///                singular at D = 0 (Cauchy ε = 0: w = 1/D; UMAP b < 1: force_weight ~ D^(b−1)) additionally need
///                θ < 1/√d: then every point of a summarised cell is at least (1 − θ√d) times the centre-of-mass
///                distance away from the query, so the summary error stays bounded; at larger θ a cell that holds
///                points arbitrarily close to the query can be summarised and the error is unbounded.
///   FFT          Student-t (any α) and the kernels smooth at D = 0 (Cauchy ε > 0, UMAP with an integer b,
///                Gaussian): the scheme interpolates w and force_weight by low-order polynomials on a grid, which
///                needs them smooth in y near D = 0. Refused: Cauchy ε = 0 (unbounded w), UMAP b < 1 (a cusp of w,
///                unbounded force_weight), UMAP with another non-integer b (force_weight ~ D^(b−1) is not smooth:
///                b = 1.2 measured 30 % force error at the default grid), cosine.
///
/// Estimators are stateful: trees, grids, FFT plans and buffers are kept between calls, so the steady state of an
/// optimisation allocates nothing. An object must not be used from several threads at once; it runs its own
/// `n_threads` workers, and its results do not depend on the thread count (exact and Barnes-Hut: bitwise; FFT:
/// within float rounding of the FFT itself, the grids are bitwise identical). Each call dispatches on the kernel
/// once (std::visit into loops templated on the kernel type).
#include <cstddef>
#include <memory>
#include <string>

#include "nembed/core/matrix.hpp"
#include "nembed/core/row_share.hpp"
#include "nembed/kernel/kernel.hpp"

namespace nembed {

class Repulsion {
public:
    virtual ~Repulsion() = default;
    /// Y: N x d embedding. Overwrites forces (N x d) with F_i = Σ_{j≠i} force_weight(D_ij) (y_i − y_j) and returns
    /// Z = Σ_{i≠j} w(D_ij). Throws InvalidArgument for kernel parameters out of range, a kernel or dimension this
    /// estimator does not support (`supports`), non-finite coordinates or a null `forces`.
    virtual double compute(MatrixView<double> Y, const OutputKernel& kernel, double* forces) = 0;
    /// transform: forces on each query from the fixed reference only (no query-query terms);
    /// forces (N_q x d) as above with j over the reference, z[i] = Σ_j w(D(q_i, r_j)).
    virtual void compute_partial(MatrixView<double> reference, MatrixView<double> queries, const OutputKernel& kernel,
                                 double* forces, double* z) = 0;
    /// Why this estimator cannot sum `kernel` in `n_components` dimensions, or "" when it can (kernel parameters
    /// are assumed valid; see `validate` in kernel.hpp).
    virtual std::string unsupported_reason(const OutputKernel& kernel, std::size_t n_components) const = 0;
    /// The estimator's name for messages ("exact repulsion", "Barnes-Hut repulsion", "FFT repulsion").
    virtual std::string name() const = 0;
    bool supports(const OutputKernel& kernel, std::size_t n_components) const {
        return unsupported_reason(kernel, n_components).empty();
    }
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
/// Student-t α = 1 uses the charges [1, y, |y|²] (1-D: [1, y, y²]) with the kernel w² (one kernel spectrum, since
/// w = (1 + D)·w²); every other kernel uses [1, y] with K1 = force_weight for the forces and [1] with K2 = w for Z
/// (two spectra). Charges are taken relative
/// to the grid centre (translation invariance; less cancellation in float than raw coordinates). The circulant
/// embedding is padded to the next even length >= 2n with factors 2, 3, 5 only (kissfft is slow for 7, 11, 13);
/// the grid itself follows openTSNE's rules exactly. Grids and FFTs are float32, per-point sums double.
/// Accuracy at the defaults is the scheme's (openTSNE's): about 2-3e-2 relative force error on 2000 clustered
/// points with box width ~1, falling ~8x per halving of ints_in_interval (tests/repulsion/test_repulsion_fft.cpp).
/// Kernels that vary on a scale below the node spacing (a small Gaussian bandwidth or Cauchy ε) need a finer grid
/// (smaller ints_in_interval); the estimator does not check this.
///
/// compute_partial() builds a grid on the reference once (square centred on the reference's bounding box, half
/// width 1.25 × half its span, i.e. padded 25 %) and caches the potentials while the reference (address, shape,
/// content hash), kernel and options are unchanged; queries are interpolated from it. Queries outside the padded grid
/// are summed exactly against the reference (correct, but O(N_ref) each), so callers need not clip for correctness.
std::unique_ptr<Repulsion> make_fft_repulsion(const FftOptions& options = {});
/// The FFT estimator run by several processes (dist/, docs/mpi.md): compute(Y) takes the full Y (every process
/// holds it) but locates and scatters only rows [share.begin, share.end), chains the charge grids over processes
/// with share.fold (each node adds its points in global index order, as one process does), convolves the grids
/// on every process (redundant: the grids are small next to N), and writes forces only for the owned rows; Z is
/// the full sum, its fixed 1024-row partials chained in block order. share.begin must be a multiple of 1024.
/// Bitwise the single-process result for any split. compute_partial is not distributed.
std::unique_ptr<Repulsion> make_fft_repulsion(const FftOptions& options, RowShare share);

/// The smallest FFT-friendly box count >= n from openTSNE's 206-entry list (20 .. 1000, numbers 2^a 3^b 5^c 7^d,
/// optionally times one 11 or 13); n > 1000 gives the cap 1000, n < 20 gives 20.
std::size_t fft_friendly_size(std::size_t n);

/// Boxes per dimension for a grid of width `span`: fft_friendly_size(max(min_num_intervals,
/// ceil(span / ints_in_interval))), capped at 1000. Throws InvalidArgument for ints_in_interval <= 0.
std::size_t fft_box_count(double span, std::size_t min_num_intervals, double ints_in_interval);

} // namespace nembed
