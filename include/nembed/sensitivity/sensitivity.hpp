#pragma once
/// @file sensitivity.hpp
/// Sensitivity and uncertainty of a t-SNE embedding Y* of X by the implicit function theorem
/// (sensitivity.md): g(X, Y*) = 0 gives
///   S = dY*/dX = −(H + λI)⁺ J   (2N × N·D; S[2i + k, j·D + f] = ∂y_ik / ∂x_jf, the seed's layout),
///   Cov(Y) ≈ S Σ_X Sᵀ           (2N × 2N).
/// S is never formed unless asked: products with S cost one solve and one Jacobian product, per-point 2 × 2
/// covariance blocks come from blocks of rows of S streamed through Σ_X, the full covariance from
/// (H + λI)⁺ (J Σ_X Jᵀ) (H + λI)⁺.
///
/// Defaults are the exact analysis (float64, gauge projected out, λ = 0, β held fixed, dense P); see
/// `seed_compatible_options` for the seed's settings.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <Eigen/Dense>

#include "nembed/core/matrix.hpp"
#include "nembed/sensitivity/hessian_solver.hpp"
#include "nembed/sensitivity/input_covariance.hpp"
#include "nembed/sensitivity/tsne_derivatives.hpp"

namespace nembed {

struct SensitivityOptions {
    DerivativeOptions derivatives;  ///< objective: perplexity 30, dense P, β fixed, exact β search
    SolveOptions solve;             ///< λ = 0, gauge projected, dense eigendecomposition up to 2N = 6000
    /// Refine Y* to a stationary point of the differentiated objective first (damped saddle-free Newton with
    /// backtracking on the KL; needs the dense solver). Off by default: the given Y* is analysed as it is.
    bool refine = false;
    int refine_max_iter = 200;
    double refine_tolerance = 1e-10;     ///< stop refining at ‖g‖∞ ≤ this
    /// Warn when ‖g(Y*)‖∞ exceeds this (the analysis assumes g = 0).
    double stationarity_tolerance = 1e-6;
    std::size_t max_output_bytes = std::size_t(4) << 30;  ///< refuse to form S or dense results above this
    /// Matrix-free solver only: estimate this many smallest eigenvalues of H on the gauge complement by Lanczos
    /// (Spectra; one Hessian product per step) for the diagnostics and the indefiniteness warning. 0 = off (the
    /// dense solver always reports its spectrum).
    std::size_t lanczos_eigenvalues = 0;
    /// Matrix-free solver: per-point covariances are estimated from this many samples δY = (H + λI)⁺ J B z,
    /// z ~ N(0, I), B Bᵀ = Σ_X (`point_covariances_sampled`); relative error ≈ 1/√samples for the ellipse areas
    /// (docs/sensitivity.md §3). Each sample costs one Jacobian product and one solve.
    std::size_t covariance_samples = 256;
    std::uint64_t covariance_seed = 0;  ///< counter-based: sample s draws from the stream (seed, s)
};

/// The seed's settings (sensitivity.md §14): its β search (1000 steps, 1e-8 floor), β fixed, dense P,
/// λ = 1e-3 absolute, no gauge projection, pseudo-inverse cutoff 10·2N·ε_float32. Computed in float64.
SensitivityOptions seed_compatible_options(double perplexity);

struct SensitivityDiagnostics {
    double gradient_max = 0.0;      ///< ‖g(Y*)‖∞ (after refinement when asked)
    double gradient_norm = 0.0;     ///< ‖g(Y*)‖₂
    int refine_iterations = 0;
    double kl = 0.0;
    bool dense_spectrum = false;    ///< the rest is filled with the dense solver, or by Lanczos when asked
    std::vector<double> smallest_eigenvalues;  ///< of H (on the gauge complement when projected), ascending
    std::size_t n_negative = 0;     ///< eigenvalues below −1e-10·max|eigenvalue|
    double rotation_residual = 0.0; ///< ‖H r̂‖ / ‖H‖₂ (r̂ the unit rotation mode; 0 at a stationary point)
};

/// Hypothetical outcomes on a great circle in input-noise space (sensitivity.md §11): z(s) = r(x̂ cos s + t̂ sin s),
/// frame k at s_k = 2πk / n_frames is Y* + r(a cos s_k + b sin s_k) with a = S B x̂, b = S B t̂, B Bᵀ = Σ_X.
/// Every frame has the same Gaussian density; the whole orbit costs two solves.
struct HypotheticalOutcomes {
    std::vector<Matrix<double>> frames;  ///< n_frames arrays, N × 2
    Matrix<double> a, b;                 ///< N × 2 each (already multiplied by r)
};

/// Per-input importance from S: squared Frobenius norms of S's column groups, and the seed's
/// "summarised sensitivities" Σ_rows |S| (N × D).
struct SensitivityImportance {
    std::vector<double> per_point;    ///< N: Σ_{r,f} S[r, j·D + f]²
    std::vector<double> per_feature;  ///< D: Σ_{r,j} S[r, j·D + f]²
    Matrix<double> summed_abs;        ///< N × D: Σ_r |S[r, j·D + f]|
};

/// How the share of output variance depends on λ and on the softest modes (dense solver only).
struct VarianceSpectrum {
    std::vector<double> mode_variance;   ///< per eigenmode of H (ascending eigenvalue): (vᵀ J Σ Jᵀ v) / (μ + λ)²
    double soft_share = 0.0;             ///< share of trace Cov(Y) in the `n_soft` modes with smallest |μ + λ|
    std::vector<double> lambdas;         ///< λ values tried
    std::vector<double> trace_cov;       ///< trace Cov(Y) at each λ
};

class TsneSensitivity {
public:
    /// X: N × D data, Y: N × 2 embedding Y* of X. Validates, refines if asked, factorises the Hessian.
    TsneSensitivity(MatrixView<double> X, MatrixView<double> Y, const SensitivityOptions& options = {});

    std::size_t n_points() const { return der_.n_points(); }
    std::size_t n_features() const { return der_.n_features(); }
    const Matrix<double>& embedding() const { return der_.Y(); }
    const TsneDerivatives& derivatives() const { return der_; }
    const HessianSolver& solver() const { return *solver_; }
    const SensitivityDiagnostics& diagnostics() const { return diag_; }

    /// S·U (N·D × m → 2N × m) and Sᵀ·V (2N × m → N·D × m).
    Eigen::MatrixXd apply(const Eigen::MatrixXd& U) const;
    Eigen::MatrixXd apply_transpose(const Eigen::MatrixXd& V) const;
    /// Rows [r0, r0 + m) of S (m × N·D).
    Eigen::MatrixXd rows(std::size_t r0, std::size_t m) const;
    /// The full S (2N × N·D, row-major, the seed's layout). Throws if it exceeds max_output_bytes.
    Matrix<double> jacobian() const;

    /// Cov(Y) = S Σ Sᵀ (2N × 2N).
    Matrix<double> covariance(const InputCovariance& cov) const;
    /// Per-point 2 × 2 blocks of Cov(Y) (N × 4: c_xx, c_xy, c_yx, c_yy), without forming S or Cov(Y). Exact with
    /// the dense solvers; with the matrix-free solver the sampled estimate below (covariance_samples, _seed).
    Matrix<double> point_covariances(const InputCovariance& cov) const;
    /// Unbiased sampled estimate of the same blocks with any solver: (1/s) Σ_s δy_i δy_iᵀ over s samples
    /// δY = −(H + λI)⁺ J B z_s. Each block is a Wishart(C_i, s)/s draw: relative standard deviation √(2/s) for a
    /// variance, ≈ 1/√s for an ellipse area, ≈ 1/√(2s) for an axis (docs/sensitivity.md §3). Sample s depends only
    /// on (seed, s): the same bits for any thread count and block size.
    Matrix<double> point_covariances_sampled(const InputCovariance& cov, std::size_t samples, std::uint64_t seed) const;
    HypotheticalOutcomes hypothetical_outcomes(const InputCovariance& cov, std::size_t n_frames,
                                               std::uint64_t seed) const;
    SensitivityImportance importance() const;
    /// Dense solver only; n_soft ≥ 1; lambdas: the λ values to evaluate trace Cov(Y) at.
    VarianceSpectrum variance_spectrum(const InputCovariance& cov, std::size_t n_soft,
                                       const std::vector<double>& lambdas) const;

private:
    void refine();
    Eigen::MatrixXd unit_rows_transposed(std::size_t r0, std::size_t m) const;  // rows [r0, r0 + m) of S, as columns
    void check_output(std::size_t entries, const char* what) const;

    SensitivityOptions opt_;
    TsneDerivatives der_;
    std::unique_ptr<HessianSolver> solver_;
    SensitivityDiagnostics diag_;
};

} // namespace nembed
