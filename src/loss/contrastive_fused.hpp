#pragma once
// Private to the library (included by methods/cne.cpp and its tests): cne's losses with the Euclidean (Cauchy)
// similarity in 2 or 3 dimensions for a chunk of heads at once, fused into one pass over the pairs and vectorised
// across heads. They compute what loss/contrastive.hpp's contrastive_head_loss computes per head (the tests compare
// them to 1e-10) with fewer divisions and one log per many pairs.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "nembed/loss/contrastive.hpp"
#include "../methods/fixed_point.hpp"

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
// head's m + 1 clamped log arguments and log the product once, so they are only chosen when that product, within
// [lo^(m+1), hi^(m+1)], cannot under- or overflow (see fused_chunk).
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

// Where the fused kernels may put the gradient contributions instead of g: added, as FixedPoint::to_fixed of each
// coordinate, into acc (D int64 per point, indexed like Y) right after each block of heads is computed, while the
// block's points are still in cache (their acc lines are prefetched with the positions). Integer sums: the same bits
// as writing g and adding it afterwards, in any order. Not for accumulators shared between threads.
struct FusedSink {
    std::int64_t* acc;
    const FixedPoint* fx;
};

// The fused kernels: a chunk of n_heads heads, each with n_others others, pts holding per head
// [head, partner, negatives...] (n_others + 1 point indices), Y the positions rounded to float (D per point: the
// random reads of positions then move half the bytes; the differences and everything after are double). g receives per head its n_others + 1 gradient
// contributions, D doubles each, in the order of pts (overwritten) — or, with a sink, they are added into the sink
// and g is not touched; acc the chunk's loss, in head order; dlogz (nce, when non-null) per head ∂ℓ/∂log Z.
// scratch: reused between calls.
using FusedChunkFn = void (*)(const FusedParams& p, const float* Y, const std::uint32_t* pts, std::size_t n_heads,
                              std::size_t n_others, double* g, const FusedSink* sink, double* dlogz, HeadLoss& acc,
                              std::vector<double>& scratch);

// A fused kernel for the Euclidean similarity in 2 or 3 dimensions (src/loss/contrastive_fused.cpp); nullptr: use
// contrastive_head_loss.
FusedChunkFn fused_chunk(const ContrastiveLossParams& lp, std::size_t d, std::size_t n_others);

} // namespace nembed::detail
