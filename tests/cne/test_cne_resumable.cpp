// cne as a preset over the training core: a run split over several optimize calls is bitwise the run in one call
// (across the early-exaggeration phase boundary, nce's learned log Z and Adam's moments included), the callback
// and progress hooks see cne's epochs, uniform negative sampling (with and without the kNN excluded) is the same
// bits for any thread count and never draws an excluded point, and the edge plan refuses what it cannot train.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <span>
#include <vector>

#include "nembed/core/error.hpp"
#include "nembed/core/random.hpp"
#include "nembed/methods/cne.hpp"
#include "nembed/optim/optimizer.hpp"
#include "nembed/repulsion/negative_sampling.hpp"
#include "nembed/train/edge_batch_plan.hpp"
#include "nembed/train/parametrization.hpp"
#include "nembed/train/trainer.hpp"

using namespace nembed;

namespace {

// Three Gaussian blobs, 240 points in 8 dimensions.
Matrix<float> blobs() {
    Matrix<float> X(240, 8);
    Rng rng(11);
    for (std::size_t i = 0; i < X.rows(); ++i)
        for (std::size_t k = 0; k < X.cols(); ++k)
            X(i, k) = static_cast<float>(rng.normal() + 6.0 * static_cast<double>((i % 3 == k % 3)));
    return X;
}

CneOptions small(ContrastiveMode mode) {
    CneOptions o;
    o.loss_mode = mode;
    o.s = 0.5;  // neg and infonce: an early-exaggeration phase of n_epochs / 3 epochs
    o.n_epochs = 12;
    o.batch_size = 700;  // the last batch partial
    o.seed = 4;
    return o;
}

} // namespace

TEST(CneResumable, SplitRunsAreBitwiseOneRun) {
    const Matrix<float> X = blobs();
    for (auto mode : {ContrastiveMode::neg, ContrastiveMode::nce, ContrastiveMode::infonce})
        for (auto opt : {CneOptimizer::sgd, CneOptimizer::adam}) {
            CneOptions o = small(mode);
            o.optimizer = opt;
            o.momentum = opt == CneOptimizer::sgd ? 0.3 : 0.0;  // SGD's buffer carried across calls
            const std::string what = to_string(mode) + "/" + to_string(opt);
            const CneResult one = CNE(o).fit(X.view());
            CneEmbedding split = CNE(o).prepare(X.view());
            EXPECT_EQ(split.epochs_done(), 0);
            // 3 epochs (inside the early phase of 4), 2 (across its end), 0, then the rest
            for (std::int64_t chunk : {3, 2, 0}) {
                const RunReport r = split.optimize(chunk);
                EXPECT_EQ(r.steps, chunk) << what;
                EXPECT_EQ(r.stop, StopReason::limit) << what;
            }
            EXPECT_EQ(split.epochs_done(), 5);
            EXPECT_FALSE(split.done());
            EXPECT_EQ(split.optimize().stop, StopReason::completed);
            EXPECT_TRUE(split.done());
            const CneResult two = split.result();
            EXPECT_EQ(one.embedding.storage(), two.embedding.storage()) << what;
            EXPECT_EQ(one.epoch_losses, two.epoch_losses) << what;
            EXPECT_EQ(one.log_Z, two.log_Z) << what;
            EXPECT_EQ(two.epochs_run, 12);
            if (mode == ContrastiveMode::nce) {
                EXPECT_NE(two.log_Z, 0.0) << what;
            }
            EXPECT_EQ(split.optimize(5).steps, 0);  // nothing left
        }
}

TEST(CneResumable, CallbackAndProgressSeeCneEpochs) {
    const Matrix<float> X = blobs();
    CneOptions o = small(ContrastiveMode::neg);
    o.save_freq = 4;
    std::vector<std::int64_t> called, progressed;
    std::vector<double> losses;
    o.callback = [&](const TrainEvent& ev) {
        called.push_back(ev.step);
        EXPECT_EQ(ev.embedding.rows, 240u);
        EXPECT_EQ(std::isnan(ev.loss), ev.step == 0);
        return false;
    };
    o.progress = [&](const TrainEvent& ev) {
        progressed.push_back(ev.step);
        losses.push_back(ev.loss);
    };
    CneEmbedding e = CNE(o).prepare(X.view());
    e.optimize(6);
    e.optimize();
    // before training, then after 0-based epochs 0, 4 and 8 (cne's epoch % save_freq == 0)
    EXPECT_EQ(called, (std::vector<std::int64_t>{0, 1, 5, 9}));
    ASSERT_EQ(progressed.size(), 12u);
    for (std::size_t i = 0; i < 12; ++i) EXPECT_EQ(progressed[i], static_cast<std::int64_t>(i + 1));
    EXPECT_EQ(losses, e.epoch_losses());
}

TEST(CneResumable, UniformNegativesAreThreadIndependent) {
    const Matrix<float> X = blobs();
    for (bool exclude : {false, true}) {
        CneOptions o = small(ContrastiveMode::neg);
        o.sampling = NegativeSampling::uniform;
        o.exclude_neighbors = exclude;
        o.n_jobs = 1;
        const CneResult a = CNE(o).fit(X.view());
        o.n_jobs = 3;
        const CneResult b = CNE(o).fit(X.view());
        EXPECT_EQ(a.embedding.storage(), b.embedding.storage()) << exclude;
        for (double v : a.epoch_losses) EXPECT_TRUE(std::isfinite(v));
        o.sampling = NegativeSampling::in_batch;
        o.exclude_neighbors = false;
        EXPECT_NE(CNE(o).fit(X.view()).embedding.storage(), a.embedding.storage());  // the source matters
    }
}

TEST(CneResumable, UniformSamplerExcludesHeadAndNeighbours) {
    const std::vector<std::uint32_t> excluded{0, 2, 3, 7};
    UniformSampler s(9, 1, 10);
    std::vector<int> seen(10, 0);
    for (int i = 0; i < 20000; ++i) ++seen[s.draw(5, excluded)];
    for (std::size_t p : {0u, 2u, 3u, 5u, 7u}) EXPECT_EQ(seen[p], 0) << p;
    // the five others, uniform: 4000 each, binomial sd ≈ 57; 5 sd
    for (std::size_t p : {1u, 4u, 6u, 8u, 9u}) EXPECT_NEAR(seen[p], 4000, 285) << p;
    EXPECT_EQ(parse_negative_sampling("in-batch"), NegativeSampling::in_batch);
    EXPECT_THROW(parse_negative_sampling("hard"), InvalidArgument);
}

namespace {
// A parametrisation that is not a table (a stand-in for a network).
// A parametrisation of the wrong size (5 points for a 4-point graph): the generic path refuses it.
class NotATable final : public Parametrization {
public:
    std::size_t n_points() const override { return 5; }
    std::size_t n_components() const override { return 2; }
    void forward(std::span<const index_t>, double*) override {}
    void backward(std::span<const index_t>, const double*) override {}
    void step(Optimizer&, double, int) override {}
    Matrix<double> embedding() override { return Matrix<double>(4, 2); }
};

CsrMatrix<double> ring(std::size_t n) {
    std::vector<Triplet<double>> t;
    for (std::size_t i = 0; i < n; ++i) {
        t.push_back({static_cast<index_t>(i), static_cast<index_t>((i + 1) % n), 1.0});
        t.push_back({static_cast<index_t>((i + 1) % n), static_cast<index_t>(i), 1.0});
    }
    return csr_from_triplets(n, n, t);
}
} // namespace

TEST(CneResumable, EdgePlanRefusesWhatItCannotTrain) {
    ContrastiveLossParams lp;
    EdgeBatchOptions eo;
    EdgeBatchPlan plan(ring(4), lp, eo, 2);
    NotATable net;
    auto opt = make_optimizer({});
    Trainer tr(plan, net, *opt);
    Phase ph;
    ph.n_steps = 1;
    ph.learning_rate = 1.0;
    tr.add_phase(ph);
    try {
        tr.run();
        ADD_FAILURE() << "a parametrisation of the wrong size was accepted";
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("maps 5 points"), std::string::npos) << e.what();
    }
    EXPECT_THROW(EdgeBatchPlan(ring(4), lp, [] {
        EdgeBatchOptions o;
        o.exclude_neighbors = true;  // in-batch negatives cannot avoid neighbours
        return o;
    }(), 2), InvalidArgument);
    EXPECT_THROW(EdgeBatchPlan(ring(3), lp, [] {
        EdgeBatchOptions o;
        o.sampling = NegativeSampling::uniform;
        o.exclude_neighbors = true;  // in a triangle every point neighbours every other
        return o;
    }(), 2), InvalidArgument);
    EXPECT_THROW(EdgeBatchPlan(ring(4), lp, [] {
        EdgeBatchOptions o;
        o.sampling = NegativeSampling::uniform;
        o.negative_samples = -1;
        return o;
    }(), 2), InvalidArgument);
    EXPECT_THROW(EdgeBatchPlan(CsrMatrix<double>(ring(4)), std::vector<WeightedContrastiveLoss>{}, eo, 2),
                 InvalidArgument);
}

// Uniform negatives reach points outside the batch's slots: their gradient is applied in the same batch, not left in
// the accumulator for a later batch. One batch (20 ring edges in both directions = 40 edges, 80 slots) among 1 000
// points: after one SGD step the isolated points drawn as negatives have moved (they stayed put when the step walked
// only the slots).
TEST(CneResumable, UniformNegativesOutsideTheBatchMoveInTheirBatch) {
    const std::size_t n = 1000;
    std::vector<Triplet<double>> t;
    for (std::size_t i = 0; i < 20; ++i) {
        t.push_back({static_cast<index_t>(i), static_cast<index_t>((i + 1) % 20), 1.0});
        t.push_back({static_cast<index_t>((i + 1) % 20), static_cast<index_t>(i), 1.0});
    }
    const CsrMatrix<double> graph = csr_from_triplets(n, n, t);
    ContrastiveLossParams lp;
    lp.mode = ContrastiveMode::neg;
    EdgeBatchOptions eo;
    eo.batch_size = 64;  // all 40 edges in one batch
    eo.sampling = NegativeSampling::uniform;
    eo.negative_samples = 20;
    eo.seed = 3;
    Matrix<double> Y0(n, 2);
    for (std::size_t i = 0; i < n; ++i) {
        Y0(i, 0) = std::sin(0.37 * static_cast<double>(i));
        Y0(i, 1) = std::cos(0.91 * static_cast<double>(i));
    }
    auto run = [&](int steps) {
        EdgeBatchPlan plan(graph, lp, eo, 2);
        EmbeddingTable table(Y0);
        auto opt = make_optimizer(OptimizerOptions{});
        Trainer tr(plan, table, *opt, 2);
        Phase ph;
        ph.n_steps = steps;
        ph.learning_rate = 0.5;
        tr.add_phase(ph);
        tr.run();
        return table.Y();
    };
    const Matrix<double> Y1 = run(1);
    std::size_t moved = 0;
    for (std::size_t i = 20; i < n; ++i) moved += (Y1(i, 0) != Y0(i, 0) || Y1(i, 1) != Y0(i, 1));
    EXPECT_GT(moved, 300u);  // 40 heads x 20 negatives drawn from 1 000 points: ~550 distinct isolated points
}

// The fused kernels read a float copy of the positions, which the plan must renew after every batch's step: the
// fused SGD step (momentum 0) and an optimizer's step through the table's gradient (momentum 0.9, Adam). A run with
// the fused kernel (one term of weight 1) is compared with the same run through the general per-head loss (two
// half-weight terms: the same loss, read from the double positions): they differ by the positions' float rounding
// (and the sum's), 1e-7 relative per step, so after 3 epochs of 4 batches they agree to 1e-4 of the map's spread. A
// stale copy (not renewed after a batch) moves the fused run by whole steps and fails this.
TEST(CneResumable, FusedKernelsReadPositionsRenewedEveryBatch) {
    const Matrix<float> X = blobs();
    CneOptions o = small(ContrastiveMode::infonce);
    const CneEmbedding prepared = CNE(o).prepare(X.view());
    const CsrMatrix<double> graph = prepared.result().graph;
    const Matrix<double> Y0 = prepared.embedding();
    ContrastiveLossParams lp;
    lp.mode = ContrastiveMode::infonce;
    EdgeBatchOptions eo;
    eo.batch_size = 400;  // several batches per epoch
    eo.clip = 4.0;
    eo.seed = 5;
    OptimizerOptions sgd, momentum, adam;
    momentum.momentum = 0.9;
    adam.kind = OptimizerOptions::Kind::adam;
    for (const OptimizerOptions& oo : {sgd, momentum, adam}) {
        auto run = [&](std::vector<WeightedContrastiveLoss> terms) {
            EdgeBatchPlan plan(graph, std::move(terms), eo, 2);
            EmbeddingTable table(Y0);
            auto opt = make_optimizer(oo);
            Trainer tr(plan, table, *opt, 2);
            Phase ph;
            ph.n_steps = 3;
            ph.learning_rate = oo.kind == OptimizerOptions::Kind::adam ? 0.05 : 0.5;
            tr.add_phase(ph);
            tr.run();
            return table.Y();
        };
        const Matrix<double> fused = run({{1.0, lp}});
        const Matrix<double> general = run({{0.5, lp}, {0.5, lp}});
        double spread = 0, diff = 0, moved = 0;
        for (std::size_t i = 0; i < fused.storage().size(); ++i) {
            spread = std::max(spread, std::abs(general.storage()[i]));
            diff = std::max(diff, std::abs(fused.storage()[i] - general.storage()[i]));
            moved = std::max(moved, std::abs(general.storage()[i] - Y0.storage()[i]));
        }
        EXPECT_GT(moved, 1e-2 * spread) << static_cast<int>(oo.kind) << " " << oo.momentum;  // the runs moved
        EXPECT_LT(diff, 1e-4 * spread) << static_cast<int>(oo.kind) << " " << oo.momentum;
    }
}
