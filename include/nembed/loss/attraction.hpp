#pragma once
/// @file attraction.hpp
/// The attractive half of the t-SNE gradient and the edge sums the KL divergence needs, as stand-alone parts that
/// other methods (UMAP-style losses, transform, sensitivity) reuse. All loops run over CSR rows, are parallel over
/// rows through `nembed::parallelize`, allocate nothing, and give bitwise identical results for any thread count.
///
/// Kernel (dof = α): w_ij = (1 + d_ij²/α)^−α. The attractive force uses (1 + d_ij²/α)^−1 = w_ij^(1/α).
#include <cstddef>

#include "nembed/core/matrix.hpp"
#include "nembed/core/sparse.hpp"

namespace nembed {

/// Writes, for every row i of P (N x N, or N_new x N_ref with `reference`),
///   out_i = exaggeration * Σ_j p_ij (1 + ‖y_i − y_j‖²/dof)^−1 (y_i − y_j)
/// into `out` (N x d, overwritten). The exaggeration enters as a factor; P is never modified (openTSNE bug #5).
/// Throws InvalidArgument on shape mismatch or dof <= 0.
void attractive_forces(const CsrMatrix<double>& P, MatrixView<double> Y, double dof, double exaggeration, double* out,
                       int n_threads = 1);

/// Same for new points against a fixed reference: row i of P (N_new x N_ref) pulls Y_new[i] towards reference rows.
void attractive_forces(const CsrMatrix<double>& P, MatrixView<double> Y_new, MatrixView<double> reference,
                       double dof, double exaggeration, double* out, int n_threads = 1);

/// Σ_ij p_ij log w_ij over the non-zeros of P (w as above); the data-dependent part of the KL divergence.
double sum_p_log_w(const CsrMatrix<double>& P, MatrixView<double> Y, double dof, int n_threads = 1);
/// Same with P's columns indexing `reference` (transform).
double sum_p_log_w(const CsrMatrix<double>& P, MatrixView<double> Y_new, MatrixView<double> reference, double dof,
                   int n_threads = 1);

} // namespace nembed
