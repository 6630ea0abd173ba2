#include "nembed/neighbors/sharded.hpp"

#include <algorithm>
#include <limits>
#include <string>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/neighbors/distance.hpp"
#include "nembed/neighbors/hnsw.hpp"
#include "nembed/repulsion/negative_sampling.hpp"

namespace nembed {

std::uint64_t shard_seed(std::uint64_t seed, std::size_t shard) {
    // the first draw of the counter stream (seed, shard): neighbouring shards get unrelated level draws
    return SplitMixStream(seed, static_cast<std::uint64_t>(shard)).next();
}

struct ShardIndex::Impl {
    Matrix<float> rows;
    std::size_t row0 = 0;
    Metric metric = Metric::euclidean;
    int n_threads = 1;
    std::unique_ptr<KnnIndex> index;  // null for a shard too small to search (every point is a candidate)
    detail::ExactDistance exact;
};

ShardIndex::ShardIndex(MatrixView<float> rows, std::size_t row0, std::size_t shard, const KnnOptions& options)
    : impl_(std::make_unique<Impl>()) {
    require(rows.rows > 0, "sharded kNN: shard " + std::to_string(shard) + " has no points");
    impl_->rows = convert<float>(rows);
    impl_->row0 = row0;
    impl_->metric = options.metric;
    impl_->n_threads = options.n_threads;
    KnnOptions ko = options;
    ko.hnsw_shards = 0;
    ko.hnsw_parallel_build = false;  // the batch build: the graph depends on the shard's rows and seed only
    ko.seed = shard_seed(options.seed, shard);
    // hnswlib needs a few points to be worth it; a tiny shard is scanned in full instead.
    if (rows.rows > 64) impl_->index = make_hnsw_index(impl_->rows.view(), ko);
    impl_->exact = detail::ExactDistance(impl_->rows.view(), options.metric, options.n_threads);
}

ShardIndex::~ShardIndex() = default;
MatrixView<float> ShardIndex::rows() const { return impl_->rows.view(); }
ShardIndex::ShardIndex(ShardIndex&&) noexcept = default;
ShardIndex& ShardIndex::operator=(ShardIndex&&) noexcept = default;

std::size_t ShardIndex::candidates(MatrixView<float> queries, const std::int64_t* ids, std::size_t k,
                                   std::vector<ShardCandidate>& out) const {
    const Impl& m = *impl_;
    const std::size_t nq = queries.rows, ns = m.rows.rows();
    const std::size_t ask = std::min(ns, k + 1);  // + 1: the query itself may be among them
    out.assign(nq * k, ShardCandidate(std::numeric_limits<double>::infinity(),
                                      std::numeric_limits<std::int64_t>::max()));
    if (nq == 0) return k;
    KnnGraph g;
    if (m.index) g = m.index->query(queries, ask);
    const auto r0 = static_cast<std::int64_t>(m.row0);
    parallel_for(m.n_threads, nq, [&](std::size_t i) {
        const float* q = queries.row(i);
        const double qn = m.exact.query_norm(q);
        std::vector<ShardCandidate> row;
        row.reserve(m.index ? ask : ns);
        auto add = [&](index_t j) {
            const std::int64_t gid = r0 + j;
            if (gid != ids[i]) row.emplace_back(m.exact(q, qn, j), gid);
        };
        if (m.index) {
            for (std::size_t t = 0; t < ask; ++t) add(g.indices[i * ask + t]);
        } else {
            for (std::size_t j = 0; j < ns; ++j) add(static_cast<index_t>(j));
        }
        std::sort(row.begin(), row.end());
        std::copy_n(row.begin(), std::min(k, row.size()), out.begin() + static_cast<std::ptrdiff_t>(i * k));
    });
    return k;
}

void merge_shard_candidates(std::vector<ShardCandidate>& best, const std::vector<ShardCandidate>& cand,
                            std::size_t n_rows, std::size_t k, std::size_t per_row, int n_threads) {
    parallel_for(n_threads, n_rows, [&](std::size_t i) {
        ShardCandidate* row = best.data() + i * k;
        std::vector<ShardCandidate> all(row, row + k);
        all.insert(all.end(), cand.begin() + static_cast<std::ptrdiff_t>(i * per_row),
                   cand.begin() + static_cast<std::ptrdiff_t>((i + 1) * per_row));
        std::inplace_merge(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k), all.end());
        std::copy(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k), row);
    });
}

namespace {

constexpr std::size_t kQueryChunk = 65536;  // queries per pass: bounds the candidate buffers

class ShardedHnswIndex final : public KnnIndex {
public:
    ShardedHnswIndex(MatrixView<float> data, const KnnOptions& o)
        : n_(data.rows), d_(data.cols), metric_(o.metric), n_threads_(o.n_threads), layout_{data.rows, o.hnsw_shards} {
        for (std::size_t s = 0; s < layout_.shards; ++s) {
            const std::size_t b = layout_.begin(s);
            shards_.emplace_back(MatrixView<float>{data.row(b), layout_.count(s), d_}, b, s, o);
        }
    }
    std::size_t n_points() const override { return n_; }
    std::size_t n_dims() const override { return d_; }
    Metric metric() const override { return metric_; }
    std::size_t hnsw_shards() const override { return layout_.shards; }

    KnnGraph self_neighbors(std::size_t k) const override {
        detail::check_self_k(k, n_);
        return search(nullptr, k, true);
    }
    KnnGraph query(MatrixView<float> queries, std::size_t k) const override {
        detail::check_query(queries, k, n_, d_);
        return search(&queries, k, false);
    }

private:
    KnnGraph search(const MatrixView<float>* queries, std::size_t k, bool self) const {
        const std::size_t nq = self ? n_ : queries->rows;
        KnnGraph g = KnnGraph::sized(nq, k, n_);
        Matrix<float> chunk_rows;
        std::vector<std::int64_t> ids;
        std::vector<ShardCandidate> best, cand;
        for (std::size_t c0 = 0; c0 < nq; c0 += kQueryChunk) {
            const std::size_t c1 = std::min(nq, c0 + kQueryChunk), m = c1 - c0;
            MatrixView<float> q;
            if (self) {
                chunk_rows = Matrix<float>(m, d_);
                for (std::size_t i = c0; i < c1; ++i) {
                    const float* src = self_row(i);
                    std::copy(src, src + d_, chunk_rows.row(i - c0));
                }
                q = chunk_rows.view();
            } else {
                q = MatrixView<float>{queries->row(c0), m, d_};
            }
            ids.resize(m);
            for (std::size_t i = 0; i < m; ++i) ids[i] = self ? static_cast<std::int64_t>(c0 + i) : -1;
            best.assign(m * k, ShardCandidate(std::numeric_limits<double>::infinity(),
                                              std::numeric_limits<std::int64_t>::max()));
            for (const ShardIndex& s : shards_) {
                const std::size_t per = s.candidates(q, ids.data(), k, cand);
                merge_shard_candidates(best, cand, m, k, per, n_threads_);
            }
            for (std::size_t t = 0; t < m * k; ++t) {
                g.indices[c0 * k + t] = static_cast<index_t>(best[t].second);
                g.distances[c0 * k + t] = static_cast<float>(best[t].first);
            }
        }
        if (metric_ == Metric::inner_product) detail::warn_negative_distances(g);
        return g;
    }
    // Row i of the data, from the shard that holds it (each shard keeps a copy of its rows; no second copy here).
    const float* self_row(std::size_t i) const {
        std::size_t lo = 0, hi = layout_.shards - 1;
        while (lo < hi) {
            const std::size_t mid = (lo + hi + 1) / 2;
            if (layout_.begin(mid) <= i) lo = mid;
            else hi = mid - 1;
        }
        return shards_[lo].rows().row(i - layout_.begin(lo));
    }

    std::size_t n_, d_;
    Metric metric_;
    int n_threads_;
    ShardLayout layout_;
    std::vector<ShardIndex> shards_;
};

} // namespace

std::unique_ptr<KnnIndex> make_sharded_hnsw_index(MatrixView<float> data, const KnnOptions& options) {
    require(is_gemm_metric(options.metric) && options.metric_params.empty(),
            "sharded HNSW kNN: only the euclidean, cosine and inner-product metrics without parameters are sharded, "
            "got " + to_string(options.metric));
    require(options.hnsw_shards >= 1, "sharded HNSW kNN: the number of shards must be >= 1");
    detail::check_knn_data(data, "sharded HNSW kNN");
    require(options.hnsw_shards <= data.rows, "sharded HNSW kNN: " + std::to_string(options.hnsw_shards) +
                                                  " shards for " + std::to_string(data.rows) + " points");
    return std::make_unique<ShardedHnswIndex>(data, options);
}

} // namespace nembed
