#pragma once
/// @file exact.hpp
/// Exact (brute-force) kNN: every row gets the k smallest (distance, index) pairs with the distance in double
/// (point_distance), the lists a float64 scan gives, wherever the data sit (docs/neighbors.md).
///
/// The references are packed once in panels of 32 (dimension-major), in a k-d locality order of the points; tiles of
/// query rows x panel columns accumulate float32 keys (|r|^2 - 2 q.r, or -q.r for cosine / inner product) in
/// registers and compare them there with each row's threshold, so only the rare tiles holding a better key touch the
/// row's candidate buffer (k + 8 candidates kept, cut back by nth_element when full). The candidates' distances are
/// then recomputed in double to decide the final order, and a rigorous bound on the keys' float32 rounding certifies
/// that no point left out can be among the k nearest; rows it cannot certify (data far from their spread: copies
/// 7 000 apart with neighbours ~1 apart) are rescanned in double (docs/neighbors.md §1).
/// Keys are computed on the data mapped by SearchTransform (distance.hpp: centred and scaled by a power of two for
/// Euclidean), so the keys stay finite for any float32 data (1e36, denormals).
/// The tile kernel is compiled for AVX-512, AVX2 + FMA and plain SSE2 and picked at run time (a portable build
/// still uses the CPU's vector units).
///
/// The self-search (`self_neighbors`) is symmetric: blocks of 256 points are paired, each pair's keys (the full
/// float distance) computed once and offered to both points' buffers, half the work of scanning every row against
/// every reference. Cost O(N^2 * D) either way. Each block meets itself first: with the locality order its rows'
/// thresholds are tight before the far blocks come (docs/neighbors.md §2).
///
/// Results are bit-identical for any thread count, kernel and point order: a row keeps its smallest candidates by
/// (key, index), a total order, whatever order they arrive in, and a certified row's result is the float64 answer.
#include <memory>
#include <string>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/neighbors/distance.hpp"
#include "nembed/neighbors/knn.hpp"

namespace nembed {

/// Extra candidates kept beyond k during the float32 scan: the gap between the k-th distance and the largest kept key
/// is what lets the rounding bound certify a row (docs/neighbors.md §1); 8 certify every row of Fashion-MNIST.
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
/// Instruction sets of the key kernel this CPU can run, fastest first ("avx512bf16": the self-search's bf16 screen of
/// rows of >= 128 columns, docs/neighbors.md §1b, otherwise "avx512"'s kernels; "avx512", "avx2", "generic").
std::vector<std::string> exact_knn_isas();
/// make_exact_index with a given kernel (tests compare them); throws InvalidArgument if `isa` is unavailable.
std::unique_ptr<KnnIndex> make_exact_index(MatrixView<float> data, Metric metric, int n_threads,
                                           const std::string& isa);
} // namespace detail

} // namespace nembed
