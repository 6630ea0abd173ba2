#pragma once
/// @file tsne_derivatives.hpp
/// Analytic float64 derivatives of the objective that sensitivity analysis differentiates (docs/sensitivity.md
/// §1, §2), composed of its two halves:
///   C(X, Y) = KL(P(X) ‖ Q(Y)),  Q_ij = w(‖y_i − y_j‖²) / Z   (objective side, kl_objective.hpp: any Euclidean
///   output kernel; t-SNE's Student-t with one degree of freedom by default),
///   p_{j|i} ∝ exp(−β_i D_ij) over N(i),  P = (P_c + P_cᵀ) / (2N)   (affinity side, affinity_derivatives.hpp).
/// The derivative in X of the gradient is the chain J = (∂g/∂P)(∂P/∂X): the affinity side's maps δD → δp_c, and
/// the objective side's mixed derivative ∂g_i/∂P_ij = 4 a_ij (y_i − y_j) per conditional entry.
///
/// The gradient is the true KL gradient, with its factor 4 (unlike loss/tsne_objective.hpp, which follows
/// openTSNE): a Tikhonov shift λ then means what it means in the seed.
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
#include "nembed/sensitivity/affinity_derivatives.hpp"
#include "nembed/sensitivity/derivative_options.hpp"
#include "nembed/sensitivity/kl_objective.hpp"

namespace nembed {

/// The objective at (X, Y) with its derivatives. Holds copies of X and Y.
class TsneDerivatives {
public:
    /// X: N × D, Y: N × 2, N ≥ 3, finite. With `options.joint` set, the objective uses that P (it must be N × N,
    /// symmetric, non-negative, summing to 1). Throws InvalidArgument naming the problem.
    TsneDerivatives(MatrixView<double> X, MatrixView<double> Y, const DerivativeOptions& options);

    std::size_t n_points() const { return aff_.n_points(); }
    std::size_t n_features() const { return aff_.n_features(); }
    /// The two halves.
    const PerplexityAffinity& affinity() const { return aff_; }
    const KlObjective& objective() const { return obj_; }
    /// Whether P is stored as k nearest neighbours per row (false: every other point, the dense layout, also for a
    /// kNN request with k = N − 1).
    bool knn_layout() const { return !aff_.dense(); }
    const DerivativeOptions& options() const { return opt_; }
    /// X minus its column means (every quantity here depends only on differences of rows).
    const Matrix<double>& X() const { return aff_.X(); }
    const Matrix<double>& Y() const { return obj_.Y(); }
    /// β_i (precision of exp(−β D), D the squared distance).
    const std::vector<double>& beta() const { return aff_.beta(); }
    /// The joint P of the objective (N × N, symmetric, sums to 1): the given one, or (P_c + P_cᵀ)/(2N).
    const CsrMatrix<double>& P() const { return obj_.P(); }

    /// Moves the embedding (P and its X-derivatives are unchanged); used to refine Y*.
    void set_embedding(MatrixView<double> Y);

    /// KL(P ‖ Q).
    double kl() const { return obj_.kl(); }
    /// g = ∂C/∂Y, length 2N.
    Eigen::VectorXd gradient() const { return obj_.gradient(); }
    /// H·V for a 2N × m block.
    Eigen::MatrixXd hessian_product(const Eigen::MatrixXd& V) const { return obj_.hessian_product(V); }
    /// The dense Hessian (2N × 2N, symmetric).
    Eigen::MatrixXd hessian() const { return obj_.hessian(); }
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

    DerivativeOptions opt_;
    int threads_ = 1;
    PerplexityAffinity aff_;
    KlObjective obj_;
    // The mixed derivative per conditional entry e = (i, j): a_ij (y_i − y_j), 2 values (embedding-dependent).
    std::vector<double> wd_;
};

} // namespace nembed
