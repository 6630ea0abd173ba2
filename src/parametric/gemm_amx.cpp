// nembed's own bf16 products on AMX (parametric/gemm_amx.hpp).
#include "nembed/parametric/gemm_amx.hpp"

#include "nembed/core/aligned.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define NEMBED_AMX_BUILD 1
// GCC 12's AVX-512 intrinsics pass _mm512_undefined_*() as the unused merge source, which -Wmaybe-uninitialized
// reports at -O3 in functions compiled with a target attribute (a false positive: those lanes are all written).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace nembed::amx {

#ifdef NEMBED_AMX_BUILD

// Only these functions are compiled for AMX and AVX-512 (the rest of the library stays baseline).
#define NEMBED_AMX __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl")))

namespace {

bool probe() {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("amx-tile") || !__builtin_cpu_supports("amx-bf16") ||
        !__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
        !__builtin_cpu_supports("avx512vl"))
        return false;
    // Linux ≥ 5.16 hands out the tile data state only on request; without it the first tile instruction faults.
    constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}

std::atomic<bool> g_enabled{true};

// Every tile 16 rows of 64 bytes: C0..C3 (tmm0–3) a 2 × 2 block of C (rows r0 and r0 + 16, columns j0 and j0 + 16),
// A0, A1 (tmm4, 5) the two row blocks' next 32 k, B0, B1 (tmm6, 7) the two column blocks' next 16 k pairs. Four
// independent accumulators keep the multiply unit busy (one chain waits out the instruction's latency). k is padded
// to a multiple of 32 (zero A columns, zero B pairs): one configuration for every product. (GCC's tile intrinsics
// paste their argument into the instruction: the kernel names the tiles by number.)
struct alignas(64) TileConfig {
    std::uint8_t palette = 1, start_row = 0, reserved[14] = {};
    std::uint16_t colsb[16] = {64, 64, 64, 64, 64, 64, 64, 64};
    std::uint8_t rows[16] = {16, 16, 16, 16, 16, 16, 16, 16};
};
// A constant in memory: GCC 12's _tile_loadconfig tells the compiler it reads only the first 8 bytes, so the stores
// of a local configuration's other fields could be dropped.
const TileConfig kTileConfig{};

NEMBED_AMX void configure() { _tile_loadconfig(&kTileConfig); }

// GCC's tile loads and stores are asm statements without a memory clobber: the compiler may move plain loads and
// stores of the same memory across them. A barrier after a block's staging copy and after the tile stores.
inline void memory_barrier() { asm volatile("" ::: "memory"); }

constexpr std::size_t round32(std::size_t k) { return (k + 31) / 32 * 32; }

// round_bf16 (gemm.hpp) on 16 lanes: nearest even; a NaN keeps its sign and top payload bits, quiet.
NEMBED_AMX inline __m512i round_bf16_16(__m512 x) {
    const __m512i u = _mm512_castps_si512(x);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    const __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7FFF)), lsb), 16);
    const __m512i nan = _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
    const __mmask16 is_nan =
        _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7FFFFFFF)), _mm512_set1_epi32(0x7F800000));
    return _mm512_mask_blend_epi32(is_nan, rounded, nan);
}

// A stored tile (rows r0.. of C, 16 columns from j0) through bias, ReLU, the mask and the rounding into C. db's
// sums go on from the rows above (the row blocks are stored in order, a column's tiles top to bottom).
NEMBED_AMX inline void store_rows(const float* tile, std::size_t rows, std::size_t r0, std::size_t j0,
                                  std::size_t n, const Output& out) {
    if (j0 >= n) return;
    const std::size_t width = std::min<std::size_t>(16, n - j0);
    const __mmask16 cols = static_cast<__mmask16>((1u << width) - 1u);
    const __m512 bias = out.bias ? _mm512_maskz_loadu_ps(cols, out.bias + j0) : _mm512_setzero_ps();
    const __m512 zero = _mm512_setzero_ps();
    __m512 db = out.db ? _mm512_maskz_loadu_ps(cols, out.db + j0) : zero;
    for (std::size_t i = 0; i < rows; ++i) {
        __m512 v = _mm512_load_ps(tile + i * 16);
        if (out.bias) v = _mm512_add_ps(v, bias);
        if (out.relu) v = _mm512_max_ps(zero, v);  // a NaN stays NaN (MAX returns its second operand then)
        const std::size_t at = (r0 + i) * out.ldc + j0;
        if (out.mask16) {
            const __m512i h = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(cols, out.mask16 + at));
            v = _mm512_maskz_mov_ps(_mm512_test_epi32_mask(h, _mm512_set1_epi32(0x7FFF)), v);
            if (out.db) db = _mm512_add_ps(db, v);
        }
        if (out.c32) _mm512_mask_storeu_ps(out.c32 + at, cols, v);
        else _mm512_mask_cvtepi32_storeu_epi16(out.c16 + at, cols, round_bf16_16(v));
    }
    if (out.db) _mm512_mask_storeu_ps(out.db + j0, cols, db);
}

// Two rows' 16 columns interleaved (lanes 2j, 2j + 1: row 0's and row 1's column j): a VNNI pair row.
NEMBED_AMX inline __m512i interleave_pair(const std::uint16_t* r0, const std::uint16_t* r1, __mmask16 cols) {
    alignas(64) static constexpr std::uint16_t idx[32] = {0, 32, 1, 33, 2,  34, 3,  35, 4,  36, 5,  37, 6,  38, 7,  39,
                                                          8, 40, 9, 41, 10, 42, 11, 43, 12, 44, 13, 45, 14, 46, 15, 47};
    const __m512i a = r0 ? _mm512_zextsi256_si512(_mm256_maskz_loadu_epi16(cols, r0)) : _mm512_setzero_si512();
    const __m512i b = r1 ? _mm512_zextsi256_si512(_mm256_maskz_loadu_epi16(cols, r1)) : _mm512_setzero_si512();
    return _mm512_permutex2var_epi16(a, _mm512_load_si512(idx), b);
}

// r (16 rows of 16 dwords) transposed in place.
NEMBED_AMX inline void transpose16(__m512i* r) {
    __m512i t[16];
    for (int i = 0; i < 8; ++i) {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; ++i) {
        r[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        r[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        r[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        r[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    // r[4i + q]'s 128-bit lane L holds rows 4i..4i+3 of column 4L + q.
    __m512i out[16];
    for (int q = 0; q < 4; ++q) {
        const __m512i u0 = _mm512_shuffle_i32x4(r[q], r[4 + q], 0x88), u1 = _mm512_shuffle_i32x4(r[q], r[4 + q], 0xDD);
        const __m512i u2 = _mm512_shuffle_i32x4(r[8 + q], r[12 + q], 0x88),
                      u3 = _mm512_shuffle_i32x4(r[8 + q], r[12 + q], 0xDD);
        out[q] = _mm512_shuffle_i32x4(u0, u2, 0x88);
        out[8 + q] = _mm512_shuffle_i32x4(u0, u2, 0xDD);
        out[4 + q] = _mm512_shuffle_i32x4(u1, u3, 0x88);
        out[12 + q] = _mm512_shuffle_i32x4(u1, u3, 0xDD);
    }
    for (int i = 0; i < 16; ++i) r[i] = out[i];
}

} // namespace

bool available() {
    static const bool ok = probe();
    return ok;
}

NEMBED_AMX void pack_vnni(std::size_t k, std::size_t n, const std::uint16_t* B, std::size_t ldb, std::uint16_t* out) {
    const std::size_t np = padded_n(n);
    for (std::size_t p = 0; p < round32(k) / 2; ++p) {
        const std::uint16_t* r0 = 2 * p < k ? B + 2 * p * ldb : nullptr;
        const std::uint16_t* r1 = 2 * p + 1 < k ? r0 + ldb : nullptr;
        for (std::size_t j = 0; j < np; j += 16) {
            const std::size_t w = j < n ? std::min<std::size_t>(16, n - j) : 0;
            _mm512_storeu_si512(out + (p * np + j) * 2, interleave_pair(r0 ? r0 + j : nullptr, r1 ? r1 + j : nullptr,
                                                                        static_cast<__mmask16>((1u << w) - 1u)));
        }
    }
}

// A 16-bit transpose as a 32-bit one: two rows interleaved are a row of pairs (A[2p][c], A[2p+1][c]); those pair
// rows transposed (16 × 16 dwords at a time) are the rows of Aᵀ, 32 of A's rows at a time.
NEMBED_AMX void transpose(std::size_t m, std::size_t k, const std::uint16_t* A, std::size_t lda,
                          std::uint16_t* At) {
    const std::size_t ldt = round32(m);
    __m512i r[16];
    // 32 rows of A at a time (in L1 while their columns are written), 16 columns of them at a time.
    for (std::size_t r0 = 0; r0 < ldt; r0 += 32)
        for (std::size_t c0 = 0; c0 < k; c0 += 16) {
            const std::size_t w = std::min<std::size_t>(16, k - c0);
            const __mmask16 cols = static_cast<__mmask16>((1u << w) - 1u);
            for (std::size_t p = 0; p < 16; ++p) {
                const std::size_t row = r0 + 2 * p;
                r[p] = interleave_pair(row < m ? A + row * lda + c0 : nullptr,
                                       row + 1 < m ? A + (row + 1) * lda + c0 : nullptr, cols);
            }
            transpose16(r);
            for (std::size_t j = 0; j < w; ++j) _mm512_storeu_si512(At + (c0 + j) * ldt + r0, r[j]);
        }
}

NEMBED_AMX void matmul(std::size_t m, std::size_t n, std::size_t k, const std::uint16_t* A, std::size_t lda,
                       const std::uint16_t* Bv, const Output& out) {
    const std::size_t np = padded_n(n), kp = round32(k);
    if (out.db) std::fill(out.db, out.db + n, 0.0f);
    configure();
    alignas(64) float tiles[4][16 * 16];
    // A row block is used as it is when it has 32 rows and k is a multiple of 32; else its rows are copied with
    // zero columns up to kp, so that no tile reads past A. The stage's rows after them are left as they are: a row
    // of C depends only on its own row of A, and those rows' results are not stored.
    thread_local AlignedVector<std::uint16_t> stage;
    if (stage.size() < 32 * kp) stage.resize(32 * kp);
    const std::size_t bstride = np * 4;  // bytes between k pairs in Bv
    for (std::size_t r0 = 0; r0 < m; r0 += 32) {
        const std::size_t rows = std::min<std::size_t>(32, m - r0);
        const std::uint16_t* a = A + r0 * lda;
        std::size_t sa = lda;
        if (rows < 32 || kp != k) {
            // 32 columns at a time, masked at the row's end (zero after it); a libc call per row cost more than the
            // products at k = 2.
            for (std::size_t i = 0; i < rows; ++i)
                for (std::size_t c = 0; c < kp; c += 32) {
                    const std::size_t w = c < k ? std::min<std::size_t>(32, k - c) : 0;
                    const __mmask32 mask = static_cast<__mmask32>(w == 32 ? ~0u : (1u << w) - 1u);
                    _mm512_store_si512(stage.data() + i * kp + c, _mm512_maskz_loadu_epi16(mask, a + i * lda + c));
                }
            a = stage.data();
            sa = kp;
            memory_barrier();
        }
        const std::uint16_t* a1 = a + 16 * sa;
        const std::size_t rows0 = std::min<std::size_t>(16, rows), rows1 = rows - rows0;
        std::size_t j0 = 0;
        for (; j0 + 32 <= np; j0 += 32) {
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
            const std::uint16_t* b = Bv + j0 * 2;
            if (rows1) {
                for (std::size_t k0 = 0; k0 < kp; k0 += 32) {
                    _tile_loadd(4, a + k0, sa * 2);
                    _tile_loadd(6, b + k0 * np, bstride);
                    _tile_loadd(7, b + k0 * np + 32, bstride);
                    _tile_dpbf16ps(0, 4, 6);
                    _tile_dpbf16ps(1, 4, 7);
                    _tile_loadd(5, a1 + k0, sa * 2);
                    _tile_dpbf16ps(2, 5, 6);
                    _tile_dpbf16ps(3, 5, 7);
                }
            } else {  // a last block of at most 16 rows: its second half not computed
                for (std::size_t k0 = 0; k0 < kp; k0 += 32) {
                    _tile_loadd(4, a + k0, sa * 2);
                    _tile_loadd(6, b + k0 * np, bstride);
                    _tile_loadd(7, b + k0 * np + 32, bstride);
                    _tile_dpbf16ps(0, 4, 6);
                    _tile_dpbf16ps(1, 4, 7);
                }
            }
            _tile_stored(0, tiles[0], 64);
            _tile_stored(1, tiles[1], 64);
            if (rows1) {
                _tile_stored(2, tiles[2], 64);
                _tile_stored(3, tiles[3], 64);
            }
            memory_barrier();
            store_rows(tiles[0], rows0, r0, j0, n, out);
            store_rows(tiles[1], rows0, r0, j0 + 16, n, out);
            if (rows1) {
                store_rows(tiles[2], rows1, r0 + 16, j0, n, out);
                store_rows(tiles[3], rows1, r0 + 16, j0 + 16, n, out);
            }
        }
        if (j0 < np) {  // the last single column block
            _tile_zero(0);
            _tile_zero(2);
            const std::uint16_t* b = Bv + j0 * 2;
            for (std::size_t k0 = 0; k0 < kp; k0 += 32) {
                _tile_loadd(4, a + k0, sa * 2);
                _tile_loadd(6, b + k0 * np, bstride);
                _tile_dpbf16ps(0, 4, 6);
                if (rows1) {
                    _tile_loadd(5, a1 + k0, sa * 2);
                    _tile_dpbf16ps(2, 5, 6);
                }
            }
            _tile_stored(0, tiles[0], 64);
            if (rows1) _tile_stored(2, tiles[2], 64);
            memory_barrier();
            store_rows(tiles[0], rows0, r0, j0, n, out);
            if (rows1) store_rows(tiles[2], rows1, r0 + 16, j0, n, out);
        }
    }
}

#else

bool available() { return false; }
void pack_vnni(std::size_t, std::size_t, const std::uint16_t*, std::size_t, std::uint16_t*) {}
void matmul(std::size_t, std::size_t, std::size_t, const std::uint16_t*, std::size_t, const std::uint16_t*,
            const Output&) {}
void transpose(std::size_t, std::size_t, const std::uint16_t*, std::size_t, std::uint16_t*) {}
namespace {
std::atomic<bool> g_enabled{false};
}

#endif

bool enabled() { return available() && g_enabled.load(std::memory_order_relaxed); }
void set_enabled(bool on) { g_enabled.store(on, std::memory_order_relaxed); }

} // namespace nembed::amx
