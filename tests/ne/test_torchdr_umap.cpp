// TorchDR's UMAP (methods/torchdr_umap.hpp, loss/umap_ne.hpp) and the non-parametric transform of UMAP, LargeVis
// and InfoTSNE (methods/ne_transform.hpp, loss/ne_transform_loss.hpp): the step against TorchDR's closed form
// written out densely here, the epochs_per_sample schedule, the clamp, the negatives, thread-count independence,
// cluster separation, and the transform's affinities, placement, bits and refusals.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "../common/numeric.hpp"
#include "nembed/affinity/umap_affinity.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/random.hpp"
#include "nembed/kernel/umap_kernel.hpp"
#include "nembed/loss/ne_transform_loss.hpp"
#include "nembed/loss/umap_ne.hpp"
#include "nembed/methods/ne_transform.hpp"
#include "nembed/methods/torchdr_umap.hpp"
#include "nembed/repulsion/negative_sampling.hpp"
#include "nembed/metrics/knn_labels.hpp"

namespace nembed {
namespace {

using test::random_y;

// Gaussian blobs, float32: point i in blob i % 3, blobs 8 apart.
Matrix<float> blobs(std::size_t n, std::size_t dim, std::uint64_t seed) {
    Rng rng(seed);
    Matrix<float> X(n, dim);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t c = 0; c < dim; ++c)
            X(i, c) = static_cast<float>(rng.normal() + 8.0 * static_cast<double>((i % 3) == c % 3));
    return X;
}
std::vector<std::int64_t> blob_labels(std::size_t n) {
    std::vector<std::int64_t> l(n);
    for (std::size_t i = 0; i < n; ++i) l[i] = static_cast<std::int64_t>(i % 3);
    return l;
}

// A symmetric P with k random neighbours per row, values in (0, 1] (a fuzzy graph's shape).
CsrMatrix<double> random_sym_p(std::size_t n, std::size_t k, std::uint64_t seed) {
    Rng rng(seed);
    std::vector<double> D(n * n, 0.0);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t t = 0; t < k; ++t) {
            std::size_t j = rng.below(n);
            if (j == i) continue;
            D[i * n + j] = D[j * n + i] = 0.05 + 0.95 * rng.uniform();
        }
    CsrMatrix<double> P;
    P.n_rows = P.n_cols = n;
    P.indptr.push_back(0);
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < n; ++j)
            if (D[i * n + j] > 0) {
                P.indices.push_back(static_cast<index_t>(j));
                P.values.push_back(D[i * n + j]);
            }
        P.indptr.push_back(static_cast<offset_t>(P.indices.size()));
    }
    return P;
}

NeStepInfo step_info(double ex, double rho, std::int64_t step) {
    NeStepInfo s;
    s.exaggeration = ex;
    s.repulsion_strength = rho;
    s.step = step;
    return s;
}

double clamp4(double v) { return std::min(4.0, std::max(-4.0, v)); }

// TorchDR's _compute_attractive_gradients and _compute_repulsive_gradients, literally, for the loss's masks and
// negatives; R the reference rows (Y at fit). Counts the clamped coordinates.
std::vector<double> torchdr_umap_grad(const CsrMatrix<double>& P, const Matrix<double>& Y, const Matrix<double>& R,
                                      double a, double b, const std::vector<std::uint8_t>& mask,
                                      const std::vector<std::int64_t>& neg_ptr, const std::vector<std::uint32_t>& neg,
                                      double lambda, double rho, bool fit, int* n_clamped,
                                      std::vector<double>* scale = nullptr) {
    const std::size_t n = Y.rows(), d = Y.cols();
    std::vector<double> att(n * d, 0.0), rep(n * d, 0.0), att_abs(n * d, 0.0), rep_abs(n * d, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
        for (auto p = P.indptr[i]; p < P.indptr[i + 1]; ++p) {
            const std::size_t j = static_cast<std::size_t>(P.indices[p]);
            double D = 0;
            for (std::size_t q = 0; q < d; ++q) D += (Y(i, q) - R(j, q)) * (Y(i, q) - R(j, q));
            const bool positive = D > 0;
            const double D_ = 1 + a * std::pow(D, b);
            double c = std::pow(D, b - 1) * (2 * a * b) / D_;
            if (!positive) c = 0;
            if (!mask[static_cast<std::size_t>(p)]) c = 0;
            for (std::size_t q = 0; q < d; ++q) {
                const double v = (Y(i, q) - R(j, q)) * c;
                *n_clamped += std::abs(v) > 4;
                att[i * d + q] += clamp4(v);
                att_abs[i * d + q] += std::abs(clamp4(v));
            }
        }
        for (auto t = neg_ptr[i]; t < neg_ptr[i + 1]; ++t) {
            const std::size_t k = neg[static_cast<std::size_t>(t)];
            double D = 0;
            for (std::size_t q = 0; q < d; ++q) D += (Y(i, q) - R(k, q)) * (Y(i, q) - R(k, q));
            const double D_ = 1 + a * std::pow(D, b);
            const double c = -2 * b / ((D + 1e-3) * D_);
            for (std::size_t q = 0; q < d; ++q) {
                const double v = (Y(i, q) - R(k, q)) * c;
                *n_clamped += std::abs(v) > 4;
                rep[i * d + q] += clamp4(v);
                rep_abs[i * d + q] += std::abs(clamp4(v));
            }
        }
    }
    std::vector<double> g(n * d);
    for (std::size_t k = 0; k < n * d; ++k) g[k] = lambda * (fit ? 2.0 : 1.0) * att[k] + rho * rep[k];
    if (scale) {
        scale->resize(n * d);
        for (std::size_t k = 0; k < n * d; ++k) (*scale)[k] = lambda * (fit ? 2.0 : 1.0) * att_abs[k] + rho * rep_abs[k];
    }
    return g;
}

// ---- the step ----

TEST(TorchdrUmapLoss, GradientIsTorchdrsClosedForm) {
    const std::size_t n = 40;
    const CsrMatrix<double> P = random_sym_p(n, 4, 1);
    Matrix<double> Y = random_y(n, 2, 0.3, 2);
    // Two near-coincident points so that some per-edge terms hit the clamp.
    Y(1, 0) = Y(0, 0) + 0.01;
    Y(1, 1) = Y(0, 1) - 0.005;
    NeUmapSettings s;
    s.curve = find_ab_params(1.0, 0.1);
    s.seed = 7;
    NeUmapLoss loss(P, 20, s);
    int clamped = 0;
    std::vector<double> g(Y.size()), scale;
    for (std::int64_t step = 0; step < 12; ++step) {
        loss(Y.view(), step_info(1.5, 0.7, step), g.data(), false);
        const auto dr = loss.draws(step);
        const auto ref = torchdr_umap_grad(P, Y, Y, s.curve.a, s.curve.b, dr.active, dr.neg_ptr, dr.neg, 1.5, 0.7,
                                           true, &clamped, &scale);
        // The step's per-pair values are float32 (as TorchDR's): each term to ~1e-6 relative (umap_pow, the float
        // differences), so the sum to 1e-5 of the sum of the terms' magnitudes.
        for (std::size_t k = 0; k < g.size(); ++k) ASSERT_NEAR(g[k], ref[k], 1e-5 * (1e-6 + scale[k])) << k;
    }
    EXPECT_GT(clamped, 0);  // the clamp was exercised
}

TEST(TorchdrUmapLoss, EpochsPerSampleSchedule) {
    // p = 1, 1/2, 1/4 and one below A_max/max_iter: e = 1, 2, 4, ∞; an edge is active at step t when its counter
    // (starting at e, growing by e when active) is <= t + 1: e = 2 at steps 1, 3, 5, ...; e = 4 at 3, 7, ...
    CsrMatrix<double> P;
    P.n_rows = P.n_cols = 5;
    P.indptr = {0, 4, 5, 6, 7, 8};
    P.indices = {1, 2, 3, 4, 0, 0, 0, 0};
    P.values = {1.0, 0.5, 0.25, 0.05, 1.0, 0.5, 0.25, 0.05};
    NeUmapSettings s;
    s.negative_sample_rate = 3;
    NeUmapLoss loss(P, 10, s);  // threshold 1/10: p = 0.05 is never sampled
    const auto& e = loss.epochs_per_sample();
    EXPECT_EQ(e[0], 1.0);
    EXPECT_EQ(e[1], 2.0);
    EXPECT_EQ(e[2], 4.0);
    EXPECT_TRUE(std::isinf(e[3]));
    Matrix<double> Y = random_y(5, 2, 1.0, 3);
    std::vector<double> g(Y.size());
    for (std::int64_t t = 0; t < 12; ++t) {
        loss(Y.view(), step_info(1, 1, t), g.data(), false);
        const auto dr = loss.draws(t);
        const auto& a = dr.active;
        EXPECT_EQ(a[0], 1) << t;
        EXPECT_EQ(a[1], (t + 1) % 2 == 0) << t;
        EXPECT_EQ(a[2], (t + 1) % 4 == 0) << t;
        EXPECT_EQ(a[3], 0) << t;
        // rate negatives per active edge of the source row.
        const auto& np = dr.neg_ptr;
        EXPECT_EQ(np[1] - np[0], 3 * (a[0] + a[1] + a[2] + a[3]));
        EXPECT_EQ(np[2] - np[1], 3 * a[4]);
    }
    // The schedule is a function of the step: step 5 again gives step 5's mask.
    loss(Y.view(), step_info(1, 1, 5), g.data(), false);
    EXPECT_EQ(loss.draws(5).active[1], 1);
    EXPECT_EQ(loss.draws(5).active[2], 0);
}

TEST(TorchdrUmapLoss, ScheduleIsTorchdrsCounterRule) {
    // The loss's fixed-point rule over 1000 steps: for r = p/A_max = m/1024 it is the exact rule (fires at t iff
    // floor((t + 1)·m/1024) > floor(t·m/1024), in integers); for other r it is TorchDR's counter rule (counter from e,
    // active when <= t + 1, then += e; here in double) but for rare near-ties, where the double counter rounds too.
    const std::size_t n = 400;
    CsrMatrix<double> P;
    P.n_rows = P.n_cols = n;
    P.indptr.push_back(0);
    Rng rng(30);
    for (std::size_t i = 0; i < n; ++i) {
        P.indices.push_back(static_cast<index_t>((i + 1) % n));
        const double u = rng.uniform();
        P.values.push_back(i == 0 ? 1.0 : i < 200 ? std::ldexp(std::floor(u * 1024.0) + 1.0, -10) : u);
        P.indptr.push_back(static_cast<offset_t>(P.indices.size()));
    }
    const int T = 1000;
    NeUmapSettings s;
    NeUmapLoss loss(P, T, s);
    const auto& e = loss.epochs_per_sample();
    std::vector<double> counter = e;
    std::size_t mismatches = 0, fires = 0;
    for (std::int64_t t = 0; t < T; ++t) {
        const auto a = loss.draws(t).active;
        for (std::size_t k = 0; k < n; ++k) {
            const bool ref = counter[k] <= static_cast<double>(t + 1);
            if (ref) counter[k] += e[k];
            fires += ref;
            if (k < 200) {
                const auto m = static_cast<std::int64_t>(std::ldexp(P.values[k], 10));
                ASSERT_EQ(a[k], (t + 1) * m / 1024 > t * m / 1024) << k << " " << t;
            } else {
                mismatches += a[k] != ref;
            }
        }
    }
    EXPECT_GT(fires, 50000u);
    EXPECT_LE(mismatches, 2u);
}

TEST(TorchdrUmapLoss, PowMatchesLibm) {
    // umap_pow against double pow: relative error ~1e-7·(1 + |b·log2 x|); 0, subnormals, overflow and inf.
    for (float b : {0.3f, 0.8950609f, 1.0f, 1.5f, 2.0f}) {
        double worst = 0;
        for (int k = -4000; k <= 4000; ++k) {
            const float x = static_cast<float>(std::pow(10.0, k / 200.0)) * 1.0001f;
            const double ref = std::pow(static_cast<double>(x), static_cast<double>(b));
            if (ref > 3e38 || ref < 1e-37) continue;
            const double y = std::abs(std::log2(ref));
            worst = std::max(worst, std::abs(detail::umap_pow(x, b) - ref) / ref / (1.0 + y));
        }
        EXPECT_LT(worst, 2e-7) << b;
        EXPECT_EQ(detail::umap_pow(0.0f, b), 0.0f);
        EXPECT_EQ(detail::umap_pow(std::numeric_limits<float>::infinity(), b), std::numeric_limits<float>::infinity());
        const float sub = 1e-40f;  // subnormal input; the result may be subnormal (or 0) too
        const double ref = std::pow(static_cast<double>(sub), static_cast<double>(b));
        EXPECT_NEAR(detail::umap_pow(sub, b), ref, std::max(2e-7 * (1 + std::abs(std::log2(ref))) * ref, 1.5e-45)) << b;
    }
    EXPECT_EQ(detail::umap_pow(1e30f, 2.0f), std::numeric_limits<float>::infinity());
    EXPECT_EQ(detail::umap_pow(1.0f, 0.8950609f), 1.0f);
}

TEST(TorchdrUmapLoss, DrawManyIsRepeatedDraw) {
    // UniformSampler::draw_many (the step's negatives) gives draw()'s values, also where Lemire's rejection is
    // frequent (n − 1 = 2^31 + 1: about half the 32-bit halves are rejected) and for odd counts.
    for (std::size_t n : {std::size_t(10), std::size_t(10000), (std::size_t(1) << 31) + 2})
        for (std::size_t count : {1, 2, 3, 8, 35}) {
            for (std::uint64_t stream = 0; stream < 20; ++stream) {
                const std::size_t head = static_cast<std::size_t>(stream * 7919) % n;
                UniformSampler a(4, stream, n), b(4, stream, n);
                std::vector<std::uint32_t> got(count);
                a.draw_many(head, got.data(), count);
                for (std::size_t t = 0; t < count; ++t) ASSERT_EQ(got[t], b.draw(head)) << n << " " << count << " " << t;
            }
        }
}

TEST(TorchdrUmapLoss, GeneralDimensionMatchesThe2DPath) {
    // d = 3 with a zero third coordinate goes through the general gather and gives the 2-D path's bits.
    const std::size_t n = 200;
    const CsrMatrix<double> P = random_sym_p(n, 5, 31);
    const Matrix<double> Y2 = random_y(n, 2, 1.0, 32);
    Matrix<double> Y3(n, 3);
    for (std::size_t i = 0; i < n; ++i) Y3(i, 0) = Y2(i, 0), Y3(i, 1) = Y2(i, 1), Y3(i, 2) = 0.0;
    NeUmapSettings s;
    s.seed = 5;
    NeUmapLoss l2(P, 30, s), l3(P, 30, s);
    std::vector<double> g2(n * 2), g3(n * 3);
    for (std::int64_t t = 0; t < 5; ++t) {
        l2(Y2.view(), step_info(1, 1, t), g2.data(), false);
        l3(Y3.view(), step_info(1, 1, t), g3.data(), false);
        for (std::size_t i = 0; i < n; ++i) {
            ASSERT_EQ(g3[i * 3], g2[i * 2]) << i;
            ASSERT_EQ(g3[i * 3 + 1], g2[i * 2 + 1]) << i;
            ASSERT_EQ(g3[i * 3 + 2], 0.0) << i;
        }
    }
}

TEST(TorchdrUmapLoss, ClampBoundsEveryEdgeTerm) {
    // All points within 1e-3: every repulsive term is clamped at ±4, so |g| <= 4 (2λ·active + ρ·negatives).
    const std::size_t n = 30;
    const CsrMatrix<double> P = random_sym_p(n, 3, 4);
    Matrix<double> Y = random_y(n, 2, 1e-3, 5);
    NeUmapSettings s;
    NeUmapLoss loss(P, 5, s);
    std::vector<double> g(Y.size());
    loss(Y.view(), step_info(1, 1, 0), g.data(), false);
    double gmax = 0;
    for (double v : g) gmax = std::max(gmax, std::abs(v));
    const auto np = loss.draws(0).neg_ptr;
    std::int64_t most = 0;
    for (std::size_t i = 0; i < n; ++i) most = std::max(most, np[i + 1] - np[i]);
    ASSERT_GT(most, 0);
    EXPECT_LE(gmax, 4.0 * static_cast<double>(most) + 2.0 * 4.0 * 10);
    EXPECT_GT(gmax, 3.9);  // some coordinate is at a clamped term
}

TEST(TorchdrUmapLoss, NegativesAreOthersAndRespectExclusions) {
    const std::size_t n = 20;
    const CsrMatrix<double> P = random_sym_p(n, 5, 6);
    Matrix<double> Y = random_y(n, 2, 1.0, 7);
    std::vector<double> g(Y.size());
    for (bool exclude : {false, true}) {
        NeUmapSettings s;
        s.exclude_neighbors = exclude;
        NeUmapLoss loss(P, 3, s);
        for (std::int64_t t = 0; t < 6; ++t) {
            loss(Y.view(), step_info(1, 1, t), g.data(), false);
            const auto dr = loss.draws(t);
            const auto& np = dr.neg_ptr;
            for (std::size_t i = 0; i < n; ++i)
                for (auto q = np[i]; q < np[i + 1]; ++q) {
                    const std::uint32_t k = dr.neg[static_cast<std::size_t>(q)];
                    ASSERT_NE(k, i);
                    ASSERT_LT(k, n);
                    if (exclude) {
                        for (auto p = P.indptr[i]; p < P.indptr[i + 1]; ++p) ASSERT_NE(P.indices[p], k);
                    }
                }
        }
    }
}

TEST(TorchdrUmapLoss, SameBitsForAnyThreadCount) {
    const std::size_t n = 2000;  // several batches of pairs per thread
    const CsrMatrix<double> P = random_sym_p(n, 6, 8);
    const Matrix<double> Y = random_y(n, 2, 1.0, 9);
    std::vector<std::vector<double>> gs;
    for (int threads : {1, 2, 3}) {
        NeUmapSettings s;
        s.seed = 3;
        s.n_threads = threads;
        NeUmapLoss loss(P, 50, s);
        std::vector<double> g(Y.size());
        for (std::int64_t t = 0; t < 4; ++t) loss(Y.view(), step_info(1, 1, t), g.data(), false);
        gs.push_back(g);
    }
    EXPECT_EQ(std::memcmp(gs[0].data(), gs[1].data(), gs[0].size() * sizeof(double)), 0);
    EXPECT_EQ(std::memcmp(gs[0].data(), gs[2].data(), gs[0].size() * sizeof(double)), 0);
}

// ---- the method ----

TEST(TorchdrUmap, DefaultsAreTorchdrs) {
    const torchdr::UMAPOptions o;
    EXPECT_EQ(o.n_neighbors, 30);
    EXPECT_EQ(o.min_dist, 0.1);
    EXPECT_EQ(o.spread, 1.0);
    EXPECT_FALSE(o.a.has_value());
    EXPECT_EQ(*o.lr, 1.0);
    EXPECT_EQ(o.optimizer, "SGD");
    ASSERT_TRUE(o.optimizer_kwargs.has_value());
    EXPECT_EQ(o.optimizer_kwargs->momentum, 0.0);
    EXPECT_EQ(o.scheduler, "LinearLR");
    EXPECT_FALSE(o.scheduler_kwargs.has_value());
    EXPECT_EQ(o.max_iter, 1000);
    EXPECT_EQ(o.init, NeInit::pca);
    EXPECT_EQ(o.init_scaling, 1e-4);
    EXPECT_EQ(o.negative_sample_rate, 5);
    EXPECT_EQ(o.check_interval, 50);
    EXPECT_EQ(o.max_iter_affinity, 100);
    EXPECT_EQ(o.metric, CostMetric::sqeuclidean);
    EXPECT_FALSE(o.exclude_neighbors_from_negative_sampling);
    const UmapCurve c = torchdr::torchdr_umap_curve(o);
    EXPECT_NEAR(c.a, 1.577, 2e-3);
    EXPECT_NEAR(c.b, 0.895, 2e-3);
}

TEST(TorchdrUmap, SeparatesClustersAndSameBitsForAnyThreadCount) {
    const std::size_t n = 300;
    const Matrix<float> X = blobs(n, 10, 10);
    torchdr::UMAPOptions o;
    o.n_neighbors = 15;
    o.max_iter = 200;
    o.random_state = 4;
    std::vector<Matrix<double>> Ys;
    for (int threads : {1, 2}) {
        o.n_threads = threads;
        Ys.push_back(torchdr::UMAP(o).fit_transform(X.view()).embedding);
    }
    ASSERT_EQ(Ys[0].size(), n * 2);
    EXPECT_EQ(std::memcmp(Ys[0].data(), Ys[1].data(), Ys[0].size() * sizeof(double)), 0);
    EXPECT_GT(knn_label_accuracy(Ys[0].view(), blob_labels(n), 10), 0.95);
}

TEST(TorchdrUmap, BadParametersAreRefused) {
    const Matrix<float> X = blobs(40, 3, 11);
    auto fails = [&](auto edit) {
        torchdr::UMAPOptions o;
        o.n_neighbors = 10;
        o.max_iter = 5;
        edit(o);
        EXPECT_THROW(torchdr::UMAP(o).fit_transform(X.view()), InvalidArgument);
    };
    fails([](auto& o) { o.n_neighbors = 40; });
    fails([](auto& o) { o.n_neighbors = 1; });
    fails([](auto& o) { o.negative_sample_rate = -1; });
    fails([](auto& o) { o.min_dist = 2.0; });
    fails([](auto& o) { o.a = -1.0; o.b = 1.0; });
    // One of a, b alone would be ignored (TorchDR fits both when either is None): refused, bad values too.
    fails([](auto& o) { o.a = -1.0; });
    fails([](auto& o) { o.a = 1.5; });
    fails([](auto& o) { o.b = 0.0; });
    fails([](auto& o) { o.max_iter = 0; });
    fails([](auto& o) { o.max_iter_affinity = 0; });
}

// ---- the transform ----

TEST(NeTransform, UmapBipartiteAffinityIsCalibrated) {
    const Matrix<float> Xt = blobs(200, 5, 12), Xn = blobs(30, 5, 13);
    const std::size_t k = torchdr::transform_n_neighbors(200, 15);
    EXPECT_EQ(k, 15u);
    EXPECT_EQ(torchdr::transform_n_neighbors(10, 15), 9u);
    EXPECT_THROW(torchdr::transform_n_neighbors(2, 15), InvalidArgument);
    const auto nb = torchdr::transform_neighbors(Xn.view(), Xt.view(), k, CostMetric::sqeuclidean,
                                                 KnnMethod::exact, 1);
    const auto A = torchdr::umap_bipartite_affinity(nb, 15, 100, 1);
    for (std::size_t i = 0; i < 30; ++i) {
        // Σ_{t >= 1} exp(−C_t/σ) = log2(15) with the nearest left out; the nearest is the largest entry.
        double s = 0, nearest = 0, mx = 0;
        for (auto p = A.indptr[i]; p < A.indptr[i + 1]; ++p) {
            s += A.values[p];
            mx = std::max(mx, A.values[p]);
            if (A.indices[p] == nb.indices[i * k]) nearest = A.values[p];
        }
        EXPECT_NEAR(s - nearest, std::log2(15.0), 1e-5);
        EXPECT_EQ(nearest, mx);
        // Brute force: the neighbours are the k nearest training points.
        std::vector<double> d(200);
        for (std::size_t j = 0; j < 200; ++j) d[j] = squared_distance(Xn.row(i), Xt.row(j), 5);
        std::vector<double> sorted = d;
        std::sort(sorted.begin(), sorted.end());
        for (std::size_t t = 0; t < k; ++t) EXPECT_NEAR(nb.costs[i * k + t], sorted[t], 1e-9);
    }
}

TEST(NeTransform, EntropicBipartiteAffinityHasThePerplexity) {
    const Matrix<float> Xt = blobs(200, 5, 14), Xn = blobs(20, 5, 15);
    const std::size_t k = torchdr::transform_n_neighbors(200, 30);
    const auto nb = torchdr::transform_neighbors(Xn.view(), Xt.view(), k, CostMetric::sqeuclidean,
                                                 KnnMethod::exact, 1);
    const auto A = torchdr::entropic_bipartite_affinity(nb, 10.0, 100, 1);
    for (std::size_t i = 0; i < 20; ++i) {
        double s = 0, h = 0;
        for (auto p = A.indptr[i]; p < A.indptr[i + 1]; ++p) s += A.values[p];
        EXPECT_NEAR(s, 1.0 / 20, 1e-12);
        for (auto p = A.indptr[i]; p < A.indptr[i + 1]; ++p) {
            const double q = A.values[p] * 20;
            if (q > 0) h -= q * std::log(q);
        }
        EXPECT_NEAR(h, std::log(10.0), 1e-5);
    }
    // perplexity = k: uniform; > k: refused.
    const auto U = torchdr::entropic_bipartite_affinity(nb, static_cast<double>(k), 100, 1);
    for (double v : U.values) EXPECT_DOUBLE_EQ(v, 1.0 / (20.0 * static_cast<double>(k)));
    EXPECT_THROW(torchdr::entropic_bipartite_affinity(nb, static_cast<double>(k) + 1, 100, 1), InvalidArgument);
}

TEST(NeTransform, UmapTransformStepIsTorchdrsClosedForm) {
    // The transform's step: only new points move, the pull is not doubled, negatives are any reference point.
    const std::size_t nr = 50, nn = 12;
    const Matrix<float> Xt = blobs(nr, 4, 16), Xn = blobs(nn, 4, 17);
    const auto nb = torchdr::transform_neighbors(Xn.view(), Xt.view(), 8, CostMetric::sqeuclidean,
                                                 KnnMethod::exact, 1);
    const auto A = torchdr::umap_bipartite_affinity(nb, 8, 100, 1);
    const Matrix<double> R = random_y(nr, 2, 1.0, 18);
    Matrix<double> Y = random_y(nn, 2, 1.0, 19);
    NeUmapSettings s;
    s.seed = 2;
    s.exclude_neighbors = true;
    NeUmapLoss loss(A, R, 33, s);
    std::vector<double> g(Y.size()), scale;
    int clamped = 0;
    for (std::int64_t t = 0; t < 8; ++t) {
        loss(Y.view(), step_info(1, 1.2, t), g.data(), false);
        const auto dr = loss.draws(t);
        const auto ref = torchdr_umap_grad(A, Y, R, s.curve.a, s.curve.b, dr.active, dr.neg_ptr, dr.neg, 1, 1.2,
                                           false, &clamped, &scale);
        // float32 per-pair values (see GradientIsTorchdrsClosedForm).
        for (std::size_t k = 0; k < g.size(); ++k) ASSERT_NEAR(g[k], ref[k], 1e-5 * (1e-6 + scale[k]));
        const auto& np = dr.neg_ptr;
        for (std::size_t i = 0; i < nn; ++i)
            for (auto q = np[i]; q < np[i + 1]; ++q)
                for (auto p = A.indptr[i]; p < A.indptr[i + 1]; ++p)
                    ASSERT_NE(A.indices[p], dr.neg[static_cast<std::size_t>(q)]);
    }
    // Transform keeps p >= A_max/T (fit drops p <= A_max/max_iter).
    double amax = 0;
    for (double v : A.values) amax = std::max(amax, v);
    for (std::size_t e = 0; e < A.values.size(); ++e)
        EXPECT_EQ(std::isinf(loss.epochs_per_sample()[e]), !(A.values[e] >= amax / 33)) << e;
}

TEST(NeTransform, BipartiteSampledLossGradientIsTheTrueGradient) {
    const std::size_t nr = 40, nn = 10;
    const Matrix<float> Xt = blobs(nr, 4, 20), Xn = blobs(nn, 4, 21);
    const auto nb = torchdr::transform_neighbors(Xn.view(), Xt.view(), 12, CostMetric::sqeuclidean,
                                                 KnnMethod::exact, 1);
    const auto A = torchdr::entropic_bipartite_affinity(nb, 4.0, 100, 1);
    const Matrix<double> R = random_y(nr, 2, 1.0, 22);
    for (auto kind : {NeSampledRepulsion::binary, NeSampledRepulsion::log_sum}) {
        const OutputKernel K = kind == NeSampledRepulsion::binary ? OutputKernel(CauchyKernel{2.0})
                                                                  : OutputKernel(StudentTKernel(1.0));
        NeBipartiteSampledLoss loss(A, R, kind, K, 7, false, 3, 1);
        Matrix<double> Y = random_y(nn, 2, 1.0, 23);
        std::vector<double> g(Y.size()), tmp(Y.size());
        const auto s = step_info(1.3, 0.8, 4);
        loss(Y.view(), s, g.data(), true);
        const double err = test::relative_gradient_error(
            Y, g, 1.0, [&] { return loss(Y.view(), s, tmp.data(), true); });
        EXPECT_LT(err, 1e-6);
    }
}

TEST(NeTransform, TrainingPointsLandNearTheirPositions) {
    const std::size_t n = 300;
    const Matrix<float> X = blobs(n, 10, 24);
    const auto labels = blob_labels(n);
    // A subset of the training points, transformed again.
    Matrix<float> Xs(60, 10);
    for (std::size_t i = 0; i < 60; ++i)
        for (std::size_t c = 0; c < 10; ++c) Xs(i, c) = X(i * 5, c);
    // Each re-embedded point within tol_frac × the embedding's RMS radius of its training position (or, when
    // outlier_frac > tol_frac: 54 of the 60 within tol_frac and every one within outlier_frac), its nearest
    // training point in its own blob, and its own training point among its ~5 nearest in the median.
    auto check = [&](const Matrix<double>& Y, const Matrix<double>& Z, double tol_frac, const char* who,
                     double outlier_frac = 0.0) {
        // Distance of each re-embedded point to its training position, relative to the embedding's spread.
        double spread = 0;
        for (std::size_t k = 0; k < Y.size(); ++k) spread += Y.data()[k] * Y.data()[k];
        spread = std::sqrt(spread / static_cast<double>(n));
        double worst = 0;
        std::vector<double> dist;
        int same_blob = 0;
        for (std::size_t i = 0; i < 60; ++i) {
            dist.push_back(std::sqrt(squared_distance(Z.row(i), Y.row(i * 5), 2)) / spread);
            worst = std::max(worst, dist.back());
            std::size_t best = 0;
            for (std::size_t j = 1; j < n; ++j)
                if (squared_distance(Z.row(i), Y.row(j), 2) < squared_distance(Z.row(i), Y.row(best), 2)) best = j;
            same_blob += labels[best] == labels[i * 5];
        }
        std::sort(dist.begin(), dist.end());
        EXPECT_LT(dist[53], tol_frac) << who;
        EXPECT_LT(worst, std::max(tol_frac, outlier_frac)) << who;
        {
            std::vector<std::size_t> ranks;
            for (std::size_t i = 0; i < 60; ++i) {
                const double own = squared_distance(Z.row(i), Y.row(i * 5), 2);
                std::size_t r = 0;
                for (std::size_t j = 0; j < n; ++j) r += squared_distance(Z.row(i), Y.row(j), 2) < own;
                ranks.push_back(r);
            }
            std::sort(ranks.begin(), ranks.end());
            // Typically its own training point is (nearly) its nearest: median rank <= 5 of 300.
            EXPECT_LE(ranks[30], 5u) << who;
        }
        EXPECT_EQ(same_blob, 60) << who;
    };
    {
        torchdr::UMAPOptions o;
        o.n_neighbors = 15;
        o.max_iter = 200;
        const Matrix<double> Y = torchdr::UMAP(o).fit_transform(X.view()).embedding;
        const Matrix<double> Ycopy = Y;
        std::vector<Matrix<double>> Zs;
        for (int threads : {1, 2}) {
            o.n_threads = threads;
            Zs.push_back(torchdr::UMAP(o).transform(Xs.view(), X.view(), Y.view()));
        }
        EXPECT_EQ(std::memcmp(Y.data(), Ycopy.data(), Y.size() * sizeof(double)), 0);  // training unchanged
        EXPECT_EQ(std::memcmp(Zs[0].data(), Zs[1].data(), Zs[0].size() * sizeof(double)), 0);
        check(Y, Zs[0], 0.2, "UMAP");
    }
    {
        torchdr::LargeVisOptions o;
        o.perplexity = 10;
        o.max_iter = 200;
        const Matrix<double> Y = torchdr::LargeVis(o).fit_transform(X.view()).embedding;
        std::vector<Matrix<double>> Zs;
        for (int threads : {1, 2}) {
            o.n_threads = threads;
            Zs.push_back(torchdr::transform(o, Xs.view(), X.view(), Y.view()));
        }
        EXPECT_EQ(std::memcmp(Zs[0].data(), Zs[1].data(), Zs[0].size() * sizeof(double)), 0);
        check(Y, Zs[0], 0.1, "LargeVis");
    }
    {
        torchdr::InfoTSNEOptions o;
        o.perplexity = 10;
        o.max_iter = 200;
        o.n_negatives = 30;
        const Matrix<double> Y = torchdr::InfoTSNE(o).fit_transform(X.view()).embedding;
        std::vector<Matrix<double>> Zs;
        for (int threads : {1, 2}) {
            o.n_threads = threads;
            Zs.push_back(torchdr::transform(o, Xs.view(), X.view(), Y.view()));
        }
        EXPECT_EQ(std::memcmp(Zs[0].data(), Zs[1].data(), Zs[0].size() * sizeof(double)), 0);
        // InfoTSNE's 300-point fit leaves a point or two far off for some seeds (the worst of the 60 ranged 0.14 to
        // 0.57 of the radius over random_state 0..7, before and after the float32 pairs alike; the 90th percentile
        // 0.08 to 0.10): the bulk is held to 0.15, the outliers to 0.7.
        check(Y, Zs[0], 0.15, "InfoTSNE", 0.7);
    }
}

TEST(NeTransform, BadInputIsRefused) {
    const Matrix<float> X = blobs(50, 4, 25), X3 = blobs(10, 3, 26), Xn = blobs(10, 4, 27);
    const Matrix<double> Y = random_y(50, 2, 1.0, 28), Y49 = random_y(49, 2, 1.0, 29), Y3 = random_y(50, 3, 1.0, 30);
    torchdr::UMAPOptions u;
    u.n_neighbors = 10;
    u.max_iter = 30;
    torchdr::LargeVisOptions lv;
    lv.perplexity = 5;
    torchdr::InfoTSNEOptions it;
    it.perplexity = 5;
    auto all_fail = [&](MatrixView<float> xn, MatrixView<float> xt, MatrixView<double> yt) {
        EXPECT_THROW(torchdr::transform(u, xn, xt, yt), InvalidArgument);
        EXPECT_THROW(torchdr::transform(lv, xn, xt, yt), InvalidArgument);
        EXPECT_THROW(torchdr::transform(it, xn, xt, yt), InvalidArgument);
    };
    all_fail(X3.view(), X.view(), Y.view());    // feature mismatch
    all_fail(Xn.view(), X.view(), Y49.view());  // X_train rows != Y_train rows
    all_fail(Xn.view(), X.view(), Y3.view());   // Y_train width != n_components
    const Matrix<float> X2 = blobs(2, 4, 31);
    const Matrix<double> Y2 = random_y(2, 2, 1.0, 32);
    all_fail(Xn.view(), X2.view(), Y2.view());  // fewer than 3 training points
    try {
        torchdr::transform(u, X3.view(), X.view(), Y.view());
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("features"), std::string::npos);
    }
    // Good input passes, and a single new point is fine.
    const Matrix<float> X1 = blobs(1, 4, 33);
    EXPECT_EQ(torchdr::transform(u, X1.view(), X.view(), Y.view()).rows(), 1u);
}

} // namespace
} // namespace nembed
