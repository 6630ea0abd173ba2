#pragma once
/// @file trainer.hpp
/// The one training loop (docs/core.md §6): runs a queue of phases over a batch plan, a parametrisation and an
/// optimizer, with the learning-rate schedule, one callback type, one progress report and one interrupt path for
/// every method. Resumable as qdtsne's Status: `run(50)` twice takes exactly the steps of `run(100)`.
///
///   Trainer tr(plan, table, *optimizer);
///   tr.add_phase({.name = "early_exaggeration", .n_steps = 250, .exaggeration = 12});
///   tr.add_phase({.name = "main", .n_steps = 500});
///   tr.run(100);   // stops after 100 steps, inside the first phase
///   tr.run();      // the remaining 650
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <optional>
#include <string>

#include "nembed/core/matrix.hpp"
#include "nembed/optim/schedule.hpp"
#include "nembed/train/phase.hpp"

namespace nembed {

class BatchPlan;
class Optimizer;
class Parametrization;

/// What callbacks and progress hooks receive.
struct TrainEvent {
    std::string phase;           ///< the phase's name
    std::int64_t step = 0;       ///< global steps done (from 1)
    int phase_step = 0;          ///< steps done in the phase (from 1)
    int phase_steps = 0;         ///< steps planned for the phase
    double loss = std::numeric_limits<double>::quiet_NaN();  ///< when evaluated at this step
    double elapsed = 0.0;        ///< seconds since this run() started
    MatrixView<double> embedding;  ///< callbacks only (empty in progress events)
};
/// Returning true stops the run after the current step (report.stop = callback).
using TrainCallback = std::function<bool(const TrainEvent&)>;
/// Called after every step.
using TrainProgress = std::function<void(const TrainEvent&)>;

struct TrainHooks {
    TrainCallback callback;
    int callback_every = 50;   ///< steps between callbacks (also the loss-logging period when verbose); >= 1
    bool callback_at_start = false;  ///< also call before the first step (cne calls with epoch −1)
    /// Where periods fall. false: after the last step of each period of a phase (steps every, 2·every, ... of the
    /// phase). true: over the run's global steps, after the first step of each period (steps 1, 1 + every, ...:
    /// cne's `epoch % save_freq == 0` on 0-based epochs, across its early-exaggeration phase).
    bool callback_first_of_period = false;
    TrainProgress progress;
    /// Evaluate the loss every callback_every steps even without a callback or verbose (for a progress display
    /// that shows it; the plan may report it on other steps too, t-SNE at the end of each phase).
    bool evaluate_loss = false;
    bool verbose = false;      ///< log the loss every callback_every steps through nembed::info
    std::string who = "train";  ///< message prefix ("t-SNE", "UMAP", "CNE")
};

enum class StopReason { completed, limit, callback };

struct RunReport {
    std::int64_t steps = 0;    ///< steps taken by this call
    double loss = std::numeric_limits<double>::quiet_NaN();  ///< last evaluated loss
    StopReason stop = StopReason::completed;
};

class Trainer {
public:
    /// The plan, parametrisation and optimizer are referenced, not owned: keep them alive while in use.
    Trainer(BatchPlan& plan, Parametrization& params, Optimizer& optimizer, int n_threads = 1);

    /// A schedule over all steps of all phases (cne, UMAP); without one a phase's learning_rate or the plan's auto
    /// rule applies. Throws InvalidArgument for a bad schedule.
    void set_schedule(LrSchedule schedule);
    /// Appends a phase to the queue (validated).
    void add_phase(Phase phase);
    /// Runs up to `limit` further steps (all queued ones when limit < 0), phase after phase. Polls
    /// nembed::interrupt_requested() before every step: a request is cleared and nembed::Interrupted thrown, with
    /// the state consistent (whole steps). Throws InvalidArgument when no learning rate can be resolved.
    RunReport run(std::int64_t limit = -1, const TrainHooks& hooks = {});

    bool done() const { return phases_.empty(); }
    std::int64_t steps_done() const { return step_; }
    /// Steps still queued.
    std::int64_t steps_left() const;
    /// The learning rate used by the last step (NaN before any).
    double last_learning_rate() const { return last_lr_; }

private:
    // What a callback sees: the table itself, or all positions evaluated into `copy`.
    MatrixView<double> embedding_view(Matrix<double>& copy) const;

    BatchPlan& plan_;
    Parametrization& params_;
    Optimizer& optimizer_;
    int n_threads_;
    std::optional<LrSchedule> schedule_;
    std::deque<Phase> phases_;
    int phase_step_ = 0;         // steps done in phases_.front()
    bool phase_started_ = false;  // its momentum was applied
    std::int64_t step_ = 0;
    double last_lr_ = std::numeric_limits<double>::quiet_NaN();
};

} // namespace nembed
