#pragma once
/// @file knn.hpp
/// Nearest neighbours behind one interface (knncolle-style): build an index over reference points once, then
/// query it for the reference points themselves (self excluded) or for new points.
///
///   KnnOptions opt;               // method auto: exact up to N^2 D = 1e13 (447 000 x 50 dims), HNSW above
///   opt.n_threads = 2;
///   KnnGraph g = find_neighbors(X, 90, opt);
///
/// Returned distances are true metric distances: Euclidean (not squared), cosine distance 1 - cos, for inner
/// product 1 - <x, y> (the hnswlib convention; may be negative, which warns), and for the other metrics of
/// metric.hpp scipy's definitions (sparse CSR data too: build_knn_index(CsrView)). Every index picks candidates with
/// fast float arithmetic and then recomputes their distances exactly in double from the vectors, sorting each row
/// by (distance, index), so ties always go to the smaller index.
///
/// Implementations: exact.hpp (register-tiled brute force, bit-identical for any thread count), hnsw.hpp
/// (hnswlib; reproducible with one thread only), and the precomputed paths below.
#include <cstdint>
#include <memory>
#include <string>

#include "nembed/core/matrix.hpp"
#include "nembed/neighbors/knn_graph.hpp"
#include "nembed/neighbors/metric.hpp"

namespace nembed {

enum class KnnMethod { auto_, exact, hnsw };

/// Parses "auto", "exact", "hnsw" (also "approx" = hnsw).
KnnMethod parse_knn_method(const std::string& name);
std::string to_string(KnnMethod m);

/// auto's limit on N_points^2 * dims for the exact search: about where it stops being faster than building and
/// querying HNSW on two cores. The float32 tiled search of euclidean, cosine and inner product (exact.hpp) is cheaper:
/// at 300 000 x 50 it takes 0.62 (k = 15) and 0.47 (k = 90) of HNSW's CPU time, and HNSW's recall there is 0.93–0.94;
/// at 60 000 x 784, 0.86 (bench/RESULTS.md, "auto's exact limit"), so its limit is 1e13 (~447 000 points at 50 dims,
/// ~113 000 at 784), and at most auto_exact_knn_points_tiled points, where it was measured; the generic metrics'
/// double scan and sparse data keep 4e11. Below 1000 points the search is always exact (openTSNE's rule).
inline constexpr double auto_exact_knn_work = 4e11;
inline constexpr double auto_exact_knn_work_tiled = 1e13;
inline constexpr std::size_t auto_exact_knn_points_tiled = 450'000;

struct KnnOptions {
    KnnMethod method = KnnMethod::auto_;  ///< auto: exact if N < 1000 or N^2 D <= the limit above, else HNSW
    Metric metric = Metric::euclidean;
    MetricParams metric_params;           ///< parameters of minkowski, wminkowski, seuclidean, mahalanobis (metric.hpp)
    int hnsw_m = 16;                      ///< HNSW links per node (hnswlib M)
    int hnsw_ef_construction = 64;        ///< HNSW build beam width (openTSNE: 200; bench/RESULTS.md)
    int hnsw_ef = 0;                      ///< HNSW search beam width; 0 = max(50, 4k/3), at most N
    /// Insert points concurrently (about 2x faster to build on 2 threads) at the price of a graph, and so results,
    /// that depend on thread scheduling. Off: the graph is built serially and is reproducible (queries are threaded).
    bool hnsw_parallel_build = false;
    std::uint64_t seed = 0;               ///< HNSW level generator seed
    /// HNSW over shards (sharded.hpp): 0 = one index over all points; M >= 1 = M shards of ~N/M points, one index
    /// each, every query searched in all (what a distributed run does: the same bits for any number of ranks).
    std::size_t hnsw_shards = 0;
    int n_threads = 1;                    ///< worker threads (already resolved, >= 1)
};

/// The kNN settings of a method's fit (t-SNE, UMAP, CNE): its method, metric (and parameters), seed and resolved
/// thread count, the HNSW settings at their defaults.
inline KnnOptions fit_knn_options(KnnMethod method, Metric metric, std::uint64_t seed, int n_threads,
                                  const MetricParams& metric_params = {}, std::size_t hnsw_shards = 0) {
    KnnOptions ko;
    ko.hnsw_shards = hnsw_shards;
    ko.method = method;
    ko.metric = metric;
    ko.metric_params = metric_params;
    ko.seed = seed;
    ko.n_threads = n_threads;
    return ko;
}

/// The method `method` stands for on `n_points` x `dims` data: auto resolved as KnnOptions documents, others as given.
/// tiled: the search would take the float32 tiled exact path (dense euclidean, cosine or inner product without
/// metric parameters), whose limit is auto_exact_knn_work_tiled.
KnnMethod resolve_knn_method(KnnMethod method, std::size_t n_points, std::size_t dims, bool tiled = false);

/// A built index over reference points.
class KnnIndex {
public:
    virtual ~KnnIndex() = default;
    virtual std::size_t n_points() const = 0;
    virtual std::size_t n_dims() const = 0;
    virtual Metric metric() const = 0;
    /// The metric parameters the index was built with (as given: defaults left unset; empty for the float32 paths,
    /// which take none). Saved models record them so that a rebuilt index measures the same distances.
    virtual MetricParams metric_params() const { return {}; }
    /// The number of HNSW shards (sharded.hpp) the index was built over; 0 for every other index. Saved models
    /// record it so that a reloaded model rebuilds the same sharded index.
    virtual std::size_t hnsw_shards() const { return 0; }
    /// k nearest neighbours of every reference point, self excluded (exact duplicates of a point are kept as
    /// neighbours at distance 0, but the point itself never is).
    virtual KnnGraph self_neighbors(std::size_t k) const = 0;
    /// k nearest reference points of each row of `queries` (nothing excluded).
    virtual KnnGraph query(MatrixView<float> queries, std::size_t k) const = 0;
    /// The same for sparse (CSR) queries. The default refuses; the exact and HNSW indexes answer.
    virtual KnnGraph query(const CsrView& queries, std::size_t k) const;
};

/// Builds the index chosen by `options.method` over `data` (copied or referenced as the implementation needs;
/// the index owns what it keeps). Throws InvalidArgument for empty or non-finite data.
std::unique_ptr<KnnIndex> build_knn_index(MatrixView<float> data, const KnnOptions& options);

/// Convenience: build an index and return the self kNN graph. Throws if k >= N.
KnnGraph find_neighbors(MatrixView<float> data, std::size_t k, const KnnOptions& options);

/// The same over sparse CSR data (copied): every metric, exact or HNSW (the generic paths; auto decides on
/// N^2 * the mean non-zeros per row). Throws InvalidArgument for malformed CSR (see copy_csr).
std::unique_ptr<KnnIndex> build_knn_index(const CsrView& data, const KnnOptions& options);
KnnGraph find_neighbors(const CsrView& data, std::size_t k, const KnnOptions& options);

/// Neighbours from a dense N x N distance matrix (symmetric not required; diagonal ignored; ties go to the
/// smaller index). Throws for a non-square matrix, NaN, infinite or negative off-diagonal entries, k = 0 or k >= N.
KnnGraph neighbors_from_distance_matrix(MatrixView<double> distances, std::size_t k, int n_threads = 1);

/// Neighbours supplied by the user as (N x k) index and distance arrays. Entries equal to the row itself are
/// dropped (k shrinks by one if every row lists itself); rows are sorted by distance; validated.
/// The arrays are taken as a self graph when n_reference == N: if any row lists itself, every row loses one
/// entry (its own index, or where duplicates crowded it out, its farthest entry). Throws for shape mismatch,
/// indices outside [0, n_reference), a neighbour listed twice in a row, NaN/infinite/negative distances, and
/// (self graphs) k >= N.
KnnGraph neighbors_from_arrays(MatrixView<std::int64_t> indices, MatrixView<double> distances,
                               std::size_t n_reference);

} // namespace nembed
