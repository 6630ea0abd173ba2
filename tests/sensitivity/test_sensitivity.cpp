// S = −(H + λI)⁺ J and the uncertainty products: exact invariants, the seed's 3-point simulation, solver agreement,
// Kronecker factor order against the dense form and a Monte-Carlo estimate, per-point blocks, HOPs.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "nembed/core/error.hpp"
#include "nembed/core/log.hpp"
#include "nembed/core/random.hpp"
#include "nembed/sensitivity/sensitivity.hpp"

using namespace nembed;

namespace {

using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Three blobs (sep > 0; their relative placement is a very soft mode of H) or one cloud (sep = 0; well conditioned).
Matrix<double> blobs(std::size_t n, std::size_t d, std::uint64_t seed, double sep = 5.0) {
    Rng rng(seed);
    Matrix<double> X(n, d);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t f = 0; f < d; ++f) X(i, f) = (f == i % 3 ? sep : 0.0) + rng.normal();
    return X;
}

// Note: for small N and perplexity the KL can decrease all the way to an infinitely expanded embedding (Q → 1/d²),
// so the tests that need a finite optimum use 3 blobs at perplexity 8.
// A start near the structure (first two coordinates), then refined to a stationary point by the class itself.
Matrix<double> start_y(const Matrix<double>& X) {
    Matrix<double> Y(X.rows(), 2);
    for (std::size_t i = 0; i < X.rows(); ++i) {
        Y(i, 0) = X(i, 0) - X(i, 2);
        Y(i, 1) = X(i, 1) - X(i, 2);
    }
    return Y;
}

Eigen::MatrixXd as_eigen(const Matrix<double>& m) {
    return Eigen::Map<const RowMajor>(m.data(), static_cast<Eigen::Index>(m.rows()), static_cast<Eigen::Index>(m.cols()));
}

struct Silence {
    Silence() { set_log_sink([](LogLevel, const std::string&) {}); }
    ~Silence() { set_log_sink({}); }
};

SensitivityOptions exact_options(double perplexity) {
    SensitivityOptions o;
    o.derivatives.perplexity = perplexity;
    o.derivatives.n_threads = 2;
    o.refine = true;
    return o;
}

TEST(Sensitivity, RefineReachesAStationaryPoint) {
    Matrix<double> X = blobs(30, 4, 4);
    TsneSensitivity s(X.view(), start_y(X).view(), exact_options(8.0));
    EXPECT_LT(s.diagnostics().gradient_max, 1e-9);
    EXPECT_EQ(s.diagnostics().n_negative, 0u);
    EXPECT_LT(s.diagnostics().rotation_residual, 1e-7);
    EXPECT_TRUE(s.solver().is_dense());
}

TEST(Sensitivity, ExactInvariants) {
    const std::size_t n = 30, d = 4;
    Matrix<double> X = blobs(n, d, 4);
    TsneSensitivity s(X.view(), start_y(X).view(), exact_options(8.0));
    const Eigen::MatrixXd S = as_eigen(s.jacobian());
    ASSERT_EQ(S.rows(), static_cast<Eigen::Index>(2 * n));
    ASSERT_EQ(S.cols(), static_cast<Eigen::Index>(n * d));
    const double scale = S.norm();
    ASSERT_GT(scale, 0.0);
    // Input translation: for each feature the columns sum to zero over points.
    for (std::size_t f = 0; f < d; ++f) {
        Eigen::VectorXd c = Eigen::VectorXd::Zero(S.rows());
        for (std::size_t j = 0; j < n; ++j) c += S.col(static_cast<Eigen::Index>(j * d + f));
        EXPECT_LT(c.norm(), 1e-9 * scale) << "feature " << f;
    }
    // Input rotation: S·vec(X Aᵀ) = 0 for antisymmetric A.
    Rng rng(3);
    Eigen::MatrixXd A = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(d), static_cast<Eigen::Index>(d));
    for (Eigen::Index a = 0; a < A.rows(); ++a)
        for (Eigen::Index b = a + 1; b < A.cols(); ++b) {
            A(a, b) = rng.normal();
            A(b, a) = -A(a, b);
        }
    const RowMajor XA = as_eigen(X) * A.transpose();
    const Eigen::VectorXd u = Eigen::Map<const Eigen::VectorXd>(XA.data(), XA.size());
    EXPECT_LT((S * u).norm(), 1e-9 * scale * u.norm());
    // Output translations and (at a stationary point, with the gauge projected) the rotation: left null space.
    const Eigen::MatrixXd G = gauge_basis(s.embedding().view());
    EXPECT_LT((G.transpose() * S).norm(), 1e-9 * scale);
    // Products agree with the formed S.
    const Eigen::MatrixXd U = Eigen::MatrixXd::Random(static_cast<Eigen::Index>(n * d), 2);
    EXPECT_LT((s.apply(U) - S * U).norm(), 1e-10 * (S * U).norm());
    const Eigen::MatrixXd V = Eigen::MatrixXd::Random(static_cast<Eigen::Index>(2 * n), 2);
    EXPECT_LT((s.apply_transpose(V) - S.transpose() * V).norm(), 1e-10 * (S.transpose() * V).norm());
    EXPECT_LT((s.rows(6, 4) - S.middleRows(6, 4)).norm(), 1e-12 * scale);
}

TEST(Sensitivity, ImplicitDerivativeMatchesFiniteDifferencesOfTheOptimum) {
    // Move X a little, re-optimise Y*, compare ΔY* with S·ΔX (exact mode, λ = 0, gauge fixed by projection).
    // β differentiated: the perturbed problems recalibrate β; β fixed: they reuse the unperturbed β.
    const std::size_t n = 30, d = 4;
    Matrix<double> X = blobs(n, d, 4);
    Silence quiet;
    for (BandwidthMode mode : {BandwidthMode::differentiated, BandwidthMode::fixed}) {
        SensitivityOptions o = exact_options(8.0);
        o.derivatives.bandwidth = mode;
        TsneSensitivity s(X.view(), start_y(X).view(), o);
        Rng rng(5);
        Eigen::VectorXd u(static_cast<Eigen::Index>(n * d));
        for (Eigen::Index q = 0; q < u.size(); ++q) u[q] = rng.normal();
        // The optimum must be located far more precisely than h·‖S u‖: refine to ‖g‖∞ ≤ 1e-13 (soft modes ~1e-6).
        const double h = 1e-4;
        SensitivityOptions tight = o;
        tight.refine_tolerance = 1e-13;
        if (mode == BandwidthMode::fixed) tight.derivatives.beta = s.derivatives().beta();
        auto optimum = [&](double t) {
            Matrix<double> Xt = X;
            for (std::size_t q = 0; q < n * d; ++q) Xt.data()[q] += t * u[static_cast<Eigen::Index>(q)];
            TsneSensitivity st(Xt.view(), s.embedding().view(), tight);
            Eigen::VectorXd y = Eigen::Map<const Eigen::VectorXd>(st.embedding().data(), static_cast<Eigen::Index>(2 * n));
            return y;
        };
        Eigen::VectorXd dy = (optimum(h) - optimum(-h)) / (2 * h);
        const Eigen::MatrixXd G = gauge_basis(s.embedding().view());
        dy -= G * (G.transpose() * dy);  // the optimum is defined up to rigid motions
        const Eigen::VectorXd Su = s.apply(u);
        EXPECT_LT((dy - Su).norm(), 1e-3 * Su.norm()) << (mode == BandwidthMode::fixed ? "fixed" : "differentiated");
    }
}

TEST(Sensitivity, DenseAndMinresSolversAgree) {
    const std::size_t n = 30, d = 4;
    Matrix<double> X = blobs(n, d, 6);
    Silence quiet;
    TsneSensitivity dense(X.view(), start_y(X).view(), exact_options(5.0));
    for (double lam : {0.0, 1e-3}) {
        SensitivityOptions o = exact_options(5.0);
        o.refine = false;
        o.solve.damping = lam;
        o.solve.solver = HessianSolverKind::minres;
        o.solve.tolerance = 1e-12;
        SensitivityOptions od = o;
        od.solve.solver = HessianSolverKind::dense;
        TsneSensitivity a(X.view(), dense.embedding().view(), o), b(X.view(), dense.embedding().view(), od);
        EXPECT_FALSE(a.solver().is_dense());
        const Eigen::MatrixXd U = Eigen::MatrixXd::Random(static_cast<Eigen::Index>(n * d), 5);
        const Eigen::MatrixXd sa = a.apply(U), sb = b.apply(U);
        EXPECT_LT((sa - sb).norm(), 1e-6 * sb.norm()) << "lambda " << lam;
    }
}

// The dense-inverse back-end (Cholesky, LAPACK when built with it) against the eigendecomposition: S products and
// per-point blocks with kNN P (the blocked Jacobian path), with and without the gauge projection. Three separated
// blobs leave near-zero modes (the clusters' relative placement, eigenvalues ~1e-17 of a largest ~1e-6), so λ is
// set relative to the spectrum: condition numbers ~1e3 and ~1e5, where both back-ends are accurate.
TEST(Sensitivity, InverseSolverMatchesDense) {
    const std::size_t n = 40, d = 9;
    Matrix<double> X = blobs(n, d, 21);
    Silence quiet;
    SensitivityOptions base = exact_options(5.0);
    base.derivatives.affinity = SensitivityAffinity::knn;
    TsneSensitivity ref(X.view(), start_y(X).view(), base);
    ASSERT_EQ(ref.diagnostics().n_negative, 0u);
    for (bool project : {true, false}) {
        for (double rel_lam : {1e-3, 1e-5}) {
            const double lam = rel_lam * ref.solver().eigenvalues().maxCoeff();
            SensitivityOptions o = base;
            o.refine = false;
            o.solve.damping = lam;
            o.solve.project_gauge = project;
            o.solve.solver = HessianSolverKind::inverse;
            SensitivityOptions od = o;
            od.solve.solver = HessianSolverKind::dense;
            TsneSensitivity a(X.view(), ref.embedding().view(), o), b(X.view(), ref.embedding().view(), od);
            ASSERT_TRUE(a.solver().has_inverse());
            EXPECT_TRUE(a.solver().definite());
            EXPECT_STREQ(a.solver().kind_name(), "inverse");
            const Eigen::MatrixXd U = Eigen::MatrixXd::Random(static_cast<Eigen::Index>(n * d), 3);
            const Eigen::MatrixXd sa = a.apply(U), sb = b.apply(U);
            EXPECT_LT((sa - sb).norm(), 1e-7 * sb.norm()) << "project " << project << " lambda " << lam;
            std::vector<double> var(n * d);
            for (std::size_t q = 0; q < var.size(); ++q) var[q] = 0.5 + 0.01 * static_cast<double>(q % 7);
            const Matrix<double> pa = a.point_covariances(InputCovariance::diagonal(var));
            const Matrix<double> pb = b.point_covariances(InputCovariance::diagonal(var));
            double num = 0.0, den = 0.0;
            for (std::size_t q = 0; q < pa.size(); ++q) {
                num += (pa.data()[q] - pb.data()[q]) * (pa.data()[q] - pb.data()[q]);
                den += pb.data()[q] * pb.data()[q];
            }
            EXPECT_LT(std::sqrt(num), 1e-7 * std::sqrt(den)) << "project " << project << " lambda " << lam;
            const Eigen::MatrixXd ra = a.rows(6, 4), rb = b.rows(6, 4);
            EXPECT_LT((ra - rb).norm(), 1e-7 * rb.norm());
        }
    }
}

TEST(Sensitivity, InverseSolverHandlesAnIndefiniteHessian) {
    // Away from the optimum H has negative eigenvalues on the complement: the inverse path warns and still equals
    // the eigendecomposition's signed pseudo-inverse (no eigenvalue is cut).
    const std::size_t n = 24, d = 3;
    Matrix<double> X = blobs(n, d, 22);
    Matrix<double> Y(n, 2);
    Rng rng(23);
    for (std::size_t q = 0; q < Y.size(); ++q) Y.data()[q] = 3.0 * rng.normal();
    SensitivityOptions o;
    o.derivatives.perplexity = 5.0;
    o.solve.solver = HessianSolverKind::dense;
    std::vector<std::string> warnings;
    set_log_sink([&](LogLevel l, const std::string& m) {
        if (l == LogLevel::warning) warnings.push_back(m);
    });
    TsneSensitivity b(X.view(), Y.view(), o);
    o.solve.solver = HessianSolverKind::inverse;
    warnings.clear();
    TsneSensitivity a(X.view(), Y.view(), o);
    set_log_sink({});
    ASSERT_GT(b.diagnostics().n_negative, 0u);
    if (!a.solver().has_inverse()) GTEST_SKIP() << "built without LAPACK: indefinite Hessians go to MINRES";
    EXPECT_FALSE(a.solver().definite());
    bool warned = false;
    for (const auto& w : warnings) warned = warned || w.find("negative eigenvalues") != std::string::npos;
    EXPECT_TRUE(warned);
    const Eigen::MatrixXd U = Eigen::MatrixXd::Random(static_cast<Eigen::Index>(n * d), 2);
    const Eigen::MatrixXd sa = a.apply(U), sb = b.apply(U);
    EXPECT_LT((sa - sb).norm(), 1e-7 * sb.norm());
    // damp_to_definite: the smallest tenfold-raised λ above −μ_min is used, and the result is the damped solve.
    o.solve.damp_to_definite = true;
    Silence quiet;
    TsneSensitivity c(X.view(), Y.view(), o);
    ASSERT_TRUE(c.solver().has_inverse());
    EXPECT_TRUE(c.solver().definite());
    const double lam = c.solver().options().damping, mu_min = b.solver().eigenvalues()[0];
    EXPECT_GT(lam, -mu_min);
    EXPECT_LE(lam, -100.0 * mu_min);  // within two decades of the negative curvature
    SensitivityOptions od = o;
    od.solve.damp_to_definite = false;
    od.solve.solver = HessianSolverKind::dense;
    od.solve.damping = lam;
    TsneSensitivity e(X.view(), Y.view(), od);
    EXPECT_LT((c.apply(U) - e.apply(U)).norm(), 1e-7 * e.apply(U).norm());
}

TEST(Sensitivity, LanczosSpectrumMatchesDense) {
    const std::size_t n = 30, d = 4;
    Matrix<double> X = blobs(n, d, 6);
    Silence quiet;
    SensitivityOptions o = exact_options(5.0);
    o.refine = false;
    TsneSensitivity dense(X.view(), start_y(X).view(), o);  // not stationary: H is indefinite here
    o.solve.solver = HessianSolverKind::minres;
    o.lanczos_eigenvalues = 4;
    TsneSensitivity mf(X.view(), start_y(X).view(), o);
    ASSERT_TRUE(mf.diagnostics().dense_spectrum);
    ASSERT_EQ(mf.diagnostics().smallest_eigenvalues.size(), 4u);
    for (std::size_t k = 0; k < 4; ++k)
        EXPECT_NEAR(mf.diagnostics().smallest_eigenvalues[k], dense.diagnostics().smallest_eigenvalues[k],
                    1e-6 * std::abs(dense.diagnostics().smallest_eigenvalues[0]));
    EXPECT_GT(dense.diagnostics().n_negative, 0u);
    EXPECT_GT(mf.diagnostics().n_negative, 0u);
}

TEST(Sensitivity, SeedThreePointSimulation) {
    // sensitivity.md §12: N = 3, D = 5, perplexity 0.67, seed settings. Only feature 5 moves S, in (a, −2a, a).
    Silence quiet;
    Matrix<double> X(3, 5, 0.0);
    X(0, 4) = -1.0;
    X(2, 4) = 1.0;
    Matrix<double> Y(3, 2);
    const double y[] = {-1.0, 0.3, 0.1, -0.2, 1.2, 0.4};
    std::copy(y, y + 6, Y.data());
    TsneSensitivity s(X.view(), Y.view(), seed_compatible_options(0.67));
    const Eigen::MatrixXd S = as_eigen(s.jacobian());
    ASSERT_EQ(S.rows(), 6);
    ASSERT_EQ(S.cols(), 15);
    double amax = 0.0;
    for (Eigen::Index r = 0; r < 6; ++r) {
        for (Eigen::Index c = 0; c < 15; ++c)
            if (c % 5 != 4) {
                EXPECT_EQ(S(r, c), 0.0) << r << "," << c;
            }
        const double a = S(r, 4);
        EXPECT_NEAR(S(r, 9), -2.0 * a, 1e-6 * std::abs(a) + 1e-12);
        EXPECT_NEAR(S(r, 14), a, 1e-6 * std::abs(a) + 1e-12);
        amax = std::max(amax, std::abs(a));
    }
    EXPECT_GT(amax, 0.1);  // "highly unstable": large sensitivities from the perplexity < 1 floor
    // The middle point moved to 0.3: "highly stable", S vanishes.
    X(1, 4) = 0.3;
    TsneSensitivity stable(X.view(), Y.view(), seed_compatible_options(0.67));
    EXPECT_LT(as_eigen(stable.jacobian()).cwiseAbs().maxCoeff(), 1e-6);
}

Matrix<double> random_spd(std::size_t n, std::uint64_t seed) {
    Rng rng(seed);
    Eigen::MatrixXd B(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(n));
    for (Eigen::Index q = 0; q < B.size(); ++q) B.data()[q] = rng.normal();
    const Eigen::MatrixXd A = B * B.transpose() / static_cast<double>(n) + 0.2 * Eigen::MatrixXd::Identity(B.rows(), B.cols());
    Matrix<double> out(n, n);
    Eigen::Map<RowMajor>(out.data(), A.rows(), A.cols()) = A;
    return out;
}

TEST(Sensitivity, KroneckerCovarianceMatchesDenseAndMonteCarlo) {
    const std::size_t n = 12, d = 3;
    Matrix<double> X = blobs(n, d, 7);
    Silence quiet;
    TsneSensitivity s(X.view(), start_y(X).view(), exact_options(3.0));
    const Matrix<double> U = random_spd(n, 8), V = random_spd(d, 9);  // sample (N × N), feature (D × D)
    const InputCovariance kron = InputCovariance::kronecker(U, V);
    const Eigen::MatrixXd dense_sigma = kron.to_dense(n, d);
    // The factor order: entry (i·D + f, j·D + g) is U_ij V_fg.
    EXPECT_DOUBLE_EQ(dense_sigma(1 * 3 + 2, 4 * 3 + 0), U(1, 4) * V(2, 0));
    Matrix<double> sig(n * d, n * d);
    Eigen::Map<RowMajor>(sig.data(), dense_sigma.rows(), dense_sigma.cols()) = dense_sigma;
    const Eigen::MatrixXd Ck = as_eigen(s.covariance(kron));
    const Eigen::MatrixXd Cd = as_eigen(s.covariance(InputCovariance::dense(sig)));
    const Eigen::MatrixXd S = as_eigen(s.jacobian());
    const Eigen::MatrixXd Cs = S * dense_sigma * S.transpose();
    EXPECT_LT((Ck - Cd).norm(), 1e-9 * Cd.norm());
    EXPECT_LT((Ck - Cs).norm(), 1e-9 * Cs.norm());
    // Monte Carlo: matrix-normal noise E = L_U Z L_Vᵀ (rows = points), δY = S vec_row(E).
    const Eigen::MatrixXd LU = Eigen::LLT<Eigen::MatrixXd>(as_eigen(U)).matrixL();
    const Eigen::MatrixXd LV = Eigen::LLT<Eigen::MatrixXd>(as_eigen(V)).matrixL();
    Rng rng(10);
    const int m = 20000;
    Eigen::MatrixXd acc = Eigen::MatrixXd::Zero(Cs.rows(), Cs.cols());
    for (int t = 0; t < m; ++t) {
        Eigen::MatrixXd Z(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(d));
        for (Eigen::Index q = 0; q < Z.size(); ++q) Z.data()[q] = rng.normal();
        const RowMajor E = LU * Z * LV.transpose();
        const Eigen::VectorXd dy = S * Eigen::Map<const Eigen::VectorXd>(E.data(), E.size());
        acc += dy * dy.transpose();
    }
    acc /= m;
    EXPECT_LT((acc - Ck).norm() / Ck.norm(), 0.05);
    // The transposed order (the seed's callers' mistake) is clearly different.
    const Eigen::MatrixXd Us = as_eigen(U), Vs = as_eigen(V);
    Eigen::MatrixXd wrong = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(n * d), static_cast<Eigen::Index>(n * d));
    // kron(V, U) read point-major is a different matrix; compare only when shapes allow (n·d square either way).
    for (Eigen::Index a = 0; a < static_cast<Eigen::Index>(d); ++a)
        for (Eigen::Index b = 0; b < static_cast<Eigen::Index>(d); ++b)
            wrong.block(a * static_cast<Eigen::Index>(n), b * static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(n),
                        static_cast<Eigen::Index>(n)) = Vs(a, b) * Us;
    const Eigen::MatrixXd Cw = S * wrong * S.transpose();
    EXPECT_GT((acc - Cw).norm() / Cw.norm(), 0.2);
}

TEST(Sensitivity, PointBlocksAndOtherCovarianceForms) {
    const std::size_t n = 15, d = 3;
    Matrix<double> X = blobs(n, d, 11);
    Silence quiet;
    TsneSensitivity s(X.view(), start_y(X).view(), exact_options(4.0));
    const Eigen::MatrixXd S = as_eigen(s.jacobian());
    Rng rng(12);
    std::vector<double> var(n * d);
    for (double& v : var) v = 0.1 + rng.uniform();
    Matrix<double> L(n * d, 2);
    for (std::size_t q = 0; q < L.size(); ++q) L.data()[q] = rng.normal();
    const std::vector<InputCovariance> forms = {InputCovariance::scalar(0.3), InputCovariance::diagonal(var),
                                                InputCovariance::low_rank_plus_diagonal(L, var)};
    for (const auto& c : forms) {
        const Eigen::MatrixXd sigma = c.to_dense(n, d);
        const Eigen::MatrixXd ref = S * sigma * S.transpose();
        const Eigen::MatrixXd C = as_eigen(s.covariance(c));
        EXPECT_LT((C - ref).norm(), 1e-9 * ref.norm());
        const Matrix<double> blocks = s.point_covariances(c);
        for (std::size_t i = 0; i < n; ++i) {
            const auto r = static_cast<Eigen::Index>(2 * i);
            EXPECT_NEAR(blocks(i, 0), ref(r, r), 1e-9 * ref.norm());
            EXPECT_NEAR(blocks(i, 1), ref(r, r + 1), 1e-9 * ref.norm());
            EXPECT_NEAR(blocks(i, 3), ref(r + 1, r + 1), 1e-9 * ref.norm());
        }
        // The factor reproduces Σ.
        const Eigen::MatrixXd B = c.apply_factor(
            Eigen::MatrixXd::Identity(static_cast<Eigen::Index>(c.factor_cols(n, d)), static_cast<Eigen::Index>(c.factor_cols(n, d))), n, d);
        EXPECT_LT((B * B.transpose() - sigma).norm(), 1e-10 * sigma.norm());
    }
}

TEST(Sensitivity, HypotheticalOutcomesOrbit) {
    const std::size_t n = 15, d = 3;
    Matrix<double> X = blobs(n, d, 13);
    Silence quiet;
    TsneSensitivity s(X.view(), start_y(X).view(), exact_options(4.0));
    const HypotheticalOutcomes h = s.hypothetical_outcomes(InputCovariance::scalar(0.01), 8, 42);
    ASSERT_EQ(h.frames.size(), 8u);
    for (std::size_t q = 0; q < 2 * n; ++q) {
        EXPECT_NEAR(h.frames[0].data()[q], s.embedding().data()[q] + h.a.data()[q], 1e-12);
        EXPECT_NEAR(h.frames[2].data()[q], s.embedding().data()[q] + h.b.data()[q], 1e-9);
    }
    const HypotheticalOutcomes h2 = s.hypothetical_outcomes(InputCovariance::scalar(0.01), 8, 42);
    EXPECT_EQ(h.a.storage(), h2.a.storage());
}

TEST(Sensitivity, ImportanceAndSpectrum) {
    const std::size_t n = 15, d = 3;
    Matrix<double> X = blobs(n, d, 14);
    Silence quiet;
    SensitivityOptions o = exact_options(4.0);
    o.solve.damping = 1e-3;
    TsneSensitivity s(X.view(), start_y(X).view(), o);
    const Eigen::MatrixXd S = as_eigen(s.jacobian());
    const SensitivityImportance imp = s.importance();
    for (std::size_t j = 0; j < n; ++j) {
        double p = 0.0;
        for (std::size_t f = 0; f < d; ++f) {
            p += S.col(static_cast<Eigen::Index>(j * d + f)).squaredNorm();
            EXPECT_NEAR(imp.summed_abs(j, f), S.col(static_cast<Eigen::Index>(j * d + f)).cwiseAbs().sum(), 1e-10);
        }
        EXPECT_NEAR(imp.per_point[j], p, 1e-10 * p);
    }
    const InputCovariance c = InputCovariance::scalar(1.0);
    const VarianceSpectrum vs = s.variance_spectrum(c, 3, {1e-3, 1e-2});
    const double tr = as_eigen(s.covariance(c)).trace();
    EXPECT_NEAR(vs.trace_cov[0], tr, 1e-8 * tr);
    EXPECT_LT(vs.trace_cov[1], vs.trace_cov[0]);
    EXPECT_GT(vs.soft_share, 0.0);
    EXPECT_LE(vs.soft_share, 1.0);
}

TEST(Sensitivity, WarnsWhenNotStationaryAndRejectsBadInput) {
    const std::size_t n = 12, d = 3;
    Matrix<double> X = blobs(n, d, 15);
    std::vector<std::string> warnings;
    set_log_sink([&](LogLevel l, const std::string& m) { if (l == LogLevel::warning) warnings.push_back(m); });
    SensitivityOptions o;
    o.derivatives.perplexity = 3.0;
    TsneSensitivity s(X.view(), start_y(X).view(), o);
    set_log_sink({});
    ASSERT_FALSE(warnings.empty());
    EXPECT_NE(warnings[0].find("not a stationary point"), std::string::npos);
    EXPECT_THROW(s.covariance(InputCovariance::diagonal(std::vector<double>(5, 1.0))), InvalidArgument);
    EXPECT_THROW(s.point_covariances(InputCovariance::kronecker(random_spd(d, 1), random_spd(n, 2))), InvalidArgument);
    EXPECT_THROW(InputCovariance::scalar(-1.0), InvalidArgument);
    Matrix<double> notpsd(2, 2, std::vector<double>{1.0, 2.0, 2.0, 1.0});
    EXPECT_THROW(InputCovariance::kronecker(notpsd, notpsd), InvalidArgument);
    o.max_output_bytes = 100;
    Silence quiet;
    TsneSensitivity small(X.view(), start_y(X).view(), o);
    EXPECT_THROW(small.jacobian(), InvalidArgument);
    o.solve.damping = -1.0;
    EXPECT_THROW(TsneSensitivity(X.view(), start_y(X).view(), o), InvalidArgument);
}

} // namespace
