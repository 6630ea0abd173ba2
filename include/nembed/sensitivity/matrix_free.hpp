#pragma once
/// @file matrix_free.hpp
/// Matrix-free Hessian of the sensitivity objective (docs/sensitivity.md §3): H·V with the attraction summed exactly
/// over the sparse P and the repulsion's N-body sums interpolated on an FFT grid (repulsion/grid_convolution.hpp),
/// its 2 × 2 diagonal blocks for a block-Jacobi preconditioner, and preconditioned block MINRES. O(N·k + grid) per
/// product instead of O(N²), for the N = 100 000 scale.
///
/// The repulsive part of (Hv)_i is −(4/Z)[A_i v_i − Σ_j C(y_i − y_j) v_j] with the 2 × 2 kernel
/// C(d) = f(D) I − 2 γ(D) d dᵀ (f the force weight, γ = −df/dD) and A_i = Σ_j C(y_i − y_j), both sums taken on the
/// grid (the j = i term cancels exactly), then −(16/Z²) F_i (F·v) with the exact F and Z of the objective. The
/// interpolated operator is a symmetric Laplacian: symmetric, and the translations stay exact null vectors.
///
/// Near/far split (near_radius > 0, docs/sensitivity.md §3): C = χ C + (1 − χ) C with a smooth cut-off χ(D) that is 1
/// at D = 0 and 0 from D = r_c² on. The near part is summed exactly over the pairs closer than r_c (cell lists over
/// the map, kept with their 2 × 2 coefficients); the far part is smooth on the scale r_c, so a coarse grid (box width
/// far_width) interpolates it. The grid cost no longer grows as (span/0.5)² per column but as (span/far_width)².
///
/// The exact part (the attraction over P's pattern and, with the split, the near pairs) is one list of pair
/// coefficients built once (they depend on Y only), merged per point, in a Hilbert order of the map so that a pair's
/// two points sit close in memory; float32 coefficients (float_coefficients) with float64 accumulation.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <Eigen/Dense>

#include "nembed/core/types.hpp"
#include "nembed/repulsion/grid_convolution.hpp"
#include "nembed/sensitivity/tsne_derivatives.hpp"

namespace nembed {

struct MatrixFreeOptions {
    /// Grid of the repulsive sums. The Hessian's kernels (w², w³ d dᵀ for t-SNE) are narrower than the
    /// repulsion's, hence a box width of 0.5 (openTSNE's 1) by default; the product's error falls ~8x per halving
    /// (docs/sensitivity.md §3).
    double ints_in_interval = 0.5;
    std::size_t n_interpolation_points = 3;
    std::size_t min_num_intervals = 50;
    /// Near/far split radius r_c (map units); 0 = no split, the whole kernel on the grid above. With r_c > 0 the pairs
    /// closer than r_c are summed exactly and the rest on a grid of box width far_width (0 = r_c / 2).
    double near_radius = 0.0;
    double far_width = 0.0;
    /// The exact part's pair coefficients in float32 (16 bytes a pair with its index, against 28 in float64),
    /// accumulated in float64: each coefficient is rounded to 6e-8 relative, far below the grid's error.
    bool float_coefficients = true;
    /// Block-Jacobi preconditioner |H_ii + λI| (2 × 2 blocks, absolute eigenvalues: SPD as MINRES needs).
    bool precondition = true;
    /// Two-level preconditioner (docs/sensitivity.md §3): > 0 adds a coarse correction on the rigid motions (two
    /// translations and a rotation) of aggregates of about this many points, cut from the map's near-pair components
    /// along the Hilbert order. The soft modes at small λ are the clusters' rigid motions, which block-Jacobi does not
    /// reach. Costs 3·(aggregates) Hessian columns once per solver. 0 = block-Jacobi only.
    std::size_t coarse_points = 0;
    /// The coarse level's motions per aggregate: rigid (2 translations, rotation) or affine (also the dilation and
    /// the two shears: the clusters' breathing modes are soft too).
    bool coarse_affine = false;
};

class MatrixFreeHessian {
public:
    /// Keeps a reference to `derivatives` (its P, Y, kernel, Z, F): keep it alive. Throws InvalidArgument for a
    /// kernel the grid cannot interpolate (as the FFT repulsion: Cauchy ε = 0, UMAP with non-integer b).
    MatrixFreeHessian(const TsneDerivatives& derivatives, const MatrixFreeOptions& options);

    /// H·V (2N × m), approximate repulsion.
    Eigen::MatrixXd product(const Eigen::MatrixXd& V) const;
    /// The 2 × 2 diagonal blocks H_ii: N × 3 (h00, h01, h11).
    const Eigen::MatrixXd& diagonal_blocks() const { return diag_; }
    std::size_t grid_nodes() const { return grids_.front()->nodes(); }
    /// Ordered near pairs (i, j) kept by the near/far split (0 without it).
    std::size_t near_pairs() const { return near_count_; }
    /// Ordered pairs of the exact part (P's pattern ∪ near pairs), each stored once per direction.
    std::size_t exact_pairs() const { return pair_idx_.size(); }
    /// Where the time went (wall seconds): building the pair list and the grid, and over all product() calls the
    /// exact part, the grid part, and the right-hand-side columns applied. For reports; product() is not meant to
    /// be called from several threads at once.
    struct Timings {
        double build_pairs = 0.0, build_grid = 0.0, exact = 0.0, grid = 0.0;
        std::size_t columns = 0;
    };
    const Timings& timings() const { return timings_; }
    /// Aggregates of about `target` points each (point i's aggregate at [i], ids 0..count−1): the components of the
    /// near pairs (pairs closer than the split radius; one component without the split) cut along the Hilbert order
    /// into pieces of `target` points; components smaller than target/2 are pooled and cut the same way. A function
    /// of Y and the options alone.
    std::vector<std::uint32_t> aggregates(std::size_t target, std::size_t& count) const;

private:
    void build_pairs(double rc2);

    const TsneDerivatives& der_;
    MatrixFreeOptions opt_;
    int threads_ = 1;
    // One single-threaded grid per worker: the columns of a block are convolved in parallel (a fixed contiguous
    // split), each column by one grid on its own, so its bits do not depend on the worker that ran it.
    std::vector<std::unique_ptr<GridConvolution2d>> grids_;
    std::size_t k00_ = 0, k01_ = 0, k11_ = 0;
    Eigen::MatrixXd A_;     // N × 3: Σ_j C(y_i − y_j) on the grid (self included); the far part with the split
    // The exact part in the Hilbert order order_ (order_[new] = old): CSR over points, neighbour (new index) and the
    // pair's 2 × 2 coefficient (m00, m01, m11) of the Laplacian Σ_j M_ij (v_i − v_j): the attraction's
    // 4p(a I − 2ℓ'' d dᵀ) plus, for near pairs, −(4/Z) χC. One of pair_f_ / pair_d_ holds the coefficients.
    std::vector<index_t> order_;
    std::vector<std::size_t> pair_ptr_;
    std::vector<std::uint32_t> pair_idx_;
    std::vector<float> pair_f_;
    std::vector<double> pair_d_;
    std::size_t near_count_ = 0;
    Eigen::MatrixXd diag_;  // N × 3
    mutable Timings timings_;
};

/// Block MINRES with a symmetric positive definite preconditioner (Paige–Saunders' recurrences, as SciPy's minres):
/// solves A x = b for every column of B, stopping a column when its preconditioned residual ‖r‖_{M⁻¹} falls to
/// tolerance·‖b‖_{M⁻¹}. A and M⁻¹ are applied to the block of still active columns at once. Every column runs its own
/// scalar recurrence, so a column's result does not depend on the others or on the block size. `residual` receives
/// the largest final relative (preconditioned) residual, `iterations` the iteration count. The per-column vector work
/// runs on `threads` workers over the columns (each column by one worker: the same bits for any count).
Eigen::MatrixXd preconditioned_minres(const std::function<Eigen::MatrixXd(const Eigen::MatrixXd&)>& A,
                                      const std::function<Eigen::MatrixXd(const Eigen::MatrixXd&)>& M_inverse,
                                      const Eigen::MatrixXd& B, double tolerance, int max_iter, double& residual,
                                      int& iterations, int threads = 1);

} // namespace nembed
