#pragma once
/// @file tsne_derivatives.hpp
/// Analytic float64 derivatives of the t-SNE objective that sensitivity analysis differentiates
/// (docs/sensitivity.md §1, §2):
///   C(X, Y) = KL(P(X) ‖ Q(Y)),  Q_ij = w_ij / Z,  w_ij = 1 / (1 + ‖y_i − y_j‖²)  (Student-t, one degree of freedom),
///   p_{j|i} = exp(−β_i D_ij) / Σ_{k∈N(i)} exp(−β_i D_ik),  D_ij = ‖x_i − x_j‖²,  P = (P_c + P_cᵀ) / (2N).
/// N(i) is every other point (dense P, the seed's) or the k nearest neighbours of i in X (nembed's kNN P; the
/// neighbour sets are held fixed when differentiating, P is piecewise smooth in X). β_i is calibrated so that the
/// entropy of row i equals log(perplexity), and is either held fixed (the seed's convention) or differentiated
/// through that constraint (implicit function theorem on the entropy).
///
/// The gradient is the true KL gradient, g_i = 4 Σ_j (P_ij − Q_ij) w_ij (y_i − y_j), i.e. with the factor 4
/// (unlike loss/tsne_objective.hpp, which follows openTSNE): a Tikhonov shift λ then means what it means in the seed.
///
/// Vectors in Y-space have length 2N, point-major (index 2i + k); in X-space N·D, point-major (index i·D + f).
/// Blocks of vectors are Eigen column-major matrices, one vector per column. Repulsion sums are exact (O(N²) per
/// product); every loop goes through nembed::parallelize with per-point or per-column work, so results do not
/// depend on the thread count.
#include <cstddef>
#include <vector>

#include <Eigen/Dense>

#include "nembed/core/matrix.hpp"
#include "nembed/core/sparse.hpp"

namespace nembed {

/// Which conditional affinities are differentiated.
enum class SensitivityAffinity {
    dense,  ///< p_{j|i} over all j ≠ i (the seed's)
    knn,    ///< p_{j|i} over the k nearest neighbours of i (exact float64 kNN; nembed's t-SNE)
};

/// How the bandwidths β_i enter the derivative in X.
enum class BandwidthMode {
    fixed,           ///< β held fixed (the seed's stop-gradient)
    differentiated,  ///< β_i(X) keeps the row entropy at log(perplexity)
};

struct DerivativeOptions {
    double perplexity = 30.0;                                ///< > 0; exact search: below the neighbour count
    SensitivityAffinity affinity = SensitivityAffinity::dense;
    /// Dense P keeps every pair: about 28 N² bytes (P and the N × N work arrays of the products) and O(N² D) per
    /// product, 11 GB at 20 000 points. Above this many points the dense layout is refused (use the kNN affinity).
    std::size_t dense_max_points = 20000;
    std::size_t n_neighbors = 0;                             ///< kNN only; 0 = min(N − 1, ⌊3·perplexity⌋) (openTSNE)
    BandwidthMode bandwidth = BandwidthMode::fixed;
    /// true: the seed's search (1000 bisection steps from β = 1, entropy with the +1e-8 sum floor, tolerance 1e-5,
    /// no shift), which also accepts perplexities below 1 (then the floor sets β). false: exact root of the
    /// entropy equation (openTSNE-style bracketing + Newton, tolerance `calibration_tolerance`).
    bool seed_search = false;
    double calibration_tolerance = 1e-12;                    ///< nats; exact search only
    int n_threads = 1;                                       ///< threads for every product (−1 = all cores)
    /// Non-empty: use these β_i (length N, > 0) as given instead of calibrating (e.g. the bandwidths that made
    /// Y*, or to hold β fixed in a finite-difference check).
    std::vector<double> beta;
};

/// The objective at (X, Y) with its derivatives. Holds copies of X and Y.
class TsneDerivatives {
public:
    /// X: N × D, Y: N × 2, N ≥ 3, finite. Throws InvalidArgument naming the problem.
    TsneDerivatives(MatrixView<double> X, MatrixView<double> Y, const DerivativeOptions& options);

    std::size_t n_points() const { return n_; }
    std::size_t n_features() const { return d_; }
    /// Whether P is stored as k nearest neighbours per row (false: every other point, the dense layout, also for a
    /// kNN request with k = N − 1).
    bool knn_layout() const { return !dense_; }
    const DerivativeOptions& options() const { return opt_; }
    /// X minus its column means (every quantity here depends only on differences of rows).
    const Matrix<double>& X() const { return X_; }
    const Matrix<double>& Y() const { return Y_; }
    /// β_i (precision of exp(−β D), D the squared distance).
    const std::vector<double>& beta() const { return beta_; }
    /// The joint P (N × N, symmetric, sums to 1).
    const CsrMatrix<double>& P() const { return P_; }

    /// Moves the embedding (P and its X-derivatives are unchanged); used to refine Y*.
    void set_embedding(MatrixView<double> Y);

    /// KL(P ‖ Q).
    double kl() const;
    /// g = ∂C/∂Y, length 2N.
    Eigen::VectorXd gradient() const;
    /// H·V for a 2N × m block.
    Eigen::MatrixXd hessian_product(const Eigen::MatrixXd& V) const;
    /// The dense Hessian (2N × 2N, symmetric).
    Eigen::MatrixXd hessian() const;
    /// J·U (J = ∂g/∂X, 2N × ND) for an ND × m block.
    Eigen::MatrixXd jacobian_product(const Eigen::MatrixXd& U) const;
    /// Jᵀ·V for a 2N × m block.
    Eigen::MatrixXd jacobian_transpose_product(const Eigen::MatrixXd& V) const;
    /// For each column pair (2r, 2r + 1) of V (2N × m, m even) the 2 × 2 form of u_c = Jᵀv_c under diag(var)
    /// (var: N·D per-entry weights): rows (u_2rᵀ W u_2r, u_2rᵀ W u_2r+1, u_2r+1ᵀ W u_2r+1), an (m/2) × 3 matrix.
    /// With V = (H + λI)⁺ E these are the per-point covariance blocks for per-entry input variances, accumulated
    /// per point without forming Jᵀ·V (which is N·D × m). kNN layout only (`knn_layout()`).
    Eigen::MatrixXd jacobian_transpose_pair_forms(const Eigen::MatrixXd& V, const std::vector<double>& var) const;

private:
    void refresh_embedding();
    Eigen::MatrixXd jacobian_transpose_knn(const Eigen::MatrixXd& V) const;
    static constexpr std::size_t knn_block = 32, knn_chunk = 64;  // columns per pass; points per work chunk
    template <class PointFn, class BlockFn>
    void knn_blocks(const Eigen::MatrixXd& V, PointFn&& point, BlockFn&& block_done) const;
    struct KnnScratch {
        std::vector<double> delta, wt;
    };
    void knn_dbar_block(const double* Vr, std::size_t ld, std::size_t w, double* pb) const;
    void knn_point_product(std::size_t a, const double* pb, std::size_t ld, std::size_t w, KnnScratch& s,
                           double* o) const;
    // δD (entries × 1) for one X-direction u; and x̄ (N·D) for per-entry adjoints D̄.
    void entry_dd(const double* u, double* dd, double* work) const;
    void entry_backprop(const double* dbar, double* xbar, double* work) const;
    // δp from δD (in place) and D̄ from p̄ (in place), row by row.
    void dp_from_dd(double* v) const;
    void dbar_from_pbar(double* v) const;

    DerivativeOptions opt_;
    int threads_ = 1;
    std::size_t n_ = 0, d_ = 0;
    bool dense_ = true;
    Matrix<double> X_, Y_;
    // Conditional entries: row i holds entries [ptr_[i], ptr_[i+1]) with columns col_[e].
    std::vector<std::size_t> ptr_;
    std::vector<std::size_t> col_;
    std::vector<std::size_t> in_ptr_, in_entry_;  // for each j, the entries e with col_[e] == j
    std::vector<double> dist_, p_, beta_, mean_, var_;
    CsrMatrix<double> P_;
    // Embedding-dependent: w·d per entry (2 values), Z and F_i = Σ_j w_ij² d_ij.
    std::vector<double> wd_;
    double z_ = 0.0;
    std::vector<double> F_;
};

} // namespace nembed
