// Hessian-, Jacobian- and transposed-Jacobian-vector products of the t-SNE objective against central finite
// differences (relative error ≤ 1e-6 in float64), for dense and kNN P, β fixed and differentiated.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "nembed/core/error.hpp"
#include "nembed/core/random.hpp"
#include "nembed/sensitivity/tsne_derivatives.hpp"
#include "../../src/sensitivity/block_kernels.hpp"  // private kernels, tested per instruction set

using namespace nembed;

namespace {

using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

Matrix<double> blobs(std::size_t n, std::size_t d, std::uint64_t seed, double sd = 1.0) {
    Rng rng(seed);
    Matrix<double> X(n, d);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t f = 0; f < d; ++f) X(i, f) = (f == i % 3 ? 4.0 : 0.0) + sd * rng.normal();
    return X;
}

Matrix<double> random_y(std::size_t n, std::uint64_t seed, double sd = 2.0) {
    Rng rng(seed, 1);
    Matrix<double> Y(n, 2);
    for (std::size_t q = 0; q < Y.size(); ++q) Y.data()[q] = sd * rng.normal();
    return Y;
}

Eigen::MatrixXd random_block(Eigen::Index rows, Eigen::Index cols, std::uint64_t seed) {
    Rng rng(seed, 7);
    Eigen::MatrixXd M(rows, cols);
    for (Eigen::Index c = 0; c < cols; ++c)
        for (Eigen::Index r = 0; r < rows; ++r) M(r, c) = rng.normal();
    return M;
}

double rel(const Eigen::VectorXd& a, const Eigen::VectorXd& b) { return (a - b).norm() / std::max(b.norm(), 1e-300); }

struct Case {
    SensitivityAffinity affinity;
    BandwidthMode bandwidth;
    const char* name;
};

class Derivatives : public ::testing::TestWithParam<Case> {
protected:
    DerivativeOptions options() const {
        DerivativeOptions o;
        o.perplexity = 5.0;
        o.affinity = GetParam().affinity;
        o.bandwidth = GetParam().bandwidth;
        o.n_threads = 2;
        return o;
    }
};

TEST_P(Derivatives, GradientMatchesFiniteDifferencesOfKl) {
    const std::size_t n = 25;
    Matrix<double> X = blobs(n, 4, 1), Y = random_y(n, 2);
    TsneDerivatives der(X.view(), Y.view(), options());
    const Eigen::VectorXd g = der.gradient();
    const Eigen::VectorXd v = random_block(2 * n, 1, 3).col(0);
    const double h = 1e-5;
    Matrix<double> Yp = Y, Ym = Y;
    for (std::size_t q = 0; q < 2 * n; ++q) {
        Yp.data()[q] += h * v[static_cast<Eigen::Index>(q)];
        Ym.data()[q] -= h * v[static_cast<Eigen::Index>(q)];
    }
    TsneDerivatives dp(X.view(), Yp.view(), options()), dm(X.view(), Ym.view(), options());
    const double fd = (dp.kl() - dm.kl()) / (2 * h);
    EXPECT_NEAR(g.dot(v), fd, 1e-6 * std::abs(fd));
}

TEST_P(Derivatives, HessianProductMatchesFiniteDifferences) {
    const std::size_t n = 25;
    Matrix<double> X = blobs(n, 4, 1), Y = random_y(n, 2);
    TsneDerivatives der(X.view(), Y.view(), options());
    const Eigen::MatrixXd V = random_block(2 * n, 3, 4);
    const Eigen::MatrixXd HV = der.hessian_product(V);
    const Eigen::MatrixXd H = der.hessian();
    EXPECT_LT((H - H.transpose()).norm(), 1e-12 * H.norm());
    for (Eigen::Index c = 0; c < V.cols(); ++c) {
        const double h = 1e-5;
        Matrix<double> Yp = Y, Ym = Y;
        for (std::size_t q = 0; q < 2 * n; ++q) {
            Yp.data()[q] += h * V(static_cast<Eigen::Index>(q), c);
            Ym.data()[q] -= h * V(static_cast<Eigen::Index>(q), c);
        }
        TsneDerivatives dp(X.view(), Yp.view(), options()), dm(X.view(), Ym.view(), options());
        const Eigen::VectorXd fd = (dp.gradient() - dm.gradient()) / (2 * h);
        EXPECT_LT(rel(HV.col(c), fd), 1e-6) << GetParam().name;
        EXPECT_LT(rel(H * V.col(c), HV.col(c)), 1e-12);
    }
    // Translations are exact null vectors of H.
    Eigen::MatrixXd T = Eigen::MatrixXd::Zero(2 * n, 2);
    for (std::size_t i = 0; i < n; ++i) {
        T(static_cast<Eigen::Index>(2 * i), 0) = 1.0;
        T(static_cast<Eigen::Index>(2 * i + 1), 1) = 1.0;
    }
    EXPECT_LT((H * T).norm(), 1e-12 * H.norm());
}

TEST_P(Derivatives, JacobianProductMatchesFiniteDifferences) {
    const std::size_t n = 25, d = 4;
    Matrix<double> X = blobs(n, d, 5), Y = random_y(n, 6);
    DerivativeOptions o = options();
    TsneDerivatives der(X.view(), Y.view(), o);
    const Eigen::MatrixXd U = random_block(static_cast<Eigen::Index>(n * d), 2, 8);
    const Eigen::MatrixXd JU = der.jacobian_product(U);
    // β fixed: the perturbed objectives must use the same β; differentiated: they recalibrate (tightly).
    DerivativeOptions of = o;
    if (o.bandwidth == BandwidthMode::fixed) of.beta = der.beta();
    for (Eigen::Index c = 0; c < U.cols(); ++c) {
        const double h = 1e-5;
        Matrix<double> Xp = X, Xm = X;
        for (std::size_t q = 0; q < n * d; ++q) {
            Xp.data()[q] += h * U(static_cast<Eigen::Index>(q), c);
            Xm.data()[q] -= h * U(static_cast<Eigen::Index>(q), c);
        }
        TsneDerivatives dp(Xp.view(), Y.view(), of), dm(Xm.view(), Y.view(), of);
        const Eigen::VectorXd fd = (dp.gradient() - dm.gradient()) / (2 * h);
        EXPECT_LT(rel(JU.col(c), fd), 1e-6) << GetParam().name;
    }
}

TEST_P(Derivatives, TransposedProductIsTheAdjoint) {
    const std::size_t n = 25, d = 4;
    Matrix<double> X = blobs(n, d, 9), Y = random_y(n, 10);
    TsneDerivatives der(X.view(), Y.view(), options());
    const Eigen::MatrixXd U = random_block(static_cast<Eigen::Index>(n * d), 3, 11);
    const Eigen::MatrixXd V = random_block(static_cast<Eigen::Index>(2 * n), 3, 12);
    const Eigen::MatrixXd a = V.transpose() * der.jacobian_product(U);
    const Eigen::MatrixXd b = der.jacobian_transpose_product(V).transpose() * U;
    EXPECT_LT((a - b).norm(), 1e-12 * a.norm());
    // Σ_i g_i = 0 for every X: 1ᵀJ = 0 in both output coordinates; r ᵀJ = 0 (central forces).
    Eigen::MatrixXd T = Eigen::MatrixXd::Zero(2 * n, 3);
    for (std::size_t i = 0; i < n; ++i) {
        T(static_cast<Eigen::Index>(2 * i), 0) = 1.0;
        T(static_cast<Eigen::Index>(2 * i + 1), 1) = 1.0;
        T(static_cast<Eigen::Index>(2 * i), 2) = -Y(i, 1);
        T(static_cast<Eigen::Index>(2 * i + 1), 2) = Y(i, 0);
    }
    const Eigen::MatrixXd JtT = der.jacobian_transpose_product(T);
    const double scale = der.jacobian_transpose_product(V).norm();
    EXPECT_LT(JtT.norm(), 1e-12 * scale);
}

TEST_P(Derivatives, BlockedTransposedProductIsTheAdjoint) {
    // 37 right-hand sides: a full block of 32 and a ragged one; 9 features: a ragged feature tile too.
    const std::size_t n = 40, d = 9;
    Matrix<double> X = blobs(n, d, 31), Y = random_y(n, 32);
    TsneDerivatives der(X.view(), Y.view(), options());
    const Eigen::MatrixXd U = random_block(static_cast<Eigen::Index>(n * d), 37, 33);
    const Eigen::MatrixXd V = random_block(static_cast<Eigen::Index>(2 * n), 37, 34);
    const Eigen::MatrixXd a = V.transpose() * der.jacobian_product(U);
    const Eigen::MatrixXd JtV = der.jacobian_transpose_product(V);
    const Eigen::MatrixXd b = JtV.transpose() * U;
    EXPECT_LT((a - b).norm(), 1e-12 * a.norm());
    // Column by column gives the same bits as the block (columns are independent).
    for (Eigen::Index c : {0, 31, 32, 36})
        EXPECT_EQ(der.jacobian_transpose_product(V.col(c)), JtV.col(c)) << "column " << c;
}

TEST(SensitivityDerivatives, GemmKernelVariantsMatchEigen) {
    using namespace nembed::detail;
    for (auto [K, Dd, M] : {std::array<std::size_t, 3>{1, 1, 1}, {7, 3, 5}, {180, 50, 32}, {33, 9, 37}, {12, 8, 16}}) {
        const Eigen::MatrixXd A0 = random_block(static_cast<Eigen::Index>(K), static_cast<Eigen::Index>(Dd), 40 + K);
        const Eigen::MatrixXd W0 = random_block(static_cast<Eigen::Index>(K), static_cast<Eigen::Index>(M), 50 + M);
        const RowMajor A = A0, W = W0;
        const Eigen::MatrixXd ref = A0.transpose() * W0;
        for (GemmIsa isa : {GemmIsa::baseline, GemmIsa::avx2, GemmIsa::avx512}) {
            if (!gemm_isa_supported(isa)) continue;
            RowMajor out = RowMajor::Constant(static_cast<Eigen::Index>(Dd), static_cast<Eigen::Index>(M), 7.0);
            gemm_at_b_isa(isa, K, Dd, M, A.data(), Dd, W.data(), M, out.data(), M);
            EXPECT_LT((Eigen::MatrixXd(out) - ref).cwiseAbs().maxCoeff(), 1e-12 * std::max(1.0, ref.cwiseAbs().maxCoeff()))
                << "isa " << static_cast<int>(isa) << " K " << K << " D " << Dd << " M " << M;
        }
    }
    EXPECT_TRUE(gemm_isa_supported(GemmIsa::baseline));
}

TEST(SensitivityDerivatives, BlockedSpdInverseMatchesEigen) {
    // Blocks of 256 with a ragged last block (n = 600), a single block (n = 37); same bits for 1 and 3 threads;
    // a matrix with a negative eigenvalue is refused.
    for (std::size_t n : {37u, 600u}) {
        const auto N = static_cast<Eigen::Index>(n);
        const Eigen::MatrixXd G = random_block(N, N, 60 + n);
        Eigen::MatrixXd S = G * G.transpose() / static_cast<double>(n);
        S.diagonal().array() += 0.05;  // condition ~1e2
        const Eigen::MatrixXd ref = S.inverse();
        Eigen::MatrixXd A1 = S, A3 = S;
        A1.triangularView<Eigen::StrictlyLower>().setZero();  // only the upper triangle is read
        ASSERT_TRUE(nembed::detail::spd_inverse_blocked(A1, 1));
        ASSERT_TRUE(nembed::detail::spd_inverse_blocked(A3, 3));
        EXPECT_LT((A1 - ref).norm(), 1e-11 * ref.norm()) << "n " << n;
        EXPECT_EQ(A1, A3) << "n " << n;
        EXPECT_EQ(A1, Eigen::MatrixXd(A1.transpose()));
        Eigen::MatrixXd B = S;
        B(n / 2, n / 2) = -1.0;
        EXPECT_FALSE(nembed::detail::spd_inverse_blocked(B, 2));
        Eigen::MatrixXd L = S;  // the LAPACK path when built with it
        ASSERT_TRUE(nembed::detail::spd_inverse(L, 2));
        EXPECT_LT((L - ref).norm(), 1e-11 * ref.norm()) << "n " << n;
        B = S;
        B(n / 2, n / 2) = -1.0;
        EXPECT_FALSE(nembed::detail::spd_inverse(B, 2));
    }
}

TEST_P(Derivatives, ResultsDoNotDependOnThreads) {
    const std::size_t n = 30, d = 3;
    Matrix<double> X = blobs(n, d, 13), Y = random_y(n, 14);
    DerivativeOptions o1 = options(), o2 = options();
    o1.n_threads = 1;
    o2.n_threads = 3;
    TsneDerivatives a(X.view(), Y.view(), o1), b(X.view(), Y.view(), o2);
    const Eigen::MatrixXd V = random_block(2 * n, 5, 15), U = random_block(static_cast<Eigen::Index>(n * d), 5, 16);
    EXPECT_EQ(a.hessian_product(V), b.hessian_product(V));
    EXPECT_EQ(a.jacobian_product(U), b.jacobian_product(U));
    EXPECT_EQ(a.jacobian_transpose_product(V), b.jacobian_transpose_product(V));
    EXPECT_EQ(a.gradient(), b.gradient());
}

TEST_P(Derivatives, ResultsDoNotDependOnWhereTheDataSit) {
    // Issue #19 item 3: X + 1.7e10 must give the derivatives of X. Before centring, the dense path's expanded form
    // x_i.u_i + x_j.u_j - 2 x_i.u_j lost ~10 of double's 16 digits at 1.7e10; now both agree to rounding (1e-9).
    const std::size_t n = 30, d = 3;
    // X on a grid of 2^-16, offset 2^34 (1.7e10): X + offset is exact in double, the same points moved.
    Matrix<double> X = blobs(n, d, 17), Y = random_y(n, 18);
    for (std::size_t q = 0; q < X.size(); ++q) X.data()[q] = std::ldexp(std::round(std::ldexp(X.data()[q], 16)), -16);
    Matrix<double> Xs = X;
    for (std::size_t q = 0; q < Xs.size(); ++q) Xs.data()[q] += 0x1p34;
    TsneDerivatives a(X.view(), Y.view(), options()), b(Xs.view(), Y.view(), options());
    const Eigen::MatrixXd V = random_block(2 * n, 4, 19), U = random_block(static_cast<Eigen::Index>(n * d), 4, 20);
    EXPECT_LT((a.jacobian_product(U) - b.jacobian_product(U)).norm(), 1e-9 * a.jacobian_product(U).norm());
    EXPECT_LT((a.jacobian_transpose_product(V) - b.jacobian_transpose_product(V)).norm(),
              1e-9 * a.jacobian_transpose_product(V).norm());
    EXPECT_LT((a.gradient() - b.gradient()).norm(), 1e-9 * a.gradient().norm());
}

INSTANTIATE_TEST_SUITE_P(
    All, Derivatives,
    ::testing::Values(Case{SensitivityAffinity::dense, BandwidthMode::fixed, "dense_fixed"},
                      Case{SensitivityAffinity::dense, BandwidthMode::differentiated, "dense_differentiated"},
                      Case{SensitivityAffinity::knn, BandwidthMode::fixed, "knn_fixed"},
                      Case{SensitivityAffinity::knn, BandwidthMode::differentiated, "knn_differentiated"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(SensitivityDerivatives, BandwidthsMeetThePerplexityAndModesDiffer) {
    // Every row's entropy is log(perplexity) (exact search); P sums to 1; differentiating β changes J.
    const std::size_t n = 20, d = 3;
    Matrix<double> X = blobs(n, d, 17), Y = random_y(n, 18);
    DerivativeOptions o;
    o.perplexity = 4.0;
    TsneDerivatives der(X.view(), Y.view(), o);
    EXPECT_NEAR(der.P().sum(), 1.0, 1e-12);
    for (std::size_t i = 0; i < n; ++i) {
        std::vector<double> D;
        for (std::size_t j = 0; j < n; ++j) {
            if (j == i) continue;
            double s = 0.0;
            for (std::size_t f = 0; f < d; ++f) s += (X(i, f) - X(j, f)) * (X(i, f) - X(j, f));
            D.push_back(s);
        }
        double z = 0.0, h = 0.0;
        for (double v : D) z += std::exp(-der.beta()[i] * v);
        for (double v : D) {
            const double p = std::exp(-der.beta()[i] * v) / z;
            h -= p > 0 ? p * std::log(p) : 0.0;
        }
        EXPECT_NEAR(h, std::log(4.0), 1e-9) << "row " << i;
    }
    DerivativeOptions od = o;
    od.bandwidth = BandwidthMode::differentiated;
    TsneDerivatives dd(X.view(), Y.view(), od);
    const Eigen::MatrixXd U = random_block(static_cast<Eigen::Index>(n * d), 1, 19);
    const Eigen::MatrixXd a = der.jacobian_product(U), b = dd.jacobian_product(U);
    EXPECT_GT((a - b).norm(), 1e-3 * a.norm());
}

TEST(SensitivityDerivatives, DenseAffinityIsRefusedAboveItsPointLimit) {
    // Issue #19 item 6: the dense layout is O(N^2) in memory and time; the limit is lowered to test it on 12 points.
    Matrix<double> X = blobs(12, 3, 1), Y = random_y(12, 2);
    DerivativeOptions o;
    o.perplexity = 3.0;
    o.dense_max_points = 11;
    try {
        TsneDerivatives d(X.view(), Y.view(), o);
        ADD_FAILURE() << "accepted";
    } catch (const InvalidArgument& e) {
        const std::string m = e.what();
        EXPECT_NE(m.find("12 points (limit 11 points)"), std::string::npos) << m;
        EXPECT_NE(m.find("kNN affinity"), std::string::npos) << m;
    }
    o.dense_max_points = 12;
    EXPECT_NO_THROW(TsneDerivatives(X.view(), Y.view(), o));
    o.dense_max_points = 11;
    o.affinity = SensitivityAffinity::knn;  // the kNN layout is O(N k): never limited
    EXPECT_NO_THROW(TsneDerivatives(X.view(), Y.view(), o));
    EXPECT_EQ(DerivativeOptions{}.dense_max_points, 20000u);
}

TEST(SensitivityDerivatives, BadInputIsRejected) {
    Matrix<double> X = blobs(10, 3, 1), Y = random_y(10, 2), Y3(10, 3), Ys = random_y(9, 2);
    DerivativeOptions o;
    o.perplexity = 3.0;
    EXPECT_THROW(TsneDerivatives(X.view(), Y3.view(), o), InvalidArgument);
    EXPECT_THROW(TsneDerivatives(X.view(), Ys.view(), o), InvalidArgument);
    o.perplexity = 20.0;  // above N − 1 = 9 neighbours
    EXPECT_THROW(TsneDerivatives(X.view(), Y.view(), o), InvalidArgument);
    o.perplexity = -1.0;
    EXPECT_THROW(TsneDerivatives(X.view(), Y.view(), o), InvalidArgument);
    o.perplexity = 3.0;
    o.affinity = SensitivityAffinity::knn;
    o.n_neighbors = 10;
    EXPECT_THROW(TsneDerivatives(X.view(), Y.view(), o), InvalidArgument);
    o.n_neighbors = 0;
    // A neighbour count with the dense affinity would be ignored: refused, naming the parameter and value.
    DerivativeOptions dense_k;
    dense_k.perplexity = 3.0;
    dense_k.n_neighbors = 5;
    try {
        TsneDerivatives(X.view(), Y.view(), dense_k);
        ADD_FAILURE() << "n_neighbors with the dense affinity was accepted";
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("n_neighbors = 5"), std::string::npos) << e.what();
    }
    // Data whose squared distances overflow float64 are refused up front (they gave a failed eigendecomposition).
    Matrix<double> Xh = X;
    for (double& v : Xh.storage()) v *= 1e300;
    DerivativeOptions okh;
    okh.perplexity = 3.0;
    EXPECT_THROW(TsneDerivatives(Xh.view(), Y.view(), okh), InvalidArgument);
    // Huge perplexities are named briefly (std::to_string printed 1e300 with 300 digits).
    DerivativeOptions big;
    big.perplexity = 1e300;
    try {
        TsneDerivatives(X.view(), Y.view(), big);
        ADD_FAILURE() << "perplexity 1e300 was accepted";
    } catch (const InvalidArgument& e) {
        EXPECT_LT(std::string(e.what()).size(), 200u) << e.what();
    }
    o.beta = {1.0, 2.0};
    EXPECT_THROW(TsneDerivatives(X.view(), Y.view(), o), InvalidArgument);
    Matrix<double> Xn = X;
    Xn(2, 1) = std::nan("");
    DerivativeOptions ok;
    ok.perplexity = 3.0;
    EXPECT_THROW(TsneDerivatives(Xn.view(), Y.view(), ok), InvalidArgument);
}

} // namespace

// The kNN affinity's own exact float64 search (a bounded heap whose candidates stop summing once past its largest
// distance) against a full sort of every row: the same neighbour sets, ties to the smaller index, and the same bits of
// the conditional rows (given the reference sets, the distances are recomputed in the same order). Clustered data
// (most pairs stop early), plus exact ties from duplicated points.
TEST(SensitivityDerivatives, KnnSearchEqualsAFullSort) {
    const std::size_t n = 300, d = 12, k = 20;
    Matrix<double> X = blobs(n, d, 41, 0.3);
    for (std::size_t f = 0; f < d; ++f) {
        X(7, f) = X(3, f);  // duplicates: equal distances, ordered by index
        X(250, f) = X(3, f);
    }
    DerivativeOptions o;
    o.affinity = SensitivityAffinity::knn;
    o.perplexity = 5.0;
    o.n_neighbors = k;
    DerivativeOptions given = o;
    given.neighbors_k = k;
    for (std::size_t i = 0; i < n; ++i) {
        std::vector<std::pair<double, std::size_t>> row;
        for (std::size_t j = 0; j < n; ++j) {
            if (j == i) continue;
            double s = 0.0;
            for (std::size_t f = 0; f < d; ++f) s += (X(i, f) - X(j, f)) * (X(i, f) - X(j, f));
            row.emplace_back(s, j);
        }
        std::sort(row.begin(), row.end());
        for (std::size_t q = 0; q < k; ++q) given.neighbors.push_back(row[q].second);
    }
    for (int threads : {1, 2}) {
        o.n_threads = given.n_threads = threads;
        const PerplexityAffinity searched(X.view(), o), reference(X.view(), given);
        EXPECT_EQ(searched.col(), reference.col()) << threads << " threads";
        EXPECT_EQ(searched.conditional(), reference.conditional()) << threads << " threads";
        EXPECT_EQ(searched.beta(), reference.beta()) << threads << " threads";
    }
}
