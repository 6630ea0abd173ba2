#pragma once
// Private to the library (included by methods/cne.cpp and its tests): cne's losses for one head with the Euclidean
// (Cauchy) similarity in 2 or 3 dimensions, fused into one pass over the head's pairs. They compute what
// loss/contrastive.hpp's contrastive_head_loss computes (the tests compare them to 1e-12) with fewer divisions and
// one log per many pairs.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "nembed/loss/contrastive.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace nembed::detail {

// Σ log f over many factors as logs of running products: the reported loss then costs one log per dozens of pairs.
// Factors far from 1 are logged directly and the product is flushed early, so it never under- or overflows.
struct LogSum {
    double sum = 0, prod = 1;
    void add(double f) {
        if (f > 1e-100 && f < 1e100) {
            prod *= f;
            if (prod < 1e-150 || prod > 1e150) {
                sum += std::log(prod);
                prod = 1;
            }
        } else {
            sum += std::log(f);
        }
    }
    double value() const { return sum + std::log(prod); }
};

// One chunk's loss accumulators: a (and b for InfoNCE's log S) for the fused kernels, sum for the generic one.
struct HeadLoss {
    LogSum a, b;
    double sum = 0;
};

// The fused kernels' constants (the Euclidean/Cauchy similarity; see loss/contrastive.hpp). The kernels multiply a
// head's m + 1 clamped log arguments and log the product once: fused_head is only chosen when that product, within
// [lo^(m+1), hi^(m+1)], cannot under- or overflow.
struct FusedParams {
    double eps, spec, lo, hi, Zm, scale;
};
inline FusedParams fused_params(const ContrastiveLossParams& lp) {
    return {lp.eps,        lp.spec, lp.clamp_low, lp.clamp_high, std::exp(lp.log_Z) * static_cast<double>(lp.nce_m),
            lp.temperature / lp.base_temperature};
}

// A point's D coordinates as one value, so that the kernels below are written once: an SSE2 register for D = 2
// (one packed operation per pair instead of two), an array otherwise. Both do the same IEEE operations per
// coordinate in the same order, so the results are the same bits.
template <std::size_t D>
struct Coords {
    double c[D];
    static Coords load(const double* p) {
        Coords r;
        for (std::size_t k = 0; k < D; ++k) r.c[k] = p[k];
        return r;
    }
    static Coords zero() { return Coords{}; }
    void store(double* p) const {
        for (std::size_t k = 0; k < D; ++k) p[k] = c[k];
    }
    friend Coords operator-(const Coords& a, const Coords& b) {
        Coords r;
        for (std::size_t k = 0; k < D; ++k) r.c[k] = a.c[k] - b.c[k];
        return r;
    }
    friend Coords operator+(const Coords& a, const Coords& b) {
        Coords r;
        for (std::size_t k = 0; k < D; ++k) r.c[k] = a.c[k] + b.c[k];
        return r;
    }
    friend Coords operator*(double s, const Coords& a) {
        Coords r;
        for (std::size_t k = 0; k < D; ++k) r.c[k] = s * a.c[k];
        return r;
    }
    double squared_norm() const {  // ((0 + c0²) + c1²) + …
        double x = 0;
        for (std::size_t k = 0; k < D; ++k) x += c[k] * c[k];
        return x;
    }
};
#if defined(__SSE2__)
template <>
struct Coords<2> {
    __m128d v;
    static Coords load(const double* p) { return {_mm_loadu_pd(p)}; }
    static Coords zero() { return {_mm_setzero_pd()}; }
    void store(double* p) const { _mm_storeu_pd(p, v); }
    friend Coords operator-(const Coords& a, const Coords& b) { return {_mm_sub_pd(a.v, b.v)}; }
    friend Coords operator+(const Coords& a, const Coords& b) { return {_mm_add_pd(a.v, b.v)}; }
    friend Coords operator*(double s, const Coords& a) { return {_mm_mul_pd(_mm_set1_pd(s), a.v)}; }
    double squared_norm() const {  // c0² + c1², as 0 + c0² = c0² exactly
        const __m128d q = _mm_mul_pd(v, v);
        return _mm_cvtsd_f64(q) + _mm_cvtsd_f64(_mm_unpackhi_pd(q, q));
    }
};
#endif

// The summed loss of the heads accumulated in `acc` (by the fused kernels or, in acc.sum, the general loss).
inline double head_loss_total(const ContrastiveLossParams& lp, const HeadLoss& acc) {
    if (lp.mode == ContrastiveMode::infonce || lp.mode == ContrastiveMode::infonce_alt)
        return acc.sum - (lp.temperature / lp.base_temperature) * (acc.a.value() - acc.b.value() / lp.spec);
    return acc.sum - acc.a.value();
}

// umap / neg / nce for one head with a compile-time dimension, one division per pair. With u = d² + eps:
//   neg/nce (c = ξ or Z·m): e = 1/(1 + c·u); partner: v = e, ∂ℓ/∂d² = c·e; negative: v = 1 − e = c·u·e,
//     ∂ℓ/∂d² = −e/u = −1/(u·(1 + c·u)); nce's ∂ℓ/∂log Z: partner u·c·e, negative −e.
//   umap: e = 1/u; partner: v = e, ∂ℓ/∂d² = e; negative: v = 1 − 1/u = (u − 1)/u, ∂ℓ/∂d² = −1/(u·(u − 1)).
// A log argument v outside [lo, hi] is clamped and passes no gradient (as torch.clamp).
// pts: [head, partner, negatives...]; g: (n_others + 1)·D outputs in that order (overwritten); *dlogz: ∂ℓ/∂log Z.
// N > 0: n_others is N, known at compile time (cne's default m = 5: N = 6), so the loops unroll.
template <std::size_t D, ContrastiveMode M, std::size_t N>
inline void fused_binary_head(const FusedParams& p, const double* Y, const std::uint32_t* pts, std::size_t n_others,
                              double* g, double*, HeadLoss& acc, double* dlogz) {
    using C = Coords<D>;
    if constexpr (N > 0) n_others = N;
    const C h = C::load(Y + std::size_t(pts[0]) * D);
    C gh = C::zero();
    double dz = 0.0, prod = 1.0;  // prod: the product of the clamped log arguments (see FusedParams)
    [[maybe_unused]] const double c = M == ContrastiveMode::neg ? p.spec : p.Zm;
    // t = 0 is the partner (argument e), t >= 1 the negatives (argument 1 − e)
    for (std::size_t t = 0; t < n_others; ++t) {
        const C diff = h - C::load(Y + std::size_t(pts[1 + t]) * D);
        const double u = diff.squared_norm() + p.eps;
        double v, dx = 0.0;
        if (t == 0) {
            if constexpr (M == ContrastiveMode::umap) {
                v = 1.0 / u;
                if (v >= p.lo && v <= p.hi) dx = v;
            } else {
                v = 1.0 / (1.0 + c * u);
                if (v >= p.lo && v <= p.hi) {
                    dx = c * v;
                    if constexpr (M == ContrastiveMode::nce) dz += u * c * v;
                }
            }
        } else {
            if constexpr (M == ContrastiveMode::umap) {
                const double r = 1.0 / (u * (u - 1.0));
                v = u > 1.0 ? (u - 1.0) * (u - 1.0) * r : 0.0;  // u <= 1: q >= 1, the argument is clamped
                if (v >= p.lo && v <= p.hi) dx = -r;
            } else {
                const double den = 1.0 + c * u, r = 1.0 / (u * den);
                v = u > 0.0 ? c * u * u * r : 0.0;  // u = 0 (eps = 0, coincident): e = 1, the argument is clamped
                if (v >= p.lo && v <= p.hi) {
                    dx = -r;
                    if constexpr (M == ContrastiveMode::nce) dz -= u * r;
                }
            }
        }
        prod *= std::min(p.hi, std::max(p.lo, v));
        const C gk = (2.0 * dx) * diff;
        gh = gh + gk;
        (C::zero() - gk).store(g + (1 + t) * D);
    }
    gh.store(g);
    acc.a.add(prod);
    if constexpr (M == ContrastiveMode::nce) *dlogz = dz;
}

// infonce (Alt: infonce_alt) for one head, as fused_binary_head. scratch: n_others·(D + 1) doubles.
// With N > 0 the differences and similarities stay in registers instead of `scratch`.
template <std::size_t D, bool Alt, std::size_t N>
inline void fused_infonce_head(const FusedParams& p, const double* Y, const std::uint32_t* pts, std::size_t n_others,
                        double* g, double* scratch, HeadLoss& acc, double*) {
    using C = Coords<D>;
    if constexpr (N > 0) n_others = N;
    const C h = C::load(Y + std::size_t(pts[0]) * D);
    double local[N > 0 ? N * (D + 1) : 1];
    double* diff = N > 0 ? local : scratch;
    double* q = diff + n_others * D;
    auto clamped = [&](double v) { return std::min(p.hi, std::max(p.lo, v)); };
    double S = 0;
    for (std::size_t t = 0; t < n_others; ++t) {
        const C dt = h - C::load(Y + std::size_t(pts[1 + t]) * D);
        dt.store(diff + t * D);
        q[t] = 1.0 / (p.eps + dt.squared_norm());
        if (!Alt || t >= 1) S += clamped(q[t]);
    }
    acc.a.add(clamped(q[0]));
    acc.b.add(S);
    const double w = p.scale / (p.spec * S);
    C gh = C::zero();
    for (std::size_t t = 0; t < n_others; ++t) {
        double dq = 0.0;
        if (t == 0 && q[0] >= p.lo && q[0] <= p.hi) dq += -p.scale / q[0];
        if ((!Alt || t >= 1) && q[t] >= p.lo && q[t] <= p.hi) dq += w;
        const double dx = dq != 0.0 ? dq * (-q[t] * q[t]) : 0.0;  // clamped: no gradient, even where q = inf
        if (dx != 0.0) {
            const C gk = (2.0 * dx) * C::load(diff + t * D);
            gh = gh + gk;
            (C::zero() - gk).store(g + (1 + t) * D);
        } else {
            C::zero().store(g + (1 + t) * D);
        }
    }
    gh.store(g);
}

using FusedHeadFn = void (*)(const FusedParams&, const double*, const std::uint32_t*, std::size_t, double*, double*,
                             HeadLoss&, double*);

template <std::size_t D, std::size_t N>
FusedHeadFn fused_head_for(ContrastiveMode mode) {
    switch (mode) {
        case ContrastiveMode::umap: return fused_binary_head<D, ContrastiveMode::umap, N>;
        case ContrastiveMode::neg: return fused_binary_head<D, ContrastiveMode::neg, N>;
        case ContrastiveMode::nce: return fused_binary_head<D, ContrastiveMode::nce, N>;
        case ContrastiveMode::infonce: return fused_infonce_head<D, false, N>;
        case ContrastiveMode::infonce_alt: return fused_infonce_head<D, true, N>;
    }
    return nullptr;
}

// A fused kernel for the Euclidean similarity in 2 or 3 dimensions; nullptr: use contrastive_head_loss.
inline FusedHeadFn fused_head(const ContrastiveLossParams& lp, std::size_t d, std::size_t n_others) {
    if (lp.metric != ContrastiveMetric::euclidean) return nullptr;
    const ContrastiveMode mode = lp.mode;
    const double k = static_cast<double>(n_others);
    const bool binary = mode == ContrastiveMode::umap || mode == ContrastiveMode::neg || mode == ContrastiveMode::nce;
    if (binary && (!(lp.clamp_low > 0) || k * std::abs(std::log10(lp.clamp_low)) > 250 ||
                   k * std::abs(std::log10(std::min(lp.clamp_high, 1e300))) > 250))
        return nullptr;
    if (d == 2) return n_others == 6 ? fused_head_for<2, 6>(mode) : fused_head_for<2, 0>(mode);
    if (d == 3) return fused_head_for<3, 0>(mode);
    return nullptr;
}

} // namespace nembed::detail
