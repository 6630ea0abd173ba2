// nembed's own bf16 products on AVX512-BF16 without AMX (parametric/gemm_own.hpp, backend avx512_bf16).
#include <cstring>

#include "gemm_own_kernels.hpp"
#include "gemm_own_simd.hpp"

namespace nembed::own::detail {

#ifdef NEMBED_OWN_GEMM_BUILD

// Only these functions are compiled for AVX512-BF16 (the rest of the library stays baseline).
#define NEMBED_AVX512BF16 __attribute__((target("avx512bf16,avx512f,avx512bw,avx512vl,avx512dq")))

namespace {

// A's pair (two bf16 at p, any alignment) in every lane.
NEMBED_AVX512BF16 inline __m512i broadcast_pair(const std::uint16_t* p) {
    std::uint32_t v;
    std::memcpy(&v, p, sizeof v);
    return _mm512_set1_epi32(static_cast<int>(v));
}

// A float32 vector of L lanes (16: zmm; 8: ymm and 4: xmm, for a column block's last columns: on CPUs that run
// 512-bit operations as two 256-bit halves, Zen 4, a narrower VDPBF16PS costs less) and VDPBF16PS on it.
template <int L>
struct Vec;
template <>
struct Vec<16> {
    using F = __m512;
    using I = __m512i;
    NEMBED_AVX512BF16 static F zero() { return _mm512_setzero_ps(); }
    NEMBED_AVX512BF16 static I load(const std::uint16_t* b) { return _mm512_loadu_si512(b); }
    NEMBED_AVX512BF16 static F dot(F acc, __m512i a, I b) { return _mm512_dpbf16_ps(acc, (__m512bh)a, (__m512bh)b); }
    NEMBED_AVX512BF16 static __m512 wide(F v) { return v; }
};
template <>
struct Vec<8> {
    using F = __m256;
    using I = __m256i;
    NEMBED_AVX512BF16 static F zero() { return _mm256_setzero_ps(); }
    NEMBED_AVX512BF16 static I load(const std::uint16_t* b) {
        return _mm256_loadu_si256(reinterpret_cast<const I*>(b));
    }
    NEMBED_AVX512BF16 static F dot(F acc, __m512i a, I b) {
        return _mm256_dpbf16_ps(acc, (__m256bh)_mm512_castsi512_si256(a), (__m256bh)b);
    }
    NEMBED_AVX512BF16 static __m512 wide(F v) { return _mm512_zextps256_ps512(v); }
};
template <>
struct Vec<4> {
    using F = __m128;
    using I = __m128i;
    NEMBED_AVX512BF16 static F zero() { return _mm_setzero_ps(); }
    NEMBED_AVX512BF16 static I load(const std::uint16_t* b) { return _mm_loadu_si128(reinterpret_cast<const I*>(b)); }
    NEMBED_AVX512BF16 static F dot(F acc, __m512i a, I b) {
        return _mm_dpbf16_ps(acc, (__m128bh)_mm512_castsi512_si128(a), (__m128bh)b);
    }
    NEMBED_AVX512BF16 static __m512 wide(F v) { return _mm512_zextps128_ps512(v); }
};

// A register block's accumulators: R rows × (F column blocks of 16 + a last block of L lanes, none when L = 0).
template <int R, int F, int L>
struct Acc {
    using T = typename Vec<L == 0 ? 16 : L>::F;
    __m512 full[R][F > 0 ? F : 1];
    T tail[R];
};

// acc += A's pair at column `at` of each row · B's pairs (brow). Last: k is odd and `at` its last column, taken
// alone (its neighbour could be a NaN, or past the end of A; B's pair is zero there).
template <int R, int F, int L, bool Last>
NEMBED_AVX512BF16 inline void step(Acc<R, F, L>& acc, const std::uint16_t* const (&a)[R], std::size_t at,
                                   const std::uint16_t* brow) {
    using Tail = Vec<L == 0 ? 16 : L>;
    __m512i bp[F > 0 ? F : 1];
#pragma GCC unroll 16
    for (int v = 0; v < F; ++v) bp[v] = _mm512_loadu_si512(brow + 32 * v);
    typename Tail::I bt{};
    if constexpr (L > 0) bt = Tail::load(brow + 32 * F);
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i) {
        const __m512i ai = Last ? _mm512_set1_epi32(static_cast<int>(a[i][at])) : broadcast_pair(a[i] + at);
#pragma GCC unroll 16
        for (int v = 0; v < F; ++v) acc.full[i][v] = Vec<16>::dot(acc.full[i][v], ai, bp[v]);
        if constexpr (L > 0) acc.tail[i] = Tail::dot(acc.tail[i], ai, bt);
    }
}

// One register block: C rows r0..r0+rows (rows ≤ R; row i of A at A + i·lda, its k pairs ps elements apart) × the
// columns of F blocks of 16 and a last one of L lanes from j0. Per k pair (step): one load per column block, R
// broadcasts, R·(F + 1) VDPBF16PS. Every lane adds its k pairs in order: a row's sums depend only on its row (not on
// the blocking). Rows past `rows` repeat the last row (no condition in the loop) and are not stored.
template <int Kind, int R, int F, int L>
NEMBED_AVX512BF16 void block(std::size_t rows, std::size_t r0, std::size_t j0, std::size_t k, const std::uint16_t* A,
                             std::size_t lda, std::size_t ps, const std::uint16_t* Bv, std::size_t np, std::size_t n,
                             const Output& out) {
    using Tail = Vec<L == 0 ? 16 : L>;
    const std::uint16_t* a[R];
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i) a[i] = A + (r0 + std::min<std::size_t>(static_cast<std::size_t>(i), rows - 1)) * lda;
    Acc<R, F, L> acc;
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i) {
#pragma GCC unroll 16
        for (int v = 0; v < F; ++v) acc.full[i][v] = _mm512_setzero_ps();
        acc.tail[i] = Tail::zero();
    }
    const std::uint16_t* b = Bv + j0 * 2;
    const std::size_t pairs = k / 2, bstep = np * 2;
    for (std::size_t p = 0; p < pairs; ++p) step<R, F, L, false>(acc, a, p * ps, b + p * bstep);
    if (k % 2) step<R, F, L, true>(acc, a, k - 1, b + pairs * bstep);
#pragma GCC unroll 16
    for (int v = 0; v < F + (L > 0); ++v) {
        simd::EpilogueOf<Kind> e(out, j0 + 16 * static_cast<std::size_t>(v), n);
#pragma GCC unroll 16
        for (int i = 0; i < R; ++i)  // constant indices: acc stays in registers
            if (static_cast<std::size_t>(i) < rows)
                e.row(v < F ? acc.full[i][v < F ? v : 0] : Tail::wide(acc.tail[i]), r0 + static_cast<std::size_t>(i));
        e.end();
    }
}

// Column blocks taken outermost (B's panel stays in L1/L2 while A's rows stream past), row blocks of R in order
// below (db's sums row after row); R = 2 where C has at most 2 rows (dW of the 2-wide output layer).
template <int Kind, int R, int F, int L>
NEMBED_AVX512BF16 void panel(std::size_t m, std::size_t j0, std::size_t k, const std::uint16_t* A, std::size_t lda,
                             std::size_t ps, const std::uint16_t* Bv, std::size_t np, std::size_t n,
                             const Output& out) {
    if (m <= 2) return block<Kind, 2, F, L>(m, 0, j0, k, A, lda, ps, Bv, np, n, out);
    for (std::size_t r0 = 0; r0 < m; r0 += R)
        block<Kind, R, F, L>(std::min<std::size_t>(R, m - r0), r0, j0, k, A, lda, ps, Bv, np, n, out);
}

// The last columns: F full blocks of 16 and a last block of L lanes (0, 4 or 8), with R rows for about 24
// accumulators (16 chains of 128-bit ones), enough to cover VDPBF16PS's latency with registers left for B and A.
template <int Kind, int F>
NEMBED_AVX512BF16 void last_panel(std::size_t tail, std::size_t m, std::size_t j0, std::size_t k,
                                  const std::uint16_t* A, std::size_t lda, std::size_t ps, const std::uint16_t* Bv,
                                  std::size_t np, std::size_t n, const Output& out) {
    constexpr int R0 = F >= 3 ? 6 : F == 2 ? 8 : F == 1 ? 12 : 16;  // with a tail block
    constexpr int R1 = F >= 3 ? 8 : F == 2 ? 12 : 16;               // without
    if (tail == 0) {
        if constexpr (F > 0) panel<Kind, R1, F, 0>(m, j0, k, A, lda, ps, Bv, np, n, out);
    } else if (tail <= 4) {
        panel<Kind, R0, F, 4>(m, j0, k, A, lda, ps, Bv, np, n, out);
    } else {
        panel<Kind, R0, F, 8>(m, j0, k, A, lda, ps, Bv, np, n, out);
    }
}


// Blocks of 64 columns (6 rows × 4 accumulators of 16), then the rest (up to 3 blocks of 16 and a narrower last
// block for the last n mod 16 columns when there are at most 8 of them: n = 100 ends in 4, n = 50 and 2 in 2).
template <int Kind>
NEMBED_AVX512BF16 void columns(std::size_t m, std::size_t n, std::size_t k, const std::uint16_t* A, std::size_t lda,
                               std::size_t ps, const std::uint16_t* Bv, const Output& out) {
    const std::size_t np = padded_n(n);
    std::size_t full = n / 16, tail = n % 16;
    if (tail > 8) ++full, tail = 0;  // a full block then
    std::size_t j0 = 0;
    for (; full >= 4; full -= 4, j0 += 64) panel<Kind, 6, 4, 0>(m, j0, k, A, lda, ps, Bv, np, n, out);
    switch (full) {
        case 3: last_panel<Kind, 3>(tail, m, j0, k, A, lda, ps, Bv, np, n, out); break;
        case 2: last_panel<Kind, 2>(tail, m, j0, k, A, lda, ps, Bv, np, n, out); break;
        case 1: last_panel<Kind, 1>(tail, m, j0, k, A, lda, ps, Bv, np, n, out); break;
        default: last_panel<Kind, 0>(tail, m, j0, k, A, lda, ps, Bv, np, n, out); break;
    }
}

} // namespace

// The network's epilogues compiled each on its own (a row's store without tests: the epilogue was about 7 µs of a
// 512 × 100 product's 52 with them), any other through the runtime one.
NEMBED_AVX512BF16 void matmul_avx512_bf16(std::size_t m, std::size_t n, std::size_t k, const std::uint16_t* A,
                                          std::size_t lda, std::size_t ps, const std::uint16_t* Bv, const Output& out) {
    using namespace simd;
    if (out.db) std::fill(out.db, out.db + n, 0.0f);
    if (m == 0 || n == 0) return;
    switch (epilogue_kind(out)) {
        case 0: return columns<0>(m, n, k, A, lda, ps, Bv, out);  // dW, dIn
        case kBias: return columns<kBias>(m, n, k, A, lda, ps, Bv, out);  // the output layer
        case kBias | kRelu | kC16: return columns<kBias | kRelu | kC16>(m, n, k, A, lda, ps, Bv, out);  // hidden
        case kMask | kDb | kC16: return columns<kMask | kDb | kC16>(m, n, k, A, lda, ps, Bv, out);  // fused backward
        default: return columns<kRuntime>(m, n, k, A, lda, ps, Bv, out);
    }
}

#else

void matmul_avx512_bf16(std::size_t, std::size_t, std::size_t, const std::uint16_t*, std::size_t, std::size_t,
                        const std::uint16_t*, const Output&) {
    not_built("own::matmul (avx512_bf16)");
}

#endif

} // namespace nembed::own::detail
