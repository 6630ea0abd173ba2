#pragma once
/// @file umap_inverse.hpp
/// umap-learn's UMAP.inverse_transform and UMAP.update on a fitted UmapEmbedding (docs/dropin.md, "densMAP,
/// inverse_transform, update").
///
/// inverse_transform(Y_new): for each new point in the embedding, its m = min(n_features, n_points) nearest fitted
/// points in the embedding (exact; umap-learn takes the m nearest among a breadth-first neighbourhood of the Delaunay
/// simplex that contains it, an approximation of the same set), edge weights w = 1/(1 + a·d^(2b)) from the output
/// kernel, the start at the w-weighted mean of those points' data, then umap-learn's optimize_layout_inverse epochs
/// in data space (loss/umap_inverse.hpp) on the edge-epoch plan with the data fixed: n_epochs/3 epochs (none given:
/// 100 up to 10 000 new points, else 30) at a quarter of the fit's learning rate, umap-learn's decay.
///
/// update(X_new): the data grow by X_new; the kNN graph and fuzzy set are rebuilt over the union with the fit's
/// options; the old points keep their embedding and each new one starts at the mean embedding of its old
/// neighbours (umap-learn's init_update; a point with none takes its nearest old point's); the start is rescaled to
/// [0, 10] as every UMAP start, then `options.n_epochs` epochs run — none when it is unset, as umap-learn does.
#include <cstdint>
#include <optional>

#include "nembed/core/matrix.hpp"
#include "nembed/methods/umap.hpp"
#include "nembed/neighbors/knn.hpp"

namespace nembed {

/// inverse_transform. `reference` is the fitted data (N × D, the rows the embedding was fitted from), `metric` the
/// fit's input metric (Euclidean only here: another throws InvalidArgument naming it). Returns N_new × D.
Matrix<double> umap_inverse_transform(const UmapEmbedding& emb, MatrixView<float> reference, Metric metric,
                                      MatrixView<double> Y_new, int n_threads = 1);
/// The same in the data-space metric `metric` with its gradient (kernel/output_metric.hpp: umap-learn's named
/// metrics with gradients, or a custom function; haversine needs 2 columns). The Euclidean one is the above.
/// Needs an embedding laid out in the Euclidean output metric.
Matrix<double> umap_inverse_transform(const UmapEmbedding& emb, MatrixView<float> reference, const OutputMetric& metric,
                                      MatrixView<double> Y_new, int n_threads = 1);

/// update. `options` are the fit's (init is replaced; random_state seeds the new layout), `X_old` the fitted data.
/// Returns the new state over [X_old; X_new] with its kNN index.
UmapEmbedding umap_update(const UmapEmbedding& emb, MatrixView<float> X_old, MatrixView<float> X_new,
                          const UmapOptions& options);
/// The same from the self kNN graph of all the points (old first, n_neighbors − 1 neighbours each, e.g. from a
/// metric only the caller can evaluate) and X, all the rows (only read when a new point has no old neighbour: its
/// start is then the nearest old point in options.metric). The returned state has no kNN index.
UmapEmbedding umap_update(const UmapEmbedding& emb, const KnnGraph& knn, MatrixView<float> X,
                          const UmapOptions& options);

} // namespace nembed
