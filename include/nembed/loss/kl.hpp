#pragma once
/// @file kl.hpp
/// The t-SNE loss KL(P ‖ Q) assembled from cheap pieces, using the one-pass identity with the unnormalised kernel
/// w_ij and Z = Σ_{k≠l} w_kl (tsne.md §9):
///   KL = Σ p_ij log p_ij − Σ p_ij log w_ij + (Σ p_ij) log Z.
/// Σ p log p is constant for a fixed P (compute it once); Σ p log w comes from `sum_p_log_w` (attraction.hpp);
/// Z is returned by every Repulsion estimator.
#include <vector>

#include "nembed/core/sparse.hpp"

namespace nembed {

/// Σ p_ij log p_ij over the positive entries of P (zeros contribute 0). Deterministic.
double sum_p_log_p(const CsrMatrix<double>& P);

/// Row sums of P (used by the per-point normalisation of transform).
std::vector<double> row_sums(const CsrMatrix<double>& P);

/// KL = sum_p_log_p − sum_p_log_w + sum_p · log Z. Throws InvalidArgument if Z <= 0 or is not finite.
double kl_from_parts(double sum_p_log_p, double sum_p_log_w, double sum_p, double Z);

/// openTSNE's exaggeration correction: a KL evaluated with ex·P in place of P (P summing to 1) equals
/// ex·KL + ex·log(ex), so the KL of the real P is error/ex − log(ex). Throws InvalidArgument for ex <= 0.
/// nembed never multiplies P, so its optimizer reports the real KL directly; this is for comparing with values
/// computed the openTSNE way.
double exaggeration_corrected_kl(double error, double exaggeration);

} // namespace nembed
