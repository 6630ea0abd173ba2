#pragma once
/// @file median.hpp
/// Starting positions for new points placed into an existing embedding (t-SNE transform, UMAP transform).
#include "nembed/core/matrix.hpp"
#include "nembed/neighbors/knn_graph.hpp"

namespace nembed {

/// Row i = per-dimension median of the reference positions of new point i's k neighbours (numpy's median: the mean
/// of the two middle values when k is even). openTSNE's transform default (with k = 25). `knn_new` indexes into
/// `reference` (knn_new.n_reference == reference.rows). Throws InvalidArgument for k = 0, mismatched sizes, or an
/// invalid graph.
Matrix<double> median_init(MatrixView<double> reference, const KnnGraph& knn_new);

/// Row i = mean of the neighbours' reference positions weighted by inverse distance 1 / d (the correct form of
/// openTSNE's weighted_mean, which weights by d: bug #7). Neighbours at distance exactly 0 take all the weight
/// (their plain mean), the limit of the inverse weights. Same checks as median_init.
Matrix<double> weighted_mean_init(MatrixView<double> reference, const KnnGraph& knn_new);

} // namespace nembed
