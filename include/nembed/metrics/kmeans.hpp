#pragma once
/// @file kmeans.hpp
/// Deterministic k-means (k-means++ seeding, then Lloyd iterations) and TorchDR's `kmeans_ari`: cluster the
/// embedding into as many clusters as there are labels and score the clusters against the labels with the
/// adjusted Rand index (adjusted_rand.hpp).
///
/// TorchDR runs faiss's k-means (float32, centroids initialised by a random sample of points, training on at most
/// 256 points per centroid, empty clusters repaired by splitting a large one). nembed runs its own: float64,
/// k-means++ seeding (each next centre drawn with probability proportional to the squared distance to the nearest
/// chosen one), all points, an empty cluster restarted at the point farthest from its centre. The parameters keep
/// TorchDR's names and meaning (niter Lloyd iterations at most, nredo restarts keeping the lowest objective), so the
/// scores are comparable but not the same bits as TorchDR's. Lloyd stops early when no assignment changes.
///
/// Determinism: restart r draws from nembed's counter-based generator (seed, stream r); assignments are per point
/// (ties to the smaller centre index) and the centroid sums are added in fixed blocks of points, so the result is
/// the same bits for any thread count.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "nembed/core/matrix.hpp"

namespace nembed {

struct KMeansOptions {
    /// k, 1 <= k <= N; 0 (the default) is only valid for kmeans_ari: the number of distinct labels (TorchDR's None)
    std::size_t n_clusters = 0;
    std::size_t niter = 20;      ///< Lloyd iterations at most (TorchDR / faiss default 20), >= 1
    std::size_t nredo = 1;       ///< independent restarts, the lowest objective kept (TorchDR default 1), >= 1
    std::uint64_t seed = 0;      ///< TorchDR's random_state
    int n_threads = 1;
};

struct KMeansResult {
    std::vector<std::int64_t> labels;  ///< cluster of each point in [0, n_clusters): its nearest final centroid
    Matrix<double> centroids;          ///< n_clusters x D
    double objective = 0.0;            ///< sum of squared distances to the assigned centroids (inertia)
    std::size_t n_iter = 0;            ///< Lloyd iterations of the kept restart
};

/// k-means of the rows of X (finite). Throws InvalidArgument naming the bad option.
KMeansResult kmeans(MatrixView<double> X, const KMeansOptions& options);

struct KMeansAri {
    double ari = 0.0;                     ///< adjusted Rand index of the clusters against the labels
    std::vector<std::int64_t> predicted;  ///< the k-means clusters
};

/// TorchDR's kmeans_ari: k-means with n_clusters = the number of distinct labels when options.n_clusters is 0,
/// then the ARI against `labels` (size N).
KMeansAri kmeans_ari(MatrixView<double> X, const std::vector<std::int64_t>& labels, KMeansOptions options);

} // namespace nembed
