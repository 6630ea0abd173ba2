// The t-SNE method end to end: objective vs numerical derivative, KL decrease, reproducibility, resumability,
// callbacks, exaggeration handling, transform quality, options validation, model files.
#include <gtest/gtest.h>

#include "../common/fmnist_subset.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <vector>

#include "nembed/core/random.hpp"
#include "nembed/core/sparse.hpp"
#include "nembed/io/npy.hpp"
#include "nembed/loss/kl.hpp"
#include "nembed/loss/tsne_objective.hpp"
#include "nembed/methods/tsne.hpp"
#include "nembed/repulsion/repulsion.hpp"
#include "nembed/neighbors/knn.hpp"

using namespace nembed;
using nembed::testing::Fmnist;
using nembed::testing::fmnist;

namespace {

double kernel(double d2, double dof) { return std::pow(1.0 + d2 / dof, -dof); }

double brute_kl(const CsrMatrix<double>& P, const Matrix<double>& Y, double dof) {
    const std::size_t n = Y.rows(), d = Y.cols();
    auto dist2 = [&](std::size_t i, std::size_t j) {
        double s = 0;
        for (std::size_t c = 0; c < d; ++c) s += (Y(i, c) - Y(j, c)) * (Y(i, c) - Y(j, c));
        return s;
    };
    double Z = 0;
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j)
            if (i != j) Z += kernel(dist2(i, j), dof);
    double kl = 0;
    for (std::size_t i = 0; i < n; ++i)
        for (offset_t p = P.indptr[i]; p < P.indptr[i + 1]; ++p) {
            double q = kernel(dist2(i, static_cast<std::size_t>(P.indices[p])), dof) / Z;
            kl += P.values[p] * std::log(P.values[p] / q);
        }
    return kl;
}

// n points in `clusters` Gaussian blobs in `dim` dimensions.
Matrix<float> blobs(std::size_t n, std::size_t dim, std::size_t clusters, std::uint64_t seed,
                    std::vector<int>* labels = nullptr) {
    Rng rng(seed);
    Matrix<double> centres(clusters, dim);
    for (std::size_t k = 0; k < centres.size(); ++k) centres.data()[k] = rng.normal() * 8.0;
    Matrix<float> X(n, dim);
    if (labels) labels->resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        std::size_t c = i % clusters;
        if (labels) (*labels)[i] = static_cast<int>(c);
        for (std::size_t j = 0; j < dim; ++j) X(i, j) = static_cast<float>(centres(c, j) + rng.normal());
    }
    return X;
}



Matrix<float> rows(const Matrix<float>& X, std::size_t b, std::size_t e) {
    return Matrix<float>(e - b, X.cols(),
                         std::vector<float>(X.data() + b * X.cols(), X.data() + e * X.cols()));
}

// Majority vote of the k nearest points of `ref` (excluding index `self` when >= 0).
int vote(const Matrix<double>& ref, const std::vector<int>& ref_labels, const double* q, std::size_t k, long self) {
    std::vector<std::pair<double, int>> d;
    d.reserve(ref.rows());
    for (std::size_t j = 0; j < ref.rows(); ++j) {
        if (static_cast<long>(j) == self) continue;
        double s = 0;
        for (std::size_t c = 0; c < ref.cols(); ++c) s += (q[c] - ref(j, c)) * (q[c] - ref(j, c));
        d.push_back({s, ref_labels[j]});
    }
    std::partial_sort(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(k), d.end());
    int counts[256] = {0};
    for (std::size_t t = 0; t < k; ++t) counts[d[t].second]++;
    return static_cast<int>(std::max_element(counts, counts + 256) - counts);
}

TsneOptions small_options() {
    TsneOptions o;
    o.random_state = 7;
    o.early_exaggeration_iter = 100;
    o.n_iter = 150;
    return o;
}

} // namespace

// ------------------------------------------------------------------------------------------------ objective

TEST(TsneObjective, GradientIsQuarterOfNumericalKlDerivative) {
    const std::size_t n = 30;
    Matrix<float> X = blobs(n, 5, 3, 1);
    TsneOptions o;
    o.perplexities = {5};
    o.random_state = 1;
    TsneEmbedding emb = TSNE(o).prepare_initial(X.view());
    const CsrMatrix<double>& P = emb.affinities();
    EXPECT_NEAR(P.sum(), 1.0, 1e-12);
    for (double dof : {1.0, 0.6}) {
        Matrix<double> Y(n, 2);
        Rng rng(3);
        for (std::size_t k = 0; k < Y.size(); ++k) Y.data()[k] = rng.normal();
        auto rep = make_exact_repulsion(1);
        TsneObjective obj(P, *rep, StudentTKernel(dof), 1);
        std::vector<double> g(Y.size());
        double kl = obj(Y.view(), 1.0, g.data(), true);
        EXPECT_NEAR(kl, brute_kl(P, Y, dof), 1e-10);
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
            err2 += (num - 4 * g[k]) * (num - 4 * g[k]);
            norm2 += num * num;
        }
        EXPECT_LT(std::sqrt(err2 / norm2), 1e-6) << "dof " << dof;
    }
}

TEST(Tsne, MultiscaleAndTinyData) {
    Matrix<float> X = blobs(120, 5, 3, 14);
    TsneOptions o = small_options();
    o.perplexities = {5.0, 20.0};
    TsneEmbedding emb = TSNE(o).fit(X.view());
    EXPECT_TRUE(std::isfinite(emb.kl_divergence()));
    Matrix<float> tiny = blobs(8, 3, 2, 15);
    TsneOptions t = small_options();
    TsneEmbedding e2 = TSNE(t).fit(tiny.view());  // perplexity capped to 7/3
    EXPECT_TRUE(std::isfinite(e2.kl_divergence()));
}

// ------------------------------------------------------------------------------------------------ runs

TEST(Tsne, KlFallsExactAndBarnesHut) {
    Matrix<float> X = blobs(500, 10, 5, 2);
    for (GradientMethod m : {GradientMethod::exact, GradientMethod::barnes_hut}) {
        TsneOptions o = small_options();
        o.repulsion.method = m;
        TSNE tsne(o);
        TsneEmbedding emb = tsne.prepare_initial(X.view());
        TsneOptimizeOptions zero;
        emb.optimize(0, zero);
        const double kl0 = emb.kl_divergence();
        tsne.run(emb);
        EXPECT_LT(emb.kl_divergence(), 0.5 * kl0) << to_string(m);
        EXPECT_TRUE(std::isfinite(emb.kl_divergence()));
        // The reported KL is the exact KL of the final embedding (exact repulsion).
        if (m == GradientMethod::exact) {
            EXPECT_NEAR(emb.kl_divergence(), brute_kl(emb.affinities(), emb.embedding(), 1.0), 1e-9);
        }
        EXPECT_GT(emb.timings().knn, 0.0);
        EXPECT_GT(emb.timings().main, 0.0);
    }
}

TEST(Tsne, FmnistBarnesHutKlFalls) {
    Matrix<float> X = rows(fmnist().X, 0, 2000);
    TsneOptions o;
    o.random_state = 3;
    o.repulsion.method = GradientMethod::barnes_hut;
    o.n_iter = 250;
    std::vector<double> kls;
    o.callback = [&](const TrainEvent& e) {
        kls.push_back(e.loss);
        return false;
    };
    o.callbacks_every_iters = 50;
    TsneEmbedding emb = TSNE(o).fit(X.view());
    ASSERT_EQ(kls.size(), 5u + 5u);
    // Main phase: KL non-increasing (tolerance for BH noise), and the final far below the first report.
    for (std::size_t i = 6; i < kls.size(); ++i) EXPECT_LT(kls[i], kls[i - 1] + 1e-3);
    EXPECT_LT(emb.kl_divergence(), kls[0]);
    EXPECT_LT(emb.kl_divergence(), 2.5);
    std::printf("fmnist 2000 BH: KL after EE %.4f, final %.4f; knn %.2fs P %.2fs EE %.2fs main %.2fs\n", kls[4],
                emb.kl_divergence(), emb.timings().knn, emb.timings().affinities, emb.timings().early_exaggeration,
                emb.timings().main);
}

TEST(Tsne, FmnistFftAgreesWithBarnesHut) {
    Matrix<float> X = rows(fmnist().X, 0, 2000);
    double kl[2];
    int idx = 0;
    for (GradientMethod m : {GradientMethod::barnes_hut, GradientMethod::fft}) {
        TsneOptions o;
        o.random_state = 5;
        o.repulsion.method = m;
        o.n_iter = 250;
        TsneEmbedding emb = TSNE(o).fit(X.view());
        kl[idx++] = emb.kl_divergence();
    }
    std::printf("fmnist 2000: final KL BH %.4f, FFT %.4f\n", kl[0], kl[1]);
    EXPECT_NEAR(kl[1], kl[0], 0.05 * kl[0]);
}

TEST(Tsne, FftTransformKeepsPointsNearTheReference) {
    std::vector<int> labels;
    Matrix<float> X = blobs(700, 6, 4, 12, &labels);
    Matrix<float> Xref = rows(X, 0, 600), Xnew = rows(X, 600, 700);
    TsneOptions o = small_options();
    o.repulsion.method = GradientMethod::fft;
    TsneEmbedding emb = TSNE(o).fit(Xref.view());
    Matrix<double> Ynew = emb.transform(Xnew.view());
    std::vector<int> lref(labels.begin(), labels.begin() + 600);
    std::size_t ok = 0;
    for (std::size_t i = 0; i < Ynew.rows(); ++i) ok += vote(emb.embedding(), lref, Ynew.row(i), 10, -1) == labels[600 + i];
    EXPECT_GE(ok, 95u);  // well-separated blobs: new points land in their own cluster
}

TEST(Tsne, ReproducibleAndThreadIndependent) {
    Matrix<float> X = blobs(400, 8, 4, 4);
    for (GradientMethod m : {GradientMethod::exact, GradientMethod::barnes_hut}) {
        TsneOptions o = small_options();
        o.repulsion.method = m;
        o.early_exaggeration_iter = 50;
        o.n_iter = 50;
        TsneEmbedding a = TSNE(o).fit(X.view());
        TsneEmbedding b = TSNE(o).fit(X.view());
        EXPECT_EQ(a.embedding().storage(), b.embedding().storage()) << to_string(m);
        o.n_jobs = 2;
        TsneEmbedding c = TSNE(o).fit(X.view());
        TsneEmbedding c2 = TSNE(o).fit(X.view());
        EXPECT_EQ(c.embedding().storage(), c2.embedding().storage()) << to_string(m);
        double maxdiff = 0, scale = 0;
        for (std::size_t k = 0; k < a.embedding().size(); ++k) {
            maxdiff = std::max(maxdiff, std::abs(a.embedding().data()[k] - c.embedding().data()[k]));
            scale = std::max(scale, std::abs(a.embedding().data()[k]));
        }
        EXPECT_LT(maxdiff, 1e-6 * scale) << to_string(m);
    }
}

// The Hilbert point order renumbers only the gradient's work: the embedding comes back in the user's order, equal to
// the unordered run up to the sums' rounding (exact gradient: the same pairs added in another order), the same bits
// for any thread count (FFT), and auto keeps the user's order below point_order_min_points.
TEST(Tsne, PointOrderIsInternalAndThreadIndependent) {
    Matrix<float> X = blobs(600, 8, 4, 21);
    TsneOptions o = small_options();
    o.repulsion.method = GradientMethod::exact;
    o.early_exaggeration_iter = 15;
    o.n_iter = 10;
    o.point_order = PointOrder::none;
    const TsneEmbedding plain = TSNE(o).fit(X.view());
    o.point_order = PointOrder::hilbert;
    const TsneEmbedding ordered = TSNE(o).fit(X.view());
    double maxdiff = 0, scale = 0;
    for (std::size_t k = 0; k < plain.embedding().size(); ++k) {
        maxdiff = std::max(maxdiff, std::abs(plain.embedding().data()[k] - ordered.embedding().data()[k]));
        scale = std::max(scale, std::abs(plain.embedding().data()[k]));
    }
    EXPECT_LT(maxdiff, 1e-9 * scale);  // a wrong renumbering moves points by the map's scale
    EXPECT_NEAR(ordered.kl_divergence(), plain.kl_divergence(), 1e-9 * plain.kl_divergence());
    EXPECT_NE(plain.embedding().storage(), ordered.embedding().storage());  // the order did change the sums

    o.repulsion.method = GradientMethod::fft;
    o.n_jobs = 1;
    TsneEmbedding one = TSNE(o).fit(X.view());
    o.n_jobs = 3;
    TsneEmbedding three = TSNE(o).fit(X.view());
    EXPECT_EQ(one.embedding().storage(), three.embedding().storage());
    EXPECT_EQ(one.kl_divergence(), three.kl_divergence());
    // Later runs continue in the order fixed by the first one (P is not renumbered again), still thread-independent.
    one.optimize(5);
    three.optimize(5);
    EXPECT_EQ(one.embedding().storage(), three.embedding().storage());

    o.point_order = PointOrder::auto_;  // 600 < point_order_min_points: the user's order
    o.repulsion.method = GradientMethod::exact;
    o.n_iter = 10;
    const TsneEmbedding automatic = TSNE(o).fit(X.view());
    EXPECT_EQ(automatic.embedding().storage(), plain.embedding().storage());
    EXPECT_EQ(parse_point_order("Hilbert"), PointOrder::hilbert);
    EXPECT_EQ(to_string(PointOrder::none), "none");
    EXPECT_THROW(parse_point_order("morton"), InvalidArgument);
}

TEST(Tsne, OptimizerStatePersists) {
    Matrix<float> X = blobs(300, 6, 3, 5);
    TsneOptions o = small_options();
    o.repulsion.method = GradientMethod::barnes_hut;
    TSNE tsne(o);
    TsneEmbedding a = tsne.prepare_initial(X.view());
    TsneEmbedding b = a;
    TsneOptimizeOptions opt;
    opt.exaggeration = 12;
    a.optimize(50, opt);
    a.optimize(50, opt);
    b.optimize(100, opt);
    EXPECT_EQ(a.embedding().storage(), b.embedding().storage());
    EXPECT_EQ(a.optimizer().gains(), b.optimizer().gains());
    EXPECT_EQ(a.total_iterations(), 100);
    EXPECT_EQ(a.kl_divergence(), b.kl_divergence());
}

TEST(Tsne, CallbackStopsFitAndReturnsPartialEmbedding) {
    Matrix<float> X = blobs(300, 6, 3, 6);
    TsneOptions o = small_options();
    o.repulsion.method = GradientMethod::exact;
    o.callbacks_every_iters = 25;
    std::vector<int> seen;
    Matrix<double> seen_y;
    double seen_kl = 0;
    o.callback = [&](const TrainEvent& e) {
        const int it = e.phase_step;
        const MatrixView<double> Y = e.embedding;
        seen.push_back(it);
        EXPECT_EQ(e.phase, "early_exaggeration");
        if (it == 75) {
            seen_y = Matrix<double>(Y.rows, Y.cols, std::vector<double>(Y.data, Y.data + Y.size()));
            seen_kl = e.loss;
            return true;
        }
        return false;
    };
    TsneEmbedding emb = TSNE(o).fit(X.view());
    EXPECT_EQ(seen, (std::vector<int>{25, 50, 75}));  // stopped inside early exaggeration, main phase skipped
    EXPECT_EQ(emb.total_iterations(), 75);
    EXPECT_EQ(emb.embedding().storage(), seen_y.storage());
    EXPECT_EQ(emb.kl_divergence(), seen_kl);
    EXPECT_NEAR(seen_kl, brute_kl(emb.affinities(), emb.embedding(), 1.0), 1e-9);  // corrected for ex = 12

    // propagate_exception: OptimizationInterrupt carries the KL and the embedding.
    o.callback = [](const TrainEvent& e) { return e.phase_step == 50; };
    TSNE tsne(o);
    TsneEmbedding e2 = tsne.prepare_initial(X.view());
    TsneOptimizeOptions opt;
    opt.callback = o.callback;
    opt.callbacks_every_iters = 25;
    opt.propagate_exception = true;
    try {
        e2.optimize(200, opt);
        FAIL() << "expected OptimizationInterrupt";
    } catch (const OptimizationInterrupt& e) {
        EXPECT_EQ(e.iteration, 50);
        EXPECT_EQ(e.final_embedding.storage(), e2.embedding().storage());
        EXPECT_EQ(e.kl, e2.kl_divergence());
    }
}

TEST(Tsne, ExaggerationCorrectedKlAndAutoLearningRate) {
    Matrix<float> X = blobs(200, 5, 4, 8);
    TsneOptions o = small_options();
    o.repulsion.method = GradientMethod::exact;
    TsneEmbedding emb = TSNE(o).prepare_initial(X.view());
    TsneOptimizeOptions opt;
    opt.exaggeration = 12;
    OptimizeReport r = emb.optimize(30, opt);
    EXPECT_DOUBLE_EQ(r.learning_rate, 200.0 / 12.0);
    // KL reported under exaggeration is the KL of P itself ...
    const double kl = brute_kl(emb.affinities(), emb.embedding(), 1.0);
    EXPECT_NEAR(r.kl, kl, 1e-10);
    // ... which equals openTSNE's corrected value error/ex - log ex of the KL computed with ex*P.
    CsrMatrix<double> exP = emb.affinities();
    for (double& v : exP.values) v *= 12.0;
    const double error = brute_kl(exP, emb.embedding(), 1.0);  // Σ exP log(exP / q)
    EXPECT_NEAR(error, 12.0 * kl + 12.0 * std::log(12.0), 1e-9);
    EXPECT_NEAR(exaggeration_corrected_kl(error, 12.0), r.kl, 1e-9);
    opt.exaggeration = 1;
    r = emb.optimize(10, opt);
    EXPECT_DOUBLE_EQ(r.learning_rate, 200.0);
    opt.learning_rate = 50.0;
    r = emb.optimize(1, opt);
    EXPECT_DOUBLE_EQ(r.learning_rate, 50.0);
    // P itself is never scaled.
    EXPECT_NEAR(emb.affinities().sum(), 1.0, 1e-12);
}

TEST(Tsne, FmnistTransformMatchesInSampleAccuracy) {
    const Fmnist& f = fmnist();
    Matrix<float> Xref = rows(f.X, 0, 3000), Xnew = rows(f.X, 3000, 4000);
    std::vector<int> lref(f.labels.begin(), f.labels.begin() + 3000), lnew(f.labels.begin() + 3000, f.labels.begin() + 4000);
    TsneOptions o;
    o.random_state = 11;
    o.n_iter = 300;
    o.repulsion.method = GradientMethod::barnes_hut;
    TsneEmbedding emb = TSNE(o).fit(Xref.view());
    const Matrix<double> before = emb.embedding();
    Matrix<double> Ynew = emb.transform(Xnew.view());
    EXPECT_EQ(emb.embedding().storage(), before.storage());  // the reference is not modified
    ASSERT_EQ(Ynew.rows(), 1000u);
    const Matrix<double>& Y = emb.embedding();
    std::size_t in_ok = 0, new_ok = 0;
    for (std::size_t i = 0; i < Y.rows(); ++i) in_ok += vote(Y, lref, Y.row(i), 10, static_cast<long>(i)) == lref[i];
    for (std::size_t i = 0; i < Ynew.rows(); ++i) new_ok += vote(Y, lref, Ynew.row(i), 10, -1) == lnew[i];
    const double in_acc = static_cast<double>(in_ok) / 3000.0, new_acc = static_cast<double>(new_ok) / 1000.0;
    std::printf("fmnist transform: in-sample LOO 10-NN accuracy %.4f, transformed %.4f\n", in_acc, new_acc);
    EXPECT_GT(in_acc, 0.7);
    EXPECT_NEAR(new_acc, in_acc, 0.05);
}

TEST(Tsne, PartialEmbedding) {  // saving and loading the model: tests/io/test_model.cpp
    Matrix<float> X = blobs(400, 6, 4, 9);
    Matrix<float> Xref = rows(X, 0, 300), Xnew = rows(X, 300, 400);
    TsneOptions o = small_options();
    TsneEmbedding emb = TSNE(o).fit(Xref.view());
    PartialTsneEmbedding part = emb.prepare_partial(Xnew.view());
    EXPECT_EQ(part.affinities().n_rows, 100u);
    EXPECT_EQ(part.affinities().n_cols, 300u);
    TsneOptimizeOptions auto_lr;
    EXPECT_THROW(part.optimize(10, auto_lr), InvalidArgument);  // auto learning rate refused for partial
    // Wrong dimension for transform
    Matrix<float> bad(5, 7, 0.0f);
    EXPECT_THROW(emb.transform(bad.view()), InvalidArgument);
}

TEST(Tsne, BadParameters) {
    Matrix<float> X = blobs(60, 4, 2, 10);
    auto fails = [&](TsneOptions o) { EXPECT_THROW(TSNE(o).fit(X.view()), InvalidArgument); };
    TsneOptions o;
    o.perplexities = {0.0};
    fails(o);
    o = {};
    o.perplexities = {-5.0};
    fails(o);
    o = {};
    o.perplexities = {};
    fails(o);
    o = {};
    o.n_iter = -1;
    fails(o);
    o = {};
    o.early_exaggeration_iter = -1;
    fails(o);
    o = {};
    o.dof = 0;
    fails(o);
    o = {};
    o.dof = -1;
    fails(o);
    o = {};
    o.n_components = 3;
    o.repulsion.method = GradientMethod::fft;
    fails(o);
    o = {};
    o.n_components = 0;
    fails(o);
    o = {};
    o.learning_rate = -1;
    fails(o);
    o = {};
    o.repulsion.theta = -0.1;
    fails(o);
    o = {};
    o.initial_momentum = 1.0;
    fails(o);
    o = {};
    o.n_jobs = 0;
    fails(o);
    o = {};
    o.initialization = TsneInit::user;
    o.initial_embedding = Matrix<double>(59, 2);
    fails(o);
    o = {};
    o.exaggeration = 0;
    fails(o);
    EXPECT_THROW(parse_gradient_method("quantum"), InvalidArgument);
    EXPECT_THROW(parse_tsne_init("umap"), InvalidArgument);
    EXPECT_EQ(parse_gradient_method("BH"), GradientMethod::barnes_hut);
    EXPECT_EQ(parse_gradient_method("interpolation"), GradientMethod::fft);
    Matrix<float> one(1, 4, 0.0f);
    EXPECT_THROW(TSNE().fit(one.view()), InvalidArgument);
    Matrix<float> nan = X;
    nan(3, 1) = std::nanf("");
    EXPECT_THROW(TSNE().fit(nan.view()), InvalidArgument);
}

TEST(Tsne, PhasesAreOpenTsneDefaults) {
    const std::vector<Phase> d = tsne_phases(TsneOptions{});
    ASSERT_EQ(d.size(), 2u);
    EXPECT_EQ(d[0].name, "early_exaggeration");
    EXPECT_EQ(d[0].n_steps, 250);
    EXPECT_EQ(d[0].exaggeration, 12.0);
    EXPECT_EQ(d[0].momentum, 0.8);
    EXPECT_FALSE(d[0].learning_rate.has_value());  // auto: N / exaggeration
    EXPECT_EQ(d[1].name, "main");
    EXPECT_EQ(d[1].n_steps, 500);
    EXPECT_EQ(d[1].exaggeration, 1.0);
    EXPECT_EQ(d[1].momentum, 0.8);
    EXPECT_FALSE(d[1].learning_rate.has_value());
    TsneOptions o;
    o.exaggeration = 3;  // early auto = max(12, late)
    EXPECT_EQ(tsne_phases(o)[0].exaggeration, 12.0);
    EXPECT_EQ(tsne_phases(o)[1].exaggeration, 3.0);
    o.exaggeration = 20;
    EXPECT_EQ(tsne_phases(o)[0].exaggeration, 20.0);
    o.early_exaggeration = 4;
    o.learning_rate = 200;
    o.initial_momentum = 0.5;
    o.early_exaggeration_iter = 7;
    const std::vector<Phase> p = tsne_phases(o);
    EXPECT_EQ(p[0].exaggeration, 4.0);
    EXPECT_EQ(p[0].momentum, 0.5);
    EXPECT_EQ(p[0].n_steps, 7);
    EXPECT_EQ(p[0].learning_rate, 200.0);
    EXPECT_EQ(p[1].learning_rate, 200.0);

    const std::vector<Phase> t = transform_phases(TransformOptions{});
    ASSERT_EQ(t.size(), 2u);
    EXPECT_EQ(t[0].n_steps, 0);
    EXPECT_EQ(t[0].exaggeration, 4.0);
    EXPECT_EQ(t[0].learning_rate, 0.1);
    EXPECT_EQ(t[1].n_steps, 250);
    EXPECT_EQ(t[1].exaggeration, 1.5);
    EXPECT_EQ(t[1].momentum, 0.8);
    EXPECT_EQ(t[1].learning_rate, 0.1);
    for (const Phase& ph : t) EXPECT_EQ(ph.name, "transform");
}

TEST(Tsne, RunIsTheScheduleOfTwoOptimizeCalls) {
    // TSNE::run (one Trainer over tsne_phases) takes the bits of openTSNE's two optimize calls, and reports the KL
    // at every 50th iteration and at the end of each phase.
    Matrix<float> X = blobs(300, 6, 3, 9);
    TsneOptions o = small_options();
    o.repulsion.method = GradientMethod::barnes_hut;
    o.early_exaggeration_iter = 60;
    o.n_iter = 70;
    std::vector<std::pair<std::string, int>> reported;
    o.progress = [&](const TrainEvent& e) {
        if (!std::isnan(e.loss)) reported.emplace_back(e.phase, e.phase_step);
    };
    TSNE tsne(o);
    TsneEmbedding a = tsne.prepare_initial(X.view());
    TsneEmbedding b = a;
    tsne.run(a);
    EXPECT_EQ(reported, (std::vector<std::pair<std::string, int>>{
                            {"early_exaggeration", 50}, {"early_exaggeration", 60}, {"main", 50}, {"main", 70}}));
    TsneOptimizeOptions ee;
    ee.exaggeration = 12;
    b.optimize(60, ee);
    TsneOptimizeOptions main;
    b.optimize(70, main);
    EXPECT_EQ(a.embedding().storage(), b.embedding().storage());
    EXPECT_EQ(a.kl_divergence(), b.kl_divergence());
    EXPECT_EQ(a.total_iterations(), 130);
    EXPECT_GT(a.timings().main, 0.0);
    // The KL is that of the final embedding (the same estimator evaluated afresh gives the same bits).
    auto rep = make_repulsion(a.gradient_params(), a.embedding().rows(), a.embedding().cols());
    TsneObjective objective(a.affinities(), *rep, StudentTKernel(1.0), 1);
    std::vector<double> g(a.embedding().size());
    EXPECT_EQ(a.kl_divergence(), objective(a.embedding().view(), 1.0, g.data(), true));
}
