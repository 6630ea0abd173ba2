// The Hilbert point order and the symmetric renumbering of a sparse matrix (core/locality_order.hpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "nembed/core/error.hpp"
#include "nembed/core/locality_order.hpp"
#include "nembed/core/random.hpp"

using namespace nembed;

namespace {
bool is_permutation_of_iota(std::vector<index_t> v) {
    std::sort(v.begin(), v.end());
    for (std::size_t i = 0; i < v.size(); ++i)
        if (v[i] != static_cast<index_t>(i)) return false;
    return true;
}
} // namespace

// On a full 2^k x 2^k lattice (shuffled), a Hilbert curve visits the cells so that consecutive cells are edge
// neighbours: every step of the order has length exactly 1. A Morton order or a row scan would jump.
TEST(LocalityOrder, HilbertStepsAreUnitOnALattice) {
    const std::size_t side = 64, n = side * side;
    Matrix<double> Y(n, 2);
    std::vector<std::size_t> cells(n);
    std::iota(cells.begin(), cells.end(), std::size_t{0});
    Rng rng(5);
    for (std::size_t i = n - 1; i > 0; --i) std::swap(cells[i], cells[static_cast<std::size_t>(rng.below(i + 1))]);
    for (std::size_t i = 0; i < n; ++i) {
        Y(i, 0) = static_cast<double>(cells[i] % side) + 0.5;
        Y(i, 1) = static_cast<double>(cells[i] / side) + 0.5;
    }
    const std::vector<index_t> order = hilbert_order(Y.view());
    ASSERT_EQ(order.size(), n);
    ASSERT_TRUE(is_permutation_of_iota(order));
    for (std::size_t r = 1; r < n; ++r) {
        const auto a = static_cast<std::size_t>(order[r - 1]), b = static_cast<std::size_t>(order[r]);
        const double step = std::abs(Y(a, 0) - Y(b, 0)) + std::abs(Y(a, 1) - Y(b, 1));
        ASSERT_EQ(step, 1.0) << "step " << r;
    }
}

// Points in one cell keep index order; one dimension sorts by the coordinate; extra dimensions are ignored.
TEST(LocalityOrder, TiesOneDimensionAndExtraColumns) {
    Matrix<double> Y(5, 3);
    const double xy[5][2] = {{1, 1}, {0, 0}, {1, 1}, {0, 0}, {1, 1}};
    for (std::size_t i = 0; i < 5; ++i) {
        Y(i, 0) = xy[i][0];
        Y(i, 1) = xy[i][1];
        Y(i, 2) = -static_cast<double>(i);  // would reverse the order if it were read
    }
    const std::vector<index_t> order = hilbert_order(Y.view());
    EXPECT_EQ(order, (std::vector<index_t>{1, 3, 0, 2, 4}));
    Matrix<double> line(4, 1);
    const double x[4] = {3.0, -1.0, 2.0, -1.0};
    for (std::size_t i = 0; i < 4; ++i) line(i, 0) = x[i];
    EXPECT_EQ(hilbert_order(line.view()), (std::vector<index_t>{1, 3, 2, 0}));
    Matrix<double> same(3, 2);  // a zero-width box: every point in one cell
    EXPECT_EQ(hilbert_order(same.view()), (std::vector<index_t>{0, 1, 2}));
}

TEST(LocalityOrder, BadInput) {
    Matrix<double> Y(3, 2);
    Y(1, 0) = std::nan("");
    EXPECT_THROW(hilbert_order(Y.view()), InvalidArgument);
    EXPECT_THROW(hilbert_order(MatrixView<double>{nullptr, 0, 2}), InvalidArgument);
    EXPECT_THROW(inverse_permutation({0, 0, 1}), InvalidArgument);
    EXPECT_THROW(inverse_permutation({0, 3, 1}), InvalidArgument);
    CsrMatrix<double> P;
    P.n_rows = P.n_cols = 2;
    P.indptr = {0, 0, 0};
    EXPECT_THROW(permute_symmetric(P, std::vector<index_t>{0}), InvalidArgument);
}

// Q = Π P Πᵀ entry by entry, with sorted columns, for any thread count; rows gathered and scattered back.
TEST(LocalityOrder, PermuteSymmetricAndRows) {
    const std::size_t n = 300;
    Rng rng(9);
    std::vector<Triplet<double>> t;
    for (std::size_t e = 0; e < 3000; ++e)
        t.push_back({static_cast<index_t>(static_cast<std::size_t>(rng.below(n))), static_cast<index_t>(static_cast<std::size_t>(rng.below(n))),
                     rng.uniform() + 0.1});
    const CsrMatrix<double> P = csr_from_triplets(n, n, t);
    std::vector<index_t> order(n);
    std::iota(order.begin(), order.end(), index_t{0});
    for (std::size_t i = n - 1; i > 0; --i) std::swap(order[i], order[static_cast<std::size_t>(rng.below(i + 1))]);
    const CsrMatrix<double> Q = permute_symmetric(P, order, 1);
    Q.validate("Q");
    ASSERT_EQ(Q.nnz(), P.nnz());
    for (std::size_t r = 0; r < n; ++r)
        for (std::size_t c = 0; c < n; ++c)
            ASSERT_EQ(Q.at(r, static_cast<index_t>(c)),
                      P.at(static_cast<std::size_t>(order[r]), order[c])) << r << ", " << c;
    const CsrMatrix<double> Q3 = permute_symmetric(P, order, 3);
    EXPECT_EQ(Q3.indptr, Q.indptr);
    EXPECT_EQ(Q3.indices, Q.indices);
    EXPECT_EQ(Q3.values, Q.values);

    std::vector<double> rows(n * 2), gathered(n * 2), back(n * 2);
    for (std::size_t k = 0; k < rows.size(); ++k) rows[k] = static_cast<double>(k);
    gather_rows(rows.data(), order, 2, gathered.data(), 2);
    for (std::size_t r = 0; r < n; ++r) ASSERT_EQ(gathered[r * 2 + 1], rows[static_cast<std::size_t>(order[r]) * 2 + 1]);
    scatter_rows(gathered.data(), order, 2, back.data(), 2);
    EXPECT_EQ(back, rows);
}
