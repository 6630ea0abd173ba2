#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>
#include <set>

#include "nembed/core/cumulative_search.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/matrix.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/core/random.hpp"
#include "nembed/core/sparse.hpp"

using namespace nembed;

TEST(Parallel, CoversEveryTaskOnce) {
    for (int workers : {1, 2, 3, 7}) {
        std::vector<int> hits(1000, 0);
        parallelize(workers, hits.size(), [&](int, std::size_t b, std::size_t e) {
            for (std::size_t i = b; i < e; ++i) hits[i]++;
        });
        for (int h : hits) ASSERT_EQ(h, 1);
    }
}

TEST(Parallel, FixedBlockSumIndependentOfThreads) {
    std::vector<double> v(100000);
    Rng rng(3);
    for (auto& x : v) x = rng.normal() * 1e6;
    auto f = [&](std::size_t b, std::size_t e) { double s = 0; for (std::size_t i = b; i < e; ++i) s += v[i]; return s; };
    double s1 = fixed_block_sum(1, v.size(), f), s2 = fixed_block_sum(2, v.size(), f), s5 = fixed_block_sum(5, v.size(), f);
    EXPECT_EQ(s1, s2);  // bitwise: same blocks, same order
    EXPECT_EQ(s1, s5);
}

TEST(Parallel, RethrowsWorkerException) {
    EXPECT_THROW(parallelize(2, 10, [](int w, std::size_t, std::size_t) { if (w == 1) throw InvalidArgument("boom"); }),
                 InvalidArgument);
    // Several failing workers: the lowest worker index wins, whatever order they ran in; every range still ran.
    std::atomic<int> ran{0};
    try {
        parallelize(16, 160, [&](int w, std::size_t, std::size_t) {
            ++ran;
            if (w % 5 == 3) throw InvalidArgument("worker " + std::to_string(w));
        });
        FAIL() << "no exception";
    } catch (const InvalidArgument& e) {
        EXPECT_STREQ(e.what(), "worker 3");
    }
    EXPECT_EQ(ran.load(), 16);
}

TEST(Parallel, ManyMoreWorkersThanCoresAndNesting) {
    // More ranges than threads run one after another on the scheduler's threads; a parallelize inside a worker
    // (nested) must neither deadlock nor lose work.
    std::vector<std::atomic<int>> hits(5000);
    parallelize(64, 50, [&](int, std::size_t b, std::size_t e) {
        for (std::size_t i = b; i < e; ++i)
            parallelize(3, 100, [&](int, std::size_t b2, std::size_t e2) {
                for (std::size_t j = b2; j < e2; ++j) hits[i * 100 + j]++;
            });
    });
    for (auto& h : hits) ASSERT_EQ(h.load(), 1);
}

TEST(Parallel, ResolveThreads) {
    const int cores = available_cores();
    ASSERT_GE(cores, 1);
    EXPECT_EQ(resolve_threads(-1), cores);
    EXPECT_EQ(resolve_threads(-2), std::max(1, cores - 1));
    EXPECT_EQ(resolve_threads(-1000000), 1);
    EXPECT_EQ(resolve_threads(std::numeric_limits<int>::min()), 1);
    EXPECT_THROW(resolve_threads(0), InvalidArgument);
    EXPECT_EQ(resolve_threads(1), 1);
    // Above the available cores: capped (one warning), unless oversubscription is asked for.
    const char* saved = std::getenv("NEMBED_OVERSUBSCRIBE");
    const std::string saved_value = saved ? saved : "";
    unsetenv("NEMBED_OVERSUBSCRIBE");
    EXPECT_EQ(resolve_threads(cores + 3), cores);
    EXPECT_EQ(resolve_threads(2000000000), cores);
    setenv("NEMBED_OVERSUBSCRIBE", "1", 1);
    EXPECT_EQ(resolve_threads(cores + 3), cores + 3);
    if (saved) setenv("NEMBED_OVERSUBSCRIBE", saved_value.c_str(), 1); else unsetenv("NEMBED_OVERSUBSCRIBE");
}

TEST(Random, SameSeedSameStream) {
    Rng a(42, 7), b(42, 7), c(42, 8), d(43, 7);
    bool differs_c = false, differs_d = false;
    for (int i = 0; i < 100; ++i) {
        auto x = a.next_u32();
        EXPECT_EQ(x, b.next_u32());
        differs_c |= (x != c.next_u32());
        differs_d |= (x != d.next_u32());
    }
    EXPECT_TRUE(differs_c);
    EXPECT_TRUE(differs_d);
}

TEST(Random, MomentsOfDistributions) {
    Rng r(1);
    const int n = 200000;
    double su = 0, sn = 0, sn2 = 0;
    for (int i = 0; i < n; ++i) {
        su += r.uniform();
        double z = r.normal();
        sn += z;
        sn2 += z * z;
    }
    EXPECT_NEAR(su / n, 0.5, 0.005);        // sd of the mean ~ 0.0006
    EXPECT_NEAR(sn / n, 0.0, 0.01);         // sd of the mean ~ 0.0022
    EXPECT_NEAR(sn2 / n, 1.0, 0.02);
    std::vector<int> counts(7, 0);
    for (int i = 0; i < 70000; ++i) counts[r.below(7)]++;
    for (int c : counts) EXPECT_NEAR(c, 10000, 500);
}

TEST(Sparse, TripletsTransposeValidate) {
    auto m = csr_from_triplets<double>(3, 3, {{0, 1, 1.0}, {2, 0, 2.0}, {0, 1, 0.5}, {1, 2, 3.0}});
    m.validate();
    EXPECT_EQ(m.nnz(), 3u);
    EXPECT_DOUBLE_EQ(m.at(0, 1), 1.5);
    auto t = transpose(m);
    t.validate();
    EXPECT_DOUBLE_EQ(t.at(1, 0), 1.5);
    EXPECT_DOUBLE_EQ(t.at(0, 2), 2.0);
    EXPECT_DOUBLE_EQ(t.sum(), m.sum());
    m.indices[0] = 5;
    EXPECT_THROW(m.validate(), InvalidArgument);
}

TEST(Matrix, RequireFiniteNamesPosition) {
    Matrix<float> x(2, 3, 1.0f);
    x(1, 2) = std::numeric_limits<float>::quiet_NaN();
    try {
        require_finite(x.view(), "input");
        FAIL();
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("row 1, column 2"), std::string::npos);
    }
}

// The block screen (require_finite checks blocks of 4 096 values without a branch per value): the first bad value of
// any kind, in any block, float and double, is found; finite extremes and subnormals pass.
TEST(Matrix, RequireFiniteScreensBlocks) {
    const double bads[] = {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity()};
    for (double bad : bads)
        for (std::size_t at : {std::size_t(0), std::size_t(4095), std::size_t(4096), std::size_t(9999)}) {
            Matrix<float> f(1000, 10, 1.0f);
            Matrix<double> d(1000, 10, 1.0);
            f.data()[at] = static_cast<float>(bad);
            d.data()[at] = bad;
            f.data()[9999] = std::isnan(bad) ? f.data()[9999] : std::numeric_limits<float>::quiet_NaN();  // a later one
            const std::string want = "row " + std::to_string(at / 10) + ", column " + std::to_string(at % 10);
            try {
                require_finite(f.view(), "input");
                FAIL();
            } catch (const InvalidArgument& e) {
                EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
            }
            try {
                require_finite(d.view(), "input");
                FAIL();
            } catch (const InvalidArgument& e) {
                EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
            }
        }
    Matrix<float> f(3, 3, std::numeric_limits<float>::max());
    f(1, 1) = std::numeric_limits<float>::denorm_min();
    f(2, 2) = -std::numeric_limits<float>::max();
    EXPECT_NO_THROW(require_finite(f.view(), "input"));
    Matrix<double> d(3, 3, std::numeric_limits<double>::max());
    d(1, 1) = -std::numeric_limits<double>::denorm_min();
    EXPECT_NO_THROW(require_finite(d.view(), "input"));
}

// CumulativeSearch gives std::upper_bound's index for any query: weights with zeros (repeated sums), a single entry,
// queries at every stored value, between them, at 0, at the total and beyond, and uniform draws.
TEST(CumulativeSearch, EqualsUpperBound) {
    Rng rng(17);
    for (std::size_t n : {std::size_t(1), std::size_t(2), std::size_t(7), std::size_t(1000)}) {
        std::vector<double> cum(n);
        double s = 0.0;
        for (std::size_t p = 0; p < n; ++p) cum[p] = (s += rng.uniform() < 0.3 ? 0.0 : rng.uniform() * (p % 5 + 1));
        if (s == 0.0) cum.back() = s = 1.0;
        const CumulativeSearch search(cum);
        std::vector<double> queries{0.0, s, 2 * s, -1.0, std::nextafter(s, 0.0)};
        for (double c : cum) {
            queries.push_back(c);
            queries.push_back(std::nextafter(c, 0.0));
            queries.push_back(std::nextafter(c, 2 * s));
        }
        for (int t = 0; t < 5000; ++t) queries.push_back(rng.uniform() * s);
        for (double u : queries)
            ASSERT_EQ(search.upper_bound(u), static_cast<std::size_t>(std::upper_bound(cum.begin(), cum.end(), u) -
                                                                       cum.begin()))
                << n << " " << u;
    }
}
