#pragma once
// Private to the library (included by methods/cne.cpp and its tests): gradient contributions as 64-bit fixed-point
// integers. Integer sums do not depend on the order of their terms, so a gradient accumulated from contributions
// that threads add in whatever order they happen to run is the same bits for any number of threads.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace nembed::detail {

// Units of 2^-shift. A contribution is capped at ±2^8 first (reached only with eps near 0 and nearly coincident
// points; gradients are clipped at 4 by default anyway). The shift leaves room for `max_terms` contributions at the
// cap to land on one value (|sum| <= max_terms · 2^8 · 2^shift <= 2^62: no overflow) and is at most 35 (2^-35 =
// 3e-11 per unit), so that the conversion stays exact (|x · scale| < 2^51).
struct FixedPoint {
    static constexpr double cap = 256.0;
    int shift;
    double scale, inv_scale;

    explicit FixedPoint(double max_terms) {
        const int bits = static_cast<int>(std::ceil(std::log2(std::max(2.0, max_terms))));
        shift = std::min(35, 62 - 8 - bits);
        scale = std::ldexp(1.0, shift);
        inv_scale = std::ldexp(1.0, -shift);
    }
    // x in units, rounded to nearest (even) through a double's mantissa: branch-free. NaN maps to -cap (positions
    // that produce one are non-finite, which the caller reports).
    std::int64_t to_fixed(double x) const {
        constexpr double magic = 6755399441055744.0;  // 1.5 · 2^52
        const double c = std::min(cap, std::max(-cap, x));
        return std::bit_cast<std::int64_t>(c * scale + magic) - std::bit_cast<std::int64_t>(magic);
    }
    double to_double(std::int64_t v) const { return static_cast<double>(v) * inv_scale; }
#if defined(__SSE2__)
    // *p += to_fixed(x[0..1]) for a point's two coordinates in one 128-bit operation (2-D maps, the common case):
    // the same bits as to_fixed per lane (maxpd/minpd order their operands so that NaN maps to -cap as above).
    void add_fixed2(std::int64_t* p, const double* x) const {
        const __m128d magic = _mm_set1_pd(6755399441055744.0);
        __m128d c = _mm_max_pd(_mm_loadu_pd(x), _mm_set1_pd(-cap));
        c = _mm_min_pd(c, _mm_set1_pd(cap));
        const __m128i v = _mm_sub_epi64(_mm_castpd_si128(_mm_add_pd(_mm_mul_pd(c, _mm_set1_pd(scale)), magic)),
                                        _mm_castpd_si128(magic));
        __m128i* q = reinterpret_cast<__m128i*>(p);
        _mm_storeu_si128(q, _mm_add_epi64(_mm_loadu_si128(q), v));
    }
#else
    void add_fixed2(std::int64_t* p, const double* x) const {
        p[0] += to_fixed(x[0]);
        p[1] += to_fixed(x[1]);
    }
#endif
};

} // namespace nembed::detail
