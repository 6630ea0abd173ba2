// TorchDR's PACMAP on the core: PACMAPAffinity against a dense computation, the weight schedule, the loss against
// TorchDR's formula and central differences, the mid-near rule, thread-count independence, callbacks, the
// min_grad_norm stop and bad parameters.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "../common/fmnist_subset.hpp"
#include "../common/numeric.hpp"
#include "nembed/affinity/cost.hpp"
#include "nembed/affinity/pacmap.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/random.hpp"
#include "nembed/loss/pacmap.hpp"
#include "nembed/methods/pacmap.hpp"
#include "nembed/metrics/quality.hpp"
#include "nembed/repulsion/negative_sampling.hpp"

using namespace nembed;

namespace {

// n points in `dim` dimensions around 4 centres (well-separated distances, no ties).
Matrix<float> clustered(std::size_t n, std::size_t dim, std::uint64_t seed) {
    Matrix<float> X(n, dim);
    Rng rng(seed);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t c = 0; c < dim; ++c)
            X(i, c) = static_cast<float>(3.0 * static_cast<double>((i % 4) == c % 4) + rng.normal());
    return X;
}

double sqdist(const Matrix<float>& X, std::size_t i, std::size_t j) {
    double s = 0;
    for (std::size_t c = 0; c < X.cols(); ++c) {
        const double t = static_cast<double>(X(i, c)) - X(j, c);
        s += t * t;
    }
    return s;
}

PacmapObjective make_objective(const Matrix<float>& X, std::size_t k, std::uint64_t seed, bool exclude = true) {
    PACMAPAffinityOptions ao;
    ao.n_neighbors = k;
    KnnOptions ko;
    ko.method = KnnMethod::exact;
    PacmapNeighbors nb = pacmap_affinity(X.view(), ao, ko);
    PacmapPairOptions po;
    po.n_mid_near = k / 2;
    po.n_further = 2 * k;
    po.exclude_neighbors = exclude;
    po.seed = seed;
    return PacmapObjective(X, std::move(nb), po);
}

// TorchDR's loss written as its code reads (Q = 1 + D; NB Q/(10 + Q), MN Q/(1e4 + Q), FP 1/(1 + Q)) over the pairs.
double torchdr_loss(const PacmapObjective::Pairs& p, const Matrix<double>& Y, const PacmapWeights& w) {
    double near = 0, mid = 0, far = 0;
    const std::size_t n = Y.rows();
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t s = 0; s < p.per_head; ++s) {
            const std::size_t j = static_cast<std::size_t>(p.tails[i * p.per_head + s]);
            double D = 0;
            for (std::size_t c = 0; c < Y.cols(); ++c) D += (Y(i, c) - Y(j, c)) * (Y(i, c) - Y(j, c));
            const double Q = 1 + D;
            if (s < p.n_near) near += Q / (10 + Q);
            else if (s < p.n_near + p.n_mid_near) mid += Q / (1e4 + Q);
            else far += 1 / (1 + Q);
        }
    return w.w_NB * near + (w.w_MN > 0 ? w.w_MN * mid : 0.0) + w.w_FP * far;
}

} // namespace

// PACMAPAffinity against a dense computation: all distances, ρ from the 4th–6th neighbours, C/(ρ_i ρ_j), top k.
TEST(PacmapAffinity, MatchesDenseComputation) {
    for (std::size_t n : {60u, 200u}) {           // k_ext = N − 1 (59) and n_neighbors + 50 (60)
        for (CostMetric metric : {CostMetric::sqeuclidean, CostMetric::euclidean}) {
            const Matrix<float> X = clustered(n, 6, 7 + n);
            PACMAPAffinityOptions ao;
            ao.n_neighbors = 10;
            ao.metric = metric;
            KnnOptions ko;
            ko.method = KnnMethod::exact;
            ko.n_threads = 2;
            const PacmapNeighbors nb = pacmap_affinity(X.view(), ao, ko);
            const std::size_t k_ext = std::min<std::size_t>(60, n - 1);
            ASSERT_EQ(pacmap_extended_neighbors(10, n), k_ext);
            // dense: C_ij for every pair, each row's k_ext nearest
            std::vector<std::vector<std::pair<double, std::size_t>>> rows(n);
            std::vector<double> rho(n);
            for (std::size_t i = 0; i < n; ++i) {
                for (std::size_t j = 0; j < n; ++j)
                    if (j != i) {
                        const double d2 = sqdist(X, i, j);
                        rows[i].push_back({metric == CostMetric::sqeuclidean ? d2 : std::sqrt(d2), j});
                    }
                std::sort(rows[i].begin(), rows[i].end());
                rows[i].resize(k_ext);
                rho[i] = (std::sqrt(rows[i][3].first) + std::sqrt(rows[i][4].first) + std::sqrt(rows[i][5].first)) / 3;
            }
            for (std::size_t i = 0; i < n; ++i) {
                EXPECT_NEAR(nb.rho[i], rho[i], 1e-6 * rho[i]) << "row " << i;
                std::vector<std::pair<double, std::size_t>> scaled;
                for (const auto& [c, j] : rows[i]) scaled.push_back({c / (rho[i] * rho[j]), j});
                std::stable_sort(scaled.begin(), scaled.end(),
                                 [](const auto& a, const auto& b) { return a.first < b.first; });
                for (std::size_t t = 0; t < 10; ++t) {
                    EXPECT_EQ(static_cast<std::size_t>(nb.neighbors(i)[t]), scaled[t].second) << "row " << i;
                    EXPECT_NEAR(nb.scaled[i * 10 + t], scaled[t].first, 1e-5 * scaled[t].first) << "row " << i;
                }
            }
        }
    }
}

// TorchDR sets the weights after each step from its counter (−1 at the start): step s uses weights(s − 1).
TEST(PacmapLoss, WeightScheduleAtBoundaries) {
    auto at = [](std::int64_t step) { return pacmap_step_weights(step, 100); };
    EXPECT_DOUBLE_EQ(at(0).w_NB, 2);
    EXPECT_NEAR(at(0).w_MN, 1009.97, 1e-9);  // 1000·(1 + 1/100) − 3/100
    EXPECT_DOUBLE_EQ(at(0).w_FP, 1);
    EXPECT_DOUBLE_EQ(at(1).w_MN, 1000);
    EXPECT_NEAR(at(51).w_MN, 501.5, 1e-9);
    EXPECT_NEAR(at(100).w_MN, 12.97, 1e-9);  // weights(99)
    EXPECT_DOUBLE_EQ(at(100).w_NB, 2);
    for (std::int64_t s : {101, 200}) {
        EXPECT_DOUBLE_EQ(at(s).w_NB, 3);
        EXPECT_DOUBLE_EQ(at(s).w_MN, 3);
        EXPECT_DOUBLE_EQ(at(s).w_FP, 1);
    }
    for (std::int64_t s : {201, 449}) {
        EXPECT_DOUBLE_EQ(at(s).w_NB, 1);
        EXPECT_DOUBLE_EQ(at(s).w_MN, 0);
        EXPECT_DOUBLE_EQ(at(s).w_FP, 1);
    }
    EXPECT_NEAR(pacmap_step_weights(5, 4).w_MN, 3, 0);  // weights(4) with iter_per_phase 4: phase 2
    EXPECT_THROW(pacmap_weights(0, 0), InvalidArgument);
}

// The loss equals TorchDR's formula on the step's pairs; the pairs follow the rules.
TEST(PacmapLoss, ValueMatchesTorchdrFormulaAndPairsFollowRules) {
    const Matrix<float> X = clustered(120, 5, 3);
    PacmapObjective obj = make_objective(X, 10, 11);
    obj.set_threads(2);
    Matrix<double> Y = test::random_y(120, 2, 2.0, 5);
    std::vector<double> g(Y.size());
    for (std::int64_t step : {0, 57, 150, 300}) {
        const PacmapWeights w = pacmap_step_weights(step, 100);
        const PacmapObjective::Pairs p = obj.pairs(step, 1);
        ASSERT_EQ(p.n_near, 10u);
        ASSERT_EQ(p.n_mid_near, w.w_MN > 0 ? 5u : 0u);
        ASSERT_EQ(p.n_further, 20u);
        for (std::size_t i = 0; i < 120; ++i) {
            const index_t* t = p.tails.data() + i * p.per_head;
            const index_t* nb = obj.neighbors().neighbors(i);
            for (std::size_t s = 0; s < p.per_head; ++s) {
                ASSERT_NE(static_cast<std::size_t>(t[s]), i);
                if (s < p.n_near) {
                    ASSERT_EQ(t[s], nb[s]);
                }
                if (s >= p.n_near + p.n_mid_near) {  // further points are never neighbours
                    ASSERT_EQ(std::find(nb, nb + 10, t[s]), nb + 10);
                }
            }
        }
        const double loss = obj(Y.view(), 1.0, step, g.data(), true);
        const double ref = torchdr_loss(p, Y, w);
        EXPECT_NEAR(loss, ref, 1e-12 * std::abs(ref)) << "step " << step;
        // the gradient does not depend on want_loss
        std::vector<double> g2(Y.size());
        obj(Y.view(), 1.0, step, g2.data(), false);
        EXPECT_EQ(0, std::memcmp(g.data(), g2.data(), g.size() * sizeof(double)));
    }
    // Different steps draw different further points.
    EXPECT_NE(obj.pairs(1).tails, obj.pairs(2).tails);
}

// The gradient is that of the loss in every coordinate (both ends of every pair), central differences.
TEST(PacmapLoss, GradientMatchesCentralDifferences) {
    const Matrix<float> X = clustered(40, 4, 9);
    PacmapObjective obj = make_objective(X, 6, 13);
    for (std::int64_t step : {0, 120, 250}) {
        for (double sd : {0.5, 5.0}) {
            Matrix<double> Y = test::random_y(40, 2, sd, 17 + step);
            std::vector<double> g(Y.size());
            obj(Y.view(), 1.0, step, g.data(), false);
            const double err = test::relative_gradient_error(Y, g, 1.0, [&] {
                std::vector<double> tmp(Y.size());
                return obj(Y.view(), 1.0, step, tmp.data(), true);
            });
            EXPECT_LT(err, 1e-6) << "step " << step << " sd " << sd;
        }
    }
}

// The gradient's tail contributions go through per-block bucket sorts with several workers and a plain scan with
// one: the same bits either way, and the sums of the pairs (a direct accumulation) up to rounding. 1300 points span
// several head blocks (256) and tail buckets (512); 2-D and 3-D take different loops.
TEST(PacmapLoss, BucketedGradientMatchesDirectSums) {
    const Matrix<float> X = clustered(1300, 6, 31);
    PacmapObjective obj = make_objective(X, 10, 5);
    for (std::size_t dim : {2u, 3u}) {
        const Matrix<double> Y = test::random_y(1300, dim, 3.0, 41 + dim);
        for (std::int64_t step : {3, 250}) {
            obj.set_threads(1);
            std::vector<double> g1(Y.size());
            const double l1 = obj(Y.view(), 1.0, step, g1.data(), true);
            for (int nt : {2, 3}) {
                obj.set_threads(nt);
                std::vector<double> g(Y.size());
                const double l = obj(Y.view(), 1.0, step, g.data(), true);
                EXPECT_EQ(0, std::memcmp(g.data(), g1.data(), g.size() * sizeof(double))) << nt << " threads";
                EXPECT_EQ(l, l1);
            }
            const PacmapWeights w = pacmap_step_weights(step, 100);
            const PacmapObjective::Pairs p = obj.pairs(step, 1);
            std::vector<double> ref(Y.size(), 0.0);
            for (std::size_t i = 0; i < 1300; ++i)
                for (std::size_t s = 0; s < p.per_head; ++s) {
                    const auto j = static_cast<std::size_t>(p.tails[i * p.per_head + s]);
                    double D = 0;
                    for (std::size_t c = 0; c < dim; ++c) D += (Y(i, c) - Y(j, c)) * (Y(i, c) - Y(j, c));
                    const double c2 = s < p.n_near ? 2 * w.w_NB * pacmap_near_term(D).dD
                                      : s < p.n_near + p.n_mid_near ? 2 * w.w_MN * pacmap_mid_near_term(D).dD
                                                                    : 2 * w.w_FP * pacmap_further_term(D).dD;
                    for (std::size_t c = 0; c < dim; ++c) {
                        ref[i * dim + c] += c2 * (Y(i, c) - Y(j, c));
                        ref[j * dim + c] -= c2 * (Y(i, c) - Y(j, c));
                    }
                }
            double scale = 0;
            for (double v : ref) scale = std::max(scale, std::abs(v));
            for (std::size_t t = 0; t < ref.size(); ++t) ASSERT_NEAR(g1[t], ref[t], 1e-12 * scale) << t;
            EXPECT_NEAR(l1, torchdr_loss(p, Y, w), 1e-12 * std::abs(l1));
        }
    }
}

// The further points are UniformSampler::draw(i, sorted neighbours) from the stream of (seed, step, i): the unrolled
// exclusion test draws the same points.
TEST(PacmapLoss, FurtherPointsComeFromTheStepStream) {
    const Matrix<float> X = clustered(60, 3, 23);
    PacmapObjective obj = make_objective(X, 8, 77);
    for (std::int64_t step : {0, 300}) {
        for (std::size_t i : {0u, 31u, 59u}) {
            std::vector<index_t> got(16);
            obj.further(step, i, got.data());
            std::vector<std::uint32_t> ex(obj.neighbors().neighbors(i), obj.neighbors().neighbors(i) + 8);
            std::sort(ex.begin(), ex.end());
            UniformSampler s(77, sampling_stream(SamplingFamily::pacmap_further, static_cast<std::uint64_t>(step), i),
                             60);
            for (std::size_t m = 0; m < 16; ++m) EXPECT_EQ(got[m], static_cast<index_t>(s.draw(i, ex))) << m;
        }
    }
}

// The mid-near candidates' float distances (cost.hpp's sqeuclidean_rows_f32 on zero-padded rows) agree with the
// double cost to float precision, also for data far from the origin (differences first) and any width.
TEST(PacmapLoss, FloatCandidateDistancesMatchDouble) {
    for (std::size_t dim : {1u, 3u, 16u, 50u}) {
        Matrix<float> X = clustered(40, dim, 3 + dim);
        for (std::size_t t = 0; t < X.size(); ++t) X.data()[t] += 1000.0f;
        const std::size_t stride = (dim + kSqeuclideanPad - 1) / kSqeuclideanPad * kSqeuclideanPad;
        std::vector<float> P(40 * stride, 0.0f);
        for (std::size_t i = 0; i < 40; ++i) std::copy(X.row(i), X.row(i) + dim, P.data() + i * stride);
        std::vector<index_t> rows(39);
        for (std::size_t t = 0; t < 39; ++t) rows[t] = static_cast<index_t>(t + 1);
        std::vector<float> out(39);
        sqeuclidean_rows_f32(P.data(), P.data(), stride, rows.data(), rows.size(), out.data());
        for (std::size_t t = 0; t < 39; ++t) {
            const double ref = pair_cost(X.row(0), X.row(t + 1), dim, CostMetric::sqeuclidean);
            EXPECT_NEAR(out[t], ref, 1e-6 * ref + 1e-30) << dim << " " << t;
        }
    }
}

// The mid-near rule: of 6 candidates, the second closest in input space (a repeated closest is also the second).
TEST(PacmapLoss, MidNearRuleKeepsSecondClosest) {
    Matrix<float> X(10, 1);
    for (std::size_t i = 0; i < 10; ++i) X(i, 0) = static_cast<float>(i * i);  // distances from 0 grow with i
    EXPECT_EQ(pacmap_mid_near_choice(X.view(), 0, {7, 3, 9, 5, 8, 6}), 5);
    EXPECT_EQ(pacmap_mid_near_choice(X.view(), 0, {9, 2, 8, 7, 6, 4}), 4);
    EXPECT_EQ(pacmap_mid_near_choice(X.view(), 0, {4, 9, 4, 8, 7, 6}), 4);  // the closest drawn twice
    EXPECT_EQ(pacmap_mid_near_choice(X.view(), 9, {1, 2, 8, 3, 4, 5}), 5);  // from x = 81: 8 (17), then 5 (56)
}

// The objective's mid-near partners are that rule on 6 candidates per partner from the stream of (seed, step, i).
TEST(PacmapLoss, MidNearPartnersComeFromTheStepStream) {
    const Matrix<float> X = clustered(50, 3, 21);
    PacmapObjective obj = make_objective(X, 6, 99);
    for (std::int64_t step : {0, 7}) {
        for (std::size_t i : {0u, 17u, 49u}) {
            std::vector<index_t> got(3);
            obj.mid_near(step, i, got.data());
            UniformSampler s(99, sampling_stream(SamplingFamily::pacmap_mid_near, static_cast<std::uint64_t>(step), i),
                             50);
            for (std::size_t m = 0; m < 3; ++m) {
                index_t cand[6];
                std::vector<std::pair<double, int>> d;
                for (int c = 0; c < 6; ++c) {
                    cand[c] = static_cast<index_t>(s.draw(i));
                    ASSERT_NE(static_cast<std::size_t>(cand[c]), i);
                    d.push_back({sqdist(X, i, static_cast<std::size_t>(cand[c])), c});
                }
                std::sort(d.begin(), d.end());
                EXPECT_EQ(got[m], cand[d[1].second]);
            }
        }
    }
}

namespace {
torchdr::PACMAPOptions small_options(int n_jobs) {
    torchdr::PACMAPOptions o;
    o.random_state = 3;
    o.max_iter = 60;
    o.iter_per_phase = 20;  // the three weight phases within 60 iterations
    o.n_threads = n_jobs;
    o.knn_method = KnnMethod::exact;
    return o;
}
Matrix<float> fmnist_rows(std::size_t n) {
    const auto& f = nembed::testing::fmnist();
    return Matrix<float>(n, f.X.cols(), std::vector<float>(f.X.data(), f.X.data() + n * f.X.cols()));
}
bool same_bits(const Matrix<double>& a, const Matrix<double>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}
NeResult fit(const torchdr::PACMAPOptions& o, const Matrix<float>& X, const TrainHooks& hooks = {}) {
    return torchdr::PACMAP(o).fit_transform(X.view(), hooks);
}
} // namespace

TEST(Pacmap, SameBitsForAnyThreadCount) {
    const Matrix<float> X = fmnist_rows(500);
    const Matrix<double> Y1 = fit(small_options(1), X).embedding;
    for (int nt : {2, 3}) EXPECT_TRUE(same_bits(Y1, fit(small_options(nt), X).embedding)) << nt;
}

// The driver's callbacks (after 0-based steps 0, 7, 14, ...) evaluate the loss; the path is the same.
TEST(Pacmap, CallbacksDoNotChangeTheRun) {
    const Matrix<float> X = fmnist_rows(400);
    const Matrix<double> full = fit(small_options(2), X).embedding;
    std::vector<std::int64_t> at;
    std::vector<double> losses;
    TrainHooks hooks;
    hooks.callback_every = 7;
    hooks.callback = [&](const TrainEvent& ev) {
        at.push_back(ev.step);
        losses.push_back(ev.loss);
        return false;
    };
    EXPECT_TRUE(same_bits(full, fit(small_options(2), X, hooks).embedding));
    EXPECT_EQ(at, (std::vector<std::int64_t>{1, 8, 15, 22, 29, 36, 43, 50, 57}));
    for (double l : losses) EXPECT_TRUE(std::isfinite(l));
}

TEST(Pacmap, StopsAtMinGradNormOnCheckIterations) {
    const Matrix<float> X = fmnist_rows(200);
    torchdr::PACMAPOptions o = small_options(1);
    o.min_grad_norm = 1e30;  // every check stops: the first is after iteration 0
    const NeResult e = fit(o, X);
    EXPECT_EQ(e.stop, NeStop::converged);
    EXPECT_EQ(e.n_iter, 1);
    o.min_grad_norm = 0;
    const NeResult f = fit(o, X);
    EXPECT_EQ(f.stop, NeStop::max_iter);
    EXPECT_EQ(f.n_iter, 60);
    EXPECT_GT(f.grad_norm, 0);
}

TEST(Pacmap, InitIsPcaScaledByUnbiasedStd) {
    const Matrix<float> X = fmnist_rows(300);
    torchdr::PACMAPOptions o = small_options(1);
    o.init_scaling = 1e-4;
    const Matrix<double> Y = ne_initial_embedding(o, X.view(), 300);
    double m = 0, ss = 0;
    for (std::size_t i = 0; i < 300; ++i) m += Y(i, 0);
    m /= 300;
    for (std::size_t i = 0; i < 300; ++i) ss += (Y(i, 0) - m) * (Y(i, 0) - m);
    EXPECT_NEAR(std::sqrt(ss / 299), 1e-4, 1e-12);
}

// A full default run separates Fashion-MNIST classes (10-NN accuracy; TorchDR's PACMAP gives ~0.75 on these rows).
TEST(Pacmap, DefaultRunEmbedsFmnist) {
    const auto& f = nembed::testing::fmnist();
    const Matrix<float> X = fmnist_rows(2000);
    torchdr::PACMAPOptions o;
    o.random_state = 0;
    o.n_threads = 2;
    const NeResult e = fit(o, X);
    EXPECT_EQ(e.n_iter, 450);
    const std::vector<std::int64_t> labels(f.labels.begin(), f.labels.begin() + 2000);
    EXPECT_GT(knn_accuracy(e.embedding.view(), labels, 10, 2), 0.65);
}

TEST(Pacmap, BadParametersAreRefused) {
    const Matrix<float> X = fmnist_rows(30);
    using O = torchdr::PACMAPOptions;
    auto fails = [&](auto edit, const std::string& word) {
        O o = small_options(1);
        edit(o);
        try {
            fit(o, X);
            ADD_FAILURE() << "no error for " << word;
        } catch (const InvalidArgument& e) {
            EXPECT_NE(std::string(e.what()).find(word), std::string::npos) << e.what();
        }
    };
    fails([](O& o) { o.n_neighbors = 30; }, "n_neighbors");
    fails([](O& o) { o.n_neighbors = 29; }, "n_neighbors");  // no further point left
    fails([](O& o) { o.n_neighbors = 0; }, "n_neighbors");
    fails([](O& o) { o.MN_ratio = -0.5; }, "MN_ratio");
    fails([](O& o) { o.FP_ratio = -1; }, "FP_ratio");
    fails([](O& o) { o.iter_per_phase = 0; }, "iter_per_phase");
    fails([](O& o) { o.check_interval = 0; }, "check_interval");
    fails([](O& o) { o.lr = -1.0; }, "lr");
    fails([](O& o) { o.init_scaling = 0; }, "init_scaling");
    fails([](O& o) { o.max_iter = -1; }, "max_iter");
    fails([](O& o) { o.optimizer = "gains"; }, "optimizer");
    EXPECT_THROW(parse_pacmap_metric("manhattan"), InvalidArgument);
    EXPECT_THROW(parse_pacmap_metric("cosine"), InvalidArgument);
    EXPECT_EQ(parse_pacmap_metric("SqEuclidean"), CostMetric::sqeuclidean);
    EXPECT_THROW(parse_ne_init("spectral"), InvalidArgument);
    // without exclusion n_neighbors = N − 1 is allowed
    O o = small_options(1);
    o.n_neighbors = 29;
    o.exclude_neighbors_from_negative_sampling = false;
    o.max_iter = 3;
    EXPECT_NO_THROW(fit(o, X));
}
