// The CNE epoch order (src/methods/bucket_shuffle.hpp): a permutation, the same however the work is sliced or
// restarted, and uniform where it must be — every permutation of 4 elements equally likely in batches of one, every
// split of 6 elements into batches of 2 or 4 equally likely (chi-square) — with many buckets and with one.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <numeric>
#include <set>
#include <vector>

#include "../../src/methods/bucket_shuffle.hpp"  // private to the library

using nembed::detail::BucketShuffle;

namespace {
auto streams(std::uint64_t epoch) {
    return [epoch](std::uint64_t item) { return epoch * 1000003 + item; };
}
constexpr std::size_t all = std::numeric_limits<std::size_t>::max();
} // namespace

TEST(BucketShuffle, PermutationIndependentOfSlicing) {
    for (std::size_t n : {0u, 1u, 2u, 7u, 1000u, 100000u}) {
        for (std::size_t batch : {1u, 3u, 100u, 4096u}) {
            std::vector<std::uint64_t> in(n), whole(n), sliced(n, 0);
            std::iota(in.begin(), in.end(), 0);
            BucketShuffle a(in, batch, 42, streams(3), 256);  // 32 elements per bucket: many buckets
            a.run(all, whole);
            ASSERT_TRUE(a.done());
            if (n >= 1000) {
                EXPECT_GE(a.n_buckets(), n / 64);
            }
            auto sorted = whole;
            std::sort(sorted.begin(), sorted.end());
            EXPECT_EQ(sorted, in) << n;
            for (std::size_t step : {1u, 3u, 97u}) {
                BucketShuffle b(in, batch, 42, streams(3), 256);
                for (std::size_t calls = 0; !b.done(); ++calls) {
                    b.run(step, sliced);
                    ASSERT_LE(calls, 3 * n + 2) << "slices of " << step << " never finish";
                }
                EXPECT_EQ(sliced, whole) << n << " elements in slices of " << step;
            }
            if (n >= 1000) {
                EXPECT_NE(whole, in);
            }
            // restarted for another epoch's streams after a finished order: the same as a fresh one
            std::vector<std::uint64_t> again(n);
            BucketShuffle r(in, batch, 42, streams(5), 256);
            r.run(all, again);
            r.restart(streams(3));
            r.run(all, again);
            EXPECT_TRUE(r.done());
            EXPECT_EQ(again, whole) << n;
        }
    }
}

TEST(BucketShuffle, EveryPermutationEquallyLikelyInBatchesOfOne) {
    // 4 elements: 24 permutations, 48 000 orders (2 000 expected each). chi-square with 23 degrees of freedom: 49.7
    // is its 0.999 quantile. Buckets of one element (8 bytes: 4 buckets, the grouping does all the work) and one
    // bucket for all (every position a batch boundary: the split is a whole Fisher–Yates).
    for (std::size_t bucket_bytes : {8u, 1024u}) {
        std::map<std::vector<std::uint64_t>, int> count;
        const std::vector<std::uint64_t> in = {0, 1, 2, 3};
        std::vector<std::uint64_t> out(4);
        const int trials = 48000;
        for (int t = 0; t < trials; ++t) {
            BucketShuffle s(in, 1, 7, streams(static_cast<std::uint64_t>(t)), bucket_bytes);
            s.run(all, out);
            ++count[out];
        }
        ASSERT_EQ(count.size(), 24u) << bucket_bytes;
        double chi2 = 0;
        for (const auto& [perm, c] : count) chi2 += (c - 2000.0) * (c - 2000.0) / 2000.0;
        EXPECT_LT(chi2, 49.7) << bucket_bytes << "-byte buckets";
    }
}

TEST(BucketShuffle, EverySplitIntoBatchesEquallyLikely) {
    // 6 elements into batches of 2 (90 ordered splits into sets) and of 4 (sizes 4 and 2: 15), 300 expected per
    // split. chi-square 0.999 quantiles: 136.0 (89 degrees of freedom), 36.1 (14). One bucket for all (1024 bytes:
    // only the random split separates the batches), 8 buckets (8 bytes: under one element each), 4 (16 bytes: cut
    // ones among them).
    struct Case {
        std::size_t batch, splits;
        double bound;
    };
    for (const Case& cs : {Case{2, 90, 136.0}, Case{4, 15, 36.1}}) {
        for (std::size_t bucket_bytes : {8u, 16u, 1024u}) {
            const std::size_t buckets = bucket_bytes == 8 ? 8 : bucket_bytes == 16 ? 4 : 1;
            ASSERT_EQ(BucketShuffle::layout(6, bucket_bytes).n_buckets, buckets);
            std::map<std::vector<std::set<std::uint64_t>>, int> count;
            const std::vector<std::uint64_t> in = {0, 1, 2, 3, 4, 5};
            std::vector<std::uint64_t> out(6);
            const int trials = static_cast<int>(300 * cs.splits);
            for (int t = 0; t < trials; ++t) {
                BucketShuffle s(in, cs.batch, 11, streams(static_cast<std::uint64_t>(t)), bucket_bytes);
                s.run(all, out);
                std::vector<std::set<std::uint64_t>> sets;
                for (std::size_t p = 0; p < out.size(); p += cs.batch)
                    sets.emplace_back(out.begin() + static_cast<std::ptrdiff_t>(p),
                                      out.begin() + static_cast<std::ptrdiff_t>(std::min(out.size(), p + cs.batch)));
                ++count[sets];
            }
            ASSERT_EQ(count.size(), cs.splits) << cs.batch << " " << bucket_bytes;
            double chi2 = 0;
            for (const auto& [split, c] : count) chi2 += (c - 300.0) * (c - 300.0) / 300.0;
            EXPECT_LT(chi2, cs.bound) << "batches of " << cs.batch << ", " << bucket_bytes << "-byte buckets";
        }
    }
}

TEST(BucketShuffle, SplitSwapsOnlyTheSmallerSideOfACutBucket) {
    // A bucket inside one batch: no swap. Cut at 3 of 10 (batch 8, position 5): the 3 before the cut are drawn
    // from the front, 3 swaps; cut at 7 of 10 (position 1): the 3 after it from the back, 3 swaps.
    auto swaps = [](std::size_t position, std::size_t size, std::size_t batch) {
        std::size_t count = 0;
        nembed::SplitMixStream rng(1, 2);
        BucketShuffle::split_bucket(position, size, batch, rng, [&](std::size_t i, std::size_t j) {
            EXPECT_LT(i, size);
            EXPECT_LT(j, size);
            ++count;
        });
        return count;
    };
    EXPECT_EQ(swaps(8, 8, 8), 0u);
    EXPECT_EQ(swaps(9, 5, 8), 0u);
    EXPECT_EQ(swaps(5, 10, 8), 3u);
    EXPECT_EQ(swaps(1, 10, 8), 3u);
    EXPECT_EQ(swaps(0, 10, 1), 9u);  // batches of one: a whole Fisher–Yates
    EXPECT_EQ(swaps(6, 20, 8), 18u);  // three batches met: 2 before the first cut kept, the 18 others drawn
}
