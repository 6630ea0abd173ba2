#pragma once
/// @file hnsw.hpp
/// Approximate kNN with hnswlib's HNSW graph (Malkov & Yashunin): L2Space for Euclidean, InnerProductSpace on
/// row-normalised data for cosine and on raw data for inner product. Defaults follow openTSNE: M = 16,
/// ef_construction = 200, ef = min(2k, N). Returned distances are recomputed exactly in double from the vectors
/// (Euclidean, not hnswlib's squared L2) and sorted ascending.
///
/// Determinism: with n_threads = 1 the graph, and so every result, is reproducible for a given seed. With more
/// threads the first point is inserted serially and the rest concurrently (hnswlib supports concurrent addPoint);
/// insertion order and level draws then depend on scheduling, so the graph, and occasionally a neighbour near
/// the k-th position, is NOT bit-reproducible across runs. Queries never depend on the thread count for a given
/// graph. Use the exact index where bit-reproducibility matters.
#include <memory>

#include "nembed/core/matrix.hpp"
#include "nembed/neighbors/knn.hpp"

namespace nembed {

/// Builds an HNSW index over `data` using options.metric, hnsw_m, hnsw_ef_construction, hnsw_ef, seed and
/// n_threads. Throws InvalidArgument for empty or non-finite data or bad parameters (M < 2, ef_construction < 1,
/// ef < 0, n_threads < 1).
std::unique_ptr<KnnIndex> make_hnsw_index(MatrixView<float> data, const KnnOptions& options);

} // namespace nembed
