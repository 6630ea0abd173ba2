// The t-SNE objective (attraction + Repulsion estimator) against numerical derivatives of the KL divergence.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "../common/numeric.hpp"
#include "nembed/core/random.hpp"
#include "nembed/core/sparse.hpp"
#include "nembed/loss/attraction.hpp"
#include "nembed/loss/tsne_objective.hpp"
#include "nembed/repulsion/repulsion.hpp"

using namespace nembed;

namespace {

using nembed::test::random_y;
using nembed::test::relative_gradient_error;

CsrMatrix<double> random_p(std::size_t rows, std::size_t cols, double density, bool symmetric, std::uint64_t seed) {
    Rng rng(seed);
    std::vector<Triplet<double>> t;
    for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = symmetric ? i + 1 : 0; j < cols; ++j)
            if (rng.uniform() < density) {
                double v = rng.uniform(0.1, 1.0);
                t.push_back({static_cast<index_t>(i), static_cast<index_t>(j), v});
                if (symmetric) t.push_back({static_cast<index_t>(j), static_cast<index_t>(i), v});
            }
    CsrMatrix<double> P = csr_from_triplets(rows, cols, t);
    if (symmetric) {
        double s = P.sum();
        for (double& v : P.values) v /= s;
    } else {  // row-normalised (transform)
        for (std::size_t i = 0; i < rows; ++i) {
            double s = 0;
            for (offset_t p = P.indptr[i]; p < P.indptr[i + 1]; ++p) s += P.values[p];
            for (offset_t p = P.indptr[i]; p < P.indptr[i + 1]; ++p) P.values[p] /= s;
        }
    }
    return P;
}

double w(const double* a, const double* b, std::size_t d, double dof) {
    double s = 0;
    for (std::size_t c = 0; c < d; ++c) s += (a[c] - b[c]) * (a[c] - b[c]);
    return std::pow(1 + s / dof, -dof);
}

double brute_kl(const CsrMatrix<double>& P, const Matrix<double>& Y, double dof) {
    double Z = 0;
    for (std::size_t i = 0; i < Y.rows(); ++i)
        for (std::size_t j = 0; j < Y.rows(); ++j)
            if (i != j) Z += w(Y.row(i), Y.row(j), Y.cols(), dof);
    double kl = 0;
    for (std::size_t i = 0; i < P.n_rows; ++i)
        for (offset_t p = P.indptr[i]; p < P.indptr[i + 1]; ++p)
            kl += P.values[p] * std::log(P.values[p] * Z / w(Y.row(i), Y.row(P.indices[p]), Y.cols(), dof));
    return kl;
}

// Sum over new points of KL(P_i || Q_i), Q_i the per-point normalised kernel to the reference.
double brute_partial_kl(const CsrMatrix<double>& P, const Matrix<double>& Q, const Matrix<double>& R, double dof) {
    double kl = 0;
    for (std::size_t i = 0; i < Q.rows(); ++i) {
        double z = 0;
        for (std::size_t j = 0; j < R.rows(); ++j) z += w(Q.row(i), R.row(j), Q.cols(), dof);
        for (offset_t p = P.indptr[i]; p < P.indptr[i + 1]; ++p)
            kl += P.values[p] * std::log(P.values[p] * z / w(Q.row(i), R.row(P.indices[p]), Q.cols(), dof));
    }
    return kl;
}

} // namespace

class ObjectiveGradient : public ::testing::TestWithParam<std::tuple<double, std::size_t>> {};

// openTSNE's gradient omits the factor 4: dKL/dY = 4 (attraction − F/Z) for symmetric P summing to 1.
TEST_P(ObjectiveGradient, FullIsQuarterOfNumericalDerivative) {
    const auto [dof, d] = GetParam();
    const std::size_t n = 30;
    CsrMatrix<double> P = random_p(n, n, 0.3, true, 1);
    Matrix<double> Y = random_y(n, d, 1.0, 2);
    auto rep = make_exact_repulsion(1);
    TsneObjective obj(P, *rep, StudentTKernel(dof), 1);
    std::vector<double> g(Y.size());
    const double kl = obj(Y.view(), 1.0, g.data(), true);
    EXPECT_NEAR(kl, brute_kl(P, Y, dof), 1e-11);
    EXPECT_LT(relative_gradient_error(Y, g, 4.0, [&] { return brute_kl(P, Y, dof); }), 1e-6);
    // Exaggeration multiplies the attraction only: g(ex) − g(1) = (ex − 1) · attraction.
    std::vector<double> g4(Y.size()), g1(Y.size()), attr(Y.size());
    obj(Y.view(), 4.0, g4.data(), false);
    obj(Y.view(), 1.0, g1.data(), false);
    attractive_forces(P, Y.view(), StudentTKernel(dof), 1.0, attr.data(), 1);
    for (std::size_t k = 0; k < Y.size(); ++k) EXPECT_NEAR(g4[k] - g1[k], 3.0 * attr[k], 1e-12 * (1 + std::abs(attr[k])));
}

// Transform: rows of P sum to 1 and each new point has its own normalisation, so dKL/dq_i = 2 grad_i.
TEST_P(ObjectiveGradient, PartialIsHalfOfNumericalDerivative) {
    const auto [dof, d] = GetParam();
    CsrMatrix<double> P = random_p(12, 40, 0.3, false, 3);
    Matrix<double> R = random_y(40, d, 1.5, 4), Q = random_y(12, d, 1.5, 5);
    const Matrix<double> R_before = R;
    auto rep = make_exact_repulsion(2);
    PartialTsneObjective obj(P, R.view(), *rep, StudentTKernel(dof), 2);
    std::vector<double> g(Q.size());
    const double kl = obj(Q.view(), 1.0, g.data(), true);
    EXPECT_NEAR(kl, brute_partial_kl(P, Q, R, dof), 1e-11);
    EXPECT_LT(relative_gradient_error(Q, g, 2.0, [&] { return brute_partial_kl(P, Q, R, dof); }), 1e-6);
    EXPECT_EQ(R.storage(), R_before.storage());
}

INSTANTIATE_TEST_SUITE_P(DofAndDim, ObjectiveGradient,
                         ::testing::Values(std::make_tuple(1.0, std::size_t(2)), std::make_tuple(0.5, std::size_t(2)),
                                           std::make_tuple(2.0, std::size_t(1)), std::make_tuple(1.0, std::size_t(3))));

TEST(TsneObjective, BarnesHutCloseToExact) {
    const std::size_t n = 400;
    CsrMatrix<double> P = random_p(n, n, 0.03, true, 6);
    Matrix<double> Y = random_y(n, 2, 5.0, 7);
    auto exact = make_exact_repulsion(1);
    auto bh = make_barnes_hut_repulsion(0.5, 1);
    TsneObjective oe(P, *exact, StudentTKernel(1.0), 1), ob(P, *bh, StudentTKernel(1.0), 1);
    std::vector<double> ge(Y.size()), gb(Y.size());
    const double kle = oe(Y.view(), 1.0, ge.data(), true), klb = ob(Y.view(), 1.0, gb.data(), true);
    double e2 = 0, n2 = 0;
    for (std::size_t k = 0; k < Y.size(); ++k) {
        e2 += (ge[k] - gb[k]) * (ge[k] - gb[k]);
        n2 += ge[k] * ge[k];
    }
    EXPECT_LT(std::sqrt(e2 / n2), 0.02);
    EXPECT_NEAR(klb, kle, 1e-2 * kle);
}

TEST(TsneObjective, BadInput) {
    CsrMatrix<double> P = random_p(10, 10, 0.5, true, 1);
    auto rep = make_exact_repulsion(1);
    EXPECT_THROW(TsneObjective(P, *rep, StudentTKernel(0.0), 1), InvalidArgument);
    CsrMatrix<double> rect = random_p(10, 12, 0.5, false, 1);
    EXPECT_THROW(TsneObjective(rect, *rep, StudentTKernel(1.0), 1), InvalidArgument);
    CsrMatrix<double> neg = P;
    neg.values[0] = -1;
    EXPECT_THROW(TsneObjective(neg, *rep, StudentTKernel(1.0), 1), InvalidArgument);
    TsneObjective obj(P, *rep, StudentTKernel(1.0), 1);
    Matrix<double> Y = random_y(9, 2, 1, 1);
    std::vector<double> g(18);
    EXPECT_THROW(obj(Y.view(), 1.0, g.data(), true), InvalidArgument);
    Matrix<double> R = random_y(11, 2, 1, 1);
    EXPECT_THROW(PartialTsneObjective(rect, R.view(), *rep, StudentTKernel(1.0), 1), InvalidArgument);
}
