// Block exp/log/pow through Eigen's packet math (core/vmath.hpp).
#include "nembed/core/vmath.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <bit>
#include <cstdint>

#include "nembed/core/error.hpp"

namespace nembed::vmath {
namespace {

template <typename T>
using Block = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>, Eigen::Aligned64>;

// Aligned start and a whole number of packets: Eigen's linear traversal then has no scalar head or tail, so every
// element takes the packet path.
template <typename T>
Block<T> block(std::span<T> x) {
    require(reinterpret_cast<std::uintptr_t>(x.data()) % kAlign == 0 || x.empty(),
            "vmath: the block must start on a 64-byte boundary");
    require(x.size() % kPad == 0, "vmath: the block's length must be a multiple of 16");
    return Block<T>(x.data(), static_cast<Eigen::Index>(x.size()));
}

} // namespace

// Eigen clamps exp's argument from below (float at -88.38, double at -709.4) and returns a tiny positive value
// there, also for -inf; below these arguments libm's results are subnormal or 0, so they are flushed to 0.
//
// Float exp is not Eigen's: with the select above Eigen evaluates it one scalar expf at a time (no faster than
// libm). Instead a plain loop GCC vectorises (AVX-512, AVX2 or SSE2 clones): Cephes' expf, e^x = 2^k e^r with
// k = round(x / log 2), r = x − k log 2 (two-part log 2), e^r by a degree-7 polynomial (< 2 ulp), 2^k applied as
// 2^(k/2) 2^(k − k/2) so that k = 128 (x up to 88.72) does not overflow early. Only + − × and compares, no FMA
// (-ffp-contract=off): every clone gives the same bits.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define NEMBED_VMATH_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NEMBED_VMATH_CLONES
#endif
namespace {
NEMBED_VMATH_CLONES void exp_f32(float* x, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        const float a = x[i];
        const float v = std::min(std::max(a, -87.5f), 89.0f);               // NaN passes through
        const float k = (v * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round to nearest (1.5 · 2^23)
        const float r = (v - k * 0.693359375f) + k * 2.12194440e-4f;
        float p = 1.9875691500e-4f;
        p = p * r + 1.3981999507e-3f;
        p = p * r + 8.3334519073e-3f;
        p = p * r + 4.1665795894e-2f;
        p = p * r + 1.6666665459e-1f;
        p = p * r + 5.0000001201e-1f;
        const float y = p * r * r + r + 1.0f;
        const std::int32_t ki = static_cast<std::int32_t>(k), k1 = ki / 2, k2 = ki - k1;
        const float e = y * std::bit_cast<float>((k1 + 127) << 23) * std::bit_cast<float>((k2 + 127) << 23);
        x[i] = a < -87.33f ? 0.0f : e;
    }
}
} // namespace

void exp(std::span<float> x) {
    block(x);
    exp_f32(x.data(), x.size());
}
void exp(std::span<double> x) {
    auto b = block(x);
    b = (b < -708.39).select(0.0, b.exp());
}
void log(std::span<float> x) { auto b = block(x); b = b.log(); }
void log(std::span<double> x) { auto b = block(x); b = b.log(); }
void pow(std::span<float> x, float e) { auto b = block(x); b = b.pow(e); }
void pow(std::span<double> x, double e) { auto b = block(x); b = b.pow(e); }

} // namespace nembed::vmath
