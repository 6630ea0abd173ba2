// The edge-epoch plan (train/edge_epoch_plan.hpp) on the Trainer: umap-learn's per-pair update worked out by hand on
// two points, the phase's coefficients, the mean loss, and the refusals (optimizer, parametrisation, kernel, shapes).
#include <gtest/gtest.h>

#include <cmath>

#include "nembed/core/error.hpp"
#include "nembed/loss/bce.hpp"
#include "nembed/optim/adam.hpp"
#include "nembed/optim/sgd.hpp"
#include "nembed/train/edge_epoch_plan.hpp"
#include "nembed/train/parametrization.hpp"
#include "nembed/train/phase.hpp"
#include "nembed/train/trainer.hpp"

using namespace nembed;

namespace {

CsrMatrix<double> pair_graph() { return csr_from_triplets<double>(2, 2, {{0, 1, 1.0}, {1, 0, 1.0}}); }

Matrix<double> two_points() { return Matrix<double>(2, 2, {0.0, 0.0, 1.5, -0.5}); }

// umap-learn's attraction of y toward t, y += clip(−c⁺·(y − t))·α (c⁺ scaled by the exaggeration), in float as a
// 2-D fit by rows carries its points (umap-learn's float32 positions): the distance, c⁺
// (Bce<UmapCurve>::pair_coeff), the clip and the move in float.
void attract_f(double* y, const double* t, const UmapCurve& c, double alpha, double ex = 1.0) {
    float dx[2];
    for (int k = 0; k < 2; ++k) dx[k] = static_cast<float>(y[k]) - static_cast<float>(t[k]);
    const float D = dx[0] * dx[0] + dx[1] * dx[1];
    const float cp = static_cast<float>(ex) * Bce<UmapCurve>::pair_coeff<std::uint32_t>(
                                                 true, static_cast<float>(c.a), static_cast<float>(c.b),
                                                 static_cast<float>(2.0 * c.a * c.b), 0.0f, D);
    for (int k = 0; k < 2; ++k) {
        const float g = -cp * dx[k];
        y[k] = static_cast<float>(y[k]) + (g > 4.0f ? 4.0f : (g < -4.0f ? -4.0f : g)) * static_cast<float>(alpha);
    }
}

} // namespace

// Epoch 0 is idle (the edge's first sample is due at epoch 1 = w_max/w). By rows, epoch 1 applies the attraction
// twice per row (head of (i, j), tail of the mirrored (j, i)) against the snapshot; by edges (umap-learn's order,
// the default for small graphs), edge (0, 1) moves both ends in place by one clipped step, then edge (1, 0) does
// from the moved points. negative_sample_rate 1 draws no negative in epoch 1. Bitwise against the updates written
// out here (by rows in float: a 2-D fit's rows carry their points in float).
TEST(EdgeEpochPlan, OneEdgeMovesBothEndsByUmapLearnsRule) {
    for (const EdgeOrder order : {EdgeOrder::rows, EdgeOrder::edges, EdgeOrder::automatic})
    for (double ex : {1.0, 3.0}) {
        SCOPED_TRACE(static_cast<int>(order));
        const UmapCurve c{1.2, 0.9};
        EdgeEpochOptions eo;
        eo.n_epochs = 10;
        eo.negative_sample_rate = 1.0;
        eo.order = order;
        EdgeEpochPlan plan(pair_graph(), c, eo);
        EmbeddingTable table(two_points());
        Sgd sgd;
        Trainer tr(plan, table, sgd);
        LrSchedule s;
        s.learning_rate = 0.8;
        s.anneal = LrAnneal::umap;
        s.total_epochs = 10;
        tr.set_schedule(s);
        Phase ph;
        ph.n_steps = 10;
        ph.exaggeration = ex;
        tr.add_phase(ph);
        std::vector<double> losses;
        TrainHooks hooks;
        hooks.callback_every = 1;
        hooks.callback = [&](const TrainEvent& ev) {
            losses.push_back(ev.loss);
            return false;
        };
        tr.run(1, hooks);
        EXPECT_EQ(table.Y().storage(), two_points().storage());  // epoch 0: nothing due
        EXPECT_EQ(losses.at(0), 0.0);                             // no pair sampled
        tr.run(1, hooks);
        const Matrix<double> Y0 = two_points();
        double y0[2] = {Y0(0, 0), Y0(0, 1)}, y1[2] = {Y0(1, 0), Y0(1, 1)};
        const double alpha = s.at(1);
        double l0 = 0;
        if (order == EdgeOrder::rows) {
            // by rows in float (the two points are floats already)
            for (int r = 0; r < 2; ++r) {
                const auto dx0 = static_cast<float>(y0[0] - Y0(1, 0)), dx1 = static_cast<float>(y0[1] - Y0(1, 1));
                l0 += Bce<UmapCurve>::attraction_loss(c, dx0 * dx0 + dx1 * dx1);
                attract_f(y0, Y0.row(1), c, alpha, ex);
            }
            for (int r = 0; r < 2; ++r) attract_f(y1, Y0.row(0), c, alpha, ex);
        } else {
            // umap-learn: grad_d = clip(c·(current − other)); current += grad_d·α; other −= grad_d·α
            auto edge = [&](double* h, double* t) {
                const double D = (h[0] - t[0]) * (h[0] - t[0]) + (h[1] - t[1]) * (h[1] - t[1]);
                l0 += Bce<UmapCurve>::attraction_loss(c, D) / 2;  // rows are no longer symmetric: the mean of both
                const double cp = ex * Bce<UmapCurve>::attraction_coeff(c, D);
                for (int k = 0; k < 2; ++k) {
                    const double g = clip_value(-cp * (h[k] - t[k]));
                    h[k] += g * alpha;
                    t[k] -= g * alpha;
                }
            };
            edge(y0, y1);
            edge(y1, y0);
            l0 *= 2;
        }
        EXPECT_EQ(table.Y()(0, 0), y0[0]);
        EXPECT_EQ(table.Y()(0, 1), y0[1]);
        EXPECT_EQ(table.Y()(1, 0), y1[0]);
        EXPECT_EQ(table.Y()(1, 1), y1[1]);
        // four attraction pairs, rows symmetric: the mean is row 0's mean
        EXPECT_NEAR(losses.at(1), l0 / 2, 1e-15 * l0);
        EXPECT_GT(std::abs(table.Y()(0, 0) - Y0(0, 0)), 1e-3);
    }
}

// With a fixed reference (transform) only the table's rows move: toward their two neighbours, repelled by negatives
// drawn from the whole reference (38 points far away on a circle); the reference is untouched.
TEST(EdgeEpochPlan, TransformMovesOnlyTheNewPoints) {
    Matrix<double> ref(40, 2);
    ref(1, 0) = 1.5;
    ref(1, 1) = -0.5;
    for (std::size_t i = 2; i < 40; ++i) {
        ref(i, 0) = 30 * std::cos(0.17 * static_cast<double>(i));
        ref(i, 1) = 30 * std::sin(0.17 * static_cast<double>(i));
    }
    const Matrix<double> ref0 = ref;
    CsrMatrix<double> g = csr_from_triplets<double>(1, 40, {{0, 0, 1.0}, {0, 1, 0.5}});
    EdgeEpochOptions eo;
    eo.n_epochs = 50;
    eo.seed = 3;
    eo.family = SamplingFamily::umap_transform;
    EdgeEpochPlan plan(g, UmapCurve{}, eo, ref);
    EmbeddingTable table(Matrix<double>(1, 2, {5.0, 5.0}));
    Sgd sgd;
    Trainer tr(plan, table, sgd);
    Phase ph;
    ph.n_steps = 50;
    ph.learning_rate = 0.25;
    tr.add_phase(ph);
    tr.run();
    EXPECT_EQ(ref.storage(), ref0.storage());
    const double d_before = std::hypot(5.0 - 0.75, 5.0 + 0.25);
    const double d_after = std::hypot(table.Y()(0, 0) - 0.75, table.Y()(0, 1) + 0.25);
    EXPECT_LT(d_after, 0.5 * d_before);  // pulled toward its neighbours' middle
}

namespace {
// A parametrisation that is not the free table (as a network would be).
class NotATable final : public Parametrization {
public:
    std::size_t n_points() const override { return 2; }
    std::size_t n_components() const override { return 2; }
    void forward(std::span<const index_t>, double*) override {}
    void backward(std::span<const index_t>, const double*) override {}
    void step(Optimizer&, double, int) override {}
    Matrix<double> embedding() override { return Matrix<double>(2, 2); }
};

template <typename F>
void expect_invalid(F f, const std::string& fragment) {
    try {
        f();
        ADD_FAILURE() << "no exception; expected one mentioning '" << fragment << "'";
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
}
} // namespace

TEST(EdgeEpochPlan, RefusesOtherOptimizersParametrisationsKernelsAndShapes) {
    EdgeEpochOptions eo;
    eo.n_epochs = 5;
    EdgeEpochPlan plan(pair_graph(), UmapCurve{}, eo);
    Phase ph;
    ph.n_steps = 5;
    StepContext ctx;
    ctx.phase = &ph;
    ctx.learning_rate = 1.0;
    EmbeddingTable table(two_points());
    Adam adam;
    expect_invalid([&] { plan.step(table, adam, ctx); }, "plain SGD");
    Sgd momentum({0.9, 0.0});
    expect_invalid([&] { plan.step(table, momentum, ctx); }, "plain SGD");
    Sgd decay({0.0, 1e-4});
    expect_invalid([&] { plan.step(table, decay, ctx); }, "plain SGD");
    Sgd sgd;
    NotATable net;
    expect_invalid([&] { plan.step(net, sgd, ctx); }, "embedding table");
    EmbeddingTable three(Matrix<double>(3, 2));
    expect_invalid([&] { plan.step(three, sgd, ctx); }, "3 points");
    expect_invalid([&] { EdgeEpochPlan p(pair_graph(), CosineKernel{}, eo); }, "cosine");
    expect_invalid([&] { EdgeEpochPlan p(pair_graph(), CauchyKernel{0.1}, eo); }, "eps");
    expect_invalid([&] { EdgeEpochPlan p(csr_from_triplets<double>(1, 2, {{0, 1, 1.0}}), UmapCurve{}, eo); },
                   "square");
    eo.negative_sample_rate = 0;
    expect_invalid([&] { EdgeEpochPlan p(pair_graph(), UmapCurve{}, eo); }, "negative_sample_rate");
    eo.negative_sample_rate = 5;
    eo.n_epochs = 0;
    expect_invalid([&] { EdgeEpochPlan p(pair_graph(), UmapCurve{}, eo); }, "n_epochs");
    EXPECT_NO_THROW(plan.step(table, sgd, ctx));
}

// The plan takes any kernel with w <= 1: a Cauchy-kernel UMAP (t-SNE's kernel in umap-learn's scheme) runs and
// gives a different layout from the UMAP curve's.
TEST(EdgeEpochPlan, GenericKernelsRun) {
    CsrMatrix<double> g = csr_from_triplets<double>(
        4, 4, {{0, 1, 1.0}, {1, 0, 1.0}, {2, 3, 1.0}, {3, 2, 1.0}, {1, 2, 0.3}, {2, 1, 0.3}});
    auto run = [&](OutputKernel k) {
        EdgeEpochOptions eo;
        eo.n_epochs = 30;
        eo.seed = 1;
        EdgeEpochPlan plan(g, k, eo);
        EmbeddingTable table(Matrix<double>(4, 2, {0, 0, 1, 0, 0, 1, 1, 1}));
        Sgd sgd;
        Trainer tr(plan, table, sgd, 2);
        Phase ph;
        ph.n_steps = 30;
        ph.learning_rate = 0.5;
        tr.add_phase(ph);
        tr.run();
        for (double v : table.Y().storage()) EXPECT_TRUE(std::isfinite(v));
        return table.Y();
    };
    const Matrix<double> a = run(CauchyKernel{1.0}), b = run(UmapCurve{}), c = run(StudentTKernel{0.5});
    EXPECT_NE(a.storage(), b.storage());
    EXPECT_NE(a.storage(), c.storage());
    EXPECT_EQ(run(CauchyKernel{1.0}).storage(), a.storage());
}
