// Vectorisable softplus and its derivative (parametric/softplus.hpp).
#include "nembed/parametric/softplus.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>

#include "../core/isa_clones.hpp"

namespace nembed {

namespace {

// exp(x) − 1 (expm1) and exp(x) for x ≤ 0: x = n·ln2 + r, |r| ≤ ln2/2, exp(r) = 1 + r·q(r) with q the Taylor
// polynomial to r⁶ (relative error < 1e-8 on that range), scaled by 2^n through the exponent bits. expm1 is r·q(r)
// itself where n = 0 (no cancellation near 0), else exp(x) − 1 (≥ 0.29 in size, so at most 2.4x the rounding of
// exp). Below −86 exp is 0 (so that neither 2^n nor softplus's t/2 is subnormal). Branch-free, so that the loops calling it vectorise; the rounding
// n = round(x·log2 e) by the 1.5·2^23 trick (exact for |n| < 2^22).
struct ExpParts {
    float exp, expm1;
};
[[gnu::always_inline]] inline ExpParts exp_nonpositive(float x) {
    const float xc = x < -86.0f ? -86.0f : x;
    const float magic = 12582912.0f;  // 1.5·2^23
    const float n = (xc * 1.44269504f + magic) - magic;
    const float r = (xc - n * 0.693145752f) - n * 1.42860677e-6f;  // ln2 split: n·(high part) is exact
    float q = 1.0f / 5040.0f;
    q = q * r + 1.0f / 720.0f;
    q = q * r + 1.0f / 120.0f;
    q = q * r + 1.0f / 24.0f;
    q = q * r + 1.0f / 6.0f;
    q = q * r + 0.5f;
    q = q * r + 1.0f;
    const float rq = r * q;
    const auto e = static_cast<std::int32_t>(n) + 127;
    const float scale = std::bit_cast<float>(static_cast<std::uint32_t>(e) << 23);
    const float ex = x < -86.0f ? 0.0f : (1.0f + rq) * scale;
    return {ex, n == 0.0f ? rq : ex - 1.0f};
}

} // namespace

namespace {

// t ← exp(−|x|): softplus's first half.
NEMBED_ISA_CLONES void exp_negative_abs(const float* __restrict z, float* __restrict t, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        const float x = z[i];
        t[i] = exp_nonpositive(x < 0.0f ? x : -x).exp;
    }
}

// z ← max(z, 0) + log1p(t): its second half.
NEMBED_ISA_CLONES void add_log1p(float* __restrict z, const float* __restrict t_in, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        const float x = z[i], t = t_in[i];
        // log1p(t) = 2·atanh(s), s = t/(2 + t) ∈ [0, 1/3]: 2s·Σ s^(2k)/(2k + 1) to k = 7 (relative error < 2e-8).
        // s² from s kept ≥ 2^-60: s² would be subnormal for t < 2^-62 (the multiplier's slow path, 10x the loop's
        // time on networks with many strongly negative units); there s²/3 < 2^-120 is below s's rounding anyway.
        const float s = t / (2.0f + t);
        const float sc = s < 0x1p-60f ? 0x1p-60f : s;
        const float s2 = sc * sc;
        float q = 1.0f / 15.0f;
        q = q * s2 + 1.0f / 13.0f;
        q = q * s2 + 1.0f / 11.0f;
        q = q * s2 + 1.0f / 9.0f;
        q = q * s2 + 1.0f / 7.0f;
        q = q * s2 + 1.0f / 5.0f;
        q = q * s2 + 1.0f / 3.0f;
        q = q * s2 + 1.0f;
        const float l = 2.0f * s * q;
        const float sp = (x > 0.0f ? x : 0.0f) + l;
        z[i] = x > 20.0f ? x : sp;  // torch: threshold 20
    }
}

} // namespace

// Two passes over blocks of 512 (the same operations, so the same bits, as one loop): each pass's dependency chain
// is half as long (exp's polynomial, then the division and log1p's), so the out-of-order window overlaps more
// vectors; without FMA contraction (-ffp-contract=off, for the same bits in every clone) the one-loop version was
// latency-bound, 2.5x slower on Zen 3's AVX2.
void softplus_inplace(float* z, std::size_t n) {
    constexpr std::size_t block = 512;
    alignas(64) float t[block];
    for (std::size_t i = 0; i < n; i += block) {
        const std::size_t w = std::min(block, n - i);
        exp_negative_abs(z + i, t, w);
        add_log1p(z + i, t, w);
    }
}

NEMBED_ISA_CLONES void multiply_softplus_derivative(const float* h, float* g, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        g[i] *= -exp_nonpositive(-h[i]).expm1;
    }
}

} // namespace nembed
