#pragma once
/// @file pow_poly.hpp
/// x^b for UMAP's output kernel in plain IEEE operations (+, −, ×, integer bit operations; no division, no table),
/// written once for a scalar double and for GCC's vectors of doubles, so that a lane of a vector gives the same bits
/// as the scalar (with -ffp-contract=off, which the library sets). glibc's powf is a call per value the compiler
/// cannot vectorise or interleave; UMAP's per-pair SGD spends most of its time in it (docs/core.md §6.1).
///
/// x = 2^k·m with m in [√½, √2): ln m = t·P(t), t = m − 1, P a degree-10 least-squares fit on Chebyshev nodes
/// (|error| ≤ 2.3e-10 on the interval); y = b·(k + ln m/ln 2) clamped to [−1000, 1000]; 2^y = 2^n·e^(f·ln 2) with
/// n = round(y), |f| ≤ ½, e^g by its Taylor series to g⁹ (relative error < 1e-11). Relative error against the exact
/// power below 1e-9 for b ≤ 4 (tested); far below the float precision (1e-7) of umap-learn's own pow.
///
/// Edge values: x ≤ 0 and NaN give 0; x below DBL_MIN (subnormal) is raised to DBL_MIN first; the result is capped
/// at 1e300 (so 1 + a·p and D·(1 + a·p) stay finite for any finite D). b is any positive finite value.
#include <cfloat>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

// GCC notes that passing vectors wider than the enabled ISA changes the ABI (-Wpsabi); these helpers are always
// inlined, so no such call exists.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"

namespace nembed {

/// G vectors (or scalars) handled as one value, every operation applied to each in turn. pow_poly and the pair
/// coefficients are one long dependency chain per vector; over a Pack the G chains' operations are issued side by
/// side, so the core overlaps them (the edge-epoch lanes, docs/core.md §6.1). Each element gets exactly the
/// operations it would get alone: the same bits.
template <typename V, std::size_t G>
struct Pack {
    V v[G];
};

namespace pow_poly_detail {

template <typename T>
struct IsPack : std::false_type {};
template <typename V, std::size_t G>
struct IsPack<Pack<V, G>> : std::true_type {};

template <typename U, typename T>
[[gnu::always_inline]] inline U to_bits(T x) {
    U u;
    if constexpr (IsPack<T>::value) {
        for (std::size_t g = 0; g < sizeof(x.v) / sizeof(x.v[0]); ++g) std::memcpy(&u.v[g], &x.v[g], sizeof u.v[g]);
    } else {
        std::memcpy(&u, &x, sizeof u);
    }
    return u;
}
template <typename T, typename U>
[[gnu::always_inline]] inline T from_bits(U u) {
    T x;
    if constexpr (IsPack<T>::value) {
        for (std::size_t g = 0; g < sizeof(x.v) / sizeof(x.v[0]); ++g) std::memcpy(&x.v[g], &u.v[g], sizeof x.v[g]);
    } else {
        std::memcpy(&x, &u, sizeof x);
    }
    return x;
}
// A value in every lane (scalar: the value itself).
template <typename T>
[[gnu::always_inline]] inline T splat(double v) {
    return T{} + v;
}
// m ? a : b lane by lane (m: bool for scalars, the comparison mask for vectors).
template <typename M, typename T>
[[gnu::always_inline]] inline T select(M m, T a, T b) {
    return m ? a : b;
}
template <typename M, typename V, std::size_t G>
[[gnu::always_inline]] inline Pack<V, G> select(const Pack<M, G>& m, const Pack<V, G>& a, const Pack<V, G>& b) {
    Pack<V, G> r{};
    for (std::size_t g = 0; g < G; ++g) r.v[g] = m.v[g] ? a.v[g] : b.v[g];
    return r;
}

} // namespace pow_poly_detail

// The element type of a vector (a scalar's own type): Pack's scalar operands are converted to it first, as clang
// converts only constants to a vector's element type implicitly (unsigned long long to unsigned long, say).
template <typename V, typename = void>
struct PackElement {
    using type = V;
};
template <typename V>
struct PackElement<V, std::enable_if_t<!std::is_arithmetic_v<V>>> {
    using type = std::remove_cv_t<std::remove_reference_t<decltype(std::declval<V>()[0])>>;
};

// Pack's operators: element by element, with a Pack or a scalar on either side.
#define NEMBED_PACK_BINARY(op)                                                                                     \
    template <typename V, std::size_t G>                                                                          \
    [[gnu::always_inline]] inline auto operator op(const Pack<V, G>& a, const Pack<V, G>& b) {                    \
        Pack<decltype(a.v[0] op b.v[0]), G> r{};                                                                  \
        for (std::size_t g = 0; g < G; ++g) r.v[g] = a.v[g] op b.v[g];                                            \
        return r;                                                                                                 \
    }                                                                                                             \
    template <typename V, std::size_t G, typename S, typename = std::enable_if_t<std::is_arithmetic_v<S>>>        \
    [[gnu::always_inline]] inline auto operator op(const Pack<V, G>& a, S s) {                                    \
        const auto e = static_cast<typename PackElement<V>::type>(s);                                             \
        Pack<decltype(a.v[0] op e), G> r{};                                                                       \
        for (std::size_t g = 0; g < G; ++g) r.v[g] = a.v[g] op e;                                                 \
        return r;                                                                                                 \
    }                                                                                                             \
    template <typename V, std::size_t G, typename S, typename = std::enable_if_t<std::is_arithmetic_v<S>>>        \
    [[gnu::always_inline]] inline auto operator op(S s, const Pack<V, G>& a) {                                    \
        const auto e = static_cast<typename PackElement<V>::type>(s);                                             \
        Pack<decltype(e op a.v[0]), G> r{};                                                                       \
        for (std::size_t g = 0; g < G; ++g) r.v[g] = e op a.v[g];                                                 \
        return r;                                                                                                 \
    }
NEMBED_PACK_BINARY(+)
NEMBED_PACK_BINARY(-)
NEMBED_PACK_BINARY(*)
NEMBED_PACK_BINARY(/)
NEMBED_PACK_BINARY(<)
NEMBED_PACK_BINARY(>)
NEMBED_PACK_BINARY(<=)
NEMBED_PACK_BINARY(>=)
NEMBED_PACK_BINARY(&)
NEMBED_PACK_BINARY(|)
NEMBED_PACK_BINARY(<<)
NEMBED_PACK_BINARY(>>)
#undef NEMBED_PACK_BINARY
template <typename V, std::size_t G>
[[gnu::always_inline]] inline Pack<V, G> operator-(const Pack<V, G>& a) {
    Pack<V, G> r{};
    for (std::size_t g = 0; g < G; ++g) r.v[g] = -a.v[g];
    return r;
}

/// x^b lane by lane (see the file comment). T is double, a GCC vector of doubles or a Pack of them, U the unsigned
/// 64-bit integer type of the same shape (std::uint64_t for double).
template <typename U, typename T>
[[gnu::always_inline]] inline T pow_poly(T x, double b) {
    using namespace pow_poly_detail;
    constexpr std::uint64_t kSqrtHalf = 0x3fe6a09e667f3bcdULL;  // bits of √½
    constexpr std::uint64_t kOne = 0x3ff0000000000000ULL;
    constexpr double kMagic = 0x1.8p52;  // adding it rounds to an integer, kept in the low bits
    const T xs = select(x > DBL_MIN, x, splat<T>(DBL_MIN));
    // Shift the mantissa range to [√½, √2): the exponent k of u2, the mantissa put back on √½'s exponent.
    const U u2 = to_bits<U>(xs) + (kOne - kSqrtHalf);
    const T k = from_bits<T>((u2 >> 52) | 0x4330000000000000ULL) - (0x1p52 + 1023.0);
    const T t = from_bits<T>((u2 & 0x000fffffffffffffULL) + kSqrtHalf) - 1.0;
    T p = splat<T>(0x1.14147624b8255p-4);
    p = p * t + -0x1.e058e90189667p-4;
    p = p * t + 0x1.e8676cfff747cp-4;
    p = p * t + -0x1.fbdf41101afb8p-4;
    p = p * t + 0x1.2312feeaa3000p-3;
    p = p * t + -0x1.555c8b8ade739p-3;
    p = p * t + 0x1.99a71c1efabb6p-3;
    p = p * t + -0x1.00000fdc4b6e4p-2;
    p = p * t + 0x1.555540034bfaep-2;
    p = p * t + -0x1.ffffffcb396bfp-2;
    p = p * t + 0x1.00000002b7432p+0;
    T y = b * (k + (t * p) * 0x1.71547652b82fep+0);  // b·log2(x)
    y = select(y > -1000.0, y, splat<T>(-1000.0));
    y = select(y < 1000.0, y, splat<T>(1000.0));
    const T yr = y + kMagic;
    const T g = (y - (yr - kMagic)) * 0x1.62e42fefa39efp-1;  // f·ln 2, |f| ≤ ½
    T e = splat<T>(1.0 / 362880);
    e = e * g + 1.0 / 40320;
    e = e * g + 1.0 / 5040;
    e = e * g + 1.0 / 720;
    e = e * g + 1.0 / 120;
    e = e * g + 1.0 / 24;
    e = e * g + 1.0 / 6;
    e = e * g + 0.5;
    e = e * g + 1.0;
    e = e * g + 1.0;
    const U n = to_bits<U>(yr) - to_bits<std::uint64_t>(kMagic);  // round(y) in two's complement
    T r = e * from_bits<T>((n + 1023) << 52);
    r = select(r < 1e300, r, splat<T>(1e300));
    return select(x > 0.0, r, splat<T>(0.0));
}

/// The scalar form.
inline double pow_poly(double x, double b) { return pow_poly<std::uint64_t, double>(x, b); }

/// x^b in float32, lane by lane: the UMAP epochs' per-pair coefficients (umap-learn computes them in float32 too;
/// docs/core.md §6.1). T is float, a GCC vector of floats or a Pack of them, U the unsigned 32-bit integers of the
/// same shape. The same steps as pow_poly in float: x = 2^k·m, m in [√½, √2), ln m = t·P(t), P of degree 7
/// (least squares on Chebyshev nodes, float coefficients: relative error 2.2e-7); y = b·log2(x) clamped to
/// [−100, 100]; 2^y = 2^n·e^g, |g| ≤ ln2/2, e^g by a degree-6 fit (relative error 1.8e-8). The error is float rounding: relative ≈ |y|·2^-23 + a few ulps (≤ 4e-6 for
/// |y| ≤ 20, tested). x ≤ 0 and NaN give 0; x below FLT_MIN is raised to it; the result is capped at 1e30.
template <typename U, typename T>
[[gnu::always_inline]] inline T pow_poly_f(T x, float b) {
    using namespace pow_poly_detail;
    constexpr std::uint32_t kSqrtHalf = 0x3f3504f3u;  // bits of √½ (rounded to nearest)
    constexpr std::uint32_t kOne = 0x3f800000u;
    constexpr float kMagic = 0x1.8p23f;  // adding it rounds to an integer, kept in the low bits
    const T xs = select(x > FLT_MIN, x, T{} + FLT_MIN);
    const U u2 = to_bits<U>(xs) + (kOne - kSqrtHalf);
    const T k = from_bits<T>((u2 >> 23) | 0x4b000000u) - (0x1p23f + 127.0f);
    const T t = from_bits<T>((u2 & 0x007fffffu) + kSqrtHalf) - 1.0f;
    T p = T{} - 0x1.9439b8p-4f;
    p = p * t + 0x1.4a04a6p-3f;
    p = p * t - 0x1.61eda2p-3f;
    p = p * t + 0x1.97dbf8p-3f;
    p = p * t - 0x1.ff5c52p-3f;
    p = p * t + 0x1.555886p-2f;
    p = p * t - 0x1.00007ep-1f;
    p = p * t + 1.0f;
    T y = b * (k + (t * p) * static_cast<float>(0x1.71547652b82fep+0));  // b·log2(x)
    y = select(y > -100.0f, y, T{} - 100.0f);
    y = select(y < 100.0f, y, T{} + 100.0f);
    const T yr = y + kMagic;
    const T g = (y - (yr - kMagic)) * static_cast<float>(0x1.62e42fefa39efp-1);  // f·ln 2, |f| ≤ ½
    T e = T{} + 0x1.6a87acp-10f;
    e = e * g + 0x1.126cacp-7f;
    e = e * g + 0x1.5558e2p-5f;
    e = e * g + 0x1.55540cp-3f;
    e = e * g + 0x1.fffffap-2f;
    e = e * g + 1.0f;
    e = e * g + 1.0f;
    const U n = to_bits<U>(yr) - to_bits<std::uint32_t>(kMagic);  // round(y) in two's complement
    T r = e * from_bits<T>((n + 127u) << 23);
    r = select(r < 1e30f, r, T{} + 1e30f);
    return select(x > 0.0f, r, T{});
}

/// The scalar float form.
inline float pow_poly_f(float x, float b) { return pow_poly_f<std::uint32_t, float>(x, b); }

} // namespace nembed

#pragma GCC diagnostic pop
