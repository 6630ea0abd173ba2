// Neighbours must not depend on where the data sit or on their scale (issue #19, item 3): the Fashion-MNIST PCA-50
// test subset (2000 points, k = 15) plus 1e4, times 1e36, times 1e-40 (denormal float32) and with a constant column
// of 1e30 added. Before the indexes centred and rescaled their float32 working copies, exact kNN agreed with the
// original graph on 0.019 (+1e4) and 0.011 (the others) of the neighbours, HNSW on 0.007 (x1e36, x1e-40).
//
// Tolerances: the transformed data are rounded to float32 (+1e4 moves a value by up to 2^-11, x1e-40 keeps about
// 17 significant bits), so a few near-ties can legitimately swap against the original graph: agreement >= 0.99 for
// exact (measured 0.9996-1), >= 0.95 of the original exact graph for HNSW (its recall on the original is ~0.99).
// Against a naive double-precision search of the *same* transformed data the exact index must be right up to exact
// ties (>= 0.9995) with distances equal to rel 1e-5 (the float32 output's rounding).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "nembed/core/error.hpp"
#include "nembed/neighbors/distance.hpp"
#include "nembed/neighbors/exact.hpp"
#include "nembed/neighbors/hnsw.hpp"
#include "nembed/neighbors/knn.hpp"
#include "neighbors_test_util.hpp"

using namespace nembed;
using namespace nembed::testing;

namespace {

constexpr std::size_t kN = 2000, kK = 15;

const Matrix<float>& base() {
    static const Matrix<float> x = [] {
        const Matrix<float> all = read_npy_f32(std::string(NEMBED_TEST_DATA_DIR) + "/fmnist_4000_pca50.npy");
        Matrix<float> s(kN, all.cols());
        std::copy(all.data(), all.data() + s.size(), s.data());
        return s;
    }();
    return x;
}

struct Variant {
    const char* name;
    std::function<Matrix<float>(const Matrix<float>&)> make;
    double distance_scale;  // distances of the variant / distances of the original (1 when not a pure scaling)
};

Matrix<float> map_values(const Matrix<float>& x, const std::function<double(double)>& f) {
    Matrix<float> y(x.rows(), x.cols());
    for (std::size_t i = 0; i < x.size(); ++i) y.data()[i] = static_cast<float>(f(x.data()[i]));
    return y;
}

std::vector<Variant> variants() {
    return {
        {"offset 1e4", [](const Matrix<float>& x) { return map_values(x, [](double v) { return v + 1e4; }); }, 1.0},
        {"scale 1e36", [](const Matrix<float>& x) { return map_values(x, [](double v) { return v * 1e36; }); }, 1e36},
        {"scale 1e-40 (denormal)",
         [](const Matrix<float>& x) { return map_values(x, [](double v) { return v * 1e-40; }); }, 1e-40},
        {"column of 1e30",
         [](const Matrix<float>& x) {
             Matrix<float> y(x.rows(), x.cols() + 1);
             for (std::size_t i = 0; i < x.rows(); ++i) {
                 std::copy(x.row(i), x.row(i) + x.cols(), y.row(i));
                 y(i, x.cols()) = 1e30f;
             }
             return y;
         },
         1.0},
    };
}

// The naive double-precision graph of `x` as a KnnGraph (k columns).
KnnGraph naive_graph(const Matrix<float>& x, std::size_t k) {
    const NaiveKnn nk = naive_knn(x.view(), x.view(), true, Metric::euclidean, k);
    KnnGraph g = KnnGraph::sized(x.rows(), k, x.rows());
    for (std::size_t i = 0; i < x.rows(); ++i)
        for (std::size_t t = 0; t < k; ++t) {
            g.indices[i * k + t] = nk.rows[i][t].second;
            g.distances[i * k + t] = static_cast<float>(nk.rows[i][t].first);
        }
    return g;
}

const KnnGraph& original_graph() {
    static const KnnGraph g = make_exact_index(base().view(), Metric::euclidean, 2)->self_neighbors(kK);
    return g;
}

// Matching entries' distances relative to `truth` (scaled by `scale`): the largest relative difference.
double max_rel_distance_error(const KnnGraph& g, const KnnGraph& truth, double scale) {
    double worst = 0;
    for (std::size_t i = 0; i < g.n_points; ++i)
        for (std::size_t t = 0; t < g.k; ++t)
            if (g.neighbors(i)[t] == truth.neighbors(i)[t]) {
                const double a = g.dists(i)[t], b = static_cast<double>(truth.dists(i)[t]) * scale;
                worst = std::max(worst, std::abs(a - b) / std::max(std::abs(b), 1e-300));
            }
    return worst;
}

TEST(KnnOffsetScale, ExactSelfGraphIsTheSameWhereverTheDataSit) {
    for (const Variant& v : variants()) {
        const Matrix<float> x = v.make(base());
        const KnnGraph g = make_exact_index(x.view(), Metric::euclidean, 2)->self_neighbors(kK);
        const KnnGraph truth = naive_graph(x, kK);
        const double vs_truth = recall(g, truth), vs_original = recall(g, original_graph());
        std::printf("exact, %s: agreement with the original graph %.4f, with naive double on the same data %.4f\n",
                    v.name, vs_original, vs_truth);
        EXPECT_GE(vs_truth, 0.9995) << v.name;
        EXPECT_GE(vs_original, 0.99) << v.name;
        EXPECT_LE(max_rel_distance_error(g, truth, 1.0), 1e-5) << v.name;
        if (v.distance_scale != 1.0) {  // a pure scaling: the distances are the original ones times it
            EXPECT_LE(max_rel_distance_error(g, original_graph(), v.distance_scale), 1e-4) << v.name;
        }
    }
}

TEST(KnnOffsetScale, ExactQueriesUseTheReferenceTransform) {
    for (const Variant& v : variants()) {
        const Matrix<float> x = v.make(base());
        Matrix<float> ref(kN - 200, x.cols()), q(200, x.cols());
        std::copy(x.data(), x.data() + ref.size(), ref.data());
        std::copy(x.data() + ref.size(), x.data() + x.size(), q.data());
        const KnnGraph g = make_exact_index(ref.view(), Metric::euclidean, 2)->query(q.view(), kK);
        const NaiveKnn nk = naive_knn(ref.view(), q.view(), false, Metric::euclidean, kK);
        std::size_t same = 0;
        for (std::size_t i = 0; i < q.rows(); ++i)
            for (std::size_t t = 0; t < kK; ++t) same += g.neighbors(i)[t] == nk.rows[i][t].second ? 1 : 0;
        EXPECT_GE(static_cast<double>(same) / static_cast<double>(q.rows() * kK), 0.999) << v.name;
    }
}

TEST(KnnOffsetScale, HnswRecallDoesNotDependOnOffsetOrScale) {
    for (const Variant& v : variants()) {
        const Matrix<float> x = v.make(base());
        KnnOptions opt;
        opt.n_threads = 2;
        const KnnGraph g = make_hnsw_index(x.view(), opt)->self_neighbors(kK);
        const double r = recall(g, original_graph());
        std::printf("hnsw, %s: recall of the original exact graph %.4f\n", v.name, r);
        EXPECT_GE(r, 0.95) << v.name;
    }
}

TEST(KnnOffsetScale, FarQueriesAreAnsweredExactly) {
    // References near 1e-30, queries near 1e30: in the reference's working units the queries are ~2^200 away, far
    // beyond float32 keys; those rows take the exact scan.
    const Matrix<float> ref = random_matrix(300, 8, 3, 1e-30), q = random_matrix(20, 8, 4, 1e30);
    const NaiveKnn nk = naive_knn(ref.view(), q.view(), false, Metric::euclidean, 5);
    KnnOptions opt;
    opt.n_threads = 2;
    for (const auto& index : {make_exact_index(ref.view(), Metric::euclidean, 2), make_hnsw_index(ref.view(), opt)}) {
        const KnnGraph g = index->query(q.view(), 5);
        for (std::size_t i = 0; i < q.rows(); ++i)
            for (std::size_t t = 0; t < 5; ++t) {
                EXPECT_EQ(g.neighbors(i)[t], nk.rows[i][t].second);
                EXPECT_NEAR(g.dists(i)[t], nk.rows[i][t].first, 1e-6 * nk.rows[i][t].first);
            }
    }
}

TEST(KnnOffsetScale, InnerProductAndCosineAtExtremeScales) {
    // (inner product at 1e-40 is left out: every 1 - <x, y> rounds to 1 in double, an all-tie order)
    for (double scale : {1e36, 1e-40}) {
        const Matrix<float> x = map_values(random_matrix(500, 10, 7), [&](double v) { return v * scale; });
        for (Metric m : {Metric::inner_product, Metric::cosine}) {
            if (m == Metric::inner_product && scale < 1) continue;
            const KnnGraph g = make_exact_index(x.view(), m, 2)->self_neighbors(10);
            const NaiveKnn nk = naive_knn(x.view(), x.view(), true, m, 10);
            std::size_t same = 0;
            for (std::size_t i = 0; i < x.rows(); ++i)
                for (std::size_t t = 0; t < 10; ++t) same += g.neighbors(i)[t] == nk.rows[i][t].second ? 1 : 0;
            EXPECT_GE(static_cast<double>(same) / 5000.0, 0.999) << to_string(m) << " x " << scale;
        }
    }
}

} // namespace

// The map from global quantities (what the distributed ring builds from column sums and a max over ranks) is the
// map of the whole data, and an index given it returns the bits of the index that builds it itself.
TEST(KnnOffsetScale, GivenSearchMapEqualsTheIndexsOwn) {
    const Matrix<float> x = [] {
        Matrix<float> s(kN, base().cols());
        for (std::size_t t = 0; t < s.size(); ++t) s.data()[t] = base().data()[t] + 1e4f;
        return s;
    }();
    for (Metric m : {Metric::euclidean, Metric::inner_product, Metric::cosine}) {
        SCOPED_TRACE(to_string(m));
        const SearchTransform own(x.view(), m);
        const std::vector<double> mean = m == Metric::euclidean ? own.shift : std::vector<double>{};
        const SearchTransform given(m, mean, SearchTransform::largest_offset(x.view(), mean));
        EXPECT_EQ(given.shift, own.shift);
        EXPECT_EQ(given.scale, own.scale);
        const KnnGraph a = make_exact_index(x.view(), m, 2)->self_neighbors(kK);
        const KnnGraph b = make_exact_index(x.view(), m, 2, given)->self_neighbors(kK);
        EXPECT_EQ(a.indices, b.indices);
        EXPECT_EQ(a.distances, b.distances);
    }
    const SearchTransform tf(x.view(), Metric::euclidean);
    EXPECT_THROW(make_exact_index(x.view(), Metric::cosine, 1, tf), InvalidArgument);  // built for another metric
    const MatrixView<float> fewer{x.data(), kN / 2, 10};  // 10 columns, the map has 50 means
    EXPECT_THROW(make_exact_index(fewer, Metric::euclidean, 1, tf), InvalidArgument);
    EXPECT_THROW(make_exact_index(x.view(), Metric::manhattan, 1, SearchTransform(x.view(), Metric::manhattan)),
                 InvalidArgument);
}
