// PaCMAP's loss and pair sets as TorchDR computes them (loss/pacmap.hpp).
#include "nembed/loss/pacmap.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>
#include <string>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "nembed/affinity/cost.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/repulsion/negative_sampling.hpp"

namespace nembed {

PacmapWeights pacmap_weights(std::int64_t iter, int iter_per_phase) {
    require(iter_per_phase >= 1, "iter_per_phase must be >= 1, got " + std::to_string(iter_per_phase));
    const auto ipp = static_cast<std::int64_t>(iter_per_phase);
    if (iter < ipp) {
        const double t = static_cast<double>(iter) / static_cast<double>(ipp);
        return {2.0, 1000.0 * (1.0 - t) + 3.0 * t, 1.0};
    }
    if (iter < 2 * ipp) return {3.0, 3.0, 1.0};
    return {1.0, 0.0, 1.0};
}

PacmapObjective::PacmapObjective(Matrix<float> X, PacmapNeighbors neighbors, PacmapPairOptions options)
    : n_(X.rows()), nb_(std::move(neighbors)), options_(options) {
    const std::size_t n = n_;
    require(options_.iter_per_phase >= 1,
            "iter_per_phase must be >= 1, got " + std::to_string(options_.iter_per_phase));
    require(nb_.n_points == n && nb_.indices.size() == n * nb_.n_neighbors,
            "PACMAP: the neighbour pairs do not match the data (" + std::to_string(nb_.n_points) + " points vs " +
                std::to_string(n) + ")");
    require(n >= 7, "PACMAP needs at least 7 points (6 mid-near candidates among the others), got " +
                        std::to_string(n));
    if (options_.exclude_neighbors && options_.n_further > 0)
        require(nb_.n_neighbors + 1 < n, "PACMAP: no further point left to draw when excluding " +
                                             std::to_string(nb_.n_neighbors) + " neighbours of " +
                                             std::to_string(n) + " points (n_neighbors must be < N − 1)");
    // Padded rows: the mid-near distances run over whole 16-float lanes and 64-byte aligned rows.
    const std::size_t dim = X.cols();
    stride_ = (dim + kSqeuclideanPad - 1) / kSqeuclideanPad * kSqeuclideanPad;
    Xp_.resize(n * stride_);
    std::fill(Xp_.data(), Xp_.data() + n * stride_, 0.0f);
    for (std::size_t i = 0; i < n; ++i) std::copy(X.row(i), X.row(i) + dim, Xp_.data() + i * stride_);
    const std::size_t k = nb_.n_neighbors;
    if (options_.exclude_neighbors) {
        // Checked by a branch-free scan of whole blocks of 8 (a binary search mispredicts on every draw).
        ex_stride_ = (k + 7) / 8 * 8;
        excluded_.assign(n * ex_stride_, std::numeric_limits<std::uint32_t>::max());
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t t = 0; t < k; ++t)
                excluded_[i * ex_stride_ + t] = static_cast<std::uint32_t>(nb_.neighbors(i)[t]);
    }
}

namespace {
// Whether q is among the len (a multiple of 8) values at ex: compares of whole blocks, one well-predicted branch.
bool contains(const std::uint32_t* ex, std::size_t len, std::uint32_t q) {
#if defined(__SSE2__)
    const __m128i v = _mm_set1_epi32(static_cast<int>(q));
    __m128i hit = _mm_setzero_si128();
    for (std::size_t t = 0; t < len; t += 8) {
        const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(ex + t));
        const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(ex + t + 4));
        hit = _mm_or_si128(hit, _mm_or_si128(_mm_cmpeq_epi32(a, v), _mm_cmpeq_epi32(b, v)));
    }
    return _mm_movemask_epi8(hit) != 0;
#else
    unsigned hit = 0;
    for (std::size_t t = 0; t < len; ++t) hit |= ex[t] == q ? 1u : 0u;
    return hit != 0;
#endif
}
} // namespace

void PacmapObjective::mid_near(std::int64_t step, std::size_t i, index_t* out) const {
    UniformSampler s(options_.seed, sampling_stream(SamplingFamily::pacmap_mid_near, static_cast<std::uint64_t>(step), i),
                     n_);
    const float* xi = Xp_.data() + i * stride_;
    // Up to 8 partners' candidates per batch, so the kernel's prefetches run ahead across partners.
    constexpr std::size_t batch = 8;
    index_t cand[batch][6];
    float d[batch][6];
    for (std::size_t m0 = 0; m0 < options_.n_mid_near; m0 += batch) {
        const std::size_t nm = std::min(batch, options_.n_mid_near - m0);
        for (std::size_t m = 0; m < nm; ++m)
            for (auto& c : cand[m]) c = static_cast<index_t>(s.draw(i));
        sqeuclidean_rows_f32(xi, Xp_.data(), stride_, &cand[0][0], 6 * nm, &d[0][0]);
        for (std::size_t m = 0; m < nm; ++m) out[m0 + m] = cand[m][pacmap_second_smallest(d[m])];
    }
}

void PacmapObjective::further(std::int64_t step, std::size_t i, index_t* out) const {
    UniformSampler s(options_.seed, sampling_stream(SamplingFamily::pacmap_further, static_cast<std::uint64_t>(step), i),
                     n_);
    // UniformSampler::draw(i, excluded) by rejection, with the exclusion test unrolled: the same stream and points.
    const std::uint32_t* ex = options_.exclude_neighbors ? excluded_.data() + i * ex_stride_ : nullptr;
    for (std::size_t m = 0; m < options_.n_further; ++m) {
        for (;;) {
            const std::size_t p = s.draw(i);
            if (!ex || !contains(ex, ex_stride_, static_cast<std::uint32_t>(p))) {
                out[m] = static_cast<index_t>(p);
                break;
            }
        }
    }
}

void PacmapObjective::fill_row(std::int64_t step, std::size_t i, const Pairs& p, index_t* t) const {
    std::copy(nb_.neighbors(i), nb_.neighbors(i) + p.n_near, t);
    if (p.n_mid_near) mid_near(step, i, t + p.n_near);
    further(step, i, t + p.n_near + p.n_mid_near);
}

void PacmapObjective::layout(bool with_mid_near, Pairs& p) const {
    p.n_near = nb_.n_neighbors;
    p.n_mid_near = with_mid_near ? options_.n_mid_near : 0;
    p.n_further = options_.n_further;
    p.per_head = p.n_near + p.n_mid_near + p.n_further;
    p.tails.resize(n_ * p.per_head);
}

void PacmapObjective::fill_pairs(std::int64_t step, bool with_mid_near, Pairs& p, int n_threads) const {
    layout(with_mid_near, p);
    parallel_for(n_threads, n_, [&](std::size_t i) { fill_row(step, i, p, p.tails.data() + i * p.per_head); });
}

PacmapObjective::Pairs PacmapObjective::pairs(std::int64_t step, int n_threads) const {
    Pairs p;
    fill_pairs(step, pacmap_step_weights(step, options_.iter_per_phase).w_MN > 0.0, p, n_threads);
    return p;
}

double PacmapObjective::operator()(MatrixView<double> Y, double /*exaggeration*/, std::int64_t step, double* grad,
                                   bool want_loss) {
    const std::size_t n = Y.rows, d = Y.cols;
    require(n == n_, "PACMAP: the embedding has " + std::to_string(n) + " points, the data " + std::to_string(n_));
    const PacmapWeights w = pacmap_step_weights(step, options_.iter_per_phase);
    const int nt = n_threads_;
    Pairs& p = pairs_;
    layout(w.w_MN > 0.0, p);
    const std::size_t m = p.per_head;
    row_loss_.assign(want_loss ? n : 0, 0.0);

    // Pass 1, per fixed block of kHeadBlock heads: each head's pairs drawn (fill_row), their ∂L/∂D and the head's
    // own gradient Σ_p 2c(z_i − z_j) (one loop per pair kind, no per-slot branch, 2-D unrolled); then the block's
    // tail contributions 2c(z_i − z_j), counting-sorted (stably: (head, slot) order) by tail bucket of kTailBucket
    // rows. Pass 2, per tail bucket: −those contributions, block after block, into rows that stay in L1. Every row
    // thus sums its terms in (head, slot) order for any thread count, and no worker scans pairs it does not own.
    // With one worker the sort is skipped: pass 2 scans the pairs in order, the same sums in the same order.
    const bool bucketed = nt > 1;
    const std::size_t n_blocks = (n + kHeadBlock - 1) / kHeadBlock;
    const std::size_t n_buckets = (n + kTailBucket - 1) / kTailBucket;
    ent_tail_.resize(n * m);
    ent_delta_.resize(n * m * d);
    ent_offset_.resize(n_blocks * (n_buckets + 1));
    parallel_for(nt, n_blocks, [&](std::size_t hb) {
        const std::size_t h0 = hb * kHeadBlock, h1 = std::min(n, h0 + kHeadBlock);
        // The block's contributions in pair order (a worker's scratch: fits L2, no allocation per step).
        // With one worker they go straight to ent_delta_, in pair order.
        thread_local std::vector<double> scratch;
        if (bucketed) scratch.resize((h1 - h0) * m * d);
        double* const delta = bucketed ? scratch.data() : ent_delta_.data() + h0 * m * d;
        for (std::size_t i = h0; i < h1; ++i) {
            index_t* tails = p.tails.data() + i * m;
            fill_row(step, i, p, tails);
            double* di = delta + (i - h0) * m * d;
            const double* zi = Y.row(i);
            double* gi = grad + i * d;
            std::fill(gi, gi + d, 0.0);
            double g0 = 0.0, g1 = 0.0;  // 2-D: the head's sum in registers (the compiler cannot rule out aliasing)
            double loss = 0.0;
            auto run = [&](std::size_t s0, std::size_t s1, double wt, auto term) {
                for (std::size_t s = s0; s < s1; ++s) {
                    const double* zj = Y.row(static_cast<std::size_t>(tails[s]));
                    double* ds = di + s * d;
                    if (d == 2) {
                        const double a = zi[0] - zj[0], b = zi[1] - zj[1];
                        const PacmapTerm t = term(a * a + b * b);
                        loss += wt * t.value;
                        const double c2 = 2.0 * wt * t.dD;
                        ds[0] = c2 * a;
                        ds[1] = c2 * b;
                        g0 += ds[0];
                        g1 += ds[1];
                    } else {
                        double D = 0.0;
                        for (std::size_t c = 0; c < d; ++c) D += (zi[c] - zj[c]) * (zi[c] - zj[c]);
                        const PacmapTerm t = term(D);
                        loss += wt * t.value;
                        const double c2 = 2.0 * wt * t.dD;
                        for (std::size_t c = 0; c < d; ++c) {
                            ds[c] = c2 * (zi[c] - zj[c]);
                            gi[c] += ds[c];
                        }
                    }
                }
            };
            const std::size_t e1 = p.n_near, e2 = e1 + p.n_mid_near;
            run(0, e1, w.w_NB, pacmap_near_term);
            run(e1, e2, w.w_MN, pacmap_mid_near_term);
            run(e2, m, w.w_FP, pacmap_further_term);
            if (d == 2) {
                gi[0] = g0;
                gi[1] = g1;
            }
            if (want_loss) row_loss_[i] = loss;
        }
        if (!bucketed) return;  // one worker: pair order is (head, slot) order already
        std::size_t* off = ent_offset_.data() + hb * (n_buckets + 1);
        std::fill(off, off + n_buckets + 1, 0);
        for (std::size_t q = h0 * m; q < h1 * m; ++q) ++off[static_cast<std::size_t>(p.tails[q]) / kTailBucket + 1];
        off[0] = h0 * m;
        for (std::size_t b = 0; b < n_buckets; ++b) off[b + 1] += off[b];
        thread_local std::vector<std::size_t> pos;
        pos.assign(off, off + n_buckets);
        for (std::size_t q = h0 * m; q < h1 * m; ++q) {
            const auto j = static_cast<std::size_t>(p.tails[q]);
            const std::size_t e = pos[j / kTailBucket]++;
            ent_tail_[e] = static_cast<std::uint32_t>(j);
            const double* src = delta + (q - h0 * m) * d;
            double* dst = ent_delta_.data() + e * d;
            if (d == 2) {  // not a memmove call per pair
                dst[0] = src[0];
                dst[1] = src[1];
            } else {
                std::copy_n(src, d, dst);
            }
        }
    });
    if (!bucketed) {
        for (std::size_t q = 0; q < n * m; ++q) {
            double* gj = grad + static_cast<std::size_t>(p.tails[q]) * d;
            for (std::size_t c = 0; c < d; ++c) gj[c] -= ent_delta_[q * d + c];
        }
    } else {
        parallel_for(nt, n_buckets, [&](std::size_t b) {
            for (std::size_t hb = 0; hb < n_blocks; ++hb) {
                const std::size_t* off = ent_offset_.data() + hb * (n_buckets + 1);
                for (std::size_t e = off[b]; e < off[b + 1]; ++e) {
                    double* gj = grad + static_cast<std::size_t>(ent_tail_[e]) * d;
                    const double* de = ent_delta_.data() + e * d;
                    for (std::size_t c = 0; c < d; ++c) gj[c] -= de[c];
                }
            }
        });
    }
    if (!want_loss) return std::numeric_limits<double>::quiet_NaN();
    return fixed_block_sum(nt, n, [&](std::size_t b, std::size_t e) {
        double s = 0.0;
        for (std::size_t i = b; i < e; ++i) s += row_loss_[i];
        return s;
    });
}

} // namespace nembed
