#pragma once
/// @file affinity_derivatives.hpp
/// The affinity side of the sensitivity analysis (docs/sensitivity.md §1, §2): conditional Gaussian rows
///   p_{j|i} = exp(−β_i D_ij) / Σ_{k∈N(i)} exp(−β_i D_ik),  D_ij = ‖x_i − x_j‖²,  P = (P_c + P_cᵀ) / (2N),
/// over N(i) = every other point (dense) or a neighbour set (the exact k nearest in float64, or the sets that made
/// Y*), with β_i calibrated to a perplexity (nembed's calibration, affinity/perplexity.hpp, or the seed's
/// 1000-step bisection), or given; and the linear maps that differentiate them in X, β held fixed or moved to keep
/// the row entropy (implicit function theorem on the entropy).
///
/// Conditional entries e = (row i, column col[e]) are grouped by row, k per row, columns ascending. The
/// derivative in X runs through two maps per direction: δD (X-space → entries) and the row softmax (entries →
/// entries); the transposes run in reverse order. X-space vectors have length N·D, point-major (index i·D + f).
#include <cstddef>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/core/sparse.hpp"
#include "nembed/sensitivity/derivative_options.hpp"

namespace nembed {

class PerplexityAffinity {
public:
    /// X: N × D, N ≥ 3, finite; the affinity fields of `options` (perplexity, layout, neighbours, β). Throws
    /// InvalidArgument naming the problem.
    PerplexityAffinity(MatrixView<double> X, const DerivativeOptions& options);

    std::size_t n_points() const { return n_; }
    std::size_t n_features() const { return d_; }
    /// Entries per row.
    std::size_t k() const { return k_; }
    /// Whether the rows hold every other point (the dense layout, also for a neighbour set of N − 1 points).
    bool dense() const { return dense_; }
    bool beta_differentiated() const { return diff_; }
    /// X minus its column means (every quantity here depends only on differences of rows).
    const Matrix<double>& X() const { return X_; }
    /// β_i (precision of exp(−β D), D the squared distance).
    const std::vector<double>& beta() const { return beta_; }
    /// Row pointers (N + 1, ptr[i] = i·k) and columns of the conditional entries; the conditional p_{j|i}.
    const std::vector<std::size_t>& ptr() const { return ptr_; }
    const std::vector<std::size_t>& col() const { return col_; }
    const std::vector<double>& conditional() const { return p_; }
    /// For each point j, the entries e with col[e] == j: in_entry()[in_ptr()[j] .. in_ptr()[j + 1]).
    const std::vector<std::size_t>& in_ptr() const { return in_ptr_; }
    const std::vector<std::size_t>& in_entry() const { return in_entry_; }
    /// The joint P = (P_c + P_cᵀ)/(2N) (N × N CSR, columns sorted).
    CsrMatrix<double> joint() const;

    /// δD per entry for one X-direction u (N·D); `work`: N² doubles (dense layout) or unused.
    void entry_dd(const double* u, double* dd, double* work) const;
    /// x̄ (N·D) from per-entry adjoints D̄ (dbar); `work`: 2N² doubles (dense layout) or unused.
    void entry_backprop(const double* dbar, double* xbar, double* work) const;
    /// δp from δD (in place), row by row, β fixed or differentiated.
    void dp_from_dd(double* v) const;
    /// D̄ from p̄ (in place), the transpose of dp_from_dd.
    void dbar_from_pbar(double* v) const;
    /// The same for row i of a block of w right-hand sides (entry-major, leading dimension ld: entry e's values at
    /// v + e·ld); `scratch` holds 2w doubles.
    void dbar_from_pbar_row(std::size_t i, double* v, std::size_t ld, std::size_t w, double* scratch) const;
    /// Rows of the difference matrix Δ_a of point a (D padded to d4 = a multiple of 4): its own k entries first
    /// (2 (x_a − x_col)), then its incoming entries in in_entry order (2 (x_a − x_row)).
    void point_deltas(std::size_t a, std::size_t d4, std::vector<double>& delta) const;

private:
    int threads_ = 1;
    std::size_t n_ = 0, d_ = 0, k_ = 0;
    bool dense_ = true, diff_ = false;
    Matrix<double> X_;
    std::vector<std::size_t> ptr_, col_;
    std::vector<std::size_t> in_ptr_, in_entry_;
    std::vector<double> dist_, p_, beta_, mean_, var_;
};

} // namespace nembed
