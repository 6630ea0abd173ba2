// In-batch negative draws (repulsion/negative_sampling.hpp): never the head, uniform over the other slots (chi-square),
// for batches that take the two-draws-per-word path (two_b − 1 <= 2^16, including the boundary) and the one-draw path.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "nembed/repulsion/negative_sampling.hpp"

using namespace nembed;

namespace {

// Chi-square statistic of `draws` draws for head h over two_b slots, folded into `bins` equal groups of slots.
double chi_square(std::size_t two_b, std::size_t h, std::size_t draws, std::size_t bins, std::uint64_t seed) {
    InBatchSampler s(seed, 1, two_b);
    std::vector<double> count(bins, 0.0);
    std::vector<double> slots_in_bin(bins, 0.0);
    for (std::size_t v = 0; v < two_b; ++v)
        if (v != h) slots_in_bin[v * bins / two_b] += 1;
    for (std::size_t i = 0; i < draws; ++i) {
        const std::size_t v = s.draw(h);
        EXPECT_LT(v, two_b);
        EXPECT_NE(v, h);
        if (v >= two_b || v == h) return 1e300;
        count[v * bins / two_b] += 1;
    }
    double chi = 0;
    for (std::size_t b = 0; b < bins; ++b) {
        const double expect = static_cast<double>(draws) * slots_in_bin[b] / static_cast<double>(two_b - 1);
        if (expect == 0) continue;  // the bin holding only the head
        chi += (count[b] - expect) * (count[b] - expect) / expect;
    }
    return chi;
}

} // namespace

TEST(NegativeSampling, InBatchDrawsAreUniformOverTheOtherSlots) {
    // 19 degrees of freedom: P(chi² > 50) ≈ 1e-4; the seeds are fixed, so this either always passes or always fails.
    for (std::size_t two_b : {std::size_t(20), std::size_t(65536), std::size_t(65537), std::size_t(200001)}) {
        for (std::size_t h : {std::size_t(0), two_b / 3, two_b - 1}) {
            EXPECT_LT(chi_square(two_b, h, 200000, 20, 7 + h), 50.0) << "two_b " << two_b << " head " << h;
        }
    }
}

TEST(NegativeSampling, InBatchSamplerIsDeterministicAndUsesQuarterWords) {
    InBatchSampler sa(3, 9, 1000), sb(3, 9, 1000), sc(3, 10, 1000);
    int same_as_other_stream = 0;
    for (int i = 0; i < 1000; ++i) {
        const std::size_t a = sa.draw(5);
        EXPECT_EQ(a, sb.draw(5));
        same_as_other_stream += a == sc.draw(5);
    }
    EXPECT_LT(same_as_other_stream, 20);  // another stream: ~1 in 999 equal by chance
    // 1000 draws from two_b − 1 = 999 <= 2^16 take four draws per 64-bit word, plus ~1% rejected quarters
    // (2^16 mod 999 = 601 of 2^16 are rejected): 250 words and a few more.
    EXPECT_GE(sa.words(), 250u);
    EXPECT_LE(sa.words(), 265u);
    // Beyond 2^16 + 1 slots: two draws per word (32-bit halves).
    InBatchSampler big(3, 9, 200001);
    for (int i = 0; i < 1000; ++i) big.draw(7);
    EXPECT_GE(big.words(), 500u);
    EXPECT_LE(big.words(), 505u);
}

// The draws' values against the documented rule, written out here: Lemire's multiply-and-reject on the stream's
// words cut into 16-bit quarters (two_b − 1 <= 2^16) or 32-bit halves, low part first; slot (h + 1 + r) mod two_b.
// Checks draw() and the constant-width draw_as<Bits>() that run_chunk's loop uses, for both widths and the boundary.
TEST(NegativeSampling, InBatchDrawsAreLemireOnTheStreamsParts) {
    for (std::size_t two_b : {std::size_t(1000), std::size_t(65537), std::size_t(200001)}) {
        const unsigned bits = two_b - 1 <= 65536 ? 16 : 32;
        const std::uint64_t n = two_b - 1, mask = (std::uint64_t(1) << bits) - 1,
                            threshold = (std::uint64_t(1) << bits) % n;
        SplitMixStream ref(5, 11);
        std::uint64_t word = 0;
        unsigned left = 0;
        InBatchSampler a(5, 11, two_b), b(5, 11, two_b);
        ASSERT_EQ(a.bits(), bits);
        for (std::size_t i = 0; i < 5000; ++i) {
            const std::size_t h = (i * 7919) % two_b;
            std::size_t expect = 0;
            for (;;) {
                if (left == 0) {
                    word = ref.next();
                    left = 64 / bits;
                }
                const std::uint64_t m = (word & mask) * n;
                word >>= bits;
                --left;
                if ((m & mask) >= threshold) {
                    expect = (h + 1 + static_cast<std::size_t>(m >> bits)) % two_b;
                    break;
                }
            }
            ASSERT_EQ(a.draw(h), expect) << "two_b " << two_b << " draw " << i;
            ASSERT_EQ(bits == 16 ? b.draw_as<16>(h) : b.draw_as<32>(h), expect) << "two_b " << two_b << " draw " << i;
        }
        EXPECT_EQ(a.words(), b.words());
    }
}

TEST(NegativeSampling, InBatchSamplerRejectsDegenerateBatches) {
    EXPECT_THROW(InBatchSampler(1, 1, 1), std::exception);
    EXPECT_THROW(InBatchSampler(1, 1, 0), std::exception);
    InBatchSampler two(1, 1, 2);
    for (int i = 0; i < 10; ++i) EXPECT_EQ(two.draw(0), 1u);
}

TEST(NegativeSampling, SplitMixStreamIsSplitMix64AndBelowIsUniform) {
    // SplitMix64's reference: seeded with 0, its first output is mix(γ) = 0xe220a8397b1dcdaf.
    EXPECT_EQ(SplitMixStream::mix(0x9e3779b97f4a7c15ull), 0xe220a8397b1dcdafull);
    SplitMixStream a(1, 2), b(1, 2), c(2, 1);
    EXPECT_EQ(a.next(), b.next());
    EXPECT_NE(a.next(), c.next());
    // below(n): in range, and uniform (chi-square, 9 degrees of freedom: P(chi² > 35) ≈ 6e-5; fixed seeds).
    for (std::uint64_t n : {std::uint64_t(1), std::uint64_t(10), std::uint64_t(3000000007ull),
                            std::uint64_t(0x100000000ull), std::uint64_t(0x500000000ull)}) {
        SplitMixStream r(7, n);
        std::vector<double> count(10, 0.0);
        const int draws = 100000;
        for (int i = 0; i < draws; ++i) {
            const std::uint64_t v = r.below(n);
            ASSERT_LT(v, n);
            count[static_cast<std::size_t>(n >= 10 ? v / ((n + 9) / 10) : v)] += 1;
        }
        if (n < 10) continue;
        double chi = 0;
        for (std::size_t k = 0; k < 10; ++k) {
            // bin k holds the values [k·w, min(n, (k+1)·w)), w = ceil(n / 10)
            const double w = static_cast<double>((n + 9) / 10);
            const double lo = static_cast<double>(k) * w, hi = std::min(static_cast<double>(n), lo + w);
            const double expect = draws * (hi - lo) / static_cast<double>(n);
            chi += (count[k] - expect) * (count[k] - expect) / expect;
        }
        EXPECT_LT(chi, 35.0) << "n = " << n;
    }
}

TEST(NegativeSampling, BelowManyAndDrawManyGiveTheSingleDrawsAndLeaveTheSameStream) {
    // below_many(n, ·, count) must equal count calls of below(n) and leave the stream where they do, whatever the
    // count's parity, a pending upper half at the start (an odd count before), and rejections: n = 2^31 + 1
    // rejects about half the halves, 3000000007 a third, 2^32 and 1 never, 10 000 rarely.
    for (std::uint64_t n : {std::uint64_t(1), std::uint64_t(2), std::uint64_t(10000), std::uint64_t(3000000007ull),
                            std::uint64_t(0x80000001ull), std::uint64_t(0x100000000ull)}) {
        SplitMixStream one(5, n), many(5, n);
        for (std::size_t count : {std::size_t(0), std::size_t(1), std::size_t(7), std::size_t(64), std::size_t(65),
                                  std::size_t(300), std::size_t(3)}) {
            std::vector<std::uint32_t> got(count + 1, 0xdeadbeefu);
            many.below_many(n, got.data(), count);
            for (std::size_t t = 0; t < count; ++t) ASSERT_EQ(got[t], one.below(n)) << "n = " << n << ", draw " << t;
            EXPECT_EQ(got[count], 0xdeadbeefu) << "wrote past the end";
            EXPECT_EQ(many.below(n), one.below(n)) << "n = " << n << ": the streams part after " << count;
        }
    }
    // below_many_except(n, ·, skip, ·, count): below(n)'s draws with those equal to skip dropped (the rest in order),
    // their number returned, at most count + 1 values written, the stream left where count below() calls leave it.
    for (std::uint64_t n : {std::uint64_t(1), std::uint64_t(2), std::uint64_t(5), std::uint64_t(10000),
                            std::uint64_t(3000000007ull), std::uint64_t(0x80000001ull), std::uint64_t(0x100000000ull)}) {
        for (std::uint64_t skip : {std::uint64_t(0), std::uint64_t(1), n / 2, ~std::uint64_t{0}}) {
            SplitMixStream one(7, n), many(7, n);
            for (std::size_t count : {std::size_t(0), std::size_t(1), std::size_t(7), std::size_t(64),
                                      std::size_t(65), std::size_t(300), std::size_t(3)}) {
                std::vector<std::uint32_t> got(count + 2, 0xdeadbeefu);
                const std::size_t k = many.below_many_except(n, 0x100000000ull % n, skip, got.data(), count);
                std::vector<std::uint32_t> want;
                for (std::size_t t = 0; t < count; ++t) {
                    const std::uint64_t v = one.below(n);
                    if (v != skip) want.push_back(static_cast<std::uint32_t>(v));
                }
                ASSERT_EQ(k, want.size()) << "n = " << n << ", skip " << skip << ", count " << count;
                for (std::size_t t = 0; t < k; ++t) ASSERT_EQ(got[t], want[t]) << "n = " << n << ", draw " << t;
                EXPECT_EQ(got[count + 1], 0xdeadbeefu) << "wrote past count + 1";
                EXPECT_EQ(many.below(n), one.below(n)) << "n = " << n << ": the streams part after " << count;
            }
        }
    }
    // UniformSampler::draw_many: the draws of draw(head), never the head, the stream continuing alike.
    for (std::size_t n : {std::size_t(2), std::size_t(3), std::size_t(1000)}) {
        UniformSampler one(9, 4, n), many(9, 4, n);
        for (std::size_t head : {std::size_t(0), n / 2, n - 1}) {
            std::vector<std::uint32_t> got(301);
            many.draw_many(head, got.data(), 301);
            for (std::size_t t = 0; t < 301; ++t) {
                ASSERT_EQ(got[t], one.draw(head)) << "n = " << n << ", head " << head << ", draw " << t;
                ASSERT_NE(got[t], head);
            }
        }
        EXPECT_EQ(many.draw(0), one.draw(0));
    }
}
