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
template <std::size_t D, ContrastiveMode M>
inline void fused_binary_head(const FusedParams& p, const double* Y, const std::uint32_t* pts, std::size_t n_others,
                              double* g, double*, HeadLoss& acc, double* dlogz) {
    const double* yh = Y + std::size_t(pts[0]) * D;
    double h[D];
    for (std::size_t k = 0; k < D; ++k) h[k] = yh[k];
    double gh[D] = {};
    double dz = 0.0, prod = 1.0;  // prod: the product of the clamped log arguments (see FusedParams)
    [[maybe_unused]] const double c = M == ContrastiveMode::neg ? p.spec : p.Zm;
    // t = 0 is the partner (argument e), t >= 1 the negatives (argument 1 − e)
    for (std::size_t t = 0; t < n_others; ++t) {
        const double* yo = Y + std::size_t(pts[1 + t]) * D;
        double diff[D];
        double x = 0;
        for (std::size_t k = 0; k < D; ++k) {
            diff[k] = h[k] - yo[k];
            x += diff[k] * diff[k];
        }
        const double u = x + p.eps;
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
        const double c2 = 2.0 * dx;
        double* go = g + (1 + t) * D;
        for (std::size_t k = 0; k < D; ++k) {
            const double gk = c2 * diff[k];
            gh[k] += gk;
            go[k] = 0.0 - gk;
        }
    }
    for (std::size_t k = 0; k < D; ++k) g[k] = gh[k];
    acc.a.add(prod);
    if constexpr (M == ContrastiveMode::nce) *dlogz = dz;
}

// infonce (Alt: infonce_alt) for one head, as fused_binary_head. scratch: n_others·(D + 1) doubles.
template <std::size_t D, bool Alt>
inline void fused_infonce_head(const FusedParams& p, const double* Y, const std::uint32_t* pts, std::size_t n_others,
                        double* g, double* scratch, HeadLoss& acc, double*) {
    const double* yh = Y + std::size_t(pts[0]) * D;
    double* diff = scratch;
    double* q = scratch + n_others * D;
    auto clamped = [&](double v) { return std::min(p.hi, std::max(p.lo, v)); };
    double S = 0;
    for (std::size_t t = 0; t < n_others; ++t) {
        const double* yo = Y + std::size_t(pts[1 + t]) * D;
        double x = 0;
        for (std::size_t k = 0; k < D; ++k) {
            diff[t * D + k] = yh[k] - yo[k];
            x += diff[t * D + k] * diff[t * D + k];
        }
        q[t] = 1.0 / (p.eps + x);
        if (!Alt || t >= 1) S += clamped(q[t]);
    }
    acc.a.add(clamped(q[0]));
    acc.b.add(S);
    const double w = p.scale / (p.spec * S);
    double gh[D] = {};
    for (std::size_t t = 0; t < n_others; ++t) {
        double dq = 0.0;
        if (t == 0 && q[0] >= p.lo && q[0] <= p.hi) dq += -p.scale / q[0];
        if ((!Alt || t >= 1) && q[t] >= p.lo && q[t] <= p.hi) dq += w;
        const double dx = dq != 0.0 ? dq * (-q[t] * q[t]) : 0.0;  // clamped: no gradient, even where q = inf
        double* go = g + (1 + t) * D;
        if (dx != 0.0) {
            const double c = 2.0 * dx;
            for (std::size_t k = 0; k < D; ++k) {
                const double gk = c * diff[t * D + k];
                gh[k] += gk;
                go[k] = 0.0 - gk;
            }
        } else {
            for (std::size_t k = 0; k < D; ++k) go[k] = 0.0;
        }
    }
    for (std::size_t k = 0; k < D; ++k) g[k] = gh[k];
}

using FusedHeadFn = void (*)(const FusedParams&, const double*, const std::uint32_t*, std::size_t, double*, double*,
                             HeadLoss&, double*);

template <std::size_t D>
FusedHeadFn fused_head_for(ContrastiveMode mode) {
    switch (mode) {
        case ContrastiveMode::umap: return fused_binary_head<D, ContrastiveMode::umap>;
        case ContrastiveMode::neg: return fused_binary_head<D, ContrastiveMode::neg>;
        case ContrastiveMode::nce: return fused_binary_head<D, ContrastiveMode::nce>;
        case ContrastiveMode::infonce: return fused_infonce_head<D, false>;
        case ContrastiveMode::infonce_alt: return fused_infonce_head<D, true>;
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
    if (d == 2) return fused_head_for<2>(mode);
    if (d == 3) return fused_head_for<3>(mode);
    return nullptr;
}

} // namespace nembed::detail
