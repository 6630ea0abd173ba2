// UMAP's fuzzy simplicial set: the defining equations, and equality with umap-learn on a committed fixture
// (tests/data/umap_fuzzy_600.npz, written by tests/data/make_umap_fuzzy_fixture.py with umap-learn).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "affinity_test_util.hpp"
#include "nembed/affinity/fuzzy.hpp"
#include "nembed/core/error.hpp"
#include "nembed/io/npz.hpp"

using namespace nembed;
using namespace nembed::testing;

TEST(Fuzzy, SigmaSolvesTheSmoothKnnEquation) {
    auto x = gaussian_data(400, 5, 21);
    auto g = brute_knn(x, 14);  // umap-learn's n_neighbors = 15
    FuzzyOptions o;
    o.n_threads = 2;
    auto c = smooth_knn_distances(g, o);
    const double target = std::log2(15.0);
    for (std::size_t i = 0; i < 400; ++i) {
        EXPECT_FLOAT_EQ(float(c.rho[i]), g.dists(i)[0]);  // local_connectivity 1: the nearest non-zero distance
        double s = 0;
        for (std::size_t j = 0; j < 14; ++j) s += std::exp(-std::max(0.0, double(g.dists(i)[j]) - c.rho[i]) / c.sigma[i]);
        EXPECT_NEAR(s, target, 1e-4) << "row " << i;
    }
    // the transform rules: target log2(k), first neighbour left out of the sum
    o.self_in_count = false;
    auto t = smooth_knn_distances(g, o);
    for (std::size_t i = 0; i < 400; i += 37) {
        double s = 0;
        for (std::size_t j = 1; j < 14; ++j) s += std::exp(-std::max(0.0, double(g.dists(i)[j]) - t.rho[i]) / t.sigma[i]);
        EXPECT_NEAR(s, std::log2(14.0), 1e-4);
    }
}

TEST(Fuzzy, LocalConnectivityAndDuplicates) {
    auto x = gaussian_data(100, 3, 22);
    for (std::size_t t = 0; t < 3; ++t) x(1, t) = x(0, t);  // point 1 duplicates point 0
    auto g = brute_knn(x, 9);
    FuzzyOptions o;
    auto c = smooth_knn_distances(g, o);
    ASSERT_EQ(g.dists(0)[0], 0.0f);
    EXPECT_FLOAT_EQ(float(c.rho[0]), g.dists(0)[1]);  // the zero distance is skipped
    o.local_connectivity = 0;
    EXPECT_EQ(smooth_knn_distances(g, o).rho[5], 0.0);
    o.local_connectivity = 2.5;
    auto c2 = smooth_knn_distances(g, o);
    const double want = g.dists(5)[1] + 0.5 * (double(g.dists(5)[2]) - g.dists(5)[1]);
    EXPECT_NEAR(c2.rho[5], want, 1e-6);
    o.local_connectivity = -1;
    EXPECT_THROW(smooth_knn_distances(g, o), InvalidArgument);
}

TEST(Fuzzy, SetIsSymmetricUnionOfMemberships) {
    auto x = gaussian_data(300, 4, 23);
    auto g = brute_knn(x, 10);
    FuzzyOptions o;
    FuzzyCalibration c;
    auto P = fuzzy_simplicial_set(g, o, &c);
    auto A = dense(fuzzy_memberships(g, c));
    auto D = dense(P);
    for (std::size_t i = 0; i < 300; ++i) {
        EXPECT_EQ(D[i * 300 + i], 0.0);
        for (std::size_t j = 0; j < 300; ++j) {
            double a = A[i * 300 + j], b = A[j * 300 + i];
            EXPECT_NEAR(D[i * 300 + j], a + b - a * b, 1e-15);
            EXPECT_LE(D[i * 300 + j], 1.0);
        }
    }
    for (std::size_t i = 0; i < 300; ++i) EXPECT_DOUBLE_EQ(A[i * 300 + g.neighbors(i)[0]], 1.0);  // d = ρ
}

namespace {
std::vector<double> as_double(const NdArray& a) {
    std::vector<double> v(a.size());
    a.copy_to(v.data());
    return v;
}
} // namespace

TEST(Fuzzy, EqualsUmapLearn) {
    const std::string path = std::string(NEMBED_TEST_DATA_DIR) + "/umap_fuzzy_600.npz";
    ASSERT_TRUE(std::filesystem::exists(path)) << path;
    auto idx = read_npz(path, "knn_indices");
    auto dst = read_npz(path, "knn_dists");
    const std::size_t n = idx.shape[0], kk = idx.shape[1];
    auto I = as_double(idx), Dd = as_double(dst);
    // umap-learn's lists start with the point itself; nembed's graphs never do.
    KnnGraph g;
    g.n_points = g.n_reference = n;
    g.k = kk - 1;
    for (std::size_t i = 0; i < n; ++i) {
        ASSERT_EQ(std::size_t(I[i * kk]), i);
        for (std::size_t j = 1; j < kk; ++j) {
            g.indices.push_back(index_t(I[i * kk + j]));
            g.distances.push_back(float(Dd[i * kk + j]));
        }
    }
    for (std::string s : {"a", "b"}) {
        FuzzyOptions o;
        o.local_connectivity = read_npz(path, "local_connectivity_" + s).value(0);
        o.set_op_mix_ratio = read_npz(path, "set_op_mix_ratio_" + s).value(0);
        FuzzyCalibration c;
        auto P = fuzzy_simplicial_set(g, o, &c);
        auto rho = as_double(read_npz(path, "rhos_" + s)), sigma = as_double(read_npz(path, "sigmas_" + s));
        for (std::size_t i = 0; i < n; ++i) {
            EXPECT_NEAR(c.rho[i], rho[i], 1e-6 * (1 + rho[i])) << s << " row " << i;
            // both stop at |Σ − target| < 1e-5 and umap-learn sums in float32, so σ agrees to ~1e-5
            EXPECT_NEAR(c.sigma[i], sigma[i], 2e-5 * (1 + sigma[i])) << s << " row " << i;
        }
        auto ip = as_double(read_npz(path, "graph_" + s + "_indptr"));
        auto ix = as_double(read_npz(path, "graph_" + s + "_indices"));
        auto iv = as_double(read_npz(path, "graph_" + s + "_data"));
        std::vector<double> want(n * n, 0.0);
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t p = std::size_t(ip[i]); p < std::size_t(ip[i + 1]); ++p) want[i * n + std::size_t(ix[p])] = iv[p];
        auto got = dense(P);
        double worst = 0;
        for (std::size_t p = 0; p < want.size(); ++p) worst = std::max(worst, std::abs(got[p] - want[p]));
        EXPECT_LT(worst, 1e-5) << "setting " << s;
        EXPECT_EQ(P.nnz(), iv.size()) << "setting " << s;
    }
}
