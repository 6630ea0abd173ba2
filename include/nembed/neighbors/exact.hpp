#pragma once
/// @file exact.hpp
/// Exact (brute-force) kNN: blocks of query rows against blocks of reference rows, dot products by Eigen GEMM in
/// float32, a bounded max-heap of candidates per query row, then the candidates' distances recomputed exactly in
/// double. Cost O(N_query * N_ref * D); about a minute for 70 000 x 50 dims on two cores.
///
/// Results are bit-identical for any thread count: query blocks have fixed boundaries (multiples of 32 rows) and
/// each row scans the references in increasing index order, ties broken by the smaller index.
#include <memory>

#include "nembed/core/matrix.hpp"
#include "nembed/neighbors/knn.hpp"

namespace nembed {

/// Extra candidates kept beyond k during the float32 scan so that rounding error near the k-th distance cannot
/// push a true neighbour out before the exact double recomputation decides the final order.
inline constexpr std::size_t exact_knn_extra_candidates = 8;

/// Builds an exact index over a copy of `data` (cosine also keeps a row-normalised copy). Throws InvalidArgument
/// for empty or non-finite data, or n_threads < 1.
std::unique_ptr<KnnIndex> make_exact_index(MatrixView<float> data, Metric metric, int n_threads);

} // namespace nembed
