// The only translation unit that includes hnswlib (its hnswlib.h defines non-inline functions).
#include "nembed/neighbors/hnsw.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <mutex>
#include <utility>
#include <vector>

#include <hnswlib/hnswlib.h>

#include "nembed/core/error.hpp"
#include "nembed/core/interrupt.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/neighbors/distance.hpp"
#include "nembed/neighbors/generic.hpp"

namespace nembed {
namespace {

constexpr std::size_t kChunk = 256;  // points per interrupt check

class HnswIndex final : public KnnIndex {
public:
    HnswIndex(MatrixView<float> data, const KnnOptions& opt)
        : data_(convert<float>(data)), metric_(opt.metric), n_threads_(opt.n_threads), ef_(opt.hnsw_ef) {
        transform_ = SearchTransform(data_.view(), metric_);
        work_ = transform_.apply(data_.view(), n_threads_, &self_far_);
        if (std::find(self_far_.begin(), self_far_.end(), 1) == self_far_.end()) self_far_.clear();
        exact_ = detail::ExactDistance(data_.view(), metric_, n_threads_);
        const std::size_t dim = data_.cols(), n = data_.rows();
        if (metric_ == Metric::euclidean) {
            space_ = std::make_unique<hnswlib::L2Space>(dim);
        } else {
            space_ = std::make_unique<hnswlib::InnerProductSpace>(dim);
        }
        index_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(space_.get(), n, static_cast<std::size_t>(opt.hnsw_m),
                                                                   static_cast<std::size_t>(opt.hnsw_ef_construction),
                                                                   static_cast<std::size_t>(opt.seed));
        MatrixView<float> w = work_.view();
        // First point serially (it becomes the entry point), the rest concurrently when asked: hnswlib's addPoint
        // is thread-safe for distinct labels, but concurrent insertion makes the graph depend on scheduling. The
        // default builds serially, so the graph (and every result) is the same for any thread count.
        index_->addPoint(w.row(0), 0);
        const std::size_t n_chunks = (n - 1 + kChunk - 1) / kChunk;
        parallelize(opt.hnsw_parallel_build ? n_threads_ : 1, n_chunks, [&](int, std::size_t c0, std::size_t c1) {
            for (std::size_t c = c0; c < c1; ++c) {
                if (interrupt_requested()) throw Interrupted("HNSW index construction interrupted");
                const std::size_t b = 1 + c * kChunk, e = std::min(n, b + kChunk);
                for (std::size_t i = b; i < e; ++i) index_->addPoint(w.row(i), static_cast<hnswlib::labeltype>(i));
            }
        });
    }

    std::size_t n_points() const override { return data_.rows(); }
    std::size_t n_dims() const override { return data_.cols(); }
    Metric metric() const override { return metric_; }

    KnnGraph self_neighbors(std::size_t k) const override {
        detail::check_self_k(k, n_points());
        return search(work_.view(), data_.view(), self_far_, k, true);
    }

    KnnGraph query(MatrixView<float> queries, std::size_t k) const override {
        detail::check_query(queries, k, n_points(), n_dims());
        std::vector<char> far;
        const Matrix<float> qwork = transform_.apply(queries, n_threads_, &far);
        return search(qwork.view(), queries, far, k, false);
    }

private:
    // qwork: what hnswlib searches with (normalised for cosine); queries: the original vectors for the exact
    // recomputation; rows flagged in `far` (see SearchTransform) get an exact scan. Self queries ask for k + 1 and drop the point itself by index (or, when duplicates crowd it
    // out, the farthest result).
    KnnGraph search(MatrixView<float> qwork, MatrixView<float> queries, const std::vector<char>& far, std::size_t k,
                    bool self) const {
        const std::size_t n_q = queries.rows, n = n_points();
        const std::size_t k_search = std::min(n, k + (self ? 1 : 0));
        KnnGraph g = KnnGraph::sized(n_q, k, n);
        if (n_q == 0) return g;

        std::lock_guard<std::mutex> lock(mutex_);  // setEf mutates the index
        // Default beam: 4k/3, at least 50 (recall >= 0.997 at k = 90 and >= 0.99 at k = 15 on Fashion-MNIST,
        // bench/RESULTS.md); openTSNE's min(2k, N) costs a third more time for ~0.001 recall.
        std::size_t ef = ef_ > 0 ? static_cast<std::size_t>(ef_) : std::min(n, std::max<std::size_t>(50, (4 * k + 2) / 3));
        index_->setEf(std::max(ef, k_search));

        const std::size_t n_chunks = (n_q + kChunk - 1) / kChunk;
        parallelize(n_threads_, n_chunks, [&](int, std::size_t c0, std::size_t c1) {
            std::vector<std::pair<float, index_t>> found;
            std::vector<index_t> cand;
            std::vector<std::pair<double, index_t>> scratch;
            for (std::size_t c = c0; c < c1; ++c) {
                if (interrupt_requested()) throw Interrupted("HNSW kNN search interrupted");
                for (std::size_t i = c * kChunk, e = std::min(n_q, (c + 1) * kChunk); i < e; ++i) {
                    if (!far.empty() && far[i] != 0) {
                        detail::brute_force_row(exact_, queries.row(i), self ? static_cast<index_t>(i) : -1, k, g.indices.data() + i * k,
                                                g.distances.data() + i * k);
                        continue;
                    }
                    auto pq = index_->searchKnn(qwork.row(i), k_search);
                    found.clear();
                    while (!pq.empty()) {
                        found.emplace_back(pq.top().first, static_cast<index_t>(pq.top().second));
                        pq.pop();
                    }
                    std::sort(found.begin(), found.end());
                    cand.clear();
                    bool dropped = !self;
                    for (const auto& f : found) {
                        if (self && f.second == static_cast<index_t>(i)) {
                            dropped = true;
                            continue;
                        }
                        cand.push_back(f.second);
                    }
                    if (!dropped && !cand.empty()) cand.pop_back();  // self not found: drop the farthest
                    index_t* oi = g.indices.data() + i * k;
                    float* od = g.distances.data() + i * k;
                    if (cand.size() < k) {
                        // hnswlib returned too few results (poorly connected graph): answer this row exactly.
                        detail::brute_force_row(exact_, queries.row(i), self ? static_cast<index_t>(i) : -1, k, oi, od);
                    } else {
                        detail::finish_row(exact_, queries.row(i), cand, k, oi, od, scratch);
                    }
                }
            }
        });
        if (metric_ == Metric::inner_product) detail::warn_negative_distances(g);
        return g;
    }

    Matrix<float> data_;
    SearchTransform transform_;
    Matrix<float> work_;  // data_ mapped by transform_: what hnswlib indexes
    std::vector<char> self_far_;  // reference rows answered by an exact scan in the self-search (cosine zero rows)
    Metric metric_;
    int n_threads_;
    int ef_;
    detail::ExactDistance exact_;
    std::unique_ptr<hnswlib::SpaceInterface<float>> space_;
    std::unique_ptr<hnswlib::HierarchicalNSW<float>> index_;
    mutable std::mutex mutex_;
};

// hnswlib space over row handles: each stored item is a (row set, row) pair and distances are the generic
// MetricEval's, in double, rounded to float for hnswlib's ordering (the results are recomputed in double).
struct RowHandle {
    const detail::MetricRows* rows;
    std::size_t row;
};

class RowSpace final : public hnswlib::SpaceInterface<float> {
public:
    std::size_t get_data_size() override { return sizeof(RowHandle); }
    hnswlib::DISTFUNC<float> get_dist_func() override { return &RowSpace::distance; }
    void* get_dist_func_param() override { return this; }

private:
    static float distance(const void* a, const void* b, const void*) {
        RowHandle x, y;
        std::memcpy(&x, a, sizeof x);
        std::memcpy(&y, b, sizeof y);
        return static_cast<float>(x.rows->distance(x.row, *y.rows, y.row));
    }
};

class GenericHnswIndex final : public detail::MetricRowsIndex {
public:
    GenericHnswIndex(std::unique_ptr<detail::MetricRows> rows, const KnnOptions& opt)
        : MetricRowsIndex(std::move(rows), opt), ef_(opt.hnsw_ef) {
        const std::size_t n = rows_->rows();
        index_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(&space_, n, static_cast<std::size_t>(opt.hnsw_m),
                                                                   static_cast<std::size_t>(opt.hnsw_ef_construction),
                                                                   static_cast<std::size_t>(opt.seed));
        auto add = [&](std::size_t i) {
            const RowHandle h{rows_.get(), i};
            index_->addPoint(&h, static_cast<hnswlib::labeltype>(i));
        };
        add(0);  // the entry point, serially (see HnswIndex)
        const std::size_t n_chunks = (n - 1 + kChunk - 1) / kChunk;
        parallelize(opt.hnsw_parallel_build ? n_threads_ : 1, n_chunks, [&](int, std::size_t c0, std::size_t c1) {
            for (std::size_t c = c0; c < c1; ++c) {
                if (interrupt_requested()) throw Interrupted("HNSW index construction interrupted");
                for (std::size_t i = 1 + c * kChunk, e = std::min(n, 1 + (c + 1) * kChunk); i < e; ++i) add(i);
            }
        });
    }

private:
    // As HnswIndex::search: ask for k (+1 for self), drop the point itself, recompute in double and sort by
    // (distance, index); rows hnswlib answers with too few results get an exact scan.
    KnnGraph search(const detail::MetricRows& q, std::size_t k, bool self) const override {
        const std::size_t n_q = q.rows(), n = n_points();
        const std::size_t k_search = std::min(n, k + (self ? 1 : 0));
        KnnGraph g = KnnGraph::sized(n_q, k, n);
        if (n_q == 0) return g;
        std::lock_guard<std::mutex> lock(mutex_);
        std::size_t ef = ef_ > 0 ? static_cast<std::size_t>(ef_) : std::min(n, std::max<std::size_t>(50, (4 * k + 2) / 3));
        index_->setEf(std::max(ef, k_search));
        const std::size_t n_chunks = (n_q + kChunk - 1) / kChunk;
        parallelize(n_threads_, n_chunks, [&](int, std::size_t c0, std::size_t c1) {
            std::vector<detail::DistCand> cand;
            for (std::size_t c = c0; c < c1; ++c) {
                if (interrupt_requested()) throw Interrupted("HNSW kNN search interrupted");
                for (std::size_t i = c * kChunk, e = std::min(n_q, (c + 1) * kChunk); i < e; ++i) {
                    const RowHandle h{&q, i};
                    auto pq = index_->searchKnn(&h, k_search);
                    cand.clear();
                    bool dropped = !self;
                    std::vector<index_t> found;
                    while (!pq.empty()) {
                        found.push_back(static_cast<index_t>(pq.top().second));
                        pq.pop();
                    }
                    for (index_t j : found) {
                        if (self && j == static_cast<index_t>(i)) {
                            dropped = true;
                            continue;
                        }
                        cand.emplace_back(q.distance(i, *rows_, static_cast<std::size_t>(j)), j);
                    }
                    std::sort(cand.begin(), cand.end());
                    if (!dropped && !cand.empty()) cand.pop_back();  // self not found: drop the farthest
                    // too few results (poorly connected graph): an exact scan of this row
                    if (cand.size() < k) exact_row(q, i, k, self, cand);
                    store_row(g, i, k, cand);
                }
            }
        });
        if (metric() == Metric::inner_product) detail::warn_negative_distances(g);
        return g;
    }

    int ef_;
    RowSpace space_;
    std::unique_ptr<hnswlib::HierarchicalNSW<float>> index_;
    mutable std::mutex mutex_;
};

void check_hnsw_options(const KnnOptions& options) {
    require(options.n_threads >= 1, "HNSW kNN: n_threads must be >= 1 (got " + std::to_string(options.n_threads) + ")");
    require(options.hnsw_m >= 2, "HNSW kNN: hnsw_m (M) must be >= 2 (got " + std::to_string(options.hnsw_m) + ")");
    require(options.hnsw_ef_construction >= 1,
            "HNSW kNN: hnsw_ef_construction must be >= 1 (got " + std::to_string(options.hnsw_ef_construction) + ")");
    require(options.hnsw_ef >= 0, "HNSW kNN: hnsw_ef must be >= 0 (0 = max(50, 4k/3), at most N; got " +
                                      std::to_string(options.hnsw_ef) + ")");
}

} // namespace

std::unique_ptr<KnnIndex> make_generic_hnsw_index(MatrixView<float> data, const KnnOptions& options) {
    check_hnsw_options(options);
    return std::make_unique<GenericHnswIndex>(detail::metric_rows(data, options, "HNSW kNN"), options);
}

std::unique_ptr<KnnIndex> make_generic_hnsw_index(const CsrView& data, const KnnOptions& options) {
    check_hnsw_options(options);
    return std::make_unique<GenericHnswIndex>(detail::metric_rows(data, options, "HNSW kNN"), options);
}

std::unique_ptr<KnnIndex> make_hnsw_index(MatrixView<float> data, const KnnOptions& options) {
    if (!is_gemm_metric(options.metric) || !options.metric_params.empty()) return make_generic_hnsw_index(data, options);
    check_hnsw_options(options);
    detail::check_knn_data(data, "HNSW kNN");
    return std::make_unique<HnswIndex>(data, options);
}

} // namespace nembed
