// UMAP end to end on the Fashion-MNIST subset: quality, reproducibility across thread counts, resumability,
// transform, n_components, and errors.
#include <gtest/gtest.h>
#include <random>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "nembed/core/error.hpp"
#include "nembed/core/timer.hpp"
#include "nembed/methods/umap.hpp"
#include "umap_test_util.hpp"

using namespace nembed;
using namespace nembed::testing;

TEST(Umap, DefaultsMatchUmapLearn) {
    UmapOptions o;
    EXPECT_EQ(o.n_neighbors, 15u);
    EXPECT_EQ(o.min_dist, 0.1);
    EXPECT_EQ(o.spread, 1.0);
    EXPECT_EQ(o.learning_rate, 1.0);
    EXPECT_EQ(o.negative_sample_rate, 5);
    EXPECT_EQ(umap_default_epochs(10000), 500);
    EXPECT_EQ(umap_default_epochs(10001), 200);
    UmapCurve c = UMAP(o).curve();
    EXPECT_NEAR(c.a, 1.5769, 1e-3);
    EXPECT_NEAR(c.b, 0.8951, 1e-3);
}

TEST(Umap, EdgeScheduleAndPruning) {
    CsrMatrix<double> g = csr_from_triplets<double>(3, 3, {{0, 1, 1.0}, {1, 0, 1.0}, {1, 2, 0.5}, {2, 1, 0.5},
                                                           {0, 2, 0.001}, {2, 0, 0.001}});
    auto p = umap_prune_graph(g, 200);  // 0.001 < 1/200 is dropped
    EXPECT_EQ(p.nnz(), 4u);
    auto s = UmapEdgeSchedule::make(p, 200, 5);
    EXPECT_DOUBLE_EQ(s.epochs_per_sample[0], 1.0);
    EXPECT_DOUBLE_EQ(s.epochs_per_sample[1], 1.0);  // row 1: (1,0) w 1, (1,2) w 0.5
    EXPECT_DOUBLE_EQ(s.epochs_per_sample[2], 2.0);
    EXPECT_DOUBLE_EQ(s.next_negative[2], 2.0 / 5);
}

TEST(Umap, QualityOnFashionMnist) {
    const auto& f = fmnist();
    UmapOptions o;
    o.random_state = 1;
    o.n_jobs = 2;
    Timer t;
    UmapEmbedding e = UMAP(o).fit(f.X.view());
    const double secs = t.seconds();
    Quality q = quality(f.X, e.embedding(), f.labels);
    std::printf("UMAP fmnist 4000: recall@10 %.4f, 10-NN accuracy %.4f, Spearman %.4f, %d epochs, %.2f s "
                "(knn %.2f graph %.2f init %.2f opt %.2f)\n",
                q.recall, q.accuracy, q.spearman, e.n_epochs(), secs, e.timings().knn, e.timings().graph,
                e.timings().init, e.timings().optimize);
    EXPECT_EQ(e.n_epochs(), 500);
    EXPECT_EQ(e.epochs_done(), 500);
    EXPECT_GT(q.recall, 0.25);
    EXPECT_GT(q.accuracy, 0.72);
    EXPECT_GT(q.spearman, 0.4);
}

TEST(Umap, SameBitsForAnyThreadCountAndResumable) {
    const auto& f = fmnist();
    Matrix<float> X = first_rows(f.X, 1000);
    UmapOptions o;
    o.random_state = 7;
    o.n_epochs = 60;
    o.neighbors = KnnMethod::exact;  // HNSW construction is the documented thread-dependent exception
    o.n_jobs = 1;
    UmapEmbedding a = UMAP(o).fit(X.view());
    o.n_jobs = 2;
    UmapEmbedding b = UMAP(o).fit(X.view());
    o.n_jobs = 3;
    UmapEmbedding c = UMAP(o).prepare(X.view());
    c.optimize(25);
    c.optimize(10);
    c.optimize();
    EXPECT_EQ(c.epochs_done(), 60);
    ASSERT_EQ(a.embedding().size(), b.embedding().size());
    for (std::size_t i = 0; i < a.embedding().size(); ++i) {
        ASSERT_EQ(a.embedding().data()[i], b.embedding().data()[i]) << i;
        ASSERT_EQ(a.embedding().data()[i], c.embedding().data()[i]) << i;
    }
    o.random_state = 8;
    UmapEmbedding d = UMAP(o).fit(X.view());
    EXPECT_NE(a.embedding()(0, 0), d.embedding()(0, 0));
}

// The Trainer's callback and progress: the callback every 10 epochs with the loss, a stop at 20 epochs, then the
// rest of the run bitwise equal to an uninterrupted one; progress after every epoch with the planned total.
TEST(Umap, CallbackStopsAndTheRunResumesBitwise) {
    Matrix<float> X = first_rows(fmnist().X, 500);
    UmapOptions o;
    o.random_state = 11;
    o.n_epochs = 40;
    o.neighbors = KnnMethod::exact;
    UmapEmbedding full = UMAP(o).fit(X.view());
    UmapEmbedding e = UMAP(o).prepare(X.view());
    std::vector<std::int64_t> seen;
    std::vector<double> losses;
    TrainCallback cb = [&](const TrainEvent& ev) {
        seen.push_back(ev.step);
        losses.push_back(ev.loss);
        EXPECT_EQ(ev.embedding.rows, 500u);
        return ev.step == 20;
    };
    int last_progress = 0, total = 0;
    TrainProgress progress = [&](const TrainEvent& ev) {
        EXPECT_EQ(ev.step, last_progress + 1);
        last_progress = static_cast<int>(ev.step);
        total = ev.phase_steps;
    };
    EXPECT_EQ(e.optimize(-1, cb, 10, progress), 20);
    EXPECT_EQ(e.epochs_done(), 20);
    EXPECT_EQ(seen, (std::vector<std::int64_t>{10, 20}));
    EXPECT_EQ(total, 40);
    for (double l : losses) EXPECT_TRUE(std::isfinite(l) && l > 0);
    EXPECT_EQ(e.last_loss(), losses.back());
    EXPECT_EQ(e.optimize(), 20);
    EXPECT_EQ(e.embedding().storage(), full.embedding().storage());
    EXPECT_EQ(e.optimize(), 0);  // the planned epochs are done
}

TEST(Umap, TransformPlacesNewPointsNearTheirClass) {
    const auto& f = fmnist();
    const std::size_t n_ref = 3500, n = f.X.rows();
    Matrix<float> ref = first_rows(f.X, n_ref);
    Matrix<float> fresh(n - n_ref, f.X.cols(),
                        std::vector<float>(f.X.data() + n_ref * f.X.cols(), f.X.data() + n * f.X.cols()));
    UmapOptions o;
    o.random_state = 3;
    o.n_jobs = 2;
    o.n_epochs = 200;
    UmapEmbedding e = UMAP(o).fit(ref.view());
    Matrix<double> Yn = e.transform(fresh.view());
    ASSERT_EQ(Yn.rows(), n - n_ref);
    // 10-NN vote among the reference embedding
    std::size_t correct = 0;
    for (std::size_t i = 0; i < Yn.rows(); ++i) {
        std::vector<std::pair<double, std::int64_t>> d;
        for (std::size_t j = 0; j < n_ref; ++j) {
            double s = 0;
            for (std::size_t k = 0; k < 2; ++k) s += (Yn(i, k) - e.embedding()(j, k)) * (Yn(i, k) - e.embedding()(j, k));
            d.push_back({s, f.labels[j]});
        }
        std::partial_sort(d.begin(), d.begin() + 10, d.end());
        std::vector<int> votes(10, 0);
        for (int k = 0; k < 10; ++k) votes[static_cast<std::size_t>(d[k].second)]++;
        const auto best = std::max_element(votes.begin(), votes.end()) - votes.begin();
        correct += best == f.labels[n_ref + i];
    }
    const double acc = static_cast<double>(correct) / static_cast<double>(Yn.rows());
    std::printf("UMAP transform: accuracy of 500 new points by 10-NN among the reference %.3f\n", acc);
    EXPECT_GT(acc, 0.65);
    // transform is deterministic
    Matrix<double> Yn2 = e.transform(fresh.view());
    EXPECT_EQ(Yn.storage(), Yn2.storage());
}

TEST(Umap, AnyNumberOfComponentsAndInits) {
    Matrix<float> X = first_rows(fmnist().X, 600);
    for (std::size_t d : {1u, 3u}) {
        for (auto init : {UmapInit::spectral, UmapInit::pca, UmapInit::random}) {
            UmapOptions o;
            o.n_components = d;
            o.init = init;
            o.n_epochs = 30;
            o.random_state = 0;
            UmapEmbedding e = UMAP(o).fit(X.view());
            ASSERT_EQ(e.embedding().cols(), d);
            for (double v : e.embedding().storage()) ASSERT_TRUE(std::isfinite(v));
        }
    }
}

TEST(Umap, BadParametersThrow) {
    Matrix<float> X = first_rows(fmnist().X, 100);
    auto fit_with = [&](auto mutate) {
        UmapOptions o;
        o.n_epochs = 5;
        mutate(o);
        return UMAP(o).fit(X.view());
    };
    EXPECT_THROW(fit_with([](UmapOptions& o) { o.n_neighbors = 1; }), InvalidArgument);
    EXPECT_THROW(fit_with([](UmapOptions& o) { o.n_neighbors = 101; }), InvalidArgument);
    EXPECT_THROW(fit_with([](UmapOptions& o) { o.min_dist = 2.0; }), InvalidArgument);
    EXPECT_THROW(fit_with([](UmapOptions& o) { o.spread = 0.0; }), InvalidArgument);
    EXPECT_THROW(fit_with([](UmapOptions& o) { o.learning_rate = -1; }), InvalidArgument);
    EXPECT_THROW(fit_with([](UmapOptions& o) { o.n_components = 0; }), InvalidArgument);
    EXPECT_THROW(fit_with([](UmapOptions& o) { o.negative_sample_rate = 0; }), InvalidArgument);
    EXPECT_THROW(fit_with([](UmapOptions& o) { o.a = 1.0; }), InvalidArgument);  // a without b
    EXPECT_THROW(fit_with([](UmapOptions& o) { o.set_op_mix_ratio = 1.5; }), InvalidArgument);
    EXPECT_THROW(fit_with([](UmapOptions& o) {
                     o.init = UmapInit::user;
                     o.initial_embedding = Matrix<double>(50, 2);
                 }),
                 InvalidArgument);
    EXPECT_THROW(parse_umap_init("tsne"), InvalidArgument);
    UmapOptions o;
    o.n_epochs = 5;
    UmapEmbedding e = UMAP(o).fit(X.view());
    Matrix<float> wrong(3, 7);
    EXPECT_THROW(e.transform(wrong.view()), InvalidArgument);
}

// UmapEdgeSchedule::take multiplies by the precomputed inverse where umap-learn divides: over random weights and 500
// epochs, the counts and epochs agree with umap-learn's rule written out, except where the quotient falls within a
// rounding of an integer (at most 1 in 1e5 samples allowed; none seen).
TEST(UmapSchedule, TakeWithoutDivisionMatchesUmapLearnRule) {
    std::mt19937_64 g(5);
    std::vector<Triplet<double>> t;
    for (index_t i = 0; i < 2000; ++i)
        t.push_back({i, (i + 1) % 2000, std::uniform_real_distribution<double>(0.01, 1.0)(g)});
    const CsrMatrix<double> graph = csr_from_triplets<double>(2000, 2000, t);
    for (const double rate : {5.0, 3.0, 7.0}) {
        UmapEdgeSchedule s = UmapEdgeSchedule::make(graph, 500, rate);
        std::vector<double> ns = s.next_sample, nn(graph.nnz());
        for (std::size_t p = 0; p < graph.nnz(); ++p) nn[p] = s.epochs_per_sample[p] / rate;
        double samples = 0, differ = 0;
        for (int e = 0; e < 500; ++e)
            for (std::size_t p = 0; p < graph.nnz(); ++p) {
                ASSERT_EQ(s.next_sample[p] <= e, ns[p] <= e);
                if (ns[p] > e) continue;
                ns[p] += s.epochs_per_sample[p];
                const double epns = s.epochs_per_sample[p] / rate;
                const long n_ref = static_cast<long>((e - nn[p]) / epns);
                nn[p] += static_cast<double>(n_ref) * epns;
                const long n = s.take(p, e);
                samples += 1;
                differ += n == n_ref ? 0 : 1;
                if (n != n_ref) nn[p] = s.next_negative[p];  // follow take()'s state from here
            }
        EXPECT_GT(samples, 1e5);
        EXPECT_LE(differ, samples * 1e-5) << rate;
    }
}
