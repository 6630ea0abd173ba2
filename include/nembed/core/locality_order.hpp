#pragma once
/// @file locality_order.hpp
/// A locality-improving order of points and the symmetric permutation of a sparse matrix (docs/tsne.md, "Point
/// order"). The t-SNE gradient reads y_j for every neighbour j of i (attraction) and scatters/gathers every point on
/// the interpolation grid (FFT repulsion); numbering the points along a space-filling curve of the map makes both
/// read nearby memory. Everything here is serial or split over fixed rows: the result is the same for any thread
/// count.
#include <cstddef>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/core/sparse.hpp"
#include "nembed/core/types.hpp"

namespace nembed {

/// The points of Y (N x d, finite) in the order of a Hilbert curve over their first two coordinates (d = 1: sorted
/// by the coordinate): the bounding box is quantised to 2^16 cells per side, ties (same cell) keep index order.
/// Returns order[new] = old, a permutation of 0..N-1. Throws InvalidArgument for an empty Y or N >= 2^31.
std::vector<index_t> hilbert_order(MatrixView<double> Y);

/// inverse[old] = new for order[new] = old (InvalidArgument when `order` is not a permutation of 0..N-1).
std::vector<index_t> inverse_permutation(const std::vector<index_t>& order);

/// Q = Π P Πᵀ for a square P: row r of Q is row order[r] of P with every column j renumbered inverse[j] (columns
/// sorted again). Values are copied, not summed: bitwise P's entries. Rows are built in parallel (n_threads).
template <typename T>
CsrMatrix<T> permute_symmetric(const CsrMatrix<T>& P, const std::vector<index_t>& order, int n_threads = 1);

/// out[r] = in[order[r]] (rows of d values): gather into the new order.
void gather_rows(const double* in, const std::vector<index_t>& order, std::size_t d, double* out, int n_threads = 1);
/// out[order[r]] = in[r] (rows of d values): back to the old order.
void scatter_rows(const double* in, const std::vector<index_t>& order, std::size_t d, double* out, int n_threads = 1);

} // namespace nembed
