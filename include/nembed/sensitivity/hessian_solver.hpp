#pragma once
/// @file hessian_solver.hpp
/// Solves with the t-SNE Hessian at Y*: x = (H + λI)⁺ b restricted to the complement of the gauge modes
/// (sensitivity.md §5, §8, §14). The gauge space G = span{1_x, 1_y, r}, r = (−y_i2, y_i1)_i, holds the two
/// translations (exact null vectors of H) and the rotation (a null vector only at a stationary point); with
/// `project_gauge` the operator is P⊥(H + λI)P⊥ on G⊥ and every solution lies in G⊥. Without it (the seed's
/// convention) the whole of H + λI is (pseudo-)inverted, so the gauge modes get 1/λ.
///
/// Three back-ends: a dense symmetric eigendecomposition (small N: exact pseudo-inverse, spectrum for diagnostics),
/// a dense inverse by Cholesky (Bunch–Kaufman when H + λI is indefinite on the complement; LAPACK when the build
/// found it) for N up to ~20 000, where the per-point covariances need a column of the inverse for every
/// coordinate, and block MINRES (matrix-free Hessian products shared by all right-hand sides of a block; MINRES
/// because H is indefinite away from a minimum).
#include <cstddef>
#include <memory>
#include <string>

#include <Eigen/Dense>

#include "nembed/sensitivity/matrix_free.hpp"
#include "nembed/sensitivity/tsne_derivatives.hpp"

namespace nembed {

enum class HessianSolverKind {
    automatic,  ///< eigendecomposition when 2N ≤ dense_limit, dense inverse when 2N ≤ inverse_limit, else matrix-free
    dense,      ///< eigendecomposition of the (projected) Hessian
    inverse,    ///< dense inverse of the (projected) damped Hessian: memory 8·(2N)² bytes, no spectrum
    minres,     ///< block MINRES with exact (O(N²)) Hessian products
    /// Preconditioned block MINRES with grid-interpolated repulsion (matrix_free.hpp): O(N·k + grid) per product;
    /// per-point covariances by sampling (SensitivityOptions::covariance_samples).
    matrix_free,
};

struct SolveOptions {
    double damping = 0.0;        ///< λ ≥ 0, absolute Tikhonov shift (the seed's: 1e-3)
    /// Inverse solver: when H + λI is not positive definite on the gauge complement (Y* is not a local minimum),
    /// raise λ tenfold, starting from at least 1e-6 of the mean |H_ii|, until the Cholesky succeeds (a Gershgorin
    /// bound ends the search), warn, and use that λ (options().damping then reports it). Off: the exact signed inverse
    /// by LAPACK's Bunch–Kaufman factorisation (several times slower), or MINRES without LAPACK.
    bool damp_to_definite = false;
    bool project_gauge = true;   ///< project out translations and rotation exactly (false = the seed's)
    HessianSolverKind solver = HessianSolverKind::automatic;
    std::size_t dense_limit = 6000;  ///< automatic: dense eigendecomposition up to this many rows (2N)
    std::size_t inverse_limit = 32768;  ///< automatic: dense inverse up to this many rows (8 GiB at the limit)
    /// Dense: shifted eigenvalues with |μ + λ| ≤ rcond·max|μ + λ| count as zero (pseudo-inverse);
    /// 0 = 1e-12 (exact) — the seed-compatible options set 10·2N·ε_float32 (JAX's pinv default).
    double rcond = 0.0;
    double tolerance = 1e-10;    ///< MINRES: stop at ‖r‖ ≤ tolerance·‖b‖
    int max_iter = 0;            ///< MINRES iterations per block; 0 = 20·2N
    std::size_t block_size = 32; ///< right-hand sides per block (they share every Hessian pass)
    MatrixFreeOptions matrix_free;  ///< grid and preconditioner of the matrix-free solver
    /// Matrix-free: stop at ‖r‖_{M⁻¹} ≤ this·‖b‖_{M⁻¹} (preconditioned residual). Looser than `tolerance`: the
    /// products themselves are accurate to ~1e-3..1e-4 (docs/sensitivity.md §3).
    double matrix_free_tolerance = 1e-6;
};

/// "auto", "dense", "inverse", "minres" or "matrix-free" (the front-ends' names); throws InvalidArgument naming
/// the choices.
HessianSolverKind parse_solver_kind(const std::string& name);

/// The gauge basis at Y: 2N × 3, orthonormal (translations x, y, then the rotation made orthogonal to them).
Eigen::MatrixXd gauge_basis(MatrixView<double> Y);

class HessianSolver {
public:
    /// Factorises (dense) or prepares (MINRES). Keeps a reference to `derivatives`: keep it alive.
    HessianSolver(const TsneDerivatives& derivatives, const SolveOptions& options);

    /// (H + λI)⁺ B on the gauge complement (or on all of ℝ^2N without projection), B: 2N × m.
    Eigen::MatrixXd solve(const Eigen::MatrixXd& B) const;

    /// Eigendecomposition back-end (spectrum available).
    bool is_dense() const { return dense_; }
    /// "dense", "inverse" or "minres": the back-end in use.
    const char* kind_name() const { return dense_ ? "dense" : inverse_ ? "inverse" : mf_ ? "matrix-free" : "minres"; }
    /// Matrix-free back-end: its Hessian operator.
    bool is_matrix_free() const { return mf_ != nullptr; }
    const MatrixFreeHessian* matrix_free_hessian() const { return mf_.get(); }
    /// Dense-inverse back-end: `inverse()` is (H + λI)⁺ on the gauge complement (or of all of H + λI), 2N × 2N.
    bool has_inverse() const { return inverse_; }
    const Eigen::MatrixXd& inverse() const { return Q_; }
    /// Dense inverse only: whether H + λI was positive definite on the complement (Cholesky); false means Y* is
    /// not a local minimum of the differentiated objective (negative curvature), solved by Bunch–Kaufman.
    bool definite() const { return definite_; }
    const SolveOptions& options() const { return opt_; }
    const Eigen::MatrixXd& gauge() const { return U_; }
    /// Dense only: eigenvalues (ascending) of H on the gauge complement (or of H), and their eigenvectors.
    const Eigen::VectorXd& eigenvalues() const { return evals_; }
    const Eigen::MatrixXd& eigenvectors() const { return evecs_; }
    /// Dense only: eigenvalues whose shifted value was cut by rcond.
    std::size_t n_cut() const { return n_cut_; }
    /// MINRES: the largest relative residual and iteration count of the last solve.
    double last_residual() const { return last_residual_; }
    int last_iterations() const { return last_iterations_; }
    /// Matrix-free: block iterations (Hessian products of a block) summed over every solve so far, and the blocks.
    long total_iterations() const { return total_iterations_; }
    long total_blocks() const { return total_blocks_; }
    /// Matrix-free with MatrixFreeOptions::coarse_points > 0: the aggregates and the coarse space's dimension (the
    /// rigid motions kept after the gauge projection); 0 without the coarse level.
    std::size_t coarse_aggregates() const { return n_agg_; }
    std::size_t coarse_dimension() const { return coarse_dim_; }

private:
    Eigen::MatrixXd project(const Eigen::MatrixXd& B) const;
    Eigen::MatrixXd project_columns(Eigen::MatrixXd B) const;
    Eigen::MatrixXd apply(const Eigen::MatrixXd& V) const;
    Eigen::MatrixXd minres(const Eigen::MatrixXd& B) const;
    Eigen::MatrixXd apply_matrix_free(const Eigen::MatrixXd& V) const;
    Eigen::MatrixXd apply_preconditioner(const Eigen::MatrixXd& R) const;

    const TsneDerivatives& der_;
    SolveOptions opt_;
    int threads_ = 1;
    void factor_inverse();

    bool dense_ = true;
    bool inverse_ = false;
    bool definite_ = true;
    Eigen::MatrixXd U_, Q_;
    Eigen::VectorXd evals_, inv_;
    Eigen::MatrixXd evecs_;
    std::size_t n_cut_ = 0;
    std::unique_ptr<MatrixFreeHessian> mf_;
    Eigen::MatrixXd block_inverse_;  // matrix-free: N × 3 inverses of |H_ii + λI|
    void build_coarse();
    Eigen::MatrixXd coarse_basis(std::size_t c0, std::size_t m) const;  // columns c0.. of Z (2N × m, dense)
    Eigen::VectorXd coarse_restrict(const Eigen::Ref<const Eigen::VectorXd>& r) const;  // Zᵀ r
    static Eigen::Vector2d coarse_motion(std::size_t k, double x0, double x1);
    // Coarse level: Z has 3 columns per aggregate (x and y translation, rotation about the aggregate's centroid), 6
    // with the affine motions (dilation and two shears added).
    // coarse_inv_ = W |Wᵀ Zᵀ A Z W|⁻¹ Wᵀ (per·n_agg square), W an orthonormal basis of P⊥Z's coordinates.
    std::size_t n_agg_ = 0, coarse_dim_ = 0, coarse_per_ = 3;
    std::vector<std::uint32_t> agg_;
    Eigen::MatrixXd centroid_;  // n_agg × 2
    Eigen::MatrixXd coarse_inv_;
    mutable double last_residual_ = 0.0;
    mutable int last_iterations_ = 0;
    mutable long total_iterations_ = 0, total_blocks_ = 0;
};

} // namespace nembed
