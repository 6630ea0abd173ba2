// In-batch negative draws (repulsion/negative_sampling.hpp): never the head, uniform over the other slots (chi-square),
// for batches that take the two-draws-per-word path (two_b − 1 <= 2^16, including the boundary) and the one-draw path.
#include <gtest/gtest.h>

#include <cstddef>
#include <vector>

#include "nembed/core/random.hpp"
#include "nembed/repulsion/negative_sampling.hpp"

using namespace nembed;

namespace {

// Chi-square statistic of `draws` draws for head h over two_b slots, folded into `bins` equal groups of slots.
double chi_square(std::size_t two_b, std::size_t h, std::size_t draws, std::size_t bins, std::uint64_t seed) {
    Rng rng(seed, 1);
    InBatchSampler s(rng, two_b);
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

TEST(NegativeSampling, InBatchSamplerIsDeterministicAndUsesHalfWords) {
    Rng a(3, 9), b(3, 9);
    InBatchSampler sa(a, 1000), sb(b, 1000);
    for (int i = 0; i < 1000; ++i) EXPECT_EQ(sa.draw(5), sb.draw(5));
    // 1000 draws from two_b − 1 = 999 <= 2^16 consume 500 words plus ~1% rejected halves (2^16 mod 999 = 601 of
    // 2^16 low halves are rejected): the next word of `a` is one of words 500..530, not ~1000.
    Rng c(3, 9);
    for (int i = 0; i < 500; ++i) c.next_u32();
    std::vector<std::uint32_t> next_c;
    for (int i = 0; i < 30; ++i) next_c.push_back(c.next_u32());
    const std::uint32_t next_a = a.next_u32();
    bool found = false;
    for (auto w : next_c) found = found || w == next_a;
    EXPECT_TRUE(found) << "the sampler should take two draws from each 32-bit word";
}
