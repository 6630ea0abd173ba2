#pragma once
/// @file spectral.hpp
/// Spectral (Laplacian eigenmaps / diffusion map) initialisation as openTSNE's `initialization.spectral`: solve the
/// generalised eigenproblem A v = lambda D v (D = diag of row sums) for the n_components + 1 largest eigenvalues,
/// sort descending, scale each vector by its eigenvalue, drop the trivial one (lambda = 1, constant v), rescale to
/// std 1e-4 and jitter.
///
/// It is solved as the symmetric problem M u = lambda u, M = D^-1/2 A D^-1/2, v = D^-1/2 u (so v^T D v = 1, the
/// normalisation scipy's eigsh(A, M=D) returns): with Spectra's Lanczos solver (largest algebraic eigenvalues, a
/// deterministic start vector drawn uniform(-1, 1) from nembed::Rng) above `dense_threshold` points, and a dense Eigen
/// eigensolver below it. Eigenvector signs are fixed: the largest-|entry| of each v is positive.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/core/sparse.hpp"

namespace nembed {

struct SpectralOptions {
    double tol = 1e-4;                  ///< Spectra convergence tolerance on the Ritz values (openTSNE's eigsh tol)
    std::size_t max_iter = 1000;        ///< Lanczos restarts before giving up (throws; the caller may fall back)
    std::size_t ncv = 0;                ///< Lanczos basis size; 0 = max(2 * (n_components + 1) + 1, 20), capped at N
    std::size_t dense_threshold = 500;  ///< N at or below which the dense solver is used (exact, O(N^3))
    bool add_jitter = true;             ///< jitter(0.01) after rescaling, as openTSNE
    double target_std = 1e-4;           ///< std of the first coordinate after rescaling
    std::uint64_t seed = 0;             ///< start vector and jitter seed
    int n_threads = 1;                  ///< threads for the sparse matrix-vector products (results do not depend on it)
    /// Lanczos products with the entries s_i a_ij s_j of D^-1/2 A D^-1/2 formed once and rounded to float32 (half
    /// the bytes and gathers per product): eigenvalues move by at most 2^-24, vectors by 2^-24 / gap
    /// (docs/core.md §6.1). Off by default, so openTSNE's spectral start keeps its double products; UMAP's Laplacian
    /// eigenmap turns it on.
    bool float_operator = false;
};

/// The raw eigenpairs: n_eigen largest eigenvalues (descending) of A v = lambda D v, and the vectors as columns of
/// an N x n_eigen matrix, each with v^T D v = 1.
struct SpectralEigen {
    std::vector<double> eigenvalues;
    Matrix<double> eigenvectors;
    std::size_t restarts = 0;  ///< Lanczos restarts (0 for the dense solver)
    std::size_t products = 0;  ///< matrix-vector products (0 for the dense solver)
};

/// Solves for the n_eigen largest eigenpairs. A must be square, symmetric (relative tolerance 1e-9), with finite
/// non-negative entries and no isolated point (zero row sum); 1 <= n_eigen < N. Throws InvalidArgument for bad
/// input, and std::runtime_error (message names the tolerance and iterations) if Spectra does not converge.
SpectralEigen spectral_eigenpairs(const CsrMatrix<double>& A, std::size_t n_eigen, const SpectralOptions& options);

/// openTSNE's spectral initialisation (see the file comment). Throws like spectral_eigenpairs (with n_eigen =
/// n_components + 1).
Matrix<double> spectral_init(const CsrMatrix<double>& A, std::size_t n_components, const SpectralOptions& options);

/// Convenience form with default options apart from jitter and seed.
Matrix<double> spectral_init(const CsrMatrix<double>& A, std::size_t n_components, bool add_jitter = true,
                             std::uint64_t seed = 0);

} // namespace nembed
