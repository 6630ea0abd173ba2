// run_exclusive_pairs: every task once, never two tasks on one resource at a time, and no barrier for a stalled
// worker to hold up (the exact kNN self-search's block pairs).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <thread>
#include <utility>
#include <vector>

#include "nembed/core/error.hpp"
#include "nembed/core/exclusive_pairs.hpp"
#include "nembed/core/parallel.hpp"

using namespace nembed;

namespace {

// Every block with itself, then every pair of distinct blocks.
std::vector<std::pair<std::size_t, std::size_t>> all_pairs(std::size_t n) {
    std::vector<std::pair<std::size_t, std::size_t>> p;
    for (std::size_t a = 0; a < n; ++a) p.emplace_back(a, a);
    for (std::size_t a = 0; a < n; ++a)
        for (std::size_t b = a + 1; b < n; ++b) p.emplace_back(a, b);
    return p;
}

} // namespace

TEST(ExclusivePairs, EveryTaskOnceNeverTwoOnOneResource) {
    const std::size_t n = 13;
    const auto pairs = all_pairs(n);
    for (int workers : {1, 2, 3, 9}) {
        std::vector<std::atomic<int>> runs(pairs.size()), holders(n);
        std::atomic<int> clashes{0}, bad_worker{0};
        run_exclusive_pairs(workers, n, pairs, [&](int w, std::size_t t) {
            if (w < 0 || w >= workers) ++bad_worker;
            const auto [a, b] = pairs[t];
            if (holders[a]++ != 0) ++clashes;
            if (b != a && holders[b]++ != 0) ++clashes;
            std::this_thread::sleep_for(std::chrono::microseconds(50));  // overlap the workers' tasks
            --holders[a];
            if (b != a) --holders[b];
            ++runs[t];
        });
        for (std::size_t t = 0; t < pairs.size(); ++t)
            EXPECT_EQ(runs[t].load(), 1) << workers << " workers, task " << t;
        EXPECT_EQ(clashes.load(), 0) << workers << " workers";
        EXPECT_EQ(bad_worker.load(), 0) << workers << " workers";
    }
}

// The first task stalls (as a descheduled worker would) until every task that shares no resource with it has run;
// rounds of disjoint pairs with a barrier after each could not finish the first round and would time out.
TEST(ExclusivePairs, AStalledTaskHoldsUpOnlyItsOwnResources) {
    if (available_cores() < 2) GTEST_SKIP() << "needs two cores to run two workers at once";
    const std::size_t n = 10;
    const auto pairs = all_pairs(n);
    std::size_t independent = 0;  // tasks not on resource 0 (the first task is (0, 0))
    for (const auto& [a, b] : pairs) independent += (a != 0 && b != 0) ? 1 : 0;
    std::atomic<std::size_t> done_independent{0};
    std::size_t seen = 0;  // independent tasks done when the stalled task stopped waiting
    run_exclusive_pairs(2, n, pairs, [&](int, std::size_t t) {
        const auto [a, b] = pairs[t];
        if (t == 0) {
            const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
            while (done_independent.load() < independent && std::chrono::steady_clock::now() < deadline)
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            seen = done_independent.load();
            return;
        }
        if (a != 0 && b != 0) ++done_independent;
    });
    EXPECT_EQ(seen, independent) << "independent tasks that ran while the first one stalled";
}

TEST(ExclusivePairs, RethrowsAndStops) {
    const auto pairs = all_pairs(8);
    std::atomic<int> after{0};
    EXPECT_THROW(run_exclusive_pairs(2, 8, pairs, [&](int, std::size_t t) {
                     if (t == 3) throw InvalidArgument("boom");
                     std::this_thread::sleep_for(std::chrono::microseconds(200));
                     if (t > 20) ++after;
                 }),
                 InvalidArgument);
    EXPECT_LT(after.load(), static_cast<int>(pairs.size()) - 21);  // the workers stopped taking tasks
    run_exclusive_pairs(2, 0, {}, [](int, std::size_t) { FAIL() << "no task"; });
}
