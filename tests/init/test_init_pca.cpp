// PCA and PCA initialisation against a dense SVD reference.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include <Eigen/Dense>

#include "nembed/core/error.hpp"
#include "nembed/core/random.hpp"
#include "nembed/init/pca.hpp"
#include "nembed/init/pca_init.hpp"
#include "nembed/init/rescale.hpp"

using namespace nembed;

namespace {

// N x D float data with column scales 1, 0.8, 0.64, ... so the spectrum is well separated, plus a shared offset.
Matrix<float> test_data(std::size_t N, std::size_t D, std::uint64_t seed) {
    Matrix<float> X(N, D);
    for (std::size_t i = 0; i < N; ++i) {
        Rng r(seed, i);
        double common = r.normal();
        for (std::size_t j = 0; j < D; ++j)
            X(i, j) = static_cast<float>(3.0 + std::pow(0.8, static_cast<double>(j)) * r.normal() + 0.3 * common);
    }
    return X;
}

using RowMatD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

} // namespace

TEST(InitPca, MatchesJacobiSvd) {
    const std::size_t N = 300, D = 20, n = 6;
    Matrix<float> X = test_data(N, D, 1);
    PcaResult res = pca(X.view(), n, 2);

    RowMatD Xc(N, D);
    for (std::size_t i = 0; i < N; ++i)
        for (std::size_t j = 0; j < D; ++j) Xc(i, j) = X(i, j);
    Eigen::RowVectorXd mu = Xc.colwise().mean();
    Xc.rowwise() -= mu;
    Eigen::JacobiSVD<Eigen::MatrixXd> svd(Xc, Eigen::ComputeThinV);
    for (std::size_t j = 0; j < D; ++j) EXPECT_NEAR(res.mean[j], mu(j), 1e-12);

    ASSERT_EQ(res.components.rows(), n);
    ASSERT_EQ(res.components.cols(), D);
    for (std::size_t c = 0; c < n; ++c) {
        const double sv = svd.singularValues()(c);
        EXPECT_NEAR(res.explained_variance[c], sv * sv / (N - 1), 1e-10 * sv * sv);
        // Same direction up to sign.
        double dot = 0;
        for (std::size_t j = 0; j < D; ++j) dot += res.components(c, j) * svd.matrixV()(j, c);
        const double sign = dot < 0 ? -1.0 : 1.0;
        for (std::size_t j = 0; j < D; ++j) EXPECT_NEAR(res.components(c, j), sign * svd.matrixV()(j, c), 1e-8);
        // Sign convention: the largest |loading| is positive.
        std::size_t arg = 0;
        for (std::size_t j = 1; j < D; ++j)
            if (std::abs(res.components(c, j)) > std::abs(res.components(c, arg))) arg = j;
        EXPECT_GT(res.components(c, arg), 0.0);
        // Scores = centred data times the component.
        for (std::size_t i = 0; i < N; ++i) {
            double s = 0;
            for (std::size_t j = 0; j < D; ++j) s += Xc(i, j) * res.components(c, j);
            EXPECT_NEAR(res.scores(i, c), s, 1e-5 * (1 + std::abs(s)));
        }
    }
    // Orthonormal rows; total variance = trace.
    for (std::size_t a = 0; a < n; ++a)
        for (std::size_t b = 0; b < n; ++b) {
            double dot = 0;
            for (std::size_t j = 0; j < D; ++j) dot += res.components(a, j) * res.components(b, j);
            EXPECT_NEAR(dot, a == b ? 1.0 : 0.0, 1e-12);
        }
    EXPECT_NEAR(res.total_variance, svd.singularValues().squaredNorm() / (N - 1), 1e-9 * res.total_variance);
    for (std::size_t c = 1; c < n; ++c) EXPECT_GE(res.explained_variance[c - 1], res.explained_variance[c]);
}

TEST(InitPca, ThreadCountIndependentAcrossManyBlocks) {
    Matrix<float> X = test_data(7000, 24, 2);  // several 2048-row blocks
    PcaResult a = pca(X.view(), 5, 1), b = pca(X.view(), 5, 3);
    EXPECT_EQ(a.mean, b.mean);
    EXPECT_EQ(a.components.storage(), b.components.storage());
    EXPECT_EQ(a.explained_variance, b.explained_variance);
    EXPECT_EQ(a.scores.storage(), b.scores.storage());
}

TEST(InitPca, TransformReproducesScoresAndProjectsNewData) {
    Matrix<float> X = test_data(500, 12, 3);
    PcaResult res = pca(X.view(), 3, 2);
    Matrix<float> again = res.transform(X.view(), 1);
    EXPECT_EQ(again.storage(), res.scores.storage());
    Matrix<float> Xn = test_data(7, 12, 99);
    Matrix<float> S = pca_transform(Xn.view(), res.mean, res.components, 2);
    for (std::size_t i = 0; i < 7; ++i)
        for (std::size_t c = 0; c < 3; ++c) {
            double s = 0;
            for (std::size_t j = 0; j < 12; ++j) s += (Xn(i, j) - res.mean[j]) * res.components(c, j);
            EXPECT_NEAR(S(i, c), s, 1e-5 * (1 + std::abs(s)));
        }
    Matrix<float> bad(4, 11);
    EXPECT_THROW(res.transform(bad.view()), InvalidArgument);
}

TEST(InitPca, FullRankWhenComponentsEqualDimension) {
    Matrix<float> X = test_data(50, 4, 4);
    PcaResult res = pca(X.view(), 4);
    double sum = 0;
    for (double v : res.explained_variance) sum += v;
    EXPECT_NEAR(sum, res.total_variance, 1e-10 * sum);
}

TEST(InitPca, BadInputs) {
    Matrix<float> X = test_data(10, 5, 5);
    EXPECT_THROW(pca(X.view(), 0), InvalidArgument);
    EXPECT_THROW(pca(X.view(), 6), InvalidArgument);
    Matrix<float> wide = test_data(3, 8, 5);
    EXPECT_THROW(pca(wide.view(), 4), InvalidArgument);  // > N
    Matrix<float> one = test_data(1, 5, 5);
    EXPECT_THROW(pca(one.view(), 1), InvalidArgument);
    Matrix<float> empty;
    EXPECT_THROW(pca(empty.view(), 1), InvalidArgument);
    Matrix<float> nan = X;
    nan(3, 2) = std::numeric_limits<float>::quiet_NaN();
    EXPECT_THROW(pca(nan.view(), 2), InvalidArgument);
    EXPECT_THROW(pca(X.view(), 2, 0), InvalidArgument);
    EXPECT_THROW(pca_init(X.view(), 0, true, 1), InvalidArgument);
    EXPECT_THROW(pca_init(X.view(), 6, true, 1), InvalidArgument);
    Matrix<float> constant(10, 3, 1.0f);
    EXPECT_THROW(pca_init(constant.view(), 2, false, 1), InvalidArgument);
}

TEST(InitPca, PcaInitRescalesPc1ToTargetStd) {
    Matrix<float> X = test_data(400, 10, 6);
    Matrix<double> Y = pca_init(X.view(), 2, false, 0, 2);
    EXPECT_NEAR(column_std(Y.view(), 0), 1e-4, 1e-13);
    // Same shape as the PCA scores scaled by one factor.
    PcaResult res = pca(X.view(), 2);
    const double f = 1e-4 / column_std(convert<double>(res.scores.view()).view(), 0);
    for (std::size_t i = 0; i < 400; ++i)
        for (std::size_t c = 0; c < 2; ++c) EXPECT_NEAR(Y(i, c), f * res.scores(i, c), 1e-15);

    Matrix<double> Yc = pca_init(X.view(), 2, false, 0, 1, 1.0);  // cne's scaling
    EXPECT_NEAR(column_std(Yc.view(), 0), 1.0, 1e-12);

    Matrix<double> J1 = pca_init(X.view(), 2, true, 7), J2 = pca_init(X.view(), 2, true, 7),
                   J3 = pca_init(X.view(), 2, true, 8);
    EXPECT_EQ(J1.storage(), J2.storage());
    EXPECT_NE(J1.storage(), J3.storage());
    // Jitter has std 1% of PC1's: the difference from the unjittered start.
    double ss = 0;
    for (std::size_t i = 0; i < J1.size(); ++i) ss += (J1.data()[i] - Y.data()[i]) * (J1.data()[i] - Y.data()[i]);
    const double jit_sd = std::sqrt(ss / static_cast<double>(J1.size()));
    EXPECT_NEAR(jit_sd, 1e-6, 0.1e-6);
}

TEST(InitRescale, RescaleAndJitter) {
    Matrix<double> Y(4, 2, std::vector<double>{1, 10, 2, 20, 3, 30, 4, 40});
    const double s0 = std::sqrt(1.25);  // population std of 1..4
    EXPECT_NEAR(column_std(Y.view(), 0), s0, 1e-15);
    rescale(Y, 2.0);
    EXPECT_NEAR(column_std(Y.view(), 0), 2.0, 1e-14);
    EXPECT_NEAR(Y(3, 1), 40 * 2.0 / s0, 1e-12);
    Matrix<double> Z = Y;
    jitter(Z, 0.0, 3);
    EXPECT_EQ(Z.storage(), Y.storage());
    Matrix<double> c(3, 2, 5.0);
    EXPECT_THROW(rescale(c, 1e-4), InvalidArgument);
    EXPECT_THROW(rescale(Y, 0.0), InvalidArgument);
    EXPECT_THROW(jitter(Y, -1.0, 0), InvalidArgument);
    Matrix<double> e;
    EXPECT_THROW(rescale(e, 1e-4), InvalidArgument);
    EXPECT_THROW(column_std(Y.view(), 2), InvalidArgument);
}

// pca_leading (Lanczos on the implicit covariance) against the dense pca(): the same components (sign convention
// included), scores and variances to the solver's tolerance, on data wide enough to take the Lanczos path and with
// more than one row block (256 rows), a column count that is no multiple of the product's 8 lanes, and the same bits
// for 1, 2 and 3 threads.
TEST(InitPca, LeadingComponentsMatchTheDenseSolver) {
    const std::size_t N = 4500, D = 122;
    Matrix<float> X = test_data(N, D, 7);
    for (std::size_t n : {std::size_t{1}, std::size_t{2}, std::size_t{5}}) {
        const PcaResult full = pca(X.view(), n, 2);
        const PcaResult lead = pca_leading(X.view(), n, 2);
        ASSERT_EQ(lead.components.rows(), n);
        ASSERT_EQ(lead.components.cols(), D);
        EXPECT_NEAR(lead.total_variance, full.total_variance, 1e-9 * full.total_variance);
        for (std::size_t c = 0; c < n; ++c) {
            EXPECT_NEAR(lead.explained_variance[c], full.explained_variance[c], 1e-8 * full.explained_variance[0]);
            for (std::size_t j = 0; j < D; ++j) EXPECT_NEAR(lead.components(c, j), full.components(c, j), 1e-6);
            for (std::size_t i = 0; i < N; i += 97)
                EXPECT_NEAR(lead.scores(i, c), full.scores(i, c), 1e-4 * std::sqrt(full.explained_variance[0]));
        }
        const PcaResult one = pca_leading(X.view(), n, 1), three = pca_leading(X.view(), n, 3);
        for (std::size_t k = 0; k < n * D; ++k) EXPECT_EQ(one.components.data()[k], lead.components.data()[k]);
        for (std::size_t k = 0; k < n * D; ++k) EXPECT_EQ(three.components.data()[k], lead.components.data()[k]);
    }
    // n_components >= D / 2 falls back to the dense solver (bitwise pca()).
    const PcaResult wide = pca_leading(X.view(), D / 2, 1), dense = pca(X.view(), D / 2, 1);
    for (std::size_t k = 0; k < wide.components.rows() * D; ++k)
        EXPECT_EQ(wide.components.data()[k], dense.components.data()[k]);
    EXPECT_THROW(pca_leading(X.view(), 0, 1), InvalidArgument);
}

// Constant rows (paraDime's PCA phase on identical points): the Lanczos solver throws on the zero operator, so
// pca_leading falls back to the dense solver: zero variance, zero scores, the dense solver's bits.
TEST(InitPca, LeadingOnConstantDataFallsBackToTheDenseSolver) {
    const Matrix<float> X(300, 40, std::vector<float>(300 * 40, 2.5f));
    const PcaResult lead = pca_leading(X.view(), 2, 2), dense = pca(X.view(), 2, 2);
    EXPECT_EQ(lead.total_variance, 0.0);
    for (std::size_t k = 0; k < lead.scores.size(); ++k) ASSERT_EQ(lead.scores.data()[k], 0.0f);
    for (std::size_t k = 0; k < lead.components.size(); ++k)
        EXPECT_EQ(lead.components.data()[k], dense.components.data()[k]);
}
