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

// acc[i][v] += A's pair at column `at` of row i · B's pairs (brow, V blocks of 16 columns). Last: k is odd and `at`
// its last column, taken alone (its neighbour could be a NaN, or past the end of A; B's pair is zero there).
template <int R, int V, bool Last>
NEMBED_AVX512BF16 inline void step(__m512 (&acc)[R][V], const std::uint16_t* const (&a)[R], std::size_t at,
                                   const std::uint16_t* brow) {
    __m512i bp[V];
#pragma GCC unroll 16
    for (int v = 0; v < V; ++v) bp[v] = _mm512_loadu_si512(brow + 32 * v);
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i) {
        const __m512i ai = Last ? _mm512_set1_epi32(static_cast<int>(a[i][at])) : broadcast_pair(a[i] + at);
#pragma GCC unroll 16
        for (int v = 0; v < V; ++v) acc[i][v] = _mm512_dpbf16_ps(acc[i][v], (__m512bh)ai, (__m512bh)bp[v]);
    }
}

// One register block: C rows r0..r0+rows (rows ≤ R) × V column blocks of 16 from j0, R·V float32 accumulators.
// Per k pair (step): V loads, R broadcasts, R·V VDPBF16PS. Every lane adds its k pairs in order: a row's sums
// depend only on its row. Rows past `rows` repeat the last row (no condition in the loop) and are not stored.
template <int R, int V>
NEMBED_AVX512BF16 void block(std::size_t rows, std::size_t r0, std::size_t j0, std::size_t k, const std::uint16_t* A,
                             std::size_t lda, const std::uint16_t* Bv, std::size_t np, std::size_t n,
                             const Output& out) {
    const std::uint16_t* a[R];
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i) a[i] = A + (r0 + std::min<std::size_t>(static_cast<std::size_t>(i), rows - 1)) * lda;
    __m512 acc[R][V];
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i)
#pragma GCC unroll 16
        for (int v = 0; v < V; ++v) acc[i][v] = _mm512_setzero_ps();
    const std::uint16_t* b = Bv + j0 * 2;
    const std::size_t pairs = k / 2, bstep = np * 2;
    for (std::size_t p = 0; p < pairs; ++p) step<R, V, false>(acc, a, 2 * p, b + p * bstep);
    if (k % 2) step<R, V, true>(acc, a, k - 1, b + pairs * bstep);
#pragma GCC unroll 16
    for (int v = 0; v < V; ++v) {
        simd::Epilogue e(out, j0 + 16 * static_cast<std::size_t>(v), n);
#pragma GCC unroll 16
        for (int i = 0; i < R; ++i)  // constant indices: acc stays in registers
            if (static_cast<std::size_t>(i) < rows) e.row(acc[i][v], r0 + static_cast<std::size_t>(i));
        e.end();
    }
}

// Column blocks of V × 16 taken outermost (B's panel stays in L1/L2 while A's rows stream past), row blocks of R in
// order below (db's sums row after row).
template <int R, int V>
NEMBED_AVX512BF16 void panel(std::size_t m, std::size_t j0, std::size_t k, const std::uint16_t* A, std::size_t lda,
                             const std::uint16_t* Bv, std::size_t np, std::size_t n, const Output& out) {
    for (std::size_t r0 = 0; r0 < m; r0 += R)
        block<R, V>(std::min<std::size_t>(R, m - r0), r0, j0, k, A, lda, Bv, np, n, out);
}

} // namespace

// 24 accumulators where there are columns enough (6 × 64, 8 × 48, 12 × 32 columns), 16 at the 2-wide output layer:
// enough independent chains to cover VDPBF16PS's latency, with registers left for B's pairs and A's broadcast.
NEMBED_AVX512BF16 void matmul_avx512_bf16(std::size_t m, std::size_t n, std::size_t k, const std::uint16_t* A,
                                          std::size_t lda, const std::uint16_t* Bv, const Output& out) {
    if (out.db) std::fill(out.db, out.db + n, 0.0f);
    if (m == 0) return;
    const std::size_t np = padded_n(n);
    std::size_t j0 = 0;
    for (; j0 + 64 <= np; j0 += 64) panel<6, 4>(m, j0, k, A, lda, Bv, np, n, out);
    switch ((np - j0) / 16) {
        case 3: panel<8, 3>(m, j0, k, A, lda, Bv, np, n, out); break;
        case 2: panel<12, 2>(m, j0, k, A, lda, Bv, np, n, out); break;
        case 1: panel<16, 1>(m, j0, k, A, lda, Bv, np, n, out); break;
        default: break;
    }
}

#else

void matmul_avx512_bf16(std::size_t, std::size_t, std::size_t, const std::uint16_t*, std::size_t,
                        const std::uint16_t*, const Output&) {}

#endif

} // namespace nembed::own::detail
