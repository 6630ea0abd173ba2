// The contrastive losses' attraction/repulsion coefficients and weighted sums (loss/contrastive.hpp): the
// coefficients scale exactly the terms they name (checked against the loss split into its terms), gradients match
// central finite differences, a weighted sum is the weighted sum of its terms, and the fused kernels are not used
// for a loss with coefficients (they compute cne's loss only).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "nembed/core/error.hpp"
#include "nembed/core/random.hpp"
#include "nembed/loss/contrastive.hpp"
#include "../../src/loss/contrastive_fused.hpp"  // private: the fused-kernel selection

using namespace nembed;

namespace {

struct Point {
    std::vector<double> x;  // [head, partner, negatives...]
    std::size_t d, n_others;
    std::vector<const double*> others() const {
        std::vector<const double*> o(n_others);
        for (std::size_t t = 0; t < n_others; ++t) o[t] = x.data() + (t + 1) * d;
        return o;
    }
};

Point random_point(std::size_t d, std::size_t n_others, std::uint64_t seed) {
    Rng rng(seed);
    Point p{std::vector<double>((n_others + 1) * d), d, n_others};
    for (double& v : p.x) v = rng.normal();
    return p;
}

double sum_loss(const std::vector<WeightedContrastiveLoss>& terms, const Point& p, std::vector<double>* g = nullptr,
                double* gz = nullptr) {
    auto o = p.others();
    if (!g) return contrastive_loss_sum(terms, p.d, p.x.data(), o.data(), p.n_others);
    g->assign(p.x.size(), 0.0);
    std::vector<double*> go(p.n_others);
    for (std::size_t t = 0; t < p.n_others; ++t) go[t] = g->data() + (t + 1) * p.d;
    return contrastive_loss_sum(terms, p.d, p.x.data(), o.data(), p.n_others, g->data(), go.data(), gz);
}

const ContrastiveMode kModes[] = {ContrastiveMode::neg, ContrastiveMode::nce, ContrastiveMode::infonce,
                                  ContrastiveMode::infonce_alt};

} // namespace

// ℓ(a, r) = a·A + r·R: from ℓ at (1, 0)... (0 is not a valid exaggeration), so use the linearity in a and r:
// ℓ(a, r) − ℓ(1, r) = (a − 1)·A and ℓ(a, r) − ℓ(a, 1) = (r − 1)·R, with A and R from (2, 1), (1, 1), (1, 2).
TEST(ContrastiveTerms, CoefficientsScaleAttractionAndRepulsion) {
    for (auto mode : kModes)
        for (auto metric : {ContrastiveMetric::euclidean, ContrastiveMetric::cosine}) {
            ContrastiveLossParams p;
            p.mode = mode;
            p.metric = metric;
            p.spec = 2.0;
            p.log_Z = 0.3;
            p.clamp_low = metric == ContrastiveMetric::euclidean ? 1e-12 : -INFINITY;  // no clamping in the way
            p.clamp_high = INFINITY;
            const Point pt = random_point(3, 6, 7);
            auto at = [&](double a, double r) {
                auto q = p;
                q.exaggeration = a;
                q.repulsion_strength = r;
                return sum_loss({{1.0, q}}, pt);
            };
            const double base = at(1, 1), A = at(2, 1) - base, R = at(1, 2) - base;
            EXPECT_NEAR(base, A + R, 1e-12 * (1 + std::abs(base))) << to_string(mode);
            EXPECT_NEAR(at(3.5, 0.25), 3.5 * A + 0.25 * R, 1e-11 * (1 + std::abs(base))) << to_string(mode);
            EXPECT_NEAR(at(1, 0), A, 1e-12 * (1 + std::abs(A))) << to_string(mode);  // no repulsion at all
        }
}

TEST(ContrastiveTerms, WeightedSumGradientMatchesFiniteDifferences) {
    ContrastiveLossParams neg, nce, ince;
    neg.mode = ContrastiveMode::neg;
    neg.spec = 0.3;
    neg.exaggeration = 4.0;
    nce.mode = ContrastiveMode::nce;
    nce.log_Z = -0.2;
    nce.repulsion_strength = 0.5;
    ince.mode = ContrastiveMode::infonce;
    ince.metric = ContrastiveMetric::cosine;
    ince.clamp_low = -INFINITY;
    ince.clamp_high = INFINITY;
    const std::vector<WeightedContrastiveLoss> terms{{0.7, neg}, {1.3, nce}, {-0.4, ince}};
    for (std::uint64_t seed : {1u, 2u, 3u}) {
        Point pt = random_point(2, 5, seed);
        std::vector<double> g;
        double gz = 0;
        const double L = sum_loss(terms, pt, &g, &gz);
        // the value is the weighted sum of the terms
        double expect = 0;
        for (const auto& t : terms) expect += t.weight * sum_loss({{1.0, t.params}}, pt);
        EXPECT_NEAR(L, expect, 1e-12 * (1 + std::abs(L)));
        const double h = 1e-6;
        for (std::size_t i = 0; i < pt.x.size(); ++i) {
            Point pp = pt, pm = pt;
            pp.x[i] += h;
            pm.x[i] -= h;
            const double fd = (sum_loss(terms, pp) - sum_loss(terms, pm)) / (2 * h);
            EXPECT_NEAR(g[i], fd, 1e-5 * (1 + std::abs(fd))) << "coordinate " << i;
        }
        // ∂/∂log Z: only the nce term has it
        auto shifted = terms;
        shifted[1].params.log_Z += h;
        const double up = sum_loss(shifted, pt);
        shifted[1].params.log_Z -= 2 * h;
        const double fdz = (up - sum_loss(shifted, pt)) / (2 * h);
        EXPECT_NEAR(gz, fdz, 1e-5 * (1 + std::abs(fdz)));
        EXPECT_NE(gz, 0.0);
    }
}

TEST(ContrastiveTerms, FusedKernelsOnlyForCneLoss) {
    ContrastiveLossParams p;
    p.mode = ContrastiveMode::neg;
    EXPECT_NE(detail::fused_chunk(p, 2, 6), nullptr);
    p.exaggeration = 2.0;
    EXPECT_EQ(detail::fused_chunk(p, 2, 6), nullptr);
    p.exaggeration = 1.0;
    p.repulsion_strength = 0.5;
    EXPECT_EQ(detail::fused_chunk(p, 2, 6), nullptr);
}

TEST(ContrastiveTerms, BadCoefficientsThrow) {
    ContrastiveLossParams p;
    p.exaggeration = 0.0;
    EXPECT_THROW(validate(p), InvalidArgument);
    p.exaggeration = 1.0;
    p.repulsion_strength = -1.0;
    EXPECT_THROW(validate(p), InvalidArgument);
    p.repulsion_strength = 0.0;
    EXPECT_NO_THROW(validate(p));
    EXPECT_THROW(contrastive_loss_sum({}, 2, nullptr, nullptr, 1), InvalidArgument);
}
