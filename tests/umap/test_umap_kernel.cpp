// UMAP's kernel: (a, b) equal umap-learn's find_ab_params (fixture), and umap-learn's SGD coefficients are the
// gradients of UMAP's cross-entropy (finite differences).
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "nembed/core/error.hpp"
#include "nembed/io/npz.hpp"
#include "nembed/kernel/umap_kernel.hpp"
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

TEST(UmapKernel, CoefficientsAreCrossEntropyGradients) {
    const UmapCurve c = find_ab_params(1.0, 0.1);
    const double yi[2] = {0.3, -1.2}, yj[2] = {1.1, 0.4};
    auto d2 = [&](const double* a) { return (a[0] - yj[0]) * (a[0] - yj[0]) + (a[1] - yj[1]) * (a[1] - yj[1]); };
    auto attract = [&](const double* a) { return -std::log(umap_similarity(d2(a), c)); };
    auto repel = [&](const double* a) { return -std::log(1.0 - umap_similarity(d2(a), c)); };
    const double D = d2(yi);
    for (int k = 0; k < 2; ++k) {
        const double h = 1e-6;
        double p[2] = {yi[0], yi[1]}, m[2] = {yi[0], yi[1]};
        p[k] += h;
        m[k] -= h;
        const double fd_a = (attract(p) - attract(m)) / (2 * h), fd_r = (repel(p) - repel(m)) / (2 * h);
        EXPECT_NEAR(umap_attraction_coeff(D, c) * (yi[k] - yj[k]), fd_a, 1e-6);
        // umap-learn's 0.001 in the repulsion changes the gradient by a relative 0.001 / d²
        EXPECT_NEAR(-umap_repulsion_coeff(D, c) * (yi[k] - yj[k]), fd_r, 2e-3 / D * std::abs(fd_r) + 1e-7);
    }
    EXPECT_EQ(umap_attraction_coeff(0.0, c), 0.0);
    EXPECT_EQ(umap_clip(7.0), 4.0);
    EXPECT_EQ(umap_clip(-7.0), -4.0);
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
