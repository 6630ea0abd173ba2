// The only translation unit that includes hnswlib (its hnswlib.h defines non-inline functions).
#include "nembed/neighbors/hnsw.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <mutex>
#include <new>
#include <queue>
#include <cstdlib>
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

// ---- the batch build (docs/neighbors.md §4) ----
// hnswlib inserts one point at a time, each search seeing every earlier insertion, so a parallel insertion makes the
// graph depend on scheduling. Here the points after the first go in fixed batches of kBuildBatch, in order:
//   A (serial)   every point of the batch gets its id, level draw (hnswlib's level generator, in order), data and
//                empty link lists: invisible to searches, since nothing links to it yet;
//   B (parallel) each point searches the graph as it was before the batch (read only: the same candidates on any
//                thread) at each of its levels, and its distances to the batch's earlier points are computed;
//   C (serial)   in order, each point takes at each level the ef_construction closest of those two candidate sets
//                (the graph's and the batch's earlier points) and is linked by hnswlib's own heuristic
//                (mutuallyConnectNewElement), as addPoint would link it.
// Every point thus considers every earlier point, as in the serial build, and the graph depends on the seed and
// the data only; B, the searches, is almost all of the work.
constexpr std::size_t kBuildBatch = 256;

template <typename Fill>  // fill(i, dest): writes point i's stored bytes (data_size_ of them) to dest
void build_in_batches(hnswlib::HierarchicalNSW<float>& h, std::size_t n, int n_threads, Fill&& fill) {
    using hnswlib::tableint;
    using Cand = std::pair<float, tableint>;
    using Queue = std::priority_queue<Cand, std::vector<Cand>, hnswlib::HierarchicalNSW<float>::CompareByFirst>;
    std::vector<char> first(h.data_size_);
    fill(0, first.data());
    h.addPoint(first.data(), 0);  // the entry point
    std::vector<std::vector<std::vector<Cand>>> found(kBuildBatch);  // [point][level]: the graph's candidates
    std::vector<float> intra(kBuildBatch * (kBuildBatch - 1) / 2);    // point t: distances to points 0..t-1
    std::vector<int> level(kBuildBatch);
    std::vector<Cand> pool;
    for (std::size_t b0 = 1; b0 < n; b0 += kBuildBatch) {
        if (interrupt_requested()) throw Interrupted("HNSW index construction interrupted");
        const std::size_t nb = std::min(kBuildBatch, n - b0);
        for (std::size_t t = 0; t < nb; ++t) {  // A
            const auto c = static_cast<tableint>(b0 + t);
            const hnswlib::labeltype label = b0 + t;
            h.label_lookup_[label] = c;
            ++h.cur_element_count;
            level[t] = h.getRandomLevel(h.mult_);
            h.element_levels_[c] = level[t];
            std::memset(h.data_level0_memory_ + c * h.size_data_per_element_ + h.offsetLevel0_, 0,
                        h.size_data_per_element_);
            std::memcpy(h.getExternalLabeLp(c), &label, sizeof label);
            fill(b0 + t, h.getDataByInternalId(c));
            if (level[t] > 0) {
                h.linkLists_[c] = static_cast<char*>(std::malloc(h.size_links_per_element_ * level[t] + 1));
                if (!h.linkLists_[c]) throw std::bad_alloc();
                std::memset(h.linkLists_[c], 0, h.size_links_per_element_ * level[t] + 1);
            }
        }
        const int top = h.maxlevel_;
        const tableint ep = h.enterpoint_node_;
        parallelize(n_threads, nb, [&](int, std::size_t t0, std::size_t t1) {  // B
            for (std::size_t t = t0; t < t1; ++t) {
                const auto c = static_cast<tableint>(b0 + t);
                const void* q = h.getDataByInternalId(c);
                float* row = intra.data() + t * (t - 1) / 2;
                for (std::size_t u = 0; u < t; ++u)
                    row[u] = h.fstdistfunc_(q, h.getDataByInternalId(static_cast<tableint>(b0 + u)), h.dist_func_param_);
                auto& f = found[t];
                const int last = std::min(level[t], top);
                f.resize(static_cast<std::size_t>(std::max(last + 1, 0)));
                tableint cur = ep;
                float cur_d = h.fstdistfunc_(q, h.getDataByInternalId(cur), h.dist_func_param_);
                for (int l = top; l > last; --l) {  // greedy descent above the point's own levels (as addPoint)
                    for (bool changed = true; changed;) {
                        changed = false;
                        auto* ll = h.get_linklist(cur, l);
                        const auto* nb_ids = reinterpret_cast<const tableint*>(ll + 1);
                        for (int i = 0, m = h.getListCount(ll); i < m; ++i) {
                            const float d = h.fstdistfunc_(q, h.getDataByInternalId(nb_ids[i]), h.dist_func_param_);
                            if (d < cur_d) {
                                cur_d = d;
                                cur = nb_ids[i];
                                changed = true;
                            }
                        }
                    }
                }
                for (int l = last; l >= 0; --l) {
                    Queue pq = h.searchBaseLayer(cur, q, l);
                    auto& v = f[static_cast<std::size_t>(l)];
                    v.clear();
                    for (; !pq.empty(); pq.pop()) v.push_back(pq.top());
                    cur = v.back().second;  // the closest (the queue pops the farthest first)
                }
            }
        });
        for (std::size_t t = 0; t < nb; ++t) {  // C
            const auto c = static_cast<tableint>(b0 + t);
            const void* q = h.getDataByInternalId(c);
            const float* row = intra.data() + t * (t - 1) / 2;
            for (int l = std::min(level[t], h.maxlevel_); l >= 0; --l) {
                pool.clear();
                if (l <= std::min(level[t], top)) pool = found[t][static_cast<std::size_t>(l)];
                for (std::size_t u = 0; u < t; ++u)
                    if (level[u] >= l) pool.emplace_back(row[u], static_cast<tableint>(b0 + u));
                if (pool.empty()) continue;
                auto closer = [](const Cand& x, const Cand& y) { return x.first < y.first || (x.first == y.first && x.second < y.second); };
                if (pool.size() > h.ef_construction_) {
                    std::nth_element(pool.begin(), pool.begin() + static_cast<std::ptrdiff_t>(h.ef_construction_),
                                     pool.end(), closer);
                    pool.resize(h.ef_construction_);
                }
                std::sort(pool.begin(), pool.end(), closer);
                Queue pq;
                for (const Cand& x : pool) pq.push(x);
                h.mutuallyConnectNewElement(q, c, pq, l, false);
            }
            if (level[t] > h.maxlevel_) {
                h.enterpoint_node_ = c;
                h.maxlevel_ = level[t];
            }
        }
    }
}

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
        // The default is the batch build: parallel, and the same graph for any thread count. hnsw_parallel_build
        // inserts concurrently through hnswlib's addPoint (thread-safe for distinct labels), whose graph depends on
        // scheduling.
        if (!opt.hnsw_parallel_build) {
            build_in_batches(*index_, n, n_threads_, [&](std::size_t i, void* dest) {
                std::memcpy(dest, w.row(i), dim * sizeof(float));
            });
            return;
        }
        index_->addPoint(w.row(0), 0);
        const std::size_t n_chunks = (n - 1 + kChunk - 1) / kChunk;
        parallelize(n_threads_, n_chunks, [&](int, std::size_t c0, std::size_t c1) {
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
        if (!opt.hnsw_parallel_build) {  // the batch build (see HnswIndex)
            build_in_batches(*index_, n, n_threads_, [&](std::size_t i, void* dest) {
                const RowHandle h{rows_.get(), i};
                std::memcpy(dest, &h, sizeof h);
            });
            return;
        }
        auto add = [&](std::size_t i) {
            const RowHandle h{rows_.get(), i};
            index_->addPoint(&h, static_cast<hnswlib::labeltype>(i));
        };
        add(0);  // the entry point, serially
        const std::size_t n_chunks = (n - 1 + kChunk - 1) / kChunk;
        parallelize(n_threads_, n_chunks, [&](int, std::size_t c0, std::size_t c1) {
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
