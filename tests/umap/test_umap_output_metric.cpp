// UMAP in non-Euclidean output metrics (kernel/output_metric.hpp, loss/umap_output_metric.hpp on the edge-epoch
// plan): every metric's gradient against central finite differences of its distance, the distances against their
// closed forms, the per-pair coefficients against the derivatives of the cross-entropy terms, and the layout:
// thread-count identity, resumability, transform, the Euclidean metric leaving the plan unchanged, refusals.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include "nembed/core/error.hpp"
#include "nembed/core/random.hpp"
#include "nembed/kernel/output_metric.hpp"
#include "nembed/loss/umap_output_metric.hpp"
#include "nembed/methods/umap.hpp"
#include "nembed/methods/umap_inverse.hpp"

using namespace nembed;

namespace {

struct Case {
    std::string name;
    std::size_t d;
    double lo, hi;  // coordinate range of the random points (away from each metric's non-smooth set)
};

// Central differences of m's distance in x, step h.
std::vector<double> fd_grad(const OutputMetric& m, std::vector<double> x, const std::vector<double>& y, double h) {
    std::vector<double> g(x.size()), scratch(x.size());
    for (std::size_t k = 0; k < x.size(); ++k) {
        const double x0 = x[k];
        x[k] = x0 + h;
        const double fp = m.distance_grad(x.data(), y.data(), x.size(), scratch.data());
        x[k] = x0 - h;
        const double fm = m.distance_grad(x.data(), y.data(), x.size(), scratch.data());
        x[k] = x0;
        g[k] = (fp - fm) / (2 * h);
    }
    return g;
}

Matrix<float> blobs(std::size_t n, std::size_t dim, std::uint64_t seed) {
    Matrix<float> X(n, dim);
    Rng rng(seed);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t k = 0; k < dim; ++k)
            X(i, k) = static_cast<float>((k == i % 3 ? 8.0 : 0.0) + rng.normal(0.0, 1.0));
    return X;
}

UmapOptions small_options(const std::string& metric) {
    UmapOptions o;
    o.n_neighbors = 10;
    o.n_epochs = 60;
    o.random_state = 3;
    o.neighbors = KnnMethod::exact;
    o.output_metric = parse_output_metric(metric);
    return o;
}

} // namespace

TEST(OutputMetric, GradientsMatchFiniteDifferences) {
    // ranges: braycurtis's umap-learn gradient is exact where x + y > 0, canberra / manhattan / chebyshev are smooth
    // away from zero coordinates and ties (random points have none), haversine away from the poles and antipodes
    const std::vector<Case> cases = {{"euclidean", 3, -2, 2},   {"manhattan", 3, -2, 2},  {"chebyshev", 4, -2, 2},
                                     {"minkowski", 3, -2, 2},   {"canberra", 3, 0.5, 3},  {"braycurtis", 3, 0.2, 3},
                                     {"cosine", 3, -2, 2},      {"correlation", 4, -2, 2}, {"haversine", 2, 0.6, 2.4},
                                     {"hyperboloid", 3, -1, 1}};
    Rng rng(11);
    for (const auto& c : cases) {
        for (double p : {2.0, 3.5}) {
            if (p != 2.0 && c.name != "minkowski") continue;
            const OutputMetric m = parse_output_metric(c.name, p);
            for (int trial = 0; trial < 20; ++trial) {
                std::vector<double> x(c.d), y(c.d), g(c.d);
                for (auto& v : x) v = rng.uniform(c.lo, c.hi);
                for (auto& v : y) v = rng.uniform(c.lo, c.hi);
                const double dist = m.distance_grad(x.data(), y.data(), c.d, g.data());
                ASSERT_TRUE(std::isfinite(dist) && dist > 0) << c.name;
                const auto fd = fd_grad(m, x, y, 1e-6);
                double norm = 0;
                for (double v : fd) norm = std::max(norm, std::abs(v));
                for (std::size_t k = 0; k < c.d; ++k)
                    // 1e-6 regularisations (euclidean, haversine) change the gradient by ~1e-6 relative
                    EXPECT_NEAR(g[k], fd[k], 1e-5 * (1 + norm)) << c.name << " p=" << p << " coordinate " << k;
            }
        }
    }
}

TEST(OutputMetric, DistancesMatchClosedForms) {
    Rng rng(5);
    for (int trial = 0; trial < 20; ++trial) {
        std::vector<double> x = {rng.uniform(0.1, 3.0), rng.uniform(-3.0, 3.0)};
        std::vector<double> y = {rng.uniform(0.1, 3.0), rng.uniform(-3.0, 3.0)};
        std::vector<double> g(3);
        // haversine: x = (polar angle, azimuth), the angle between the unit vectors
        auto unit = [](const std::vector<double>& s) {
            return std::vector<double>{std::sin(s[0]) * std::cos(s[1]), std::sin(s[0]) * std::sin(s[1]), std::cos(s[0])};
        };
        const auto ux = unit(x), uy = unit(y);
        const double angle = std::acos(std::clamp(ux[0] * uy[0] + ux[1] * uy[1] + ux[2] * uy[2], -1.0, 1.0));
        EXPECT_NEAR(parse_output_metric("haversine").distance_grad(x.data(), y.data(), 2, g.data()), angle, 1e-7);
        // hyperboloid: arccosh of the Lorentz product of the lifted points
        const double s = std::sqrt(1 + x[0] * x[0] + x[1] * x[1]), t = std::sqrt(1 + y[0] * y[0] + y[1] * y[1]);
        EXPECT_NEAR(parse_output_metric("hyperboloid").distance_grad(x.data(), y.data(), 2, g.data()),
                    std::acosh(s * t - x[0] * y[0] - x[1] * y[1]), 1e-9);
        // minkowski p = 1 and p = 2 are manhattan and euclidean; cosine is 1 − cos
        const double l1 = std::abs(x[0] - y[0]) + std::abs(x[1] - y[1]);
        const double l2 = std::hypot(x[0] - y[0], x[1] - y[1]);
        EXPECT_NEAR(parse_output_metric("minkowski", 1.0).distance_grad(x.data(), y.data(), 2, g.data()), l1, 1e-12);
        EXPECT_NEAR(parse_output_metric("l1").distance_grad(x.data(), y.data(), 2, g.data()), l1, 1e-12);
        EXPECT_NEAR(parse_output_metric("minkowski", 2.0).distance_grad(x.data(), y.data(), 2, g.data()), l2, 1e-12);
        const double cs = (x[0] * y[0] + x[1] * y[1]) / (std::hypot(x[0], x[1]) * std::hypot(y[0], y[1]));
        EXPECT_NEAR(parse_output_metric("cosine").distance_grad(x.data(), y.data(), 2, g.data()), 1 - cs, 1e-12);
    }
}

TEST(OutputMetric, CoefficientsAreTheCrossEntropyDerivatives) {
    // c⁺ = −∂(−log w)/∂d and c⁻ = −∂(−γ log(1 − w))/∂d, up to umap-learn's d + 1e-6 in the denominator
    const UmapOutputMetricLoss L{parse_output_metric("haversine"), 1.58, 0.9};
    const double gamma = 1.7, h = 1e-6;
    for (double d : {0.05, 0.3, 1.0, 2.5}) {
        const double fd_att = (L.attraction_loss(d + h) - L.attraction_loss(d - h)) / (2 * h);
        const double fd_rep = (L.repulsion_loss(d + h, gamma) - L.repulsion_loss(d - h, gamma)) / (2 * h);
        EXPECT_NEAR(L.attraction_coeff(d), -fd_att, 1e-4 * std::abs(fd_att)) << d;
        EXPECT_NEAR(L.repulsion_coeff(d, gamma), -fd_rep, 1e-4 * std::abs(fd_rep)) << d;
    }
    EXPECT_EQ(L.w(0.0), 1.0);
}

TEST(OutputMetric, LayoutIsThreadIndependentResumableAndTransforms) {
    const Matrix<float> X = blobs(240, 5, 1);
    const Matrix<float> Xn = blobs(30, 5, 2);
    for (const std::string metric : {"haversine", "hyperboloid", "manhattan"}) {
        UmapOptions o = small_options(metric);
        std::vector<Matrix<double>> fits, moved;
        for (int j : {1, 2, 3}) {
            o.n_jobs = j;
            UmapEmbedding e = UMAP(o).fit(X.view());
            fits.push_back(e.embedding());
            moved.push_back(e.transform(Xn.view()));
        }
        for (int r = 1; r < 3; ++r) {
            EXPECT_EQ(fits[0].storage(), fits[r].storage()) << metric;
            EXPECT_EQ(moved[0].storage(), moved[r].storage()) << metric;
        }
        for (double v : moved[0].storage()) ASSERT_TRUE(std::isfinite(v)) << metric;
        // two runs of 30 epochs are the run of 60
        o.n_jobs = 2;
        UmapEmbedding half = UMAP(o).prepare(X.view());
        half.optimize(30);
        half.optimize(30);
        EXPECT_EQ(half.embedding().storage(), fits[0].storage()) << metric;
        // the blobs stay apart: each point's nearest training point in the metric is mostly of its own blob (a
        // random pairing: 1/3; haversine reads the [0, 10] start as angles, which wrap the sphere: 79 % measured)
        const OutputMetric m = parse_output_metric(metric);
        std::vector<double> g(2);
        int same = 0;
        for (std::size_t i = 0; i < X.rows(); ++i) {
            double best = 1e300;
            std::size_t at = 0;
            for (std::size_t j = 0; j < X.rows(); ++j) {
                if (j == i) continue;
                const double dd = m.distance_grad(fits[0].row(i), fits[0].row(j), 2, g.data());
                if (dd < best) best = dd, at = j;
            }
            same += (at % 3) == (i % 3);
        }
        EXPECT_GE(same, (metric == "haversine" ? 0.75 : 0.95) * static_cast<double>(X.rows())) << metric;
    }
}

TEST(OutputMetric, EuclideanLeavesTheLayoutUnchanged) {
    const Matrix<float> X = blobs(150, 4, 3);
    UmapOptions o = small_options("euclidean");
    UmapEmbedding a = UMAP(o).fit(X.view());
    UmapEmbedding b = UMAP(o).prepare(X.view());
    b.set_output_metric(parse_output_metric("l2"));
    b.optimize();
    EXPECT_EQ(a.embedding().storage(), b.embedding().storage());
    // the generic rule in a Euclidean metric is a different (umap-learn's optimize_layout_generic) update
    UmapEmbedding c = UMAP(o).prepare(X.view());
    c.set_output_metric(parse_output_metric("minkowski", 2.0));
    c.optimize();
    EXPECT_NE(a.embedding().storage(), c.embedding().storage());
}

TEST(OutputMetric, BadSettingsAreRefused) {
    EXPECT_THROW(parse_output_metric("poincare"), InvalidArgument);
    try {
        parse_output_metric("mahalanobis");
        FAIL();
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("not built"), std::string::npos);
    }
    const Matrix<float> X = blobs(60, 3, 4);
    UmapOptions o = small_options("haversine");
    o.n_components = 3;
    EXPECT_THROW(UMAP(o).fit(X.view()), InvalidArgument);
    o = small_options("minkowski");
    o.output_metric.p = 0;
    EXPECT_THROW(UMAP(o).fit(X.view()), InvalidArgument);
    o = small_options("haversine");
    o.densmap = true;
    EXPECT_THROW(UMAP(o).fit(X.view()), InvalidArgument);
    o = small_options("euclidean");
    o.densmap = true;
    UmapEmbedding e = UMAP(o).prepare(X.view());
    EXPECT_THROW(e.set_output_metric(parse_output_metric("haversine")), InvalidArgument);
}

TEST(OutputMetric, InverseTransformFollowsTheDataMetricsGradient) {
    // minkowski p = 2 is the Euclidean distance with the exact gradient (x − y)/d where the Euclidean rule has
    // (x − y)/(d + 1e-6): the same moves up to ~1e-6 relative, so nearly the same inverse
    const Matrix<float> X = blobs(150, 4, 7);
    UmapOptions o = small_options("euclidean");
    UmapEmbedding e = UMAP(o).fit(X.view());
    Matrix<double> Y(10, 2);
    for (std::size_t i = 0; i < 10; ++i)
        for (std::size_t k = 0; k < 2; ++k) Y(i, k) = e.embedding()(i * 15, k);
    const Matrix<double> a = umap_inverse_transform(e, X.view(), Metric::euclidean, Y.view(), 2);
    const Matrix<double> b = umap_inverse_transform(e, X.view(), parse_output_metric("minkowski", 2.0), Y.view(), 2);
    const Matrix<double> b1 = umap_inverse_transform(e, X.view(), parse_output_metric("minkowski", 2.0), Y.view(), 1);
    EXPECT_EQ(b.storage(), b1.storage());  // any thread count
    double worst = 0;
    for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a.storage()[i] - b.storage()[i]));
    EXPECT_LT(worst, 1e-3);
    // manhattan moves by sign vectors: another result, still near the data rows
    const Matrix<double> c = umap_inverse_transform(e, X.view(), parse_output_metric("manhattan"), Y.view(), 2);
    double err = 0;
    for (std::size_t i = 0; i < 10; ++i)
        for (std::size_t k = 0; k < 4; ++k) err += std::abs(c(i, k) - X(i * 15, k)) / 10.0;
    EXPECT_LT(err, 3.0);  // the blobs are 8 apart; a point's inverse lies within its blob
    // a custom function is called: manhattan through a std::function gives manhattan's bits
    OutputMetric custom;
    custom.kind = OutputMetricKind::custom;
    const OutputMetric l1 = parse_output_metric("manhattan");
    custom.custom = [l1](const double* x, const double* y, std::size_t d, double* g) {
        return l1.distance_grad(x, y, d, g);
    };
    EXPECT_EQ(umap_inverse_transform(e, X.view(), custom, Y.view(), 2).storage(), c.storage());
    EXPECT_THROW(umap_inverse_transform(e, X.view(), parse_output_metric("haversine"), Y.view(), 2), InvalidArgument);
}
