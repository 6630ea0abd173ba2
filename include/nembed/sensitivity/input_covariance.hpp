#pragma once
/// @file input_covariance.hpp
/// The input covariance Σ_X (N·D × N·D over point-major X_flat, index i·D + f) in the forms sensitivity
/// analysis accepts, applied without forming it:
///   scalar s            Σ = s·I
///   per-entry variances Σ = diag(v), v of length N·D (point-major) — the seed's pre-July-2025 convention
///   Kronecker           Σ = kron(sample_cov, feature_cov): sample_cov N × N (between points), feature_cov D × D
///                       (between features); Cov(x_if, x_jg) = sample_cov_ij · feature_cov_fg, the covariance of a
///                       matrix-normal X. Applied as sample_cov · V · feature_covᵀ on V = reshape(v, N, D).
///                       (The seed's `compute_cov(…, D, N)` applies kron(D, N): its first argument must be the
///                       N × N one, opposite to its names — sensitivity.md §7.)
///   dense               Σ given in full (N·D × N·D)
///   low rank + diagonal Σ = L·Lᵀ + diag(v), L: N·D × r
/// Each form also applies a factor B with B·Bᵀ = Σ (for samples and hypothetical outcomes).
#include <cstddef>
#include <vector>

#include <Eigen/Dense>

#include "nembed/core/matrix.hpp"

namespace nembed {

class InputCovariance {
public:
    enum class Kind { scalar, diagonal, kronecker, dense, low_rank };

    static InputCovariance scalar(double variance);
    static InputCovariance diagonal(std::vector<double> variances);
    static InputCovariance kronecker(const Matrix<double>& sample_cov, const Matrix<double>& feature_cov);
    static InputCovariance dense(const Matrix<double>& covariance);
    static InputCovariance low_rank_plus_diagonal(const Matrix<double>& factor, std::vector<double> diagonal);

    Kind kind() const { return kind_; }
    /// Throws InvalidArgument unless the shapes fit N points × D features.
    void check(std::size_t n, std::size_t d) const;
    /// Scalar or diagonal forms: the N·D variances (Σ's diagonal). Throws for the other forms.
    std::vector<double> variances(std::size_t n, std::size_t d) const;
    /// Σ·V for an N·D × m block.
    Eigen::MatrixXd apply(const Eigen::MatrixXd& V, std::size_t n, std::size_t d) const;
    /// Columns of the factor B (Σ = B·Bᵀ).
    std::size_t factor_cols(std::size_t n, std::size_t d) const;
    /// B·Z for a factor_cols × m block.
    Eigen::MatrixXd apply_factor(const Eigen::MatrixXd& Z, std::size_t n, std::size_t d) const;
    /// Σ in full (N·D × N·D); for tests and small problems.
    Eigen::MatrixXd to_dense(std::size_t n, std::size_t d) const;

private:
    Kind kind_ = Kind::scalar;
    double s_ = 1.0;
    std::vector<double> diag_;
    Eigen::MatrixXd A_, B_;        // kron: sample (N × N), feature (D × D); dense: Σ; low rank: L
    Eigen::MatrixXd rootA_, rootB_; // symmetric square roots (kron factors, dense)
};

} // namespace nembed
