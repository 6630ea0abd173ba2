#pragma once
// Private to the library (included by methods/cne.cpp and its tests): a uniformly random permutation of an array in
// cache-sized pieces, pausable so that an epoch's edge order can be made in slices beside the previous epoch's
// batches.
//
// Each element draws a bucket, uniform over a power of two of them, sized so that a bucket fits in L1; the elements
// are copied bucket by bucket into the output (in their input order within a bucket), then each bucket is shuffled
// by Fisher–Yates. Sorting by i.i.d. uniform keys gives a uniform permutation, and (bucket, then a uniform order
// within it) is such a key, so the result is as uniform as one Fisher–Yates pass over the whole array — whose random
// swaps across megabytes each miss the cache, where here every pass is sequential or stays within a bucket.
// The draws come from counter streams fixed by (seed, stream id of the epoch): the same permutation however the
// work is cut into calls of run().
#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "nembed/repulsion/negative_sampling.hpp"

namespace nembed::detail {

class BucketShuffle {
public:
    /// The buckets for n elements: a power of two of them (at most 65536), each about bucket_bytes; element i's
    /// bucket is the top log2(n_buckets) bits of its 16-bit draw (quarter i mod 4 of the draw stream's word i / 4),
    /// i.e. the draw >> shift.
    struct Layout {
        std::size_t n_buckets = 1;
        int shift = 16;
    };
    static Layout layout(std::size_t n, std::size_t bucket_bytes = 16384) {
        const std::size_t want = (n * sizeof(std::uint64_t) + bucket_bytes - 1) / std::max<std::size_t>(1, bucket_bytes);
        Layout l;
        l.n_buckets = std::min<std::size_t>(std::bit_ceil(std::max<std::size_t>(1, want)), 65536);
        l.shift = 16 - std::countr_zero(l.n_buckets);
        return l;
    }
    /// One bucket's Fisher–Yates in one go, from its stream (run() does the same in steps): for k = size … 2, swap
    /// a[k − 1] with a[below(k)]. For a distributed shuffle that runs a process's buckets itself.
    static void shuffle_bucket(std::uint64_t* a, std::size_t size, SplitMixStream rng) {
        for (std::size_t k = size; k > 1; --k) {
            const auto j = static_cast<std::size_t>(rng.below(k));
            std::swap(a[k - 1], a[j]);
        }
    }

    BucketShuffle() = default;
    /// Will write a permutation of `in` to `out` (same size, distinct arrays; both must outlive the shuffle). The
    /// bucket draws come from stream (seed, stream_of(0)), bucket b's Fisher–Yates from (seed, stream_of(1 + b)).
    /// bucket_bytes: the target bucket size (tests make it small to get many buckets from few elements).
    template <typename StreamOf>
    BucketShuffle(const std::vector<std::uint64_t>& in, std::vector<std::uint64_t>& out, std::uint64_t seed,
                  StreamOf&& stream_of, std::size_t bucket_bytes = 16384)
        : in_(&in), out_(&out), seed_(seed) {
        const Layout l = layout(in.size(), bucket_bytes);
        n_buckets_ = l.n_buckets;
        shift_ = l.shift;
        bucket_.resize(in.size());
        restart(stream_of);
    }

    /// Starts a new permutation of the same arrays with other streams (the next epoch's), reusing the buffers.
    template <typename StreamOf>
    void restart(StreamOf&& stream_of) {
        draws_ = SplitMixStream(seed_, stream_of(0));
        start_.assign(n_buckets_ + 1, 0);
        streams_.resize(n_buckets_);
        for (std::size_t b = 0; b < n_buckets_; ++b) streams_[b] = stream_of(1 + b);
        i_ = b_ = k_ = 0;
        word_ = 0;
        quarters_ = 0;
        phase_ = Phase::draw;
    }

    /// Does up to `steps` units of the remaining work (3 per element: draw, copy, shuffle step).
    void run(std::size_t steps) {
        const std::size_t n = in_ ? in_->size() : 0;
        while (steps > 0 && phase_ != Phase::done) {
            // The loops run on local copies of the members (written back after): stores through the arrays could
            // alias them, which would make the compiler reload and store them on every element.
            if (phase_ == Phase::draw) {
                const std::size_t end = std::min(n, i_ + steps);
                steps -= end - i_;
                std::size_t i = i_;
                std::uint64_t word = word_;
                int quarters = quarters_;
                std::uint16_t* bucket = bucket_.data();
                std::size_t* start = start_.data();
                for (; i < end; ++i) {
                    if (quarters == 0) {
                        word = draws_.next();
                        quarters = 4;
                    }
                    const auto b = static_cast<std::uint16_t>((word & 0xffff) >> shift_);
                    word >>= 16;
                    --quarters;
                    bucket[i] = b;
                    ++start[b + 1];
                }
                i_ = i;
                word_ = word;
                quarters_ = quarters;
                if (i_ == n) {
                    for (std::size_t b = 0; b < n_buckets_; ++b) start_[b + 1] += start_[b];
                    fill_ = start_;
                    i_ = 0;
                    phase_ = Phase::copy;
                }
            } else if (phase_ == Phase::copy) {
                const std::size_t end = std::min(n, i_ + steps);
                steps -= end - i_;
                const std::uint64_t* src = in_->data();
                std::uint64_t* dst = out_->data();
                const std::uint16_t* bucket = bucket_.data();
                std::size_t* fill = fill_.data();
                std::size_t i = i_;
                for (; i < end; ++i) dst[fill[bucket[i]]++] = src[i];
                i_ = i;
                if (i_ == n) {
                    b_ = 0;
                    open_bucket();
                    phase_ = Phase::shuffle;
                }
            } else {
                // Fisher–Yates in bucket b_: for k = size … 2, swap a[k − 1] with a[below(k)]
                std::uint64_t* a = out_->data() + start_[b_];
                std::size_t k = k_;
                SplitMixStream rng = rng_;
                // The next bucket's lines are prefetched, one every 8 swaps (a bucket's elements fill about one line
                // per 8): the copy phase wrote them long before, so its random swaps would otherwise miss.
                const std::uint64_t* pf = pf_;
                const std::uint64_t* const pf_end = pf_end_;
                while (steps > 0 && k > 1) {
                    if ((k & 7) == 0 && pf < pf_end) {
                        __builtin_prefetch(pf, 1);
                        pf += 8;
                    }
                    const auto j = static_cast<std::size_t>(rng.below(k));
                    std::swap(a[k - 1], a[j]);
                    --k;
                    --steps;
                }
                pf_ = pf;
                k_ = k;
                rng_ = rng;
                if (k_ <= 1) {
                    if (++b_ == n_buckets_) {
                        phase_ = Phase::done;
                    } else {
                        open_bucket();
                    }
                }
            }
        }
    }
    bool done() const { return phase_ == Phase::done; }
    std::size_t n_buckets() const { return n_buckets_; }

private:
    enum class Phase { draw, copy, shuffle, done };
    void open_bucket() {
        rng_ = SplitMixStream(seed_, streams_[b_]);
        k_ = start_[b_ + 1] - start_[b_];
        const std::size_t next_end = b_ + 2 <= n_buckets_ ? start_[std::min(b_ + 2, n_buckets_)] : start_[b_ + 1];
        pf_ = out_->data() + start_[b_ + 1];
        pf_end_ = out_->data() + next_end;
    }

    const std::vector<std::uint64_t>* in_ = nullptr;
    std::vector<std::uint64_t>* out_ = nullptr;
    std::uint64_t seed_ = 0;
    SplitMixStream draws_{0, 0}, rng_{0, 0};
    std::vector<std::uint16_t> bucket_;    // per element: its bucket
    std::vector<std::size_t> start_, fill_;  // bucket b: out[start_[b], start_[b + 1]); fill_: next free slot
    std::vector<std::uint64_t> streams_;   // bucket b's stream id
    std::size_t n_buckets_ = 1, i_ = 0, b_ = 0, k_ = 0;
    int shift_ = 16;
    std::uint64_t word_ = 0;
    int quarters_ = 0;
    const std::uint64_t *pf_ = nullptr, *pf_end_ = nullptr;  // the next bucket's lines not yet prefetched
    Phase phase_ = Phase::draw;
};

} // namespace nembed::detail
