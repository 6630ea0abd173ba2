#include "nembed/dist/knn.hpp"

#include <algorithm>
#include <limits>
#include <string>
#include <utility>

#include "nembed/core/column_stats.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/neighbors/distance.hpp"
#include "nembed/neighbors/exact.hpp"
#include "nembed/neighbors/sharded.hpp"

namespace nembed::dist {

KnnGraph DistKnnGraph::to_graph() const {
    require(n_reference <= static_cast<std::size_t>(std::numeric_limits<index_t>::max()),
            "distributed kNN: " + std::to_string(n_reference) + " points exceed the 32-bit index of the affinity "
            "matrices (2147483647)");
    KnnGraph g = KnnGraph::sized(n_rows, k, n_reference);
    for (std::size_t t = 0; t < indices.size(); ++t) g.indices[t] = static_cast<index_t>(indices[t]);
    g.distances = distances;
    return g;
}

void check_given_knn(Comm& comm, const RowPartition& part, const DistKnnGraph& g, std::size_t k, const char* what) {
    const int r = comm.rank();
    collective(comm, [&] {
        require(g.n_rows == part.count(r) && g.row0 == part.begin(r) && g.n_reference == part.n,
                std::string(what) + ": the precomputed neighbours are not this rank's rows of " +
                    std::to_string(part.n) + " points");
        require(g.k == k, std::string(what) + ": the precomputed neighbours have k = " + std::to_string(g.k) +
                              ", the run needs " + std::to_string(k));
    });
}

namespace {
using Cand = ShardCandidate;  // (exact distance, global index): the final order of every row

// The k best of a block for each query row, as (exact distance, global index), ascending. own: the block is the
// queries' own, so each row skips itself (by position).
void block_candidates(MatrixView<float> queries, MatrixView<float> block, std::size_t block0, bool own,
                      std::size_t k, Metric metric, const SearchTransform& map, int n_threads, std::vector<Cand>& out,
                      std::size_t& per_row) {
    const std::size_t nq = queries.rows, nb = block.rows;
    const std::size_t avail = own ? nb - 1 : nb;
    per_row = std::min(k, avail);
    out.assign(nq * per_row, Cand(0.0, 0));
    if (per_row == 0) return;
    const detail::ExactDistance exact(block, metric, n_threads);
    // The block's best per_row by the exact index (its self-search for the own block; it needs k < n), or by a
    // scan in double for a block of at most k + 1 points.
    KnnGraph g;
    if (nb > k + 1) {
        const auto index = make_exact_index(block, metric, n_threads, map);
        g = own ? index->self_neighbors(per_row) : index->query(queries, per_row);
    } else {
        g = KnnGraph::sized(nq, per_row, nb);
        parallel_for(n_threads, nq, [&](std::size_t i) {
            detail::brute_force_row(exact, queries.row(i), own ? static_cast<index_t>(i) : -1, per_row,
                                    g.indices.data() + i * per_row, g.distances.data() + i * per_row);
        });
    }
    // Re-scored in double (KnnGraph keeps float distances) with global indices, for the merge across blocks.
    parallel_for(n_threads, nq, [&](std::size_t i) {
        const float* q = queries.row(i);
        const double qn = exact.query_norm(q);
        for (std::size_t t = 0; t < per_row; ++t) {
            const index_t j = g.indices[i * per_row + t];
            out[i * per_row + t] = Cand(exact(q, qn, j), static_cast<std::int64_t>(block0) + j);
        }
    });
}
// The search map of all of X (SearchTransform): its column means chained over the ranks in row order (the blocks
// of add_column_sums lie on one rank each: the bits of one process's column_means) and the largest centred value
// (a max, exact in any order). Every block is keyed by this one map, as one process keys all of X: with each
// block's own means, data far from the origin relative to its spread (two clusters 7000 apart) got float keys
// that differed with the split, and so did the candidates.
SearchTransform global_map(Comm& comm, const RowPartition& part, MatrixView<float> X, std::size_t D, Metric metric,
                           int n_threads) {
    std::vector<double> mean;
    if (metric == Metric::euclidean) {
        mean.assign(D, 0.0);
        ordered_fold(comm, mean.data(), D * sizeof(double), [&](bool) {
            if (X.rows > 0) add_column_sums(X, mean, n_threads);
        });
        for (double& m : mean) m /= static_cast<double>(part.n);
    }
    double largest = metric == Metric::cosine ? 0.0 : SearchTransform::largest_offset(X, mean);
    comm.allreduce_max(&largest, 1);
    return SearchTransform(metric, std::move(mean), largest);
}
// The dimension every rank's rows share (a rank without rows reports none).
std::size_t common_dims(Comm& comm, MatrixView<float> X) {
    const std::vector<std::uint64_t> dims = allgather_u64(comm, X.rows > 0 ? X.cols : 0);
    std::size_t D = 0;
    for (std::uint64_t d : dims) {
        require(d == 0 || D == 0 || d == D, "distributed kNN: ranks hold rows of different dimensions");
        if (d) D = static_cast<std::size_t>(d);
    }
    return D;
}
} // namespace

DistKnnGraph exact_self_knn(Comm& comm, const RowPartition& part, MatrixView<float> X, std::size_t k, Metric metric,
                            int n_threads) {
    const int R = comm.size(), r = comm.rank();
    require(part.ranks == R, "distributed kNN: the partition is for " + std::to_string(part.ranks) + " ranks, the "
                             "communicator has " + std::to_string(R));
    require(k >= 1 && k < part.n, "distributed kNN: k = " + std::to_string(k) + " must be in [1, N) with N = " +
                                      std::to_string(part.n));
    require(is_gemm_metric(metric), "distributed kNN: only the euclidean, cosine and inner-product metrics are "
                                    "supported, got " + to_string(metric));
    require(X.rows == part.count(r), "distributed kNN: this rank holds " + std::to_string(X.rows) + " rows, the "
                                     "partition gives it " + std::to_string(part.count(r)));
    const std::size_t D = common_dims(comm, X);
    const SearchTransform map = global_map(comm, part, X, D, metric, n_threads);
    DistKnnGraph out;
    out.n_rows = X.rows;
    out.k = k;
    out.n_reference = part.n;
    out.row0 = part.begin(r);
    const std::size_t nq = X.rows;
    std::vector<Cand> best(nq * k, Cand(std::numeric_limits<double>::infinity(), std::numeric_limits<std::int64_t>::max()));
    std::vector<Cand> cand;

    // The block held at step s came from rank (r − s) mod R; it moves on to r + 1 after the step.
    std::vector<float> held(X.data, X.data + X.rows * D), incoming;
    int src = r;
    for (int step = 0; step < R; ++step) {
        const std::size_t nb = part.count(src), b0 = part.begin(src);
        if (nq > 0 && nb > 0) {
            std::size_t per = 0;
            MatrixView<float> block{held.data(), nb, D};
            block_candidates(X, block, b0, src == r, k, metric, map, n_threads, cand, per);
            merge_shard_candidates(best, cand, nq, k, per, n_threads);  // Cand = ShardCandidate
        }
        if (step + 1 == R) break;
        const int next_src = (src - 1 + R) % R;
        incoming.resize(part.count(next_src) * D);
        comm.sendrecv(held.data(), held.size() * sizeof(float), (r + 1) % R, incoming.data(),
                      incoming.size() * sizeof(float), (r - 1 + R) % R);
        held.swap(incoming);
        src = next_src;
    }
    out.indices.resize(nq * k);
    out.distances.resize(nq * k);
    for (std::size_t t = 0; t < nq * k; ++t) {
        out.indices[t] = best[t].second;
        out.distances[t] = static_cast<float>(best[t].first);
    }
    return out;
}

std::size_t default_knn_shards(std::size_t n) { return std::max<std::size_t>(1, (n + 131071) / 131072); }

DistKnnGraph approx_self_knn(Comm& comm, const RowPartition& part, MatrixView<float> X, std::size_t k,
                             const KnnOptions& options) {
    const int R = comm.size(), r = comm.rank();
    const std::size_t M = options.hnsw_shards;
    require(part.ranks == R, "distributed kNN: the partition is for " + std::to_string(part.ranks) + " ranks, the "
                             "communicator has " + std::to_string(R));
    require(k >= 1 && k < part.n, "distributed kNN: k = " + std::to_string(k) + " must be in [1, N) with N = " +
                                      std::to_string(part.n));
    require(is_gemm_metric(options.metric) && options.metric_params.empty(),
            "distributed approximate kNN: only the euclidean, cosine and inner-product metrics are supported, got " +
                to_string(options.metric));
    require(M >= 1 && M <= part.n, "distributed approximate kNN: " + std::to_string(M) + " shards for " +
                                       std::to_string(part.n) + " points (need 1 <= shards <= N)");
    require(X.rows == part.count(r), "distributed kNN: this rank holds " + std::to_string(X.rows) + " rows, the "
                                     "partition gives it " + std::to_string(part.count(r)));
    const std::size_t D = common_dims(comm, X);
    const ShardLayout L{part.n, M};
    // Rank q indexes the shards [s_lo(q), s_lo(q + 1)): the rows [L.begin(s_lo(q)), L.begin(s_lo(q + 1))).
    auto s_lo = [&](int q) { return static_cast<std::size_t>(q) * M / static_cast<std::size_t>(R); };
    auto rows_lo = [&](int q) { return L.begin(s_lo(q)); };

    // 1. Send every rank the rows of its shards (contiguous; received in rank order = row order).
    std::vector<std::size_t> send_bytes(static_cast<std::size_t>(R)), recv_bytes(static_cast<std::size_t>(R));
    const std::size_t my0 = part.begin(r), my1 = part.end(r);
    for (int q = 0; q < R; ++q) {
        const std::size_t a = std::max(my0, rows_lo(q)), b = std::min(my1, rows_lo(q + 1));
        send_bytes[static_cast<std::size_t>(q)] = b > a ? (b - a) * D * sizeof(float) : 0;
        const std::size_t c = std::max(part.begin(q), rows_lo(r)), e = std::min(part.end(q), rows_lo(r + 1));
        recv_bytes[static_cast<std::size_t>(q)] = e > c ? (e - c) * D * sizeof(float) : 0;
    }
    const std::size_t shard_rows = rows_lo(r + 1) - rows_lo(r);
    std::vector<float> mine_shards(shard_rows * D);
    // The ranks' shard ranges partition [0, N) in rank order, so the pieces of my rows going to ranks 0, 1, ... are
    // consecutive: the send buffer is X itself.
    comm.alltoallv(X.rows > 0 ? X.row(0) : nullptr, send_bytes, mine_shards.data(), recv_bytes);

    // 2. Build this rank's shard indexes.
    std::vector<ShardIndex> shards;
    for (std::size_t s = s_lo(r); s < s_lo(r + 1); ++s) {
        const std::size_t b = L.begin(s) - rows_lo(r);
        shards.emplace_back(MatrixView<float>{mine_shards.data() + b * D, L.count(s), D}, L.begin(s), s, options);
    }
    mine_shards.clear();
    mine_shards.shrink_to_fit();

    // 3. The queries travel around the ring with their running k best; at each step a rank searches the visiting
    // block in its shards. After R steps the block is at rank r − 1 and one more shift brings it home.
    const Cand worst(std::numeric_limits<double>::infinity(), std::numeric_limits<std::int64_t>::max());
    std::vector<float> held(X.data, X.data + X.rows * D), incoming;
    std::vector<Cand> best(X.rows * k, worst), best_in, cand;
    std::vector<std::int64_t> ids;
    int src = r;
    for (int step = 0; step < R; ++step) {
        const std::size_t nb = part.count(src), b0 = part.begin(src);
        if (nb > 0 && !shards.empty()) {
            ids.resize(nb);
            for (std::size_t i = 0; i < nb; ++i) ids[i] = static_cast<std::int64_t>(b0 + i);
            const MatrixView<float> q{held.data(), nb, D};
            for (const ShardIndex& s : shards) {
                const std::size_t per = s.candidates(q, ids.data(), k, cand);
                merge_shard_candidates(best, cand, nb, k, per, options.n_threads);
            }
        }
        if (R == 1) break;
        const int next_src = (src - 1 + R) % R, dest = (r + 1) % R, from = (r - 1 + R) % R;
        best_in.resize(part.count(next_src) * k);
        comm.sendrecv(best.data(), best.size() * sizeof(Cand), dest, best_in.data(), best_in.size() * sizeof(Cand),
                      from);
        best.swap(best_in);
        if (step + 1 < R) {  // the last shift carries only the results home
            incoming.resize(part.count(next_src) * D);
            comm.sendrecv(held.data(), held.size() * sizeof(float), dest, incoming.data(),
                          incoming.size() * sizeof(float), from);
            held.swap(incoming);
        }
        src = next_src;
    }
    DistKnnGraph out;
    out.n_rows = X.rows;
    out.k = k;
    out.n_reference = part.n;
    out.row0 = part.begin(r);
    out.indices.resize(X.rows * k);
    out.distances.resize(X.rows * k);
    for (std::size_t t = 0; t < X.rows * k; ++t) {
        out.indices[t] = best[t].second;
        out.distances[t] = static_cast<float>(best[t].first);
    }
    return out;
}

DistKnnGraph self_knn(Comm& comm, const RowPartition& part, MatrixView<float> X, std::size_t k, KnnMethod method,
                      std::size_t shards, Metric metric, std::uint64_t seed, int n_threads) {
    const std::size_t D = common_dims(comm, X);
    const double n = static_cast<double>(part.n);
    const bool exact = method == KnnMethod::exact ||
                       (method == KnnMethod::auto_ && (part.n < 1000 || n * n * static_cast<double>(D) <=
                                                                            dist_auto_exact_knn_work));
    if (exact)
        return exact_self_knn(comm, part, X, k, metric, n_threads);
    KnnOptions ko = fit_knn_options(KnnMethod::hnsw, metric, seed, n_threads);
    ko.hnsw_shards = shards > 0 ? shards : default_knn_shards(part.n);
    return approx_self_knn(comm, part, X, k, ko);
}

} // namespace nembed::dist
