#pragma once
/// @file knn.hpp
/// Distributed exact kNN (docs/mpi.md): the reference blocks travel around a ring of ranks (R − 1 shifts); at each
/// step a rank searches its own queries against the block it holds (the exact index of neighbors/exact.hpp, the
/// symmetric self-search on its own block) and merges the block's k best into each row's running k best by
/// (distance in double, global index). The result equals the single-process exact kNN: the same exact
/// distances decide, ties go to the smaller global index, and the point itself is excluded (duplicates stay).
/// Indices are global and 64-bit.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/dist/comm.hpp"
#include "nembed/dist/rows.hpp"
#include "nembed/neighbors/knn.hpp"
#include "nembed/neighbors/knn_graph.hpp"
#include "nembed/neighbors/metric.hpp"

namespace nembed::dist {

/// The k nearest neighbours of this rank's rows: row i is global row row0 + i.
struct DistKnnGraph {
    std::size_t n_rows = 0, k = 0, n_reference = 0, row0 = 0;
    std::vector<std::int64_t> indices;  ///< n_rows x k global indices, row-major
    std::vector<float> distances;       ///< n_rows x k, ascending within a row
    /// As a KnnGraph over the global reference (32-bit indices: throws InvalidArgument past 2^31 − 1 points).
    KnnGraph to_graph() const;
};

/// Checks, collectively, that precomputed neighbours `g` are this rank's rows of `part` with k neighbours per row
/// (CollectiveError on every rank naming `what` otherwise).
void check_given_knn(Comm& comm, const RowPartition& part, const DistKnnGraph& g, std::size_t k, const char* what);

/// Exact self kNN of the distributed rows X_mine (this rank's rows of `part`, all ranks the same D), excluding each
/// point itself; 1 <= k < N. Collective. metric: any metric of neighbors/metric.hpp without parameters.
DistKnnGraph exact_self_knn(Comm& comm, const RowPartition& part, MatrixView<float> X_mine, std::size_t k,
                            Metric metric, int n_threads);

/// Approximate self kNN over M = options.hnsw_shards shards (neighbors/sharded.hpp): shard s (rows fixed by N and
/// M) is indexed by rank ⌊s·R/M⌋ (its rows sent there once, alltoallv); every rank's queries, with their running
/// k best, travel around the ring of ranks and are searched in each rank's shards (R shifts). The result is bitwise
/// make_sharded_hnsw_index(X, options)->self_neighbors(k) of one process, for any R and thread count. Collective.
/// options: metric (euclidean, cosine or inner product), hnsw_m, hnsw_ef_construction, hnsw_ef, seed (the same on
/// every rank), n_threads, hnsw_shards (1 <= M <= N). Memory per rank: its rows, its shards' rows and indexes, and
/// one visiting block of queries with its k best (16 B per entry).
DistKnnGraph approx_self_knn(Comm& comm, const RowPartition& part, MatrixView<float> X_mine, std::size_t k,
                             const KnnOptions& options);

/// The shard count a distributed run uses when none is given: ⌈N / 131 072⌉ (depends on N only, so the result does
/// not change with R; give `--knn-shards` >= R to spread the search over every rank).
std::size_t default_knn_shards(std::size_t n);

/// auto's limit on N²·D for the exact ring under mpirun: where the sharded HNSW search became faster on this
/// project's machine with 2 ranks (docs/mpi.md §5: the ring was 1.8–2.3x faster at 20 000–70 000 points of 50
/// dimensions; extrapolated crossover ~1.3·10⁵ points). Fixed, not scaled by R, so that auto's choice (and so the
/// result) never depends on the rank count.
inline constexpr double dist_auto_exact_knn_work = 8e11;

/// The neighbours of a distributed fit: `method` (auto: exact below 1000 points or up to N²·D =
/// dist_auto_exact_knn_work, else hnsw), exact by the ring (exact_self_knn), HNSW by the shards (approx_self_knn
/// with `shards`, or default_knn_shards(N) when 0). Collective.
DistKnnGraph self_knn(Comm& comm, const RowPartition& part, MatrixView<float> X_mine, std::size_t k,
                      KnnMethod method, std::size_t shards, Metric metric, std::uint64_t seed, int n_threads);

} // namespace nembed::dist
