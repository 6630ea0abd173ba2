// Symmetrisation rules, uniform and precomputed affinities.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "affinity_test_util.hpp"
#include "nembed/affinity/precomputed.hpp"
#include "nembed/affinity/symmetrize.hpp"
#include "nembed/affinity/uniform.hpp"
#include "nembed/core/error.hpp"

using namespace nembed;
using namespace nembed::testing;

namespace {
CsrMatrix<double> from_dense(const std::vector<double>& D, std::size_t n) {
    std::vector<Triplet<double>> t;
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j)
            if (D[i * n + j] != 0) t.push_back({index_t(i), index_t(j), D[i * n + j]});
    return csr_from_triplets(n, n, t);
}
} // namespace

TEST(Symmetrize, EveryRuleElementWise) {
    const std::size_t n = 5;
    std::vector<double> A = {0, .5, 0, .2, 0,  //
                             .3, 0, .9, 0, 0,  //
                             0, 0, 0, 0, .4,   //
                             .2, 0, .1, 0, 0,  //
                             1, 0, 0, 0, 0};
    auto M = from_dense(A, n);
    auto check = [&](Symmetrization s, auto f) {
        auto C = symmetrize(M, s, 2);
        C.validate();
        auto D = dense(C);
        std::size_t nnz = 0;
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = 0; j < n; ++j) {
                const double want = f(A[i * n + j], A[j * n + i]);
                EXPECT_NEAR(D[i * n + j], want, 1e-15) << to_string(s) << " at " << i << "," << j;
                nnz += want != 0;
            }
        EXPECT_EQ(C.nnz(), nnz) << "explicit zeros must be dropped (" << to_string(s) << ")";
    };
    check(Symmetrization::none, [](double a, double) { return a; });
    check(Symmetrization::mean, [](double a, double b) { return (a + b) / 2; });
    check(Symmetrization::max, [](double a, double b) { return std::max(a, b); });
    check(Symmetrization::fuzzy_union, [](double a, double b) { return a + b - a * b; });
    check(Symmetrization::fuzzy_intersection, [](double a, double b) { return a * b; });
    auto C = dense(fuzzy_combine(M, 0.3));
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j) {
            double a = A[i * n + j], b = A[j * n + i];
            EXPECT_NEAR(C[i * n + j], 0.3 * (a + b - a * b) + 0.7 * a * b, 1e-15);
        }
    EXPECT_THROW(fuzzy_combine(M, 1.5), InvalidArgument);
    EXPECT_THROW(parse_symmetrization("sometimes"), InvalidArgument);
    EXPECT_EQ(parse_symmetrization("true"), Symmetrization::max);
    CsrMatrix<double> rect = csr_from_triplets<double>(2, 3, {{0, 2, 1.0}});
    EXPECT_THROW(symmetrize(rect, Symmetrization::mean), InvalidArgument);
}

TEST(Symmetrize, LargeRandomGraphMatchesTriplets) {
    // O(nnz) merge vs the simple triplet route, and independent of the thread count.
    auto x = gaussian_data(2000, 3, 11);
    auto g = brute_knn(x, 12);
    std::vector<Triplet<double>> t, tt;
    for (std::size_t i = 0; i < g.n_points; ++i)
        for (std::size_t j = 0; j < g.k; ++j) {
            const double v = 1.0 + 0.01 * double(j);
            t.push_back({index_t(i), g.neighbors(i)[j], v});
            tt.push_back({index_t(i), g.neighbors(i)[j], v / 2});
            tt.push_back({g.neighbors(i)[j], index_t(i), v / 2});
        }
    auto A = csr_from_triplets(2000, 2000, t);
    auto want = csr_from_triplets(2000, 2000, tt);
    auto got1 = symmetrize(A, Symmetrization::mean, 1), got3 = symmetrize(A, Symmetrization::mean, 3);
    ASSERT_EQ(got1.indices, want.indices);
    for (std::size_t p = 0; p < want.nnz(); ++p) EXPECT_DOUBLE_EQ(got1.values[p], want.values[p]);
    EXPECT_EQ(got1.values, got3.values);
}

TEST(Uniform, SymmetrisationModes) {
    auto x = gaussian_data(60, 2, 12);
    auto g = brute_knn(x, 4);
    std::vector<double> A(60 * 60, 0);
    for (std::size_t i = 0; i < 60; ++i)
        for (std::size_t j = 0; j < 4; ++j) A[i * 60 + g.neighbors(i)[j]] = 1;
    for (auto mode : {Symmetrization::max, Symmetrization::mean, Symmetrization::none}) {
        UniformOptions o;
        o.symmetrize = mode;
        auto D = dense(uniform_affinities(g, o));
        double total = 0;
        std::vector<double> want(A.size());
        for (std::size_t i = 0; i < 60; ++i)
            for (std::size_t j = 0; j < 60; ++j) {
                double a = A[i * 60 + j], b = A[j * 60 + i];
                want[i * 60 + j] = mode == Symmetrization::max ? std::max(a, b)
                                   : mode == Symmetrization::mean ? (a + b) / 2 : a;
                total += want[i * 60 + j];
            }
        for (std::size_t p = 0; p < A.size(); ++p) EXPECT_NEAR(D[p], want[p] / total, 1e-15);
    }
    UniformOptions o;
    o.conditional = true;
    auto C = uniform_affinities(g, o);
    for (double v : C.values) EXPECT_DOUBLE_EQ(v, 0.25);
    o.conditional = false;
    o.symmetrize = Symmetrization::fuzzy_union;
    EXPECT_THROW(uniform_affinities(g, o), InvalidArgument);
}

TEST(Precomputed, NormalisesAndDropsTheDiagonal) {
    std::vector<double> D = {5, 1, 2,  //
                             1, 0, 0,  //
                             2, 0, 7};
    auto P = precomputed_affinities(MatrixView<double>{D.data(), 3, 3});
    auto R = dense(P);
    EXPECT_EQ(P.nnz(), 4u);
    EXPECT_NEAR(P.sum(), 1.0, 1e-15);
    EXPECT_NEAR(R[1], 1.0 / 6.0, 1e-15);
    EXPECT_EQ(R[0], 0.0);
    PrecomputedOptions o;
    o.normalize = false;
    EXPECT_NEAR(precomputed_affinities(MatrixView<double>{D.data(), 3, 3}, o).sum(), 6.0, 1e-15);
}

TEST(Precomputed, BadInputs) {
    std::vector<double> D = {0, 1, -1, 0};
    EXPECT_THROW(precomputed_affinities(MatrixView<double>{D.data(), 2, 2}), InvalidArgument);
    D = {0, 1, std::nan(""), 0};
    EXPECT_THROW(precomputed_affinities(MatrixView<double>{D.data(), 2, 2}), InvalidArgument);
    D = {1, 0, 0, 1};  // only a diagonal
    EXPECT_THROW(precomputed_affinities(MatrixView<double>{D.data(), 2, 2}), InvalidArgument);
    std::vector<double> R = {0, 1, 1, 0, 1, 1};
    EXPECT_THROW(precomputed_affinities(MatrixView<double>{R.data(), 2, 3}), InvalidArgument);
}
