// Attraction, KL pieces and openTSNE's iteration (the full-batch plan with the gains optimizer on the Trainer),
// checked against brute-force forms (no repulsion module needed).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "../common/numeric.hpp"
#include "nembed/core/interrupt.hpp"
#include "nembed/core/random.hpp"
#include "nembed/core/sparse.hpp"
#include "nembed/loss/attraction.hpp"
#include "nembed/loss/kl.hpp"
#include "nembed/optim/gains.hpp"
#include "nembed/train/full_batch_plan.hpp"
#include "nembed/train/parametrization.hpp"
#include "nembed/train/trainer.hpp"

using namespace nembed;

namespace {

using nembed::test::random_y;
using nembed::test::relative_gradient_error;

// Symmetric P with ~`density` fill, zero diagonal, summing to 1.
CsrMatrix<double> random_p(std::size_t n, double density, std::uint64_t seed) {
    Rng rng(seed);
    std::vector<Triplet<double>> t;
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = i + 1; j < n; ++j)
            if (rng.uniform() < density) {
                double v = rng.uniform(0.1, 1.0);
                t.push_back({static_cast<index_t>(i), static_cast<index_t>(j), v});
                t.push_back({static_cast<index_t>(j), static_cast<index_t>(i), v});
            }
    CsrMatrix<double> P = csr_from_triplets(n, n, t);
    double s = P.sum();
    for (double& v : P.values) v /= s;
    return P;
}

double kernel(double d2, double dof) { return std::pow(1.0 + d2 / dof, -dof); }

// Brute-force KL(P || Q) for the heavy-tailed kernel.
double brute_kl(const CsrMatrix<double>& P, const Matrix<double>& Y, double dof) {
    const std::size_t n = Y.rows(), d = Y.cols();
    double Z = 0;
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j) {
            if (i == j) continue;
            double d2 = 0;
            for (std::size_t c = 0; c < d; ++c) d2 += (Y(i, c) - Y(j, c)) * (Y(i, c) - Y(j, c));
            Z += kernel(d2, dof);
        }
    double kl = 0;
    for (std::size_t i = 0; i < n; ++i)
        for (offset_t p = P.indptr[i]; p < P.indptr[i + 1]; ++p) {
            std::size_t j = static_cast<std::size_t>(P.indices[p]);
            double d2 = 0;
            for (std::size_t c = 0; c < d; ++c) d2 += (Y(i, c) - Y(j, c)) * (Y(i, c) - Y(j, c));
            double q = kernel(d2, dof) / Z;
            kl += P.values[p] * std::log(P.values[p] / q);
        }
    return kl;
}

// Brute-force repulsion per the Repulsion contract: F_i = sum_j w^((a+1)/a) (y_i - y_j), returns Z.
double brute_repulsion(const Matrix<double>& Y, double dof, double* F) {
    const std::size_t n = Y.rows(), d = Y.cols();
    double Z = 0;
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t c = 0; c < d; ++c) F[i * d + c] = 0;
        for (std::size_t j = 0; j < n; ++j) {
            if (i == j) continue;
            double d2 = 0;
            for (std::size_t c = 0; c < d; ++c) d2 += (Y(i, c) - Y(j, c)) * (Y(i, c) - Y(j, c));
            double w = kernel(d2, dof);
            Z += w;
            double f = std::pow(w, (dof + 1) / dof);
            for (std::size_t c = 0; c < d; ++c) F[i * d + c] += f * (Y(i, c) - Y(j, c));
        }
    }
    return Z;
}

// The openTSNE gradient with brute-force repulsion; returns the KL from the pieces when asked.
GradientFunction brute_gradient(const CsrMatrix<double>& P, double dof, int n_threads = 1) {
    return [&P, dof, n_threads](MatrixView<double> Yv, double ex, double* grad, bool want_kl) {
        Matrix<double> Y(Yv.rows, Yv.cols, std::vector<double>(Yv.data, Yv.data + Yv.size()));
        std::vector<double> F(Y.size());
        double Z = brute_repulsion(Y, dof, F.data());
        attractive_forces(P, Yv, StudentTKernel(dof), ex, grad, n_threads);
        for (std::size_t k = 0; k < Y.size(); ++k) grad[k] -= F[k] / Z;
        if (!want_kl) return std::nan("");
        return kl_from_parts(sum_p_log_p(P), sum_p_log_w(P, Yv, StudentTKernel(dof), n_threads), P.sum(), Z);
    };
}

} // namespace

class GradientCheck : public ::testing::TestWithParam<std::tuple<double, std::size_t>> {};

// dKL/dY = 4 * (attraction - F/Z): openTSNE's gradient omits the factor 4.
TEST_P(GradientCheck, MatchesNumericalDerivativeOfKl) {
    const auto [dof, d] = GetParam();
    const std::size_t n = 30;
    CsrMatrix<double> P = random_p(n, 0.3, 1);
    Matrix<double> Y = random_y(n, d, 1.0, 2);
    std::vector<double> grad(n * d);
    double kl = brute_gradient(P, dof)(Y.view(), 1.0, grad.data(), true);
    EXPECT_NEAR(kl, brute_kl(P, Y, dof), 1e-12 * std::abs(kl) + 1e-14);

    const double h = 1e-5;
    double err2 = 0, norm2 = 0;
    for (std::size_t k = 0; k < Y.size(); ++k) {
        double orig = Y.data()[k];
        Y.data()[k] = orig + h;
        double kp = brute_kl(P, Y, dof);
        Y.data()[k] = orig - h;
        double km = brute_kl(P, Y, dof);
        Y.data()[k] = orig;
        double num = (kp - km) / (2 * h);
        err2 += (num - 4 * grad[k]) * (num - 4 * grad[k]);
        norm2 += num * num;
    }
    EXPECT_LT(std::sqrt(err2 / norm2), 1e-6);
}

INSTANTIATE_TEST_SUITE_P(DofAndDim, GradientCheck,
                         ::testing::Values(std::make_tuple(1.0, std::size_t(2)), std::make_tuple(0.5, std::size_t(2)),
                                           std::make_tuple(3.0, std::size_t(1)), std::make_tuple(1.0, std::size_t(3)),
                                           std::make_tuple(0.8, std::size_t(5))));

// t-SNE's objective reads P's values rounded to float32 (attraction.hpp): the forces are the brute-force sum with
// the rounded p_ij (to 1e-13, the double path's tolerance), and within the rounding's bound of the double P's forces:
// |F32 - F64| <= 2^-24 * sum_j |term_j| (each p_ij moves by at most 2^-24 relative) plus double rounding (1e-13).
TEST(Attraction, Float32ValuesWithinTheirRoundingOfDouble) {
    for (std::size_t d : {1u, 2u, 3u}) {
        const std::size_t n = 700;
        CsrMatrix<double> P = random_p(n, 0.02, 5);
        for (std::size_t k = 0; k < P.values.size(); k += 3) P.values[k] *= 1.0 + 1e-3 / 3.0;  // not float-exact
        Matrix<double> Y = random_y(n, d, 3.0, 6);
        const std::vector<float> pf = values_f32(P);
        std::vector<double> a32(n * d), a32j3(n * d), a64(n * d), ref(n * d, 0.0), bound(n * d, 0.0);
        attractive_forces(P, pf, Y.view(), StudentTKernel(1.0), 12.0, a32.data(), 1);
        attractive_forces(P, pf, Y.view(), StudentTKernel(1.0), 12.0, a32j3.data(), 3);
        attractive_forces(P, Y.view(), StudentTKernel(1.0), 12.0, a64.data(), 2);
        std::size_t moved = 0;
        for (std::size_t i = 0; i < n; ++i)
            for (offset_t p = P.indptr[i]; p < P.indptr[i + 1]; ++p) {
                const std::size_t j = static_cast<std::size_t>(P.indices[p]);
                moved += static_cast<double>(pf[static_cast<std::size_t>(p)]) != P.values[p];
                double d2 = 0;
                for (std::size_t c = 0; c < d; ++c) d2 += (Y(i, c) - Y(j, c)) * (Y(i, c) - Y(j, c));
                for (std::size_t c = 0; c < d; ++c) {
                    const double t = 12.0 / (1 + d2) * (Y(i, c) - Y(j, c));
                    ref[i * d + c] += static_cast<double>(pf[static_cast<std::size_t>(p)]) * t;
                    bound[i * d + c] += std::ldexp(1.0, -24) * std::abs(P.values[p] * t);
                }
            }
        EXPECT_GT(moved, P.nnz() / 2);  // the rounding is exercised
        for (std::size_t k = 0; k < n * d; ++k) {
            ASSERT_EQ(a32[k], a32j3[k]);
            ASSERT_NEAR(a32[k], ref[k], 1e-13 * (1 + std::abs(ref[k])));
            ASSERT_LE(std::abs(a32[k] - a64[k]), bound[k] + 1e-13 * (1 + std::abs(a64[k])));
        }
    }
    CsrMatrix<double> P = random_p(50, 0.2, 1);
    Matrix<double> Y = random_y(50, 2, 1.0, 1);
    std::vector<double> out(100);
    std::vector<float> short_values(P.nnz() - 1, 0.1f);
    EXPECT_THROW(attractive_forces(P, short_values, Y.view(), StudentTKernel(1.0), 1.0, out.data()), InvalidArgument);
}

TEST(Attraction, MatchesBruteForceAndIsThreadIndependent) {
    for (std::size_t d : {1u, 2u, 3u, 4u}) {
        const std::size_t n = 700;
        CsrMatrix<double> P = random_p(n, 0.02, 3);
        Matrix<double> Y = random_y(n, d, 3.0, 4);
        std::vector<double> a1(n * d), a3(n * d), ref(n * d, 0.0);
        attractive_forces(P, Y.view(), StudentTKernel(1.5), 4.0, a1.data(), 1);
        attractive_forces(P, Y.view(), StudentTKernel(1.5), 4.0, a3.data(), 3);
        for (std::size_t i = 0; i < n; ++i)
            for (offset_t p = P.indptr[i]; p < P.indptr[i + 1]; ++p) {
                std::size_t j = static_cast<std::size_t>(P.indices[p]);
                double d2 = 0;
                for (std::size_t c = 0; c < d; ++c) d2 += (Y(i, c) - Y(j, c)) * (Y(i, c) - Y(j, c));
                for (std::size_t c = 0; c < d; ++c)
                    ref[i * d + c] += 4.0 * P.values[p] / (1 + d2 / 1.5) * (Y(i, c) - Y(j, c));
            }
        for (std::size_t k = 0; k < n * d; ++k) {
            ASSERT_EQ(a1[k], a3[k]);
            ASSERT_NEAR(a1[k], ref[k], 1e-13 * (1 + std::abs(ref[k])));
        }
        EXPECT_EQ(sum_p_log_w(P, Y.view(), StudentTKernel(1.5), 1), sum_p_log_w(P, Y.view(), StudentTKernel(1.5), 3));
    }
}

TEST(Attraction, PartialAgainstReference) {
    // A 3 x 4 P against a reference: compare with the formula directly.
    Matrix<double> R = random_y(4, 2, 1.0, 5), Yn = random_y(3, 2, 1.0, 6);
    std::vector<Triplet<double>> t = {{0, 1, 0.5}, {0, 3, 0.5}, {1, 0, 1.0}, {2, 2, 0.25}, {2, 3, 0.75}};
    CsrMatrix<double> P = csr_from_triplets(3, 4, t);
    std::vector<double> out(6);
    attractive_forces(P, Yn.view(), R.view(), StudentTKernel(1.0), 2.0, out.data(), 2);
    double slw = 0;
    for (std::size_t i = 0; i < 3; ++i) {
        double ref[2] = {0, 0};
        for (offset_t p = P.indptr[i]; p < P.indptr[i + 1]; ++p) {
            std::size_t j = static_cast<std::size_t>(P.indices[p]);
            double dx = Yn(i, 0) - R(j, 0), dy = Yn(i, 1) - R(j, 1), d2 = dx * dx + dy * dy;
            ref[0] += 2.0 * P.values[p] / (1 + d2) * dx;
            ref[1] += 2.0 * P.values[p] / (1 + d2) * dy;
            slw += P.values[p] * std::log(1 / (1 + d2));
        }
        EXPECT_NEAR(out[i * 2], ref[0], 1e-14);
        EXPECT_NEAR(out[i * 2 + 1], ref[1], 1e-14);
    }
    EXPECT_NEAR(sum_p_log_w(P, Yn.view(), R.view(), StudentTKernel(1.0), 1), slw, 1e-14);
}

TEST(Attraction, BadInput) {
    CsrMatrix<double> P = random_p(10, 0.5, 1);
    Matrix<double> Y = random_y(10, 2, 1, 1), Ybad = random_y(9, 2, 1, 1);
    std::vector<double> out(20);
    EXPECT_THROW(attractive_forces(P, Y.view(), StudentTKernel(0.0), 1.0, out.data()), InvalidArgument);
    EXPECT_THROW(attractive_forces(P, Y.view(), StudentTKernel(-1.0), 1.0, out.data()), InvalidArgument);
    EXPECT_THROW(attractive_forces(P, Ybad.view(), StudentTKernel(1.0), 1.0, out.data()), InvalidArgument);
    EXPECT_THROW(sum_p_log_w(P, Ybad.view(), StudentTKernel(1.0)), InvalidArgument);
    EXPECT_THROW(kl_from_parts(0, 0, 1, 0.0), InvalidArgument);
    EXPECT_THROW(exaggeration_corrected_kl(1.0, 0.0), InvalidArgument);
}

TEST(Kl, ExaggerationCorrection) {
    // Evaluating the KL with ex*P (openTSNE's way) and correcting gives the KL of P.
    const std::size_t n = 40;
    CsrMatrix<double> P = random_p(n, 0.2, 7);
    Matrix<double> Y = random_y(n, 2, 1.0, 8);
    std::vector<double> F(n * 2);
    double Z = brute_repulsion(Y, 1.0, F.data());
    double kl = kl_from_parts(sum_p_log_p(P), sum_p_log_w(P, Y.view(), StudentTKernel(1.0)), P.sum(), Z);
    EXPECT_NEAR(kl, brute_kl(P, Y, 1.0), 1e-12);
    for (double ex : {4.0, 12.0}) {
        CsrMatrix<double> exP = P;
        for (double& v : exP.values) v *= ex;
        double error = kl_from_parts(sum_p_log_p(exP), sum_p_log_w(exP, Y.view(), StudentTKernel(1.0)), exP.sum(), Z);
        EXPECT_NEAR(error, ex * kl + ex * std::log(ex), 1e-10);
        EXPECT_NEAR(exaggeration_corrected_kl(error, ex), kl, 1e-12);
    }
}

// ---------------------------------------------------------------- optimizer

namespace {
struct Problem {
    CsrMatrix<double> P;
    Matrix<double> Y0;
};
Problem clusters(std::size_t n, std::uint64_t seed) {
    // P from 4 well-separated groups: points attract within their group.
    Rng rng(seed);
    std::vector<Triplet<double>> t;
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j)
            if (i != j && i % 4 == j % 4 && rng.uniform() < 0.3) {
                t.push_back({static_cast<index_t>(i), static_cast<index_t>(j), 1.0});
                t.push_back({static_cast<index_t>(j), static_cast<index_t>(i), 1.0});
            }
    CsrMatrix<double> P = csr_from_triplets(n, n, t);
    double s = P.sum();
    for (double& v : P.values) v /= s;
    return {P, random_y(n, 2, 1e-4, seed + 1)};
}
} // namespace

namespace {
// openTSNE's optimizer state on a table, the way TsneEmbedding holds it; run() = one optimize call (one phase).
struct Descent {
    EmbeddingTable table;
    GainsMomentum opt;
    std::int64_t total = 0;
    Descent(Matrix<double> Y, std::optional<double> max_step_norm = 5.0)
        : table(std::move(Y)), opt(0.8, 0.01, max_step_norm, table.Y().cols()) {}
    RunReport run(const GradientFunction& g, int n, Phase ph = {}, FullBatchOptions fb = {}, TrainHooks hooks = {},
                  double* kl = nullptr) {
        FullBatchPlan plan(g, table.Y().rows(), fb);
        Trainer tr(plan, table, opt);
        ph.n_steps = n;
        tr.add_phase(ph);
        RunReport r = tr.run(-1, hooks);
        total += r.steps;
        if (kl) *kl = std::isnan(r.loss) ? plan.loss(table, ph.exaggeration) : r.loss;
        return r;
    }
    Matrix<double>& Y() { return table.Y(); }
};
Phase rate(double lr, double ex = 1.0) {
    Phase p;
    p.learning_rate = lr;
    p.exaggeration = ex;
    return p;
}
} // namespace

TEST(FullBatchPlan, KlFallsAndStatePersists) {
    Problem pr = clusters(120, 11);
    auto grad = brute_gradient(pr.P, 1.0);
    Phase ee;
    ee.exaggeration = 12;
    Descent gd(pr.Y0);
    // KL of the start
    std::vector<double> g(pr.Y0.size());
    double kl0 = grad(pr.Y0.view(), 1.0, g.data(), true);
    FullBatchPlan auto_plan(grad, 120);
    EXPECT_DOUBLE_EQ(auto_plan.auto_learning_rate(ee), 120.0 / 12.0);  // auto = N / ex
    EXPECT_DOUBLE_EQ(auto_plan.auto_learning_rate(Phase{}), 120.0);
    double kl1 = 0, kl2 = 0;
    RunReport r1 = gd.run(grad, 50, ee, {}, {}, &kl1);
    EXPECT_EQ(r1.steps, 50);
    EXPECT_EQ(r1.loss, kl1);  // the last step of a phase reports the KL
    gd.run(grad, 100, Phase{}, {}, {}, &kl2);
    EXPECT_LT(kl2, kl0);
    EXPECT_LT(kl2, kl1);
    EXPECT_EQ(gd.total, 150);
    // The KL reported is that of the embedding after the last step.
    EXPECT_DOUBLE_EQ(grad(gd.Y().view(), 1.0, g.data(), true), kl2);
    // centred
    for (std::size_t c = 0; c < 2; ++c) {
        double m = 0;
        for (std::size_t i = 0; i < gd.Y().rows(); ++i) m += gd.Y()(i, c);
        EXPECT_NEAR(m / gd.Y().rows(), 0.0, 1e-12);
    }

    // Two runs of 40 == one of 80, bitwise (gains and momentum persist in the optimizer).
    Descent ga(pr.Y0), gb(pr.Y0);
    ga.run(grad, 40);
    ga.run(grad, 40);
    gb.run(grad, 80);
    EXPECT_EQ(ga.Y().storage(), gb.Y().storage());
    EXPECT_EQ(ga.opt.gains(), gb.opt.gains());
    // Fresh state differs from the continued one (the state really persists).
    Descent gc(pr.Y0);
    gc.run(grad, 40);
    Descent gd2(gc.Y());
    gd2.run(grad, 40);
    EXPECT_NE(gd2.Y().storage(), ga.Y().storage());
}

TEST(FullBatchPlan, GainsRuleAndClips) {
    // One point pulled by a constant gradient: gains and update follow openTSNE's formulas.
    GradientFunction constant = [](MatrixView<double>, double, double* g, bool) {
        g[0] = 3.0;
        g[1] = -4.0;
        return 0.0;
    };
    FullBatchOptions o;
    o.center = false;
    Descent gd(Matrix<double>(1, 2, 0.0), std::nullopt);
    gd.run(constant, 1, rate(1.0), o);
    // update was 0: sign differs -> gain 1.2; update = -1.2 * g
    EXPECT_DOUBLE_EQ(gd.opt.gains()[0], 1.2);
    EXPECT_DOUBLE_EQ(gd.Y()(0, 0), -3.6);
    EXPECT_DOUBLE_EQ(gd.Y()(0, 1), 4.8);
    gd.run(constant, 1, rate(1.0), o);
    // now sign(update) != sign(grad) again (descent) -> +0.2
    EXPECT_DOUBLE_EQ(gd.opt.gains()[0], 1.4);
    EXPECT_DOUBLE_EQ(gd.opt.update()[0], 0.8 * -3.6 - 1.4 * 3.0);

    // Gradient clip to 0.25 and step clip to 0.1.
    FullBatchOptions c = o;
    c.max_grad_norm = 0.25;
    Descent g2(Matrix<double>(1, 2, 0.0), std::nullopt);
    g2.run(constant, 1, rate(1.0), c);
    EXPECT_NEAR(std::hypot(g2.Y()(0, 0), g2.Y()(0, 1)), 1.2 * 0.25, 1e-6);
    Descent g3(Matrix<double>(1, 2, 0.0), 0.1);
    g3.run(constant, 1, rate(1.0), o);
    EXPECT_NEAR(std::hypot(g3.Y()(0, 0), g3.Y()(0, 1)), 0.1, 1e-6);

    // Same sign -> 0.8 g + min_gain.
    GradientFunction flip = [](MatrixView<double> Yv, double, double* g, bool) {
        g[0] = Yv.data[0] < 0 ? -1.0 : 1.0;  // gradient points along the update after the first step
        g[1] = 0.0;
        return 0.0;
    };
    Descent g4(Matrix<double>(1, 2, 0.0), std::nullopt);
    g4.run(flip, 2, rate(1.0), o);
    EXPECT_DOUBLE_EQ(g4.opt.gains()[0], 1.2 * 0.8 + 0.01);
}

TEST(FullBatchPlan, ClipRegionResetsMomentumNotGains) {
    Matrix<double> Y(2, 2, 0.0);
    Y(1, 0) = 0.5;
    GradientFunction push = [](MatrixView<double>, double, double* g, bool) {
        for (int k = 0; k < 4; ++k) g[k] = 0.0;
        g[0] = -10.0;  // point 0 pushed far along +x
        return 0.0;
    };
    FullBatchOptions o;
    o.center = false;
    o.clip = ClipRegion{{0.0, 0.0}, 2.0};
    Descent gd(Y, std::nullopt);
    gd.run(push, 1, rate(1.0), o);
    EXPECT_DOUBLE_EQ(gd.Y()(0, 0), 2.0);          // projected onto the disc
    EXPECT_DOUBLE_EQ(gd.opt.update()[0], 0.0);    // momentum reset
    EXPECT_DOUBLE_EQ(gd.opt.gains()[0], 1.2);     // gains kept
    EXPECT_DOUBLE_EQ(gd.Y()(1, 0), 0.5);          // inside: untouched
    // Without the clip the momentum is kept (the reset is the clip's doing).
    o.clip.reset();
    Descent free(Y, std::nullopt);
    free.run(push, 1, rate(1.0), o);
    EXPECT_DOUBLE_EQ(free.opt.update()[0], 12.0);
}

TEST(FullBatchPlan, CallbackStopsAtTheRightIteration) {
    Problem pr = clusters(80, 21);
    auto grad = brute_gradient(pr.P, 1.0);
    TrainHooks h;
    h.callback_every = 10;
    std::vector<int> seen;
    Matrix<double> at_stop;
    double kl_at_stop = 0;
    h.callback = [&](const TrainEvent& e) {
        seen.push_back(e.phase_step);
        EXPECT_TRUE(std::isfinite(e.loss));
        if (e.phase_step == 30) {
            const MatrixView<double> Yv = e.embedding;
            at_stop = Matrix<double>(Yv.rows, Yv.cols, std::vector<double>(Yv.data, Yv.data + Yv.size()));
            kl_at_stop = e.loss;
            return true;
        }
        return false;
    };
    Descent gd(pr.Y0);
    RunReport r = gd.run(grad, 100, Phase{}, {}, h);
    EXPECT_EQ(seen, (std::vector<int>{10, 20, 30}));
    EXPECT_EQ(r.stop, StopReason::callback);
    EXPECT_EQ(r.steps, 30);
    EXPECT_EQ(r.loss, kl_at_stop);
    EXPECT_EQ(gd.Y().storage(), at_stop.storage());
    // The KL reported is the KL of the returned embedding.
    std::vector<double> g(gd.Y().size());
    EXPECT_DOUBLE_EQ(grad(gd.Y().view(), 1.0, g.data(), true), r.loss);
    // Same as running 30 iterations without a callback (the reporting evaluations do not change the path).
    Descent g30(pr.Y0);
    g30.run(grad, 30);
    EXPECT_EQ(g30.Y().storage(), gd.Y().storage());
}

TEST(FullBatchPlan, InterruptLeavesConsistentState) {
    Problem pr = clusters(60, 31);
    auto grad = brute_gradient(pr.P, 1.0);
    TrainHooks h;
    h.progress = [](const TrainEvent& e) {
        if (e.phase_step == 7) request_interrupt();
    };
    Descent gd(pr.Y0);
    EXPECT_THROW(gd.run(grad, 50, Phase{}, {}, h), Interrupted);
    EXPECT_FALSE(interrupt_requested());
    Descent g7(pr.Y0);
    g7.run(grad, 7);
    EXPECT_EQ(g7.Y().storage(), gd.Y().storage());
}

TEST(FullBatchPlan, BadOptions) {
    GradientFunction zero = [](MatrixView<double>, double, double* g, bool) {
        for (int k = 0; k < 6; ++k) g[k] = 0;
        return 0.0;
    };
    EXPECT_THROW(FullBatchPlan(GradientFunction{}, 3), InvalidArgument);
    EXPECT_THROW(FullBatchPlan(zero, 0), InvalidArgument);
    FullBatchOptions o;
    o.max_grad_norm = 0;
    EXPECT_THROW(FullBatchPlan(zero, 3, o), InvalidArgument);
    o = {};
    o.clip = ClipRegion{{0.0}, 1.0};  // 1 centre entry for a 2-D embedding
    Descent d(Matrix<double>(3, 2, 0.0));
    EXPECT_THROW(d.run(zero, 1, Phase{}, o), InvalidArgument);
    o.clip = ClipRegion{{0.0, 0.0}, 0.0};
    EXPECT_THROW(d.run(zero, 1, Phase{}, o), InvalidArgument);
    // Without an auto rule a rate is required.
    o = {};
    o.auto_learning_rate = false;
    EXPECT_THROW(d.run(zero, 1, Phase{}, o), InvalidArgument);
    // A non-finite KL (a rate far too large) is reported, naming the iteration.
    GradientFunction bad = [](MatrixView<double>, double, double* g, bool want) {
        for (int k = 0; k < 6; ++k) g[k] = 0;
        return want ? std::nan("") : 0.0;
    };
    try {
        d.run(bad, 3);
        FAIL() << "expected InvalidArgument";
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("iteration 3"), std::string::npos) << e.what();
    }
}
