// Exact and Barnes-Hut repulsion: against a naive double loop, BH(theta = 0) == exact, BH(0.5) accuracy,
// determinism across thread counts and calls, duplicates, partial (transform) sums, bad input.
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include <gtest/gtest.h>

#include "nembed/core/error.hpp"
#include "nembed/kernel/kernel.hpp"
#include "nembed/repulsion/exact_sums.hpp"
#include "nembed/repulsion/repulsion.hpp"
#include "repulsion_test_util.hpp"

using namespace nembed;
using nembed::testing::clustered_layout;
using nembed::testing::naive_repulsion;
using nembed::testing::rel_error;

namespace {

double run(Repulsion& r, const Matrix<double>& Y, double dof, std::vector<double>& F) {
    F.assign(Y.size(), std::numeric_limits<double>::quiet_NaN());
    return r.compute(Y.view(), StudentTKernel(dof), F.data());
}

} // namespace

TEST(RepulsionKernel, StudentT1IsBitwiseStudentTOne) {
    // The α = 1 fast type the estimators dispatch to must give the same bits as StudentTKernel(1), and the shared
    // kernel_eval the same as the kernel's own members.
    const StudentTKernel t1(1.0);
    const StudentT1Kernel fast;
    for (double d2 : {0.0, 1e-300, 0.5, 3.0, 100.0, 1e12}) {
        double w, f, w1, f1;
        detail::kernel_eval(t1, d2, w, f);
        detail::kernel_eval(fast, d2, w1, f1);
        EXPECT_EQ(w, w1);
        EXPECT_EQ(f, f1);
        EXPECT_EQ(w, t1.w(d2));
        EXPECT_EQ(f, t1.force_weight(d2));
    }
    // Dispatch: α = 1 goes to StudentT1Kernel, anything else to the variant's alternative.
    EXPECT_TRUE(visit_kernel(OutputKernel(StudentTKernel(1.0)),
                                     [](const auto& k) { return std::is_same_v<std::decay_t<decltype(k)>, StudentT1Kernel>; }));
    EXPECT_FALSE(visit_kernel(OutputKernel(StudentTKernel(1.5)),
                                      [](const auto& k) { return std::is_same_v<std::decay_t<decltype(k)>, StudentT1Kernel>; }));
    EXPECT_DOUBLE_EQ(StudentTKernel(1.0).w(3.0), 0.25);
    EXPECT_DOUBLE_EQ(StudentTKernel(1.0).force_weight(3.0), 0.0625);
}

TEST(RepulsionExact, TwoPointsByHand) {
    Matrix<double> Y(2, 2, std::vector<double>{0, 0, 1, 1});  // d² = 2, w = 1/3, w² = 1/9
    auto ex = make_exact_repulsion(1);
    std::vector<double> F;
    EXPECT_NEAR(run(*ex, Y, 1.0, F), 2.0 / 3.0, 1e-15);
    EXPECT_NEAR(F[0], -1.0 / 9.0, 1e-15);
    EXPECT_NEAR(F[1], -1.0 / 9.0, 1e-15);
    EXPECT_NEAR(F[2], 1.0 / 9.0, 1e-15);
    EXPECT_NEAR(F[3], 1.0 / 9.0, 1e-15);
}

TEST(RepulsionExact, MatchesNaiveLoopAnyDimension) {
    for (std::size_t d : {1u, 2u, 3u, 5u}) {
        for (double dof : {1.0, 0.5, 3.0}) {
            Matrix<double> Y = clustered_layout(300, d, 7 + d);
            std::vector<double> Fn, F;
            const double Zn = naive_repulsion(Y, dof, Fn);
            auto ex = make_exact_repulsion(2);
            const double Z = run(*ex, Y, dof, F);
            EXPECT_NEAR(Z, Zn, 1e-12 * Zn) << "d=" << d << " dof=" << dof;
            EXPECT_LT(rel_error(F, Fn), 1e-12) << "d=" << d << " dof=" << dof;
        }
    }
}

TEST(RepulsionExact, ThreadsAndRepeatsAreBitwiseEqual) {
    Matrix<double> Y = clustered_layout(1500, 2, 3);
    auto e1 = make_exact_repulsion(1), e2 = make_exact_repulsion(2);
    std::vector<double> F1, F2, F3;
    const double Z1 = run(*e1, Y, 1.0, F1), Z2 = run(*e2, Y, 1.0, F2), Z3 = run(*e2, Y, 1.0, F3);
    EXPECT_EQ(Z1, Z2);
    EXPECT_EQ(Z2, Z3);
    EXPECT_EQ(F1, F2);
    EXPECT_EQ(F2, F3);
}

TEST(RepulsionBarnesHut, ThetaZeroEqualsExact) {
    for (std::size_t d : {1u, 2u, 3u}) {
        for (double dof : {1.0, 0.6, 2.0}) {
            Matrix<double> Y = clustered_layout(800, d, 11 + d);
            std::vector<double> Fe, Fb;
            auto ex = make_exact_repulsion(1);
            auto bh = make_barnes_hut_repulsion(0.0, 2);
            const double Ze = run(*ex, Y, dof, Fe), Zb = run(*bh, Y, dof, Fb);
            EXPECT_NEAR(Zb, Ze, 1e-10 * Ze) << "d=" << d << " dof=" << dof;
            EXPECT_LT(rel_error(Fb, Fe), 1e-10) << "d=" << d << " dof=" << dof;
        }
    }
}

TEST(RepulsionBarnesHut, ThetaAccuracy) {
    // N = 2000 points in 10 Gaussian clusters (span ~100). The monopole approximation with openTSNE's criterion
    // (full side / distance < theta) gives, measured at theta = 0.5: force error 0.7e-2 .. 2.5e-2 and Z error
    // 2e-5 .. 1e-2 (Z is always underestimated: w is subharmonic far out, so a cell's mean exceeds its value at the
    // centre of mass); at theta = 0.2: force error <= 1.4e-3, Z error <= 9e-4. Errors fall as ~theta^2.5.
    for (std::size_t d : {2u, 3u}) {
        for (double dof : {1.0, 0.5, 3.0}) {
            Matrix<double> Y = clustered_layout(2000, d, 21 + d);
            std::vector<double> Fe, Fb;
            auto ex = make_exact_repulsion(2);
            const double Ze = run(*ex, Y, dof, Fe);
            for (double theta : {0.5, 0.2}) {
                auto bh = make_barnes_hut_repulsion(theta, 2);
                const double Zb = run(*bh, Y, dof, Fb);
                const double ferr = rel_error(Fb, Fe), zerr = std::abs(Zb - Ze) / Ze;
                EXPECT_LT(ferr, theta == 0.5 ? 3e-2 : 2e-3) << "d=" << d << " dof=" << dof << " theta=" << theta;
                EXPECT_LT(zerr, theta == 0.5 ? 1.5e-2 : 1e-3) << "d=" << d << " dof=" << dof << " theta=" << theta;
                EXPECT_LE(Zb, Ze) << "d=" << d << " dof=" << dof << " theta=" << theta;
                std::printf("BH theta=%.1f d=%zu dof=%.1f: force rel err %.2e, Z rel err %.2e\n", theta, d, dof, ferr,
                            zerr);
            }
        }
    }
}

TEST(RepulsionBarnesHut, LargerThetaIsCoarser) {
    Matrix<double> Y = clustered_layout(2000, 2, 5);
    std::vector<double> Fe, F1, F2;
    auto ex = make_exact_repulsion(2);
    run(*ex, Y, 1.0, Fe);
    auto b1 = make_barnes_hut_repulsion(0.3, 2), b2 = make_barnes_hut_repulsion(1.0, 2);
    run(*b1, Y, 1.0, F1);
    run(*b2, Y, 1.0, F2);
    EXPECT_LT(rel_error(F1, Fe), rel_error(F2, Fe));
    EXPECT_LT(rel_error(F2, Fe), 0.15);
}

TEST(RepulsionBarnesHut, ThreadsAndRepeatsAreBitwiseEqual) {
    for (std::size_t d : {1u, 2u, 3u}) {
        Matrix<double> Y = clustered_layout(3000, d, 9);
        auto b1 = make_barnes_hut_repulsion(0.5, 1), b2 = make_barnes_hut_repulsion(0.5, 2);
        std::vector<double> F1, F2, F3;
        const double Z1 = run(*b1, Y, 1.0, F1), Z2 = run(*b2, Y, 1.0, F2), Z3 = run(*b2, Y, 1.0, F3);
        EXPECT_EQ(Z1, Z2);
        EXPECT_EQ(Z2, Z3);
        EXPECT_EQ(F1, F2);
        EXPECT_EQ(F2, F3);
    }
}

TEST(RepulsionBarnesHut, DuplicatesAndDegenerateInputs) {
    // All points coincident: every pair has w = 1, forces vanish.
    Matrix<double> same(50, 2, 3.25);
    auto bh = make_barnes_hut_repulsion(0.5, 2);
    std::vector<double> F;
    EXPECT_NEAR(run(*bh, same, 1.0, F), 50.0 * 49.0, 1e-9);
    for (double f : F) EXPECT_EQ(f, 0.0);
    // Some duplicates mixed in: theta = 0 still equals the exact sums.
    Matrix<double> Y = clustered_layout(400, 2, 4);
    for (std::size_t i = 0; i < 100; ++i)
        for (std::size_t k = 0; k < 2; ++k) Y(200 + i, k) = Y(i % 7, k);
    std::vector<double> Fe, Fb;
    auto ex = make_exact_repulsion(1);
    auto b0 = make_barnes_hut_repulsion(0.0, 1);
    const double Ze = run(*ex, Y, 1.0, Fe), Zb = run(*b0, Y, 1.0, Fb);
    EXPECT_NEAR(Zb, Ze, 1e-10 * Ze);
    EXPECT_LT(rel_error(Fb, Fe), 1e-10);
    // N = 0 and N = 1.
    Matrix<double> one(1, 3, 1.0);
    EXPECT_EQ(run(*bh, one, 1.0, F), 0.0);
    EXPECT_EQ(F, std::vector<double>(3, 0.0));
    Matrix<double> none(0, 2);
    EXPECT_EQ(bh->compute(none.view(), StudentTKernel(1.0), nullptr), 0.0);
    // Points so close they are below the coordinates' resolution relative to the root cell (depth cap).
    Matrix<double> tight(3, 2, std::vector<double>{0, 0, 1e-300, 0, 1e6, 1e6});
    EXPECT_TRUE(std::isfinite(run(*bh, tight, 1.0, F)));
}

TEST(RepulsionPartial, ExactAndBarnesHutAgainstNaive) {
    Matrix<double> ref = clustered_layout(1500, 2, 31);
    Matrix<double> q = clustered_layout(200, 2, 32);
    const std::size_t n = ref.rows();
    // Naive: each query against the whole reference, no query-query terms.
    std::vector<double> Fn(q.size(), 0.0), zn(q.rows(), 0.0);
    for (double dof : {1.0, 0.5}) {
        for (std::size_t i = 0; i < q.rows(); ++i) {
            Fn[2 * i] = Fn[2 * i + 1] = zn[i] = 0.0;
            for (std::size_t j = 0; j < n; ++j) {
                const double dx = q(i, 0) - ref(j, 0), dy = q(i, 1) - ref(j, 1);
                const double b = 1.0 + (dx * dx + dy * dy) / dof;
                zn[i] += std::pow(b, -dof);
                Fn[2 * i] += std::pow(b, -dof - 1) * dx;
                Fn[2 * i + 1] += std::pow(b, -dof - 1) * dy;
            }
        }
        auto ex = make_exact_repulsion(2);
        auto b0 = make_barnes_hut_repulsion(0.0, 2);
        auto bh = make_barnes_hut_repulsion(0.5, 2);
        std::vector<double> F(q.size()), z(q.rows());
        ex->compute_partial(ref.view(), q.view(), StudentTKernel(dof), F.data(), z.data());
        EXPECT_LT(rel_error(F, Fn), 1e-12);
        EXPECT_LT(rel_error(z, zn), 1e-12);
        b0->compute_partial(ref.view(), q.view(), StudentTKernel(dof), F.data(), z.data());
        EXPECT_LT(rel_error(F, Fn), 1e-10);
        EXPECT_LT(rel_error(z, zn), 1e-10);
        bh->compute_partial(ref.view(), q.view(), StudentTKernel(dof), F.data(), z.data());
        EXPECT_LT(rel_error(F, Fn), 3e-2);
        // Measured: per-query z error up to about 2.1 % (BH underestimates z, see ThetaAccuracy).
        EXPECT_LT(rel_error(z, zn), 2e-2);
        for (std::size_t i = 0; i < z.size(); ++i) EXPECT_NEAR(z[i], zn[i], 4e-2 * zn[i]);
    }
}

TEST(RepulsionBadInput, Throws) {
    EXPECT_THROW(make_barnes_hut_repulsion(-0.1, 1), InvalidArgument);
    EXPECT_THROW(make_barnes_hut_repulsion(std::nan(""), 1), InvalidArgument);
    EXPECT_THROW(make_barnes_hut_repulsion(0.5, 0), InvalidArgument);
    EXPECT_THROW(make_exact_repulsion(0), InvalidArgument);
    Matrix<double> Y = clustered_layout(10, 2, 1);
    std::vector<double> F(Y.size()), z(Y.rows());
    auto ex = make_exact_repulsion(1);
    auto bh = make_barnes_hut_repulsion(0.5, 1);
    for (Repulsion* r : {ex.get(), bh.get()}) {
        EXPECT_THROW(r->compute(Y.view(), StudentTKernel(0.0), F.data()), InvalidArgument);
        EXPECT_THROW(r->compute(Y.view(), StudentTKernel(-1.0), F.data()), InvalidArgument);
        EXPECT_THROW(r->compute(Y.view(), StudentTKernel(std::nan("")), F.data()), InvalidArgument);
        EXPECT_THROW(r->compute(Y.view(), StudentTKernel(1.0), nullptr), InvalidArgument);
        Matrix<double> bad = Y;
        bad(3, 1) = std::numeric_limits<double>::infinity();
        EXPECT_THROW(r->compute(bad.view(), StudentTKernel(1.0), F.data()), InvalidArgument);
        bad(3, 1) = std::nan("");
        EXPECT_THROW(r->compute(bad.view(), StudentTKernel(1.0), F.data()), InvalidArgument);
        Matrix<double> q3(4, 3, 0.0);
        std::vector<double> F3(12);
        EXPECT_THROW(r->compute_partial(Y.view(), q3.view(), StudentTKernel(1.0), F3.data(), z.data()), InvalidArgument);
        EXPECT_THROW(r->compute_partial(Y.view(), Y.view(), StudentTKernel(1.0), F.data(), nullptr), InvalidArgument);
        EXPECT_THROW(r->compute_partial(Y.view(), Y.view(), StudentTKernel(0.0), F.data(), z.data()), InvalidArgument);
    }
    Matrix<double> Y4 = clustered_layout(10, 4, 1);
    std::vector<double> F4(Y4.size());
    try {
        bh->compute(Y4.view(), StudentTKernel(1.0), F4.data());
        ADD_FAILURE() << "4-D Barnes-Hut did not throw";
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("got 4"), std::string::npos) << e.what();
    }
    EXPECT_NO_THROW(ex->compute(Y4.view(), StudentTKernel(1.0), F4.data()));
}
