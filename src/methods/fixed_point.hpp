#pragma once
// Private to the library (included by methods/cne.cpp and its tests): gradient contributions as 64-bit fixed-point
// integers. Integer sums do not depend on the order of their terms, so a gradient accumulated from contributions
// that threads add in whatever order they happen to run is the same bits for any number of threads.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>

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
};

} // namespace nembed::detail
