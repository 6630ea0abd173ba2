#pragma once
/// @file hnsw.hpp
/// Approximate kNN with hnswlib's HNSW graph (Malkov & Yashunin): L2Space for Euclidean, InnerProductSpace on
/// row-normalised data for cosine and on raw data for inner product. Defaults: M = 16 (openTSNE's),
/// ef_construction = 64, ef = max(50, 4k/3) (openTSNE: 200 and min(2k, N); ours reach recall 0.997 at k = 90 on
/// Fashion-MNIST in 40 % of the time, with a serial, reproducible build: bench/RESULTS.md). Returned distances
/// are recomputed exactly in double from the vectors (Euclidean, not hnswlib's squared L2) and sorted ascending.
/// hnswlib indexes the data mapped by SearchTransform (distance.hpp: for Euclidean centred and scaled by a power
/// of two), so its float32 distances neither cancel for data far from the origin nor overflow or underflow.
///
/// Determinism: by default the graph is built in fixed batches (docs/neighbors.md §4: each batch's searches run in
/// parallel against the graph before the batch, then its points are linked in order), so it, and every result, is
/// reproducible for a given seed and independent of n_threads (queries are threaded and never depend on the thread
/// count). With hnsw_parallel_build the points after the first are inserted concurrently by hnswlib's addPoint;
/// insertion order and level draws then depend on scheduling, so the graph, and occasionally a neighbour near the
/// k-th position, is NOT bit-reproducible across runs.
#include <memory>

#include "nembed/core/matrix.hpp"
#include "nembed/neighbors/knn.hpp"

namespace nembed {

/// Builds an HNSW index over `data` using options.metric, hnsw_m, hnsw_ef_construction, hnsw_ef, seed and
/// n_threads. Throws InvalidArgument for empty or non-finite data or bad parameters (M < 2, ef_construction < 1,
/// ef < 0, n_threads < 1).
std::unique_ptr<KnnIndex> make_hnsw_index(MatrixView<float> data, const KnnOptions& options);

} // namespace nembed
