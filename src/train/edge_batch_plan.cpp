// The edge mini-batch plan (train/edge_batch_plan.hpp): cne's epoch of randomly ordered edge batches.
#include "nembed/train/edge_batch_plan.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/optim/sgd.hpp"
#include "nembed/train/parametrization.hpp"
#include "nembed/train/phase.hpp"
#include "../loss/contrastive_fused.hpp"
#include "../methods/bucket_shuffle.hpp"
#include "../methods/fixed_point.hpp"
#include "../core/isa_clones.hpp"

namespace nembed {

namespace {
using detail::FusedChunkFn;
using detail::HeadLoss;

// ---- the batch step ----
// A batch's heads are cut into chunks of a fixed size that depends on the problem only, never on the thread count.
// Per chunk (in parallel) every head draws its negatives from the chunk's own counter-based stream, and its m + 2
// gradient contributions [head, partner, negatives...] are added, in 64-bit fixed point (fixed_point.hpp), to the
// point accumulator of the worker that runs the chunk. Integer sums do not depend on their order, so the batch
// gradient is the same bits however the chunks were spread over threads, and each worker's additions stay in its
// own cache. Then the workers' accumulators are summed per point (and cleared), clipped and, for SGD, stepped.

// Compiled for AVX-512, AVX2 and the baseline and picked at run time: the loops below vectorise, and the per-point
// pass runs once per batch over every point. Integer sums, exact scaling and the same operations in each lane:
// every variant gives the same bits.

// Coordinates [i0, i1): the workers' accumulators summed and cleared, converted from fixed point, clipped to
// [-clip, clip] (clip = inf: no clipping), then either stepped (y -= lr * g, and yf, the fused kernels' float copy
// of y, follows unless null; y non-null) or added to G.
// The pass for a fixed number NA of accumulators (one or two threads, the common cases): with the pointer loop
// unrolled the loops vectorise; the scalar loop over workers costs ~2x at one thread.
template <std::size_t NA>
[[gnu::always_inline]] inline void finish_fixed(std::int64_t* const* acc, std::size_t i0, std::size_t i1,
                                                const detail::FixedPoint& fx, double clip, double lr, double* y,
                                                float* yf, double* G) {
    std::int64_t* a[NA];
    for (std::size_t w = 0; w < NA; ++w) a[w] = acc[w];
    auto take = [&](std::size_t i) {  // the workers' sum at i, cleared, as a clipped gradient
        std::int64_t sum = 0;
        for (std::size_t w = 0; w < NA; ++w) {
            sum += a[w][i];
            a[w][i] = 0;
        }
        return std::clamp(fx.to_double(sum), -clip, clip);
    };
    if (y && yf) {
        for (std::size_t i = i0; i < i1; ++i) {
            y[i] -= lr * take(i);
            yf[i] = static_cast<float>(y[i]);
        }
    } else if (y) {
        for (std::size_t i = i0; i < i1; ++i) y[i] -= lr * take(i);
    } else {
        for (std::size_t i = i0; i < i1; ++i) G[i] += take(i);
    }
}

NEMBED_ISA_CLONES void finish_coordinates(std::int64_t* const* acc, std::size_t n_acc, std::size_t i0,
                                                 std::size_t i1, const detail::FixedPoint& fx, double clip, double lr,
                                                 double* y, float* yf, double* G) {
    if (n_acc == 1) return finish_fixed<1>(acc, i0, i1, fx, clip, lr, y, yf, G);
    if (n_acc == 2) return finish_fixed<2>(acc, i0, i1, fx, clip, lr, y, yf, G);
    auto grad = [&](std::int64_t sum) { return std::clamp(fx.to_double(sum), -clip, clip); };
    for (std::size_t i = i0; i < i1; ++i) {
        std::int64_t sum = 0;
        for (std::size_t w = 0; w < n_acc; ++w) {
            sum += acc[w][i];
            acc[w][i] = 0;
        }
        const double g = grad(sum);
        if (y) {
            y[i] -= lr * g;
            if (yf) yf[i] = static_cast<float>(y[i]);
        } else {
            G[i] += g;
        }
    }
}

// One worker's scratch (reused across batches: the loop must not allocate).
struct ChunkScratch {
    std::vector<double> kernel, g;  // kernel: the fused kernels' scratch
    std::vector<const double*> others;
    std::vector<double*> gout;
    std::vector<std::uint32_t> pts;  // per head of the chunk: its m + 2 points
};

// Layout of a batch of b edges: chunks of `per_chunk` heads, m negatives per head.
struct Shape {
    std::size_t b, two_b, m, per_head, per_chunk, n_chunks;
    bool all;  // every other slot of the batch is a negative (full-batch, or a last batch too small for m)
    FusedChunkFn fused;
};

auto streams_of(std::int64_t epoch) {
    return [epoch](std::uint64_t item) {
        return sampling_stream(SamplingFamily::cne_shuffle, static_cast<std::uint64_t>(epoch), item);
    };
}
} // namespace

struct EdgeBatchPlan::Impl {
    std::size_t n = 0, d = 0;
    EdgeBatchOptions o;
    std::vector<WeightedContrastiveLoss> losses;
    std::vector<double> base_spec;  // each term's ξ/ρ outside a phase's loss_spec
    bool single = true;             // one term of weight 1: the loss itself (fused kernels allowed)
    bool has_nce = false;
    double log_Z = 0.0;
    std::unique_ptr<Optimizer> z_opt;

    std::size_t n_edges = 0, B = 0, n_batches = 0, B_last = 0, two_b = 0, m = 0;
    bool full_batch = false, uniform = false;
    std::vector<std::uint64_t> edges;  // head·2^32 + tail: ordering them gives the batches directly
    std::vector<std::size_t> nbr_off;            // exclude_neighbors: the heads' sorted neighbour lists
    std::vector<std::uint32_t> nbr;
    detail::FixedPoint fx{2.0};
    detail::BucketShuffle order;
    std::int64_t order_epoch = 0;  // the epoch whose order `order` makes (or made) into `next_slots`
    std::vector<std::uint32_t> slots, next_slots;  // this epoch's batches: slot → point; the next epoch's
    // Up to `steps` units of the order's work, each finished bucket written into next_slots: position p = bi·B + q
    // is slot q (its head) and b + q (its tail) of batch bi (b edges).
    void run_order(std::size_t steps) {
        order.run(steps, [this](std::size_t p, const std::uint64_t* e, std::size_t count) {
            while (count > 0) {
                const std::size_t bi = p / B, q = p - bi * B, b = bi + 1 == n_batches ? B_last : B;
                const std::size_t k = std::min(count, b - q);
                std::uint32_t* heads = next_slots.data() + bi * two_b + q;
                std::uint32_t* tails = heads + b;
                for (std::size_t t = 0; t < k; ++t) {
                    heads[t] = static_cast<std::uint32_t>(e[t] >> 32);
                    tails[t] = static_cast<std::uint32_t>(e[t]);
                }
                p += k;
                e += k;
                count -= k;
            }
        });
    }
    // The table's positions rounded to float, which the fused kernels read (their random reads then move half the
    // bytes: the positions of 70 000 2-D points take 0.56 MB instead of 1.1, beside a 1 MB L2): made from Y at the
    // start of each epoch and after an optimizer's step, and kept up to date by the fused SGD step.
    std::vector<float> yf;
    void refresh_yf(const double* Y, int n_threads) {
        yf.resize(n * d);
        parallelize(n_threads, n * d, [&](int, std::size_t i0, std::size_t i1) {
            for (std::size_t i = i0; i < i1; ++i) yf[i] = static_cast<float>(Y[i]);
        });
    }

    // per worker count (resized when the thread count changes)
    std::size_t n_workers = 0, n_acc = 0;
    bool shared_acc = false;
    std::uint64_t owner_mul = 0;
    std::vector<std::vector<std::int64_t>> acc;
    std::vector<std::int64_t*> acc_ptr;
    std::vector<ChunkScratch> scratch;
    std::vector<double> chunk_loss, head_dlogz;

    Shape shape_of(std::size_t b) const {
        Shape sh;
        sh.b = b;
        sh.two_b = 2 * b;
        sh.m = uniform ? m : (full_batch ? sh.two_b - 2 : std::min(m, sh.two_b - 2));
        sh.all = !uniform && sh.m == sh.two_b - 2;
        sh.per_head = sh.m + 2;  // contributions per head: head, partner, m negatives
        sh.per_chunk = std::clamp<std::size_t>(32768 / sh.per_head, 1, 512);
        sh.n_chunks = (b + sh.per_chunk - 1) / sh.per_chunk;
        sh.fused = single ? detail::fused_chunk(losses[0].params, d, sh.m + 1) : nullptr;
        return sh;
    }

    void set_workers(int n_threads) {
        const std::size_t w = static_cast<std::size_t>(std::max(1, n_threads));
        if (w == n_workers) return;
        n_workers = w;
        // Per worker, a point accumulator — at most 16, taking at most 256 MiB together; beyond that workers share
        // them (worker w uses w mod n_acc) and add atomically (integer sums: the same bits).
        const std::size_t acc_bytes = n * d * sizeof(std::int64_t);
        n_acc = std::clamp<std::size_t>((std::size_t(256) << 20) / acc_bytes, 1, std::min<std::size_t>(w, 16));
        shared_acc = n_acc < w;
        acc.assign(n_acc, std::vector<std::int64_t>(n * d, 0));
        acc_ptr.resize(n_acc);
        for (std::size_t i = 0; i < n_acc; ++i) acc_ptr[i] = acc[i].data();
        scratch.assign(w, {});
        owner_mul = (static_cast<std::uint64_t>(w) << 32) / n;
    }

    void run_chunk(ChunkScratch& sc, std::int64_t* a, std::size_t c, std::size_t bi, std::int64_t epoch,
                   const std::uint32_t* sp, const Shape& sh, std::size_t full_n_chunks, const double* Y,
                   const float* Yf);

    // ---- distributed (o.share.sum; EdgeBatchShare) ----
    // This process holds the edges of its graph rows, `edges` (global indices [e0, e0 + edges.size())), and per
    // epoch `mine`: the edges of its chunks (chunk c of every batch runs on process c mod R), in shuffled order.
    bool dist = false;
    std::size_t R = 1, me = 0, e0 = 0;
    std::size_t n_buckets = 1;  // the single-process bucket shuffle's layout for n_edges elements
    int bucket_shift = 16;
    std::size_t pc_full = 1, pc_last = 1, nc_full = 1, nc_last = 1;  // heads per chunk, chunks per batch
    std::vector<std::uint64_t> mine;
    std::size_t mine_at = 0;          // the next batch's first edge in `mine`
    std::int64_t mine_epoch = -1;     // the epoch `mine` holds
    std::vector<std::int64_t> tx, rx, tot;  // per batch: slot sums out and in, my slots' totals
    std::vector<std::uint8_t> gx, grx;  // per batch: the all-gathered slots / results
    std::vector<std::uint32_t> slots_out;  // per batch: my chunks' heads, then their tails
    std::vector<double> res;               // per batch: my slots' results, chunk losses, dlog Z

    std::size_t bucket_start(std::size_t o) const { return (o * n_buckets + R - 1) / R; }  // process o's buckets
    std::size_t batch_heads(std::size_t bi) const { return bi + 1 == n_batches ? B_last : B; }
    std::size_t per_chunk(std::size_t bi) const { return bi + 1 == n_batches ? pc_last : pc_full; }
    std::size_t n_chunks_of(std::size_t bi) const { return bi + 1 == n_batches ? nc_last : nc_full; }
    // Heads of batch bi that process o runs (its chunks c ≡ o mod R).
    std::size_t heads_of(std::size_t o, std::size_t bi) const {
        const std::size_t b = batch_heads(bi), pc = per_chunk(bi), nc = n_chunks_of(bi);
        std::size_t h = 0;
        for (std::size_t c = o; c < nc; c += R) h += std::min(b, (c + 1) * pc) - c * pc;
        return h;
    }
    std::size_t chunks_of(std::size_t o, std::size_t bi) const {
        const std::size_t nc = n_chunks_of(bi);
        return o < nc ? (nc - o + R - 1) / R : 0;
    }
    // The process that runs the edge at shuffled position p.
    std::size_t owner_of_position(std::size_t p) const {
        const std::size_t bi = p / B;
        return ((p - bi * B) / per_chunk(bi)) % R;
    }
    // How many of the positions [lo, hi) this process runs.
    std::size_t mine_in(std::size_t lo, std::size_t hi) const {
        std::size_t count = 0;
        for (std::size_t bi = lo / B; lo < hi && bi < n_batches && bi * B < hi; ++bi) {
            const std::size_t b = batch_heads(bi), pc = per_chunk(bi), nc = n_chunks_of(bi);
            for (std::size_t c = me; c < nc; c += R) {
                const std::size_t p0 = bi * B + c * pc, p1 = bi * B + std::min(b, (c + 1) * pc);
                const std::size_t x0 = std::max(p0, lo), x1 = std::min(p1, hi);
                if (x0 < x1) count += x1 - x0;
            }
        }
        return count;
    }

    // The epoch's order (bucket_shuffle.hpp's, cut by buckets). Element g (global edge index) draws its bucket
    // from the 16-bit quarter g mod 4 of word g/4 of the epoch's draw stream; process o owns the buckets
    // [bucket_start(o), bucket_start(o + 1)) and receives their elements in global order (processes in rank
    // order, each in its order), which is the single-process copy phase; each bucket's split among the batches
    // uses the bucket's own stream. A process's buckets are then the consecutive positions of its range, and each
    // element goes on to the process that runs its chunk (sent in position order, so `mine` is in position order
    // without any position travelling).
    std::vector<std::uint64_t> dist_order(std::int64_t epoch, int n_threads) {
        const auto stream_of = streams_of(epoch);
        const std::size_t El = edges.size(), NB = n_buckets;
        std::vector<std::uint16_t> bk(El);
        std::vector<std::uint64_t> cnt(NB, 0);
        {
            SplitMixStream draws(o.seed, stream_of(0));
            draws.skip_words(e0 / 4);
            std::uint64_t word = 0;
            for (std::size_t i = 0; i < El; ++i) {
                const std::size_t g = e0 + i;
                if (i == 0) {
                    word = draws.next() >> (16 * (g % 4));
                } else if (g % 4 == 0) {
                    word = draws.next();
                }
                const auto bucket = static_cast<std::uint16_t>((word & 0xffff) >> bucket_shift);
                word >>= 16;
                bk[i] = bucket;
                ++cnt[bucket];
            }
        }
        std::vector<std::uint64_t> out(El);  // my elements by (bucket, order): consecutive per owner
        {
            std::vector<std::size_t> at(NB + 1, 0);
            for (std::size_t x = 0; x < NB; ++x) at[x + 1] = at[x] + cnt[x];
            for (std::size_t i = 0; i < El; ++i) out[at[bk[i]]++] = edges[i];
        }
        bk = {};
        // Counts of each owner's buckets to the owner, then the elements.
        const std::size_t my_b0 = bucket_start(me), my_nb = bucket_start(me + 1) - my_b0;
        std::vector<std::size_t> sc(R), rc(R, my_nb * 8), se(R), re(R);
        for (std::size_t q = 0; q < R; ++q) sc[q] = (bucket_start(q + 1) - bucket_start(q)) * 8;
        std::vector<std::uint64_t> rcnt(R * my_nb);
        o.share.alltoallv(cnt.data(), sc, rcnt.data(), rc);
        std::size_t T = 0;
        for (std::size_t q = 0; q < R; ++q) {
            std::uint64_t m_q = 0, r_q = 0;
            for (std::size_t x = bucket_start(q); x < bucket_start(q + 1); ++x) m_q += cnt[x];
            for (std::size_t x = 0; x < my_nb; ++x) r_q += rcnt[q * my_nb + x];
            se[q] = static_cast<std::size_t>(m_q) * 8;
            re[q] = static_cast<std::size_t>(r_q) * 8;
            T += static_cast<std::size_t>(r_q);
        }
        std::vector<std::uint64_t> got(T);
        o.share.alltoallv(out.data(), se, got.data(), re);
        // My buckets in global order, then each one's Fisher–Yates.
        std::vector<std::size_t> start(my_nb + 1, 0), from(R, 0);  // from[q]: q's segment in `got`
        for (std::size_t x = 0; x < my_nb; ++x) {
            std::uint64_t total = 0;
            for (std::size_t q = 0; q < R; ++q) total += rcnt[q * my_nb + x];
            start[x + 1] = start[x] + static_cast<std::size_t>(total);
        }
        for (std::size_t q = 1; q < R; ++q) from[q] = from[q - 1] + re[q - 1] / 8;
        out.resize(T);
        for (std::size_t x = 0, w = 0; x < my_nb; ++x)
            for (std::size_t q = 0; q < R; ++q) {
                const auto k = static_cast<std::size_t>(rcnt[q * my_nb + x]);
                std::copy_n(got.data() + from[q], k, out.data() + w);
                from[q] += k;
                w += k;
            }
        got = {};
        // My range of positions [base, base + T), then each bucket's split among the batches it meets.
        std::vector<std::uint64_t> Ts(R);
        {
            const std::uint64_t t64 = T;
            o.share.allgatherv(&t64, 8, Ts.data(), std::vector<std::size_t>(R, 8));
        }
        std::size_t base = 0;
        for (std::size_t q = 0; q < me; ++q) base += static_cast<std::size_t>(Ts[q]);
        parallelize(n_threads, my_nb, [&](int, std::size_t x0, std::size_t x1) {
            for (std::size_t x = x0; x < x1; ++x)
                detail::BucketShuffle::split_bucket(out.data() + start[x], base + start[x], start[x + 1] - start[x], B,
                                                    SplitMixStream(o.seed, stream_of(1 + my_b0 + x)));
        });
        // Every element to the process that runs its chunk.
        std::vector<std::size_t> n_to(R, 0);
        for (std::size_t t = 0; t < T; ++t) ++n_to[owner_of_position(base + t)];
        std::vector<std::size_t> at(R, 0);
        for (std::size_t q = 1; q < R; ++q) at[q] = at[q - 1] + n_to[q - 1];
        std::vector<std::uint64_t> routed(T);
        for (std::size_t t = 0; t < T; ++t) routed[at[owner_of_position(base + t)]++] = out[t];
        out = {};
        std::size_t lo = 0, n_mine = 0;
        for (std::size_t q = 0; q < R; ++q) {
            se[q] = n_to[q] * 8;
            const std::size_t hi = lo + static_cast<std::size_t>(Ts[q]);
            const std::size_t k = mine_in(lo, hi);
            re[q] = k * 8;
            n_mine += k;
            lo = hi;
        }
        std::vector<std::uint64_t> result(n_mine);
        o.share.alltoallv(routed.data(), se, result.data(), re);
        return result;
    }

    // Batch bi's slots: the heads and tails of every process's chunks, all-gathered (in-batch negatives read any
    // slot; uniform ones only the own chunks' slots, so then nothing travels).
    void dist_slots(std::size_t bi, std::uint32_t* sp) {
        const std::size_t b = batch_heads(bi), pc = per_chunk(bi), nc = n_chunks_of(bi);
        const std::size_t h_me = heads_of(me, bi);
        require(mine_at + h_me <= mine.size(), "edge batch plan: this process's chunks ran out of edges");
        const std::uint64_t* e = mine.data() + mine_at;
        mine_at += h_me;
        if (uniform) {
            for (std::size_t c = me, t = 0; c < nc; c += R)
                for (std::size_t h = c * pc; h < std::min(b, (c + 1) * pc); ++h, ++t) {
                    sp[h] = static_cast<std::uint32_t>(e[t] >> 32);
                    sp[b + h] = static_cast<std::uint32_t>(e[t]);
                }
            return;
        }
        std::vector<std::uint32_t>& send = slots_out;
        send.resize(2 * h_me);
        for (std::size_t t = 0; t < h_me; ++t) {
            send[t] = static_cast<std::uint32_t>(e[t] >> 32);
            send[h_me + t] = static_cast<std::uint32_t>(e[t]);
        }
        std::vector<std::size_t> counts(R);
        for (std::size_t q = 0; q < R; ++q) counts[q] = 2 * heads_of(q, bi) * 4;
        gx.resize(2 * b * 4);
        o.share.allgatherv(send.data(), send.size() * 4, gx.data(), counts);
        const auto* in = reinterpret_cast<const std::uint32_t*>(gx.data());
        for (std::size_t q = 0; q < R; ++q) {
            const std::size_t hq = heads_of(q, bi);
            std::size_t t = 0;
            for (std::size_t c = q; c < nc; c += R)
                for (std::size_t h = c * pc; h < std::min(b, (c + 1) * pc); ++h, ++t) {
                    sp[h] = in[t];
                    sp[b + h] = in[hq + t];
                }
            in += 2 * hq;
        }
    }

    // In-batch negatives: the batch's fixed-point sums per slot go to the slot's owner (the process running the
    // slot's chunk), which adds them (integers: exact in any order), clips and steps its slots (y − lr·g, fused SGD)
    // or clips them (g, for the optimizer's step) with finish_coordinates, from the Y every process holds; then the
    // results, the chunk losses and nce's dlog Z are all-gathered. A point in several slots gets the same total in
    // each (every process sends its whole sum for the point once per slot), so every copy carries the same result,
    // which is what one process computes (its later slots of the point add zero). y (fused SGD) or G is written.
    void dist_reduce_slots(std::size_t bi, const std::uint32_t* sp, double lr, double clip, double* y, double* G) {
        const std::size_t b = batch_heads(bi), pc = per_chunk(bi), nc = n_chunks_of(bi);
        std::int64_t* a0 = acc[0].data();
        for (std::size_t q = 0; q < 2 * b; ++q) {  // serial: a point in two slots must not be added twice
            const std::size_t p = static_cast<std::size_t>(sp[q]) * d;
            for (std::size_t w = 1; w < n_acc; ++w)
                for (std::size_t k = 0; k < d; ++k) {
                    a0[p + k] += acc[w][p + k];
                    acc[w][p + k] = 0;
                }
        }
        // Slot layout of process q's part: per chunk c ≡ q (ascending) its heads' slots, then the same for tails.
        auto for_slots = [&](std::size_t q, auto&& f) {
            for (std::size_t c = q; c < nc; c += R)
                for (std::size_t h = c * pc; h < std::min(b, (c + 1) * pc); ++h) f(h);
            for (std::size_t c = q; c < nc; c += R)
                for (std::size_t h = c * pc; h < std::min(b, (c + 1) * pc); ++h) f(b + h);
        };
        // To each process q its slots' sums from this process, sparse: a mask of q's slots (bit set: this process's
        // sum for the slot's point is not zero), then the non-zero sums. Another process's slots are mostly reached
        // here only by this process's negatives (m per head of its b/R heads over the 2b slots), so about
        // e^(−m/(2R)) of them are zero: 0.29 at m = 5, R = 2; 0.54 at R = 4. First each segment's length (one word
        // per process), then the segments.
        std::vector<std::size_t> sc(R), rc(R);
        std::vector<std::uint64_t> seg(R), lens(R);
        tx.clear();
        tx.reserve(2 * b * d + 2 * b / 64 + R);
        for (std::size_t q = 0; q < R; ++q) {
            const std::size_t at = tx.size(), n_words = (2 * heads_of(q, bi) + 63) / 64;
            tx.resize(at + n_words, 0);
            std::size_t k = 0;
            for_slots(q, [&](std::size_t slot) {
                const std::int64_t* v = a0 + static_cast<std::size_t>(sp[slot]) * d;
                if (std::any_of(v, v + d, [](std::int64_t x) { return x != 0; })) {
                    tx[at + k / 64] |= static_cast<std::int64_t>(std::uint64_t{1} << (k % 64));
                    tx.insert(tx.end(), v, v + d);
                }
                ++k;
            });
            seg[q] = tx.size() - at;
        }
        for (std::size_t q = 0; q < 2 * b; ++q) std::fill_n(a0 + static_cast<std::size_t>(sp[q]) * d, d, 0);
        o.share.alltoallv(seg.data(), std::vector<std::size_t>(R, 8), lens.data(), std::vector<std::size_t>(R, 8));
        std::size_t total_rx = 0;
        for (std::size_t q = 0; q < R; ++q) {
            sc[q] = static_cast<std::size_t>(seg[q]) * 8;
            rc[q] = static_cast<std::size_t>(lens[q]) * 8;
            total_rx += static_cast<std::size_t>(lens[q]);
        }
        rx.resize(total_rx);
        o.share.alltoallv(tx.data(), sc, rx.data(), rc);
        const std::size_t mine_slots = 2 * heads_of(me, bi), mine_n = mine_slots * d, my_words = (mine_slots + 63) / 64;
        tot.assign(mine_n, 0);
        for (std::size_t q = 0, at = 0; q < R; at += static_cast<std::size_t>(lens[q]), ++q) {
            const std::int64_t* mask = rx.data() + at;
            const std::int64_t* v = mask + my_words;
            for (std::size_t k = 0; k < mine_slots; ++k)
                if ((static_cast<std::uint64_t>(mask[k / 64]) >> (k % 64)) & 1u) {
                    for (std::size_t c = 0; c < d; ++c) tot[k * d + c] += v[c];
                    v += d;
                }
        }
        // The results of my slots: [mine_n doubles][my chunks' losses][nce: my heads' dlog Z]
        const bool nce = !head_dlogz.empty();
        auto msg_doubles = [&](std::size_t q) {
            return 2 * heads_of(q, bi) * d + chunks_of(q, bi) + (nce ? heads_of(q, bi) : 0);
        };
        res.assign(msg_doubles(me), 0.0);
        if (y) {
            std::size_t j = 0;
            for_slots(me, [&](std::size_t slot) {
                std::copy_n(y + static_cast<std::size_t>(sp[slot]) * d, d, res.data() + j);
                j += d;
            });
        }
        std::int64_t* tot_ptr = tot.data();
        // res is a compact copy of my slots; the float copy of Y follows when the results are received below
        finish_coordinates(&tot_ptr, 1, 0, mine_n, fx, clip, lr, y ? res.data() : nullptr, nullptr,
                           y ? nullptr : res.data());
        {
            std::size_t j = mine_n;
            for (std::size_t c = me; c < nc; c += R) res[j++] = chunk_loss[c];
            if (nce)
                for (std::size_t c = me; c < nc; c += R)
                    for (std::size_t h = c * pc; h < std::min(b, (c + 1) * pc); ++h) res[j++] = head_dlogz[h];
        }
        std::vector<std::size_t> counts(R);
        std::size_t all_n = 0;
        for (std::size_t q = 0; q < R; ++q) {
            counts[q] = msg_doubles(q) * 8;
            all_n += msg_doubles(q);
        }
        grx.resize(all_n * 8);
        o.share.allgatherv(res.data(), res.size() * 8, grx.data(), counts);
        const auto* in = reinterpret_cast<const double*>(grx.data());
        double* target = y ? y : G;
        for (std::size_t q = 0; q < R; ++q) {
            for_slots(q, [&](std::size_t slot) {
                const std::size_t p = static_cast<std::size_t>(sp[slot]) * d;
                std::copy_n(in, d, target + p);
                if (y)  // the fused kernels read the float copy in the next batch
                    for (std::size_t k = 0; k < d; ++k) yf[p + k] = static_cast<float>(y[p + k]);
                in += d;
            });
            for (std::size_t c = q; c < nc; c += R) chunk_loss[c] = *in++;
            if (nce)
                for (std::size_t c = q; c < nc; c += R)
                    for (std::size_t h = c * pc; h < std::min(b, (c + 1) * pc); ++h) head_dlogz[h] = *in++;
        }
    }

    // Uniform negatives reach any point: the workers' accumulators are added into acc[0] and summed over the
    // processes (n·d integers), and so are the chunk losses and the heads' dlog Z (bit patterns: the process that
    // ran a chunk holds its values, the others 0, so the sum is exact); every process then finishes every point.
    void dist_reduce_all(const Shape& sh, std::vector<std::int64_t>& bits, int n_threads) {
        std::int64_t* a0 = acc[0].data();
        if (n_acc > 1)
            parallelize(n_threads, n * d, [&](int, std::size_t i0, std::size_t i1) {
                for (std::size_t w = 1; w < n_acc; ++w)
                    for (std::size_t i = i0; i < i1; ++i) {
                        a0[i] += acc[w][i];
                        acc[w][i] = 0;
                    }
            });
        o.share.sum(a0, n * d);
        const std::size_t nh = head_dlogz.empty() ? 0 : sh.b;
        bits.assign(sh.n_chunks + nh, 0);
        for (std::size_t c = me; c < sh.n_chunks; c += R) {
            std::memcpy(&bits[c], &chunk_loss[c], sizeof(double));
            for (std::size_t h = c * sh.per_chunk; h < std::min(nh, (c + 1) * sh.per_chunk); ++h)
                std::memcpy(&bits[sh.n_chunks + h], &head_dlogz[h], sizeof(double));
        }
        o.share.sum(bits.data(), bits.size());
        for (std::size_t c = 0; c < sh.n_chunks; ++c) std::memcpy(&chunk_loss[c], &bits[c], sizeof(double));
        for (std::size_t h = 0; h < nh; ++h) std::memcpy(&head_dlogz[h], &bits[sh.n_chunks + h], sizeof(double));
    }

    // A network (any parametrisation but the table): positions per distinct point of the batch.
    std::vector<index_t> batch_points;               // distinct point → point, first-occurrence order
    std::vector<std::uint32_t> slot_ids;             // slot → its distinct point: the chunks address these
    std::vector<std::uint32_t> point_slot;           // point → its distinct index in this batch (none: ~0)
    std::vector<double> Yb, dYb;                     // the batch's positions and dL/dY, per distinct point
    std::vector<float> Ybf;                          // Yb rounded to float (the fused kernels' positions)
    std::vector<std::vector<std::int64_t>> slot_acc;  // per worker, fixed-point sums per distinct point
    // nce: log Z's step after a batch, from the per-head ∂ℓ/∂log Z summed in head order (clipped like the points).
    void step_log_Z(const Shape& sh) {
        if (!has_nce) return;
        double dlogz = 0;
        for (std::size_t h = 0; h < sh.b; ++h) dlogz += head_dlogz[h];  // head order
        if (o.clip) dlogz = std::clamp(dlogz, -*o.clip, *o.clip);
        z_opt->step(&log_Z, &dlogz, 1, o.log_Z_learning_rate, 1);
        for (auto& t : losses)
            if (t.params.mode == ContrastiveMode::nce) t.params.log_Z = log_Z;
    }
    double network_batch(Parametrization& params, Optimizer& optimizer, std::size_t bi, std::int64_t epoch,
                         const std::uint32_t* sp, const Shape& sh, std::size_t full_n_chunks, double lr,
                         int n_threads, std::size_t slice);
};

// One batch through a network: forward the batch's distinct points once each (a point in several slots — on
// average 2b slots hold about 0.6·2b distinct points of cne's 70 000-point graph at b = 2^15 — is evaluated once:
// cne's model(images) evaluates it per slot; the outputs are the same, the network's gradient is linear in the
// per-row dL/dY), the same chunks of loss and gradient as the table path with distinct points in place of points,
// the per-point gradient summed in fixed point (no clip: cne clips the parameters' gradients, which for a network
// are its weights — the parametrisation's step does that), backward, one optimizer step. The distinct points are
// numbered in slot order, so the rows and the bits do not depend on the thread count.
double EdgeBatchPlan::Impl::network_batch(Parametrization& params, Optimizer& optimizer, std::size_t bi,
                                          std::int64_t epoch, const std::uint32_t* sp, const Shape& sh,
                                          std::size_t full_n_chunks, double lr, int n_threads, std::size_t slice) {
    const std::size_t tb = sh.two_b;
    constexpr std::uint32_t none = ~std::uint32_t{0};
    if (point_slot.size() != n) point_slot.assign(n, none);
    batch_points.clear();
    slot_ids.resize(tb);
    for (std::size_t q = 0; q < tb; ++q) {
        std::uint32_t& u = point_slot[sp[q]];
        if (u == none) {
            u = static_cast<std::uint32_t>(batch_points.size());
            batch_points.push_back(static_cast<index_t>(sp[q]));
        }
        slot_ids[q] = u;
    }
    for (index_t p : batch_points) point_slot[static_cast<std::size_t>(p)] = none;
    const std::size_t nu = batch_points.size();
    Yb.resize(nu * d);
    params.forward(batch_points, Yb.data());
    require(std::all_of(Yb.begin(), Yb.end(), [](double v) { return std::isfinite(v); }),
            "the network's output became non-finite at epoch " + std::to_string(epoch) +
                " (try a smaller learning rate)");
    Ybf.resize(nu * d);
    std::transform(Yb.begin(), Yb.end(), Ybf.begin(), [](double v) { return static_cast<float>(v); });
    if (slot_acc.size() != n_workers || slot_acc[0].size() != two_b * d)
        slot_acc.assign(n_workers, std::vector<std::int64_t>(two_b * d, 0));
    std::atomic<std::size_t> next_chunk{0};
    std::atomic<bool> slice_taken{false};
    parallelize(n_threads, n_workers, [&](int w, std::size_t, std::size_t) {
        if (!slice_taken.exchange(true, std::memory_order_relaxed)) {  // a slice of the next epoch's order
            if (bi == 0) order.restart(streams_of(epoch + 1));
            run_order(slice);
        }
        auto& sc = scratch[static_cast<std::size_t>(w)];
        std::int64_t* a = slot_acc[static_cast<std::size_t>(w)].data();
        for (std::size_t c; (c = next_chunk.fetch_add(1, std::memory_order_relaxed)) < sh.n_chunks;)
            run_chunk(sc, a, c, bi, epoch, slot_ids.data(), sh, full_n_chunks, Yb.data(), Ybf.data());
    });
    dYb.resize(nu * d);
    parallelize(n_threads, nu * d, [&](int, std::size_t i0, std::size_t i1) {
        for (std::size_t i = i0; i < i1; ++i) {
            std::int64_t sum = 0;
            for (auto& acc_w : slot_acc) {
                sum += acc_w[i];
                acc_w[i] = 0;
            }
            dYb[i] = fx.to_double(sum);
        }
    });
    params.backward(batch_points, dYb.data());
    params.step(optimizer, lr, n_threads);
    double loss = 0;
    for (std::size_t c = 0; c < sh.n_chunks; ++c) loss += chunk_loss[c];
    return loss;
}

EdgeBatchPlan::EdgeBatchPlan(const CsrMatrix<double>& graph, const ContrastiveLossParams& loss,
                             EdgeBatchOptions options, std::size_t n_components)
    : EdgeBatchPlan(graph, std::vector<WeightedContrastiveLoss>{{1.0, loss}}, std::move(options), n_components) {}

EdgeBatchPlan::EdgeBatchPlan(const CsrMatrix<double>& graph, std::vector<WeightedContrastiveLoss> losses,
                             EdgeBatchOptions options, std::size_t n_components)
    : impl_(std::make_unique<Impl>()) {
    Impl& s = *impl_;
    graph.validate("edge batch plan: graph");
    require(graph.n_rows == graph.n_cols, "edge batch plan: the graph must be square");
    const std::size_t n = graph.n_rows, d = n_components;
    require(n >= 2, "edge batch plan: needs at least 2 points");
    require(n <= 0xffffffffu, "edge batch plan: at most 2^32 - 1 points (point indices in a batch are 32-bit)");
    require(d >= 1, "edge batch plan: n_components must be >= 1");
    require(!losses.empty(), "edge batch plan: no loss");
    require(options.batch_size >= 1, "edge batch plan: batch_size must be >= 1");
    require(options.negative_samples == -1 || options.negative_samples >= 1,
            "edge batch plan: negative_samples must be >= 1, or -1 for full-batch repulsion");
    require(!options.clip || (!std::isnan(*options.clip) && *options.clip > 0),
            "edge batch plan: clip must be positive");
    require(std::isfinite(options.log_Z_learning_rate) && options.log_Z_learning_rate >= 0,
            "edge batch plan: log_Z_learning_rate must be >= 0");
    require(!options.share.sum || (options.share.ranks >= 1 && options.share.rank >= 0 &&
                                   options.share.rank < options.share.ranks && options.share.alltoallv &&
                                   options.share.allgatherv),
            "edge batch plan: the share needs its rank in [0, ranks) and the sum, alltoallv and allgatherv calls");
    require(!options.share.sum || !options.exclude_neighbors,
            "edge batch plan: exclude_neighbors is not distributed (the heads' neighbour lists are spread over the "
            "processes)");
    s.uniform = options.sampling == NegativeSampling::uniform;
    require(!s.uniform || options.negative_samples >= 1,
            "edge batch plan: full-batch repulsion (negative_samples -1) needs in-batch sampling");
    require(s.uniform || !options.exclude_neighbors,
            "edge batch plan: exclude_neighbors needs uniform sampling (in-batch negatives are other edges' ends)");
    s.n = n;
    s.d = d;

    // The directed edges: the graph's non-zeros off the diagonal (distributed: this process's rows).
    std::vector<std::size_t> degree(n, 0);
    bool negative = false;
    std::size_t first_row = n, last_row = 0;
    for (std::size_t i = 0; i < n; ++i)
        for (offset_t p = graph.indptr[i]; p < graph.indptr[i + 1]; ++p) {
            negative |= !(graph.values[p] >= 0);
            if (!(graph.values[p] > 0) || static_cast<std::size_t>(graph.indices[p]) == i) continue;
            s.edges.push_back((static_cast<std::uint64_t>(i) << 32) | static_cast<std::uint32_t>(graph.indices[p]));
            ++degree[i];
            first_row = std::min(first_row, i);
            last_row = i;
        }
    s.n_edges = s.edges.size();
    s.dist = static_cast<bool>(options.share.sum);
    if (s.dist) {
        // Every process learns every process's edge count and row range (a bad graph on one process fails on all
        // of them: no process may be left waiting in a later collective).
        const std::size_t R = static_cast<std::size_t>(options.share.ranks);
        const std::uint64_t info[4] = {s.n_edges, negative ? 1u : 0u, first_row, last_row};
        std::vector<std::uint64_t> all(4 * R);
        options.share.allgatherv(info, sizeof info, all.data(), std::vector<std::size_t>(R, sizeof info));
        s.R = R;
        s.me = static_cast<std::size_t>(options.share.rank);
        s.n_edges = 0;
        std::size_t prev_last = 0;
        bool any_before = false, ordered = true;
        for (std::size_t q = 0; q < R; ++q) {
            if (q == s.me) s.e0 = s.n_edges;
            s.n_edges += static_cast<std::size_t>(all[4 * q]);
            negative |= all[4 * q + 1] != 0;
            if (all[4 * q] == 0) continue;
            ordered &= !any_before || all[4 * q + 2] > prev_last;
            prev_last = static_cast<std::size_t>(all[4 * q + 3]);
            any_before = true;
        }
        require(ordered, "edge batch plan: each process must hold its own graph rows, after the lower processes' rows");
    }
    require(!negative, "edge batch plan: negative weight in the graph");
    require(s.n_edges >= 1, "edge batch plan: the graph has no edges");
    if (options.exclude_neighbors) {  // per head its tails, sorted (CSR rows need not be)
        s.nbr_off.assign(n + 1, 0);
        for (std::size_t i = 0; i < n; ++i) s.nbr_off[i + 1] = s.nbr_off[i] + degree[i];
        s.nbr.resize(s.n_edges);
        for (std::size_t e = 0; e < s.n_edges; ++e) s.nbr[e] = static_cast<std::uint32_t>(s.edges[e]);  // CSR order
        for (std::size_t i = 0; i < n; ++i) {
            const auto first = s.nbr.begin() + static_cast<std::ptrdiff_t>(s.nbr_off[i]);
            const auto last = s.nbr.begin() + static_cast<std::ptrdiff_t>(s.nbr_off[i + 1]);
            std::sort(first, last);
            const std::size_t distinct =
                first == last ? 0 : 1 + static_cast<std::size_t>(std::count_if(first + 1, last, [&](const auto& v) {
                    return v != *(&v - 1);
                }));
            require_lazy(distinct + 1 < n, [i] {
                return "edge batch plan: point " + std::to_string(i) +
                       " is linked to every other point, so exclude_neighbors leaves it no negative";
            });
        }
    }

    s.B = std::min(options.batch_size, s.n_edges);
    // cne keeps the last partial batch (its loader's drop_last is False): B_last edges, at most m negatives per head
    s.n_batches = (s.n_edges + s.B - 1) / s.B;
    s.B_last = s.n_edges - (s.n_batches - 1) * s.B;
    s.two_b = 2 * s.B;
    require(s.two_b < (std::size_t(1) << 32), "edge batch plan: batch_size must be below 2^31 (slots are 32-bit)");
    s.full_batch = !s.uniform && (options.negative_samples < 0 ||
                                  static_cast<std::size_t>(options.negative_samples) + 2 >= s.two_b);
    s.m = s.full_batch ? (s.two_b >= 2 ? s.two_b - 2 : 0) : static_cast<std::size_t>(options.negative_samples);
    require(s.m >= 1, "edge batch plan: a batch of " + std::to_string(s.B) + " edges leaves no negative samples");
    require(static_cast<double>(s.B) * static_cast<double>(s.m + 2) * static_cast<double>(d) <= 4e8,
            "edge batch plan: full-batch repulsion with batch_size " + std::to_string(s.B) +
                " needs too much memory; use fewer negative_samples or a smaller batch_size");

    s.single = losses.size() == 1 && losses[0].weight == 1.0;
    bool first_nce = true;
    for (auto& t : losses) {
        require(std::isfinite(t.weight), "edge batch plan: a loss weight is not finite");
        t.params.nce_m = s.m;
        validate(t.params);
        s.base_spec.push_back(t.params.spec);
        if (t.params.mode == ContrastiveMode::nce) {
            if (first_nce) s.log_Z = t.params.log_Z;
            first_nce = false;
            s.has_nce = true;
        }
    }
    if (!s.has_nce) s.log_Z = losses[0].params.log_Z;
    s.losses = std::move(losses);
    s.o = std::move(options);
    if (s.has_nce) {
        OptimizerOptions zo = s.o.log_Z_optimizer;
        zo.row_size = 1;
        s.z_opt = make_optimizer(zo);
    }

    const Shape full = s.shape_of(s.B);
    s.fx = detail::FixedPoint(static_cast<double>(s.B) * static_cast<double>(full.per_head));
    s.chunk_loss.resize(full.n_chunks);
    s.head_dlogz.resize(s.has_nce ? s.B : 0);
    if (s.dist) {
        // The single-process shuffle's bucket layout for all n_edges elements.
        const detail::BucketShuffle::Layout layout = detail::BucketShuffle::layout(s.n_edges);
        s.n_buckets = layout.n_buckets;
        s.bucket_shift = layout.shift;
        const Shape last = s.shape_of(s.B_last);
        s.pc_full = full.per_chunk;
        s.nc_full = full.n_chunks;
        s.pc_last = last.per_chunk;
        s.nc_last = last.n_chunks;
        s.slots.resize(s.two_b);  // one batch at a time
    } else {
        s.slots.resize(s.n_batches * s.two_b);
        s.next_slots.resize(s.n_batches * s.two_b);
        s.order = detail::BucketShuffle(s.edges, s.B, s.o.seed, streams_of(0));
    }
    s.order_epoch = 0;
}

EdgeBatchPlan::~EdgeBatchPlan() = default;

std::vector<std::uint64_t> EdgeBatchPlan::epoch_edges(std::int64_t epoch, int n_threads) {
    Impl& s = *impl_;
    if (s.dist) return s.dist_order(epoch, std::max(1, n_threads));
    std::vector<std::uint64_t> out(s.n_edges);
    detail::BucketShuffle order(s.edges, s.B, s.o.seed, streams_of(epoch));
    order.run(std::numeric_limits<std::size_t>::max(), out);
    return out;
}

std::size_t EdgeBatchPlan::n_points() const { return impl_->n; }
std::size_t EdgeBatchPlan::n_edges() const { return impl_->n_edges; }
std::size_t EdgeBatchPlan::batch_size() const { return impl_->B; }
std::size_t EdgeBatchPlan::negatives() const { return impl_->m; }
double EdgeBatchPlan::log_Z() const { return impl_->log_Z; }
const std::vector<WeightedContrastiveLoss>& EdgeBatchPlan::losses() const { return impl_->losses; }
void EdgeBatchPlan::set_spec(std::size_t term, double spec) {
    require(term < impl_->losses.size(), "edge batch plan: no loss term " + std::to_string(term));
    require(std::isfinite(spec) && spec > 0, "edge batch plan: the spectrum parameter must be positive");
    impl_->base_spec[term] = spec;
    impl_->losses[term].params.spec = spec;
}

// Chunk c of batch bi: every head's points (negatives drawn), loss and gradient contributions, added to the
// worker's accumulator a. Y (the general loss) and Yf (its float copy: the fused kernels) are read only.
void EdgeBatchPlan::Impl::run_chunk(ChunkScratch& sc, std::int64_t* a, std::size_t c, std::size_t bi,
                                    std::int64_t epoch, const std::uint32_t* sp, const Shape& sh,
                                    std::size_t full_n_chunks, const double* Y, const float* Yf) {
    const std::size_t b = sh.b, tb = sh.two_b, mm = sh.m, per_head = sh.per_head;
    const FusedChunkFn fused = sh.fused;
    const std::size_t h0 = c * sh.per_chunk, h1 = std::min(b, h0 + sh.per_chunk);
    const ContrastiveLossParams& lp = losses[0].params;
    sc.pts.resize((h1 - h0) * per_head);
    if (!fused) {
        sc.others.resize(mm + 1);
        sc.gout.resize(mm + 1);
    }
    std::uint32_t* chunk_pts = sc.pts.data();
    const std::uint64_t stream = sampling_stream(SamplingFamily::cne_negatives, static_cast<std::uint64_t>(epoch),
                                                 bi * full_n_chunks + c);
    if (sh.all) {
        for (std::size_t h = h0; h < h1; ++h) {
            std::uint32_t* pts = chunk_pts + (h - h0) * per_head;
            pts[0] = sp[h];
            pts[1] = sp[b + h];
            std::size_t t2 = 2;
            for (std::size_t s = 0; s < tb; ++s)
                if (s != h && s != b + h) pts[t2++] = sp[s];
        }
    } else if (uniform) {
        UniformSampler sampler(o.seed, stream, n);
        for (std::size_t h = h0; h < h1; ++h) {
            std::uint32_t* pts = chunk_pts + (h - h0) * per_head;
            pts[0] = sp[h];
            pts[1] = sp[b + h];
            std::span<const std::uint32_t> excl;
            if (!nbr_off.empty()) excl = {nbr.data() + nbr_off[pts[0]], nbr_off[pts[0] + 1] - nbr_off[pts[0]]};
            for (std::size_t t2 = 0; t2 < mm; ++t2) pts[2 + t2] = static_cast<std::uint32_t>(sampler.draw(pts[0], excl));
        }
    } else {
        // First every negative's slot (drawn from the chunk's stream, its slot entry prefetched), then slot →
        // point: the random reads of `slots` then overlap instead of stalling one after another.
        InBatchSampler sampler(o.seed, stream, tb);
        auto draw_slots = [&]<unsigned Bits>() {  // the width a constant in the loop (InBatchSampler::draw_as)
            for (std::size_t h = h0; h < h1; ++h) {
                std::uint32_t* pts = chunk_pts + (h - h0) * per_head;
                pts[0] = sp[h];
                pts[1] = sp[b + h];
                for (std::size_t t2 = 0; t2 < mm; ++t2) {
                    const std::size_t s = sampler.template draw_as<Bits>(h);
                    __builtin_prefetch(sp + s);
                    pts[2 + t2] = static_cast<std::uint32_t>(s);
                }
            }
        };
        if (sampler.bits() == 16)
            draw_slots.template operator()<16>();
        else
            draw_slots.template operator()<32>();
        for (std::size_t h = h0; h < h1; ++h) {
            std::uint32_t* pts = chunk_pts + (h - h0) * per_head;
            for (std::size_t t2 = 0; t2 < mm; ++t2) pts[2 + t2] = sp[pts[2 + t2]];
        }
    }
    HeadLoss acc_loss;
    const std::size_t n_entries = (h1 - h0) * per_head;
    auto row = [&](std::uint32_t p) { return Y + std::size_t(p) * d; };
    if (fused && !shared_acc) {
        // The kernel adds each block's contributions into this worker's accumulator while the block's points are
        // in cache (a scatter after the chunk would miss on most of them).
        double* dlogz = head_dlogz.empty() ? nullptr : head_dlogz.data() + h0;
        const detail::FusedSink sink{a, &fx};
        fused(detail::fused_params(lp), Yf, chunk_pts, h1 - h0, mm + 1, nullptr, &sink, dlogz, acc_loss, sc.kernel);
        chunk_loss[c] = detail::head_loss_total(lp, acc_loss);
        return;
    }
    sc.g.resize(n_entries * d);
    if (fused) {
        double* dlogz = head_dlogz.empty() ? nullptr : head_dlogz.data() + h0;
        fused(detail::fused_params(lp), Yf, chunk_pts, h1 - h0, mm + 1, sc.g.data(), nullptr, dlogz, acc_loss,
              sc.kernel);
    } else {
        constexpr std::size_t ahead = 4;  // heads whose positions are prefetched
        for (std::size_t h = h0; h < h1; ++h) {
            const std::uint32_t* pts = chunk_pts + (h - h0) * per_head;
            double* g = sc.g.data() + (h - h0) * per_head * d;
            if (h + ahead < h1 && !sh.all)
                for (std::size_t t2 = 0; t2 < per_head; ++t2) __builtin_prefetch(row(pts[ahead * per_head + t2]));
            double dz = 0;
            std::fill(g, g + per_head * d, 0.0);
            for (std::size_t t2 = 0; t2 <= mm; ++t2) {
                sc.others[t2] = row(pts[1 + t2]);
                sc.gout[t2] = g + (1 + t2) * d;
            }
            if (single)
                acc_loss.sum +=
                    contrastive_head_loss(lp, d, row(pts[0]), sc.others.data(), mm + 1, g, sc.gout.data(), &dz);
            else
                acc_loss.sum +=
                    contrastive_loss_sum(losses, d, row(pts[0]), sc.others.data(), mm + 1, g, sc.gout.data(), &dz);
            if (!head_dlogz.empty()) head_dlogz[h] = dz;
        }
    }
    // The chunk's contributions into the worker's accumulator: independent random additions in one tight loop
    // (interleaved with the kernels they would wait on each other).
    const double* g = sc.g.data();
    constexpr std::size_t ahead_acc = 48;
    if (shared_acc) {
        for (std::size_t e = 0; e < n_entries; ++e) {
            std::int64_t* ap = a + std::size_t(chunk_pts[e]) * d;
            for (std::size_t k = 0; k < d; ++k)
                std::atomic_ref<std::int64_t>(ap[k]).fetch_add(fx.to_fixed(g[e * d + k]), std::memory_order_relaxed);
        }
    } else if (d == 2) {
        for (std::size_t e = 0; e < n_entries; ++e) {
            if (e + ahead_acc < n_entries) __builtin_prefetch(a + std::size_t(chunk_pts[e + ahead_acc]) * 2, 1);
            fx.add_fixed2(a + std::size_t(chunk_pts[e]) * 2, g + 2 * e);
        }
    } else {
        for (std::size_t e = 0; e < n_entries; ++e) {
            std::int64_t* ap = a + std::size_t(chunk_pts[e]) * d;
            for (std::size_t k = 0; k < d; ++k) ap[k] += fx.to_fixed(g[e * d + k]);
        }
    }
    chunk_loss[c] = detail::head_loss_total(lp, acc_loss);
}

double EdgeBatchPlan::step(Parametrization& params, Optimizer& optimizer, const StepContext& ctx) {
    Impl& s = *impl_;
    EmbeddingTable* table = params.table();
    if (!table) {
        require(params.n_points() == s.n && params.n_components() == s.d,
                "edge batch plan: the parametrisation maps " + std::to_string(params.n_points()) + " points to " +
                    std::to_string(params.n_components()) + " dimensions, the plan was made for " +
                    std::to_string(s.n) + " x " + std::to_string(s.d));
        require(!s.uniform, "edge batch plan: uniform negative sampling with a network parametrisation is not "
                            "built (the network path forwards the batch's slots; use in-batch negatives)");
        require(!s.o.share.sum, "edge batch plan: a distributed run trains an embedding table only, not a network");
    }
    Matrix<double> no_table;
    Matrix<double>& Y = table ? table->Y() : no_table;
    require(!table || (Y.rows() == s.n && Y.cols() == s.d),
            "edge batch plan: the embedding is " + std::to_string(Y.rows()) + " x " + std::to_string(Y.cols()) +
                ", the plan was made for " + std::to_string(s.n) + " x " + std::to_string(s.d));
    const std::int64_t epoch = ctx.step;
    const int n_threads = std::max(1, ctx.n_threads);
    const double lr = ctx.learning_rate;
    const std::size_t n = s.n, d = s.d, n_batches = s.n_batches;
    s.set_workers(n_threads);

    // The phase's coefficients and spectrum on every term; log Z shared by the nce terms.
    for (std::size_t i = 0; i < s.losses.size(); ++i) {
        ContrastiveLossParams& lp = s.losses[i].params;
        lp.spec = ctx.phase && ctx.phase->loss_spec ? *ctx.phase->loss_spec : s.base_spec[i];
        lp.exaggeration = ctx.phase ? ctx.phase->exaggeration : 1.0;
        lp.repulsion_strength = ctx.phase ? ctx.phase->repulsion_strength : 1.0;
        if (lp.mode == ContrastiveMode::nce) lp.log_Z = s.log_Z;
    }
    const Shape full_shape = s.shape_of(s.B), last_shape = s.shape_of(s.B_last);
    if (table) s.refresh_yf(Y.data(), n_threads);  // Y may have been set between steps

    // SGD without momentum and weight decay is p ← p − lr·g: applied per point right after its gradient is complete
    // (the same arithmetic as Sgd::step). Otherwise the table's gradient G takes the clipped batch gradient and the
    // optimizer steps over it (EmbeddingTable::step, which clears it again).
    const auto* sgd = dynamic_cast<const Sgd*>(&optimizer);
    const bool fused_sgd = table && sgd && sgd->options().momentum == 0.0 && sgd->options().weight_decay == 0.0;
    std::vector<double> no_grad;
    std::vector<double>& G = table ? table->grad() : no_grad;
    if (table && !fused_sgd) G.assign(n * d, 0.0);
    const double clip_at = s.o.clip ? *s.o.clip : std::numeric_limits<double>::infinity();
    const bool distributed = s.dist;
    auto finish = [&](std::size_t i0, std::size_t i1) {
        // distributed (uniform negatives): the workers' sums are in acc[0] already (summed over the processes)
        finish_coordinates(s.acc_ptr.data(), distributed ? 1 : s.n_acc, i0, i1, s.fx, clip_at, lr,
                           fused_sgd ? Y.data() : nullptr, s.yf.data(), G.data());
    };
    std::vector<std::int64_t> bits;  // distributed, uniform negatives: the chunk losses and dlog Z as bit patterns
    const std::size_t n_ranks = s.R, my_rank = s.me;
    const std::uint64_t owner_mul = s.owner_mul;
    auto owner = [owner_mul](std::uint32_t p) { return static_cast<std::size_t>((p * owner_mul) >> 32); };

    // The epoch's order: the edges cut into batches (bucket_shuffle.hpp) by streams of its own, written into
    // next_slots. It is normally made in slices during the previous epoch's batches (each batch, the first worker
    // free takes one slice and then joins the chunks), which read `slots`. Distributed: made at the start of the
    // epoch by every process together (its collectives cannot run inside the workers).
    constexpr std::size_t all = std::numeric_limits<std::size_t>::max();
    const std::size_t slice = (3 * s.n_edges + n_batches - 1) / n_batches;  // work units per batch (< 3 per edge)
    if (distributed) {
        if (s.mine_epoch != epoch) {
            s.mine = {};
            s.mine = s.dist_order(epoch, n_threads);
            s.mine_epoch = epoch;
        }
        s.mine_at = 0;
    } else {
        if (s.order_epoch != epoch) {  // not prepared by the previous step (a plan restarted at another step)
            s.order.restart(streams_of(epoch));
            s.order_epoch = epoch;
        }
        s.run_order(all);
        s.slots.swap(s.next_slots);
    }

    double epoch_loss = 0;
    for (std::size_t bi = 0; bi < n_batches; ++bi) {
        std::uint32_t* sp = s.slots.data() + (distributed ? 0 : bi * s.two_b);
        const Shape& sh = bi + 1 == n_batches ? last_shape : full_shape;
        for (auto& t : s.losses) t.params.nce_m = std::max<std::size_t>(sh.m, 1);  // cne: the batch's negatives
        if (!table) {
            epoch_loss += s.network_batch(params, optimizer, bi, epoch, sp, sh, full_shape.n_chunks, lr, n_threads,
                                          slice);
            if (bi == 0) s.order_epoch = epoch + 1;
            s.step_log_Z(sh);
            continue;
        }
        if (distributed) s.dist_slots(bi, sp);
        // Chunks are handed out one at a time: a chunk's output does not depend on which worker runs it, and
        // cores of a shared machine run at unequal speeds.
        std::atomic<std::size_t> next_chunk{0};
        std::atomic<bool> slice_taken{distributed};
        parallelize(n_threads, s.n_workers, [&](int w, std::size_t, std::size_t) {
            if (!slice_taken.exchange(true, std::memory_order_relaxed)) {  // a slice of the next epoch's order
                if (bi == 0) s.order.restart(streams_of(epoch + 1));
                s.run_order(slice);
            }
            auto& sc = s.scratch[static_cast<std::size_t>(w)];
            std::int64_t* a = s.acc[static_cast<std::size_t>(w) % s.n_acc].data();
            for (std::size_t c; (c = next_chunk.fetch_add(1, std::memory_order_relaxed)) < sh.n_chunks;)
                if (!distributed || c % n_ranks == my_rank)
                    s.run_chunk(sc, a, c, bi, epoch, sp, sh, full_shape.n_chunks, Y.data(), s.yf.data());
        });
        if (bi == 0 && !distributed) s.order_epoch = epoch + 1;
        if (distributed && !s.uniform) {
            // the slots' owners finish them; every process receives the results (Y or G) and the losses
            s.dist_reduce_slots(bi, sp, lr, clip_at, fused_sgd ? Y.data() : nullptr, G.data());
            for (std::size_t c = 0; c < sh.n_chunks; ++c) epoch_loss += s.chunk_loss[c];
        } else {
            if (distributed) s.dist_reduce_all(sh, bits, n_threads);
            for (std::size_t c = 0; c < sh.n_chunks; ++c) epoch_loss += s.chunk_loss[c];
            // Per point: the gradient of the summed batch loss with respect to the batch's positions, clipped by
            // value, and (fused SGD) the step. The pass walks all n points (in sequence) while that is cheaper than
            // finding the batch's points among its 2b slots (random reads, each point once per owner); a point
            // whose sum was already taken (it holds several slots of the batch) gets a zero.
            // Uniform negatives can be any point, not only the slots': the pass walks all points.
            if (s.uniform || n <= 2 * sh.two_b) {
                parallelize(n_threads, n, [&](int, std::size_t p0, std::size_t p1) { finish(p0 * d, p1 * d); });
            } else {
                parallelize(n_threads, s.n_workers, [&](int, std::size_t w0, std::size_t w1) {
                    for (std::size_t q = 0; q < sh.two_b; ++q)
                        if (const std::size_t ow = owner(sp[q]); ow >= w0 && ow < w1) finish(sp[q] * d, sp[q] * d + d);
                });
            }
        }
        if (!fused_sgd) {
            table->step(optimizer, lr, n_threads);
            s.refresh_yf(Y.data(), n_threads);
        }
        s.step_log_Z(sh);
    }
    if (distributed) require(s.mine_at == s.mine.size(), "edge batch plan: this process's chunks left edges unused");
    const double mean_loss = epoch_loss / static_cast<double>(s.n_edges);
    require(std::isfinite(mean_loss) && (!table ||
                std::all_of(Y.storage().begin(), Y.storage().end(), [](double v) { return std::isfinite(v); })),
            "the loss or the embedding became non-finite at epoch " + std::to_string(epoch) +
                " (try a smaller learning rate)");
    return mean_loss;
}

} // namespace nembed
