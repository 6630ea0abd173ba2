// The edge-epoch plan's pair listing and its vector lanes for 2-D UMAP-curve rows (edge_epoch_lanes.hpp).
//
// A row's pairs form one dependency chain (each update reads y_i as the previous one left it), so rows run side by
// side, 32 lanes: a fit's rows 16 per vector of floats (its positions carried in float, as umap-learn holds them),
// a transform's 8 per vector of doubles (one chain's step is ~40 dependent operations: the distance, pow_poly, one
// division). The vectors' coefficients are computed as one Pack (pow_poly.hpp), so each operation is issued for all
// of them side by side (in float32; for double rows the four groups' D joined into two 16-float vectors, the
// coefficients widened back to double for the clip and the move): written group after group, the core overlapped
// only part of the chains (a fifth of the epochs' CPU time went to waiting on them). Each lane does the per-row
// path's operations in its order with the same coefficients (Bce<UmapCurve>::pair_coeff), so the result is
// bitwise the per-row path's, for every instruction-set clone (no contraction: -ffp-contract=off).
// The helpers taking and returning vectors (here and in pow_poly.hpp) are always inlined into the cloned kernel:
// GCC's -Wpsabi note about passing them without AVX never applies.
#pragma GCC diagnostic ignored "-Wpsabi"
#include "edge_epoch_lanes.hpp"

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "nembed/kernel/kernel.hpp"
#include "nembed/loss/bce.hpp"
#include "../core/isa_clones.hpp"

namespace nembed::detail {

std::size_t list_edge_pairs(const EdgePairSource& src, std::size_t i, std::vector<std::uint32_t>& out,
                            std::vector<offset_t>* edges) {
    const auto& g = *src.graph;
    auto& s = *src.schedule;
    const double n = static_cast<double>(src.epoch);
    const std::uint64_t reject_below = src.n_tail ? 0x100000000ull % src.n_tail : 0;  // below()'s bound, once a row
    const std::uint64_t skip = src.self_graph ? i : ~std::uint64_t{0};  // no draw equals ~0
    // The streams' keys up to the edge, once a row: sampling_stream(family, epoch, edge) and SplitMixStream(seed, ·)
    // then cost one mix each per due edge instead of five chained ones (the compiler does not hoist them), the same
    // values.
    const std::uint64_t stream_base = sampling_stream_base(src.family, static_cast<std::uint64_t>(src.epoch));
    const SplitMixStream::PremixedSeed seed = SplitMixStream::premix(src.seed);
    if (edges) edges->clear();
    // `out` only grows (no zero-filling per row); `len` counts the pairs written.
    std::size_t len = 0;
    auto room = [&](std::size_t more) {
        if (out.size() < len + more) out.resize(std::max(2 * out.size(), len + more + 64));
        return out.data() + len;
    };
    // The due edges first, without a branch per edge (whether an edge is due is a coin flip the predictor misses).
    const offset_t p0 = g.indptr[i], p1 = g.indptr[i + 1];
    thread_local std::vector<offset_t> due;
    if (due.size() < static_cast<std::size_t>(p1 - p0)) due.resize(static_cast<std::size_t>(p1 - p0));
    std::size_t n_due = 0;
    for (offset_t p = p0; p < p1; ++p) {
        due[n_due] = p;
        n_due += s.next_sample[p] > n ? 0 : 1;
    }
    for (std::size_t q = 0; q < n_due; ++q) {
        const offset_t p = due[q];
        const auto j = static_cast<std::uint32_t>(g.indices[p]);
        std::uint32_t* w = room(2);
        w[0] = w[1] = j | kEdgeAttract;  // the second: the mirrored attraction (self graphs)
        len += src.self_graph ? 2 : 1;
        if (edges) edges->insert(edges->end(), src.self_graph ? 2 : 1, p);
        const long n_neg = s.take(static_cast<std::size_t>(p), n);
        if (n_neg > 0) {
            SplitMixStream rng(seed, sampling_stream_item(stream_base, src.edge_offset + static_cast<std::uint64_t>(p)));
            // the draws of below(n_tail) in order; umap-learn skips a draw of the head itself
            std::uint32_t* o = room(static_cast<std::size_t>(n_neg) + 1);
            len += rng.below_many_except(src.n_tail, reject_below, skip, o, static_cast<std::size_t>(n_neg));
        }
    }
    return len;
}

namespace {

constexpr std::size_t W = 8;        // rows per vector
constexpr std::size_t kGroups = 4;  // vectors in flight
constexpr std::size_t L = W * kGroups;
using V = double __attribute__((vector_size(W * sizeof(double))));
using VM = std::int64_t __attribute__((vector_size(W * sizeof(double))));

// The coefficients' float vectors: 16 lanes, two groups of 8 rows each.
using VF = float __attribute__((vector_size(2 * W * sizeof(float))));
using VUF = std::uint32_t __attribute__((vector_size(2 * W * sizeof(float))));
using VMF = std::int32_t __attribute__((vector_size(2 * W * sizeof(float))));
using VF8 = float __attribute__((vector_size(W * sizeof(float))));
using VMF8 = std::int32_t __attribute__((vector_size(W * sizeof(float))));
using VQ = std::uint64_t __attribute__((vector_size(W * sizeof(std::uint64_t))));  // 8 float pairs
static_assert(W == 8 && kGroups % 2 == 0, "the shuffles below join and split 8-lane halves");

// Two groups' D as 16 floats, each capped at 1e30 and rounded as Bce<UmapCurve>::to_f does.
[[gnu::always_inline]] inline VF join_f(V lo, V hi) {
    const V cap = pow_poly_detail::splat<V>(1e30);
    const VF8 l = __builtin_convertvector(lo < 1e30 ? lo : cap, VF8);
    const VF8 h = __builtin_convertvector(hi < 1e30 ? hi : cap, VF8);
    return __builtin_shufflevector(l, h, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}
[[gnu::always_inline]] inline VMF join_m(VM lo, VM hi) {
    const VMF8 l = __builtin_convertvector(lo, VMF8), h = __builtin_convertvector(hi, VMF8);
    return __builtin_shufflevector(l, h, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}
// Half `upper` of 16 floats widened to 8 doubles (exact).
[[gnu::always_inline]] inline V half_d(VF x, bool upper) {
    const VF8 h = upper ? __builtin_shufflevector(x, x, 8, 9, 10, 11, 12, 13, 14, 15)
                        : __builtin_shufflevector(x, x, 0, 1, 2, 3, 4, 5, 6, 7);
    return __builtin_convertvector(h, V);
}

} // namespace

namespace {

// The lanes' vectors for positions of type P: 8 doubles (a transform's rows) or 16 floats (a fit's rows, carried in
// float as umap-learn holds them); L lanes either way, so L / W vectors in flight.
template <typename P>
struct LaneVectors {
    using Vec = V;
    using Mask = VM;
};
template <>
struct LaneVectors<float> {
    using Vec = VF;
    using Mask = VMF;
};

template <typename T>
[[gnu::always_inline]] inline T clip4v(T g) {  // clip_value lane by lane (either precision)
    const T hi = g > 4.0f ? T{} + 4.0f : g;
    return g < -4.0f ? T{} - 4.0f : hi;
}

// GCC (12) reports the lanes of the tail vectors, each set lane by lane below before use, as maybe uninitialised.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// P: the type of the tails and of the lanes' positions, float (a fit's rows) or double (a transform's).
template <std::size_t D, typename P>
[[gnu::always_inline]] inline void umap_rows(double* H, const P* T, const UmapLanesArgs& args, bool want_loss,
                                             std::size_t rb, std::size_t re, double* row_loss, double* row_pairs) {
    using VP = typename LaneVectors<P>::Vec;
    using VMP = typename LaneVectors<P>::Mask;
    constexpr std::size_t WP = sizeof(VP) / sizeof(P), GP = L / WP;  // rows per vector, vectors in flight
    const UmapCurve curve{args.a, args.b};
    const double gamma = args.gamma;
    const P alpha = static_cast<P>(args.alpha), ex = static_cast<P>(args.exaggeration);
    // the coefficients' constants in float, rounded as Bce<UmapCurve>'s scalar functions round them
    const float fa = static_cast<float>(args.a), fb = static_cast<float>(args.b);
    const float two_ab = static_cast<float>(2.0 * args.a * args.b), two_gb = static_cast<float>(2.0 * gamma * args.b);
    struct Lane {
        std::size_t row = 0;
        std::vector<std::uint32_t> pairs;
        double loss = 0, n_pairs = 0;
    };
    static const std::uint32_t idle_pair = 0;  // what an idle lane reads (its result is discarded)
    Lane lanes[L];
    const std::uint32_t* cur[L];  // each lane's next pair
    std::size_t left[L];          // pairs left in the lane (0: idle)
    VP y[D][GP] = {};  // the lanes' rows, coordinate by coordinate
    std::size_t next_row = rb;
    auto finish = [&](std::size_t r) {
        for (std::size_t c = 0; c < D; ++c) H[D * lanes[r].row + c] = y[c][r / WP][r % WP];
        if (want_loss) {
            row_loss[lanes[r].row] = lanes[r].loss;
            row_pairs[lanes[r].row] = lanes[r].n_pairs;
        }
    };
    // Gives lane r the next row with pairs (rows without any are finished at once), or leaves it idle.
    auto fill = [&](std::size_t r) {
        Lane& l = lanes[r];
        while (next_row < re) {
            l.row = next_row++;
            l.loss = l.n_pairs = 0;
            const std::size_t n_pairs = list_edge_pairs(args.pairs, l.row, l.pairs, nullptr);
            for (std::size_t c = 0; c < D; ++c) y[c][r / WP][r % WP] = static_cast<P>(H[D * l.row + c]);
            if (n_pairs > 0) {
                cur[r] = l.pairs.data();
                left[r] = n_pairs;
                return;
            }
            finish(r);
        }
        cur[r] = &idle_pair;
        left[r] = 0;
    };
    // Lane r's next pair: its tail's row, and whether it attracts (an idle lane reads pair 0 again).
    auto next_pair = [&](std::size_t r, bool& attract) {
        const std::uint32_t pr = *cur[r];
        cur[r] += left[r] ? 1 : 0;
        attract = (pr & kEdgeAttract) != 0;
        return T + D * std::size_t(pr & ~kEdgeAttract);
    };
    for (std::size_t r = 0; r < L; ++r) fill(r);
    for (;;) {
        // Steps until the first lane runs out: no lane needs a refill inside this burst.
        std::size_t burst = SIZE_MAX;
        for (std::size_t r = 0; r < L; ++r)
            if (left[r]) burst = std::min(burst, left[r]);
        if (burst == SIZE_MAX) break;
        VMP live[GP];
        for (std::size_t r = 0; r < L; ++r) live[r / WP][r % WP] = left[r] ? -1 : 0;
        for (std::size_t k = 0; k < burst; ++k) {
            // Every group's tails first, then the coefficients of all groups as one Pack: the groups' dependency
            // chains (pow_poly, the division) are issued side by side instead of one after another.
            VP dx[D][GP];
            Pack<VMP, GP> att;
            Pack<VP, GP> d2;
            for (std::size_t gi = 0; gi < GP; ++gi) {
                VP t[D];
                bool at;
                if constexpr (std::is_same_v<P, float>) {
                    // x and y of each lane's tail in one 8-byte load, 16 lanes as two vectors of float pairs,
                    // split into x and y by one shuffle each
                    VQ xy[2];
                    VF z;
                    for (std::size_t w = 0; w < WP; ++w) {
                        const float* tp = next_pair(gi * WP + w, at);
                        std::uint64_t q;
                        std::memcpy(&q, tp, sizeof q);
                        xy[w / W][w % W] = q;
                        if constexpr (D == 3) z[w] = tp[2];
                        att.v[gi][w] = at ? -1 : 0;
                    }
                    const VF f0 = reinterpret_cast<VF>(xy[0]), f1 = reinterpret_cast<VF>(xy[1]);
                    t[0] = __builtin_shufflevector(f0, f1, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
                    t[1] = __builtin_shufflevector(f0, f1, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
                    if constexpr (D == 3) t[2] = z;
                } else {
                    for (std::size_t w = 0; w < W; ++w) {
                        const double* tp = next_pair(gi * W + w, at);
                        for (std::size_t c = 0; c < D; ++c) t[c][w] = tp[c];
                        att.v[gi][w] = at ? -1 : 0;
                    }
                }
                for (std::size_t c = 0; c < D; ++c) dx[c][gi] = y[c][gi] - t[c];
                VP s = dx[0][gi] * dx[0][gi];  // squared_distance's order: 0 + the first square is that square
                for (std::size_t c = 1; c < D; ++c) s = s + dx[c][gi] * dx[c][gi];
                d2.v[gi] = s;
            }
            // the coefficients in float: D capped at 1e30 as Bce<UmapCurve>::to_f (in double: two groups' D
            // joined into 16 floats, the coefficients widened back)
            constexpr std::size_t GF = std::is_same_v<P, float> ? GP : GP / 2;
            Pack<VF, GF> df;
            Pack<VMF, GF> af;
            for (std::size_t h = 0; h < GF; ++h) {
                if constexpr (std::is_same_v<P, float>) {
                    df.v[h] = d2.v[h] < 1e30f ? d2.v[h] : VF{} + 1e30f;
                    af.v[h] = att.v[h];
                } else {
                    df.v[h] = join_f(d2.v[2 * h], d2.v[2 * h + 1]);
                    af.v[h] = join_m(att.v[2 * h], att.v[2 * h + 1]);
                }
            }
            const Pack<VF, GF> cp = Bce<UmapCurve>::pair_coeff<Pack<VUF, GF>>(af, fa, fb, two_ab, two_gb, df);
            for (std::size_t gi = 0; gi < GP; ++gi) {
                const VMP at = att.v[gi];
                VP c;
                if constexpr (std::is_same_v<P, float>)
                    c = cp.v[gi];
                else
                    c = half_d(cp.v[gi / 2], gi % 2 != 0);
                const VP dd = d2.v[gi];
                const VP coef = at ? -(ex * c) : c;
                // a repulsion at D <= 0 moves nothing (umap-learn's rule), nor does an idle lane
                const VMP move = live[gi] & (at | ~(dd <= P(0)));
                for (std::size_t c2 = 0; c2 < D; ++c2)
                    y[c2][gi] = move ? y[c2][gi] + clip4v(coef * dx[c2][gi]) * alpha : y[c2][gi];
                if (want_loss) {
                    for (std::size_t w = 0; w < WP; ++w) {
                        if (!move[w]) continue;
                        Lane& l = lanes[gi * WP + w];
                        const double dw = dd[w];
                        l.loss += at[w] ? Bce<UmapCurve>::attraction_loss(curve, dw)
                                        : Bce<UmapCurve>::repulsion_loss(curve, dw, gamma);
                        l.n_pairs += 1;
                    }
                }
            }
        }
        for (std::size_t r = 0; r < L; ++r) {
            if (!left[r]) continue;
            left[r] -= burst;
            if (left[r] == 0) {
                finish(r);
                fill(r);
            }
        }
    }
}

} // namespace

NEMBED_ISA_CLONES
void umap_rows_lanes(std::size_t d, double* H, const double* T, const float* Tf, const UmapLanesArgs& args,
                     bool want_loss, std::size_t rb, std::size_t re, double* row_loss, double* row_pairs) {
    if (Tf) {
        if (d == 2)
            umap_rows<2>(H, Tf, args, want_loss, rb, re, row_loss, row_pairs);
        else
            umap_rows<3>(H, Tf, args, want_loss, rb, re, row_loss, row_pairs);
    } else if (d == 2) {
        umap_rows<2>(H, T, args, want_loss, rb, re, row_loss, row_pairs);
    } else {
        umap_rows<3>(H, T, args, want_loss, rb, re, row_loss, row_pairs);
    }
}

} // namespace nembed::detail
