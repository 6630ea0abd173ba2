// TorchDR's NeighborEmbedding driver and its losses (methods/neighbor_embedding.hpp, loss/ne_loss.hpp,
// train/ne_plan.hpp): true gradients vs central differences, loss values vs TorchDR's formulas recomputed densely,
// the driver's rules (lr auto and its re-derivation, momentum 0.5 -> 0.8 with a fresh optimizer, LinearLR auto,
// min_grad_norm stop) against a loop written out here, BH/FFT vs exact, thread-count independence, bad parameters.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "../common/numeric.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/random.hpp"
#include "nembed/loss/ne_loss.hpp"
#include "nembed/methods/cosne.hpp"
#include "nembed/methods/neighbor_embedding.hpp"
#include "nembed/methods/pacmap.hpp"
#include "nembed/methods/tsnekhorn.hpp"
#include "nembed/methods/torchdr_umap.hpp"
#include "nembed/optim/sgd.hpp"
#include "nembed/repulsion/repulsion.hpp"

namespace nembed {
namespace {

using test::random_y;
using test::relative_gradient_error;

// A TorchDR-like P: each row k random neighbours with random weights normalised to 1, divided by n (not symmetric).
CsrMatrix<double> random_p(std::size_t n, std::size_t k, std::uint64_t seed) {
    Rng rng(seed);
    CsrMatrix<double> P;
    P.n_rows = P.n_cols = n;
    P.indptr.push_back(0);
    for (std::size_t i = 0; i < n; ++i) {
        std::vector<index_t> cols;
        while (cols.size() < k) {
            const auto j = static_cast<index_t>(rng.next_u32() % n);
            if (static_cast<std::size_t>(j) != i && std::find(cols.begin(), cols.end(), j) == cols.end())
                cols.push_back(j);
        }
        std::sort(cols.begin(), cols.end());
        std::vector<double> v(k);
        double s = 0;
        for (auto& x : v) s += (x = 0.1 + rng.uniform());
        for (std::size_t t = 0; t < k; ++t) {
            P.indices.push_back(cols[t]);
            P.values.push_back(v[t] / s / static_cast<double>(n));
        }
        P.indptr.push_back(static_cast<offset_t>(P.indices.size()));
    }
    return P;
}

std::vector<double> dense(const CsrMatrix<double>& P) {
    std::vector<double> D(P.n_rows * P.n_cols, 0.0);
    for (std::size_t i = 0; i < P.n_rows; ++i)
        for (auto p = P.indptr[i]; p < P.indptr[i + 1]; ++p) D[i * P.n_cols + P.indices[p]] = P.values[p];
    return D;
}

double sqd(const Matrix<double>& Y, std::size_t i, std::size_t j) {
    return squared_distance(Y.row(i), Y.row(j), Y.cols());
}

// Gaussian blobs, float32 (the methods' input).
Matrix<float> blobs(std::size_t n, std::size_t dim, std::uint64_t seed) {
    Rng rng(seed);
    Matrix<float> X(n, dim);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t c = 0; c < dim; ++c)
            X(i, c) = static_cast<float>(rng.normal() + 6.0 * static_cast<double>((i % 3) == c % 3));
    return X;
}

NeStepInfo step_info(double ex, double rho, std::int64_t step = 0) {
    NeStepInfo s;
    s.exaggeration = ex;
    s.repulsion_strength = rho;
    s.step = step;
    return s;
}

template <typename L>
double loss_at(L& loss, Matrix<double>& Y, const NeStepInfo& s) {
    std::vector<double> g(Y.size());
    return loss(Y.view(), s, g.data(), true);
}

// ---- gradients: the TRUE gradient of TorchDR's loss (factor 1), central differences, relative error < 1e-6 ----

TEST(NeLoss, TsneGradientIsTheTrueGradient) {
    const std::size_t n = 25;
    const CsrMatrix<double> P = random_p(n, 6, 1);
    auto rep = make_exact_repulsion(1);
    NeTsneLoss loss(P, *rep, StudentTKernel(1.0), 1);
    Matrix<double> Y = random_y(n, 2, 1.0, 2);
    const NeStepInfo s = step_info(3.0, 0.7);
    std::vector<double> g(Y.size());
    loss(Y.view(), s, g.data(), false);
    EXPECT_LT(relative_gradient_error(Y, g, 1.0, [&] { return loss_at(loss, Y, s); }), 1e-6);
}

// TorchDR's SNE loss in double, written out densely: λ Σ P D + ρ (1/n) Σ_i log Σ_j exp(−D_ij).
double sne_loss_dense(const std::vector<double>& Pd, const Matrix<double>& Y, const NeStepInfo& s) {
    const std::size_t n = Y.rows();
    double att = 0, rep = 0;
    for (std::size_t i = 0; i < n; ++i) {
        double zi = 0;
        for (std::size_t j = 0; j < n; ++j) {
            att += Pd[i * n + j] * sqd(Y, i, j);
            zi += std::exp(-sqd(Y, i, j));
        }
        rep += std::log(zi) / static_cast<double>(n);
    }
    return s.exaggeration * att + s.repulsion_strength * rep;
}

// NeSneLoss computes its kernel values in float32 (TorchDR's float32; src/loss/sne_dense.cpp), so its loss moves in
// steps of ~1e-7 relative and central differences of it mean nothing: the numerical side is the double formula
// above (the gradient's float32 error, ~1e-8 relative here, is far inside the bound). d = 2 takes the 2-D kernel,
// d = 3 the general one; several tiles: the next test.
TEST(NeLoss, SneGradientIsTheTrueGradient) {
    const std::size_t n = 20;
    for (std::size_t d : {2, 3}) {
            const CsrMatrix<double> P = random_p(n, 5, 3);
            const std::vector<double> Pd = dense(P);
            NeSneLoss loss(P, 1);
            Matrix<double> Y = random_y(n, d, 0.8, 4);
            const NeStepInfo s = step_info(2.0, 1.3);
            std::vector<double> g(Y.size());
            loss(Y.view(), s, g.data(), false);
            EXPECT_LT(relative_gradient_error(Y, g, 1.0, [&] { return sne_loss_dense(Pd, Y, s); }), 1e-6) << "d " << d;
        }
}

// The tiled float32 kernel against the double formula, entry by entry, at λ = 0 (the repulsion alone:
// −(2ρ/n) Σ_j exp(−D_ij)(1/z_i + 1/z_j)(y_i − y_j)), with one point 1000 away from the rest (its exp(−D) underflow:
// z = 1 exactly and an exactly zero repulsion) and n = 700 (three blocks of 256, a ragged last one). Then the same
// bits for 1, 2 and 3 threads.
TEST(NeLoss, SneTiledFloatKernelMatchesDoubleFormulaAndThreads) {
    const std::size_t n = 700, far = n / 2;
    const CsrMatrix<double> P = random_p(n, 6, 21);
    const std::vector<double> Pd = dense(P);
    const NeStepInfo s = step_info(0.0, 0.8);
    for (std::size_t d : {2, 3}) {
        Matrix<double> Y = random_y(n, d, 1.5, 22);
        for (std::size_t k = 0; k < d; ++k) Y(far, k) = 1000.0 + static_cast<double>(k);
        std::vector<double> ref(Y.size(), 0.0), z(n, 0.0);
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = 0; j < n; ++j) z[i] += std::exp(-sqd(Y, i, j));
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = 0; j < n; ++j) {
                const double f = -2 * s.repulsion_strength / static_cast<double>(n) * std::exp(-sqd(Y, i, j)) *
                                 (1 / z[i] + 1 / z[j]);
                for (std::size_t k = 0; k < d; ++k) ref[i * d + k] += f * (Y(i, k) - Y(j, k));
            }
        double scale = 0;
        for (double v : ref) scale = std::max(scale, std::abs(v));
        EXPECT_EQ(z[far], 1.0);
        std::vector<std::vector<double>> g(3, std::vector<double>(Y.size()));
        std::vector<double> value(3);
        for (int t = 1; t <= 3; ++t) {
            NeSneLoss loss(P, t);
            value[t - 1] = loss(Y.view(), s, g[t - 1].data(), true);
        }
        for (std::size_t q = 0; q < Y.size(); ++q)  // float32: ~2e-7 of the largest entry measured
            ASSERT_NEAR(g[0][q], ref[q], 1e-5 * scale) << "d " << d << ", entry " << q;
        for (std::size_t k = 0; k < d; ++k) EXPECT_EQ(g[0][far * d + k], 0.0);
        EXPECT_NEAR(value[0], sne_loss_dense(Pd, Y, s), 1e-6 * std::abs(value[0]));
        for (int t = 1; t < 3; ++t) {
            EXPECT_EQ(0, std::memcmp(g[0].data(), g[t].data(), g[0].size() * sizeof(double))) << t + 1 << " threads";
            EXPECT_EQ(value[0], value[t]) << t + 1 << " threads";
        }
    }
}

TEST(NeLoss, SampledGradientsAreTheTrueGradientsForTheStepsNegatives) {
    const std::size_t n = 30;
    const CsrMatrix<double> P = random_p(n, 5, 5);
    for (auto kind : {NeSampledRepulsion::log_sum, NeSampledRepulsion::binary}) {
        const OutputKernel kernel = kind == NeSampledRepulsion::log_sum ? OutputKernel(StudentTKernel(1.0))
                                                                        : OutputKernel(CauchyKernel{2.0});
        NeNegatives neg;
        neg.n_negatives = 7;
        neg.seed = 11;
        NeSampledLoss loss(P, kind, kernel, neg, 1);
        Matrix<double> Y = random_y(n, 2, 1.0, 6);
        const NeStepInfo s = step_info(1.5, 0.9, 4);  // the same step: the same negatives in every evaluation
        std::vector<double> g(Y.size());
        loss(Y.view(), s, g.data(), false);
        EXPECT_LT(relative_gradient_error(Y, g, 1.0, [&] { return loss_at(loss, Y, s); }), 1e-6);
    }
}

// The sampled repulsion's gradient against its formula in double over the step's negatives (n = 1500: six scatter
// blocks), for the d = 2 fast paths, the any-d paths (d = 3) and the generic rule (the two other kernel/kind pairs);
// and the same bits for 1, 2 and 3 threads. The pairs are float32 (differences, kernel values, coefficients): the
// tolerance is float32's, a few ulps (6e-8) of each pair's term, summed.
TEST(NeLoss, SampledRepulsionMatchesItsFormulaAndIgnoresTheThreadCount) {
    const std::size_t n = 1500, m = 30;
    const CsrMatrix<double> P = random_p(n, 4, 21);
    const NeStepInfo s = step_info(0.0, 1.7, 9);  // λ = 0: the attraction adds zeros, the repulsion is left
    struct Case {
        NeSampledRepulsion kind;
        OutputKernel kernel;
    };
    const Case cases[] = {{NeSampledRepulsion::log_sum, StudentTKernel(1.0)},
                          {NeSampledRepulsion::binary, CauchyKernel{2.0}},
                          {NeSampledRepulsion::log_sum, CauchyKernel{2.0}},
                          {NeSampledRepulsion::binary, StudentTKernel(1.0)}};
    for (std::size_t d : {std::size_t(2), std::size_t(3)})
        for (const Case& c : cases) {
            Matrix<double> Y = random_y(n, d, 3.0, 22);
            NeNegatives neg;
            neg.n_negatives = m;
            neg.seed = 23;
            NeSampledLoss loss(P, c.kind, c.kernel, neg, 1);
            std::vector<double> g(Y.size());
            loss(Y.view(), s, g.data(), false);
            // The formula (file comment of ne_loss.hpp), in double.
            const std::vector<std::uint32_t> negs = loss.negatives(s.step);
            std::vector<double> ref(Y.size(), 0.0);
            double scale_ref = 0.0;
            visit_kernel(c.kernel, [&](const auto& K) {
                for (std::size_t i = 0; i < n; ++i) {
                    double si = 0.0;
                    for (std::size_t t = 0; t < m; ++t) si += K.w(sqd(Y, i, negs[i * m + t]));
                    for (std::size_t t = 0; t < m; ++t) {
                        const std::size_t k = negs[i * m + t];
                        const double D = sqd(Y, i, k), f = K.force_weight(D);
                        const double coef = -(2.0 * 1.7 / static_cast<double>(n)) *
                                            (c.kind == NeSampledRepulsion::log_sum ? f / si : f / (1.0 - K.w(D)));
                        for (std::size_t q = 0; q < d; ++q) {
                            ref[i * d + q] += coef * (Y(i, q) - Y(k, q));
                            ref[k * d + q] -= coef * (Y(i, q) - Y(k, q));
                        }
                    }
                }
            });
            for (double v : ref) scale_ref = std::max(scale_ref, std::abs(v));
            for (std::size_t x = 0; x < g.size(); ++x)
                ASSERT_NEAR(g[x], ref[x], 2e-5 * scale_ref) << "d = " << d << ", entry " << x;
            for (int threads : {2, 3}) {
                NeSampledLoss other(P, c.kind, c.kernel, neg, threads);
                std::vector<double> g2(Y.size());
                other(Y.view(), s, g2.data(), false);
                ASSERT_EQ(std::memcmp(g.data(), g2.data(), g.size() * sizeof(double)), 0)
                    << "d = " << d << ", " << threads << " threads";
            }
            // Fewer scatter blocks (the distributed tests' knob): the same pairs, only the negatives' sums grouped
            // otherwise, so the gradient moves by double rounding alone (measured ≤ 1e-16 of the largest entry);
            // and again the same bits for any thread count.
            for (std::size_t blocks : {std::size_t(1), std::size_t(3)}) {
                NeNegatives nb = neg;
                nb.scatter_blocks = blocks;
                std::vector<double> g1(Y.size()), g3(Y.size());
                NeSampledLoss(P, c.kind, c.kernel, nb, 1)(Y.view(), s, g1.data(), false);
                NeSampledLoss(P, c.kind, c.kernel, nb, 3)(Y.view(), s, g3.data(), false);
                ASSERT_EQ(std::memcmp(g1.data(), g3.data(), g1.size() * sizeof(double)), 0) << blocks << " blocks";
                for (std::size_t x = 0; x < g.size(); ++x)
                    ASSERT_NEAR(g1[x], g[x], 1e-12 * scale_ref) << blocks << " blocks, entry " << x;
            }
        }
    NeNegatives none;
    none.scatter_blocks = 0;
    EXPECT_THROW(NeSampledLoss(P, NeSampledRepulsion::binary, CauchyKernel{2.0}, none, 1), InvalidArgument);
    // A huge count is refused up front (it used to run out of memory drawing n · n_negatives pairs per step).
    NeNegatives huge;
    huge.n_negatives = std::size_t(1000000000);
    EXPECT_THROW(NeSampledLoss(P, NeSampledRepulsion::binary, CauchyKernel{2.0}, huge, 1), InvalidArgument);
}

// ---- loss values: TorchDR's formulas written out densely ----

TEST(NeLoss, ValuesAreTorchdrsFormulas) {
    const std::size_t n = 18;
    const CsrMatrix<double> P = random_p(n, 4, 7);
    const std::vector<double> Pd = dense(P);
    Matrix<double> Y = random_y(n, 2, 1.2, 8);
    const double ex = 2.5, rho = 0.6;
    const NeStepInfo s = step_info(ex, rho, 3);
    {  // TSNE: −λ Σ P log(1/(1 + D)) + ρ log Σ_ij 1/(1 + D), the diagonal included
        auto rep = make_exact_repulsion(1);
        NeTsneLoss loss(P, *rep, StudentTKernel(1.0), 1);
        double att = 0, z = 0;
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = 0; j < n; ++j) {
                const double q = 1.0 / (1.0 + sqd(Y, i, j));
                att -= Pd[i * n + j] * std::log(q);
                z += q;
            }
        EXPECT_NEAR(loss_at(loss, Y, s), ex * att + rho * std::log(z), 1e-12);
    }
    {  // SNE: λ Σ P D + ρ (1/n) Σ_i log Σ_j exp(−D_ij); z from float32 kernel values (relative error ~1e-7)
        NeSneLoss loss(P, 1);
        EXPECT_NEAR(loss_at(loss, Y, s), sne_loss_dense(Pd, Y, s), 1e-6);
    }
    NeNegatives neg;
    neg.n_negatives = 5;
    neg.seed = 3;
    {  // InfoTSNE: −λ Σ P log q + ρ (1/n) Σ_i log Σ_{k ∈ neg(i)} q_ik
        NeSampledLoss loss(P, NeSampledRepulsion::log_sum, StudentTKernel(1.0), neg, 1);
        const double v = loss_at(loss, Y, s);
        const auto negs = loss.negatives(s.step);
        double att = 0, rep = 0;
        for (std::size_t i = 0; i < n; ++i) {
            for (std::size_t j = 0; j < n; ++j) att -= Pd[i * n + j] * std::log(1.0 / (1.0 + sqd(Y, i, j)));
            double si = 0;
            for (std::size_t t = 0; t < 5; ++t) si += 1.0 / (1.0 + sqd(Y, i, negs[i * 5 + t]));
            rep += std::log(si) / static_cast<double>(n);
        }
        EXPECT_NEAR(v, ex * att + rho * rep, 1e-12);
    }
    {  // LargeVis: Q = q/(q + 1); −λ Σ P log Q − ρ (1/n) Σ_i Σ_{k ∈ neg(i)} log(1 − Q_ik)
        NeSampledLoss loss(P, NeSampledRepulsion::binary, CauchyKernel{2.0}, neg, 1);
        const double v = loss_at(loss, Y, s);
        const auto negs = loss.negatives(s.step);
        auto Q = [&](std::size_t i, std::size_t j) {
            const double q = 1.0 / (1.0 + sqd(Y, i, j));
            return q / (q + 1.0);
        };
        double att = 0, rep = 0;
        for (std::size_t i = 0; i < n; ++i) {
            for (std::size_t j = 0; j < n; ++j)
                if (Pd[i * n + j] > 0) att -= Pd[i * n + j] * std::log(Q(i, j));
            for (std::size_t t = 0; t < 5; ++t) rep -= std::log(1.0 - Q(i, negs[i * 5 + t])) / static_cast<double>(n);
        }
        EXPECT_NEAR(v, ex * att + rho * rep, 1e-12);
    }
}

TEST(NeLoss, NegativesAreUniformOthersAndRespectExclusions) {
    const std::size_t n = 40;
    const CsrMatrix<double> P = random_p(n, 6, 9);
    NeNegatives neg;
    neg.n_negatives = 50;
    neg.seed = 1;
    neg.excluded_ptr.assign(P.indptr.begin(), P.indptr.end());
    for (index_t j : P.indices) neg.excluded.push_back(static_cast<std::uint32_t>(j));
    NeSampledLoss loss(P, NeSampledRepulsion::log_sum, StudentTKernel(1.0), neg, 1);
    const std::vector<std::uint32_t> a = loss.negatives(0);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t t = 0; t < 50; ++t) {
            const std::uint32_t k = a[i * 50 + t];
            ASSERT_NE(k, i);
            ASSERT_EQ(P.at(i, static_cast<index_t>(k)), 0.0) << "a neighbour was drawn";
        }
    EXPECT_NE(a, loss.negatives(1)) << "each iteration draws new negatives";
    // A point neighbouring every other one leaves nothing to draw.
    CsrMatrix<double> full = random_p(4, 3, 1);
    NeNegatives all;
    all.excluded_ptr.assign(full.indptr.begin(), full.indptr.end());
    for (index_t j : full.indices) all.excluded.push_back(static_cast<std::uint32_t>(j));
    EXPECT_THROW(NeSampledLoss(full, NeSampledRepulsion::log_sum, StudentTKernel(1.0), all, 1), InvalidArgument);
}

// ---- BH and FFT against the exact TSNE gradient ----

TEST(NeLoss, BarnesHutAndFftCloseToExact) {
    const std::size_t n = 600;
    const CsrMatrix<double> P = random_p(n, 10, 13);
    Matrix<double> Y(n, 2);
    Rng rng(14);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t c = 0; c < 2; ++c) Y(i, c) = rng.normal() * 2.0 + 10.0 * static_cast<double>(i % 4 == c);
    auto exact = make_exact_repulsion(2);
    auto bh = make_barnes_hut_repulsion(0.5, 2);
    auto fft = make_fft_repulsion();
    const NeStepInfo s = step_info(1.0, 1.0);
    auto grad = [&](Repulsion& r, double& value) {
        NeTsneLoss loss(P, r, StudentTKernel(1.0), 2);
        std::vector<double> g(Y.size());
        value = loss(Y.view(), s, g.data(), true);
        return g;
    };
    double v0, v1, v2;
    const auto g0 = grad(*exact, v0), g1 = grad(*bh, v1), g2 = grad(*fft, v2);
    auto rel = [&](const std::vector<double>& g) {
        double e = 0, nn = 0;
        for (std::size_t k = 0; k < g.size(); ++k) {
            e += (g[k] - g0[k]) * (g[k] - g0[k]);
            nn += g0[k] * g0[k];
        }
        return std::sqrt(e / nn);
    };
    EXPECT_LT(rel(g1), 2e-2);  // θ = 0.5: monopole error of a few per mille to a per cent
    EXPECT_LT(rel(g2), 3e-2);  // openTSNE's grid: 1-3 % force error
    EXPECT_NEAR(v1, v0, 1e-2 * std::abs(v0));
    EXPECT_NEAR(v2, v0, 1e-2 * std::abs(v0));
}

// ---- the driver's rules ----

TEST(NeDriver, PhasesFollowTorchdr) {
    torchdr::TSNEOptions o;  // lr auto, EE 12 for 250, SGD momentum auto
    const std::size_t n = 1000;
    const auto ph = ne_phases(o, n);
    ASSERT_EQ(ph.size(), 2u);
    EXPECT_EQ(ph[0].n_steps, 251);  // steps 0..250: TorchDR ends it after the step whose index is 250
    EXPECT_EQ(ph[1].n_steps, 2000 - 251);
    EXPECT_EQ(ph[0].exaggeration, 12.0);
    EXPECT_EQ(ph[1].exaggeration, 1.0);
    EXPECT_EQ(*ph[0].momentum, 0.5);
    EXPECT_FALSE(ph[0].reset_optimizer);
    EXPECT_TRUE(ph[1].reset_optimizer);
    EXPECT_DOUBLE_EQ(ph[0].schedule->at(0), 50.0);  // max(1000/12/4, 50)
    // TorchDR 0.5 as it runs: the reused param group keeps lr 50 and momentum 0.5 (only the state is reset).
    EXPECT_EQ(*ph[1].momentum, 0.5);
    EXPECT_DOUBLE_EQ(ph[1].schedule->at(7), 50.0);
    // Its intent: re-derived lr 1000/1/4 and momentum 0.8.
    o.rederive_after_exaggeration = true;
    const auto pr = ne_phases(o, n);
    EXPECT_EQ(*pr[1].momentum, 0.8);
    EXPECT_DOUBLE_EQ(pr[1].schedule->at(7), 250.0);
    o.rederive_after_exaggeration = false;
    EXPECT_DOUBLE_EQ(ne_learning_rate(o, 100000, 12.0), 100000.0 / 48.0);
    // No exaggeration (coeff <= 1): one phase, momentum 0.8 from the start, no reset.
    torchdr::SNEOptions sne;
    const auto p1 = ne_phases(sne, n);
    ASSERT_EQ(p1.size(), 1u);
    EXPECT_EQ(p1[0].n_steps, 2000);
    EXPECT_EQ(*p1[0].momentum, 0.8);
    // Adam: no momentum set; explicit kwargs: no auto momentum either.
    o.optimizer = "Adam";
    EXPECT_FALSE(ne_phases(o, n)[0].momentum.has_value());
    o.optimizer = "SGD";
    o.optimizer_kwargs = OptimizerKwargs{};
    EXPECT_FALSE(ne_phases(o, n)[1].momentum.has_value());
    EXPECT_TRUE(ne_phases(o, n)[1].reset_optimizer);
}

TEST(NeDriver, MethodDefaultsAndShortRuns) {
    // TorchDR's methods pass scheduler_kwargs=None (torch's defaults for a named scheduler); only UMAP's is "auto".
    torchdr::TSNEOptions t;
    ASSERT_TRUE(t.scheduler_kwargs.has_value());
    EXPECT_DOUBLE_EQ(t.scheduler_kwargs->start_factor, 1.0 / 3.0);
    EXPECT_EQ(t.scheduler_kwargs->total_iters, 5);
    EXPECT_TRUE(torchdr::SNEOptions{}.scheduler_kwargs.has_value());
    EXPECT_TRUE(torchdr::PACMAPOptions{}.scheduler_kwargs.has_value());
    EXPECT_TRUE(torchdr::TSNEkhornOptions{}.scheduler_kwargs.has_value());
    EXPECT_TRUE(torchdr::COSNEOptions{}.scheduler_kwargs.has_value());
    EXPECT_FALSE(torchdr::UMAPOptions{}.scheduler_kwargs.has_value());
    // max_iter inside the exaggeration with the auto decay (which reaches 0 at max_iter): one phase, no error.
    t.scheduler = "LinearLR";
    t.scheduler_kwargs.reset();
    t.max_iter = 60;
    const auto ph = ne_phases(t, 500);
    ASSERT_EQ(ph.size(), 1u);
    EXPECT_EQ(ph[0].n_steps, 60);
    EXPECT_EQ(ph[0].name, "early_exaggeration");
}

TEST(NeDriver, SchedulersAreTorchs) {
    NeighborEmbeddingOptions o;
    o.lr = 2.0;
    o.max_iter = 100;
    o.scheduler = "LinearLR";  // auto kwargs: lr -> 0 over max_iter
    auto s = *ne_phases(o, 50)[0].schedule;
    EXPECT_DOUBLE_EQ(s.at(0), 2.0);
    EXPECT_DOUBLE_EQ(s.at(25), 1.5);
    EXPECT_DOUBLE_EQ(s.at(100), 0.0);
    o.scheduler_kwargs = SchedulerKwargs{};  // torch's defaults: 1/3 -> 1 over 5 steps
    s = *ne_phases(o, 50)[0].schedule;
    EXPECT_DOUBLE_EQ(s.at(0), 2.0 / 3.0);
    EXPECT_DOUBLE_EQ(s.at(2), 2.0 * (1.0 / 3.0 + (2.0 / 3.0) * 2.0 / 5.0));
    EXPECT_DOUBLE_EQ(s.at(5), 2.0);
    EXPECT_DOUBLE_EQ(s.at(50), 2.0);
    o.scheduler = "CosineAnnealingLR";
    o.scheduler_kwargs->T_max = 10;
    s = *ne_phases(o, 50)[0].schedule;
    EXPECT_NEAR(s.at(5), 1.0, 1e-15);
    EXPECT_NEAR(s.at(10), 0.0, 1e-15);
    o.scheduler = "ExponentialLR";
    o.scheduler_kwargs->gamma = 0.5;
    s = *ne_phases(o, 50)[0].schedule;
    EXPECT_DOUBLE_EQ(s.at(3), 0.25);
    o.scheduler_kwargs.reset();  // auto is not defined for ExponentialLR
    EXPECT_THROW(ne_phases(o, 50), InvalidArgument);
}

// The driver against TorchDR's loop written out: SGD (torch's buffer) re-created after step early_exaggeration_iter
// and a LinearLR auto schedule restarted. TorchDR 0.5 passes the same param-group dict to the new optimizer and
// torch fills it with setdefault, so lr and momentum stay those of the first optimizer and the new scheduler starts
// from the group's current rate (checked against TorchDR: the embedding's std agrees to 8 digits after 252, 260
// and 1000 iterations on 1000 points); with rederive_after_exaggeration the lr is re-derived and momentum is 0.8.
class ReproducesTorchdrsLoop : public ::testing::TestWithParam<bool> {};
TEST_P(ReproducesTorchdrsLoop, Bitwise) {
    const bool rederive = GetParam();
    const std::size_t n = 60;
    const CsrMatrix<double> P = random_p(n, 8, 21);
    auto rep = make_exact_repulsion(1);
    NeTsneLoss loss(P, *rep, StudentTKernel(1.0), 1);
    NeighborEmbeddingOptions o;
    o.lr.reset();
    o.early_exaggeration_coeff = 4.0;
    o.early_exaggeration_iter = 5;
    o.max_iter = 20;
    o.scheduler = "LinearLR";
    o.init = NeInit::random;
    o.random_state = 3;
    o.rederive_after_exaggeration = rederive;
    const Matrix<double> Y0 = ne_initial_embedding(o, {}, n);
    const NeResult r = run_neighbor_embedding(
        Y0, [&](MatrixView<double> Y, const NeStepInfo& s, double* g, bool w) { return loss(Y, s, g, w); }, o);
    EXPECT_EQ(r.n_iter, 20);
    EXPECT_EQ(r.stop, NeStop::max_iter);

    Matrix<double> Y = Y0;
    double coeff = 4.0;
    double lr0 = std::max(n / coeff / 4.0, 50.0);  // the scheduler's base
    double momentum = 0.5;
    auto sgd = std::make_unique<Sgd>(SgdOptions{momentum, 0.0});
    int sched_t = 0;
    std::vector<double> g(Y.size());
    for (int step = 0; step < 20; ++step) {
        loss(Y.view(), step_info(coeff, 1.0, step), g.data(), false);
        sgd->step(Y.data(), g.data(), g.size(), lr0 * (1.0 - static_cast<double>(sched_t) / 20.0), 1);
        ++sched_t;
        if (coeff > 1 && step == 5) {  // on_training_step_end
            coeff = 1.0;
            if (rederive) {
                lr0 = std::max(n / coeff / 4.0, 50.0);
                momentum = 0.8;
            } else {
                lr0 = lr0 * (1.0 - static_cast<double>(sched_t) / 20.0);  // the group's current rate
            }
            sgd = std::make_unique<Sgd>(SgdOptions{momentum, 0.0});
            sched_t = 0;
        }
    }
    ASSERT_EQ(r.embedding.size(), Y.size());
    EXPECT_EQ(0, std::memcmp(r.embedding.data(), Y.data(), Y.size() * sizeof(double)));
}
INSTANTIATE_TEST_SUITE_P(NeDriver, ReproducesTorchdrsLoop, ::testing::Bool());

TEST(NeDriver, InitIsScaledToInitScaling) {
    NeighborEmbeddingOptions o;
    o.init = NeInit::random;
    o.init_scaling = 2e-3;
    const Matrix<double> Y = ne_initial_embedding(o, {}, 500);
    double m = 0, ss = 0;
    for (std::size_t i = 0; i < 500; ++i) m += Y(i, 0) / 500.0;
    for (std::size_t i = 0; i < 500; ++i) ss += (Y(i, 0) - m) * (Y(i, 0) - m);
    EXPECT_NEAR(std::sqrt(ss / 499.0), 2e-3, 1e-15);  // torch's unbiased std
    const Matrix<float> X = blobs(100, 5, 1);
    o.init = NeInit::pca;
    const Matrix<double> Yp = ne_initial_embedding(o, X.view(), 100);
    m = ss = 0;
    for (std::size_t i = 0; i < 100; ++i) m += Yp(i, 0) / 100.0;
    for (std::size_t i = 0; i < 100; ++i) ss += (Yp(i, 0) - m) * (Yp(i, 0) - m);
    EXPECT_NEAR(std::sqrt(ss / 99.0), 2e-3, 1e-12);
}

TEST(NeDriver, MinGradNormStopsAtACheckPoint) {
    const Matrix<float> X = blobs(120, 4, 2);
    torchdr::TSNEOptions o;
    o.perplexity = 10;
    o.max_iter = 300;
    o.min_grad_norm = 1e30;  // every gradient is below: stop after step 0, the first check
    NeResult r = torchdr::TSNE(o).fit_transform(X.view());
    EXPECT_EQ(r.stop, NeStop::converged);
    EXPECT_EQ(r.n_iter, 1);
    o.min_grad_norm = 0.0;
    o.max_iter = 60;
    int checks = 0;
    TrainHooks h;
    h.callback = [&](const TrainEvent& ev) {
        EXPECT_EQ((ev.step - 1) % 50, 0);  // after steps 0 and 50 (check_interval 50)
        ++checks;
        return false;
    };
    r = torchdr::TSNE(o).fit_transform(X.view(), h);
    EXPECT_EQ(r.stop, NeStop::max_iter);
    EXPECT_EQ(r.n_iter, 60);
    EXPECT_EQ(checks, 2);
}

template <typename Method, typename Options>
Matrix<double> fit_threads(Options o, const Matrix<float>& X, int threads) {
    o.n_threads = threads;
    return Method(o).fit_transform(X.view()).embedding;
}

TEST(NeDriver, SameBitsForAnyThreadCount) {
    const Matrix<float> X = blobs(300, 6, 3);
    {
        torchdr::TSNEOptions o;
        o.max_iter = 40;
        o.early_exaggeration_iter = 20;
        for (NeBackend b : {NeBackend::exact, NeBackend::bh}) {
            o.backend = b;
            const auto a = fit_threads<torchdr::TSNE>(o, X, 1), c = fit_threads<torchdr::TSNE>(o, X, 3);
            EXPECT_EQ(0, std::memcmp(a.data(), c.data(), a.size() * sizeof(double))) << to_string(b);
        }
    }
    {
        torchdr::InfoTSNEOptions o;
        o.max_iter = 30;
        o.early_exaggeration_iter = 10;
        o.n_negatives = 20;
        o.exclude_neighbors_from_negative_sampling = true;
        const auto a = fit_threads<torchdr::InfoTSNE>(o, X, 1), c = fit_threads<torchdr::InfoTSNE>(o, X, 3);
        EXPECT_EQ(0, std::memcmp(a.data(), c.data(), a.size() * sizeof(double)));
    }
    {
        torchdr::LargeVisOptions o;
        o.max_iter = 30;
        const auto a = fit_threads<torchdr::LargeVis>(o, X, 1), c = fit_threads<torchdr::LargeVis>(o, X, 2);
        EXPECT_EQ(0, std::memcmp(a.data(), c.data(), a.size() * sizeof(double)));
    }
    {
        torchdr::SNEOptions o;
        o.max_iter = 30;
        const auto a = fit_threads<torchdr::SNE>(o, X, 1), c = fit_threads<torchdr::SNE>(o, X, 2);
        EXPECT_EQ(0, std::memcmp(a.data(), c.data(), a.size() * sizeof(double)));
    }
}

// TorchDR's process_duplicates: X with repeated rows is embedded as its unique rows in torch.unique's
// (lexicographic) order and scattered back. Checked for every method's fit_transform(X): duplicates get identical
// coordinates, and the result equals the run on the sorted unique rows bit for bit.
template <typename Method>
void check_duplicates(typename Method::Options o) {
    const Matrix<float> B = blobs(60, 5, 11);
    // 90 rows: the 60 blob rows in reverse order, then 30 repeats of every other one.
    Matrix<float> X(90, B.cols());
    std::vector<std::size_t> src(90);
    for (std::size_t i = 0; i < 60; ++i) src[i] = 59 - i;
    for (std::size_t i = 0; i < 30; ++i) src[60 + i] = 2 * i;
    for (std::size_t i = 0; i < 90; ++i) std::memcpy((X.data() + i * B.cols()), (B.data() + src[i] * B.cols()), B.cols() * sizeof(float));
    // The unique rows sorted lexicographically, written directly.
    std::vector<std::size_t> order(60);
    for (std::size_t i = 0; i < 60; ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return std::lexicographical_compare((B.data() + a * B.cols()), (B.data() + a * B.cols()) + B.cols(), (B.data() + b * B.cols()), (B.data() + b * B.cols()) + B.cols());
    });
    Matrix<float> U(60, B.cols());
    std::vector<std::size_t> rank(60);
    for (std::size_t u = 0; u < 60; ++u) {
        std::memcpy((U.data() + u * B.cols()), (B.data() + order[u] * B.cols()), B.cols() * sizeof(float));
        rank[order[u]] = u;
    }
    const NeResult r = Method(o).fit_transform(X.view());
    const NeResult ru = Method(o).fit_transform(U.view());
    const std::size_t d = o.n_components;
    ASSERT_EQ(r.embedding.rows(), 90u);
    for (std::size_t i = 0; i < 90; ++i)
        EXPECT_EQ(0, std::memcmp(r.embedding.row(i), ru.embedding.row(rank[src[i]]), d * sizeof(double))) << i;
    EXPECT_EQ(r.n_iter, ru.n_iter);
    // Off: the 90 rows are embedded as they are; rows 57 and 61 (both blob row 2) start apart and stay apart.
    o.process_duplicates = false;
    const NeResult all = Method(o).fit_transform(X.view());
    EXPECT_NE(0, std::memcmp(all.embedding.row(57), all.embedding.row(61), d * sizeof(double)));
}

TEST(NeDriver, ProcessDuplicatesEmbedsUniqueRowsForEveryMethod) {
    auto short_run = [](auto o) {
        o.max_iter = 20;
        o.init = NeInit::random;  // duplicates would otherwise share their PCA scores
        o.random_state = 5;
        return o;
    };
    auto sne = short_run(torchdr::SNEOptions{});
    sne.perplexity = 5;
    check_duplicates<torchdr::SNE>(sne);
    auto tsne = short_run(torchdr::TSNEOptions{});
    tsne.perplexity = 5;
    tsne.early_exaggeration_iter = 5;
    check_duplicates<torchdr::TSNE>(tsne);
    auto info = short_run(torchdr::InfoTSNEOptions{});
    info.perplexity = 5;
    info.n_negatives = 10;
    check_duplicates<torchdr::InfoTSNE>(info);
    auto lv = short_run(torchdr::LargeVisOptions{});
    lv.perplexity = 5;
    check_duplicates<torchdr::LargeVis>(lv);
    auto pm = short_run(torchdr::PACMAPOptions{});
    pm.n_neighbors = 5;
    check_duplicates<torchdr::PACMAP>(pm);
    auto co = short_run(torchdr::COSNEOptions{});
    co.perplexity = 5;
    co.init = NeInit::hyperbolic;
    check_duplicates<torchdr::COSNE>(co);
    auto kh = short_run(torchdr::TSNEkhornOptions{});
    kh.perplexity = 5;
    check_duplicates<torchdr::TSNEkhorn>(kh);
    auto um = short_run(torchdr::UMAPOptions{});
    um.n_neighbors = 5;
    check_duplicates<torchdr::UMAP>(um);
}

TEST(NeDriver, MethodsSeparateClusters) {
    // Three well separated blobs: after a short run each point's nearest embedded neighbour is in its own blob.
    const Matrix<float> X = blobs(150, 3, 4);
    auto purity = [&](const Matrix<double>& Y) {
        int good = 0;
        for (std::size_t i = 0; i < 150; ++i) {
            std::size_t best = i == 0 ? 1 : 0;
            for (std::size_t j = 0; j < 150; ++j)
                if (j != i && sqd(Y, i, j) < sqd(Y, i, best)) best = j;
            good += (best % 3) == (i % 3);
        }
        return good / 150.0;
    };
    torchdr::TSNEOptions t;
    t.max_iter = 300;
    t.perplexity = 10;
    EXPECT_GT(purity(torchdr::TSNE(t).fit_transform(X.view()).embedding), 0.95);
    torchdr::InfoTSNEOptions it;
    it.max_iter = 300;
    it.perplexity = 10;
    it.n_negatives = 30;
    EXPECT_GT(purity(torchdr::InfoTSNE(it).fit_transform(X.view()).embedding), 0.95);
    torchdr::LargeVisOptions lv;
    lv.max_iter = 300;
    lv.perplexity = 10;
    EXPECT_GT(purity(torchdr::LargeVis(lv).fit_transform(X.view()).embedding), 0.95);
    torchdr::SNEOptions sn;
    sn.max_iter = 300;
    sn.perplexity = 10;
    EXPECT_GT(purity(torchdr::SNE(sn).fit_transform(X.view()).embedding), 0.95);
}

TEST(NeDriver, BadParametersAreRefused) {
    const Matrix<float> X = blobs(40, 3, 5);
    auto refuses = [&](auto opt, const char* what) {
        using O = decltype(opt);
        try {
            if constexpr (std::is_same_v<O, torchdr::TSNEOptions>) torchdr::TSNE(opt).fit_transform(X.view());
            else torchdr::InfoTSNE(opt).fit_transform(X.view());
            ADD_FAILURE() << what << ": accepted";
        } catch (const InvalidArgument& e) {
            EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
        }
    };
    torchdr::TSNEOptions o;
    o.max_iter = 5;
    auto b = o; b.optimizer = "RMSprop"; refuses(b, "optimizer");
    b = o; b.scheduler = "StepLR"; refuses(b, "scheduler");
    b = o; b.perplexity = 40; refuses(b, "perplexity");
    b = o; b.repulsion_strength = -1; refuses(b, "repulsion_strength");
    b = o; b.backend = NeBackend::fft; b.n_components = 3; b.init = NeInit::random; refuses(b, "fft");
    b = o; b.max_iter = 0; refuses(b, "max_iter");
    b = o; b.lr = -2.0; refuses(b, "lr");
    torchdr::InfoTSNEOptions io;
    io.n_negatives = 0;
    refuses(io, "n_negatives");
    EXPECT_THROW(parse_ne_backend("keops"), InvalidArgument);
    EXPECT_THROW(parse_ne_init("spectral"), InvalidArgument);
    EXPECT_THROW(parse_torch_scheduler("OneCycleLR"), InvalidArgument);
}

} // namespace
} // namespace nembed
