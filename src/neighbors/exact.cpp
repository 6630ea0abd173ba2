#include "nembed/neighbors/exact.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "nembed/core/error.hpp"
#include "nembed/core/interrupt.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/neighbors/distance.hpp"

// The key kernels are compiled for several instruction sets in this one file and picked at run time, so a portable
// build still runs the scan with AVX-512 or AVX2 + FMA where the CPU has them (GCC's `#pragma GCC target`; other
// compilers get the portable scalar kernel).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define NEMBED_EXACT_X86 1
#include <immintrin.h>
#else
#define NEMBED_EXACT_X86 0
#endif

namespace nembed {
namespace {

constexpr std::size_t kPanel = 32;        // reference columns per packed panel
constexpr std::size_t kQueryBlock = 256;  // query rows per parallel task (fixed boundaries)
constexpr std::size_t kPanelGroup = 64;   // panels (2048 references) swept per row tile: they stay in L2
constexpr std::size_t kQStride = kQueryBlock + 8;  // packed query rows per dimension, room for a partial last tile

using Cand = std::pair<float, index_t>;

// Reference rows packed in panels of kPanel columns: per panel first the keys' constant parts (|r_j|^2 for
// Euclidean, 0 otherwise, +inf for padding past the last row), then for each dimension the kPanel values r_jd.
// A key is then const_j + sum_d q'_d r_jd with q' = -2q (Euclidean: |r|^2 - 2 q.r, monotone in the distance for a
// fixed query) or q' = -q (cosine on normalised rows, inner product).
struct Panels {
    std::size_t dim = 0, n = 0, count = 0;
    std::vector<float> v;
    const float* panel(std::size_t p) const { return v.data() + p * (dim + 1) * kPanel; }
};

Panels pack_reference(MatrixView<float> ref, bool euclidean, int n_threads) {
    Panels P;
    P.dim = ref.cols;
    P.n = ref.rows;
    P.count = (ref.rows + kPanel - 1) / kPanel;
    P.v.assign(P.count * (P.dim + 1) * kPanel, 0.0f);
    parallel_for(n_threads, P.count, [&](std::size_t p) {
        float* out = P.v.data() + p * (P.dim + 1) * kPanel;
        for (std::size_t c = 0; c < kPanel; ++c) {
            const std::size_t j = p * kPanel + c;
            if (j >= P.n) {
                out[c] = std::numeric_limits<float>::infinity();
                continue;
            }
            const float* r = ref.row(j);
            if (euclidean) {
                const double nrm = vector_norm(r, P.dim);
                out[c] = static_cast<float>(nrm * nrm);
            }
            for (std::size_t d = 0; d < P.dim; ++d) out[(d + 1) * kPanel + c] = r[d];
        }
    });
    return P;
}

// Everything one task's scan needs: its query rows packed dimension-major (q[d * kQStride + row], already
// multiplied by -2 or -1; kQStride apart), the per-row heaps and thresholds (the current worst kept key; -inf on
// padding rows, which therefore never offer anything).
struct Scan {
    const Panels* ref = nullptr;
    const float* q = nullptr;
    std::size_t row0 = 0, rows = 0;  // global index of the block's first row, rows in use
    bool self = false;
    std::size_t n_cand = 0;
    std::vector<std::vector<Cand>>* heaps = nullptr;
    float* th = nullptr;
};

// Offers the keys of one row of a tile whose bit is set in `hits` (columns j0 + bit) to the row's heap, in
// increasing column order, so ties keep the smaller index whatever kernel produced the keys. A key may no longer
// beat the threshold by the time it is reached (an earlier column of the tile lowered it).
[[gnu::noinline]] void offer_row(const Scan& s, const float* keys, std::uint64_t hits, std::size_t r, std::size_t j0) {
    auto& heap = (*s.heaps)[r];
    float& th = s.th[r];
    for (; hits != 0; hits &= hits - 1) {
        const auto c = static_cast<std::size_t>(std::countr_zero(hits));
        const float key = keys[c];
        if (!(key < th)) continue;
        const std::size_t j = j0 + c;
        if (s.self && j == s.row0 + r) continue;  // the point itself, by index (duplicates stay)
        const index_t jj = static_cast<index_t>(j);
        if (heap.size() < s.n_cand) {
            heap.emplace_back(key, jj);
            std::push_heap(heap.begin(), heap.end());
            if (heap.size() == s.n_cand) th = heap.front().first;
        } else {
            std::pop_heap(heap.begin(), heap.end());
            heap.back() = Cand(key, jj);
            std::push_heap(heap.begin(), heap.end());
            th = heap.front().first;
        }
    }
}

// The tile kernel (src/neighbors/exact_tile.inc) is compiled once per instruction set, each copy in its own
// namespace with that set's vector type and operations: V, L lanes, NV vectors per row, R rows per tile, load,
// set1, fmadd (acc + a * b), lt_mask (bit l set where a[l] < t[l]).
#if NEMBED_EXACT_X86
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq,avx2,fma")
namespace isa_avx512 {
using V = __m512;
constexpr int L = 16, NV = 2, R = 8;  // 16 zmm accumulators next to the 2 loaded columns
inline V load(const float* p) { return _mm512_loadu_ps(p); }
inline V set1(float x) { return _mm512_set1_ps(x); }
inline V fmadd(V acc, V a, V b) { return _mm512_fmadd_ps(a, b, acc); }
inline unsigned lt_mask(V a, V t) { return _mm512_cmp_ps_mask(a, t, _CMP_LT_OQ); }
#include "exact_tile.inc"
} // namespace isa_avx512
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace isa_avx2 {
using V = __m256;
constexpr int L = 8, NV = 2, R = 6;  // 12 of the 16 ymm registers
inline V load(const float* p) { return _mm256_loadu_ps(p); }
inline V set1(float x) { return _mm256_set1_ps(x); }
inline V fmadd(V acc, V a, V b) { return _mm256_fmadd_ps(a, b, acc); }
inline unsigned lt_mask(V a, V t) { return static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(a, t, _CMP_LT_OQ))); }
#include "exact_tile.inc"
} // namespace isa_avx2
#pragma GCC pop_options

namespace isa_generic {  // SSE2, part of x86-64 itself
using V = __m128;
constexpr int L = 4, NV = 2, R = 4;
inline V load(const float* p) { return _mm_loadu_ps(p); }
inline V set1(float x) { return _mm_set1_ps(x); }
inline V fmadd(V acc, V a, V b) { return _mm_add_ps(acc, _mm_mul_ps(a, b)); }
inline unsigned lt_mask(V a, V t) { return static_cast<unsigned>(_mm_movemask_ps(_mm_cmplt_ps(a, t))); }
#include "exact_tile.inc"
} // namespace isa_generic
#else
namespace isa_generic {  // other CPUs: scalar lanes, vectorised by the compiler where it can
using V = float;
constexpr int L = 1, NV = 8, R = 4;
inline V load(const float* p) { return *p; }
inline V set1(float x) { return x; }
inline V fmadd(V acc, V a, V b) { return acc + a * b; }
inline unsigned lt_mask(V a, V t) { return a < t ? 1u : 0u; }
#include "exact_tile.inc"
} // namespace isa_generic
#endif

using ScanFn = void (*)(const Scan&);

ScanFn scan_for(const std::string& isa) {
#if NEMBED_EXACT_X86
    if (isa == "avx512") return isa_avx512::scan;
    if (isa == "avx2") return isa_avx2::scan;
#endif
    if (isa == "generic") return isa_generic::scan;
    throw InvalidArgument("exact kNN: unknown or unavailable instruction set '" + isa + "'");
}

class ExactIndex final : public KnnIndex {
public:
    ExactIndex(MatrixView<float> data, Metric metric, int n_threads, ScanFn scan)
        : data_(convert<float>(data)), metric_(metric), n_threads_(n_threads), scan_(scan) {
        if (metric_ == Metric::cosine) {
            work_ = normalize_rows(data_.view(), n_threads_);
            panels_ = pack_reference(work_.view(), false, n_threads_);
        } else {
            panels_ = pack_reference(data_.view(), metric_ == Metric::euclidean, n_threads_);
        }
        exact_ = detail::ExactDistance(data_.view(), metric_, n_threads_);
    }

    std::size_t n_points() const override { return data_.rows(); }
    std::size_t n_dims() const override { return data_.cols(); }
    Metric metric() const override { return metric_; }

    KnnGraph self_neighbors(std::size_t k) const override {
        detail::check_self_k(k, n_points());
        return search(data_.view(), metric_ == Metric::cosine ? work_.view() : data_.view(), k, true);
    }

    KnnGraph query(MatrixView<float> queries, std::size_t k) const override {
        detail::check_query(queries, k, n_points(), n_dims());
        if (metric_ == Metric::cosine) {
            const Matrix<float> unit = normalize_rows(queries, n_threads_);
            return search(queries, unit.view(), k, false);
        }
        return search(queries, queries, k, false);
    }

private:
    // keyed: the rows the keys are computed from (`queries` normalised for cosine); `queries` itself for the exact
    // distances of the candidates.
    KnnGraph search(MatrixView<float> queries, MatrixView<float> keyed, std::size_t k, bool self) const {
        const std::size_t n_q = queries.rows, n_ref = data_.rows(), dim = data_.cols();
        const std::size_t n_cand = std::min(k + exact_knn_extra_candidates, n_ref - (self ? 1 : 0));
        const float scale = metric_ == Metric::euclidean ? -2.0f : -1.0f;  // exact in float

        KnnGraph g;
        g.n_points = n_q;
        g.k = k;
        g.n_reference = n_ref;
        g.indices.assign(n_q * k, 0);
        g.distances.assign(n_q * k, 0.0f);
        if (n_q == 0) return g;

        const std::size_t n_tasks = (n_q + kQueryBlock - 1) / kQueryBlock;
        parallelize(n_threads_, n_tasks, [&](int, std::size_t t_begin, std::size_t t_end) {
            std::vector<std::vector<Cand>> heaps(kQueryBlock);
            for (auto& h : heaps) h.reserve(n_cand);
            std::vector<float> th(kQStride), qpack(dim * kQStride);
            std::vector<index_t> cand_idx;
            std::vector<std::pair<double, index_t>> scratch;
            Scan s;
            s.ref = &panels_;
            s.q = qpack.data();
            s.self = self;
            s.n_cand = n_cand;
            s.heaps = &heaps;
            s.th = th.data();
            for (std::size_t t = t_begin; t < t_end; ++t) {
                if (interrupt_requested()) throw Interrupted("exact kNN search interrupted");
                const std::size_t q0 = t * kQueryBlock, q1 = std::min(n_q, q0 + kQueryBlock);
                s.row0 = q0;
                s.rows = q1 - q0;
                std::fill(qpack.begin(), qpack.end(), 0.0f);
                for (std::size_t r = 0; r < kQStride; ++r) {
                    if (r < kQueryBlock) heaps[r].clear();
                    th[r] = r < s.rows ? std::numeric_limits<float>::infinity()
                                       : -std::numeric_limits<float>::infinity();
                    if (r >= s.rows) continue;
                    const float* x = keyed.row(q0 + r);
                    for (std::size_t d = 0; d < dim; ++d) qpack[d * kQStride + r] = scale * x[d];
                }
                scan_(s);
                for (std::size_t i = q0; i < q1; ++i) {
                    cand_idx.clear();
                    for (const auto& c : heaps[i - q0]) cand_idx.push_back(c.second);
                    detail::finish_row(exact_, queries.row(i), cand_idx, k, g.indices.data() + i * k,
                                       g.distances.data() + i * k, scratch);
                }
            }
        });
        if (metric_ == Metric::inner_product) detail::warn_negative_distances(g);
        return g;
    }

    Matrix<float> data_;
    Matrix<float> work_;  // cosine: row-normalised copy (the self-search's keyed rows)
    Panels panels_;
    detail::ExactDistance exact_;
    Metric metric_;
    int n_threads_;
    ScanFn scan_;
};

} // namespace

namespace detail {

std::vector<std::string> exact_knn_isas() {
    std::vector<std::string> isas;
#if NEMBED_EXACT_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        isas.emplace_back("avx512");
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) isas.emplace_back("avx2");
#endif
    isas.emplace_back("generic");
    return isas;
}

std::unique_ptr<KnnIndex> make_exact_index(MatrixView<float> data, Metric metric, int n_threads,
                                           const std::string& isa) {
    require(n_threads >= 1, "exact kNN: n_threads must be >= 1 (got " + std::to_string(n_threads) + ")");
    check_knn_data(data, "exact kNN");
    const auto isas = exact_knn_isas();
    if (std::find(isas.begin(), isas.end(), isa) == isas.end())
        throw InvalidArgument("exact kNN: instruction set '" + isa + "' is not available on this CPU");
    return std::make_unique<ExactIndex>(data, metric, n_threads, scan_for(isa));
}

} // namespace detail

std::unique_ptr<KnnIndex> make_exact_index(MatrixView<float> data, Metric metric, int n_threads) {
    return detail::make_exact_index(data, metric, n_threads, detail::exact_knn_isas().front());
}

} // namespace nembed
