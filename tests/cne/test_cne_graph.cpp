// cne's training graph (methods/cne.hpp): binary_symmetric_graph, built row by row and merged by symmetrize, is the
// binary union of the kNN lists as the (row, column) pairs of both directions, sorted with repeats merged, give it;
// binary_knn_rows of a block of rows (a distributed rank's) are the same rows of the whole.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "nembed/core/random.hpp"
#include "nembed/core/sparse.hpp"
#include "nembed/methods/cne.hpp"
#include "nembed/neighbors/knn_graph.hpp"

using namespace nembed;

namespace {

// Random lists over n points, with the point itself and repeated neighbours among them.
KnnGraph random_lists(std::size_t n, std::size_t k) {
    KnnGraph g = KnnGraph::sized(n, k, n);
    Rng rng(9);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < k; ++j) g.indices[i * k + j] = static_cast<index_t>(rng.below(n));
    for (std::size_t i = 0; i < n; i += 7) g.indices[i * k] = static_cast<index_t>(i);  // itself
    for (std::size_t i = 3; i < n; i += 5) g.indices[i * k + 1] = g.indices[i * k + 2];  // a repeat
    return g;
}

// The graph as the pairs of both directions, sorted, repeats summed, then every value 1.
CsrMatrix<double> by_pairs(const KnnGraph& knn) {
    std::vector<Triplet<double>> t;
    for (std::size_t i = 0; i < knn.n_points; ++i)
        for (std::size_t j = 0; j < knn.k; ++j) {
            const index_t nb = knn.neighbors(i)[j];
            if (static_cast<std::size_t>(nb) == i) continue;
            t.push_back({static_cast<index_t>(i), nb, 1.0});
            t.push_back({nb, static_cast<index_t>(i), 1.0});
        }
    CsrMatrix<double> g = csr_from_triplets(knn.n_points, knn.n_points, std::move(t));
    for (double& v : g.values) v = 1.0;
    return g;
}

} // namespace

TEST(CneGraph, BinarySymmetricGraphIsTheUnionOfBothDirections) {
    const KnnGraph knn = random_lists(1000, 6);
    const CsrMatrix<double> want = by_pairs(knn);
    for (int threads : {1, 3}) {
        const CsrMatrix<double> g = binary_symmetric_graph(knn, threads);
        EXPECT_EQ(g.n_rows, want.n_rows);
        EXPECT_EQ(g.n_cols, want.n_cols);
        EXPECT_EQ(g.indptr, want.indptr) << threads << " threads";
        EXPECT_EQ(g.indices, want.indices) << threads << " threads";
        EXPECT_EQ(g.values, want.values) << threads << " threads";
    }
}

TEST(CneGraph, KnnRowsOfABlockAreTheWholesRows) {
    const KnnGraph knn = random_lists(500, 5);
    const CsrMatrix<double> all = detail::binary_knn_rows(knn, 0);
    const std::size_t first = 123, count = 200;
    KnnGraph block = KnnGraph::sized(count, knn.k, knn.n_points);
    std::copy_n(knn.indices.begin() + static_cast<std::ptrdiff_t>(first * knn.k), count * knn.k,
                block.indices.begin());
    const CsrMatrix<double> rows = detail::binary_knn_rows(block, first);
    ASSERT_EQ(rows.n_rows, count);
    ASSERT_EQ(rows.n_cols, knn.n_points);
    for (std::size_t i = 0; i < count; ++i) {
        const std::vector<index_t> got(rows.indices.begin() + rows.indptr[i], rows.indices.begin() + rows.indptr[i + 1]);
        const std::vector<index_t> want(all.indices.begin() + all.indptr[first + i],
                                        all.indices.begin() + all.indptr[first + i + 1]);
        EXPECT_EQ(got, want) << "row " << first + i;
        for (std::size_t j = 1; j < got.size(); ++j) EXPECT_LT(got[j - 1], got[j]);
        for (index_t c : got) EXPECT_NE(static_cast<std::size_t>(c), first + i);
    }
    for (double v : rows.values) EXPECT_EQ(v, 1.0);
}
