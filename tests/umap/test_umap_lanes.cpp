// The vector lanes of the edge-epoch plan (2-D UMAP-curve rows) against its per-row path, and pow_poly (the x^b
// they share) against std::pow: bitwise equal layouts and losses for fits and transforms, any thread count.
#pragma GCC diagnostic ignored "-Wpsabi"  // vectors passed to always-inlined helpers only
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <random>
#include <set>
#include <vector>

#include "nembed/kernel/pow_poly.hpp"
#include "nembed/loss/bce.hpp"
#include "nembed/optim/sgd.hpp"
#include "nembed/train/edge_epoch_plan.hpp"
#include "nembed/train/parametrization.hpp"
#include "nembed/train/phase.hpp"
#include "nembed/train/trainer.hpp"

using namespace nembed;

namespace {

// A symmetric graph over n points, ~k random neighbours each with weights in (0, 1], some exactly 1.
CsrMatrix<double> random_graph(std::size_t n, std::size_t k, std::uint64_t seed, std::size_t n_cols = 0) {
    std::mt19937_64 g(seed);
    const bool square = n_cols == 0;
    if (square) n_cols = n;
    std::set<std::pair<std::size_t, std::size_t>> seen;
    std::vector<Triplet<double>> t;
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t c = 0; c < k; ++c) {
            const std::size_t j = g() % n_cols;
            if ((square && j == i) || !seen.insert({i, j}).second) continue;
            const double w = c == 0 ? 1.0 : 0.05 + 0.95 * std::uniform_real_distribution<double>(0, 1)(g);
            t.push_back({static_cast<index_t>(i), static_cast<index_t>(j), w});
            if (square && seen.insert({j, i}).second)
                t.push_back({static_cast<index_t>(j), static_cast<index_t>(i), w});
        }
    return csr_from_triplets<double>(n, n_cols, t);
}

// Points in a 10-wide square (cube for d = 3); the first 8 share one position (coincident pairs: c⁺ = 0, no
// repulsion move).
Matrix<double> start(std::size_t n, std::uint64_t seed, std::size_t d = 2) {
    std::mt19937_64 g(seed);
    Matrix<double> Y(n, d);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t k = 0; k < d; ++k) Y(i, k) = i < 8 ? 1.0 : std::uniform_real_distribution<double>(0, 10)(g);
    return Y;
}

struct RunResult {
    Matrix<double> Y;
    std::vector<double> losses;
};

// n_epochs epochs of a fit (reference null) or transform, the loss reported every `loss_every` epochs.
RunResult run(const CsrMatrix<double>& graph, Matrix<double> Y, bool lanes, int threads, int loss_every,
        const Matrix<double>* reference = nullptr, double exaggeration = 1.0, double gamma = 1.0) {
    const int n_epochs = 40;
    EdgeEpochOptions eo;
    eo.n_epochs = n_epochs;
    eo.seed = 11;
    eo.lanes = lanes;
    eo.order = EdgeOrder::rows;  // the lanes run in the row order (small fits default to the edge order)
    const UmapCurve curve{1.577, 0.895};
    std::optional<EdgeEpochPlan> plan;
    if (reference) {
        eo.family = SamplingFamily::umap_transform;
        plan.emplace(graph, curve, eo, *reference);
    } else {
        plan.emplace(graph, curve, eo);
    }
    EmbeddingTable table(std::move(Y));
    Sgd sgd;
    Trainer tr(*plan, table, sgd, threads);
    LrSchedule s;
    s.learning_rate = 1.0;
    s.anneal = LrAnneal::umap;
    s.total_epochs = n_epochs;
    tr.set_schedule(s);
    Phase ph;
    ph.n_steps = n_epochs;
    ph.exaggeration = exaggeration;
    ph.repulsion_strength = gamma;
    tr.add_phase(ph);
    RunResult r;
    TrainHooks hooks;
    if (loss_every > 0) {
        hooks.callback_every = loss_every;
        hooks.callback = [&](const TrainEvent& ev) {
            r.losses.push_back(ev.loss);
            return false;
        };
    }
    tr.run(-1, hooks);
    r.Y = table.Y();
    return r;
}

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

} // namespace

// A fit of 300 points (coincident ones included), with and without the loss, exaggeration and γ set: the lanes give
// the per-row path's bits, and the same bits for 1, 2 and 3 threads.
TEST(UmapLanes, FitEqualsPerRowPathBitwiseForAnyThreadCount) {
    const CsrMatrix<double> g = random_graph(300, 12, 5);
    const Matrix<double> Y0 = start(300, 6);
    for (int loss_every : {0, 1}) {
        const RunResult ref = run(g, Y0, false, 1, loss_every, nullptr, 1.5, 0.7);
        for (double v : ref.Y.storage()) ASSERT_TRUE(std::isfinite(v));
        EXPECT_FALSE(same_bits(ref.Y.storage(), Y0.storage()));  // it moved
        for (int threads : {1, 2, 3}) {
            const RunResult lanes = run(g, Y0, true, threads, loss_every, nullptr, 1.5, 0.7);
            EXPECT_TRUE(same_bits(lanes.Y.storage(), ref.Y.storage())) << threads << " threads";
            EXPECT_TRUE(same_bits(lanes.losses, ref.losses)) << threads << " threads";
        }
        if (loss_every) {
            ASSERT_EQ(ref.losses.size(), 40u);
            for (double l : ref.losses) EXPECT_TRUE(std::isfinite(l));
        }
    }
}

// 3-D rows take the lanes too: the same bits as the per-row path.
TEST(UmapLanes, ThreeDimensionsEqualPerRowPath) {
    const CsrMatrix<double> g = random_graph(200, 10, 12);
    const Matrix<double> Y0 = start(200, 13, 3);
    const RunResult ref = run(g, Y0, false, 1, 1);
    EXPECT_FALSE(same_bits(ref.Y.storage(), Y0.storage()));
    for (int threads : {1, 2}) {
        const RunResult lanes = run(g, Y0, true, threads, 1);
        EXPECT_TRUE(same_bits(lanes.Y.storage(), ref.Y.storage())) << threads << " threads";
        EXPECT_TRUE(same_bits(lanes.losses, ref.losses));
    }
}

// A fit by rows carries its points in float, as umap-learn holds every position (a float start rounded at the first
// epoch): every coordinate of the result is a float value, in the lanes and the per-row path, 2-D and 3-D. A
// transform keeps its points in double.
TEST(UmapLanes, FitByRowsCarriesFloatPositions) {
    auto all_float = [](const Matrix<double>& Y) {
        for (double v : Y.storage())
            if (static_cast<double>(static_cast<float>(v)) != v) return false;
        return true;
    };
    for (std::size_t d : {2, 3}) {
        const CsrMatrix<double> g = random_graph(150, 8, 21);
        const Matrix<double> Y0 = start(150, 22, d);
        for (bool lanes : {true, false}) {
            const RunResult r = run(g, Y0, lanes, 2, 0);
            EXPECT_FALSE(same_bits(r.Y.storage(), Y0.storage()));
            EXPECT_TRUE(all_float(r.Y)) << d << "-D, lanes " << lanes;
        }
    }
    const CsrMatrix<double> gt = random_graph(40, 6, 23, 150);
    const Matrix<double> ref = start(150, 24), Yt = start(40, 25);
    EXPECT_FALSE(all_float(run(gt, Yt, true, 2, 0, &ref).Y));
}

// Fewer rows than lanes (most lanes idle) and rows without pairs.
TEST(UmapLanes, FewRowsEqualPerRowPath) {
    const CsrMatrix<double> g = random_graph(5, 2, 3);
    const Matrix<double> Y0 = start(5, 4);
    EXPECT_TRUE(same_bits(run(g, Y0, true, 2, 1).Y.storage(), run(g, Y0, false, 1, 1).Y.storage()));
}

// A transform: 50 new points against a fixed reference of 200 (which must not move).
TEST(UmapLanes, TransformEqualsPerRowPathBitwise) {
    const CsrMatrix<double> g = random_graph(50, 6, 8, 200);
    const Matrix<double> ref = start(200, 9), ref0 = ref;
    const Matrix<double> Y0 = start(50, 10);
    const RunResult a = run(g, Y0, false, 1, 1, &ref);
    for (int threads : {1, 3}) {
        const RunResult b = run(g, Y0, true, threads, 1, &ref);
        EXPECT_TRUE(same_bits(a.Y.storage(), b.Y.storage())) << threads << " threads";
        EXPECT_TRUE(same_bits(a.losses, b.losses));
    }
    EXPECT_TRUE(same_bits(ref.storage(), ref0.storage()));
}

// pow_poly's relative error against std::pow over 40 orders of magnitude and the b a UMAP fit produces (0.5..2) and
// beyond: below 1e-9 (its stated bound); vectors give the scalar's bits lane by lane; the edge values.
TEST(UmapLanes, PowPolyAccuracyAndEdgeValues) {
    std::mt19937_64 g(2);
    double worst = 0;
    for (double b : {0.5, 0.79, 0.895, 1.0, 1.5, 2.0, 4.0})
        for (int i = 0; i < 200000; ++i) {
            const double x = std::exp(std::uniform_real_distribution<double>(-46, 46)(g));
            const double e = std::pow(x, b);
            worst = std::max(worst, std::abs(pow_poly(x, b) - e) / e);
        }
    EXPECT_LT(worst, 1e-9);
    EXPECT_EQ(pow_poly(1.0, 0.9), 1.0);
    EXPECT_EQ(pow_poly(0.0, 0.9), 0.0);
    EXPECT_EQ(pow_poly(-2.0, 0.9), 0.0);
    EXPECT_EQ(pow_poly(std::nan(""), 0.9), 0.0);
    EXPECT_EQ(pow_poly(1e300, 2.0), 1e300);                      // capped
    EXPECT_EQ(pow_poly(INFINITY, 0.9), pow_poly(INFINITY, 0.9));  // finite
    EXPECT_TRUE(std::isfinite(pow_poly(INFINITY, 0.9)));
    EXPECT_GT(pow_poly(4.9e-324, 0.5), 0.0);  // subnormal: raised to DBL_MIN first
    using V = double __attribute__((vector_size(64)));
    using VU = std::uint64_t __attribute__((vector_size(64)));
    const V x{0.0, 1e-310, 3e-5, 0.7, 1.0, 2.5, 1e4, 1e200};
    const V p = pow_poly<VU>(x, 0.895);
    for (int k = 0; k < 8; ++k) {
        const double s = pow_poly(x[k], 0.895), pk = p[k];  // clang: no address of a vector element
        EXPECT_EQ(std::memcmp(&s, &pk, sizeof s), 0) << x[k];
    }
}

// The coefficients the lanes use (Bce<UmapCurve>::pair_coeff over 16 floats) are the scalar ones lane by lane,
// bitwise, and the scalar ones are umap-learn's formulas within float rounding.
TEST(UmapLanes, PairCoefficientsMatchScalarAndClosedForm) {
    using V = float __attribute__((vector_size(64)));
    using VU = std::uint32_t __attribute__((vector_size(64)));
    using VM = std::int32_t __attribute__((vector_size(64)));
    const UmapCurve c{1.577, 0.895};
    const double gamma = 0.7;
    const double Dd[16] = {0.0, 1e-12, 0.01, 0.5, 1.0, 3.0, 100.0, 1e300, 0.0, 1e-12, 0.01, 0.5, 1.0, 3.0, 100.0, 1e300};
    V D;
    VM att;
    for (int l = 0; l < 16; ++l) {
        D[l] = Bce<UmapCurve>::to_f(Dd[l]);
        att[l] = l < 8 ? -1 : 0;
    }
    const V k = Bce<UmapCurve>::pair_coeff<VU>(att, static_cast<float>(c.a), static_cast<float>(c.b),
                                               static_cast<float>(2.0 * c.a * c.b),
                                               static_cast<float>(2.0 * gamma * c.b), D);
    for (int l = 0; l < 16; ++l) {
        const double s = att[l] ? Bce<UmapCurve>::attraction_coeff(c, Dd[l])
                                : Bce<UmapCurve>::repulsion_coeff(c, Dd[l], gamma);
        const double kl = k[l];
        EXPECT_EQ(std::memcmp(&s, &kl, sizeof s), 0) << l;
        EXPECT_TRUE(std::isfinite(s)) << l;
        if (Dd[l] > 0 && Dd[l] < 1e4) {
            const double p = std::pow(Dd[l], c.b);
            const double exact = att[l] ? 2 * c.a * c.b * std::pow(Dd[l], c.b - 1) / (1 + c.a * p)
                                        : 2 * gamma * c.b / ((0.001 + Dd[l]) * (1 + c.a * p));
            EXPECT_NEAR(s, exact, 4e-6 * std::abs(exact)) << l;
        }
    }
    EXPECT_EQ(k[0], 0.0f);  // c⁺ = 0 at D = 0
}

// The float32 coefficients against the double form (std::pow in double): relative error ≤ 4e-6 over the D the epochs
// meet (1e-8 ≤ D ≤ 1e4, log-uniform; FMNIST's spread 1 layouts stay below D = 1e3), for UMAP's (a, b) at
// min_dist 0.1 and 0.001 and a steep b. pow_poly_f itself: ≤ 4e-6 relative for |b·log2 x| ≤ 20.
TEST(UmapLanes, FloatCoefficientsBoundedAgainstDouble) {
    std::mt19937_64 g(11);
    for (const UmapCurve c : {UmapCurve{1.577, 0.895}, UmapCurve{1.929, 0.7915}, UmapCurve{0.5, 1.8}}) {
        const double gamma = 1.0;
        double worst_att = 0, worst_rep = 0, worst_pow = 0;
        for (int i = 0; i < 200000; ++i) {
            const double D = std::exp(std::uniform_real_distribution<double>(std::log(1e-8), std::log(1e4))(g));
            const double Df = Bce<UmapCurve>::to_f(D);  // the coefficients' input is D rounded to float
            const double p = std::pow(Df, c.b);
            const double att = 2 * c.a * c.b * p / (Df * (1 + c.a * p));
            const double rep = 2 * gamma * c.b / ((0.001 + Df) * (1 + c.a * p));
            worst_att = std::max(worst_att, std::abs(Bce<UmapCurve>::attraction_coeff(c, D) - att) / att);
            worst_rep = std::max(worst_rep, std::abs(Bce<UmapCurve>::repulsion_coeff(c, D, gamma) - rep) / rep);
            worst_pow = std::max(worst_pow, std::abs(pow_poly_f(static_cast<float>(Df), static_cast<float>(c.b)) -
                                                     std::pow(Df, static_cast<double>(static_cast<float>(c.b)))) /
                                                std::pow(Df, static_cast<double>(static_cast<float>(c.b))));
        }
        EXPECT_LT(worst_att, 4e-6) << c.b;
        EXPECT_LT(worst_rep, 4e-6) << c.b;
        EXPECT_LT(worst_pow, 4e-6) << c.b;
        std::printf("b = %.4f: worst relative error c+ %.2e, c- %.2e, pow %.2e\n", c.b, worst_att, worst_rep,
                    worst_pow);
    }
    EXPECT_EQ(pow_poly_f(1.0f, 0.9f), 1.0f);
    EXPECT_EQ(pow_poly_f(0.0f, 0.9f), 0.0f);
    EXPECT_EQ(pow_poly_f(-2.0f, 0.9f), 0.0f);
    EXPECT_EQ(pow_poly_f(std::nanf(""), 0.9f), 0.0f);
    EXPECT_EQ(pow_poly_f(1e30f, 2.0f), 1e30f);  // capped
    EXPECT_TRUE(std::isfinite(pow_poly_f(INFINITY, 0.9f)));
    EXPECT_GT(pow_poly_f(1e-45f, 0.5f), 0.0f);  // subnormal: raised to FLT_MIN first
    EXPECT_TRUE(std::isfinite(Bce<UmapCurve>::attraction_coeff(UmapCurve{1.577, 0.895}, std::nan(""))));
}
