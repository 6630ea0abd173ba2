#include "nembed/neighbors/generic.hpp"

#include <algorithm>
#include <limits>
#include <string>
#include <utility>

#include "nembed/core/error.hpp"
#include "nembed/core/interrupt.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/neighbors/distance.hpp"

namespace nembed {
namespace detail {

MetricRows::MetricRows(MatrixView<float> dense, const MetricSpec& spec, int n_threads)
    : dense_(convert<float>(dense)), eval_(spec) {
    set_.dense = dense_.view();
    set_.sparse = false;
    init(n_threads);
}

MetricRows::MetricRows(CsrData csr, const MetricSpec& spec, int n_threads) : csr_(std::move(csr)), eval_(spec) {
    set_.csr = csr_.view();
    set_.sparse = true;
    init(n_threads);
}

void MetricRows::init(int n_threads) {
    aux_.resize(set_.rows());
    parallel_for(n_threads, set_.rows(), [&](std::size_t i) { aux_[i] = eval_.aux(eval_.row(set_, i)); });
}

std::unique_ptr<MetricRows> MetricRows::queries(MatrixView<float> q, int n_threads) const {
    require(q.cols == cols(), "query dimension mismatch: queries have " + std::to_string(q.cols) +
                                  " columns but the index was built on " + std::to_string(cols()));
    require(q.rows == 0 || q.data != nullptr, "kNN query: the query pointer is null");
    require(q.rows <= static_cast<std::size_t>(std::numeric_limits<index_t>::max()),
            "kNN query: too many query points for 32-bit indices");
    require_finite(q, "kNN query");
    std::unique_ptr<MetricRows> r = sparse() ? std::make_unique<MetricRows>(dense_to_csr(q), eval_.spec(), n_threads)
                                             : std::make_unique<MetricRows>(q, eval_.spec(), n_threads);
    check_metric_domain(eval_.spec(), r->set(), "kNN query");
    return r;
}

std::unique_ptr<MetricRows> MetricRows::queries(const CsrView& q, int n_threads) const {
    require(q.cols == cols(), "query dimension mismatch: queries have " + std::to_string(q.cols) +
                                  " columns but the index was built on " + std::to_string(cols()));
    CsrData c;
    if (q.rows > 0) c = copy_csr(q, "kNN query");
    c.cols = q.cols;
    std::unique_ptr<MetricRows> r;
    if (sparse()) {
        r = std::make_unique<MetricRows>(std::move(c), eval_.spec(), n_threads);
    } else {
        const Matrix<float> d = csr_to_dense(c.view());
        r = std::make_unique<MetricRows>(d.view(), eval_.spec(), n_threads);
    }
    check_metric_domain(eval_.spec(), r->set(), "kNN query");
    return r;
}

MetricSpec resolve_options_metric(const KnnOptions& options, const RowSet& data) {
    return resolve_metric(options.metric, options.metric_params, data, options.n_threads);
}

std::unique_ptr<MetricRows> metric_rows(MatrixView<float> data, const KnnOptions& options, const char* what) {
    check_knn_data(data, what);
    RowSet set;
    set.dense = data;
    const MetricSpec spec = resolve_options_metric(options, set);
    return std::make_unique<MetricRows>(data, spec, options.n_threads);
}

std::unique_ptr<MetricRows> metric_rows(const CsrView& data, const KnnOptions& options, const char* what) {
    CsrData c = copy_csr(data, what);
    require(c.rows <= static_cast<std::size_t>(std::numeric_limits<index_t>::max()),
            std::string(what) + ": too many points for 32-bit indices");
    RowSet set;
    set.csr = c.view();
    set.sparse = true;
    const MetricSpec spec = resolve_options_metric(options, set);
    return std::make_unique<MetricRows>(std::move(c), spec, options.n_threads);
}

KnnGraph MetricRowsIndex::self_neighbors(std::size_t k) const {
    check_self_k(k, n_points());
    return search(*rows_, k, true);
}

namespace {
void check_query_k(std::size_t k, std::size_t n) {
    require(k >= 1, "k must be at least 1 (got 0)");
    require(k <= n, "k = " + std::to_string(k) + " must not exceed the number of reference points (" +
                        std::to_string(n) + ")");
}
} // namespace

KnnGraph MetricRowsIndex::query(MatrixView<float> queries, std::size_t k) const {
    check_query_k(k, n_points());
    return search(*rows_->queries(queries, n_threads_), k, false);
}

KnnGraph MetricRowsIndex::query(const CsrView& queries, std::size_t k) const {
    check_query_k(k, n_points());
    return search(*rows_->queries(queries, n_threads_), k, false);
}

void MetricRowsIndex::exact_row(const MetricRows& q, std::size_t i, std::size_t k, bool self,
                                std::vector<DistCand>& heap) const {
    heap.clear();
    for (std::size_t j = 0, n = n_points(); j < n; ++j) {
        if (self && j == i) continue;
        const DistCand c(q.distance(i, *rows_, j), static_cast<index_t>(j));
        if (heap.size() < k) {
            heap.push_back(c);
            std::push_heap(heap.begin(), heap.end());
        } else if (c < heap.front()) {
            std::pop_heap(heap.begin(), heap.end());
            heap.back() = c;
            std::push_heap(heap.begin(), heap.end());
        }
    }
    std::sort_heap(heap.begin(), heap.end());
}

void MetricRowsIndex::store_row(KnnGraph& g, std::size_t i, std::size_t k, const std::vector<DistCand>& cand) {
    for (std::size_t r = 0; r < k; ++r) {
        g.indices[i * k + r] = cand[r].second;
        g.distances[i * k + r] = static_cast<float>(cand[r].first);
    }
}

} // namespace detail

namespace {

constexpr std::size_t kRowBlock = 64;  // query rows per task (fixed boundaries; interrupt checks)

class GenericExactIndex final : public detail::MetricRowsIndex {
public:
    GenericExactIndex(std::unique_ptr<detail::MetricRows> rows, const KnnOptions& options)
        : MetricRowsIndex(std::move(rows), options) {}

private:
    // Every query row against every reference row in double; a row keeps its k smallest (distance, index), a
    // total order, so the result does not depend on the thread count.
    KnnGraph search(const detail::MetricRows& q, std::size_t k, bool self) const override {
        const std::size_t n_q = q.rows();
        KnnGraph g = KnnGraph::sized(n_q, k, n_points());
        const std::size_t n_tasks = (n_q + kRowBlock - 1) / kRowBlock;
        parallelize(n_threads_, n_tasks, [&](int, std::size_t t0, std::size_t t1) {
            std::vector<detail::DistCand> heap;
            heap.reserve(k + 1);
            for (std::size_t t = t0; t < t1; ++t) {
                if (interrupt_requested()) throw Interrupted("exact kNN search interrupted");
                for (std::size_t i = t * kRowBlock, e = std::min(n_q, (t + 1) * kRowBlock); i < e; ++i) {
                    exact_row(q, i, k, self, heap);
                    store_row(g, i, k, heap);
                }
            }
        });
        if (metric() == Metric::inner_product) detail::warn_negative_distances(g);
        return g;
    }
};

} // namespace

std::unique_ptr<KnnIndex> make_generic_exact_index(MatrixView<float> data, const KnnOptions& options) {
    require(options.n_threads >= 1, "exact kNN: n_threads must be >= 1 (got " + std::to_string(options.n_threads) + ")");
    return std::make_unique<GenericExactIndex>(detail::metric_rows(data, options, "exact kNN"), options);
}

std::unique_ptr<KnnIndex> make_generic_exact_index(const CsrView& data, const KnnOptions& options) {
    require(options.n_threads >= 1, "exact kNN: n_threads must be >= 1 (got " + std::to_string(options.n_threads) + ")");
    return std::make_unique<GenericExactIndex>(detail::metric_rows(data, options, "exact kNN"), options);
}

} // namespace nembed
