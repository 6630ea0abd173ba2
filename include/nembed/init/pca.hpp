#pragma once
/// @file pca.hpp
/// Principal component analysis, used both as preprocessing (`--pca 50`) and as the t-SNE/UMAP initialisation.
///
/// Method: column means and the D x D scatter matrix (X - mean)^T (X - mean) are accumulated in double over fixed
/// blocks of rows (blocked Eigen GEMM; blocks and the order partials are added depend only on N and D, so results
/// are bit-identical for any thread count), then a dense symmetric eigendecomposition of the D x D matrix.
/// Cost O(N D^2 + D^3): about 2-3 s for 70 000 x 784 on two cores. Meant for D up to a few thousand.
///
/// Sign convention (scikit-learn >= 1.5 `svd_flip(u_based_decision=False)`): in every component the entry with the
/// largest absolute loading is positive (the first such entry on exact ties).
#include <cstddef>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/core/row_share.hpp"

namespace nembed {

struct PcaResult {
    Matrix<float> scores;                     ///< N x n_components: (X - mean) * components^T
    std::vector<double> mean;                 ///< D column means
    Matrix<double> components;                ///< n_components x D, orthonormal rows, by descending variance
    std::vector<double> explained_variance;   ///< eigenvalues of the covariance (divided by N - 1, as scikit-learn)
    double total_variance = 0.0;              ///< trace of the covariance (sum over all D directions)

    /// Projects new rows (same D) onto the components: (Xnew - mean) * components^T. Throws InvalidArgument for a
    /// dimension mismatch or non-finite values.
    Matrix<float> transform(MatrixView<float> X, int n_threads = 1) const;
};

/// PCA of X (N x D, finite, N >= 2) keeping 1 <= n_components <= min(N, D) components. Throws InvalidArgument
/// otherwise.
PcaResult pca(MatrixView<float> X, std::size_t n_components, int n_threads = 1);
/// The same PCA of N rows held by several processes (dist/, docs/mpi.md): X holds rows [share.begin, share.end);
/// the column sums and the scatter matrix are chained over processes by share.fold in block order, so every process
/// gets bitwise the single-process mean and components. scores: this process's rows only.
PcaResult pca(MatrixView<float> X, std::size_t n_rows_total, std::size_t n_components, int n_threads,
              const RowShare& share);

/// The leading n_components only (n_components < D / 2), by Spectra's Lanczos solver on the covariance applied
/// implicitly, x -> (X - mean)^T (X - mean) x / (N - 1) over fixed row blocks added in block order (the same bits
/// for any thread count): O(N D) per product instead of pca()'s O(N D^2 + D^3), which matters for wide data (784
/// pixels) and few components (a parametric routine's 2-D PCA targets). Components agree with pca()'s to the solver
/// tolerance (1e-10), with the same sign convention; total_variance is the exact trace. Falls back to pca() when
/// n_components >= D / 2. Throws InvalidArgument as pca() does.
PcaResult pca_leading(MatrixView<float> X, std::size_t n_components, int n_threads = 1);

/// (X - mean) * components^T for any fitted mean/components (the free-function form of PcaResult::transform).
Matrix<float> pca_transform(MatrixView<float> X, const std::vector<double>& mean, const Matrix<double>& components,
                            int n_threads = 1);

} // namespace nembed
