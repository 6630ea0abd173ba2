#pragma once
/// @file normalized.hpp
/// TorchDR's NormalizedGaussianAffinity and NormalizedStudentAffinity: a fixed kernel of the cost, normalised in
/// the log domain along TorchDR's `normalization_dim`:
///
///   Gaussian  log A_ij = −C_ij/σ
///   Student   log A_ij = −(ν + 1)/2 · log(1 + C_ij/ν)
///
///   normalization_dim (0, 1)  A / Σ_kl A_kl        (the default: the matrix sums to 1)
///   normalization_dim 1       A_ij / Σ_l A_il / N  (rows sum to 1/N)
///   normalization_dim 0       A_ij / Σ_k A_kj / N  (columns sum to 1/N)
///   normalization_dim None    A
///
/// Dense N x N results (O(N²) as in TorchDR); with zero_diag the diagonal is 0 (log: −∞).
#include <string>

#include "nembed/affinity/cost.hpp"
#include "nembed/core/matrix.hpp"

namespace nembed {

/// TorchDR's normalization_dim: None, 0, 1 or (0, 1).
enum class NormalizationDim { none, dim0, dim1, both };
/// Parses "none", "0", "1", "(0, 1)"/"0,1"/"both"; throws InvalidArgument naming normalization_dim otherwise.
NormalizationDim parse_normalization_dim(const std::string& name);

struct NormalizedGaussianAffinityOptions {
    double sigma = 1.0;  ///< bandwidth σ > 0
    NormalizationDim normalization_dim = NormalizationDim::both;
    CostMetric metric = CostMetric::sqeuclidean;
    bool zero_diag = true;
    int n_threads = 1;
};

struct NormalizedStudentAffinityOptions {
    double degrees_of_freedom = 1.0;  ///< ν > 0
    NormalizationDim normalization_dim = NormalizationDim::both;
    CostMetric metric = CostMetric::sqeuclidean;
    bool zero_diag = true;
    int n_threads = 1;
};

/// The affinity (or its log with `log`) of the rows of X. Throws InvalidArgument for σ or ν <= 0.
template <typename T>
Matrix<double> normalized_gaussian_affinity(MatrixView<T> X, const NormalizedGaussianAffinityOptions& options,
                                            bool log = false);
template <typename T>
Matrix<double> normalized_student_affinity(MatrixView<T> X, const NormalizedStudentAffinityOptions& options,
                                           bool log = false);

namespace torchdr_detail {
/// Normalises log A in place along `dim` (TorchDR's logsumexp_red, then − log N for a single axis); −∞ entries
/// stay −∞; exponentiates unless `log`.
void normalize_log_affinity(Matrix<double>& logA, NormalizationDim dim, bool subtract_log_n, bool log,
                            int n_threads);
} // namespace torchdr_detail

} // namespace nembed
