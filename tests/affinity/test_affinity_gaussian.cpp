// Perplexity, multiscale and fixed-sigma affinities against their definitions.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "affinity_test_util.hpp"
#include "nembed/affinity/fixed_sigma.hpp"
#include "nembed/affinity/multiscale.hpp"
#include "nembed/affinity/perplexity.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/log.hpp"

using namespace nembed;
using namespace nembed::testing;

namespace {

std::vector<double> sq(const KnnGraph& g, std::size_t i) {
    std::vector<double> d2;
    for (std::size_t j = 0; j < g.k; ++j) d2.push_back(double(g.dists(i)[j]) * g.dists(i)[j]);
    return d2;
}

// Direct openTSNE-style conditional row with a given precision (unshifted; only for moderate distances).
std::vector<double> gaussian_row(const std::vector<double>& d2, double tau) {
    std::vector<double> r;
    double z = 0;
    for (double v : d2) z += std::exp(-v * tau / 2);
    for (double v : d2) r.push_back(std::exp(-v * tau / 2) / z);
    return r;
}

} // namespace

TEST(Perplexity, NeighbourCountAndClamp) {
    EXPECT_EQ(perplexity_neighbors(70000, 30), 90u);
    EXPECT_EQ(perplexity_neighbors(50, 30), 49u);
    EXPECT_EQ(perplexity_neighbors(100, 0.2), 1u);
    std::vector<std::string> warnings;
    set_log_sink([&](LogLevel l, const std::string& m) { if (l == LogLevel::warning) warnings.push_back(m); });
    EXPECT_NEAR(clamp_perplexity(8, 30), 7.0 / 3.0, 1e-15);  // openTSNE's example
    EXPECT_EQ(clamp_perplexity(1000, 30), 30.0);
    set_log_sink({});
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("too large"), std::string::npos);
    EXPECT_THROW(clamp_perplexity(100, 0), InvalidArgument);
    EXPECT_THROW(clamp_perplexity(100, -5), InvalidArgument);
    EXPECT_THROW(clamp_perplexity(100, std::nan("")), InvalidArgument);
    EXPECT_THROW(perplexity_neighbors(1, 5), InvalidArgument);
}

TEST(Perplexity, RowsHaveTheTargetEntropy) {
    auto x = gaussian_data(300, 5, 1);
    auto g = brute_knn(x, 90);
    for (double perp : {5.0, 30.0}) {
        PerplexityOptions o;
        o.perplexity = perp;
        o.symmetrize = false;
        auto P = perplexity_conditional(g, o);
        ASSERT_EQ(P.n_rows, 300u);
        for (std::size_t i = 0; i < P.n_rows; ++i) {
            double s = 0;
            for (offset_t p = P.indptr[i]; p < P.indptr[i + 1]; ++p) s += P.values[p];
            EXPECT_NEAR(s, 1.0, 1e-12);
            EXPECT_NEAR(row_entropy(P, i), std::log(perp), 1e-6) << "row " << i;
        }
    }
}

TEST(Perplexity, PrecisionIsTheBisectionRoot) {
    // The conditional row equals the Gaussian at the returned precision, and that precision hits the entropy.
    auto x = gaussian_data(120, 3, 2, 4.0);
    auto g = brute_knn(x, 40);
    auto tau = perplexity_precisions(g, 10.0);
    PerplexityOptions o;
    o.perplexity = 10;
    auto P = perplexity_conditional(g, o);
    auto D = dense(P);
    for (std::size_t i = 0; i < 120; ++i) {
        auto r = gaussian_row(sq(g, i), tau[i]);
        for (std::size_t j = 0; j < g.k; ++j) EXPECT_NEAR(D[i * 120 + g.neighbors(i)[j]], r[j], 1e-12);
        double h = 0;
        for (double v : r) h -= v > 0 ? v * std::log(v) : 0;
        EXPECT_NEAR(h, std::log(10.0), 1e-7);
    }
}

TEST(Perplexity, JointIsSymmetricMeanOverTwoN) {
    auto x = gaussian_data(200, 4, 3);
    auto g = brute_knn(x, 45);
    PerplexityOptions o;
    o.perplexity = 15;
    o.n_threads = 2;
    auto J = perplexity_affinities(g, o);
    o.symmetrize = false;
    auto C = dense(perplexity_affinities(g, o));
    auto DJ = dense(J);
    EXPECT_NEAR(J.sum(), 1.0, 1e-12);
    for (std::size_t i = 0; i < 200; ++i) {
        EXPECT_EQ(DJ[i * 200 + i], 0.0);
        for (std::size_t j = 0; j < 200; ++j)
            EXPECT_NEAR(DJ[i * 200 + j], (C[i * 200 + j] + C[j * 200 + i]) / 400.0, 1e-15);
    }
    J.validate();
}

TEST(Perplexity, SameResultForAnyThreadCount) {
    auto x = gaussian_data(500, 6, 4);
    auto g = brute_knn(x, 30);
    PerplexityOptions o;
    o.perplexity = 10;
    o.n_threads = 1;
    auto a = perplexity_affinities(g, o);
    o.n_threads = 3;
    auto b = perplexity_affinities(g, o);
    EXPECT_EQ(a.indptr, b.indptr);
    EXPECT_EQ(a.indices, b.indices);
    EXPECT_EQ(a.values, b.values);
}

TEST(Perplexity, FarAwayPointsDoNotUnderflow) {
    // Distances of ~1e4: exp(−d²/2) underflows without the shift by the nearest distance.
    auto x = gaussian_data(100, 2, 5, 1e4);
    auto g = brute_knn(x, 30);
    PerplexityOptions o;
    o.perplexity = 10;
    auto P = perplexity_affinities(g, o);
    for (double v : P.values) ASSERT_TRUE(std::isfinite(v));
    EXPECT_NEAR(P.sum(), 1.0, 1e-12);
}

TEST(Perplexity, BadInputs) {
    auto x = gaussian_data(50, 2, 6);
    auto g = brute_knn(x, 10);
    PerplexityOptions o;
    o.perplexity = 0;
    EXPECT_THROW(perplexity_affinities(g, o), InvalidArgument);
    o.perplexity = 3;
    o.calibration.max_iter = 0;
    EXPECT_THROW(perplexity_affinities(g, o), InvalidArgument);
    o.calibration.max_iter = 200;
    auto bad = g;
    bad.indices[0] = 0;  // row 0 lists itself
    EXPECT_THROW(perplexity_affinities(bad, o), InvalidArgument);
    bad = g;
    bad.distances[3] = std::nanf("");
    EXPECT_THROW(perplexity_affinities(bad, o), InvalidArgument);
    bad = g;
    bad.n_reference = 60;  // not a self graph: joint P impossible, conditional fine
    EXPECT_THROW(perplexity_affinities(bad, o), InvalidArgument);
    EXPECT_NO_THROW(perplexity_conditional(bad, o));
}

TEST(Multiscale, OneScaleEqualsPerplexity) {
    auto x = gaussian_data(150, 3, 7);
    auto g = brute_knn(x, 60);
    PerplexityOptions po;
    po.perplexity = 20;
    MultiscaleOptions mo;
    mo.perplexities = {20};
    for (auto mode : {MultiscaleMode::mixture, MultiscaleMode::average}) {
        mo.mode = mode;
        auto a = perplexity_affinities(g, po), b = multiscale_affinities(g, mo);
        ASSERT_EQ(a.indices, b.indices);
        for (std::size_t p = 0; p < a.nnz(); ++p) EXPECT_NEAR(a.values[p], b.values[p], 1e-15);
    }
}

TEST(Multiscale, EachScaleCalibratedFromAFreshBracket) {
    // The reference's case for openTSNE's bug: 10-D Gaussian, 300 neighbours, perplexities [10, 100], distances
    // x 1, x 3 and x 10. Each scale's precision must hit its own perplexity at every distance scale.
    for (double scale : {1.0, 3.0, 10.0}) {
        auto x = gaussian_data(301, 10, 8, scale);
        auto g = brute_knn(x, 300);
        MultiscaleOptions mo;
        mo.perplexities = {10, 100};
        mo.symmetrize = false;
        auto D = dense(multiscale_affinities(g, mo));
        for (std::size_t i : {0u, 17u, 300u}) {
            auto d2 = sq(g, i);
            double t1 = calibrate_precision(d2, 10), t2 = calibrate_precision(d2, 100);
            EXPECT_GT(t1 / t2, 1.5) << "scale " << scale;  // the larger perplexity needs a clearly smaller τ
            // mixture Σ_h √τ_h exp(−d²τ_h/2), normalised once (computed directly; fine at these distances
            // because the shift cancels and d² ≤ ~2000 · τ stays representable)
            std::vector<double> w(d2.size());
            double z = 0;
            for (std::size_t j = 0; j < d2.size(); ++j) {
                w[j] = std::sqrt(t1) * std::exp(-(d2[j] - d2[0]) * t1 / 2) * std::exp(-d2[0] * t1 / 2) +
                       std::sqrt(t2) * std::exp(-(d2[j] - d2[0]) * t2 / 2) * std::exp(-d2[0] * t2 / 2);
                z += w[j];
            }
            for (std::size_t j = 0; j < d2.size(); ++j)
                // τ agrees to the bisection's tolerance (|ΔH| < 1e-8), so p does to ~1e-7 relative
                EXPECT_NEAR(D[i * 301 + g.neighbors(i)[j]], w[j] / z, 1e-12 + 1e-6 * w[j] / z);
            // each component alone has its target entropy
            for (auto [t, perp] : {std::pair{t1, 10.0}, std::pair{t2, 100.0}}) {
                std::vector<double> shifted(d2);
                for (double& v : shifted) v -= d2[0];
                auto rs = gaussian_row(shifted, t);
                double h = 0;
                for (double v : rs) h -= v > 0 ? v * std::log(v) : 0;
                EXPECT_NEAR(h, std::log(perp), 1e-6) << "scale " << scale;
            }
        }
    }
}

TEST(Multiscale, AverageIsTheMeanOfSingleScales) {
    auto x = gaussian_data(200, 4, 9);
    auto g = brute_knn(x, 90);
    MultiscaleOptions mo;
    mo.perplexities = {5, 30};
    mo.mode = MultiscaleMode::average;
    mo.symmetrize = false;
    auto A = dense(multiscale_affinities(g, mo));
    PerplexityOptions po;
    po.symmetrize = false;
    po.perplexity = 5;
    auto P5 = dense(perplexity_affinities(g, po));
    po.perplexity = 30;
    auto P30 = dense(perplexity_affinities(g, po));
    for (std::size_t p = 0; p < A.size(); ++p) EXPECT_NEAR(A[p], 0.5 * (P5[p] + P30[p]), 1e-14);
}

TEST(Multiscale, CleanPerplexities) {
    std::vector<std::string> warnings;
    set_log_sink([&](LogLevel, const std::string& m) { warnings.push_back(m); });
    auto c = clean_perplexities(31, {5, 50, 10, 5, 100});
    set_log_sink({});
    ASSERT_EQ(c.size(), 2u);  // 50 and 100 are both capped to 10 = (31 − 1)/3 and merge with 10; 5 repeats
    EXPECT_EQ(c[0], 5.0);
    EXPECT_EQ(c[1], 10.0);
    EXPECT_EQ(multiscale_neighbors(31, c), 30u);
    EXPECT_FALSE(warnings.empty());
    EXPECT_THROW(clean_perplexities(31, {}), InvalidArgument);
    EXPECT_THROW(parse_multiscale_mode("median"), InvalidArgument);
}

TEST(FixedSigma, MatchesTheFormula) {
    auto x = gaussian_data(100, 3, 10);
    auto g = brute_knn(x, 20);
    FixedSigmaOptions o;
    o.sigma = 0.7;
    o.symmetrize = false;
    auto D = dense(fixed_sigma_affinities(g, o));
    for (std::size_t i = 0; i < 100; ++i) {
        auto r = gaussian_row(sq(g, i), 1.0 / (0.7 * 0.7));
        for (std::size_t j = 0; j < 20; ++j) EXPECT_NEAR(D[i * 100 + g.neighbors(i)[j]], r[j], 1e-13);
    }
    o.symmetrize = true;
    auto J = fixed_sigma_affinities(g, o);
    EXPECT_NEAR(J.sum(), 1.0, 1e-12);
    o.sigma = 0;
    EXPECT_THROW(fixed_sigma_affinities(g, o), InvalidArgument);
    // tiny sigma: openTSNE's direct formula gives 0/0; the shifted one a valid row
    o.sigma = 1e-4;
    o.symmetrize = false;
    auto T = fixed_sigma_affinities(g, o);
    for (double v : T.values) ASSERT_TRUE(std::isfinite(v));
}
