// The generic objective of the sensitivity analysis: KL(P ‖ w/Z) for other output kernels (heavy-tailed t-SNE,
// SNE's Gaussian, Cauchy ε, UMAP's curve) against central finite differences, the t-SNE specialisation against the
// generic formulas, and the reuse of the affinities that produced Y* (same S as recomputing them).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "nembed/affinity/perplexity.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/log.hpp"
#include "nembed/core/random.hpp"
#include "nembed/neighbors/knn.hpp"
#include "nembed/sensitivity/sensitivity.hpp"

using namespace nembed;

namespace {

Matrix<double> blobs(std::size_t n, std::size_t d, std::uint64_t seed, double sep = 4.0) {
    Rng rng(seed);
    Matrix<double> X(n, d);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t f = 0; f < d; ++f) X(i, f) = (f == i % 3 ? sep : 0.0) + rng.normal();
    return X;
}

Matrix<double> random_y(std::size_t n, std::uint64_t seed, double sd) {
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

double rel(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) { return (a - b).norm() / std::max(b.norm(), 1e-300); }

struct KernelCase {
    OutputKernel kernel;
    SensitivityAffinity affinity;
    BandwidthMode bandwidth;
    double y_sd;  // embedding spread: the Gaussian kernel needs pairs within a few bandwidths
    const char* name;
};

class KernelDerivatives : public ::testing::TestWithParam<KernelCase> {
protected:
    DerivativeOptions options() const {
        DerivativeOptions o;
        o.perplexity = 5.0;
        o.affinity = GetParam().affinity;
        o.bandwidth = GetParam().bandwidth;
        o.kernel = GetParam().kernel;
        o.n_threads = 2;
        return o;
    }
};

// Central differences with h = 1e-5 in float64: truncation ~h²·|third derivative| and rounding ~ε/h leave about
// 1e-8 relative; 1e-6 is the bound (as for the t-SNE kernel in test_sensitivity_derivatives.cpp).
TEST_P(KernelDerivatives, GradientAndHessianMatchFiniteDifferences) {
    const std::size_t n = 24;
    Matrix<double> X = blobs(n, 4, 1), Y = random_y(n, 2, GetParam().y_sd);
    TsneDerivatives der(X.view(), Y.view(), options());
    const Eigen::VectorXd g = der.gradient();
    const Eigen::MatrixXd V = random_block(2 * n, 3, 4);
    const Eigen::MatrixXd HV = der.hessian_product(V);
    const Eigen::MatrixXd H = der.hessian();
    EXPECT_LT((H - H.transpose()).norm(), 1e-12 * H.norm());
    EXPECT_LT(rel(H * V, HV), 1e-12);
    const double h = 1e-5;
    for (Eigen::Index c = 0; c < V.cols(); ++c) {
        Matrix<double> Yp = Y, Ym = Y;
        for (std::size_t q = 0; q < 2 * n; ++q) {
            Yp.data()[q] += h * V(static_cast<Eigen::Index>(q), c);
            Ym.data()[q] -= h * V(static_cast<Eigen::Index>(q), c);
        }
        TsneDerivatives dp(X.view(), Yp.view(), options()), dm(X.view(), Ym.view(), options());
        const double fd = (dp.kl() - dm.kl()) / (2 * h);
        EXPECT_NEAR(g.dot(V.col(c)), fd, 1e-6 * std::abs(fd)) << GetParam().name;
        EXPECT_LT(rel(HV.col(c), (dp.gradient() - dm.gradient()) / (2 * h)), 1e-6) << GetParam().name;
    }
    // Translations are exact null vectors of H (the objective depends on differences only).
    Eigen::MatrixXd T = Eigen::MatrixXd::Zero(2 * n, 2);
    for (std::size_t i = 0; i < n; ++i) {
        T(static_cast<Eigen::Index>(2 * i), 0) = 1.0;
        T(static_cast<Eigen::Index>(2 * i + 1), 1) = 1.0;
    }
    EXPECT_LT((H * T).norm(), 1e-12 * H.norm()) << GetParam().name;
}

TEST_P(KernelDerivatives, JacobianMatchesFiniteDifferencesOfTheGradient) {
    const std::size_t n = 24, d = 4;
    Matrix<double> X = blobs(n, d, 5), Y = random_y(n, 6, GetParam().y_sd);
    const DerivativeOptions o = options();
    TsneDerivatives der(X.view(), Y.view(), o);
    const Eigen::MatrixXd U = random_block(static_cast<Eigen::Index>(n * d), 2, 8);
    const Eigen::MatrixXd JU = der.jacobian_product(U);
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
        EXPECT_LT(rel(JU.col(c), (dp.gradient() - dm.gradient()) / (2 * h)), 1e-6) << GetParam().name;
    }
    // Jᵀ is the adjoint of J (1e-12: the same sums in another order).
    const Eigen::MatrixXd V = random_block(2 * n, 2, 9);
    const Eigen::MatrixXd a = V.transpose() * JU, b = der.jacobian_transpose_product(V).transpose() * U;
    EXPECT_LT((a - b).norm(), 1e-12 * a.norm()) << GetParam().name;
}

INSTANTIATE_TEST_SUITE_P(
    All, KernelDerivatives,
    ::testing::Values(
        KernelCase{StudentTKernel{0.5}, SensitivityAffinity::dense, BandwidthMode::fixed, 2.0, "dof05_dense_fixed"},
        KernelCase{StudentTKernel{0.5}, SensitivityAffinity::knn, BandwidthMode::differentiated, 2.0, "dof05_knn_diff"},
        KernelCase{StudentTKernel{3.0}, SensitivityAffinity::knn, BandwidthMode::fixed, 2.0, "dof3_knn_fixed"},
        KernelCase{GaussianKernel{1.0}, SensitivityAffinity::dense, BandwidthMode::differentiated, 0.8, "sne_dense_diff"},
        KernelCase{GaussianKernel{2.0}, SensitivityAffinity::knn, BandwidthMode::fixed, 0.8, "sne_knn_fixed"},
        KernelCase{CauchyKernel{0.5}, SensitivityAffinity::knn, BandwidthMode::fixed, 2.0, "cauchy05_knn"},
        KernelCase{UmapCurve{}, SensitivityAffinity::knn, BandwidthMode::fixed, 2.0, "umap_knn"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(SensitivityObjective, TsneSpecialisationMatchesTheGenericFormulas) {
    // UMAP's curve with a = b = 1 is w = 1/(1 + D), t-SNE's kernel, but goes through the generic member-based
    // terms; the Student-t dof 1 path uses its one-division specialisation. Same maths, rounding apart (1e-12).
    const std::size_t n = 20, d = 3;
    Matrix<double> X = blobs(n, d, 11), Y = random_y(n, 12, 2.0);
    DerivativeOptions o;
    o.perplexity = 4.0;
    o.affinity = SensitivityAffinity::knn;
    o.bandwidth = BandwidthMode::differentiated;
    DerivativeOptions og = o;
    og.kernel = UmapCurve{1.0, 1.0};
    TsneDerivatives t(X.view(), Y.view(), o), g(X.view(), Y.view(), og);
    const Eigen::MatrixXd V = random_block(2 * n, 3, 13), U = random_block(static_cast<Eigen::Index>(n * d), 3, 14);
    EXPECT_NEAR(t.kl(), g.kl(), 1e-12 * std::abs(t.kl()));
    EXPECT_LT(rel(t.gradient(), g.gradient()), 1e-12);
    EXPECT_LT(rel(t.hessian_product(V), g.hessian_product(V)), 1e-12);
    EXPECT_LT(rel(t.jacobian_product(U), g.jacobian_product(U)), 1e-12);
    // And an independent evaluation of the seed's closed form g_i = 4 Σ_j (P_ij − w_ij/Z) w_ij (y_i − y_j).
    const CsrMatrix<double> P = t.P();
    double Z = 0.0;
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j)
            if (i != j) Z += 1.0 / (1.0 + std::pow(Y(i, 0) - Y(j, 0), 2) + std::pow(Y(i, 1) - Y(j, 1), 2));
    Eigen::VectorXd ref = Eigen::VectorXd::Zero(2 * n);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j) {
            if (i == j) continue;
            const double w = 1.0 / (1.0 + std::pow(Y(i, 0) - Y(j, 0), 2) + std::pow(Y(i, 1) - Y(j, 1), 2));
            double p = 0.0;
            for (offset_t q = P.indptr[i]; q < P.indptr[i + 1]; ++q)
                if (static_cast<std::size_t>(P.indices[q]) == j) p = P.values[q];
            for (int k = 0; k < 2; ++k) ref[static_cast<Eigen::Index>(2 * i + k)] += 4.0 * (p - w / Z) * w * (Y(i, k) - Y(j, k));
        }
    EXPECT_LT(rel(t.gradient(), ref), 1e-12);
}

struct Silence {
    Silence() { set_log_sink([](LogLevel, const std::string&) {}); }
    ~Silence() { set_log_sink({}); }
};

TEST(SensitivityObjective, ReusedAffinitiesGiveTheSameS) {
    // The P, neighbour sets and β that produced Y* passed in give the S of recomputing them from X.
    const std::size_t n = 30, d = 4;
    Matrix<double> X = blobs(n, d, 21), Y = random_y(n, 22, 2.0);
    Silence quiet;  // Y is not stationary: the analysis warns
    SensitivityOptions o;
    o.derivatives.perplexity = 5.0;
    o.derivatives.affinity = SensitivityAffinity::knn;
    o.derivatives.n_threads = 2;
    o.solve.damping = 1e-2;
    const TsneSensitivity ref(X.view(), Y.view(), o);
    const Matrix<double> S_ref = ref.jacobian();
    const PerplexityAffinity& aff = ref.derivatives().affinity();

    // 1. Exactly the same inputs: the same bits.
    SensitivityOptions same = o;
    same.derivatives.neighbors = aff.col();
    same.derivatives.neighbors_k = aff.k();
    same.derivatives.beta = aff.beta();
    same.derivatives.joint = ref.derivatives().P();
    const TsneSensitivity s1(X.view(), Y.view(), same);
    EXPECT_EQ(s1.jacobian().storage(), S_ref.storage());

    // 2. nembed's t-SNE affinities: its kNN graph (float32 distances, neighbours in distance order) and its joint
    //    P; β recalibrated on the given sets. P agrees to float32 rounding of the distances, so S does to ~1e-5.
    Matrix<float> Xf(n, d);
    for (std::size_t q = 0; q < X.size(); ++q) Xf.data()[q] = static_cast<float>(X.data()[q]);
    KnnOptions ko;
    ko.method = KnnMethod::exact;
    const KnnGraph graph = find_neighbors(Xf.view(), aff.k(), ko);
    PerplexityOptions po;
    po.perplexity = 5.0;
    SensitivityOptions given = o;
    given.derivatives.neighbors.assign(graph.indices.begin(), graph.indices.end());
    given.derivatives.neighbors_k = graph.k;
    given.derivatives.joint = perplexity_affinities(graph, po);
    const TsneSensitivity s2(X.view(), Y.view(), given);
    EXPECT_EQ(s2.derivatives().affinity().col(), aff.col());  // the same sets, sorted by index
    EXPECT_EQ(s2.derivatives().beta(), aff.beta());           // recalibrated on the same float64 distances
    const Eigen::Map<const Eigen::VectorXd> a(S_ref.data(), static_cast<Eigen::Index>(S_ref.size()));
    const Matrix<double> S2 = s2.jacobian();
    const Eigen::Map<const Eigen::VectorXd> b2(S2.data(), static_cast<Eigen::Index>(S2.size()));
    const double diff = rel(b2, a);
    EXPECT_LT(diff, 1e-4);
    EXPECT_GT(diff, 0.0);  // the given P (float32 distances) was used, not recomputed
}

TEST(SensitivityObjective, BadKernelsAndAffinitiesAreRejected) {
    const std::size_t n = 10;
    Matrix<double> X = blobs(n, 3, 1), Y = random_y(n, 2, 1.0);
    DerivativeOptions o;
    o.perplexity = 3.0;
    auto expect_message = [&](const DerivativeOptions& bad, const std::string& part) {
        try {
            TsneDerivatives t(X.view(), Y.view(), bad);
            ADD_FAILURE() << "accepted; expected a message with '" << part << "'";
        } catch (const InvalidArgument& e) {
            EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
        }
    };
    DerivativeOptions b = o;
    b.kernel = CosineKernel{0.5};
    expect_message(b, "cosine");
    b.kernel = StudentTKernel{-1.0};
    expect_message(b, "dof");
    b = o;
    b.neighbors.assign(n * 4, 1);  // row 0 lists point 1 four times
    b.neighbors_k = 4;
    expect_message(b, "neighbour row 0");
    b.neighbors.assign(n * 4 - 1, 1);
    expect_message(b, "N x k");
    b = o;
    TsneDerivatives ok(X.view(), Y.view(), o);
    b.joint = ok.P();
    b.joint.values[0] *= 2.0;
    expect_message(b, "sum to 1");
    b.joint = ok.P();
    b.joint.values[0] += 1e-3;  // still sums to ~1 after the compensation below, but not symmetric
    b.joint.values[1] -= 1e-3;
    expect_message(b, "symmetric");
    b.joint = CsrMatrix<double>{};
    b.joint.n_rows = 3;
    b.joint.n_cols = 3;
    expect_message(b, "N x N");
}

} // namespace
