// UMAP's kernel and loss: (a, b) equal umap-learn's find_ab_params (fixture); the BCE loss's coefficients are the
// gradients of the cross-entropy for every kernel (finite differences), umap-learn's regularised form for the UMAP
// curve, cne's clamped form; umap-learn's learning-rate decay as a schedule.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <string>

#include "nembed/core/error.hpp"
#include "nembed/io/npz.hpp"
#include "nembed/kernel/umap_kernel.hpp"
#include "nembed/loss/bce.hpp"
#include "nembed/optim/schedule.hpp"
#include "nembed/optim/sgd.hpp"
#include "nembed/optim/adam.hpp"

using namespace nembed;

TEST(UmapKernel, AbParamsMatchUmapLearn) {
    const std::string path = std::string(NEMBED_TEST_DATA_DIR) + "/umap_fuzzy_600.npz";
    struct Case {
        const char* member;
        double spread, min_dist;
    } cases[] = {{"ab_min_dist_0.1", 1.0, 0.1}, {"ab_s1_md05", 1.0, 0.5}, {"ab_s2_md025", 2.0, 0.25}};
    for (const auto& c : cases) {
        auto ref = read_npz(path, c.member);
        UmapCurve k = find_ab_params(c.spread, c.min_dist);
        EXPECT_NEAR(k.a, ref.value(0), 1e-3) << c.member;
        EXPECT_NEAR(k.b, ref.value(1), 1e-3) << c.member;
        std::printf("%s: a %.6f (umap-learn %.6f), b %.6f (umap-learn %.6f)\n", c.member, k.a, ref.value(0), k.b,
                    ref.value(1));
    }
    // the documented default values
    UmapCurve d = find_ab_params(1.0, 0.1);
    EXPECT_NEAR(d.a, 1.5769434602697652, 1e-4);
    EXPECT_NEAR(d.b, 0.8950608778515733, 1e-4);
}

TEST(UmapKernel, AbParamsRejectBadInput) {
    EXPECT_THROW(find_ab_params(0.0, 0.1), InvalidArgument);
    EXPECT_THROW(find_ab_params(1.0, -0.1), InvalidArgument);
    EXPECT_THROW(find_ab_params(1.0, 2.0), InvalidArgument);
    EXPECT_THROW(find_ab_params(NAN, 0.1), InvalidArgument);
}

namespace {
// Central differences of f(y_i) along each coordinate, y_j fixed; D = ‖y_i − y_j‖².
template <typename F>
void fd_grad(F f, const double* yi, double* g, double h = 1e-6) {
    for (int k = 0; k < 2; ++k) {
        double p[2] = {yi[0], yi[1]}, m[2] = {yi[0], yi[1]};
        p[k] += h;
        m[k] -= h;
        g[k] = (f(p) - f(m)) / (2 * h);
    }
}
double sqdist(const double* a, const double* b) {
    return (a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]);
}

// The generic BCE coefficients of kernel K are the gradients of −log w and −γ·log(1 − w) (relative 1e-6: central
// differences with h = 1e-6 on O(1) values).
template <typename K>
void check_generic_bce(const K& kern, const char* what) {
    const double gamma = 0.7;
    const double yj[2] = {1.1, 0.4};
    for (const auto& yi : {std::array<double, 2>{0.3, -1.2}, std::array<double, 2>{1.0, 0.5},
                           std::array<double, 2>{-2.0, 3.0}}) {
        const double D = sqdist(yi.data(), yj);
        double ga[2], gr[2];
        fd_grad([&](const double* y) { return -kern.log_w(sqdist(y, yj)); }, yi.data(), ga);
        fd_grad([&](const double* y) { return -gamma * std::log(1.0 - kern.w(sqdist(y, yj))); }, yi.data(), gr);
        const double cp = Bce<K>::attraction_coeff(kern, D), cm = Bce<K>::repulsion_coeff(kern, D, gamma);
        for (int k = 0; k < 2; ++k) {
            EXPECT_NEAR(cp * (yi[k] - yj[k]), ga[k], 1e-6 * (1 + std::abs(ga[k]))) << what << " D " << D;
            EXPECT_NEAR(-cm * (yi[k] - yj[k]), gr[k], 1e-6 * (1 + std::abs(gr[k]))) << what << " D " << D;
        }
        EXPECT_NEAR(Bce<K>::attraction_loss(kern, D), -std::log(kern.w(D)), 1e-14) << what;
        EXPECT_NEAR(Bce<K>::repulsion_loss(kern, D, gamma), -gamma * std::log(1.0 - kern.w(D)), 1e-12) << what;
    }
}
} // namespace

TEST(Bce, GenericCoefficientsAreGradientsForEveryKernel) {
    check_generic_bce(CauchyKernel{1.0}, "cauchy eps 1");
    check_generic_bce(CauchyKernel{2.5}, "cauchy eps 2.5");
    check_generic_bce(StudentTKernel{0.6}, "student-t 0.6");
    check_generic_bce(StudentTKernel{1.0}, "student-t 1");
    check_generic_bce(GaussianKernel{2.0}, "gaussian");
}

TEST(Bce, UmapCurveIsUmapLearnsRegularisedForm) {
    const UmapCurve c = find_ab_params(1.0, 0.1);
    const double gamma = 1.3;
    const double yj[2] = {1.1, 0.4};
    for (const auto& yi : {std::array<double, 2>{0.3, -1.2}, std::array<double, 2>{1.0, 0.5},
                           std::array<double, 2>{4.0, -3.0}}) {
        const double D = sqdist(yi.data(), yj);
        double ga[2], gr[2];
        fd_grad([&](const double* y) { return -std::log(c.w(sqdist(y, yj))); }, yi.data(), ga);
        fd_grad([&](const double* y) { return -gamma * std::log(1.0 - c.w(sqdist(y, yj))); }, yi.data(), gr);
        const double cp = Bce<UmapCurve>::attraction_coeff(c, D), cm = Bce<UmapCurve>::repulsion_coeff(c, D, gamma);
        for (int k = 0; k < 2; ++k) {
            // float pow: relative 1e-6
            EXPECT_NEAR(cp * (yi[k] - yj[k]), ga[k], 1e-6 * (1 + std::abs(ga[k]))) << D;
            // umap-learn's 0.001 in the repulsion changes the gradient by a relative 0.001/D
            EXPECT_NEAR(-cm * (yi[k] - yj[k]), gr[k], 2e-3 / D * std::abs(gr[k]) + 1e-7) << D;
        }
        // the exact form from the kernel: c⁻ = 2γb/(D(1 + aD^b)); umap-learn's differs by the factor D/(0.001 + D)
        EXPECT_NEAR(cm, 2 * gamma * c.b / (D * (1 + c.a * std::pow(D, c.b))) * D / (0.001 + D), 1e-6 * cm);
        EXPECT_NEAR(cp, -2 * c.dlog_w(D), 1e-6 * cp);
        EXPECT_NEAR(Bce<UmapCurve>::attraction_loss(c, D), -c.log_w(D), 1e-14);
        EXPECT_NEAR(Bce<UmapCurve>::repulsion_loss(c, D, gamma), -gamma * std::log(1 - c.w(D)), 1e-12);
    }
    EXPECT_EQ(Bce<UmapCurve>::attraction_coeff(c, 0.0), 0.0);  // umap-learn's convention at D = 0
    EXPECT_TRUE(std::isfinite(Bce<UmapCurve>::repulsion_coeff(c, 0.0, 1.0)));  // 2γb/0.001
    EXPECT_TRUE(std::isfinite(Bce<UmapCurve>::attraction_coeff(c, 1e300)));  // p overflows in float
    EXPECT_EQ(clip_value(7.0), 4.0);
    EXPECT_EQ(clip_value(-7.0), -4.0);
}

TEST(Bce, ClampedTermsAreDerivativesInsideTheClampAndZeroOutside) {
    const BceClamp clamp{1e-4, 1.0};
    for (double eps : {1.0, 0.5, 0.0}) {  // the clamped form accepts any eps (cne)
        const CauchyKernel k{eps};
        for (double D : {0.7, 3.0, 40.0}) {
            const double h = 1e-6 * D;
            const double fa = (bce_attraction(k, D + h, clamp).loss - bce_attraction(k, D - h, clamp).loss) / (2 * h);
            const double fr =
                (bce_repulsion(k, D + h, 0.8, clamp).loss - bce_repulsion(k, D - h, 0.8, clamp).loss) / (2 * h);
            const double w = k.w(D);
            if (clamp.inside(w)) {
                EXPECT_NEAR(bce_attraction(k, D, clamp).dD, fa, 1e-6 * (1 + std::abs(fa))) << eps;
            }
            if (clamp.inside(1 - w)) {
                EXPECT_NEAR(bce_repulsion(k, D, 0.8, clamp).dD, fr, 1e-6 * (1 + std::abs(fr))) << eps;
            }
        }
    }
    // eps = 0.5, D = 0.1: w = 1/0.6 > 1 is clamped to 1: loss 0, no gradient; 1 − w < 0 is clamped to 1e-4
    const CauchyKernel k{0.5};
    EXPECT_EQ(bce_attraction(k, 0.1, clamp).loss, -std::log(1.0));
    EXPECT_EQ(bce_attraction(k, 0.1, clamp).dD, 0.0);
    EXPECT_NEAR(bce_repulsion(k, 0.1, 1.0, clamp).loss, -std::log(1e-4), 1e-12);
    EXPECT_EQ(bce_repulsion(k, 0.1, 1.0, clamp).dD, 0.0);
    // eps = 0, D = 0: w = inf, dw/dD infinite: clamped, no NaN
    EXPECT_EQ(bce_attraction(CauchyKernel{0.0}, 0.0, clamp).dD, 0.0);
}

TEST(Bce, KernelsWithWAboveOneAreRefused) {
    EXPECT_NO_THROW(validate_bce_kernel(UmapCurve{}));
    EXPECT_NO_THROW(validate_bce_kernel(CauchyKernel{1.0}));
    EXPECT_NO_THROW(validate_bce_kernel(StudentTKernel{0.5}));
    EXPECT_THROW(validate_bce_kernel(CauchyKernel{0.5}), InvalidArgument);
    EXPECT_THROW(validate_bce_kernel(CosineKernel{0.5}), InvalidArgument);
    EXPECT_THROW(validate_bce_kernel(UmapCurve{-1.0, 1.0}), InvalidArgument);
}

TEST(Optim, UmapScheduleIsUmapLearnsAlpha) {
    // umap-learn sets alpha = lr·(1 − n/E) after epoch n: epochs 0 and 1 run at lr, epoch e at lr·(1 − (e − 1)/E)
    LrSchedule s;
    s.learning_rate = 0.25;
    s.anneal = LrAnneal::umap;
    s.total_epochs = 7;
    s.min_factor = 0.5;  // does not apply
    EXPECT_EQ(s.at(0), 0.25);
    EXPECT_EQ(s.at(1), 0.25);
    for (int e = 1; e <= 7; ++e) EXPECT_EQ(s.at(e), 0.25 * (1.0 - static_cast<double>(e - 1) / 7)) << e;
    EXPECT_GT(s.at(7), 0.0);
    EXPECT_EQ(parse_lr_anneal("UMAP"), LrAnneal::umap);
    EXPECT_EQ(to_string(LrAnneal::umap), "umap");
    // with a warm-up the decay starts after it
    s.warmup_epochs = 2;
    s.warmup_lr = 0.0;
    EXPECT_EQ(s.at(1), 0.125);
    EXPECT_EQ(s.at(2), 0.25);
    EXPECT_EQ(s.at(3), 0.25);
    EXPECT_EQ(s.at(4), 0.25 * (1.0 - 1.0 / 5));
}

TEST(Optim, SchedulesMatchCne) {
    LrSchedule s;
    s.learning_rate = 2.0;
    s.total_epochs = 10;
    EXPECT_DOUBLE_EQ(s.at(0), 2.0);
    EXPECT_DOUBLE_EQ(s.at(5), 1.0);
    s.min_factor = 0.6;
    EXPECT_DOUBLE_EQ(s.at(5), 1.2);
    s.anneal = LrAnneal::cosine;
    EXPECT_NEAR(s.at(5), 1.0, 1e-12);
    s.warmup_epochs = 2;
    s.warmup_lr = 0.0;
    EXPECT_DOUBLE_EQ(s.at(1), 1.0);
    EXPECT_DOUBLE_EQ(s.at(2), 2.0);
    s.warmup_epochs = 10;
    EXPECT_THROW(s.validate(), InvalidArgument);
    EXPECT_THROW(parse_lr_anneal("exp"), InvalidArgument);
}

TEST(Optim, SgdAndAdamFollowTorch) {
    // SGD with momentum: buf = g, then buf = μ·buf + g
    Sgd sgd({0.9, 0.0});
    double p = 1.0, g = 0.5;
    sgd.step(&p, &g, 1, 0.1);
    EXPECT_DOUBLE_EQ(p, 1.0 - 0.05);
    sgd.step(&p, &g, 1, 0.1);
    EXPECT_DOUBLE_EQ(p, 0.95 - 0.1 * (0.9 * 0.5 + 0.5));
    // Adam: first step moves by lr·sign(g) (bias-corrected)
    Adam adam;
    double q = 1.0, gq = 3.0;
    adam.step(&q, &gq, 1, 0.01);
    EXPECT_NEAR(q, 0.99, 1e-9);
    EXPECT_EQ(adam.steps(), 1);
    // minimises a quadratic
    double x = 5.0;
    Adam a2;
    for (int i = 0; i < 2000; ++i) {
        double gx = 2 * (x - 1.0);
        a2.step(&x, &gx, 1, 0.05);
    }
    EXPECT_NEAR(x, 1.0, 1e-2);
}
