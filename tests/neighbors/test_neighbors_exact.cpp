// Exact kNN against a naive O(N^2) double-precision brute force, thread-count invariance, duplicates, queries.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "nembed/core/error.hpp"
#include "nembed/neighbors/exact.hpp"
#include "nembed/neighbors/knn.hpp"
#include "neighbors_test_util.hpp"

using namespace nembed;
using namespace nembed::testing;

namespace {

// Indices must match the naive ranking exactly wherever the naive distance at that position is separated from
// its neighbours in the ranking (positions t-1, t+1, including the (k+1)-th) by more than 1e-5 relative; the
// distances must match within 1e-5 relative (+1e-7 absolute, for values near 0) at every position.
void expect_matches_naive(const KnnGraph& g, const NaiveKnn& naive, std::size_t k) {
    ASSERT_EQ(g.k, k);
    std::size_t compared = 0;
    for (std::size_t i = 0; i < g.n_points; ++i) {
        const auto& r = naive.rows[i];
        ASSERT_GE(r.size(), k);
        for (std::size_t t = 0; t < k; ++t) {
            const double want = r[t].first, got = g.dists(i)[t];
            ASSERT_NEAR(got, want, 1e-5 * std::abs(want) + 1e-7) << "row " << i << " pos " << t;
            auto close = [&](std::size_t u) { return std::abs(r[u].first - want) <= 1e-5 * std::abs(want) + 1e-7; };
            bool tie = (t > 0 && close(t - 1)) || (t + 1 < r.size() && close(t + 1));
            if (!tie) {
                ASSERT_EQ(g.neighbors(i)[t], r[t].second) << "row " << i << " pos " << t;
                ++compared;
            }
        }
    }
    EXPECT_GT(compared, g.n_points * k * 9 / 10);  // ties are rare on random data
}

struct Case {
    Metric metric;
    std::size_t n, d, k;
};

class ExactVsNaive : public ::testing::TestWithParam<Case> {};

TEST_P(ExactVsNaive, SelfNeighboursMatchBruteForce) {
    const Case c = GetParam();
    // Scale 0.2 keeps inner products small so 1 - <x,y> stays mostly positive (negatives only warn).
    Matrix<float> x = random_matrix(c.n, c.d, 11, c.metric == Metric::inner_product ? 0.2 : 1.0);
    NaiveKnn naive = naive_knn(x.view(), x.view(), true, c.metric, c.k + 1);
    auto index = make_exact_index(x.view(), c.metric, 1);
    KnnGraph g1 = index->self_neighbors(c.k);
    if (c.metric != Metric::inner_product) g1.validate("exact");  // 1 - <x,y> may be negative
    EXPECT_EQ(g1.n_points, c.n);
    EXPECT_EQ(g1.n_reference, c.n);
    expect_matches_naive(g1, naive, c.k);
    for (std::size_t i = 0; i < c.n; ++i)
        for (std::size_t t = 0; t < c.k; ++t) ASSERT_NE(g1.neighbors(i)[t], static_cast<index_t>(i));
    // Bit-identical for any thread count.
    for (int threads : {2, 3}) {
        KnnGraph gt = make_exact_index(x.view(), c.metric, threads)->self_neighbors(c.k);
        EXPECT_EQ(gt.indices, g1.indices) << threads << " threads";
        EXPECT_EQ(gt.distances, g1.distances) << threads << " threads";
    }
    // Every key kernel this CPU runs (AVX-512, AVX2 + FMA, SSE2) gives the same graph: the keys differ in rounding
    // only, and the final order is decided in double.
    for (const std::string& isa : detail::exact_knn_isas()) {
        KnnGraph gi = detail::make_exact_index(x.view(), c.metric, 2, isa)->self_neighbors(c.k);
        EXPECT_EQ(gi.indices, g1.indices) << isa;
        EXPECT_EQ(gi.distances, g1.distances) << isa;
    }
}

TEST_P(ExactVsNaive, QueriesMatchBruteForce) {
    const Case c = GetParam();
    const double scale = c.metric == Metric::inner_product ? 0.2 : 1.0;
    Matrix<float> ref = random_matrix(c.n, c.d, 21, scale);
    Matrix<float> q = random_matrix(301, c.d, 22, scale);
    NaiveKnn naive = naive_knn(ref.view(), q.view(), false, c.metric, c.k + 1);
    auto index = make_exact_index(ref.view(), c.metric, 2);
    KnnGraph g = index->query(q.view(), c.k);
    EXPECT_EQ(g.n_points, 301u);
    EXPECT_EQ(g.n_reference, c.n);
    expect_matches_naive(g, naive, c.k);
    EXPECT_EQ(make_exact_index(ref.view(), c.metric, 1)->query(q.view(), c.k).indices, g.indices);
    for (const std::string& isa : detail::exact_knn_isas())
        EXPECT_EQ(detail::make_exact_index(ref.view(), c.metric, 1, isa)->query(q.view(), c.k).indices, g.indices)
            << isa;
}

TEST(ExactKnn, KernelChoiceIsCheckedAndGenericAlwaysExists) {
    const auto isas = detail::exact_knn_isas();
    ASSERT_FALSE(isas.empty());
    EXPECT_EQ(isas.back(), "generic");
    Matrix<float> x = random_matrix(10, 2, 1);
    EXPECT_THROW(detail::make_exact_index(x.view(), Metric::euclidean, 1, "avx9000"), InvalidArgument);
}

// n = 2500 crosses the 2048-reference panel groups and the 256-row query blocks, and is not a multiple of the
// 32-column panels or of any kernel's row tile (4, 6, 8); its 10 blocks pair up in the self-search's rounds, 2600's
// 11 leave one block out of each round, 300 has 2 blocks (one pair), 97 one (no pairs).
INSTANTIATE_TEST_SUITE_P(Metrics, ExactVsNaive,
                         ::testing::Values(Case{Metric::euclidean, 2500, 16, 10}, Case{Metric::cosine, 2500, 16, 10},
                                           Case{Metric::inner_product, 2500, 16, 10},
                                           Case{Metric::euclidean, 2600, 8, 15},
                                           Case{Metric::euclidean, 97, 5, 96}, Case{Metric::cosine, 300, 3, 30}),
                         [](const auto& info) {
                             return to_string(info.param.metric) + "_n" + std::to_string(info.param.n) + "_k" +
                                    std::to_string(info.param.k);
                         });

TEST(ExactKnn, KEqualsNMinusOneListsEveryOtherPoint) {
    Matrix<float> x = random_matrix(40, 3, 5);
    KnnGraph g = make_exact_index(x.view(), Metric::euclidean, 2)->self_neighbors(39);
    for (std::size_t i = 0; i < 40; ++i) {
        std::vector<index_t> r(g.neighbors(i), g.neighbors(i) + 39);
        std::sort(r.begin(), r.end());
        for (std::size_t t = 0, j = 0; j < 40; ++j) {
            if (j == i) continue;
            ASSERT_EQ(r[t++], static_cast<index_t>(j));
        }
    }
}

TEST(ExactKnn, EveryPointDuplicated) {
    const std::size_t n = 300;
    Matrix<float> base = random_matrix(n, 8, 3);
    Matrix<float> x(2 * n, 8);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t d = 0; d < 8; ++d) x(i, d) = x(n + i, d) = base(i, d);
    for (Metric m : {Metric::euclidean, Metric::cosine}) {
        KnnGraph g = make_exact_index(x.view(), m, 2)->self_neighbors(5);
        for (std::size_t i = 0; i < 2 * n; ++i) {
            const index_t twin = static_cast<index_t>(i < n ? i + n : i - n);
            EXPECT_EQ(g.neighbors(i)[0], twin) << "row " << i;
            EXPECT_EQ(g.dists(i)[0], 0.0f);
            EXPECT_GT(g.dists(i)[1], 0.0f);
            for (std::size_t t = 0; t < 5; ++t) ASSERT_NE(g.neighbors(i)[t], static_cast<index_t>(i));
        }
    }
}

TEST(ExactKnn, ManyCopiesOfOnePointNeverReturnSelf) {
    // 50 identical points (plus 10 others): every neighbour list is 10 copies at distance 0, ties broken by the
    // smaller index, and the point itself is skipped even though it ties with the copies.
    Matrix<float> x = random_matrix(60, 4, 9);
    for (std::size_t i = 0; i < 50; ++i)
        for (std::size_t d = 0; d < 4; ++d) x(i, d) = 1.5f;
    KnnGraph g = make_exact_index(x.view(), Metric::euclidean, 2)->self_neighbors(10);
    for (std::size_t i = 0; i < 50; ++i) {
        index_t expect = 0;
        for (std::size_t t = 0; t < 10; ++t, ++expect) {
            if (expect == static_cast<index_t>(i)) ++expect;
            ASSERT_EQ(g.neighbors(i)[t], expect) << "row " << i;
            ASSERT_EQ(g.dists(i)[t], 0.0f);
        }
    }
}

TEST(ExactKnn, DistancesAreTrueNotSquaredAndAccurateForCloseFarPoints) {
    // Points far from the origin but close to each other: ||x||^2 + ||y||^2 - 2x.y in float32 would lose all
    // digits; the exact recomputation must still give the true distance.
    Matrix<float> x(3, 2);
    x(0, 0) = 1000.0f; x(0, 1) = 1000.0f;
    x(1, 0) = 1000.0f; x(1, 1) = 1000.001f;
    x(2, 0) = 1003.0f; x(2, 1) = 1004.0f;
    KnnGraph g = make_exact_index(x.view(), Metric::euclidean, 1)->self_neighbors(2);
    EXPECT_EQ(g.neighbors(0)[0], 1);
    EXPECT_NEAR(g.dists(0)[0], static_cast<double>(x(1, 1)) - 1000.0, 1e-9);
    EXPECT_EQ(g.neighbors(0)[1], 2);
    EXPECT_NEAR(g.dists(0)[1], 5.0, 1e-6);  // 3-4-5 triangle: sqrt, not 25
}

TEST(ExactKnn, CosineZeroVectorHasDistanceOne) {
    Matrix<float> x(4, 2);
    x(0, 0) = 0; x(0, 1) = 0;
    x(1, 0) = 1; x(1, 1) = 0;
    x(2, 0) = 0; x(2, 1) = 2;
    x(3, 0) = -1; x(3, 1) = 0;
    KnnGraph g = make_exact_index(x.view(), Metric::cosine, 1)->self_neighbors(3);
    for (std::size_t t = 0; t < 3; ++t) EXPECT_DOUBLE_EQ(g.dists(0)[t], 1.0);
    EXPECT_EQ(g.neighbors(1)[0], 0);  // tie at distance 1 between 0 and 2: the smaller index first
    EXPECT_EQ(g.neighbors(1)[1], 2);
    EXPECT_EQ(g.neighbors(1)[2], 3);
    EXPECT_DOUBLE_EQ(g.dists(1)[2], 2.0);
}

TEST(FindNeighbors, AutoUsesExactBelow1000Points) {
    Matrix<float> x = random_matrix(500, 6, 4);
    KnnOptions opt;
    opt.n_threads = 2;
    KnnGraph a = find_neighbors(x.view(), 7, opt);
    KnnGraph e = make_exact_index(x.view(), Metric::euclidean, 1)->self_neighbors(7);
    EXPECT_EQ(a.indices, e.indices);
    EXPECT_EQ(a.distances, e.distances);
}

TEST(Parsing, MetricAndMethodNames) {
    EXPECT_EQ(parse_metric("euclidean"), Metric::euclidean);
    EXPECT_EQ(parse_metric("L2"), Metric::euclidean);
    EXPECT_EQ(parse_metric("cosine"), Metric::cosine);
    EXPECT_EQ(parse_metric("ip"), Metric::inner_product);
    EXPECT_EQ(parse_metric("dot"), Metric::inner_product);
    EXPECT_EQ(parse_metric("inner_product"), Metric::inner_product);
    EXPECT_EQ(parse_knn_method("auto"), KnnMethod::auto_);
    EXPECT_EQ(parse_knn_method("exact"), KnnMethod::exact);
    EXPECT_EQ(parse_knn_method("hnsw"), KnnMethod::hnsw);
    EXPECT_EQ(parse_knn_method("approx"), KnnMethod::hnsw);
    for (Metric m : {Metric::euclidean, Metric::cosine, Metric::inner_product}) EXPECT_EQ(parse_metric(to_string(m)), m);
    for (KnnMethod m : {KnnMethod::auto_, KnnMethod::exact, KnnMethod::hnsw}) EXPECT_EQ(parse_knn_method(to_string(m)), m);
    try {
        parse_metric("manhatan");  // manhattan itself is a metric since metric.hpp
        FAIL();
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("manhatan"), std::string::npos);
    }
    EXPECT_THROW(parse_knn_method("annoy"), InvalidArgument);
}

template <typename F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const InvalidArgument& e) {
        return e.what();
    }
    return "<no InvalidArgument thrown>";
}

TEST(ExactKnnErrors, BadInputsThrowWithNamedProblem) {
    Matrix<float> x = random_matrix(50, 4, 1);
    KnnOptions opt;
    for (KnnMethod m : {KnnMethod::exact, KnnMethod::hnsw}) {
        opt.method = m;
        EXPECT_EQ(error_of([&] { find_neighbors(x.view(), 91, opt); }),
                  "k = 91 must be less than the number of points (50)");
        EXPECT_EQ(error_of([&] { find_neighbors(x.view(), 50, opt); }),
                  "k = 50 must be less than the number of points (50)");
        EXPECT_NE(error_of([&] { find_neighbors(x.view(), 0, opt); }).find("k must be at least 1"), std::string::npos);
        auto index = build_knn_index(x.view(), opt);
        EXPECT_NE(error_of([&] { index->self_neighbors(50); }).find("k = 50 must be less"), std::string::npos);
        EXPECT_NE(error_of([&] { index->self_neighbors(0); }).find("k must be at least 1"), std::string::npos);
        Matrix<float> q3 = random_matrix(5, 3, 2);
        EXPECT_NE(error_of([&] { index->query(q3.view(), 5); }).find("query dimension mismatch"), std::string::npos);
        Matrix<float> q4 = random_matrix(5, 4, 2);
        EXPECT_NE(error_of([&] { index->query(q4.view(), 51); }).find("k = 51 must not exceed the number of reference"),
                  std::string::npos);
        EXPECT_NE(error_of([&] { index->query(q4.view(), 0); }).find("k must be at least 1"), std::string::npos);
        q4(3, 1) = std::nanf("");
        EXPECT_NE(error_of([&] { index->query(q4.view(), 3); }).find("non-finite value at row 3, column 1"),
                  std::string::npos);
        Matrix<float> bad = x;
        bad(7, 2) = std::numeric_limits<float>::quiet_NaN();
        EXPECT_NE(error_of([&] { build_knn_index(bad.view(), opt); }).find("non-finite value at row 7, column 2"),
                  std::string::npos);
        bad(7, 2) = std::numeric_limits<float>::infinity();
        EXPECT_NE(error_of([&] { find_neighbors(bad.view(), 3, opt); }).find("non-finite value at row 7"),
                  std::string::npos);
        Matrix<float> empty(0, 4);
        EXPECT_NE(error_of([&] { build_knn_index(empty.view(), opt); }).find("no points"), std::string::npos);
        EXPECT_NE(error_of([&] { find_neighbors(empty.view(), 3, opt); }).find("no points"), std::string::npos);
        Matrix<float> nodims(10, 0);
        EXPECT_NE(error_of([&] { build_knn_index(nodims.view(), opt); }).find("no dimensions"), std::string::npos);
        KnnOptions t0 = opt;
        t0.n_threads = 0;
        EXPECT_NE(error_of([&] { build_knn_index(x.view(), t0); }).find("n_threads"), std::string::npos);
    }
    opt.method = KnnMethod::hnsw;
    KnnOptions o = opt;
    o.hnsw_m = 1;
    EXPECT_NE(error_of([&] { build_knn_index(x.view(), o); }).find("hnsw_m"), std::string::npos);
    o = opt;
    o.hnsw_ef_construction = 0;
    EXPECT_NE(error_of([&] { build_knn_index(x.view(), o); }).find("hnsw_ef_construction"), std::string::npos);
    o = opt;
    o.hnsw_ef = -1;
    EXPECT_NE(error_of([&] { build_knn_index(x.view(), o); }).find("hnsw_ef"), std::string::npos);
}

TEST(ExactKnn, EmptyQueryGivesEmptyGraph) {
    Matrix<float> x = random_matrix(20, 3, 1);
    Matrix<float> q(0, 3);
    KnnGraph g = make_exact_index(x.view(), Metric::euclidean, 2)->query(q.view(), 4);
    EXPECT_EQ(g.n_points, 0u);
    EXPECT_TRUE(g.indices.empty());
}

} // namespace

// The candidates' double-precision distances (the rescan that orders and certifies them) give the same bits in every
// kernel set: AVX-512 transposes the candidate rows in registers 8 dimensions at a time, the others through a scalar
// block. 37 dimensions: four transposed groups and a tail of 5; 9 candidates per row and per group: a partial group.
TEST(ExactKnn, CandidateDistancesSameBitsInEveryKernelSet) {
    const Matrix<float> x = random_matrix(700, 37, 8);
    const Matrix<float> q = random_matrix(50, 37, 9);
    KnnGraph self_ref, query_ref;
    for (const std::string& isa : detail::exact_knn_isas()) {
        const auto index = detail::make_exact_index(x.view(), Metric::euclidean, 2, isa);
        const KnnGraph s = index->self_neighbors(9), g = index->query(q.view(), 9);
        if (self_ref.indices.empty()) {
            self_ref = s;
            query_ref = g;
            continue;
        }
        EXPECT_EQ(s.indices, self_ref.indices) << isa;
        EXPECT_EQ(g.indices, query_ref.indices) << isa;
        ASSERT_EQ(0, std::memcmp(s.distances.data(), self_ref.distances.data(), s.distances.size() * sizeof(float)))
            << isa;
        ASSERT_EQ(0, std::memcmp(g.distances.data(), query_ref.distances.data(), g.distances.size() * sizeof(float)))
            << isa;
    }
}
