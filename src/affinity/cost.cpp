// TorchDR's input costs (metric = sqeuclidean / euclidean / manhattan / angular), dense or on the k nearest
// neighbours, in double from the coordinate differences.
#include "nembed/affinity/cost.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

#include "nembed/core/error.hpp"
#include "nembed/core/interrupt.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/core/strings.hpp"

namespace nembed {

CostMetric parse_cost_metric(const std::string& name) {
    const std::string s = to_lower(name);
    if (s == "sqeuclidean") return CostMetric::sqeuclidean;
    if (s == "euclidean") return CostMetric::euclidean;
    if (s == "manhattan") return CostMetric::manhattan;
    if (s == "angular") return CostMetric::angular;
    throw InvalidArgument("metric: unknown '" + name + "' (expected sqeuclidean, euclidean, manhattan or angular)");
}

std::string to_string(CostMetric m) {
    switch (m) {
        case CostMetric::sqeuclidean: return "sqeuclidean";
        case CostMetric::euclidean: return "euclidean";
        case CostMetric::manhattan: return "manhattan";
        case CostMetric::angular: return "angular";
    }
    return "?";
}

template <typename T>
double pair_cost(const T* a, const T* b, std::size_t dim, CostMetric m) {
    double s = 0.0;
    switch (m) {
        case CostMetric::sqeuclidean:
        case CostMetric::euclidean:
            for (std::size_t d = 0; d < dim; ++d) {
                const double t = static_cast<double>(a[d]) - static_cast<double>(b[d]);
                s += t * t;
            }
            return m == CostMetric::euclidean ? std::sqrt(s) : s;
        case CostMetric::manhattan:
            for (std::size_t d = 0; d < dim; ++d) s += std::abs(static_cast<double>(a[d]) - static_cast<double>(b[d]));
            return s;
        case CostMetric::angular:
            for (std::size_t d = 0; d < dim; ++d) s += static_cast<double>(a[d]) * static_cast<double>(b[d]);
            return -s;
    }
    return s;
}

// -ffp-contract=off (CMakeLists.txt) keeps the clones' lanes bit-identical (no FMA in one and not the other).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define NEMBED_COST_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NEMBED_COST_CLONES
#endif

NEMBED_COST_CLONES void sqeuclidean_rows_f32(const float* a, const float* X, std::size_t stride, const index_t* rows,
                                             std::size_t count, float* out) {
    // The rows are random (memory-bound): fetch a few rows ahead so their misses overlap.
    constexpr std::size_t ahead = 4;
    auto prefetch = [&](std::size_t t) {
        const char* r = reinterpret_cast<const char*>(X + static_cast<std::size_t>(rows[t]) * stride);
        for (std::size_t o = 0; o < stride * sizeof(float); o += 64) __builtin_prefetch(r + o);
    };
    for (std::size_t t = 0; t < count && t < ahead; ++t) prefetch(t);
    // GCC vector types keep the lanes and their halving tree in registers (an array spilled to the stack).
    typedef float v16 __attribute__((vector_size(64)));
    typedef float v8 __attribute__((vector_size(32)));
    typedef float v4 __attribute__((vector_size(16)));
    static_assert(kSqeuclideanPad == 16);
    for (std::size_t t = 0; t < count; ++t) {
        if (t + ahead < count) prefetch(t + ahead);
        const float* b = X + static_cast<std::size_t>(rows[t]) * stride;
        v16 acc = {};
        for (std::size_t d = 0; d < stride; d += 16) {
            v16 va, vb;
            std::memcpy(&va, a + d, sizeof va);
            std::memcpy(&vb, b + d, sizeof vb);
            const v16 v = va - vb;
            acc += v * v;
        }
        const v8 s8 = __builtin_shufflevector(acc, acc, 0, 1, 2, 3, 4, 5, 6, 7) +
                      __builtin_shufflevector(acc, acc, 8, 9, 10, 11, 12, 13, 14, 15);
        const v4 s4 = __builtin_shufflevector(s8, s8, 0, 1, 2, 3) + __builtin_shufflevector(s8, s8, 4, 5, 6, 7);
        out[t] = (s4[0] + s4[2]) + (s4[1] + s4[3]);
    }
}

template double pair_cost<float>(const float*, const float*, std::size_t, CostMetric);
template double pair_cost<double>(const double*, const double*, std::size_t, CostMetric);

namespace {
template <typename T>
void check_data(MatrixView<T> X, const char* what) {
    require(X.rows >= 2 && X.cols >= 1, std::string(what) + ": needs at least 2 points with at least 1 feature");
    require(X.rows <= static_cast<std::size_t>(std::numeric_limits<index_t>::max()),
            std::string(what) + ": too many points for 32-bit indices");
    require_finite(X, "input data");
}
} // namespace

template <typename T>
Matrix<double> dense_cost(MatrixView<T> X, CostMetric m, bool zero_diag, int n_threads) {
    check_data(X, "cost matrix");
    const std::size_t n = X.rows;
    Matrix<double> C(n, n);
    parallel_for(n_threads, n, [&](std::size_t i) {
        double* c = C.row(i);
        for (std::size_t j = 0; j < n; ++j) c[j] = pair_cost(X.row(i), X.row(j), X.cols, m);
        if (zero_diag) c[i] = std::numeric_limits<double>::infinity();
    });
    return C;
}

template Matrix<double> dense_cost<float>(MatrixView<float>, CostMetric, bool, int);
template Matrix<double> dense_cost<double>(MatrixView<double>, CostMetric, bool, int);

SparseCost knn_cost(MatrixView<float> X, std::size_t k, CostMetric m, const CostKnnOptions& o) {
    check_data(X, "nearest-neighbour cost");
    const std::size_t n = X.rows;
    const std::size_t candidates = o.zero_diag ? n - 1 : n;
    require(k >= 1 && k <= candidates, "nearest-neighbour cost: k = " + std::to_string(k) + " must lie in [1, " +
                                           std::to_string(candidates) + "] for " + std::to_string(n) + " points");
    SparseCost s;
    s.n = n;
    s.k = k;
    s.indices.resize(n * k);
    s.costs.resize(n * k);
    const bool euclidean_family = m == CostMetric::sqeuclidean || m == CostMetric::euclidean;
    if (euclidean_family && o.zero_diag && k < candidates) {  // every candidate: the plain scan below
        // The index orders by Euclidean distance, which orders sqeuclidean as well; costs recomputed in double.
        KnnGraph g = find_neighbors(X, k, fit_knn_options(o.method, Metric::euclidean, o.seed, o.n_threads, {}, o.hnsw_shards));
        parallel_for(o.n_threads, n, [&](std::size_t i) {
            std::vector<std::pair<double, index_t>> row(k);
            for (std::size_t t = 0; t < k; ++t) {
                const index_t j = g.neighbors(i)[t];
                row[t] = {pair_cost(X.row(i), X.row(static_cast<std::size_t>(j)), X.cols, m), j};
            }
            std::sort(row.begin(), row.end());  // float distances may tie where the double costs do not
            for (std::size_t t = 0; t < k; ++t) {
                s.indices[i * k + t] = row[t].second;
                s.costs[i * k + t] = row[t].first;
            }
        });
        return s;
    }
    parallelize(o.n_threads, n, [&](int, std::size_t b, std::size_t e) {
        std::vector<std::pair<double, index_t>> row;
        row.reserve(n);
        for (std::size_t i = b; i < e; ++i) {
            if ((i - b) % 256 == 0 && interrupt_requested()) throw Interrupted("nearest-neighbour cost interrupted");
            row.clear();
            for (std::size_t j = 0; j < n; ++j)
                if (!o.zero_diag || j != i) row.emplace_back(pair_cost(X.row(i), X.row(j), X.cols, m), static_cast<index_t>(j));
            std::partial_sort(row.begin(), row.begin() + static_cast<std::ptrdiff_t>(k), row.end());
            for (std::size_t t = 0; t < k; ++t) {
                s.indices[i * k + t] = row[t].second;
                s.costs[i * k + t] = row[t].first;
            }
        }
    });
    return s;
}

} // namespace nembed
