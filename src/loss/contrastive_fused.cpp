// cne's Euclidean losses for a chunk of heads (contrastive_fused.hpp), vectorised across heads.
//
// Per block of heads: first the differences head − other are gathered (the random reads of positions, kept in float
// so that they move 8 bytes per 2-D point, prefetched a few heads ahead) into arrays laid out [coordinate][other][head]; then every pair's similarity, log argument and
// gradient is computed four heads at a time with GCC's vector types, in the same IEEE operations and order per lane
// as one head at a time would do them (no contraction: -ffp-contract=off); then, per head in order, the loss factors
// are multiplied in and the gradients written in the layout of pts. The kernels are compiled for AVX-512, AVX2 and
// the baseline and picked at run time; each lane does the same operations on every variant, so all give the same
// bits.
#include "contrastive_fused.hpp"
#include "../core/isa_clones.hpp"

#include <algorithm>
#include <cstring>

namespace nembed::detail {
namespace {

// Four heads' values. The helpers taking and returning V are always inlined into the cloned kernels, so the ABI of
// passing V without AVX (GCC's -Wpsabi note) never applies.
#pragma GCC diagnostic ignored "-Wpsabi"
using V = double __attribute__((vector_size(32)));
constexpr std::size_t W = 4;
// Heads per gather/compute pass: 64, so that its arrays stay in L1, fewer (down to W) with many others (full-batch).
inline std::size_t block_heads(std::size_t N) { return std::clamp<std::size_t>(4096 / N / W * W, W, 64); }

[[gnu::always_inline]] inline V vload(const double* p) {
    V v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
[[gnu::always_inline]] inline void vstore(double* p, V v) { std::memcpy(p, &v, sizeof v); }
[[gnu::always_inline]] inline V vset(double x) { return V{x, x, x, x}; }
// std::max(a, v) and std::min(b, v) lane by lane, NaN handling included: (a < v) ? v : a and (v < b) ? v : b.
[[gnu::always_inline]] inline V clamp(V v, V lo, V hi) {
    const V m = lo < v ? v : lo;
    return m < hi ? m : hi;
}

// Scratch of one block of np (a multiple of W, at most cap) heads with N others: diff [D][N][cap], out [D][N][cap],
// gh [D][cap], then per-head loss factors x0, x1 [cap]; lanes [np, cap) of a plane are unused.
struct Block {
    double *diff, *out, *gh, *x0, *x1;
    std::size_t cap, np = 0;
    Block(std::vector<double>& s, std::size_t D, std::size_t N) : cap(block_heads(N)) {
        const std::size_t need = (2 * D * N + D + 2) * cap;
        if (s.size() < need) s.resize(need);
        diff = s.data();
        out = diff + D * N * cap;
        gh = out + D * N * cap;
        x0 = gh + D * cap;
        x1 = x0 + cap;
    }
    // Planes are cap apart whatever np is: with cap a constant (cne's N = 6 gives 64) every plane is a fixed offset
    // from one base pointer, where np-apart planes needed a register each (12 of them, spilled, per block of heads).
    std::size_t at(std::size_t k, std::size_t N, std::size_t t) const { return (k * N + t) * cap; }
};

// diff[k][t][i] = Y[head_i][k] − Y[other_it][k] for the block's heads [h0, h0 + nh), from the float positions, in
// double; lanes past nh are zero.
// With a sink, the points' accumulator lines are prefetched for writing too: they are added to when the block ends.
template <std::size_t D>
[[gnu::always_inline]] inline void gather(const float* Y, const std::uint32_t* pts, std::size_t h0, std::size_t nh,
                                          std::size_t N, Block& b, const FusedSink* sink) {
    constexpr std::size_t ahead = 4;  // heads whose positions are prefetched (not with full-batch's thousands)
    const std::size_t per_head = N + 1;
    const bool prefetch = N <= 64;
    for (std::size_t i = 0; i < nh; ++i) {
        const std::uint32_t* pp = pts + (h0 + i) * per_head;
        if (prefetch && i + ahead < nh) {
            for (std::size_t t = 0; t <= N; ++t) __builtin_prefetch(Y + std::size_t(pp[ahead * per_head + t]) * D);
            if (sink)
                for (std::size_t t = 0; t <= N; ++t)
                    __builtin_prefetch(sink->acc + std::size_t(pp[ahead * per_head + t]) * D, 1);
        }
        const float* yh = Y + std::size_t(pp[0]) * D;
        for (std::size_t t = 0; t < N; ++t) {
            const float* yo = Y + std::size_t(pp[1 + t]) * D;
            for (std::size_t k = 0; k < D; ++k)
                b.diff[b.at(k, N, t) + i] = static_cast<double>(yh[k]) - static_cast<double>(yo[k]);
        }
    }
    for (std::size_t k = 0; k < D; ++k)
        for (std::size_t t = 0; t < N; ++t) std::fill(b.diff + b.at(k, N, t) + nh, b.diff + b.at(k, N, t) + b.np, 0.0);
}

// ((0 + d0²) + d1²) + … as one head at a time computes it (0 + x = x exactly for x = d0² >= 0).
template <std::size_t D>
[[gnu::always_inline]] inline V squared_norm(const V* d) {
    V x = d[0] * d[0];
    for (std::size_t k = 1; k < D; ++k) x = x + d[k] * d[k];
    return x;
}

template <std::size_t D>
[[gnu::always_inline]] inline void add_fixed(const FixedPoint& fx, std::int64_t* a, const double* c) {
    if constexpr (D == 2) {
        fx.add_fixed2(a, c);
    } else {
        for (std::size_t k = 0; k < D; ++k) a[k] += fx.to_fixed(c[k]);
    }
}

// Per head of the block, in head order: the gradients written in the layout of pts (or added into the sink), then
// loss(i) (loss factors).
template <std::size_t D, typename Loss>
[[gnu::always_inline]] inline void write_out(const Block& b, const std::uint32_t* pts, std::size_t h0, std::size_t nh,
                                             std::size_t N, double* g, const FusedSink* sink, Loss&& loss) {
    if (sink) {
        const FixedPoint& fx = *sink->fx;
        for (std::size_t i = 0; i < nh; ++i) {
            const std::uint32_t* pp = pts + (h0 + i) * (N + 1);
            double c[D];
            for (std::size_t k = 0; k < D; ++k) c[k] = b.gh[k * b.cap + i];
            add_fixed<D>(fx, sink->acc + std::size_t(pp[0]) * D, c);
            for (std::size_t t = 0; t < N; ++t) {
                for (std::size_t k = 0; k < D; ++k) c[k] = b.out[b.at(k, N, t) + i];
                add_fixed<D>(fx, sink->acc + std::size_t(pp[1 + t]) * D, c);
            }
            loss(i);
        }
        return;
    }
    for (std::size_t i = 0; i < nh; ++i) {
        double* gi = g + (h0 + i) * (N + 1) * D;
        for (std::size_t k = 0; k < D; ++k) gi[k] = b.gh[k * b.cap + i];
        for (std::size_t t = 0; t < N; ++t)
            for (std::size_t k = 0; k < D; ++k) gi[(1 + t) * D + k] = b.out[b.at(k, N, t) + i];
        loss(i);
    }
}

// umap / neg / nce. With u = d² + eps:
//   neg/nce (c = ξ or Z·m): e = 1/(1 + c·u); partner: v = e, ∂ℓ/∂d² = c·e; negative: v = 1 − e = c·u·e,
//     ∂ℓ/∂d² = −e/u = −1/(u·(1 + c·u)); nce's ∂ℓ/∂log Z: partner u·c·e, negative −e.
//   umap: e = 1/u; partner: v = e, ∂ℓ/∂d² = e; negative: v = 1 − 1/u = (u − 1)/u, ∂ℓ/∂d² = −1/(u·(u − 1)).
// A log argument v outside [lo, hi] is clamped and passes no gradient (as torch.clamp); the loss multiplies a head's
// clamped arguments (t = 0 the partner, argument e; t >= 1 the negatives, argument 1 − e).
template <std::size_t D, ContrastiveMode M, std::size_t NC>
[[gnu::always_inline]] inline void binary_chunk(const FusedParams& p, const float* Y, const std::uint32_t* pts,
                                                std::size_t n_heads, std::size_t n_others, double* g, const FusedSink* sink,
                                                double* dlogz, HeadLoss& acc, std::vector<double>& scratch) {
    const std::size_t N = NC > 0 ? NC : n_others;
    Block b(scratch, D, N);
    const V lo = vset(p.lo), hi = vset(p.hi), eps = vset(p.eps), zero = vset(0.0), one = vset(1.0), two = vset(2.0);
    [[maybe_unused]] const V c = vset(M == ContrastiveMode::neg ? p.spec : p.Zm);
    for (std::size_t h0 = 0; h0 < n_heads; h0 += b.cap) {
        const std::size_t nh = std::min(b.cap, n_heads - h0);
        b.np = (nh + W - 1) / W * W;
        gather<D>(Y, pts, h0, nh, N, b, sink);
        for (std::size_t i = 0; i < b.np; i += W) {
            V gh[D], dz = zero, prod = one;
            for (std::size_t k = 0; k < D; ++k) gh[k] = zero;
            for (std::size_t t = 0; t < N; ++t) {
                V dk[D];
                for (std::size_t k = 0; k < D; ++k) dk[k] = vload(b.diff + b.at(k, N, t) + i);
                const V u = squared_norm<D>(dk) + eps;
                V v, dx;
                if (t == 0) {
                    if constexpr (M == ContrastiveMode::umap) {
                        v = one / u;
                        dx = (v >= lo && v <= hi) ? v : zero;
                    } else {
                        v = one / (one + c * u);
                        const auto in = v >= lo && v <= hi;
                        dx = in ? c * v : zero;
                        if constexpr (M == ContrastiveMode::nce) dz = in ? dz + u * c * v : dz;
                    }
                } else {
                    if constexpr (M == ContrastiveMode::umap) {
                        const V r = one / (u * (u - one));
                        v = u > one ? (u - one) * (u - one) * r : zero;  // u <= 1: q >= 1, the argument is clamped
                        dx = (v >= lo && v <= hi) ? -r : zero;
                    } else {
                        const V den = one + c * u, r = one / (u * den);
                        v = u > zero ? c * u * u * r : zero;  // u = 0 (eps = 0, coincident): e = 1, clamped
                        const auto in = v >= lo && v <= hi;
                        dx = in ? -r : zero;
                        if constexpr (M == ContrastiveMode::nce) dz = in ? dz - u * r : dz;
                    }
                }
                prod = prod * clamp(v, lo, hi);
                for (std::size_t k = 0; k < D; ++k) {
                    const V gk = (two * dx) * dk[k];
                    gh[k] = gh[k] + gk;
                    vstore(b.out + b.at(k, N, t) + i, zero - gk);
                }
            }
            for (std::size_t k = 0; k < D; ++k) vstore(b.gh + k * b.cap + i, gh[k]);
            vstore(b.x0 + i, prod);
            vstore(b.x1 + i, dz);
        }
        write_out<D>(b, pts, h0, nh, N, g, sink, [&](std::size_t i) {
            acc.a.add(b.x0[i]);
            if (M == ContrastiveMode::nce && dlogz) dlogz[h0 + i] = b.x1[i];
        });
    }
}

// infonce (Alt: infonce_alt, the positive left out of the denominator S): per head q_t = 1/(eps + d_t²),
// ℓ = −scale·(log q_0 − log S / spec) with clamped arguments; ∂ℓ/∂q_t = −scale/q_0 (t = 0) + scale/(spec·S) (terms
// of S), ∂ℓ/∂d² = ∂ℓ/∂q · (−q²). A clamped q passes no gradient.
template <std::size_t D, bool Alt, std::size_t NC>
[[gnu::always_inline]] inline void infonce_chunk(const FusedParams& p, const float* Y, const std::uint32_t* pts,
                                                 std::size_t n_heads, std::size_t n_others, double* g, const FusedSink* sink,
                                                 double*, HeadLoss& acc, std::vector<double>& scratch) {
    const std::size_t N = NC > 0 ? NC : n_others;
    Block b(scratch, D, N);
    const V lo = vset(p.lo), hi = vset(p.hi), eps = vset(p.eps), zero = vset(0.0), one = vset(1.0), two = vset(2.0);
    const V scale = vset(p.scale), spec = vset(p.spec), neg_scale = vset(-p.scale);
    for (std::size_t h0 = 0; h0 < n_heads; h0 += b.cap) {
        const std::size_t nh = std::min(b.cap, n_heads - h0);
        b.np = (nh + W - 1) / W * W;
        gather<D>(Y, pts, h0, nh, N, b, sink);
        double* q = b.out;  // q_t per head, [N][cap]: out's first coordinate plane, overwritten by t's output below
        for (std::size_t i = 0; i < b.np; i += W) {
            V S = zero;
            for (std::size_t t = 0; t < N; ++t) {
                V dk[D];
                for (std::size_t k = 0; k < D; ++k) dk[k] = vload(b.diff + b.at(k, N, t) + i);
                const V qt = one / (eps + squared_norm<D>(dk));
                vstore(q + t * b.cap + i, qt);
                if (!Alt || t >= 1) S = S + clamp(qt, lo, hi);
            }
            const V q0 = vload(q + i);
            vstore(b.x0 + i, clamp(q0, lo, hi));
            vstore(b.x1 + i, S);
            const V w = scale / (spec * S);
            V gh[D];
            for (std::size_t k = 0; k < D; ++k) gh[k] = zero;
            for (std::size_t t = 0; t < N; ++t) {
                const V qt = vload(q + t * b.cap + i);
                V dq = zero;
                if (t == 0) dq = (qt >= lo && qt <= hi) ? dq + neg_scale / qt : dq;
                if (!Alt || t >= 1) dq = (qt >= lo && qt <= hi) ? dq + w : dq;
                const V dx = dq != zero ? dq * (-qt * qt) : zero;  // clamped: no gradient, even where q = inf
                const auto nz = dx != zero;
                for (std::size_t k = 0; k < D; ++k) {
                    const V gk = (two * dx) * vload(b.diff + b.at(k, N, t) + i);
                    gh[k] = nz ? gh[k] + gk : gh[k];
                    vstore(b.out + b.at(k, N, t) + i, nz ? zero - gk : zero);
                }
            }
            for (std::size_t k = 0; k < D; ++k) vstore(b.gh + k * b.cap + i, gh[k]);
        }
        write_out<D>(b, pts, h0, nh, N, g, sink, [&](std::size_t i) {
            acc.a.add(b.x0[i]);
            acc.b.add(b.x1[i]);
        });
    }
}

template <std::size_t D, ContrastiveMode M, std::size_t NC>
[[gnu::always_inline]] inline void chunk(const FusedParams& p, const float* Y, const std::uint32_t* pts,
                                         std::size_t n_heads, std::size_t n_others, double* g, const FusedSink* sink,
                                         double* dlogz, HeadLoss& acc, std::vector<double>& scratch) {
    if constexpr (M == ContrastiveMode::infonce || M == ContrastiveMode::infonce_alt)
        infonce_chunk<D, M == ContrastiveMode::infonce_alt, NC>(p, Y, pts, n_heads, n_others, g, sink, dlogz, acc,
                                                                scratch);
    else
        binary_chunk<D, M, NC>(p, Y, pts, n_heads, n_others, g, sink, dlogz, acc, scratch);
}

// One non-template function per (D, mode, N) so that each can carry target_clones; N = 6 (cne's m = 5) unrolls.
#define NEMBED_FUSED_CHUNK(D, MODE, NC)                                                                           \
    NEMBED_ISA_CLONES void chunk_##D##_##MODE##_##NC(const FusedParams& p, const float* Y,                       \
                                                       const std::uint32_t* pts, std::size_t n_heads,              \
                                                       std::size_t n_others, double* g, const FusedSink* sink,     \
                                                       double* dlogz, HeadLoss& acc, std::vector<double>& scratch) { \
        chunk<D, ContrastiveMode::MODE, NC>(p, Y, pts, n_heads, n_others, g, sink, dlogz, acc, scratch);         \
    }
#define NEMBED_FUSED_MODES(D, NC)         \
    NEMBED_FUSED_CHUNK(D, umap, NC)       \
    NEMBED_FUSED_CHUNK(D, neg, NC)        \
    NEMBED_FUSED_CHUNK(D, nce, NC)        \
    NEMBED_FUSED_CHUNK(D, infonce, NC)    \
    NEMBED_FUSED_CHUNK(D, infonce_alt, NC)
NEMBED_FUSED_MODES(2, 6)
NEMBED_FUSED_MODES(2, 0)
NEMBED_FUSED_MODES(3, 0)

#define NEMBED_FUSED_PICK(D, NC)                                           \
    switch (mode) {                                                        \
        case ContrastiveMode::umap: return chunk_##D##_umap_##NC;          \
        case ContrastiveMode::neg: return chunk_##D##_neg_##NC;            \
        case ContrastiveMode::nce: return chunk_##D##_nce_##NC;            \
        case ContrastiveMode::infonce: return chunk_##D##_infonce_##NC;    \
        case ContrastiveMode::infonce_alt: return chunk_##D##_infonce_alt_##NC; \
    }                                                                      \
    return nullptr;

FusedChunkFn pick(ContrastiveMode mode, std::size_t d, std::size_t n_others) {
    if (d == 2 && n_others == 6) { NEMBED_FUSED_PICK(2, 6) }
    if (d == 2) { NEMBED_FUSED_PICK(2, 0) }
    NEMBED_FUSED_PICK(3, 0)
}

} // namespace

FusedChunkFn fused_chunk(const ContrastiveLossParams& lp, std::size_t d, std::size_t n_others) {
    if (lp.metric != ContrastiveMetric::euclidean || (d != 2 && d != 3)) return nullptr;
    // the fused kernels are cne's loss: no exaggeration, unit repulsion strength
    if (lp.exaggeration != 1.0 || lp.repulsion_strength != 1.0) return nullptr;
    const ContrastiveMode mode = lp.mode;
    const double k = static_cast<double>(n_others);
    const bool binary = mode == ContrastiveMode::umap || mode == ContrastiveMode::neg || mode == ContrastiveMode::nce;
    // the binary kernels multiply a head's n_others clamped arguments: the product must stay a normal double
    if (binary && (!(lp.clamp_low > 0) || k * std::abs(std::log10(lp.clamp_low)) > 250 ||
                   k * std::abs(std::log10(std::min(lp.clamp_high, 1e300))) > 250))
        return nullptr;
    return pick(mode, d, n_others);
}

} // namespace nembed::detail
