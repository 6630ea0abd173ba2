// ParametricTSNE's batch loss in two fused passes (parametric/tsne_batch_loss.hpp).
#include "nembed/parametric/tsne_batch_loss.hpp"

#include <algorithm>
#include <cmath>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "../core/isa_clones.hpp"
#include "../core/lane_sum.hpp"

namespace nembed::paradime {

namespace {

constexpr std::size_t n_blocks = 16;  // row blocks of equal pair counts: the passes' fixed work split
constexpr std::size_t lanes = kSumLanes;  // fixed lanes of every sum (one AVX-512 register of doubles)

// The first pair of row i among the pairs i < j of b rows, row after row.
inline std::size_t pair_offset(std::size_t i, std::size_t b) { return i * b - i * (i + 1) / 2; }


// The Student-t kernel of a pair, from the rows' coordinates (the same operations wherever it is evaluated).
inline double kernel(double xi, double yi, double xj, double yj) {
    const double dx = xi - xj, dy = yi - yj;
    return 1.0 / (1.0 + (dx * dx + dy * dy));
}

// The eight lanes as two vectors of four (ymm on AVX2 and AVX-512; as arrays of eight the lanes' sums lived on the
// stack, added one scalar at a time, and GCC keeps a 64-byte vector in memory on AVX2): 6.2 → 1.2 ns a pair on Zen
// 3. The same operations on each lane in the same order: the same bits.
using V4 = double __attribute__((vector_size(4 * sizeof(double))));
static_assert(lanes == 8);
// load4 / store4 are always inlined: the ABI of a 32-byte vector passed by value (which -Wpsabi warns of for the
// clones without AVX) never applies.
#pragma GCC diagnostic ignored "-Wpsabi"
[[gnu::always_inline]] inline V4 load4(const double* p) {
    V4 v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}
[[gnu::always_inline]] inline void store4(double* p, V4 v) { __builtin_memcpy(p, &v, sizeof v); }

// One pass over the pairs of the rows [r0, r1): returns Σ w, and adds w² (y_i − y_j) to row i and subtracts it from
// row j in the block's buffers (gx, gy: b entries, zero from r0 on): the repulsion up to its factor R.
NEMBED_ISA_CLONES double kernel_pairs(const double* __restrict x, const double* __restrict y, std::size_t b,
                                      std::size_t r0, std::size_t r1, double* __restrict gx, double* __restrict gy) {
    V4 as0 = {}, as1 = {};  // lanes 0–3 and 4–7
    for (std::size_t i = r0; i < r1; ++i) {
        const double xi = x[i], yi = y[i];
        double* __restrict hx = gx + i + 1;
        double* __restrict hy = gy + i + 1;
        const double* __restrict xj = x + i + 1;
        const double* __restrict yj = y + i + 1;
        const std::size_t n = b - i - 1;
        V4 ax0 = {}, ax1 = {}, ay0 = {}, ay1 = {};
        std::size_t k = 0;
        for (; k + lanes <= n; k += lanes) {
            const V4 dx0 = xi - load4(xj + k), dy0 = yi - load4(yj + k);
            const V4 dx1 = xi - load4(xj + k + 4), dy1 = yi - load4(yj + k + 4);
            const V4 w0 = 1.0 / (1.0 + (dx0 * dx0 + dy0 * dy0)), c0 = w0 * w0;
            const V4 w1 = 1.0 / (1.0 + (dx1 * dx1 + dy1 * dy1)), c1 = w1 * w1;
            const V4 tx0 = c0 * dx0, ty0 = c0 * dy0, tx1 = c1 * dx1, ty1 = c1 * dy1;
            as0 += w0;
            as1 += w1;
            ax0 += tx0;
            ax1 += tx1;
            ay0 += ty0;
            ay1 += ty1;
            store4(hx + k, load4(hx + k) - tx0);
            store4(hx + k + 4, load4(hx + k + 4) - tx1);
            store4(hy + k, load4(hy + k) - ty0);
            store4(hy + k + 4, load4(hy + k + 4) - ty1);
        }
        // The tail's lanes through arrays (a vector subscripted in a loop would live in memory all along).
        double sa[lanes], sx[lanes], sy[lanes];
        store4(sa, as0);
        store4(sa + 4, as1);
        store4(sx, ax0);
        store4(sx + 4, ax1);
        store4(sy, ay0);
        store4(sy + 4, ay1);
        for (std::size_t l = 0; k + l < n; ++l) {
            const double dx = xi - xj[k + l], dy = yi - yj[k + l];
            const double w = 1.0 / (1.0 + (dx * dx + dy * dy)), c = w * w;
            const double tx = c * dx, ty = c * dy;
            sa[l] += w;
            sx[l] += tx;
            sy[l] += ty;
            hx[k + l] -= tx;
            hy[k + l] -= ty;
        }
        as0 = load4(sa);
        as1 = load4(sa + 4);
        gx[i] += lane_sum(sx);
        gy[i] += lane_sum(sy);
    }
    double a[lanes];
    store4(a, as0);
    store4(a + 4, as1);
    return lane_sum(a);
}

} // namespace

bool fused_tsne_batch_applies(const Loss& loss, const BatchRelations& rel, const std::vector<TransformParams>& params,
                              const GlobalRelationData& global, std::size_t dims) {
    return loss.kind == LossKind::relation && loss.loss_function == RelationLossFunction::kullback_leibler_div &&
           rel.kind == BatchRelationKind::differentiable_pdist && rel.transform.size() == 2 &&
           rel.transform[0].kind == TransformKind::student_t && !rel.transform[0].learnable &&
           params.size() == 2 && params[0].alpha == 1.0 && rel.transform[1].kind == TransformKind::normalize &&
           !global.lazy_pdist && dims == 2;
}

double fused_tsne_batch_kl(const Loss& loss, const CsrMatrix<double>& P, std::span<const index_t> batch,
                           MatrixView<double> Y, double weight, double* dY,
                           int n_threads, TsneBatchScratch& s) {
    const std::size_t b = batch.size();
    require(b >= 2 && Y.rows == b && Y.cols == 2, "fused_tsne_batch_kl: b >= 2 rows of 2-D positions expected");
    const std::size_t m = b * (b - 1) / 2;
    s.x.resize(b);
    s.y.resize(b);
    for (std::size_t i = 0; i < b; ++i) s.x[i] = Y(i, 0), s.y[i] = Y(i, 1);
    s.rows.resize(n_blocks + 1);
    for (std::size_t k = 0, i = 0; k <= n_blocks; ++k) {
        while (i < b && pair_offset(i, b) * n_blocks < k * m) ++i;
        s.rows[k] = k == n_blocks ? b : i;
    }
    s.blocks.resize(n_blocks);
    s.rep.resize(2 * n_blocks * b);
    s.att.resize(2 * n_blocks * b);
    // The batch's local rows by point, in 32 bits (a fifth of the L1 cache at n = 5 000; `pos` is 64-bit).
    s.loc.resize(P.n_rows, -1);
    for (std::size_t a = 0; a < b; ++a) s.loc[static_cast<std::size_t>(batch[a])] = static_cast<std::int32_t>(a);
    // Pass 1, per row block: the block's entries of P_b (its rows' sparse entries inside the batch, in CSR order; the
    // diagonal in the sum, never a pair) found without a branch per entry and reading the values of those only, then
    // Σ w and the repulsion's sums.
    parallel_for(n_threads, n_blocks, [&](std::size_t k) {
        const std::size_t r0 = s.rows[k], r1 = s.rows[k + 1];
        TsneBatchScratch::Block& bl = s.blocks[k];
        std::size_t cap = 0;
        for (std::size_t a = r0; a < r1; ++a) {
            const auto i = static_cast<std::size_t>(batch[a]);
            cap += static_cast<std::size_t>(P.indptr[i + 1] - P.indptr[i]);
        }
        bl.from.resize(cap);
        bl.to.resize(cap);
        bl.at.resize(cap);
        bl.value.resize(cap);
        std::size_t e = 0;
        const std::int32_t* loc = s.loc.data();
        for (std::size_t a = r0; a < r1; ++a) {
            const auto i = static_cast<std::size_t>(batch[a]);
            for (offset_t q = P.indptr[i]; q < P.indptr[i + 1]; ++q) {
                const std::int32_t c = loc[static_cast<std::size_t>(P.indices[static_cast<std::size_t>(q)])];
                bl.from[e] = static_cast<std::int32_t>(a);
                bl.to[e] = c;
                bl.at[e] = q;
                e += c >= 0;
            }
        }
        double sp = 0.0;
        std::size_t n = 0;
        for (std::size_t t = 0; t < e; ++t) {
            const double v = P.values[static_cast<std::size_t>(bl.at[t])];
            sp += v;
            bl.from[n] = bl.from[t];
            bl.to[n] = bl.to[t];
            bl.value[n] = v;
            n += bl.from[t] != bl.to[t];
        }
        bl.n = n;
        bl.sp = sp;
        double* gx = s.rep.data() + 2 * k * b;
        double* gy = gx + b;
        std::fill(gx + r0, gx + b, 0.0);
        std::fill(gy + r0, gy + b, 0.0);
        bl.sw = kernel_pairs(s.x.data(), s.y.data(), b, r0, r1, gx, gy);
    });
    for (std::size_t a = 0; a < b; ++a) s.loc[static_cast<std::size_t>(batch[a])] = -1;
    double S = 0.0, sp = 0.0;
    for (const TsneBatchScratch::Block& bl : s.blocks) S += bl.sw, sp += bl.sp;
    const double S2 = 2.0 * S;  // each pair stands for two entries of the square form
    require(S2 > 0, "Normalize: the batch relations sum to 0");
    const double sn = loss.normalize_sub && sp > 0.0 ? sp : 1.0;  // no relation inside the batch: p = 0

    // Pass 2, per block of entries: the KL's value, e = −dL/dq · weight, Σ e q, and the attraction e's part of
    // Normalize's and the kernel's backward: 2 a e w² / (2S) (y_a − y_c) on both rows.
    const double eps = loss.epsilon, len = static_cast<double>(b), att = 2.0 * loss.exaggeration / S2;
    parallel_for(n_threads, n_blocks, [&](std::size_t k) {
        TsneBatchScratch::Block& bl = s.blocks[k];
        double* gx = s.att.data() + 2 * k * b;
        double* gy = gx + b;
        std::fill(gx, gx + 2 * b, 0.0);
        double L = 0.0, eq = 0.0;
        for (std::size_t e = 0; e < bl.n; ++e) {
            const double p = bl.value[e] / sn;
            if (p == 0.0) continue;
            const auto a = static_cast<std::size_t>(bl.from[e]), c = static_cast<std::size_t>(bl.to[e]);
            const std::size_t lo = std::min(a, c), hi = std::max(a, c);
            const double w = kernel(s.x[lo], s.y[lo], s.x[hi], s.y[hi]), q = w / S2;
            L += p * (std::log(p + eps) - std::log(q + eps));
            const double g = p / (q + eps) / len * weight;
            eq += g * q;
            const double coef = att * g * w * w;
            const double tx = coef * (s.x[a] - s.x[c]), ty = coef * (s.y[a] - s.y[c]);
            gx[a] += tx;
            gy[a] += ty;
            gx[c] -= tx;
            gy[c] -= ty;
        }
        bl.L = L;
        bl.eq = eq;
    });
    double L = 0.0, eq = 0.0;
    for (const TsneBatchScratch::Block& bl : s.blocks) L += bl.L, eq += bl.eq;
    // The repulsion through the normalising sum: Normalize's backward −2 go / (2S) with go = −Σ e q, times the
    // kernel's −2 w² (÷ d): R = −4 Σ e q / (2S) on the sums of pass 1.
    const double R = -4.0 * eq / S2;
    for (std::size_t i = 0; i < b; ++i) {
        double ax = 0.0, ay = 0.0, rx = 0.0, ry = 0.0;
        for (std::size_t k = 0; k < n_blocks; ++k) {
            ax += s.att[2 * k * b + i];
            ay += s.att[2 * k * b + b + i];
            if (s.rows[k] <= i) {
                rx += s.rep[2 * k * b + i];
                ry += s.rep[2 * k * b + b + i];
            }
        }
        dY[2 * i] += ax + R * rx;
        dY[2 * i + 1] += ay + R * ry;
    }
    return L / len;
}

} // namespace nembed::paradime
