#pragma once
// The AVX-512 (F, BW, VL) pieces that both own bf16 backends share (parametric/gemm_own.hpp): the VNNI pair
// interleave, a 16 × 16 dword transpose, the nearest-even bf16 rounding and the store epilogue (bias, ReLU, the
// backward's mask and bias gradient). Inline, with a target attribute that is a subset of both kernels' own, so
// they inline into the AMX and the AVX512-BF16 kernels alike; the rest of the library stays baseline.
#include "nembed/parametric/gemm_own.hpp"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define NEMBED_OWN_GEMM_BUILD 1
// GCC 12's AVX-512 intrinsics pass _mm512_undefined_*() as the unused merge source, which -Wmaybe-uninitialized
// and -Wuninitialized report at -O3 in functions compiled with a target attribute (false positives: those lanes are
// all written).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>

#define NEMBED_AVX512BW __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))

namespace nembed::own::simd {

// round_bf16 (gemm.hpp) on 16 lanes: nearest even; a NaN keeps its sign and top payload bits, quiet.
NEMBED_AVX512BW inline __m512i round_bf16_16(__m512 x) {
    const __m512i u = _mm512_castps_si512(x);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    const __m512i rounded =
        _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7FFF)), lsb), 16);
    const __m512i nan = _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
    const __mmask16 is_nan =
        _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7FFFFFFF)), _mm512_set1_epi32(0x7F800000));
    return _mm512_mask_blend_epi32(is_nan, rounded, nan);
}

// round_bf16_16 as 16 bf16: VCVTNEPS2BF16 (one instruction) rounds the same way except that it flushes subnormal
// inputs to zero; a block with a subnormal (rare: sums of products of magnitude ≥ 2^-133) takes the integer rounding.
NEMBED_AVX512BW inline __m256i to_bf16_16(__m512 v) {
    if (_mm512_fpclass_ps_mask(v, 0x20)) return _mm512_cvtepi32_epi16(round_bf16_16(v));  // 0x20: subnormal
    return reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(v));
}

// What an Output asks of the epilogue, as bits: a kernel may fix them at compile time (EpilogueOf<kBias | …>), so
// that a row's store carries no tests; kRuntime reads them from the Output at each row.
enum : int { kBias = 1, kRelu = 2, kMask = 4, kDb = 8, kC16 = 16, kRuntime = -1 };
inline int epilogue_kind(const Output& out) {
    return (out.bias ? kBias : 0) | (out.relu ? kRelu : 0) | (out.mask16 ? kMask : 0) | (out.db ? kDb : 0) |
           (out.c32 ? 0 : kC16);
}

// The epilogue of one column block (16 columns from j0, `cols` of them inside C): the bias and db's running sums
// are loaded once (constructor), each row's 16 sums go through bias, ReLU, the mask and the rounding into C (row),
// and db's sums are written back (end). Rows are given in order, a column's blocks top to bottom: db sums row after
// row. Kind: the Output's kind (epilogue_kind) or kRuntime.
template <int Kind>
struct EpilogueOf {
    const Output& out;
    std::size_t j0;
    __mmask16 cols;
    __m512 bias, db;

    static constexpr bool fixed = Kind != kRuntime;
    bool has(int bit) const {
        if constexpr (fixed) return (Kind & bit) != 0;
        else return (epilogue_kind(out) & bit) != 0;
    }

    NEMBED_AVX512BW EpilogueOf(const Output& o, std::size_t j, std::size_t n) : out(o), j0(j) {
        const std::size_t width = j < n ? std::min<std::size_t>(16, n - j) : 0;
        cols = static_cast<__mmask16>((1u << width) - 1u);
        bias = has(kBias) ? _mm512_maskz_loadu_ps(cols, out.bias + j0) : _mm512_setzero_ps();
        db = has(kDb) ? _mm512_maskz_loadu_ps(cols, out.db + j0) : _mm512_setzero_ps();
    }
    NEMBED_AVX512BW void row(__m512 v, std::size_t r) {
        if (has(kBias)) v = _mm512_add_ps(v, bias);
        if (has(kRelu)) v = _mm512_max_ps(_mm512_setzero_ps(), v);  // a NaN stays NaN (MAX returns its 2nd operand)
        const std::size_t at = r * out.ldc + j0;
        if (has(kMask)) {
            const __m512i h = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(cols, out.mask16 + at));
            v = _mm512_maskz_mov_ps(_mm512_test_epi32_mask(h, _mm512_set1_epi32(0x7FFF)), v);
            if (has(kDb)) db = _mm512_add_ps(db, v);
        }
        // A full block's store unmasked (the common case; masked stores cost more on some CPUs).
        if (!has(kC16)) {
            if (cols == 0xFFFF) _mm512_storeu_ps(out.c32 + at, v);
            else _mm512_mask_storeu_ps(out.c32 + at, cols, v);
        } else {
            const __m256i h = to_bf16_16(v);
            if (cols == 0xFFFF) _mm256_storeu_si256(reinterpret_cast<__m256i*>(out.c16 + at), h);
            else _mm256_mask_storeu_epi16(out.c16 + at, cols, h);
        }
    }
    NEMBED_AVX512BW void end() {
        if (has(kDb)) _mm512_mask_storeu_ps(out.db + j0, cols, db);
    }
};
using Epilogue = EpilogueOf<kRuntime>;

// Two rows' 16 columns interleaved (lanes 2j, 2j + 1: row 0's and row 1's column j): a VNNI pair row.
NEMBED_AVX512BW inline __m512i interleave_pair(const std::uint16_t* r0, const std::uint16_t* r1, __mmask16 cols) {
    alignas(64) static constexpr std::uint16_t idx[32] = {0, 32, 1, 33, 2,  34, 3,  35, 4,  36, 5,  37, 6,  38, 7,  39,
                                                          8, 40, 9, 41, 10, 42, 11, 43, 12, 44, 13, 45, 14, 46, 15, 47};
    const __m512i a = r0 ? _mm512_zextsi256_si512(_mm256_maskz_loadu_epi16(cols, r0)) : _mm512_setzero_si512();
    const __m512i b = r1 ? _mm512_zextsi256_si512(_mm256_maskz_loadu_epi16(cols, r1)) : _mm512_setzero_si512();
    return _mm512_permutex2var_epi16(a, _mm512_load_si512(idx), b);
}

// r (16 rows of 16 dwords) transposed in place.
NEMBED_AVX512BW inline void transpose16(__m512i* r) {
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

} // namespace nembed::own::simd

#endif
