// Ctrl-C during the affinities (issue #19 item 8): the per-point loop polls nembed::interrupt_requested() and stops
// with Interrupted instead of finishing the whole graph; without a request the same call succeeds.
#include <gtest/gtest.h>

#include "affinity_test_util.hpp"
#include "nembed/affinity/perplexity.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/interrupt.hpp"

namespace nembed {
namespace {

TEST(AffinityInterrupt, PerplexityAffinitiesStopOnRequest) {
    const auto X = testing::gaussian_data(300, 5, 3);
    const KnnGraph g = testing::brute_knn(X, 30);
    PerplexityOptions o;
    o.perplexity = 10;
    for (int threads : {1, 3}) {
        o.n_threads = threads;
        request_interrupt();
        EXPECT_THROW(perplexity_affinities(g, o), Interrupted) << threads << " threads";
        clear_interrupt();
        EXPECT_NO_THROW(perplexity_affinities(g, o)) << threads << " threads";
    }
}

} // namespace
} // namespace nembed
