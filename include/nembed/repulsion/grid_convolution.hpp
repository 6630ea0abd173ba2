#pragma once
/// @file grid_convolution.hpp
/// FFT-accelerated interpolation of general 2-D N-body sums (docs/core.md §3, docs/sensitivity.md §3):
///   φ_o(y_i) = Σ_t c_t Σ_j K_{k_t}(y_i − y_j) q_{s_t}(j)      (the term j = i included)
/// for kernels K(d) of the difference vector that are centrally symmetric, K(−d) = K(d) (radial kernels and
/// d_a d_b·g(‖d‖²) alike: their DFT on the circulant lattice is real), several charge vectors q and outputs that are
/// linear combinations of (kernel, charge) pairs. The FFT repulsion's scheme (FIt-SNE's) with its grid rules
/// (`fft_box_count`, square box over the joint coordinate range, p cell-centred Lagrange nodes per box) and the one FFT
/// interface (fft/fft.hpp), generalised to what the sensitivity's Hessian products need: the t-SNE repulsion needs
/// one radial kernel against the charges [1, y, |y|²]; the Hessian's repulsive part needs the 2 × 2 kernel
/// f(D) I − 2 γ(D) d dᵀ against the two coordinates of each right-hand side.
///
/// The interpolated operator is Wᵀ K W (W the Lagrange weights): symmetric in (i, j) for a symmetric kernel, so a
/// Laplacian built from it keeps the exact null vectors of the exact one. Grids and FFTs are float32, weights and
/// per-point sums double. Deterministic for any thread count: every charge grid is filled by one worker in point
/// order, FFT rows and columns are independent transforms, the gather is per point.
#include <complex>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/fft/fft.hpp"
#include "nembed/repulsion/lagrange.hpp"
#include "nembed/repulsion/repulsion.hpp"

namespace nembed {

class GridConvolution2d {
public:
    /// One term of an output: coefficient × (kernel `kernel` convolved with charge `charge`).
    struct Term {
        std::size_t output, kernel, charge;
        double coefficient = 1.0;
    };

    /// Lays the grid over Y (N × 2, finite): FftOptions' box width, nodes per box, minimum box count and workers.
    GridConvolution2d(MatrixView<double> Y, const FftOptions& options);

    std::size_t n_points() const { return n_; }
    /// Nodes per dimension and their spacing.
    std::size_t nodes() const { return nodes_; }
    double spacing() const { return h_; }

    /// Samples K(dx, dy) on the node lattice and keeps its spectrum; returns the kernel's index. K must satisfy
    /// K(−d) = K(d) (checked on the samples: InvalidArgument otherwise).
    std::size_t add_kernel(const std::function<double(double, double)>& kernel);

    /// charges: n_charges vectors of N values, charge s of point j at charges[s][j·charge_stride]. out: n_outputs
    /// vectors, written at out[o][i·out_stride] (overwritten). Terms name kernels, charges and outputs by index.
    void convolve(const std::vector<const double*>& charges, const std::vector<Term>& terms,
                  const std::vector<double*>& out, std::size_t charge_stride = 1, std::size_t out_stride = 1);

private:
    void locate(std::size_t i, double v, int k);

    std::size_t n_ = 0, p_ = 3, boxes_ = 0, nodes_ = 0, L_ = 0, nc_ = 0;
    int threads_ = 1;
    double lo_ = 0.0, bw_ = 1.0, h_ = 1.0;
    LagrangeNodes lagrange_;                 ///< p cell-centred nodes per box
    std::vector<std::int32_t> box_;          ///< N × 2
    std::vector<double> weights_;            ///< N × 2 × p
    std::vector<std::vector<float>> spectra_;  ///< per kernel: L × nc real spectrum / L²
    RealFft2d fft_;
    std::vector<float> grid_;                                  ///< L × L work array
    std::vector<std::vector<std::complex<float>>> charge_spec_;  ///< per charge
    std::vector<std::complex<float>> out_spec_;
};

} // namespace nembed
