#include "nembed/neighbors/exact.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "nembed/core/bf16.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/exclusive_pairs.hpp"
#include "nembed/core/interrupt.hpp"
#include "nembed/core/log.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/neighbors/distance.hpp"
#include "nembed/neighbors/generic.hpp"
#include "../core/blas_serial.hpp"

// The key kernels are compiled for several instruction sets in this one file and picked at run time, so a portable
// build still runs the scan with AVX-512 or AVX2 + FMA where the CPU has them (GCC's `#pragma GCC target`; other
// compilers get the portable scalar kernel).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define NEMBED_EXACT_X86 1
#include <immintrin.h>
#else
#define NEMBED_EXACT_X86 0
#endif
#ifdef NEMBED_HAVE_OPENBLAS_GEMM
#include <cblas.h>
#endif

namespace nembed {
namespace {

constexpr std::size_t kPanel = 32;        // reference columns per packed panel
constexpr std::size_t kQueryBlock = 256;  // query rows per parallel task (fixed boundaries)
constexpr std::size_t kPanelGroup = 64;   // panels (2048 references) swept per row tile: they stay in L2
constexpr std::size_t kQStride = kQueryBlock + 8;  // packed query rows per dimension, room for a partial last tile
constexpr std::size_t kLeaf = 8;          // the locality order splits each block down to leaves of 8 (a row tile)
// The self-search's pair tiles first accumulate the kHeads[0] dimensions of largest variance and stop there when a
// lower bound of every key already exceeds both sides' thresholds, else try again after kHeads[1] (docs/neighbors.md
// §2); only for dim >= kHeadMinDim. 4 then 12 took ~5 % less CPU than 8 alone on Fashion-MNIST PCA-50.
constexpr std::size_t kStages = 2;
constexpr std::size_t kHeads[kStages] = {4, 12};
constexpr std::size_t kHeadMinDim = 24;

// A candidate (float key, index) packed in 64 bits so that unsigned order is the (key, index) order: the key's
// bits mapped to an order-preserving unsigned integer (-0 counted as +0) above the index. The buffer cuts
// (nth_element) then compare single integers.
using Cand = std::uint64_t;
inline Cand pack_cand(float key, index_t j) {
    const auto u = std::bit_cast<std::uint32_t>(key + 0.0f);  // + 0.0f: -0 becomes +0, as the float compare sees it
    const std::uint32_t ord = (u & 0x80000000u) != 0 ? ~u : (u | 0x80000000u);
    return (static_cast<Cand>(ord) << 32) | static_cast<std::uint32_t>(j);
}
inline float cand_key(Cand c) {
    const auto ord = static_cast<std::uint32_t>(c >> 32);
    return std::bit_cast<float>((ord & 0x80000000u) != 0 ? (ord & 0x7fffffffu) : ~ord);
}
inline index_t cand_index(Cand c) { return static_cast<index_t>(c & 0xffffffffu); }

// Reference rows packed in panels of kPanel columns: per panel first the keys' constant parts (|r_j|^2 for
// Euclidean, 0 otherwise, +inf for padding past the last row), then for each dimension the kPanel values r_jd
// (dimensions in the order `dims`: decreasing variance), then for each stage s the norms of the rows past their
// first head[s] dimensions, rounded up (0 on padding). A key is then const_j + sum_d q'_d r_jd with q' = -2q
// (Euclidean: |r|^2 - 2 q.r, monotone in the distance for a fixed query) or q' = -q (cosine on normalised rows,
// inner product).
struct Panels {
    std::size_t dim = 0, n = 0, count = 0;
    std::size_t head[kStages] = {};  // the stages' dimension counts; 0: no partial bound
    std::vector<float> v;
    std::size_t stride() const { return (dim + 1 + kStages) * kPanel; }
    const float* panel(std::size_t p) const { return v.data() + p * stride(); }
};

// The norm of x's values at dims[head..dim), rounded up to float: the tail's length in the lower bound of a key
// from its first `head` dimensions (exact.cpp's pair tiles), never below the true length.
float tail_norm(const float* x, const std::vector<std::size_t>& dims, std::size_t head) {
    double s = 0.0;
    for (std::size_t d = head; d < dims.size(); ++d) s += static_cast<double>(x[dims[d]]) * x[dims[d]];
    // the double sum's relative error (< dim 2^-53) is far below the float step the result is rounded up by
    const auto t = static_cast<float>(std::sqrt(s) * (1.0 + 0x1p-40));
    return std::nextafter(t, std::numeric_limits<float>::infinity());
}

// Panel column j holds reference row order[j].
// norms: |w_j| of each row (vector_norm).
Panels pack_reference(MatrixView<float> ref, const std::vector<index_t>& order, const std::vector<std::size_t>& dims,
                      const std::vector<double>& norms, bool partial, bool euclidean, int n_threads) {
    Panels P;
    P.dim = ref.cols;
    P.n = ref.rows;
    if (partial) std::copy(std::begin(kHeads), std::end(kHeads), std::begin(P.head));
    P.count = (ref.rows + kPanel - 1) / kPanel;
    P.v.assign(P.count * P.stride(), 0.0f);
    parallel_for(n_threads, P.count, [&](std::size_t p) {
        float* out = P.v.data() + p * P.stride();
        for (std::size_t c = 0; c < kPanel; ++c) {
            const std::size_t j = p * kPanel + c;
            if (j >= P.n) {
                out[c] = std::numeric_limits<float>::infinity();
                continue;
            }
            const float* r = ref.row(static_cast<std::size_t>(order[j]));
            if (euclidean) {
                const double nrm = norms[static_cast<std::size_t>(order[j])];
                out[c] = static_cast<float>(nrm * nrm);
            }
            for (std::size_t d = 0; d < P.dim; ++d) out[(d + 1) * kPanel + c] = r[dims[d]];
            for (std::size_t st = 0; st < kStages; ++st)
                out[(P.dim + 1 + st) * kPanel + c] = tail_norm(r, dims, P.head[st]);
        }
    });
    return P;
}

// The self-search's bf16 screen (docs/neighbors.md §1b; Euclidean, dim >= kScreenMinDim, CPUs with AVX512_BF16):
// per panel of kPanel columns, the keys' constants |w_j|^2 (as Panels; +inf on padding) as float bits, the norms
// |w_j| rounded up (0 on padding), then for each pair of dimensions (2p, 2p + 1) the kPanel columns' two values
// rounded to bf16 (nearest even), dimension 2p in the low half: the operand layout of vdpbf16ps.
constexpr std::size_t kScreenMinDim = 128;
// From this many columns the AVX2 kernel set computes the self-search's float32 keys by OpenBLAS's sgemm (§1c): its
// partial-distance tiles hardly ever stop on wide rows (817 of 130 720 on 784 pixels), and sgemm runs closer to the
// FMA peak than the 6 x 16 register tiles.
constexpr std::size_t kGemmMinDim = 128;
struct Panels16 {
    std::size_t pairs = 0, count = 0;
    std::vector<std::uint32_t> v;
    std::size_t stride() const { return (pairs + 2) * kPanel; }
    const std::uint32_t* panel(std::size_t p) const { return v.data() + p * stride(); }
};

inline std::uint32_t bf16_pair(const float* x, std::size_t dim, std::size_t p, float scale) {
    const float a = scale * x[2 * p], b = 2 * p + 1 < dim ? scale * x[2 * p + 1] : 0.0f;
    return std::uint32_t{round_bf16(a)} | (std::uint32_t{round_bf16(b)} << 16);
}

// |x| (vector_norm's s) rounded up to float (the norms in the screen's error bound must not be below the true ones).
float norm_up(double s) {
    return std::nextafter(static_cast<float>(s * (1.0 + 0x1p-40)), std::numeric_limits<float>::infinity());
}

Panels16 pack_reference16(MatrixView<float> ref, const std::vector<index_t>& order, const std::vector<double>& norms,
                          int n_threads) {
    Panels16 P;
    P.pairs = (ref.cols + 1) / 2;
    P.count = (ref.rows + kPanel - 1) / kPanel;
    P.v.assign(P.count * P.stride(), 0u);
    parallel_for(n_threads, P.count, [&](std::size_t p) {
        std::uint32_t* out = P.v.data() + p * P.stride();
        for (std::size_t c = 0; c < kPanel; ++c) {
            const std::size_t j = p * kPanel + c;
            if (j >= ref.rows) {
                out[c] = std::bit_cast<std::uint32_t>(std::numeric_limits<float>::infinity());
                continue;
            }
            const float* r = ref.row(static_cast<std::size_t>(order[j]));
            const double nrm = norms[static_cast<std::size_t>(order[j])];
            out[c] = std::bit_cast<std::uint32_t>(static_cast<float>(nrm * nrm));  // as pack_reference
            out[kPanel + c] = std::bit_cast<std::uint32_t>(norm_up(nrm));
            for (std::size_t d = 0; d < P.pairs; ++d) out[(d + 2) * kPanel + c] = bf16_pair(r, ref.cols, d, 1.0f);
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
    std::size_t n_cand = 0;
    Cand* heaps = nullptr;  // row r's candidate buffer at heaps + r * 2 * n_cand, sizes[r] entries
    std::uint32_t* sizes = nullptr;
    float* th = nullptr;
};

// Keeps the n_cand smallest candidates of a row by (key, index) in a buffer of 2 n_cand entries: offered keys are
// appended, and a full buffer is cut back to its n_cand smallest by (key, index) (nth_element), th becoming the
// largest kept key. Appending is O(1) and a cut O(n_cand) per n_cand appends, where a binary heap paid O(log n_cand)
// per offer (at k = 90 the heap's updates were 58 % of the self-search). A key above th cannot be among the final
// n_cand smallest (n_cand kept keys are <= th), and a cut drops only entries with n_cand smaller ones, so after the
// last cut (`settle`) the buffer holds exactly the n_cand smallest of every key offered, by a total order: the same
// set for any order of arrival (the symmetric self-search offers them in a schedule-dependent order) and the same
// set a heap kept. th: +inf before the first cut; the kernels pass keys <= th.
inline void offer(Cand* buf, std::uint32_t& size, float& th, std::size_t n_cand, float key, index_t j) {
    buf[size++] = pack_cand(key, j);
    if (size == 2 * n_cand) {
        std::nth_element(buf, buf + (n_cand - 1), buf + size);
        size = static_cast<std::uint32_t>(n_cand);
        th = cand_key(buf[n_cand - 1]);
    }
}

// Cuts a row's buffer to its n_cand smallest (the final set; see offer) and returns the largest kept key.
inline float settle(Cand* buf, std::uint32_t& size, std::size_t n_cand) {
    if (size > n_cand) {
        std::nth_element(buf, buf + (n_cand - 1), buf + size);
        size = static_cast<std::uint32_t>(n_cand);
    }
    Cand top = 0;
    for (std::uint32_t c = 0; c < size; ++c) top = std::max(top, buf[c]);
    return size > 0 ? cand_key(top) : -std::numeric_limits<float>::infinity();
}

// Offers the keys of one row of a tile whose bit is set in `hits` (columns j0 + bit) to the row's heap.
[[gnu::noinline]] void offer_row(const Scan& s, const float* keys, std::uint64_t hits, std::size_t r, std::size_t j0) {
    Cand* heap = s.heaps + r * 2 * s.n_cand;
    for (; hits != 0; hits &= hits - 1) {
        const auto c = static_cast<std::size_t>(std::countr_zero(hits));
        const std::size_t j = j0 + c;
        if (j >= s.ref->n) continue;  // padding
        offer(heap, s.sizes[r], s.th[r], s.n_cand, keys[c], static_cast<index_t>(j));
    }
}

using StageCounts = std::array<std::size_t, kStages>;

// The symmetric self-search (Euclidean, cosine, inner product: symmetric keys). Rows are cut in blocks of kQueryBlock;
// a pair of blocks (I, J) computes each key once, |x_j|^2 - 2 x_i.x_j + |x_i|^2 (or -x_i.x_j), and offers it to the
// rows of I and, transposed, of J: half the work of a scan of every row against every reference. The pairs are
// taken in a round-robin tournament's order, and no two workers hold one block's heaps at once (run_exclusive_pairs);
// with the total order of `offer`, every row keeps the same candidates for any schedule and thread count.
struct SelfScan {
    const Panels* ref = nullptr;
    const float* q = nullptr;   // every block's rows packed as Scan::q: block I at q + I * dim * kQStride
    const float* qn = nullptr;  // per block, kQStride values: the row's key constant (|x|^2 or 0), +inf on padding
    const float* qt[kStages] = {};  // per stage and block, kQStride values: the row's tail norm (Panels) times the
                                    // packing's -2 or -1
    const float* mg = nullptr;  // per block, kQStride values: the margin the partial bound must clear (see scan_self)
    float* th = nullptr;        // per block, kQStride thresholds (-inf on padding: never offered to)
    Cand* heaps = nullptr;      // per block, kQStride buffers of 2 n_cand entries (flat: a pair's stay close)
    std::uint32_t* sizes = nullptr;  // per block, kQStride heap sizes
    std::size_t n_cand = 0;
    // The bf16 screen (Panels16, docs/neighbors.md §1b): per block, pairs16 * kQStride packed bf16 pairs of the rows'
    // values times -2, and per block kQStride factors e_i of the screen's error bound (qe); null without the screen.
    const Panels16* ref16 = nullptr;
    const std::uint32_t* qb = nullptr;
    const float* qe = nullptr;
};

// Offers one row i's keys of a pair tile to the heaps of the columns whose bit is set (j0 + bit), as candidate i.
[[gnu::noinline]] void offer_columns(const SelfScan& s, const float* keys, std::uint64_t hits, std::size_t i,
                                     std::size_t j0) {
    const std::size_t n = s.ref->n;
    if (i >= n) return;  // a padding row
    for (; hits != 0; hits &= hits - 1) {
        const auto c = static_cast<std::size_t>(std::countr_zero(hits));
        const std::size_t j = j0 + c, at = j / kQueryBlock * kQStride + j % kQueryBlock;
        offer(s.heaps + at * 2 * s.n_cand, s.sizes[at], s.th[at], s.n_cand, keys[c], static_cast<index_t>(i));
    }
}

// Offers row i's keys of a tile (columns j0 + bit) to its own heap; diag: the tile's columns are i's own block.
[[gnu::noinline]] void offer_self_row(const SelfScan& s, const float* keys, std::uint64_t hits, std::size_t i,
                                      std::size_t j0, bool diag) {
    const std::size_t n = s.ref->n;
    const std::size_t at = i / kQueryBlock * kQStride + i % kQueryBlock;
    Cand* heap = s.heaps + at * 2 * s.n_cand;
    for (; hits != 0; hits &= hits - 1) {
        const auto c = static_cast<std::size_t>(std::countr_zero(hits));
        const std::size_t j = j0 + c;
        if (j >= n || (diag && j == i)) continue;  // padding; the point itself (duplicates stay)
        offer(heap, s.sizes[at], s.th[at], s.n_cand, keys[c], static_cast<index_t>(j));
    }
}

// The rescan in double of the rows whose float32 keys could not certify their k nearest (docs/neighbors.md §1):
// per row a max-heap of its k best (distance, index) pairs, the same total order as the final sort, so the result
// is the k smallest by (distance, index), which finish_row and brute_force_row also give.
constexpr std::size_t kRescanRows = 8;  // query rows per pass over the references (one or two vectors of doubles)

struct RescanHeap {
    std::vector<std::pair<double, index_t>> h;
    std::size_t k = 0;
    index_t exclude = -1;  // the row itself in a self-search
    // A bound on the sums of squares that can still enter: every s whose correctly rounded sqrt is <= the worst kept
    // distance lies below it (+inf until the heap is full).
    double th_sq = std::numeric_limits<double>::infinity();
};

[[gnu::noinline]] void rescan_offer(RescanHeap& r, double sum_sq, std::size_t j) {
    const auto jj = static_cast<index_t>(j);
    if (jj == r.exclude) return;
    const std::pair<double, index_t> c(std::sqrt(sum_sq), jj);
    if (r.h.size() < r.k) {
        r.h.push_back(c);
        std::push_heap(r.h.begin(), r.h.end());
    } else if (c < r.h.front()) {
        std::pop_heap(r.h.begin(), r.h.end());
        r.h.back() = c;
        std::push_heap(r.h.begin(), r.h.end());
    } else {
        return;
    }
    if (r.h.size() == r.k) {
        const double up = std::nextafter(r.h.front().first, std::numeric_limits<double>::infinity());
        r.th_sq = up * up * (1.0 + 0x1p-50);
    }
}

// One pass of up to kRescanRows query rows, packed q[d * kRescanRows + r] in double, over the float reference rows
// (row-major, n x dim); heaps[r] for row r < rows.
struct Rescan {
    const float* ref = nullptr;
    std::size_t n = 0, dim = 0;
    const double* q = nullptr;
    std::size_t rows = 0;
    RescanHeap* heaps = nullptr;
};

// The tile kernel (src/neighbors/exact_tile.inc) is compiled once per instruction set, each copy in its own
// namespace with that set's vector type and operations: V, L lanes, NV vectors per row, R rows per tile, load,
// set1, fmadd (acc + a * b), add, le_mask (bit l set where a[l] <= t[l]).
#if NEMBED_EXACT_X86
#pragma GCC push_options
#pragma GCC target("avx2,fma")
// The 8 x 8 transposition of candidate_sums_t8 (isa_avx512's and isa_avx2's): col[k] lane r = x[r][d + k], from
// eight unaligned row loads. Inlined into both (AVX2 is a subset of either's target).
[[gnu::always_inline]] inline void transpose8(const float* const* x, std::size_t d, __m256* col) {
    const __m256 a0 = _mm256_loadu_ps(x[0] + d), a1 = _mm256_loadu_ps(x[1] + d), a2 = _mm256_loadu_ps(x[2] + d),
                 a3 = _mm256_loadu_ps(x[3] + d), a4 = _mm256_loadu_ps(x[4] + d), a5 = _mm256_loadu_ps(x[5] + d),
                 a6 = _mm256_loadu_ps(x[6] + d), a7 = _mm256_loadu_ps(x[7] + d);
    const __m256 t0 = _mm256_unpacklo_ps(a0, a1), t1 = _mm256_unpackhi_ps(a0, a1);
    const __m256 t2 = _mm256_unpacklo_ps(a2, a3), t3 = _mm256_unpackhi_ps(a2, a3);
    const __m256 t4 = _mm256_unpacklo_ps(a4, a5), t5 = _mm256_unpackhi_ps(a4, a5);
    const __m256 t6 = _mm256_unpacklo_ps(a6, a7), t7 = _mm256_unpackhi_ps(a6, a7);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
    col[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    col[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    col[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    col[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    col[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    col[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    col[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    col[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq,avx2,fma")
namespace isa_avx512 {
using V = __m512;
constexpr int L = 16, NV = 2, R = 8;  // 16 zmm accumulators next to the 2 loaded columns
inline V load(const float* p) { return _mm512_loadu_ps(p); }
inline V set1(float x) { return _mm512_set1_ps(x); }
inline V fmadd(V acc, V a, V b) { return _mm512_fmadd_ps(a, b, acc); }
inline V add(V a, V b) { return _mm512_add_ps(a, b); }
inline unsigned le_mask(V a, V t) { return _mm512_cmp_ps_mask(a, t, _CMP_LE_OQ); }
#include "exact_tile.inc"

// candidate_sums with the 8 candidate rows transposed in registers, 8 dimensions at a time (an 8 x 8 float transpose,
// then each dimension's 8 values widened to doubles), instead of through the scalar-filled `block`: per candidate and
// dimension the same operations in the same order (t = q − x in double, acc += t·t), so the same bits. The
// scalar transposition was most of the rescan's time on 784 columns. (maskz: GCC 12 warns on the unmasked form.)
void candidate_sums_t8(const float* query, const float* ref, std::size_t dim, const index_t* idx, std::size_t n,
                       double* block, double* out) {
    static_assert(kRescanRows == 8, "one zmm of doubles per group of candidates");
    if (dim < 8) return candidate_sums(query, ref, dim, idx, n, block, out);  // no full transpose to do
    const std::size_t d8 = dim / 8 * 8;
    for (std::size_t c0 = 0; c0 < n; c0 += 8) {
        const std::size_t m = std::min<std::size_t>(8, n - c0);
        const float* x[8];
        for (std::size_t r = 0; r < 8; ++r) x[r] = ref + static_cast<std::size_t>(idx[c0 + (r < m ? r : 0)]) * dim;
        __m512d acc = _mm512_setzero_pd();
        for (std::size_t d = 0; d < d8; d += 8) {
            __m256 col[8];  // col[k]: lane r holds x[r][d + k]
            transpose8(x, d, col);
            for (std::size_t k = 0; k < 8; ++k) {
                const __m512d t = _mm512_sub_pd(_mm512_set1_pd(static_cast<double>(query[d + k])), _mm512_maskz_cvtps_pd(0xFF, col[k]));
                acc = _mm512_add_pd(acc, _mm512_mul_pd(t, t));
            }
        }
        for (std::size_t d = d8; d < dim; ++d) {
            const __m512d xv = _mm512_set_pd(x[7][d], x[6][d], x[5][d], x[4][d], x[3][d], x[2][d], x[1][d], x[0][d]);
            const __m512d t = _mm512_sub_pd(_mm512_set1_pd(static_cast<double>(query[d])), xv);
            acc = _mm512_add_pd(acc, _mm512_mul_pd(t, t));
        }
        alignas(64) double a[8];
        _mm512_store_pd(a, acc);
        for (std::size_t r = 0; r < m; ++r) out[c0 + r] = a[r];
    }
}
} // namespace isa_avx512
#pragma GCC pop_options

// The bf16 screen's pair tiles (docs/neighbors.md §1b): 8 rows x 32 columns (one panel), each lane's key
// accumulated by vdpbf16ps two dimensions at a time (the products of bf16 values are exact in float, the sums
// rounded as float's), then lowered by e_i |w_j| (the bf16 rounding of the operands) so that it is a lower bound of
// the exact key up to float rounding: that bound is what the buffers keep and finish certifies.
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq,avx512bw,avx512bf16,avx2,fma")
namespace isa_avx512bf16 {
template <bool Pair>
inline void tile_self16(const SelfScan& s, std::size_t I, std::size_t J, const std::uint32_t* pan, std::size_t r0,
                        std::size_t jb) {
    constexpr int R = 8;
    const std::size_t pairs = s.ref16->pairs;
    __m512 acc[R][2];
    const __m512 k0 = _mm512_loadu_ps(pan), k1 = _mm512_loadu_ps(pan + 16);
    for (int r = 0; r < R; ++r) {
        acc[r][0] = k0;
        acc[r][1] = k1;
    }
    const std::uint32_t* col = pan + 2 * kPanel;
    const std::uint32_t* q = s.qb + I * pairs * kQStride + r0;
    for (std::size_t p = 0; p < pairs; ++p, col += kPanel, q += kQStride) {
        const auto x0 = (__m512bh)_mm512_loadu_si512(col), x1 = (__m512bh)_mm512_loadu_si512(col + 16);
        for (int r = 0; r < R; ++r) {
            const auto b = (__m512bh)_mm512_set1_epi32(static_cast<int>(q[r]));
            acc[r][0] = _mm512_dpbf16_ps(acc[r][0], b, x0);
            acc[r][1] = _mm512_dpbf16_ps(acc[r][1], b, x1);
        }
    }
    const __m512 n0 = _mm512_loadu_ps(pan + kPanel), n1 = _mm512_loadu_ps(pan + kPanel + 16);
    const float* qn = s.qn + I * kQStride + r0;
    const float* qe = s.qe + I * kQStride + r0;
    const float* th_rows = s.th + I * kQStride + r0;
    __m512 th_cols[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
    if constexpr (Pair)
        for (int v = 0; v < 2; ++v)
            th_cols[v] = _mm512_loadu_ps(s.th + J * kQStride + jb + static_cast<std::size_t>(v * 16));
    std::uint64_t hits[R], col_hits[R];
    std::uint64_t any = 0;
    for (int r = 0; r < R; ++r) {
        const __m512 c = _mm512_set1_ps(qn[r]), e = _mm512_set1_ps(qe[r]), t = _mm512_set1_ps(th_rows[r]);
        acc[r][0] = _mm512_fnmadd_ps(e, n0, _mm512_add_ps(acc[r][0], c));
        acc[r][1] = _mm512_fnmadd_ps(e, n1, _mm512_add_ps(acc[r][1], c));
        hits[r] = static_cast<std::uint64_t>(_mm512_cmp_ps_mask(acc[r][0], t, _CMP_LE_OQ)) |
                  (static_cast<std::uint64_t>(_mm512_cmp_ps_mask(acc[r][1], t, _CMP_LE_OQ)) << 16);
        col_hits[r] = Pair ? (static_cast<std::uint64_t>(_mm512_cmp_ps_mask(acc[r][0], th_cols[0], _CMP_LE_OQ)) |
                              (static_cast<std::uint64_t>(_mm512_cmp_ps_mask(acc[r][1], th_cols[1], _CMP_LE_OQ)) << 16))
                           : 0;
        any |= hits[r] | col_hits[r];
    }
    if (any == 0) return;
    const std::size_t i0 = I * kQueryBlock + r0, j0 = J * kQueryBlock + jb;
    for (int r = 0; r < R; ++r) {
        if ((hits[r] | col_hits[r]) == 0) continue;
        float keys[32];
        _mm512_storeu_ps(keys, acc[r][0]);
        _mm512_storeu_ps(keys + 16, acc[r][1]);
        const std::size_t i = i0 + static_cast<std::size_t>(r);
        if (hits[r]) offer_self_row(s, keys, hits[r], i, j0, !Pair);
        if (col_hits[r]) offer_columns(s, keys, col_hits[r], i, j0);
    }
}

// Blocks (I, J) of the self-search through the screen (scan_self's order; no partial stages).
StageCounts scan_self16(const SelfScan& s, std::size_t I, std::size_t J) {
    constexpr std::size_t per_block = kQueryBlock / kPanel;
    const Panels16& P = *s.ref16;
    const std::size_t rows = std::min(kQueryBlock, s.ref->n - I * kQueryBlock);
    const std::size_t p0 = J * per_block, p1 = std::min(P.count, p0 + per_block);
    for (std::size_t r0 = 0; r0 < rows; r0 += 8)
        for (std::size_t p = p0; p < p1; ++p) {
            if (I == J)
                tile_self16<false>(s, I, J, P.panel(p), r0, (p - p0) * kPanel);
            else
                tile_self16<true>(s, I, J, P.panel(p), r0, (p - p0) * kPanel);
        }
    return StageCounts{};
}
} // namespace isa_avx512bf16
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace isa_avx2 {
using V = __m256;
constexpr int L = 8, NV = 2, R = 6;  // 12 of the 16 ymm registers
inline V load(const float* p) { return _mm256_loadu_ps(p); }
inline V set1(float x) { return _mm256_set1_ps(x); }
inline V fmadd(V acc, V a, V b) { return _mm256_fmadd_ps(a, b, acc); }
inline V add(V a, V b) { return _mm256_add_ps(a, b); }
inline unsigned le_mask(V a, V t) { return static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(a, t, _CMP_LE_OQ))); }
#include "exact_tile.inc"

// candidate_sums with the 8 candidate rows transposed in registers, 8 dimensions at a time (as isa_avx512's
// candidate_sums_t8, two ymm of doubles per group), instead of through the scalar-filled `block`: per candidate and
// dimension the same operations in the same order (t = q - x in double, acc += t * t), so the same bits. The scalar
// fill and its 50 KB block (past L1 at 784 columns) were most of candidate_sums' time, 41 % of the k = 90
// self-search on Fashion-MNIST's 784 pixels on AMD Zen 3 (2026-12-06, k36).
void candidate_sums_t8(const float* query, const float* ref, std::size_t dim, const index_t* idx, std::size_t n,
                       double* block, double* out) {
    static_assert(kRescanRows == 8, "two ymm of doubles per group of candidates");
    if (dim < 8) return candidate_sums(query, ref, dim, idx, n, block, out);  // no full transpose to do
    const std::size_t d8 = dim / 8 * 8;
    for (std::size_t c0 = 0; c0 < n; c0 += 8) {
        const std::size_t m = std::min<std::size_t>(8, n - c0);
        const float* x[8];
        for (std::size_t r = 0; r < 8; ++r) x[r] = ref + static_cast<std::size_t>(idx[c0 + (r < m ? r : 0)]) * dim;
        __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();  // candidates 0-3, 4-7
        for (std::size_t d = 0; d < d8; d += 8) {
            __m256 col[8];  // col[k]: lane r holds x[r][d + k]
            transpose8(x, d, col);
            for (std::size_t k = 0; k < 8; ++k) {
                const __m256d qv = _mm256_set1_pd(static_cast<double>(query[d + k]));
                const __m256d tl = _mm256_sub_pd(qv, _mm256_cvtps_pd(_mm256_castps256_ps128(col[k])));
                const __m256d th = _mm256_sub_pd(qv, _mm256_cvtps_pd(_mm256_extractf128_ps(col[k], 1)));
                lo = _mm256_add_pd(lo, _mm256_mul_pd(tl, tl));
                hi = _mm256_add_pd(hi, _mm256_mul_pd(th, th));
            }
        }
        for (std::size_t d = d8; d < dim; ++d) {
            const __m256d qv = _mm256_set1_pd(static_cast<double>(query[d]));
            const __m256d tl = _mm256_sub_pd(qv, _mm256_set_pd(x[3][d], x[2][d], x[1][d], x[0][d]));
            const __m256d th = _mm256_sub_pd(qv, _mm256_set_pd(x[7][d], x[6][d], x[5][d], x[4][d]));
            lo = _mm256_add_pd(lo, _mm256_mul_pd(tl, tl));
            hi = _mm256_add_pd(hi, _mm256_mul_pd(th, th));
        }
        alignas(32) double a[8];
        _mm256_store_pd(a, lo);
        _mm256_store_pd(a + 4, hi);
        for (std::size_t r = 0; r < m; ++r) out[c0 + r] = a[r];
    }
}

#ifdef NEMBED_HAVE_OPENBLAS_GEMM
// The self-search's keys of blocks (I, J) from their product (the OpenBLAS path of self_search, docs/neighbors.md
// §1c): C[r * kQueryBlock + c] = scale w_r . w_c for I's rows r < mI and J's rows c < mJ; key = (C + c_c) + c_r (the
// constants |w|^2 or 0, qn), offered as scan_self's tiles offer them: to the row's buffer when <= its threshold, and
// (I != J) to the column's when <= the column's; I == J: rows only, without the point itself.
void gemm_offers(const SelfScan& s, const float* C, std::size_t I, std::size_t J, std::size_t mI, std::size_t mJ) {
    static_assert(kQueryBlock % kPanel == 0 && kPanel == 4 * L);
    const bool pair = I != J;
    const float* qn_i = s.qn + I * kQStride;
    const float* qn_j = s.qn + J * kQStride;
    const float* th_i = s.th + I * kQStride;
    const float* th_j = s.th + J * kQStride;
    const std::size_t i0 = I * kQueryBlock, j0 = J * kQueryBlock;
    for (std::size_t r = 0; r < mI; ++r) {
        const V ci = set1(qn_i[r]);
        const float* row = C + r * kQueryBlock;
        for (std::size_t c0 = 0; c0 < mJ; c0 += kPanel) {
            alignas(32) float keys[kPanel];
            const V t = set1(th_i[r]);
            std::uint64_t hits = 0, col_hits = 0;
            for (std::size_t v = 0; v < 4; ++v) {
                const std::size_t c = c0 + v * L;
                const V key = add(add(load(row + c), load(qn_j + c)), ci);
                _mm256_store_ps(keys + v * L, key);
                hits |= static_cast<std::uint64_t>(le_mask(key, t)) << (v * L);
                if (pair) col_hits |= static_cast<std::uint64_t>(le_mask(key, load(th_j + c))) << (v * L);
            }
            if (mJ - c0 < kPanel) {  // columns past J's last row: not computed
                const std::uint64_t valid = (std::uint64_t{1} << (mJ - c0)) - 1;
                hits &= valid;
                col_hits &= valid;
            }
            if (hits != 0) offer_self_row(s, keys, hits, i0 + r, j0 + c0, !pair);
            if (col_hits != 0) offer_columns(s, keys, col_hits, i0 + r, j0 + c0);
        }
    }
}
#endif
} // namespace isa_avx2
#pragma GCC pop_options

namespace isa_generic {  // SSE2, part of x86-64 itself
using V = __m128;
constexpr int L = 4, NV = 2, R = 4;
inline V load(const float* p) { return _mm_loadu_ps(p); }
inline V set1(float x) { return _mm_set1_ps(x); }
inline V fmadd(V acc, V a, V b) { return _mm_add_ps(acc, _mm_mul_ps(a, b)); }
inline V add(V a, V b) { return _mm_add_ps(a, b); }
inline unsigned le_mask(V a, V t) { return static_cast<unsigned>(_mm_movemask_ps(_mm_cmple_ps(a, t))); }
#include "exact_tile.inc"
} // namespace isa_generic
#else
namespace isa_generic {  // other CPUs: scalar lanes, vectorised by the compiler where it can
using V = float;
constexpr int L = 1, NV = 8, R = 4;
inline V load(const float* p) { return *p; }
inline V set1(float x) { return x; }
inline V fmadd(V acc, V a, V b) { return acc + a * b; }
inline V add(V a, V b) { return a + b; }
inline unsigned le_mask(V a, V t) { return a <= t ? 1u : 0u; }
#include "exact_tile.inc"
} // namespace isa_generic
#endif

// One instruction set's kernels: the query scan and the self-search's block pairs.
struct Kernels {
    void (*scan)(const Scan&);
    StageCounts (*scan_self)(const SelfScan&, std::size_t, std::size_t);  // returns the tiles stopped at each stage
    void (*rescan)(const Rescan&);
    void (*candidate_sums)(const float*, const float*, std::size_t, const index_t*, std::size_t, double*, double*);
    std::size_t tiles_per_pair;  // of a full pair of blocks (the count the log line compares with)
    StageCounts (*scan_self16)(const SelfScan&, std::size_t, std::size_t) = nullptr;  // the bf16 screen, if any
    // the offers of a block pair's keys from its sgemm product (self_search's OpenBLAS path), if this set uses it
    void (*gemm_offers)(const SelfScan&, const float*, std::size_t, std::size_t, std::size_t, std::size_t) = nullptr;
};

Kernels kernels_for(const std::string& isa) {
#if NEMBED_EXACT_X86
    if (isa == "avx512bf16") return {isa_avx512::scan, isa_avx512::scan_self, isa_avx512::rescan,
                                       isa_avx512::candidate_sums_t8, isa_avx512::tiles_per_pair,
                                       isa_avx512bf16::scan_self16};
    if (isa == "avx512") return {isa_avx512::scan, isa_avx512::scan_self, isa_avx512::rescan,
                                   isa_avx512::candidate_sums_t8, isa_avx512::tiles_per_pair};
    if (isa == "avx2") return {isa_avx2::scan, isa_avx2::scan_self, isa_avx2::rescan,
                                   isa_avx2::candidate_sums_t8, isa_avx2::tiles_per_pair, nullptr,
#ifdef NEMBED_HAVE_OPENBLAS_GEMM
                                   isa_avx2::gemm_offers
#else
                                   nullptr
#endif
                               };
#endif
    if (isa == "generic") return {isa_generic::scan, isa_generic::scan_self, isa_generic::rescan,
                                    isa_generic::candidate_sums, isa_generic::tiles_per_pair};
    throw InvalidArgument("exact kNN: unknown or unavailable instruction set '" + isa + "'");
}

// The round-robin tournament of nb blocks: rounds of block pairs (I, J), I != J, in which each block appears at most
// once; every pair exactly once over all rounds (the circle method, with a bye when nb is odd).
std::vector<std::vector<std::pair<std::size_t, std::size_t>>> block_rounds(std::size_t nb) {
    std::vector<std::vector<std::pair<std::size_t, std::size_t>>> rounds;
    const std::size_t m = nb + nb % 2;  // m - 1 = nb: the bye
    for (std::size_t r = 0; r + 1 < m; ++r) {
        std::vector<std::pair<std::size_t, std::size_t>> round;
        auto add = [&](std::size_t a, std::size_t b) {
            if (a < nb && b < nb) round.emplace_back(std::min(a, b), std::max(a, b));
        };
        add(r, m - 1);
        for (std::size_t k = 1; k < m / 2; ++k) add((r + k) % (m - 1), (r + (m - 1) - k) % (m - 1));
        if (!round.empty()) rounds.push_back(std::move(round));
    }
    return rounds;
}

// The order in which the index holds its reference points (panel columns, self-search blocks): the leaves of a
// k-d split, each range cut at a multiple of kQueryBlock along its widest coordinate, so a block of kQueryBlock
// points is a compact region. The self-search starts with every block against itself, so each row's candidate
// buffer begins with nearby points and its threshold is tight early: fewer keys pass it (at k = 90 the updates
// dominated the search). Inside a block the split goes on at multiples of kLeaf, so a tile's 8 rows and its 32
// columns are compact too and its keys' partial bound can clear every threshold at once (scan_self). The kept
// candidates, and so the results, do not depend on the order (docs/neighbors.md §2). The ranges of one level are
// disjoint and each is split the same way whoever splits it: the first levels are split range by range in parallel,
// then each range's subtree by one worker, so the order does not depend on the thread count.
std::vector<index_t> locality_order(MatrixView<float> w, int n_threads) {
    std::vector<index_t> order(w.rows);
    for (std::size_t i = 0; i < w.rows; ++i) order[i] = static_cast<index_t>(i);
    // Cuts [lo, hi) along its widest coordinate; returns the cut (hi for a leaf).
    auto split_once = [&](std::size_t lo, std::size_t hi, std::vector<float>& mn, std::vector<float>& mx) {
        if (hi - lo <= kLeaf) return hi;
        const std::size_t unit = hi - lo > kQueryBlock ? kQueryBlock : kLeaf;
        // row by row (one pass over the range's rows; a column at a time re-read every row per dimension)
        mn.assign(w.cols, std::numeric_limits<float>::infinity());
        mx.assign(w.cols, -std::numeric_limits<float>::infinity());
        for (std::size_t t = lo; t < hi; ++t) {
            const float* x = w.row(static_cast<std::size_t>(order[t]));
            for (std::size_t d = 0; d < w.cols; ++d) {
                mn[d] = std::min(mn[d], x[d]);
                mx[d] = std::max(mx[d], x[d]);
            }
        }
        std::size_t widest = 0;
        float best = -1.0f;
        for (std::size_t d = 0; d < w.cols; ++d)
            if (mx[d] - mn[d] > best) {
                best = mx[d] - mn[d];
                widest = d;
            }
        const std::size_t blocks = (hi - lo + unit - 1) / unit, mid = lo + (blocks / 2) * unit;
        const auto at = [&](std::size_t t) { return order.begin() + static_cast<std::ptrdiff_t>(t); };
        std::nth_element(at(lo), at(mid), at(hi), [&](index_t a, index_t b) {
            const float va = w.row(static_cast<std::size_t>(a))[widest], vb = w.row(static_cast<std::size_t>(b))[widest];
            return va < vb || (va == vb && a < b);
        });
        return mid;
    };
    using Range = std::pair<std::size_t, std::size_t>;
    std::vector<Range> level{{0, w.rows}};
    const std::size_t want = 8 * static_cast<std::size_t>(std::max(1, n_threads));
    bool split_any = true;
    while (level.size() < want && split_any) {
        std::vector<std::size_t> mids(level.size());
        parallelize(n_threads, level.size(), [&](int, std::size_t r0, std::size_t r1) {
            std::vector<float> mn, mx;
            for (std::size_t r = r0; r < r1; ++r) mids[r] = split_once(level[r].first, level[r].second, mn, mx);
        });
        std::vector<Range> next;
        split_any = false;
        for (std::size_t r = 0; r < level.size(); ++r) {
            next.emplace_back(level[r].first, mids[r]);
            if (mids[r] < level[r].second) {
                next.emplace_back(mids[r], level[r].second);
                split_any = true;
            }
        }
        level = std::move(next);
    }
    parallelize(n_threads, level.size(), [&](int, std::size_t r0, std::size_t r1) {
        std::vector<float> mn, mx;
        auto split = [&](auto&& self, std::size_t lo, std::size_t hi) -> void {
            const std::size_t mid = split_once(lo, hi, mn, mx);
            if (mid == hi) return;
            self(self, lo, mid);
            self(self, mid, hi);
        };
        for (std::size_t r = r0; r < r1; ++r) split(split, level[r].first, level[r].second);
    });
    return order;
}

// The dimensions by decreasing variance (ties by index): the keys are summed in this order, so a pair tile's first
// kHeads dimensions hold most of the spread (PCA input comes in this order already). A permutation changes only
// the keys' summation order, which §1's bound covers (docs/neighbors.md).
std::vector<std::size_t> variance_order(MatrixView<float> w) {
    std::vector<double> mean(w.cols, 0.0), var(w.cols, 0.0);
    for (std::size_t i = 0; i < w.rows; ++i)
        for (std::size_t d = 0; d < w.cols; ++d) mean[d] += w.row(i)[d];
    for (double& m : mean) m /= static_cast<double>(w.rows);
    for (std::size_t i = 0; i < w.rows; ++i)
        for (std::size_t d = 0; d < w.cols; ++d) {
            const double t = w.row(i)[d] - mean[d];
            var[d] += t * t;
        }
    std::vector<std::size_t> dims(w.cols);
    for (std::size_t d = 0; d < w.cols; ++d) dims[d] = d;
    std::stable_sort(dims.begin(), dims.end(), [&](std::size_t a, std::size_t b) { return var[a] > var[b]; });
    return dims;
}

class ExactIndex final : public KnnIndex {
public:
    // transform: the map of the keys; null for data's own
    ExactIndex(MatrixView<float> data, Metric metric, int n_threads, Kernels kernels,
               const SearchTransform* transform = nullptr)
        : data_(convert<float>(data)), metric_(metric), n_threads_(n_threads), kernels_(kernels) {
        transform_ = transform != nullptr ? *transform : SearchTransform(data_.view(), metric_);
        work_ = transform_.apply(data_.view(), n_threads_, &self_far_);
        if (std::find(self_far_.begin(), self_far_.end(), 1) == self_far_.end()) self_far_.clear();
        order_ = locality_order(work_.view(), n_threads_);
        dims_ = variance_order(work_.view());
        norms_.resize(work_.rows());
        parallel_for(n_threads_, (work_.rows() + 255) / 256, [&](std::size_t b) {
            for (std::size_t j = b * 256; j < std::min(work_.rows(), b * 256 + 256); ++j)
                norms_[j] = vector_norm(work_.row(j), work_.cols());
        });
        panels_.n = work_.rows();  // packed by float_panels when first needed: the screen's self-search does not
        panels_.dim = work_.cols();
        exact_ = detail::ExactDistance(data_.view(), metric_, n_threads_);
        for (double nrm : norms_) max_norm_ = std::max(max_norm_, nrm);
        // The bf16 screen where it pays (wide rows) and its bound holds without overflow (|w| far below 2^64).
        screen_ = kernels_.scan_self16 != nullptr && metric_ == Metric::euclidean && work_.cols() >= kScreenMinDim &&
                  max_norm_ < 0x1p50;
        if (screen_) panels16_ = pack_reference16(work_.view(), order_, norms_, n_threads_);
        // Wide rows without the screen, where the kernel set has no AVX-512: the self-search's keys by sgemm (§1c).
        gemm_ = !screen_ && kernels_.gemm_offers != nullptr && work_.cols() >= kGemmMinDim;
        if (!screen_ && !gemm_) float_panels();
    }

    // The float32 key panels, packed on first use (queries, the self-search without the screen).
    const Panels& float_panels() const {
        std::call_once(panels_once_, [&] {
            panels_ = pack_reference(work_.view(), order_, dims_, norms_, work_.cols() >= kHeadMinDim,
                                     metric_ == Metric::euclidean, n_threads_);
        });
        return panels_;
    }

    std::size_t n_points() const override { return data_.rows(); }
    std::size_t n_dims() const override { return data_.cols(); }
    Metric metric() const override { return metric_; }

    KnnGraph self_neighbors(std::size_t k) const override {
        detail::check_self_k(k, n_points());
        return self_search(work_.view(), k, screen_);
    }

    KnnGraph query(MatrixView<float> queries, std::size_t k) const override {
        detail::check_query(queries, k, n_points(), n_dims());
        std::vector<char> far;
        const Matrix<float> keyed = transform_.apply(queries, n_threads_, &far);
        return search(queries, keyed.view(), far, k);
    }

private:
    struct FinishScratch {
        std::vector<index_t> idx;
        std::vector<std::pair<double, index_t>> dist;
        std::vector<double> block, sums;
    };
    // Row i of g from the `size` candidates kept for it: their distances to `query` in double decide the order.
    // Returns whether the float32 keys certify them (`certain`); if not, the row must be rescanned in double.
    // keyed: the row's mapped values; avail: the reference points it may list; with_qn: its keys include |w_q|^2.
    bool finish(Cand* heap, std::uint32_t& size, std::size_t n_cand, const float* query, double wq,
                std::size_t avail, bool with_qn, KnnGraph& g, std::size_t i, FinishScratch& fs) const {
        const float top = settle(heap, size, n_cand);
        fs.idx.clear();
        for (std::size_t c = 0; c < size; ++c) fs.idx.push_back(order_[static_cast<std::size_t>(cand_index(heap[c]))]);
        if (metric_ == Metric::euclidean) {
            // finish_row's result (distance, index order, the first k) with the distances from the vectorised
            // candidate_sums, which are point_distance's bits
            const std::size_t dim = data_.cols();
            fs.block.resize(dim * kRescanRows);
            fs.sums.resize(size);
            kernels_.candidate_sums(query, data_.data(), dim, fs.idx.data(), size, fs.block.data(), fs.sums.data());
            fs.dist.clear();
            for (std::size_t c = 0; c < size; ++c) fs.dist.emplace_back(std::sqrt(fs.sums[c]), fs.idx[c]);
            std::sort(fs.dist.begin(), fs.dist.end());
            for (std::size_t t = 0; t < g.k; ++t) {
                g.indices[i * g.k + t] = fs.dist[t].second;
                g.distances[i * g.k + t] = static_cast<float>(fs.dist[t].first);
            }
        } else {
            detail::finish_row(exact_, query, fs.idx, g.k, g.indices.data() + i * g.k, g.distances.data() + i * g.k,
                               fs.dist);
        }
        if (size >= avail) return true;  // every reference point was a candidate
        return certain(static_cast<double>(top), wq, with_qn,
                       fs.dist[g.k - 1].first);
    }

    // finish for the bf16 screen's self-search buffers (keys: lower bounds, §1b): the candidates sorted by bound,
    // distances in double first for the k + 8 lowest only; the rest count as left out (every bound >= the first
    // skipped one) unless that does not certify, then all are computed, as finish.
    bool finish16(Cand* heap, std::uint32_t& size, std::size_t n_cand, const float* query, double wq,
                  std::size_t avail, KnnGraph& g, std::size_t i, FinishScratch& fs) const {
        const float top = settle(heap, size, n_cand);
        std::size_t m = std::min<std::size_t>(size, g.k + exact_knn_extra_candidates);
        // the m lowest bounds first (in any order), heap[m] the lowest of the rest
        if (m < size) std::nth_element(heap, heap + m, heap + size);
        const std::size_t dim = data_.cols();
        fs.idx.resize(size);
        for (std::size_t c = 0; c < size; ++c) fs.idx[c] = order_[static_cast<std::size_t>(cand_index(heap[c]))];
        fs.block.resize(dim * kRescanRows);
        fs.sums.resize(size);
        fs.dist.clear();
        std::size_t done = 0;
        for (;;) {
            kernels_.candidate_sums(query, data_.data(), dim, fs.idx.data() + done, m - done, fs.block.data(),
                                    fs.sums.data() + done);
            for (std::size_t c = done; c < m; ++c) fs.dist.emplace_back(std::sqrt(fs.sums[c]), fs.idx[c]);
            done = m;
            std::sort(fs.dist.begin(), fs.dist.end());
            const bool all = m == size;
            if (all && size >= avail) break;  // every reference point was computed
            const double theta = all ? static_cast<double>(top) : static_cast<double>(cand_key(heap[m]));
            if (certain(theta, wq, true, fs.dist[g.k - 1].first, true)) break;
            if (all) {
                write_row(fs, g, i);
                return false;
            }
            m = size;
        }
        write_row(fs, g, i);
        return true;
    }

    static void write_row(const FinishScratch& fs, KnnGraph& g, std::size_t i) {
        for (std::size_t t = 0; t < g.k; ++t) {
            g.indices[i * g.k + t] = fs.dist[t].second;
            g.distances[i * g.k + t] = static_cast<float>(fs.dist[t].first);
        }
    }

    // Whether every reference point left out of a full heap (all keys >= theta, its top) is farther than d_k, the
    // k-th distance among the candidates, by the float32 keys' rounding bound (docs/neighbors.md §1): then the
    // candidates hold the row's k nearest by (double distance, index). wq: |w_q| of the row's mapped values.
    // screened: theta is a bf16 screen's lower bound (finish16).
    bool certain(double theta, double wq, bool with_qn, double d_k, bool screened = false) const {
        constexpr double u = 0x1p-24;  // float32 unit roundoff
        const auto dim = static_cast<double>(data_.cols());
        // A key is a sum of dim + 2 terms (the constants |w_j|^2, |w_q|^2 rounded to float, then dim products) with
        // up to two roundings per step where no FMA is used: |error| <= gamma * (sum of the terms' magnitudes).
        const double M = max_norm_;
        double gamma = (2.0 * dim + 8.0) * u * 1.01;
        double tiny = (2.0 * dim + 8.0) * 0x1p-126;  // underflow (and flush to zero) in the float products
        if (screened) {
            // the bf16 screen's lower bounds (§1b): two more float operations, terms up to (1 + 2^-7) times as
            // large, and the bf16 inputs' flush to zero (each below 2^-126: at most 2^-126 (|q'|_1 + |r|_1))
            gamma = (2.0 * dim + 16.0) * u * 1.01 * 1.02;
            tiny = (2.0 * dim + 16.0) * 0x1p-126 + 0x1p-125 * std::sqrt(dim) * (wq + M) * 1.01;
        }
        double lb = 0.0;
        switch (metric_) {
        case Metric::euclidean: {
            // key + |w_q|^2 = |w_q - w_j|^2 +- gamma (|w_q| + |w_j|)^2; |w_q - w_j| and s |x_q - x_j| differ by the
            // rounding of the map to float, <= u (|w_q| + |w_j|) (+ subnormal steps).
            const double A = wq + M;
            const double sq = theta + (with_qn ? 0.0 : wq * wq) - gamma * A * A - tiny;
            const double t = (sq > 0.0 ? std::sqrt(sq) : 0.0) - 1.01 * u * A - std::sqrt(dim) * 0x1p-148;
            lb = std::max(t, 0.0) / transform_.scale;
            return lb * (1.0 - 0x1p-30) > d_k;
        }
        case Metric::cosine: {
            // key = -w_q.w_j +- gamma |w_q| |w_j|; the float unit rows differ from the exact ones by <= u each, so
            // w_q.w_j is within 1.01 u (1 + |w_j|) of cos; point_distance's double arithmetic adds < 1e-12.
            lb = 1.0 + theta - gamma * wq * M - tiny - 1.01 * u * (1.0 + M) - 1e-12;
            return std::max(lb, 0.0) > d_k;
        }
        case Metric::inner_product: {
            // key = -w_q.w_j +- gamma |w_q| |w_j| with w = x s rounded to float (relative u, subnormal steps), so
            // s^2 <x_q, x_j> <= -theta + error; point_distance's double sum adds (dim + 2) 2^-53 (|x_q||x_j| + 1).
            const double s2 = transform_.scale * transform_.scale;
            const double err = gamma * wq * M + tiny + 2.02 * u * wq * M + std::sqrt(dim) * 0x1p-147 * (wq + M);
            lb = 1.0 + (theta - err) / s2 - (dim + 2.0) * 0x1p-52 * (wq * M / s2 + 1.0);
            return lb > d_k + std::abs(d_k) * 0x1p-30;
        }
        default:
            return false;
        }
    }

    // Rows whose candidates are not certified: their k nearest by a scan in double, the same (distance, index)
    // order. Euclidean: the vectorised rescan kernel, kRescanRows rows per pass (point_distance's bits); the other
    // metrics: brute_force_row. self: queries are the reference rows themselves, each skips its own index.
    void rescan_rows(const std::vector<std::size_t>& rows, MatrixView<float> queries, bool self, KnnGraph& g) const {
        if (rows.empty()) return;
        nembed::log(LogLevel::debug, "exact kNN: " + std::to_string(rows.size()) + " of " +
                                         std::to_string(queries.rows) +
                                         " rows rescanned in double (float32 keys not certain)");
        const std::size_t k = g.k, dim = data_.cols();
        if (metric_ != Metric::euclidean) {
            parallel_for(n_threads_, rows.size(), [&](std::size_t t) {
                const std::size_t i = rows[t];
                detail::brute_force_row(exact_, queries.row(i), self ? static_cast<index_t>(i) : -1, k,
                                        g.indices.data() + i * k, g.distances.data() + i * k);
            });
            return;
        }
        const std::size_t n_groups = (rows.size() + kRescanRows - 1) / kRescanRows;
        parallel_for(n_threads_, n_groups, [&](std::size_t grp) {
            if (interrupt_requested()) throw Interrupted("exact kNN search interrupted");
            const std::size_t r0 = grp * kRescanRows, nr = std::min(kRescanRows, rows.size() - r0);
            std::vector<double> q(dim * kRescanRows, 0.0);
            std::vector<RescanHeap> heaps(kRescanRows);
            for (std::size_t r = 0; r < nr; ++r) {
                const float* x = queries.row(rows[r0 + r]);
                for (std::size_t d = 0; d < dim; ++d) q[d * kRescanRows + r] = static_cast<double>(x[d]);
                heaps[r].k = k;
                heaps[r].h.reserve(k);
                heaps[r].exclude = self ? static_cast<index_t>(rows[r0 + r]) : -1;
            }
            Rescan s;
            s.ref = data_.data();
            s.n = data_.rows();
            s.dim = dim;
            s.q = q.data();
            s.rows = nr;
            s.heaps = heaps.data();
            kernels_.rescan(s);
            for (std::size_t r = 0; r < nr; ++r) {
                auto& h = heaps[r].h;
                require(h.size() == k, "exact kNN: fewer reference points than k");
                std::sort_heap(h.begin(), h.end());
                const std::size_t i = rows[r0 + r];
                for (std::size_t t = 0; t < k; ++t) {
                    g.indices[i * k + t] = h[t].second;
                    g.distances[i * k + t] = static_cast<float>(h[t].first);
                }
            }
        });
    }

    // The self-search's block pairs through sgemm (§1c): per pair, C = scale W_I W_J^T by OpenBLAS (one thread each,
    // nembed's workers run the pairs), then gemm_offers. w: the mapped rows in position order (n x dim, row-major).
    // Any order of summation inside sgemm keeps each key within §1's rounding bound, so the kept candidates may
    // differ from the tiles' in near-ties of the keys, but not the certified lists (§1, "Consequence").
    void gemm_pairs(const SelfScan& s, const float* w, const std::vector<std::pair<std::size_t, std::size_t>>& tasks,
                    float scale) const {
#ifdef NEMBED_HAVE_OPENBLAS_GEMM
        const std::size_t n = data_.rows(), dim = data_.cols(), nb = (n + kQueryBlock - 1) / kQueryBlock;
        [[maybe_unused]] const detail::BlasSerial serial;  // nembed's workers run the pairs
        // per worker one product buffer, zeroed: gemm_offers reads whole vectors past a last block's columns
        std::vector<std::vector<float>> C(static_cast<std::size_t>(std::max(1, n_threads_)));
        const auto blas_int = [](std::size_t v) { return static_cast<blasint>(v); };
        run_exclusive_pairs(n_threads_, nb, tasks, [&](int wk, std::size_t t) {
            if (interrupt_requested()) throw Interrupted("exact kNN search interrupted");
            auto& c = C[static_cast<std::size_t>(wk)];
            if (c.empty()) c.assign(kQueryBlock * kQueryBlock, 0.0f);
            const auto [I, J] = tasks[t];
            const std::size_t mI = std::min(kQueryBlock, n - I * kQueryBlock);
            const std::size_t mJ = std::min(kQueryBlock, n - J * kQueryBlock);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blas_int(mI), blas_int(mJ), blas_int(dim), scale,
                        w + I * kQueryBlock * dim, blas_int(dim), w + J * kQueryBlock * dim, blas_int(dim), 0.0f,
                        c.data(), blas_int(kQueryBlock));
            kernels_.gemm_offers(s, c.data(), I, J, mI, mJ);
        });
#else
        (void)s, (void)w, (void)tasks, (void)scale;
        throw std::logic_error("exact kNN: the sgemm self-search is not compiled (no OpenBLAS)");
#endif
    }

    // The symmetric self-search (see SelfScan); keyed: the rows the keys are computed from (normalised for cosine).
    // screen: through the bf16 screen (screen_ only).
    KnnGraph self_search(MatrixView<float> keyed, std::size_t k, bool screen) const {
        const std::size_t n = data_.rows(), dim = data_.cols();
        // the screen's keys are looser (§1b): more candidates, of which finish16 computes only the nearest first
        const std::size_t n_cand = std::min(k + (screen ? k / 8 + 8 : exact_knn_extra_candidates), n - 1);
        const float scale = metric_ == Metric::euclidean ? -2.0f : -1.0f;  // exact in float
        const std::size_t nb = (n + kQueryBlock - 1) / kQueryBlock;
        const std::size_t pairs = panels16_.pairs;
        const bool gemm = !screen && gemm_;  // keys by sgemm (§1c): the rows in position order, w (no packing)
        if (!screen && !gemm) (void)float_panels();  // packed here, not from inside the parallel packing below
        std::vector<std::uint32_t> qb(screen ? nb * pairs * kQStride : 0, 0u);
        std::vector<float> qe(screen ? nb * kQStride : 0, 0.0f);

        // q and the candidate buffers (41 MB at 70 000 points, k = 15) are not zeroed here: each block's packing task
        // zeroes its own part of q, and a buffer is only read up to its size, so the first touch is in parallel.
        const auto q = std::make_unique_for_overwrite<float[]>(screen || gemm ? 0 : nb * dim * kQStride);
        const auto w = std::make_unique_for_overwrite<float[]>(gemm ? n * dim : 0);
        std::vector<float> qn(nb * kQStride, std::numeric_limits<float>::infinity()),
            th(nb * kQStride, -std::numeric_limits<float>::infinity()), qt(kStages * nb * kQStride, 0.0f),
            mg(nb * kQStride, 0.0f);
        // A pair tile stops after its first head[s] dimensions when, for every key, its lower bound there exceeds
        // the threshold plus mg: mg covers the rounding of both the bound and the full key (each within
        // gamma (|w_q| + |w_j|)^2 + tiny of its exact value, §1's bound), and of th + mg itself, so a key refused
        // this way would have been refused whole: the kept candidates are exactly those of the full tiles.
        const double gamma = (2.0 * static_cast<double>(dim) + 8.0) * 0x1p-24 * 1.01;
        const double tiny = (2.0 * static_cast<double>(dim) + 8.0) * 0x1p-126;
        const auto heaps = std::make_unique_for_overwrite<Cand[]>(nb * kQStride * 2 * n_cand);
        std::vector<std::uint32_t> sizes(nb * kQStride, 0);
        parallelize(n_threads_, nb, [&](int, std::size_t b0, std::size_t b1) {
            for (std::size_t b = b0; b < b1; ++b) {
                if (!screen && !gemm) std::fill_n(q.get() + b * dim * kQStride, dim * kQStride, 0.0f);
                for (std::size_t r = 0; r < kQueryBlock && b * kQueryBlock + r < n; ++r) {
                    const auto row = static_cast<std::size_t>(order_[b * kQueryBlock + r]);
                    const float* x = keyed.row(row);
                    // the same constants as the reference panels' (pack_reference; keyed is work_, norms_ its norms)
                    const double wn = norms_[row];
                    const double nrm = metric_ == Metric::euclidean ? wn : 0.0;
                    qn[b * kQStride + r] = static_cast<float>(nrm * nrm);
                    th[b * kQStride + r] = std::numeric_limits<float>::infinity();
                    if (screen) {  // the screen reads only qb, qe and qn
                        for (std::size_t p = 0; p < pairs; ++p)
                            qb[(b * pairs + p) * kQStride + r] = bf16_pair(x, dim, p, scale);
                        // e_i: |bf16(a) bf16(b) - ab| <= (2^-8 + 2^-18) |ab|, summed over -2 w_i . w_j (§1b)
                        qe[b * kQStride + r] = std::nextafter(
                            static_cast<float>(static_cast<double>(norm_up(wn)) * (0x1p-7 + 0x1p-17) * (1.0 + 0x1p-20)),
                            std::numeric_limits<float>::infinity());
                        continue;
                    }
                    if (gemm) {  // the gemm path reads only w, qn and th
                        std::copy_n(x, dim, w.get() + (b * kQueryBlock + r) * dim);
                        continue;
                    }
                    for (std::size_t d = 0; d < dim; ++d) q[(b * dim + d) * kQStride + r] = scale * x[dims_[d]];
                    for (std::size_t st = 0; st < kStages; ++st)
                        qt[(st * nb + b) * kQStride + r] = scale * tail_norm(x, dims_, float_panels().head[st]);
                    const double A = wn + max_norm_;
                    mg[b * kQStride + r] =
                        std::nextafter(static_cast<float>(2.5 * gamma * A * A + 3.0 * tiny),
                                       std::numeric_limits<float>::infinity());
                }
            }
        });
        SelfScan s;
        s.ref = screen || gemm ? &panels_ : &float_panels();  // the screen's and gemm's offers read only n
        s.q = q.get();
        s.qn = qn.data();
        for (std::size_t st = 0; st < kStages; ++st) s.qt[st] = qt.data() + st * nb * kQStride;
        s.mg = mg.data();
        s.th = th.data();
        s.heaps = heaps.get();
        s.sizes = sizes.data();
        s.n_cand = n_cand;
        if (screen) {
            s.ref16 = &panels16_;
            s.qb = qb.data();
            s.qe = qe.data();
        }
        const auto scan_pair = screen ? kernels_.scan_self16 : kernels_.scan_self;
        if (screen)
            nembed::log(LogLevel::debug, "exact kNN self-search: bf16 screen, " + std::to_string(n_cand) +
                                             " candidates per row");
        if (gemm) nembed::log(LogLevel::debug, "exact kNN self-search: sgemm keys of block pairs");
        // The blocks against themselves, then the tournament's pairs in round order: the order only tightens the
        // thresholds early (the kept candidates do not depend on it); run_exclusive_pairs keeps two workers off one
        // block's buffers without a barrier per round.
        std::vector<std::pair<std::size_t, std::size_t>> tasks;
        for (std::size_t b = 0; b < nb; ++b) tasks.emplace_back(b, b);
        const auto rounds = block_rounds(nb);
        for (const auto& round : rounds) tasks.insert(tasks.end(), round.begin(), round.end());
        std::vector<StageCounts> stopped(static_cast<std::size_t>(std::max(1, n_threads_)), StageCounts{});
        if (gemm) {
            gemm_pairs(s, w.get(), tasks, scale);
        } else {
            run_exclusive_pairs(n_threads_, nb, tasks, [&](int wk, std::size_t t) {
                if (interrupt_requested()) throw Interrupted("exact kNN search interrupted");
                const StageCounts c = scan_pair(s, tasks[t].first, tasks[t].second);
                for (std::size_t st = 0; st < kStages; ++st) stopped[static_cast<std::size_t>(wk)][st] += c[st];
            });
        }
        if (panels_.head[0] > 0 && !screen && !gemm) {
            std::size_t pairs = 0;
            for (const auto& round : rounds) pairs += round.size();
            StageCounts sum{};
            for (const auto& c : stopped)
                for (std::size_t st = 0; st < kStages; ++st) sum[st] += c[st];
            std::size_t all = 0;
            for (std::size_t c : sum) all += c;
            std::string msg = "exact kNN self-search: " + std::to_string(all) + " of " +
                              std::to_string(pairs * kernels_.tiles_per_pair) + " pair tiles stopped early";
            for (std::size_t st = 0; st < kStages; ++st)
                msg += (st == 0 ? " (" : ", ") + std::to_string(sum[st]) + " after " +
                       std::to_string(panels_.head[st]) + " dimensions";
            nembed::log(LogLevel::debug, msg + ")");
        }

        KnnGraph g = KnnGraph::sized(n, k, n);
        std::vector<char> unsure(n, 0);
        parallelize(n_threads_, n, [&](int, std::size_t p0, std::size_t p1) {
            FinishScratch fs;
            for (std::size_t p = p0; p < p1; ++p) {  // position p in the index's order holds row i
                const auto i = static_cast<std::size_t>(order_[p]);
                const std::size_t at = p / kQueryBlock * kQStride + p % kQueryBlock;
                if (!self_far_.empty() && self_far_[i] != 0)
                    detail::brute_force_row(exact_, data_.row(i), static_cast<index_t>(i), k,
                                            g.indices.data() + i * k, g.distances.data() + i * k);
                else if (screen ? !finish16(heaps.get() + at * 2 * n_cand, sizes[at], n_cand, data_.row(i),
                                             norms_[i], n - 1, g, i, fs)
                                 : !finish(heaps.get() + at * 2 * n_cand, sizes[at], n_cand, data_.row(i), norms_[i],
                                           n - 1, true, g, i, fs))
                    unsure[i] = 1;
            }
        });
        std::vector<std::size_t> rescan;
        for (std::size_t i = 0; i < n; ++i)
            if (unsure[i] != 0) rescan.push_back(i);
        // Data whose distances are small against |w|^2 (tight clusters far from the mean) can defeat the screen's
        // looser bound; a rescan in double costs about n dim / 12 of the float32 keys' work per row, so past n / 32
        // such rows the float32 keys are cheaper (at worst 1.5 times their own time, not a scan per row).
        if (screen && rescan.size() > n / 32) {
            nembed::log(LogLevel::debug, "exact kNN self-search: the bf16 screen left " +
                                             std::to_string(rescan.size()) + " rows uncertain; float32 keys instead");
            return self_search(keyed, k, false);
        }
        rescan_rows(rescan, data_.view(), true, g);
        if (metric_ == Metric::inner_product) detail::warn_negative_distances(g);
        return g;
    }

    // keyed: the rows the keys are computed from (`queries` mapped by transform_); `queries` itself for the exact
    // distances of the candidates. Rows flagged in `far` are answered by an exact scan in double instead.
    KnnGraph search(MatrixView<float> queries, MatrixView<float> keyed, const std::vector<char>& far,
                    std::size_t k) const {
        const std::size_t n_q = queries.rows, n_ref = data_.rows(), dim = data_.cols();
        const std::size_t n_cand = std::min(k + exact_knn_extra_candidates, n_ref);
        const float scale = metric_ == Metric::euclidean ? -2.0f : -1.0f;  // exact in float

        KnnGraph g = KnnGraph::sized(n_q, k, n_ref);
        if (n_q == 0) return g;
        std::vector<char> unsure(n_q, 0);

        const Panels& panels = float_panels();  // packed here, not from inside the parallel scan
        const std::size_t n_tasks = (n_q + kQueryBlock - 1) / kQueryBlock;
        parallelize(n_threads_, n_tasks, [&](int, std::size_t t_begin, std::size_t t_end) {
            std::vector<Cand> heaps(kQueryBlock * 2 * n_cand);
            std::vector<std::uint32_t> sizes(kQueryBlock);
            std::vector<float> th(kQStride), qpack(dim * kQStride);
            FinishScratch fs;
            Scan s;
            s.ref = &panels;
            s.q = qpack.data();
            s.n_cand = n_cand;
            s.heaps = heaps.data();
            s.sizes = sizes.data();
            s.th = th.data();
            for (std::size_t t = t_begin; t < t_end; ++t) {
                if (interrupt_requested()) throw Interrupted("exact kNN search interrupted");
                const std::size_t q0 = t * kQueryBlock, q1 = std::min(n_q, q0 + kQueryBlock);
                s.row0 = q0;
                s.rows = q1 - q0;
                std::fill(qpack.begin(), qpack.end(), 0.0f);
                for (std::size_t r = 0; r < kQStride; ++r) {
                    if (r < kQueryBlock) sizes[r] = 0;
                    th[r] = r < s.rows ? std::numeric_limits<float>::infinity()
                                       : -std::numeric_limits<float>::infinity();
                    if (r >= s.rows) continue;
                    const float* x = keyed.row(q0 + r);
                    for (std::size_t d = 0; d < dim; ++d) qpack[d * kQStride + r] = scale * x[dims_[d]];
                }
                kernels_.scan(s);
                for (std::size_t i = q0; i < q1; ++i) {
                    if (far[i] != 0)
                        detail::brute_force_row(exact_, queries.row(i), -1, k, g.indices.data() + i * k,
                                                g.distances.data() + i * k);
                    else if (!finish(heaps.data() + (i - q0) * 2 * n_cand, sizes[i - q0], n_cand, queries.row(i),
                                     vector_norm(keyed.row(i), dim), n_ref, false, g, i, fs))
                        unsure[i] = 1;
                }
            }
        });
        std::vector<std::size_t> rescan;
        for (std::size_t i = 0; i < n_q; ++i)
            if (unsure[i] != 0) rescan.push_back(i);
        rescan_rows(rescan, queries, false, g);
        if (metric_ == Metric::inner_product) detail::warn_negative_distances(g);
        return g;
    }

    Matrix<float> data_;
    SearchTransform transform_;
    Matrix<float> work_;  // data_ mapped by transform_: the rows the float keys are computed from
    std::vector<char> self_far_;  // reference rows answered by an exact scan in the self-search (cosine zero rows)
    double max_norm_ = 0.0;       // the largest |w_j| of the mapped reference rows (the keys' rounding bound)
    std::vector<double> norms_;   // |w_j| of each mapped reference row (vector_norm)
    std::vector<index_t> order_;  // panel column / self-search position p holds reference row order_[p]
    std::vector<std::size_t> dims_;  // the keys' dimension order (variance_order)
    mutable Panels panels_;  // see float_panels
    mutable std::once_flag panels_once_;
    bool screen_ = false;  // the self-search screens with bf16 keys (Panels16)
    bool gemm_ = false;    // the self-search's float32 keys come from sgemm products of block pairs (§1c)
    Panels16 panels16_;
    detail::ExactDistance exact_;
    Metric metric_;
    int n_threads_;
    Kernels kernels_;
};

} // namespace

namespace detail {

std::vector<std::string> exact_knn_isas() {
    std::vector<std::string> isas;
#if NEMBED_EXACT_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        // the bf16 screen (docs/neighbors.md §1b) with avx512's kernels for everything else
        if (__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512bf16")) isas.emplace_back("avx512bf16");
        isas.emplace_back("avx512");
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) isas.emplace_back("avx2");
#endif
    isas.emplace_back("generic");
    return isas;
}

std::unique_ptr<KnnIndex> make_exact_index(MatrixView<float> data, Metric metric, int n_threads,
                                           const std::string& isa) {
    if (!is_gemm_metric(metric)) {
        KnnOptions o;
        o.metric = metric;
        o.n_threads = n_threads;
        return make_generic_exact_index(data, o);
    }
    require(n_threads >= 1, "exact kNN: n_threads must be >= 1 (got " + std::to_string(n_threads) + ")");
    check_knn_data(data, "exact kNN");
    const auto isas = exact_knn_isas();
    if (std::find(isas.begin(), isas.end(), isa) == isas.end())
        throw InvalidArgument("exact kNN: instruction set '" + isa + "' is not available on this CPU");
    return std::make_unique<ExactIndex>(data, metric, n_threads, kernels_for(isa));
}

} // namespace detail

std::unique_ptr<KnnIndex> make_exact_index(MatrixView<float> data, Metric metric, int n_threads) {
    return detail::make_exact_index(data, metric, n_threads, detail::exact_knn_isas().front());
}

std::unique_ptr<KnnIndex> make_exact_index(MatrixView<float> data, Metric metric, int n_threads,
                                           const SearchTransform& transform) {
    require(is_gemm_metric(metric), "exact kNN with a given search map: only the euclidean, cosine and inner-product "
                                    "metrics, got " + to_string(metric));
    require(transform.metric == metric, "exact kNN: the search map was built for " + to_string(transform.metric) +
                                            ", the index is " + to_string(metric));
    require(n_threads >= 1, "exact kNN: n_threads must be >= 1 (got " + std::to_string(n_threads) + ")");
    detail::check_knn_data(data, "exact kNN");
    require(transform.shift.empty() || transform.shift.size() == data.cols,
            "exact kNN: the search map has " + std::to_string(transform.shift.size()) + " column means, the data " +
                std::to_string(data.cols) + " columns");
    return std::make_unique<ExactIndex>(data, metric, n_threads, kernels_for(detail::exact_knn_isas().front()),
                                        &transform);
}

} // namespace nembed
