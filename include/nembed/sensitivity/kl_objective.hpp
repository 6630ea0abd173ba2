#pragma once
/// @file kl_objective.hpp
/// The objective side of the sensitivity analysis (docs/sensitivity.md §2, docs/core.md §8): the normalised KL
///   C(Y) = KL(P ‖ Q),  Q_ij = w(D_ij) / Z,  Z = Σ_{i≠j} w(D_ij),  D_ij = ‖y_i − y_j‖²,
/// for a fixed joint P (symmetric, sums to 1) and any Euclidean output kernel w (kernel/kernel.hpp), written with
/// the kernel's w, dlog_w = ℓ', d2log_w = ℓ'' and force_weight f = −w ℓ'. With a_ij = −ℓ'(D_ij), d_ij = y_i − y_j
/// and F_i = Σ_j f(D_ij) d_ij:
///   g_i = 4 Σ_j P_ij a_ij d_ij − (4/Z) F_i      (the true gradient, with its factor 4)
/// and the Hessian and the mixed derivative ∂g_i/∂P_ij = 4 a_ij d_ij (docs/sensitivity.md §2). For t-SNE's
/// Student-t kernel with one degree of freedom a = w, f = w² and these are the seed's formulas.
///
/// Y-space vectors have length 2N, point-major (index 2i + k); blocks are Eigen column-major, one vector per
/// column. Repulsion sums are exact, O(N²) per product. Each call dispatches on the kernel once (std::visit) and
/// runs loops templated on the kernel type; every loop goes through nembed::parallelize with per-point work, so
/// results do not depend on the thread count.
#include <cstddef>
#include <vector>

#include <Eigen/Dense>

#include "nembed/core/matrix.hpp"
#include "nembed/core/sparse.hpp"
#include "nembed/kernel/kernel.hpp"

namespace nembed {

class KlObjective {
public:
    /// P: N × N joint affinities (rows with sorted columns, no diagonal); Y: N × 2; the kernel must be Euclidean
    /// (not the cosine kernel) with valid parameters. Throws InvalidArgument naming the problem.
    KlObjective(CsrMatrix<double> P, MatrixView<double> Y, const OutputKernel& kernel, int n_threads = 1);

    std::size_t n_points() const { return n_; }
    const Matrix<double>& Y() const { return Y_; }
    const CsrMatrix<double>& P() const { return P_; }
    const OutputKernel& kernel() const { return kernel_; }
    /// Z = Σ_{i≠j} w_ij at the current embedding.
    double z() const { return z_; }
    /// F_i = Σ_j f_ij d_ij at the current embedding (2 per point, exact sums).
    const std::vector<double>& forces() const { return F_; }

    /// Moves the embedding (N × 2, finite).
    void set_embedding(MatrixView<double> Y);

    /// KL(P ‖ Q).
    double kl() const;
    /// g = ∂C/∂Y, length 2N.
    Eigen::VectorXd gradient() const;
    /// H·V for a 2N × m block.
    Eigen::MatrixXd hessian_product(const Eigen::MatrixXd& V) const;
    /// The dense Hessian (2N × 2N, symmetric).
    Eigen::MatrixXd hessian() const;
    /// The mixed derivative in P: for the pairs (i, col[e]) of the entries e ∈ [ptr[i], ptr[i + 1]),
    /// out[2e + k] = a_ij (y_i − y_j)_k, so that ∂g_i/∂P_ij = 4·out and a symmetric change δP moves the gradient
    /// by δg_i = 4 Σ_j δP_ij a_ij d_ij. `ptr` has N + 1 entries; out is resized to 2·ptr[N].
    void pair_attraction(const std::vector<std::size_t>& ptr, const std::vector<std::size_t>& col,
                         std::vector<double>& out) const;

private:
    void refresh();

    OutputKernel kernel_;
    int threads_ = 1;
    std::size_t n_ = 0;
    CsrMatrix<double> P_;
    Matrix<double> Y_;
    double z_ = 0.0;
    std::vector<double> F_;  // F_i = Σ_j f_ij d_ij (2 per point)
};

} // namespace nembed
