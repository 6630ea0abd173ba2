#pragma once
/// @file exact.hpp
/// Exact (brute-force) kNN. The references are packed once in panels of 32 (dimension-major); tiles of query rows x
/// panel columns accumulate float32 keys (|r|^2 - 2 q.r, or -q.r for cosine / inner product) in registers and are
/// compared there with each row's current k-th best key, so only the rare tiles holding a better key touch the
/// row's bounded max-heap. The candidates' distances are then recomputed in double to decide the final order.
/// Keys are computed on the data mapped by SearchTransform (distance.hpp: centred and scaled by a power of two for
/// Euclidean), so the neighbours do not depend on an offset (data near 1e4) or on the scale (1e36, denormals).
/// The tile kernel is compiled for AVX-512, AVX2 + FMA and plain SSE2 and picked at run time (a portable build
/// still uses the CPU's vector units).
///
/// The self-search (`self_neighbors`) is symmetric: blocks of 256 points are paired, each pair's keys (the full
/// float distance) computed once and offered to both points' heaps, half the work of scanning every row against
/// every reference: 4.2-4.8 s for 70 000 x 50 dims, k = 15, on two AVX2 cores of a shared VM (5.2-5.8 s before).
/// Cost O(N^2 * D) either way.
///
/// Results are bit-identical for any thread count: each (row, candidate) key is computed once by a fixed sequence
/// of operations, and a row keeps its smallest candidates by (key, index), a total order, whatever order they
/// arrive in; the final order is decided in double, ties broken by the smaller index.
#include <memory>
#include <string>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/neighbors/distance.hpp"
#include "nembed/neighbors/knn.hpp"

namespace nembed {

/// Extra candidates kept beyond k during the float32 scan so that rounding error near the k-th distance cannot
/// push a true neighbour out before the exact double recomputation decides the final order.
inline constexpr std::size_t exact_knn_extra_candidates = 8;

/// Builds an exact index over a copy of `data` (cosine also keeps a row-normalised copy). Throws InvalidArgument
/// for empty or non-finite data, or n_threads < 1.
std::unique_ptr<KnnIndex> make_exact_index(MatrixView<float> data, Metric metric, int n_threads);
/// The same with the keys computed on the rows mapped by `transform` (built for `metric`) instead of data's own map:
/// a distributed search maps every block of the data by the whole data's map (dist/knn.cpp), so that a block's keys
/// are those one process computes. Euclidean, cosine and inner product only (the GEMM metrics).
std::unique_ptr<KnnIndex> make_exact_index(MatrixView<float> data, Metric metric, int n_threads,
                                           const SearchTransform& transform);

namespace detail {
/// Instruction sets of the key kernel this CPU can run, fastest first ("avx512", "avx2", "generic").
std::vector<std::string> exact_knn_isas();
/// make_exact_index with a given kernel (tests compare them); throws InvalidArgument if `isa` is unavailable.
std::unique_ptr<KnnIndex> make_exact_index(MatrixView<float> data, Metric metric, int n_threads,
                                           const std::string& isa);
} // namespace detail

} // namespace nembed
