#pragma once
/// @file sharded.hpp
/// Approximate kNN over shards (docs/mpi.md §5, issue #18): the N reference points are cut into M shards fixed by
/// N and M only (shard s = rows [⌊sN/M⌋, ⌊(s+1)N/M⌋)), one HNSW index per shard built serially with a seed keyed
/// by the shard id, every query searched in every shard and the shards' candidates merged by (distance in double,
/// global index). Nothing depends on who builds or searches a shard, so the distributed search
/// (dist::approx_self_knn: each rank indexes some shards, the queries travel around the ranks) gives the same bits
/// as this single-process index for any number of ranks and threads. Indices are global and 64-bit while the
/// candidates are merged.
///
///   KnnOptions ko;                 // method hnsw (or auto resolving to it)
///   ko.hnsw_shards = 8;            // 8 shards; 0 = one ordinary HNSW index (hnsw.hpp)
///   KnnGraph g = find_neighbors(X, 15, ko);
///
/// Cost: every query is searched in every shard, so the search work grows with M (about M · log(N/M) against
/// log N for one index); recall grows with M too (each shard returns its own k + 1 best). Choose M >= the number
/// of ranks (a multiple balances the work).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/neighbors/knn.hpp"

namespace nembed {

/// Shard s of M over N rows: [begin(s), end(s)).
struct ShardLayout {
    std::size_t n = 0, shards = 1;
    /// ⌊s·n/shards⌋, without overflow (n = q·shards + r).
    std::size_t begin(std::size_t s) const { return (n / shards) * s + (n % shards) * s / shards; }
    std::size_t end(std::size_t s) const { return begin(s + 1); }
    std::size_t count(std::size_t s) const { return end(s) - begin(s); }
};

/// The HNSW seed of shard s (the first draw of SplitMixStream(seed, s)): independent streams per shard.
std::uint64_t shard_seed(std::uint64_t seed, std::size_t shard);

/// (exact distance in double, global index): the order in which the shards' candidates are merged.
using ShardCandidate = std::pair<double, std::int64_t>;

/// One shard's HNSW index (built serially with shard_seed(options.seed, shard)) over `rows`, which are global rows
/// [row0, row0 + rows.rows). The rows are copied.
class ShardIndex {
public:
    ShardIndex(MatrixView<float> rows, std::size_t row0, std::size_t shard, const KnnOptions& options);
    ~ShardIndex();
    ShardIndex(ShardIndex&&) noexcept;
    ShardIndex& operator=(ShardIndex&&) noexcept;
    /// The shard's rows (its copy).
    MatrixView<float> rows() const;

    /// For each query row i (global id ids[i], or −1 for an outside query), the shard's best min(k + 1, shard size)
    /// points other than the query itself, re-scored in double, sorted by (distance, global index), at most k kept;
    /// written as out[i * k + t] for t < per_row (returned). Threads over the queries; the result does not depend
    /// on n_threads.
    std::size_t candidates(MatrixView<float> queries, const std::int64_t* ids, std::size_t k,
                           std::vector<ShardCandidate>& out) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// Merges per_row candidates per query (cand, as ShardIndex::candidates writes them) into each row's running k
/// best (best: n_rows x k, ascending; start from {inf, INT64_MAX}). The union's k best are kept, so the order in
/// which shards are merged does not matter.
void merge_shard_candidates(std::vector<ShardCandidate>& best, const std::vector<ShardCandidate>& cand,
                            std::size_t n_rows, std::size_t k, std::size_t per_row, int n_threads);

/// The sharded index over `data` (options.hnsw_shards >= 1 shards; euclidean, cosine or inner product without
/// metric parameters). Throws InvalidArgument for bad options or data (hnsw.hpp's checks, and more shards than points).
std::unique_ptr<KnnIndex> make_sharded_hnsw_index(MatrixView<float> data, const KnnOptions& options);

} // namespace nembed
