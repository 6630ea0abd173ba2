// HNSW against exact kNN on real data (the Fashion-MNIST PCA-50 test subset), true distances, queries,
// duplicates and reproducibility.
#include <gtest/gtest.h>

#include <cmath>

#include "nembed/neighbors/distance.hpp"
#include "nembed/neighbors/exact.hpp"
#include "nembed/neighbors/hnsw.hpp"
#include "nembed/neighbors/knn.hpp"
#include "neighbors_test_util.hpp"

using namespace nembed;
using namespace nembed::testing;

namespace {

const Matrix<float>& fmnist() {
    static const Matrix<float> x = read_npy_f32(std::string(NEMBED_TEST_DATA_DIR) + "/fmnist_4000_pca50.npy");
    return x;
}

// Exact graphs computed once (k = 90 contains k = 15 as its first 15 columns).
const KnnGraph& fmnist_exact(Metric m) {
    static KnnGraph euclid = make_exact_index(fmnist().view(), Metric::euclidean, 2)->self_neighbors(90);
    static KnnGraph cosine = make_exact_index(fmnist().view(), Metric::cosine, 2)->self_neighbors(90);
    return m == Metric::cosine ? cosine : euclid;
}

KnnGraph first_columns(const KnnGraph& g, std::size_t k) {
    KnnGraph out;
    out.n_points = g.n_points;
    out.k = k;
    out.n_reference = g.n_reference;
    for (std::size_t i = 0; i < g.n_points; ++i) {
        out.indices.insert(out.indices.end(), g.neighbors(i), g.neighbors(i) + k);
        out.distances.insert(out.distances.end(), g.dists(i), g.dists(i) + k);
    }
    return out;
}

TEST(HnswKnn, TestDataIsTheExpectedSubset) {
    ASSERT_EQ(fmnist().rows(), 4000u);
    ASSERT_EQ(fmnist().cols(), 50u);
}

TEST(HnswKnn, DefaultSettingsRecallOnFashionMnist) {
    KnnOptions opt;  // defaults: M 16, ef_construction 200, ef = min(2k, N)
    opt.method = KnnMethod::hnsw;
    opt.n_threads = 2;
    auto index = build_knn_index(fmnist().view(), opt);
    KnnGraph g90 = index->self_neighbors(90);
    g90.validate("hnsw k=90");
    const double r90 = recall(g90, fmnist_exact(Metric::euclidean));
    KnnGraph g15 = index->self_neighbors(15);
    g15.validate("hnsw k=15");
    const double r15 = recall(g15, first_columns(fmnist_exact(Metric::euclidean), 15));
    std::printf("HNSW recall on fmnist_4000_pca50: k=90 %.5f, k=15 %.5f\n", r90, r15);
    EXPECT_GE(r90, 0.99);
    EXPECT_GT(r15, 0.98);

    // Returned distances are true Euclidean distances (not hnswlib's squared L2), recomputed in double, sorted,
    // and self is never a neighbour.
    const auto& x = fmnist();
    for (std::size_t i = 0; i < g90.n_points; ++i) {
        for (std::size_t t = 0; t < 90; ++t) {
            const index_t j = g90.neighbors(i)[t];
            ASSERT_NE(j, static_cast<index_t>(i));
            const double want = naive_distance(x.row(i), x.row(static_cast<std::size_t>(j)), x.cols(), Metric::euclidean);
            ASSERT_NEAR(g90.dists(i)[t], want, 1e-6 * want) << "row " << i;
        }
    }
    // Where HNSW found the true neighbour, its distance equals the exact index's.
    const KnnGraph& ex = fmnist_exact(Metric::euclidean);
    for (std::size_t i = 0; i < 4000; ++i) ASSERT_EQ(g90.dists(i)[0], ex.dists(i)[0]);
}

TEST(HnswKnn, CosineRecall) {
    KnnOptions opt;
    opt.method = KnnMethod::hnsw;
    opt.metric = Metric::cosine;
    opt.n_threads = 2;
    KnnGraph g = find_neighbors(fmnist().view(), 90, opt);
    const double r = recall(g, fmnist_exact(Metric::cosine));
    std::printf("HNSW cosine recall@90: %.5f\n", r);
    EXPECT_GE(r, 0.99);
    const auto& x = fmnist();
    for (std::size_t i = 0; i < 4000; i += 7)
        for (std::size_t t = 0; t < 90; ++t) {
            const double want = naive_distance(x.row(i), x.row(static_cast<std::size_t>(g.neighbors(i)[t])), 50,
                                               Metric::cosine);
            ASSERT_NEAR(g.dists(i)[t], want, 1e-5 * want + 1e-7);
        }
}

TEST(HnswKnn, QueryNewPoints) {
    // Index the first 3000 points, query the last 1000: compare with the exact index's answer.
    const auto& x = fmnist();
    MatrixView<float> ref{x.data(), 3000, 50};
    MatrixView<float> q{x.row(3000), 1000, 50};
    KnnOptions opt;
    opt.method = KnnMethod::hnsw;
    opt.n_threads = 2;
    KnnGraph g = build_knn_index(ref, opt)->query(q, 15);
    EXPECT_EQ(g.n_points, 1000u);
    EXPECT_EQ(g.n_reference, 3000u);
    g.validate("hnsw query");
    KnnGraph e = make_exact_index(ref, Metric::euclidean, 2)->query(q, 15);
    const double r = recall(g, e);
    std::printf("HNSW query recall@15: %.5f\n", r);
    EXPECT_GT(r, 0.98);
}

TEST(HnswKnn, SingleThreadIsReproducible) {
    MatrixView<float> x{fmnist().data(), 1500, 50};
    KnnOptions opt;
    opt.method = KnnMethod::hnsw;
    opt.n_threads = 1;
    opt.seed = 42;
    KnnGraph a = find_neighbors(x, 15, opt);
    KnnGraph b = find_neighbors(x, 15, opt);
    EXPECT_EQ(a.indices, b.indices);
    EXPECT_EQ(a.distances, b.distances);
}

TEST(HnswKnn, BatchBuildIsIndependentOfThreadsAndAsGoodAsSerialInsertion) {
    // The default build (hnsw.cpp, build_in_batches) searches each batch's points in parallel against the graph
    // before the batch: the same graph for 1, 2 and 3 threads. hnsw_parallel_build with one thread is hnswlib's own
    // serial insertion, the reference; a small M and ef_construction keep the recall below 1, so that a worse
    // graph would show.
    MatrixView<float> x{fmnist().data(), 4000, 50};
    KnnOptions opt;
    opt.method = KnnMethod::hnsw;
    opt.hnsw_m = 6;
    opt.hnsw_ef_construction = 16;
    opt.hnsw_ef = 16;
    opt.seed = 7;
    opt.n_threads = 1;
    const KnnGraph one = find_neighbors(x, 15, opt);
    for (int t : {2, 3}) {
        opt.n_threads = t;
        const KnnGraph g = find_neighbors(x, 15, opt);
        EXPECT_EQ(g.indices, one.indices) << t << " threads";
        EXPECT_EQ(g.distances, one.distances) << t << " threads";
    }
    opt.n_threads = 1;
    opt.hnsw_parallel_build = true;
    const KnnGraph serial = find_neighbors(x, 15, opt);
    KnnOptions eo;
    eo.method = KnnMethod::exact;
    eo.n_threads = 2;
    const KnnGraph e = find_neighbors(x, 15, eo);
    const double r_batch = recall(one, e), r_serial = recall(serial, e);
    std::printf("recall@15, M = 6, ef 16: batch build %.5f, hnswlib serial insertion %.5f\n", r_batch, r_serial);
    EXPECT_LT(r_serial, 0.995);  // the setting leaves room to be worse
    EXPECT_GE(r_batch, r_serial - 0.005);
}

TEST(HnswKnn, EveryPointDuplicated) {
    const std::size_t n = 600;
    Matrix<float> x(2 * n, 50);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t d = 0; d < 50; ++d) x(i, d) = x(n + i, d) = fmnist()(i, d);
    KnnOptions opt;
    opt.method = KnnMethod::hnsw;
    opt.n_threads = 2;
    KnnGraph g = find_neighbors(x.view(), 10, opt);
    for (std::size_t i = 0; i < 2 * n; ++i) {
        EXPECT_EQ(g.neighbors(i)[0], static_cast<index_t>(i < n ? i + n : i - n)) << "row " << i;
        EXPECT_EQ(g.dists(i)[0], 0.0f);
        for (std::size_t t = 0; t < 10; ++t) ASSERT_NE(g.neighbors(i)[t], static_cast<index_t>(i));
    }
}

TEST(HnswKnn, ManyCopiesCrowdOutSelf) {
    // 40 identical points and k = 10: HNSW may not return the point itself among its k + 1 results; then the
    // farthest is dropped. Either way: k copies at distance 0, never the point itself.
    Matrix<float> x = random_matrix(300, 8, 17);
    for (std::size_t i = 0; i < 40; ++i)
        for (std::size_t d = 0; d < 8; ++d) x(i, d) = 0.25f;
    KnnOptions opt;
    opt.method = KnnMethod::hnsw;
    opt.n_threads = 2;
    KnnGraph g = find_neighbors(x.view(), 10, opt);
    for (std::size_t i = 0; i < 40; ++i)
        for (std::size_t t = 0; t < 10; ++t) {
            ASSERT_NE(g.neighbors(i)[t], static_cast<index_t>(i));
            ASSERT_LT(g.neighbors(i)[t], 40);
            ASSERT_EQ(g.dists(i)[t], 0.0f);
        }
}

TEST(HnswKnn, InnerProductMatchesExactOnSmallNorms) {
    MatrixView<float> xv{fmnist().data(), 1200, 50};
    Matrix<float> x = convert<float>(xv);
    for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] *= 0.01f;
    KnnOptions opt;
    opt.method = KnnMethod::hnsw;
    opt.metric = Metric::inner_product;
    opt.n_threads = 2;
    KnnGraph g = find_neighbors(x.view(), 15, opt);
    KnnGraph e = make_exact_index(x.view(), Metric::inner_product, 2)->self_neighbors(15);
    EXPECT_GT(recall(g, e), 0.95);
    for (std::size_t i = 0; i < 1200; ++i)
        for (std::size_t t = 0; t < 15; ++t) {
            const double want = naive_distance(x.row(i), x.row(static_cast<std::size_t>(g.neighbors(i)[t])), 50,
                                               Metric::inner_product);
            ASSERT_NEAR(g.dists(i)[t], want, 1e-6 * std::abs(want) + 1e-7);
        }
}

TEST(FindNeighbors, AutoIsExactUpToItsWorkLimit) {
    // The rule: exact below 1000 points, or while N^2 * D <= 4e11 (1e13 and N <= 450 000 on the tiled path); HNSW
    // above; explicit
    // choices pass through.
    EXPECT_EQ(resolve_knn_method(KnnMethod::auto_, 999, 10'000'000), KnnMethod::exact);
    EXPECT_EQ(resolve_knn_method(KnnMethod::auto_, 1000, 400'000), KnnMethod::exact);   // 4e11 exactly
    EXPECT_EQ(resolve_knn_method(KnnMethod::auto_, 1000, 400'001), KnnMethod::hnsw);
    EXPECT_EQ(resolve_knn_method(KnnMethod::auto_, 70'000, 50), KnnMethod::exact);      // Fashion-MNIST PCA-50
    EXPECT_EQ(resolve_knn_method(KnnMethod::auto_, 70'000, 784), KnnMethod::hnsw);      // its raw pixels
    EXPECT_EQ(resolve_knn_method(KnnMethod::auto_, 89'443, 50), KnnMethod::hnsw);
    // The tiled float32 search (dense euclidean, cosine, inner product) is exact up to 1e13 and 450 000 points.
    EXPECT_EQ(resolve_knn_method(KnnMethod::auto_, 89'443, 50, true), KnnMethod::exact);
    EXPECT_EQ(resolve_knn_method(KnnMethod::auto_, 1000, 10'000'000, true), KnnMethod::exact);  // 1e13 exactly
    EXPECT_EQ(resolve_knn_method(KnnMethod::auto_, 1000, 10'000'001, true), KnnMethod::hnsw);
    EXPECT_EQ(resolve_knn_method(KnnMethod::auto_, 300'000, 50, true), KnnMethod::exact);
    EXPECT_EQ(resolve_knn_method(KnnMethod::auto_, 447'214, 50, true), KnnMethod::hnsw);
    EXPECT_EQ(resolve_knn_method(KnnMethod::auto_, 60'000, 784, true), KnnMethod::exact);      // raw pixels
    EXPECT_EQ(resolve_knn_method(KnnMethod::auto_, 112'000, 784, true), KnnMethod::exact);
    EXPECT_EQ(resolve_knn_method(KnnMethod::auto_, 113'000, 784, true), KnnMethod::hnsw);
    EXPECT_EQ(resolve_knn_method(KnnMethod::auto_, 450'000, 2, true), KnnMethod::exact);       // the point cap
    EXPECT_EQ(resolve_knn_method(KnnMethod::auto_, 450'001, 2, true), KnnMethod::hnsw);
    EXPECT_EQ(resolve_knn_method(KnnMethod::hnsw, 10, 2), KnnMethod::hnsw);
    EXPECT_EQ(resolve_knn_method(KnnMethod::exact, 1'000'000, 784), KnnMethod::exact);
    // find_neighbors follows it: a deliberately poor HNSW (M = 2, ef_construction = 1) misses neighbours, so auto
    // on 1000 x 50 points (exact) differs from it and equals the exact graph.
    KnnOptions opt;
    opt.n_threads = 1;
    opt.hnsw_m = 2;
    opt.hnsw_ef_construction = 1;
    opt.hnsw_ef = 1;
    MatrixView<float> x1000{fmnist().data(), 1000, 50};
    KnnGraph exact1000 = make_exact_index(x1000, Metric::euclidean, 1)->self_neighbors(15);
    EXPECT_EQ(find_neighbors(x1000, 15, opt).indices, exact1000.indices);
    opt.method = KnnMethod::hnsw;
    EXPECT_LT(recall(find_neighbors(x1000, 15, opt), exact1000), 1.0);
}

} // namespace
