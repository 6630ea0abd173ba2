// The CNE epoch shuffle (src/methods/bucket_shuffle.hpp): a permutation, the same however the work is sliced or
// restarted, and uniform — every permutation of 4 elements equally likely (chi-square) with many buckets and with one.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <numeric>
#include <vector>

#include "../../src/methods/bucket_shuffle.hpp"  // private to the library

using nembed::detail::BucketShuffle;

namespace {
auto streams(std::uint64_t epoch) {
    return [epoch](std::uint64_t item) { return epoch * 1000003 + item; };
}
} // namespace

TEST(BucketShuffle, PermutationIndependentOfSlicing) {
    for (std::size_t n : {0u, 1u, 2u, 7u, 1000u, 100000u}) {
        std::vector<std::uint64_t> in(n), whole(n), sliced(n, 0);
        std::iota(in.begin(), in.end(), 0);
        BucketShuffle a(in, whole, 42, streams(3), 256);  // 32 elements per bucket: many buckets
        a.run(std::numeric_limits<std::size_t>::max());
        ASSERT_TRUE(a.done());
        if (n >= 1000) {
            EXPECT_GE(a.n_buckets(), n / 64);
        }
        auto sorted = whole;
        std::sort(sorted.begin(), sorted.end());
        EXPECT_EQ(sorted, in) << n;
        for (std::size_t step : {1u, 3u, 97u}) {
            BucketShuffle b(in, sliced, 42, streams(3), 256);
            for (std::size_t calls = 0; !b.done(); ++calls) {
                b.run(step);
                ASSERT_LE(calls, 3 * n + 2) << "slices of " << step << " never finish";
            }
            EXPECT_EQ(sliced, whole) << n << " elements in slices of " << step;
        }
        if (n >= 1000) {
            EXPECT_NE(whole, in);
        }
        // restarted for another epoch's streams after a finished shuffle: the same as a fresh one
        std::vector<std::uint64_t> again(n);
        BucketShuffle r(in, again, 42, streams(5), 256);
        r.run(std::numeric_limits<std::size_t>::max());
        r.restart(streams(3));
        r.run(std::numeric_limits<std::size_t>::max());
        EXPECT_TRUE(r.done());
        EXPECT_EQ(again, whole) << n;
    }
}

TEST(BucketShuffle, EveryPermutationEquallyLikely) {
    // 4 elements: 24 permutations, 48 000 shuffles (2 000 expected each). chi-square with 23 degrees of freedom:
    // 49.7 is its 0.999 quantile. Buckets of one element (8 bytes: 4 buckets, the grouping does all the work) and one
    // bucket for all (plain Fisher–Yates).
    for (std::size_t bucket_bytes : {8u, 1024u}) {
        std::map<std::vector<std::uint64_t>, int> count;
        const std::vector<std::uint64_t> in = {0, 1, 2, 3};
        std::vector<std::uint64_t> out(4);
        const int trials = 48000;
        for (int t = 0; t < trials; ++t) {
            BucketShuffle s(in, out, 7, streams(static_cast<std::uint64_t>(t)), bucket_bytes);
            s.run(std::numeric_limits<std::size_t>::max());
            ++count[out];
        }
        ASSERT_EQ(count.size(), 24u) << bucket_bytes;
        double chi2 = 0;
        for (const auto& [perm, c] : count) chi2 += (c - 2000.0) * (c - 2000.0) / 2000.0;
        EXPECT_LT(chi2, 49.7) << bucket_bytes << "-byte buckets";
    }
}
