// The one training loop (train/trainer.hpp) with a toy plan: resumable across phases, learning-rate precedence,
// momentum per phase, callback stop, interrupt.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "nembed/core/error.hpp"
#include "nembed/core/interrupt.hpp"
#include "nembed/optim/optimizer.hpp"
#include "nembed/train/parametrization.hpp"
#include "nembed/train/plan.hpp"
#include "nembed/train/trainer.hpp"

using namespace nembed;

namespace {

struct Record {
    std::int64_t step, phase_step;
    std::string phase;
    double lr;
    bool want_loss;
    bool operator==(const Record&) const = default;
};

// y += lr each step (so Y records the sum of the rates); the auto rate is 1 / exaggeration.
class ToyPlan final : public BatchPlan {
public:
    explicit ToyPlan(bool has_auto = true) : has_auto_(has_auto) {}
    std::string unit() const override { return "step"; }
    double auto_learning_rate(const Phase& p) const override {
        return has_auto_ ? 1.0 / p.exaggeration : std::numeric_limits<double>::quiet_NaN();
    }
    double step(Parametrization& params, Optimizer&, const StepContext& ctx) override {
        log.push_back({ctx.step, ctx.phase_step, ctx.phase->name, ctx.learning_rate, ctx.want_loss});
        params.table()->Y()(0, 0) += ctx.learning_rate;
        return ctx.want_loss ? params.table()->Y()(0, 0) : std::numeric_limits<double>::quiet_NaN();
    }
    std::vector<Record> log;

private:
    bool has_auto_;
};

class RecordingOptimizer final : public Optimizer {
public:
    void step(double*, const double*, std::size_t, double, int) override {}
    void set_momentum(double m) override { momenta.push_back(m); }
    void reset() override {}
    std::string name() const override { return "recording"; }
    std::vector<double> momenta;
};

Phase phase(std::string name, int n, double ex = 1.0, std::optional<double> lr = {}, std::optional<double> m = {}) {
    Phase p;
    p.name = std::move(name);
    p.n_steps = n;
    p.exaggeration = ex;
    p.learning_rate = lr;
    p.momentum = m;
    return p;
}

} // namespace

TEST(Trainer, ResumableAcrossPhases) {
    auto setup = [](ToyPlan& plan, EmbeddingTable& table, RecordingOptimizer& opt) {
        auto tr = std::make_unique<Trainer>(plan, table, opt);
        tr->add_phase(phase("ee", 3, 4.0, std::nullopt, 0.5));
        tr->add_phase(phase("main", 4, 1.0, std::nullopt, 0.8));
        return tr;
    };
    ToyPlan pa, pb;
    EmbeddingTable ta(Matrix<double>(1, 1, 0.0)), tb(Matrix<double>(1, 1, 0.0));
    RecordingOptimizer oa, ob;
    auto a = setup(pa, ta, oa);
    auto b = setup(pb, tb, ob);
    EXPECT_EQ(a->steps_left(), 7);
    RunReport r1 = a->run(2);
    EXPECT_EQ(r1.steps, 2);
    EXPECT_EQ(r1.stop, StopReason::limit);
    EXPECT_EQ(a->steps_left(), 5);
    RunReport r2 = a->run(3);  // crosses the phase boundary
    EXPECT_EQ(r2.steps, 3);
    RunReport r3 = a->run();
    EXPECT_EQ(r3.steps, 2);
    EXPECT_EQ(r3.stop, StopReason::completed);
    EXPECT_TRUE(a->done());
    b->run();
    EXPECT_EQ(pa.log, pb.log);
    EXPECT_EQ(ta.Y()(0, 0), tb.Y()(0, 0));
    EXPECT_EQ(a->steps_done(), 7);
    // The phase-relative count restarts in each phase; momentum is set once at each phase start.
    ASSERT_EQ(pa.log.size(), 7u);
    EXPECT_EQ(pa.log[3].phase, "main");
    EXPECT_EQ(pa.log[3].phase_step, 0);
    EXPECT_EQ(pa.log[6].step, 6);
    EXPECT_EQ(oa.momenta, (std::vector<double>{0.5, 0.8}));
    EXPECT_EQ(ob.momenta, oa.momenta);
    // Auto rate 1 / exaggeration: 3 steps at 0.25, 4 at 1.
    EXPECT_DOUBLE_EQ(ta.Y()(0, 0), 3 * 0.25 + 4 * 1.0);
}

TEST(Trainer, LearningRatePrecedence) {
    // phase rate > the run's schedule > the plan's auto rule.
    ToyPlan plan;
    EmbeddingTable table(Matrix<double>(1, 1, 0.0));
    RecordingOptimizer opt;
    Trainer tr(plan, table, opt);
    LrSchedule sched;
    sched.learning_rate = 2.0;
    sched.anneal = LrAnneal::linear;
    sched.total_epochs = 4;
    tr.set_schedule(sched);
    tr.add_phase(phase("fixed", 2, 1.0, 0.7));
    tr.add_phase(phase("scheduled", 2, 5.0));
    tr.run();
    ASSERT_EQ(plan.log.size(), 4u);
    EXPECT_EQ(plan.log[0].lr, 0.7);
    EXPECT_EQ(plan.log[1].lr, 0.7);
    EXPECT_EQ(plan.log[2].lr, sched.at(2));  // global step 2 of the schedule
    EXPECT_EQ(plan.log[3].lr, sched.at(3));
    EXPECT_EQ(tr.last_learning_rate(), sched.at(3));

    ToyPlan auto_plan;
    Trainer ta(auto_plan, table, opt);
    ta.add_phase(phase("auto", 1, 5.0));
    ta.run();
    EXPECT_DOUBLE_EQ(auto_plan.log[0].lr, 0.2);

    // No phase rate, no schedule, no auto rule: a clear error naming the phase.
    ToyPlan no_auto(false);
    Trainer tn(no_auto, table, opt);
    tn.add_phase(phase("bare", 1));
    try {
        tn.run();
        FAIL() << "expected InvalidArgument";
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("'bare'"), std::string::npos) << e.what();
    }
    EXPECT_EQ(tn.steps_done(), 0);
    EXPECT_THROW(tn.add_phase(phase("bad", -1)), InvalidArgument);
    EXPECT_THROW(tn.add_phase(phase("bad", 1, 0.0)), InvalidArgument);
}

TEST(Trainer, CallbackStopsAndRunContinues) {
    ToyPlan plan;
    EmbeddingTable table(Matrix<double>(1, 1, 0.0));
    RecordingOptimizer opt;
    Trainer tr(plan, table, opt);
    tr.add_phase(phase("a", 5, 1.0, 1.0));
    tr.add_phase(phase("b", 4, 1.0, 1.0));
    TrainHooks h;
    h.callback_every = 2;
    std::vector<std::pair<std::string, int>> calls;
    h.callback = [&](const TrainEvent& e) {
        calls.emplace_back(e.phase, e.phase_step);
        EXPECT_EQ(e.loss, e.embedding(0, 0));  // the loss of the step, the embedding after it
        return e.phase == "b" && e.phase_step == 2;
    };
    RunReport r = tr.run(-1, h);
    EXPECT_EQ(r.stop, StopReason::callback);
    EXPECT_EQ(r.steps, 7);
    EXPECT_EQ(r.loss, 7.0);
    // Loss only on the callback period (phase-relative), not on other steps.
    for (const Record& rec : plan.log) EXPECT_EQ(rec.want_loss, (rec.phase_step + 1) % 2 == 0);
    EXPECT_EQ(calls, (std::vector<std::pair<std::string, int>>{{"a", 2}, {"a", 4}, {"b", 2}}));
    RunReport rest = tr.run();
    EXPECT_EQ(rest.steps, 2);
    EXPECT_TRUE(tr.done());
    EXPECT_EQ(table.Y()(0, 0), 9.0);
    // Without hooks no loss is asked for; evaluate_loss asks for it on the period without a callback.
    ToyPlan quiet;
    Trainer tq(quiet, table, opt);
    tq.add_phase(phase("q", 4, 1.0, 1.0));
    TrainHooks eval;
    eval.callback_every = 2;
    eval.evaluate_loss = true;
    tq.run(2);
    tq.run(-1, eval);
    EXPECT_FALSE(quiet.log[1].want_loss);
    EXPECT_TRUE(quiet.log[3].want_loss);
    EXPECT_FALSE(quiet.log[2].want_loss);
}

TEST(Trainer, InterruptBetweenWholeSteps) {
    ToyPlan plan;
    EmbeddingTable table(Matrix<double>(1, 1, 0.0));
    RecordingOptimizer opt;
    Trainer tr(plan, table, opt);
    tr.add_phase(phase("a", 10, 1.0, 1.0));
    TrainHooks h;
    h.who = "toy";
    h.progress = [](const TrainEvent& e) {
        if (e.step == 3) request_interrupt();
    };
    try {
        tr.run(-1, h);
        FAIL() << "expected Interrupted";
    } catch (const Interrupted& e) {
        EXPECT_NE(std::string(e.what()).find("toy interrupted at step 3"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(interrupt_requested());
    EXPECT_EQ(tr.steps_done(), 3);
    EXPECT_EQ(table.Y()(0, 0), 3.0);
    tr.run();  // continues where it stopped
    EXPECT_EQ(tr.steps_done(), 10);
    EXPECT_EQ(table.Y()(0, 0), 10.0);
}
