// Every contrastive loss × similarity: the hand-written gradient equals central finite differences.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "nembed/core/error.hpp"
#include "nembed/core/random.hpp"
#include "nembed/loss/contrastive.hpp"
#include "../../src/loss/contrastive_fused.hpp"  // private fused kernels, compared with the general loss

using namespace nembed;

namespace {

// Loss of a flat parameter vector [head, others...] and log Z.
double loss_at(const ContrastiveLossParams& p, std::size_t d, std::size_t n_others, const std::vector<double>& x) {
    std::vector<const double*> o(n_others);
    for (std::size_t t = 0; t < n_others; ++t) o[t] = x.data() + (t + 1) * d;
    return contrastive_head_loss(p, d, x.data(), o.data(), n_others);
}

// Loss and gradient (g zeroed and filled in the layout of x, *gz: d/dlog Z) of the general implementation.
double loss_and_gradient(const ContrastiveLossParams& p, std::size_t d, std::size_t n_others,
                         const std::vector<double>& x, std::vector<double>& g, double* gz) {
    g.assign(x.size(), 0.0);
    *gz = 0;
    std::vector<const double*> o(n_others);
    std::vector<double*> go(n_others);
    for (std::size_t t = 0; t < n_others; ++t) {
        o[t] = x.data() + (t + 1) * d;
        go[t] = g.data() + (t + 1) * d;
    }
    return contrastive_head_loss(p, d, x.data(), o.data(), n_others, g.data(), go.data(), gz);
}

void check_gradient(ContrastiveLossParams p, std::size_t d, std::size_t n_others, std::uint64_t seed, double scale) {
    Rng rng(seed);
    std::vector<double> x((n_others + 1) * d);
    for (double& v : x) v = rng.normal() * scale;
    std::vector<double> g;
    double gz = 0;
    const double L = loss_and_gradient(p, d, n_others, x, g, &gz);
    ASSERT_TRUE(std::isfinite(L));
    const double h = 1e-6;
    for (std::size_t i = 0; i < x.size(); ++i) {
        auto xp = x, xm = x;
        xp[i] += h;
        xm[i] -= h;
        const double fd = (loss_at(p, d, n_others, xp) - loss_at(p, d, n_others, xm)) / (2 * h);
        EXPECT_NEAR(g[i], fd, 1e-5 * (1 + std::abs(fd))) << to_string(p.mode) << "/" << to_string(p.metric)
                                                         << " coordinate " << i;
    }
    if (p.mode == ContrastiveMode::nce) {
        auto pp = p, pm = p;
        pp.log_Z += h;
        pm.log_Z -= h;
        const double fd = (loss_at(pp, d, n_others, x) - loss_at(pm, d, n_others, x)) / (2 * h);
        EXPECT_NEAR(gz, fd, 1e-5 * (1 + std::abs(fd))) << "d/dlogZ";
    }
}

} // namespace

TEST(ContrastiveLoss, GradientsMatchFiniteDifferences) {
    const ContrastiveMode modes[] = {ContrastiveMode::umap, ContrastiveMode::neg, ContrastiveMode::nce,
                                     ContrastiveMode::infonce, ContrastiveMode::infonce_alt};
    std::uint64_t seed = 1;
    for (auto mode : modes) {
        for (auto metric : {ContrastiveMetric::euclidean, ContrastiveMetric::cosine}) {
            for (std::size_t d : {1u, 2u, 5u}) {
                if (metric == ContrastiveMetric::cosine && d == 1) continue;  // cos is ±1: not differentiable
                if (metric == ContrastiveMetric::cosine && mode == ContrastiveMode::umap) continue;  // refused
                ContrastiveLossParams p;
                p.mode = mode;
                p.metric = metric;
                p.spec = mode == ContrastiveMode::neg ? 0.37 : 2.5;
                p.log_Z = 0.3;
                p.nce_m = 6;
                p.eps = 1.0;
                if (metric == ContrastiveMetric::cosine) {  // cne "auto": no clamping
                    p.clamp_low = -INFINITY;
                    p.clamp_high = INFINITY;
                } else {  // keep every clamp inactive so the loss is smooth where we probe (scale 1.5)
                    p.clamp_low = 1e-12;
                    p.clamp_high = 1.0;
                }
                check_gradient(p, d, 7, seed++, 1.5);
            }
        }
    }
}

TEST(ContrastiveLoss, EpsZeroIsUmapImplicitKernel) {
    ContrastiveLossParams p;
    p.mode = ContrastiveMode::umap;
    p.eps = 0.0;
    p.clamp_low = 1e-12;
    check_gradient(p, 2, 4, 99, 3.0);
}

TEST(ContrastiveLoss, ClampedTermsPassNoGradient) {
    // far negatives: q < 1e-4 is clamped in log(q) for InfoNCE -> zero gradient on that point (as torch.clamp)
    ContrastiveLossParams p;
    p.mode = ContrastiveMode::infonce;
    const double head[2] = {0, 0}, pos[2] = {0.5, 0}, far[2] = {500, 0};
    const double* o[2] = {pos, far};
    double gh[2] = {0, 0}, g0[2] = {0, 0}, g1[2] = {0, 0};
    double* go[2] = {g0, g1};
    contrastive_head_loss(p, 2, head, o, 2, gh, go);
    EXPECT_EQ(g1[0], 0.0);
    EXPECT_NE(g0[0], 0.0);
}

TEST(ContrastiveLoss, Validation) {
    ContrastiveLossParams p;
    p.spec = 0;
    EXPECT_THROW(validate(p), InvalidArgument);
    p.spec = 1;
    p.temperature = -1;
    EXPECT_THROW(validate(p), InvalidArgument);
    p.temperature = 0.5;
    p.clamp_low = 2;
    EXPECT_THROW(validate(p), InvalidArgument);
    p.clamp_low = 1e-4;
    p.mode = ContrastiveMode::umap;
    p.metric = ContrastiveMetric::cosine;
    EXPECT_THROW(validate(p), InvalidArgument);
    EXPECT_THROW(parse_contrastive_mode("nceish"), InvalidArgument);
    EXPECT_THROW(parse_contrastive_metric("manhattan"), InvalidArgument);
    EXPECT_EQ(parse_contrastive_mode("neg_sample"), ContrastiveMode::neg);
}

// The fused Euclidean kernels of the CNE batch step (src/loss/contrastive_fused.cpp, which read float positions)
// against contrastive_head_loss head by head at the same (float-valued) positions: gradients to 1e-10 (relative to the head's largest entry: with eps = 0 a head's points may nearly
// coincide, where the two forms round apart), the loss to 1e-12, d/dlog Z for nce; at spreads
// where clamps bite (far partners, coincident points) and where they do not; for chunks of 1 to 70 heads (partial
// vector lanes and more than one block of heads) and 6 (compiled for cne's m = 5) or 7 others.
TEST(ContrastiveLoss, FusedKernelsEqualTheGeneralLoss) {
    const ContrastiveMode modes[] = {ContrastiveMode::umap, ContrastiveMode::neg, ContrastiveMode::nce,
                                     ContrastiveMode::infonce, ContrastiveMode::infonce_alt};
    std::uint64_t seed = 100;
    for (auto mode : modes)
        for (std::size_t d : {2u, 3u})
            for (double eps : {1.0, 0.0})
                for (double scale : {0.05, 1.0, 30.0})
                    for (std::size_t n_others : {6u, 7u})
                        for (std::size_t n_heads : {1u, 5u, 70u}) {
                            ContrastiveLossParams p;
                            p.mode = mode;
                            p.eps = eps;
                            p.spec = mode == ContrastiveMode::neg ? 0.02 : 1.7;
                            p.log_Z = 0.3;
                            p.nce_m = 6;
                            auto fused = detail::fused_chunk(p, d, n_others);
                            ASSERT_NE(fused, nullptr);
                            Rng rng(++seed);
                            // n_points points; each head's [head, others...] drawn among them, with a coincident
                            // negative (d² = 0: eps = 0 puts its log argument at the clamp) for every third head
                            const std::size_t n_points = 40, per_head = n_others + 1;
                            // the kernels read positions as float: Y holds floats' values exactly
                            std::vector<float> Yf(n_points * d);
                            for (float& v : Yf) v = static_cast<float>(rng.normal() * scale);
                            const std::vector<double> Y(Yf.begin(), Yf.end());
                            std::vector<std::uint32_t> pts(n_heads * per_head);
                            for (std::size_t h = 0; h < n_heads; ++h)
                                for (std::size_t t = 0; t < per_head; ++t)
                                    pts[h * per_head + t] = static_cast<std::uint32_t>(rng.below(n_points));
                            for (std::size_t h = 0; h < n_heads; h += 3)
                                pts[h * per_head + n_others] = pts[h * per_head];
                            std::vector<double> g(n_heads * per_head * d, 7.0), dz(n_heads, 7.0), scratch;
                            detail::HeadLoss acc;
                            fused(detail::fused_params(p), Yf.data(), pts.data(), n_heads, n_others, g.data(),
                                  nullptr, dz.data(), acc, scratch);
                            const double fused_loss = detail::head_loss_total(p, acc);

                            const std::string what = to_string(mode) + " d=" + std::to_string(d) + " eps=" +
                                                     std::to_string(eps) + " scale=" + std::to_string(scale) +
                                                     " others=" + std::to_string(n_others) +
                                                     " heads=" + std::to_string(n_heads);
                            double L = 0;
                            for (std::size_t h = 0; h < n_heads; ++h) {
                                std::vector<double> x(per_head * d), want;
                                for (std::size_t t = 0; t < per_head; ++t)
                                    for (std::size_t k = 0; k < d; ++k) x[t * d + k] = Y[pts[h * per_head + t] * d + k];
                                double want_dz = 0;
                                L += loss_and_gradient(p, d, n_others, x, want, &want_dz);
                                double gmax = 0;
                                for (double v : want) gmax = std::max(gmax, std::abs(v));
                                for (std::size_t i = 0; i < want.size(); ++i)
                                    ASSERT_NEAR(g[h * per_head * d + i], want[i], 1e-10 * (1 + gmax))
                                        << what << " head " << h << " entry " << i;
                                if (mode == ContrastiveMode::nce) {
                                    EXPECT_NEAR(dz[h], want_dz, 1e-10 * (1 + std::abs(want_dz))) << what;
                                }
                            }
                            EXPECT_NEAR(fused_loss, L, 1e-12 * (1 + std::abs(L))) << what;

                            // With a sink the same contributions land in the accumulator, to the bit: each one
                            // rounded by to_fixed, summed per point (integer sums: any order).
                            const detail::FixedPoint fx(2.0);
                            std::vector<std::int64_t> want_acc(n_points * d, 0), got_acc(n_points * d, 0);
                            for (std::size_t e = 0; e < n_heads * per_head; ++e)
                                for (std::size_t k = 0; k < d; ++k)
                                    want_acc[pts[e] * d + k] += fx.to_fixed(g[e * d + k]);
                            std::vector<double> dz2(n_heads, 7.0), untouched(1, 7.0);
                            detail::HeadLoss acc2;
                            const detail::FusedSink sink{got_acc.data(), &fx};
                            fused(detail::fused_params(p), Yf.data(), pts.data(), n_heads, n_others, untouched.data(),
                                  &sink, dz2.data(), acc2, scratch);
                            EXPECT_EQ(got_acc, want_acc) << what;
                            EXPECT_EQ(untouched[0], 7.0) << what;
                            EXPECT_EQ(detail::head_loss_total(p, acc2), fused_loss) << what;
                            if (mode == ContrastiveMode::nce) {
                                EXPECT_EQ(dz2, dz) << what;
                            }
                        }
}
