#pragma once
// Private to the library (included by train/edge_batch_plan.cpp, its test and bench_cne_order): an epoch's order of
// the edges — a uniformly random permutation cut into consecutive batches — in cache-sized pieces, pausable so that
// it can be made in slices beside the previous epoch's batches.
//
// Each element draws a bucket, uniform over a power of two of them; the elements are copied bucket by bucket into a
// buffer (in their input order within a bucket). Sorting by i.i.d. uniform keys gives a uniform permutation, and
// (bucket, then a uniform order within it) is such a key for any number of buckets. Only the batches' sets are
// needed, not the order within a batch (a batch's gradient is an order-free integer sum, and its in-batch negatives
// are i.i.d. uniform slots, whose law no relabelling of the slots changes): so a bucket inside one batch is left in
// input order, and a bucket that a batch boundary cuts is only split at random — a partial Fisher–Yates that draws
// the smaller side, the same law of the split as a whole Fisher–Yates of the bucket. Each bucket then goes to the
// caller, who writes it where it goes (CNE: straight into the batches' head and tail slots).
//
// The bucket count trades the copy against the splits: the copy keeps one store line open per bucket (128 buckets
// of 128 KB, cne's 1.56 M edges: 8 KB, in L1; 1 024 missed L1), a cut bucket needs about a quarter of its size in
// swaps. The element's bucket is drawn twice, for the count and for the copy, from its counter stream (cheaper than
// storing it).
// The draws come from counter streams fixed by (seed, stream id of the epoch): the same order however the work is
// cut into calls of run().
#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "nembed/repulsion/negative_sampling.hpp"

namespace nembed::detail {

class BucketShuffle {
public:
    static constexpr std::size_t default_bucket_bytes = std::size_t(1) << 17;

    /// The buckets for n elements: a power of two of them (at most 65536), each about bucket_bytes; element i's
    /// bucket is the top log2(n_buckets) bits of its 16-bit draw (quarter i mod 4 of the draw stream's word i / 4),
    /// i.e. the draw >> shift.
    struct Layout {
        std::size_t n_buckets = 1;
        int shift = 16;
    };
    static Layout layout(std::size_t n, std::size_t bucket_bytes = default_bucket_bytes) {
        const std::size_t want = (n * sizeof(std::uint64_t) + bucket_bytes - 1) / std::max<std::size_t>(1, bucket_bytes);
        Layout l;
        l.n_buckets = std::min<std::size_t>(std::bit_ceil(std::max<std::size_t>(1, want)), 65536);
        l.shift = 16 - std::countr_zero(l.n_buckets);
        return l;
    }
    /// The swaps that split the bucket at positions [position, position + size) among the batches of `batch`
    /// positions that it meets: none if it lies in one batch; else, with `first` of its elements before its first
    /// batch boundary and `last` after its last one, a Fisher–Yates from the back that stops at `first` (the
    /// elements after it: a uniform ordered sample) or one from the front that stops at size − last, whichever
    /// swaps fewer. swap(i, j) exchanges the bucket's elements i and j; below(k) draws from the bucket's stream.
    template <typename Swap>
    static void split_bucket(std::size_t position, std::size_t size, std::size_t batch, SplitMixStream& rng,
                             Swap&& swap) {
        const std::size_t end = position + size, first_cut = (position / batch + 1) * batch;
        if (size < 2 || first_cut >= end) return;
        const std::size_t first = first_cut - position, last = end - (end - 1) / batch * batch;
        if (first >= last) {
            for (std::size_t k = size; k > first; --k) swap(k - 1, static_cast<std::size_t>(rng.below(k)));
        } else {
            for (std::size_t i = 0; i < size - last; ++i) swap(i, i + static_cast<std::size_t>(rng.below(size - i)));
        }
    }
    /// One bucket's split in one go, from its stream (run() does the same in steps). For a distributed order that
    /// runs a process's buckets itself.
    static void split_bucket(std::uint64_t* a, std::size_t position, std::size_t size, std::size_t batch,
                             SplitMixStream rng) {
        split_bucket(position, size, batch, rng, [a](std::size_t i, std::size_t j) { std::swap(a[i], a[j]); });
    }

    BucketShuffle() = default;
    /// Will order `in` (which must outlive the shuffle) into batches of `batch` positions (the last one may be
    /// shorter). The bucket draws come from stream (seed, stream_of(0)), bucket b's split from (seed,
    /// stream_of(1 + b)). bucket_bytes: the target bucket size (tests make it small to get many buckets from few
    /// elements).
    template <typename StreamOf>
    BucketShuffle(const std::vector<std::uint64_t>& in, std::size_t batch, std::uint64_t seed, StreamOf&& stream_of,
                  std::size_t bucket_bytes = default_bucket_bytes)
        : in_(&in), seed_(seed), batch_(std::max<std::size_t>(1, batch)) {
        const Layout l = layout(in.size(), bucket_bytes);
        n_buckets_ = l.n_buckets;
        shift_ = l.shift;
        grouped_.resize(in.size());
        restart(stream_of);
    }

    /// Starts a new order of the same array with other streams (the next epoch's), reusing the buffers.
    template <typename StreamOf>
    void restart(StreamOf&& stream_of) {
        draws_ = SplitMixStream(seed_, stream_of(0));
        start_.assign(n_buckets_ + 1, 0);
        streams_.resize(n_buckets_);
        for (std::size_t b = 0; b < n_buckets_; ++b) streams_[b] = stream_of(1 + b);
        i_ = b_ = 0;
        phase_ = Phase::count;
    }

    /// Does up to `steps` units of the remaining work (one per element for the count and for the copy, one per
    /// swap of a split). Each bucket, once split, goes to emit(position, elements, count): the order's positions
    /// [position, position + count), buckets in increasing position.
    template <typename Emit>
    void run(std::size_t steps, Emit&& emit) {
        const std::size_t n = in_ ? in_->size() : 0;
        while (steps > 0 && phase_ != Phase::done) {
            if (phase_ != Phase::split) {
                const std::size_t end = n - i_ <= steps ? n : i_ + steps;
                steps -= end - i_;
                // The loops run on local copies of the members: stores through the arrays could alias them.
                if (phase_ == Phase::count) {
                    std::size_t* count = start_.data() + 1;
                    for_draws(i_, end, [count](std::size_t, std::size_t b) { ++count[b]; });
                } else {
                    const std::uint64_t* src = in_->data();
                    std::uint64_t* dst = grouped_.data();
                    std::size_t* fill = fill_.data();
                    // Each bucket's next line is fetched for writing a line ahead: the stores would otherwise
                    // stall on their lines' reads (−2 % of the epochs' CPU at one thread, in situ).
                    for_draws(i_, end, [src, dst, fill](std::size_t i, std::size_t b) {
                        __builtin_prefetch(dst + fill[b] + 8, 1);
                        dst[fill[b]++] = src[i];
                    });
                }
                i_ = end;
                if (i_ < n) continue;
                i_ = 0;
                if (phase_ == Phase::count) {
                    for (std::size_t b = 0; b < n_buckets_; ++b) start_[b + 1] += start_[b];
                    fill_ = start_;
                    phase_ = Phase::copy;
                } else {
                    b_ = 0;
                    phase_ = Phase::split;
                }
                continue;
            }
            // Bucket b_: its split, then to the caller. A split is done in one go, but counted in steps (the slices
            // stay even); a bucket needs at most its size − 1 swaps.
            const std::size_t p0 = start_[b_], size = start_[b_ + 1] - p0;
            std::uint64_t* a = grouped_.data() + p0;
            std::size_t swaps = 0;
            SplitMixStream rng(seed_, streams_[b_]);
            split_bucket(p0, size, batch_, rng, [a, &swaps](std::size_t i, std::size_t j) {
                std::swap(a[i], a[j]);
                ++swaps;
            });
            steps -= std::min(steps, swaps);
            emit(p0, static_cast<const std::uint64_t*>(a), size);
            if (++b_ == n_buckets_) phase_ = Phase::done;
        }
    }
    /// The same, the order written to out (of in's size, the same array on every call).
    void run(std::size_t steps, std::vector<std::uint64_t>& out) {
        run(steps, [&out](std::size_t p, const std::uint64_t* e, std::size_t count) {
            std::copy_n(e, count, out.data() + p);
        });
    }
    bool done() const { return phase_ == Phase::done; }
    std::size_t n_buckets() const { return n_buckets_; }

private:
    enum class Phase { count, copy, split, done };
    // f(i, bucket) for the elements [i, end): the 16-bit quarter i mod 4 of the draw stream's word i / 4, >> shift.
    template <typename F>
    void for_draws(std::size_t i, std::size_t end, F&& f) const {
        SplitMixStream r = draws_;
        r.skip_words(i / 4);
        const int shift = shift_;
        auto bucket = [shift](std::uint64_t w) { return static_cast<std::size_t>((w & 0xffff) >> shift); };
        if (i % 4 != 0 && i < end) {
            std::uint64_t w = r.next() >> (16 * (i % 4));
            for (; i % 4 != 0 && i < end; ++i, w >>= 16) f(i, bucket(w));
        }
        for (; i + 4 <= end; i += 4) {
            const std::uint64_t w = r.next();
            f(i, bucket(w));
            f(i + 1, bucket(w >> 16));
            f(i + 2, bucket(w >> 32));
            f(i + 3, bucket(w >> 48));
        }
        if (i < end)
            for (std::uint64_t w = r.next(); i < end; ++i, w >>= 16) f(i, bucket(w));
    }

    const std::vector<std::uint64_t>* in_ = nullptr;
    std::uint64_t seed_ = 0;
    std::size_t batch_ = 1;
    SplitMixStream draws_{0, 0};          // the bucket draws' stream at its start
    std::vector<std::uint64_t> grouped_;  // the elements bucket by bucket, each bucket then split in place
    std::vector<std::size_t> start_, fill_;  // bucket b: grouped_[start_[b], start_[b + 1]); fill_: next free slot
    std::vector<std::uint64_t> streams_;     // bucket b's stream id
    std::size_t n_buckets_ = 1, i_ = 0, b_ = 0;
    int shift_ = 16;
    Phase phase_ = Phase::count;
};

} // namespace nembed::detail
