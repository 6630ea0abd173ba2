#pragma once
/// @file self_tuning.hpp
/// TorchDR's kNN-normalised affinities with a per-point bandwidth σ_i = the K-th smallest cost of row i (the point
/// itself left out with zero_diag):
///
///   SelfTuningAffinity  log A_ij = −C_ij/(σ_i σ_j), normalised along normalization_dim as normalized.hpp but
///                       without the − log N of a single axis (TorchDR does not subtract it here)
///   MAGICAffinity       A_ij = exp(−C_ij/σ_i), then (A + Aᵀ)/2, then each row divided by its sum (rows sum to 1)
///
/// Dense N x N (as TorchDR). K must lie in [1, N − 1] (K <= N without zero_diag).
#include "nembed/affinity/normalized.hpp"

namespace nembed {

struct SelfTuningAffinityOptions {
    int K = 7;
    NormalizationDim normalization_dim = NormalizationDim::both;
    CostMetric metric = CostMetric::sqeuclidean;
    bool zero_diag = true;
    int n_threads = 1;
};

struct MAGICAffinityOptions {
    int K = 7;
    CostMetric metric = CostMetric::sqeuclidean;
    bool zero_diag = true;
    int n_threads = 1;
};

/// σ_i: the K-th smallest entry of each row of a dense cost (+∞ on the diagonal with zero_diag).
std::vector<double> kth_smallest_cost(const Matrix<double>& C, int K, bool zero_diag, int n_threads);

template <typename T>
Matrix<double> self_tuning_affinity(MatrixView<T> X, const SelfTuningAffinityOptions& options, bool log = false);
template <typename T>
Matrix<double> magic_affinity(MatrixView<T> X, const MAGICAffinityOptions& options);

} // namespace nembed
