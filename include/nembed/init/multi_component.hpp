#pragma once
/// @file multi_component.hpp
/// Layout of a graph with several connected components, as umap-learn's `spectral.multi_component_layout`: the
/// components are first placed relative to each other (a "meta" layout), then each component gets its own
/// Laplacian eigenmap, shrunk to half the distance to the nearest other meta point and centred on its meta point.
///
/// Meta layout: with more than 2·dim components, the spectral embedding (scikit-learn's SpectralEmbedding of the
/// affinity exp(−‖c_a − c_b‖²) between the component centroids of X, diagonal ignored, eigenvectors divided by
/// √degree, trivial one dropped) divided by its largest entry; without data (or when that eigenproblem fails) uniform
/// [0, 10) per coordinate, with a warning in the latter case. With at most 2·dim components, ± the unit vectors
/// (e₁, e₂, …, −e₁, −e₂, …). Components with fewer than 2·dim points, or at most dim + 1, are placed uniformly in the
/// box of half-width `range` around their meta point, as are components whose eigensolver fails (with a warning).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/core/sparse.hpp"
#include "nembed/init/spectral.hpp"

namespace nembed {

/// Connected components of a square sparse graph (an entry in either triangle connects its two points), labelled
/// 0, 1, … in order of each component's smallest point index, as scipy's `connected_components` numbers them.
struct GraphComponents {
    std::vector<std::size_t> labels;  ///< component of each point
    std::size_t count = 0;            ///< number of components
};
GraphComponents connected_components(const CsrMatrix<double>& graph);

/// The eigenvectors u of the normalised Laplacian I − D^−½ A D^−½ for its dim smallest non-trivial eigenvalues
/// (unit norm, N x dim), as umap-learn's `_spectral_layout` returns them; the Lanczos start vector is drawn from
/// `seed`. A must be a connected graph with dim + 1 < N points. Returns nullopt (and sets `why`) when the
/// eigensolver does not converge; throws InvalidArgument for bad input.
std::optional<Matrix<double>> laplacian_eigenmap(const CsrMatrix<double>& A, std::size_t dim, std::uint64_t seed,
                                                 int n_threads, std::string* why = nullptr);

/// The solver settings laplacian_eigenmap passes to spectral_eigenpairs: float32 products and a 12-vector Lanczos
/// basis at tol 1e-4 (docs/core.md §6.1: the cheapest of the measured settings at the 20-vector basis' accuracy).
SpectralOptions laplacian_eigenmap_options(std::uint64_t seed, int n_threads);

/// umap-learn's multi-component layout (see the file comment) of `graph` (symmetric, components as `comps`), dim
/// coordinates per point, before UMAP's final scaling. X (N x D) gives the centroids; pass an empty view (0 rows)
/// when the data are not available. Random draws come from `seed` (counter-based, one stream per point), so the
/// result does not depend on n_threads.
Matrix<double> multi_component_layout(const CsrMatrix<double>& graph, const GraphComponents& comps, std::size_t dim,
                                      MatrixView<float> X, std::uint64_t seed, int n_threads = 1);

/// Adds the rows of X, the global rows [row0, row0 + X.rows), into the per-component sums (`sums`: comps.count x
/// X.cols, row-major) in row order. One call over all of X, or the ranks' calls on their blocks chained in rank
/// order (dist::ordered_fold), give the same bits: the centroids of a distributed run.
void add_component_sums(const GraphComponents& comps, MatrixView<float> X, std::size_t row0, std::vector<double>& sums);

/// The same layout from the components' sums of the data (comps.count x D, row-major, as add_component_sums adds
/// them over all rows; empty with D = 0 when the data are not available) instead of X. multi_component_layout(X) is
/// this with the sums of X.
Matrix<double> multi_component_layout(const CsrMatrix<double>& graph, const GraphComponents& comps, std::size_t dim,
                                      const std::vector<double>& component_sums, std::size_t D, std::uint64_t seed,
                                      int n_threads = 1);

} // namespace nembed
