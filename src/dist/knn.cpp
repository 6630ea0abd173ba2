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

namespace {
using Cand = std::pair<double, std::int64_t>;  // (exact distance, global index): the final order of every row

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
    const std::vector<std::uint64_t> dims = allgather_u64(comm, X.rows > 0 ? X.cols : 0);
    std::size_t D = 0;
    for (std::uint64_t d : dims) {
        require(d == 0 || D == 0 || d == D, "distributed kNN: ranks hold rows of different dimensions");
        if (d) D = static_cast<std::size_t>(d);
    }
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
            parallel_for(n_threads, nq, [&](std::size_t i) {
                Cand* row = best.data() + i * k;
                std::vector<Cand> all(row, row + k);
                all.insert(all.end(), cand.begin() + static_cast<std::ptrdiff_t>(i * per),
                           cand.begin() + static_cast<std::ptrdiff_t>((i + 1) * per));
                std::inplace_merge(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k), all.end());
                std::copy(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k), row);
            });
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

} // namespace nembed::dist
