// User-provided neighbours: a dense distance matrix, or (index, distance) arrays.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "nembed/core/error.hpp"
#include "nembed/neighbors/exact.hpp"
#include "nembed/neighbors/knn.hpp"
#include "neighbors_test_util.hpp"

using namespace nembed;
using namespace nembed::testing;

namespace {

template <typename F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const InvalidArgument& e) {
        return e.what();
    }
    return "<no InvalidArgument thrown>";
}

Matrix<double> distance_matrix(const Matrix<float>& x) {
    Matrix<double> d(x.rows(), x.rows());
    for (std::size_t i = 0; i < x.rows(); ++i)
        for (std::size_t j = 0; j < x.rows(); ++j) d(i, j) = naive_distance(x.row(i), x.row(j), x.cols(), Metric::euclidean);
    return d;
}

TEST(DistanceMatrix, MatchesExactKnn) {
    Matrix<float> x = random_matrix(400, 6, 8);
    Matrix<double> d = distance_matrix(x);
    for (std::size_t i = 0; i < 400; ++i) d(i, i) = -5.0;  // the diagonal is ignored, whatever it holds
    KnnGraph e = make_exact_index(x.view(), Metric::euclidean, 1)->self_neighbors(12);
    for (int threads : {1, 3}) {
        KnnGraph g = neighbors_from_distance_matrix(d.view(), 12, threads);
        g.validate("distance matrix");
        EXPECT_EQ(g.n_points, 400u);
        EXPECT_EQ(g.n_reference, 400u);
        EXPECT_EQ(g.indices, e.indices);
        for (std::size_t t = 0; t < g.distances.size(); ++t) ASSERT_FLOAT_EQ(g.distances[t], e.distances[t]);
    }
}

TEST(DistanceMatrix, AsymmetricTiesAndZeros) {
    // Row 0: ties at 1.0 resolved by smaller index; zero off-diagonal distances (duplicates) are kept.
    Matrix<double> d(4, 4, 0.0);
    d(0, 1) = 1.0; d(0, 2) = 1.0; d(0, 3) = 0.0;
    d(1, 0) = 2.0; d(1, 2) = 3.0; d(1, 3) = 1.0;  // not symmetric: fine
    d(2, 0) = 0.5; d(2, 1) = 0.5; d(2, 3) = 0.5;
    d(3, 0) = 9.0; d(3, 1) = 8.0; d(3, 2) = 7.0;
    KnnGraph g = neighbors_from_distance_matrix(d.view(), 2);
    EXPECT_EQ(std::vector<index_t>(g.neighbors(0), g.neighbors(0) + 2), (std::vector<index_t>{3, 1}));
    EXPECT_EQ(std::vector<index_t>(g.neighbors(1), g.neighbors(1) + 2), (std::vector<index_t>{3, 0}));
    EXPECT_EQ(std::vector<index_t>(g.neighbors(2), g.neighbors(2) + 2), (std::vector<index_t>{0, 1}));
    EXPECT_EQ(std::vector<index_t>(g.neighbors(3), g.neighbors(3) + 2), (std::vector<index_t>{2, 1}));
    EXPECT_EQ(g.dists(0)[0], 0.0f);
}

TEST(DistanceMatrix, BadInputs) {
    Matrix<double> d(5, 5, 1.0);
    Matrix<double> rect(5, 4, 1.0);
    EXPECT_NE(error_of([&] { neighbors_from_distance_matrix(rect.view(), 2); }).find("must be square, got 5 x 4"),
              std::string::npos);
    Matrix<double> empty(0, 0);
    EXPECT_NE(error_of([&] { neighbors_from_distance_matrix(empty.view(), 1); }).find("no points"), std::string::npos);
    EXPECT_EQ(error_of([&] { neighbors_from_distance_matrix(d.view(), 5); }),
              "k = 5 must be less than the number of points (5)");
    EXPECT_NE(error_of([&] { neighbors_from_distance_matrix(d.view(), 0); }).find("k must be at least 1"),
              std::string::npos);
    EXPECT_NE(error_of([&] { neighbors_from_distance_matrix(d.view(), 2, 0); }).find("n_threads"), std::string::npos);
    Matrix<double> bad = d;
    bad(2, 3) = std::numeric_limits<double>::quiet_NaN();
    EXPECT_NE(error_of([&] { neighbors_from_distance_matrix(bad.view(), 2); }).find("NaN at row 2, column 3"),
              std::string::npos);
    bad(2, 3) = -0.5;
    EXPECT_NE(error_of([&] { neighbors_from_distance_matrix(bad.view(), 2); }).find("negative distance"),
              std::string::npos);
    bad(2, 3) = std::numeric_limits<double>::infinity();
    EXPECT_NE(error_of([&] { neighbors_from_distance_matrix(bad.view(), 2); }).find("infinite distance at row 2"),
              std::string::npos);
}

// Builds (N x kk) arrays from a graph, optionally with each row's own index (distance 0) in front.
void to_arrays(const KnnGraph& g, bool with_self, Matrix<std::int64_t>& idx, Matrix<double>& dist) {
    const std::size_t kk = g.k + (with_self ? 1 : 0);
    idx = Matrix<std::int64_t>(g.n_points, kk);
    dist = Matrix<double>(g.n_points, kk);
    for (std::size_t i = 0; i < g.n_points; ++i) {
        std::size_t c = 0;
        if (with_self) {
            idx(i, c) = static_cast<std::int64_t>(i);
            dist(i, c++) = 0.0;
        }
        for (std::size_t t = 0; t < g.k; ++t, ++c) {
            idx(i, c) = g.neighbors(i)[t];
            dist(i, c) = g.dists(i)[t];
        }
    }
}

TEST(NeighborArrays, RoundTripWithAndWithoutSelf) {
    Matrix<float> x = random_matrix(200, 5, 3);
    KnnGraph e = make_exact_index(x.view(), Metric::euclidean, 1)->self_neighbors(8);
    Matrix<std::int64_t> idx;
    Matrix<double> dist;
    for (bool with_self : {false, true}) {
        to_arrays(e, with_self, idx, dist);
        KnnGraph g = neighbors_from_arrays(idx.view(), dist.view(), 200);
        g.validate("arrays");
        EXPECT_EQ(g.k, 8u);  // self dropped: k shrinks by one
        EXPECT_EQ(g.indices, e.indices);
        EXPECT_EQ(g.distances, e.distances);
    }
}

TEST(NeighborArrays, RowsAreSortedAndQueryGraphsKeepEverything) {
    // Unsorted input rows are sorted by distance (ties by index). With n_reference != N it is a query graph:
    // nothing is dropped even if an index equals its row number.
    Matrix<std::int64_t> idx(2, 3);
    Matrix<double> dist(2, 3);
    idx(0, 0) = 4; dist(0, 0) = 3.0;
    idx(0, 1) = 0; dist(0, 1) = 1.0;
    idx(0, 2) = 2; dist(0, 2) = 1.0;
    idx(1, 0) = 1; dist(1, 0) = 0.5;
    idx(1, 1) = 3; dist(1, 1) = 0.25;
    idx(1, 2) = 0; dist(1, 2) = 2.0;
    KnnGraph g = neighbors_from_arrays(idx.view(), dist.view(), 5);
    EXPECT_EQ(g.k, 3u);
    EXPECT_EQ(g.n_reference, 5u);
    EXPECT_EQ(g.indices, (std::vector<index_t>{0, 2, 4, 3, 1, 0}));
    EXPECT_EQ(g.distances, (std::vector<float>{1.0f, 1.0f, 3.0f, 0.25f, 0.5f, 2.0f}));
}

TEST(NeighborArrays, SelfCrowdedOutByDuplicatesDropsFarthest) {
    // Points 0, 1, 2 are identical. Row 0 lists itself; row 1 lists 0 and 2 (duplicates) but not itself, as a
    // kNN library may when ties crowd self out: it drops its farthest entry instead. Row 2 lists itself last.
    Matrix<std::int64_t> idx(4, 3);
    Matrix<double> dist(4, 3);
    const std::int64_t I[4][3] = {{0, 1, 2}, {0, 2, 3}, {0, 1, 2}, {3, 0, 1}};
    const double D[4][3] = {{0, 0, 0}, {0, 0, 4}, {0, 0, 0}, {0, 4, 4}};
    for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 3; ++j) {
            idx(i, j) = I[i][j];
            dist(i, j) = D[i][j];
        }
    KnnGraph g = neighbors_from_arrays(idx.view(), dist.view(), 4);
    ASSERT_EQ(g.k, 2u);
    EXPECT_EQ(g.indices, (std::vector<index_t>{1, 2, 0, 2, 0, 1, 0, 1}));
    for (std::size_t i = 0; i < 4; ++i)
        for (std::size_t t = 0; t < 2; ++t) EXPECT_NE(g.neighbors(i)[t], static_cast<index_t>(i));
}

TEST(NeighborArrays, BadInputs) {
    Matrix<std::int64_t> idx(3, 2);
    Matrix<double> dist(3, 2, 1.0);
    idx(0, 0) = 1; idx(0, 1) = 2;
    idx(1, 0) = 0; idx(1, 1) = 2;
    idx(2, 0) = 0; idx(2, 1) = 1;
    ASSERT_NO_THROW(neighbors_from_arrays(idx.view(), dist.view(), 3));

    Matrix<double> wrong(3, 3, 1.0);
    EXPECT_NE(error_of([&] { neighbors_from_arrays(idx.view(), wrong.view(), 3); })
                  .find("indices are 3 x 2 but distances are 3 x 3"),
              std::string::npos);
    Matrix<std::int64_t> no_rows(0, 2);
    Matrix<double> no_rows_d(0, 2);
    EXPECT_NE(error_of([&] { neighbors_from_arrays(no_rows.view(), no_rows_d.view(), 3); }).find("no rows"),
              std::string::npos);
    Matrix<std::int64_t> no_cols(3, 0);
    Matrix<double> no_cols_d(3, 0);
    EXPECT_NE(error_of([&] { neighbors_from_arrays(no_cols.view(), no_cols_d.view(), 3); }).find("0 columns"),
              std::string::npos);
    EXPECT_NE(error_of([&] { neighbors_from_arrays(idx.view(), dist.view(), 0); }).find("n_reference"),
              std::string::npos);

    auto bad_idx = idx;
    bad_idx(1, 1) = 3;
    EXPECT_NE(error_of([&] { neighbors_from_arrays(bad_idx.view(), dist.view(), 3); })
                  .find("index 3 out of range [0, 3) at row 1, column 1"),
              std::string::npos);
    bad_idx(1, 1) = -1;
    EXPECT_NE(error_of([&] { neighbors_from_arrays(bad_idx.view(), dist.view(), 3); }).find("index -1 out of range"),
              std::string::npos);
    bad_idx(1, 1) = 0;  // row 1 lists 0 twice
    EXPECT_NE(error_of([&] { neighbors_from_arrays(bad_idx.view(), dist.view(), 3); }).find("lists neighbour 0 twice"),
              std::string::npos);

    auto bad_d = dist;
    bad_d(2, 0) = std::numeric_limits<double>::quiet_NaN();
    EXPECT_NE(error_of([&] { neighbors_from_arrays(idx.view(), bad_d.view(), 3); }).find("NaN distance at row 2"),
              std::string::npos);
    bad_d(2, 0) = -1.0;
    EXPECT_NE(error_of([&] { neighbors_from_arrays(idx.view(), bad_d.view(), 3); }).find("negative distance"),
              std::string::npos);
    bad_d(2, 0) = std::numeric_limits<double>::infinity();
    EXPECT_NE(error_of([&] { neighbors_from_arrays(idx.view(), bad_d.view(), 3); }).find("infinite distance"),
              std::string::npos);

    // k = 1 and every row lists only itself: nothing left.
    Matrix<std::int64_t> only_self(3, 1);
    Matrix<double> zero(3, 1, 0.0);
    for (std::size_t i = 0; i < 3; ++i) only_self(i, 0) = static_cast<std::int64_t>(i);
    EXPECT_NE(error_of([&] { neighbors_from_arrays(only_self.view(), zero.view(), 3); }).find("no neighbours remain"),
              std::string::npos);
    // A row listing itself twice.
    auto twice = idx;
    twice(0, 0) = 0;
    twice(0, 1) = 0;
    EXPECT_NE(error_of([&] { neighbors_from_arrays(twice.view(), dist.view(), 3); }).find("lists itself more than once"),
              std::string::npos);
    // Self graph with k >= N after dropping self is impossible without a repeat; k = N columns without self is
    // caught as k >= N.
    Matrix<std::int64_t> wide(2, 2);
    Matrix<double> wide_d(2, 2, 1.0);
    wide(0, 0) = 1; wide(0, 1) = 1;
    wide(1, 0) = 0; wide(1, 1) = 0;
    EXPECT_EQ(error_of([&] { neighbors_from_arrays(wide.view(), wide_d.view(), 2); }),
              "k = 2 must be less than the number of points (2)");
}

} // namespace
