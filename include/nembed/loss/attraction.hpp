#pragma once
/// @file attraction.hpp
/// The attractive half of a normalised KL loss (t-SNE, SNE; docs/core.md §2) and the edge sum its value needs,
/// written against the output kernel w(D) of the squared distance D = ‖y_i − y_j‖² (kernel/kernel.hpp), as
/// stand-alone parts that other methods (transform, sensitivity) reuse. All loops run over CSR rows, are parallel
/// over rows through `nembed::parallelize`, allocate nothing, and give bitwise identical results for any thread
/// count. Each call dispatches on the kernel once (std::visit into loops templated on the kernel type).
///
/// The attractive force weight is −d log w/dD: (1 + D/α)^−1 for Student-t (1/(1 + D) for t-SNE), 1/(ε + D) for
/// Cauchy, 1/h for the Gaussian.
#include <cstddef>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/core/sparse.hpp"
#include "nembed/kernel/kernel.hpp"

namespace nembed {

/// Writes, for every row i of P (N x N, or N_new x N_ref with `reference`),
///   out_i = exaggeration · Σ_j p_ij (−dlog_w(‖y_i − y_j‖²)) (y_i − y_j)
/// into `out` (N x d, overwritten): a quarter of the gradient of −exaggeration·Σ_ij p_ij log w_ij for a symmetric P
/// (docs/core.md §2). The exaggeration enters as a factor; P is never modified (openTSNE bug #5).
/// Throws InvalidArgument on shape mismatch, kernel parameters out of range, or the cosine kernel (it lives on the
/// unit sphere; these sums read Euclidean D).
void attractive_forces(const CsrMatrix<double>& P, MatrixView<double> Y, const OutputKernel& kernel,
                       double exaggeration, double* out, int n_threads = 1);

/// Same for new points against a fixed reference: row i of P (N_new x N_ref) pulls Y_new[i] towards reference rows.
void attractive_forces(const CsrMatrix<double>& P, MatrixView<double> Y_new, MatrixView<double> reference,
                       const OutputKernel& kernel, double exaggeration, double* out, int n_threads = 1);

/// P's values rounded to float32, for the two overloads below.
std::vector<float> values_f32(const CsrMatrix<double>& P);
/// The same forces from P's pattern with its values rounded to float32 (`values_f32`, P.nnz() entries, from
/// values_f32(P); P.values is not read). t-SNE's objective uses these: the loop streams 8 bytes per non-zero instead
/// of 12 (docs/tsne.md, "The attraction's row loop"). Each p_ij carries a relative error below 2^-24 (6e-8); everything
/// after the rounding is in double, so each force carries a relative error below 6e-8 of Σ_j |term_j|.
/// InvalidArgument as above, and when values_f32 does not have P.nnz() entries.
void attractive_forces(const CsrMatrix<double>& P, const std::vector<float>& values_f32, MatrixView<double> Y,
                       const OutputKernel& kernel, double exaggeration, double* out, int n_threads = 1);
void attractive_forces(const CsrMatrix<double>& P, const std::vector<float>& values_f32, MatrixView<double> Y_new,
                       MatrixView<double> reference, const OutputKernel& kernel, double exaggeration, double* out,
                       int n_threads = 1);

/// Σ_ij p_ij log w(‖y_i − y_j‖²) over the non-zeros of P; the data-dependent part of the KL divergence.
double sum_p_log_w(const CsrMatrix<double>& P, MatrixView<double> Y, const OutputKernel& kernel, int n_threads = 1);
/// Same with P's columns indexing `reference` (transform).
double sum_p_log_w(const CsrMatrix<double>& P, MatrixView<double> Y_new, MatrixView<double> reference,
                   const OutputKernel& kernel, int n_threads = 1);
/// The partial sums of sum_p_log_w over blocks of `kLogWBlock` rows of Y_new, in block order (their sequential
/// sum from 0 is sum_p_log_w, bitwise): a distributed run chains them over ranks (dist/, docs/mpi.md).
inline constexpr std::size_t kLogWBlock = 256;
std::vector<double> sum_p_log_w_partials(const CsrMatrix<double>& P, MatrixView<double> Y_new,
                                         MatrixView<double> reference, const OutputKernel& kernel, int n_threads = 1);

} // namespace nembed
