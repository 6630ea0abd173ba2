// The one training loop (train/trainer.hpp), the embedding table (train/parametrization.hpp) and phase checks.
#include "nembed/train/trainer.hpp"

#include <cmath>
#include <sstream>

#include "nembed/core/error.hpp"
#include "nembed/core/interrupt.hpp"
#include "nembed/core/log.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/core/timer.hpp"
#include "nembed/optim/optimizer.hpp"
#include "nembed/train/parametrization.hpp"
#include "nembed/train/plan.hpp"

namespace nembed {

void validate(const Phase& p) {
    const std::string who = "phase '" + p.name + "': ";
    require(p.n_steps >= 0, who + "n_steps must be >= 0, got " + std::to_string(p.n_steps));
    require(std::isfinite(p.exaggeration) && p.exaggeration > 0,
            who + "exaggeration must be positive, got " + std::to_string(p.exaggeration));
    require(std::isfinite(p.repulsion_strength) && p.repulsion_strength >= 0,
            who + "repulsion_strength must be >= 0, got " + std::to_string(p.repulsion_strength));
    if (p.momentum)
        require(std::isfinite(*p.momentum) && *p.momentum >= 0 && *p.momentum < 1,
                who + "momentum must lie in [0, 1), got " + std::to_string(*p.momentum));
    if (p.learning_rate)
        require(std::isfinite(*p.learning_rate) && *p.learning_rate > 0,
                who + "learning_rate must be positive, got " + std::to_string(*p.learning_rate));
    if (p.schedule) {
        try {
            p.schedule->validate();
        } catch (const InvalidArgument& e) {
            throw InvalidArgument(who + "schedule: " + e.what());
        }
    }
    if (p.loss_spec)
        require(std::isfinite(*p.loss_spec) && *p.loss_spec > 0,
                who + "loss_spec must be positive, got " + std::to_string(*p.loss_spec));
}

void EmbeddingTable::forward(std::span<const index_t> batch, double* out) {
    const std::size_t d = Y_.cols();
    for (std::size_t b = 0; b < batch.size(); ++b) {
        const double* y = Y_.row(static_cast<std::size_t>(batch[b]));
        std::copy(y, y + d, out + b * d);
    }
}

void EmbeddingTable::backward(std::span<const index_t> batch, const double* dY) {
    const std::size_t d = Y_.cols();
    if (grad_.size() != Y_.rows() * d) grad_.assign(Y_.rows() * d, 0.0);
    for (std::size_t b = 0; b < batch.size(); ++b) {
        double* g = grad_.data() + static_cast<std::size_t>(batch[b]) * d;
        for (std::size_t k = 0; k < d; ++k) g[k] += dY[b * d + k];
    }
}

void EmbeddingTable::step(Optimizer& optimizer, double lr, int n_threads) {
    if (grad_.size() != Y_.rows() * Y_.cols()) grad_.assign(Y_.rows() * Y_.cols(), 0.0);
    optimizer.step(Y_.data(), grad_.data(), grad_.size(), lr, n_threads);
    std::fill(grad_.begin(), grad_.end(), 0.0);
}

Trainer::Trainer(BatchPlan& plan, Parametrization& params, Optimizer& optimizer, int n_threads)
    : plan_(plan), params_(params), optimizer_(optimizer), n_threads_(n_threads) {
    require(n_threads >= 1, "Trainer: n_threads must be >= 1 (resolve n_jobs first)");
}

void Trainer::set_schedule(LrSchedule schedule) {
    schedule.validate();
    schedule_ = schedule;
}

void Trainer::add_phase(Phase phase) {
    validate(phase);
    phases_.push_back(std::move(phase));
}

std::int64_t Trainer::steps_left() const {
    std::int64_t s = -phase_step_;
    for (const auto& p : phases_) s += p.n_steps;
    return s;
}

MatrixView<double> Trainer::embedding_view(Matrix<double>& copy) const {
    // The table's positions are viewed in place; another parametrisation is evaluated into `copy`.
    if (EmbeddingTable* table = params_.table()) return table->Y().view();
    copy = params_.embedding();
    return copy.view();
}

RunReport Trainer::run(std::int64_t limit, const TrainHooks& hooks) {
    require(hooks.callback_every >= 1,
            "callbacks_every must be >= 1, got " + std::to_string(hooks.callback_every));
    RunReport report;
    Timer timer;
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const bool periodic = static_cast<bool>(hooks.callback) || hooks.verbose || hooks.evaluate_loss;
    auto event = [&](const Phase& ph, double loss) {
        TrainEvent ev;
        ev.phase = ph.name;
        ev.step = step_;
        ev.phase_step = phase_step_;
        ev.phase_steps = ph.n_steps;
        ev.loss = loss;
        ev.elapsed = timer.seconds();
        return ev;
    };
    if (hooks.callback && hooks.callback_at_start && step_ == 0 && !phases_.empty()) {
        TrainEvent ev = event(phases_.front(), nan);
        Matrix<double> copy;
        ev.embedding = embedding_view(copy);
        if (hooks.callback(ev)) {
            report.stop = StopReason::callback;
            return report;
        }
    }
    while (!phases_.empty()) {
        Phase& ph = phases_.front();
        if (phase_step_ >= ph.n_steps) {
            phases_.pop_front();
            phase_step_ = 0;
            phase_started_ = false;
            continue;
        }
        if (limit >= 0 && report.steps >= limit) {
            report.stop = StopReason::limit;
            return report;
        }
        if (interrupt_requested()) {
            clear_interrupt();
            throw Interrupted(hooks.who + " interrupted at " + plan_.unit() + " " + std::to_string(step_));
        }
        if (!phase_started_) {
            if (ph.reset_optimizer) optimizer_.reset();
            if (ph.momentum) optimizer_.set_momentum(*ph.momentum);
            phase_started_ = true;
        }
        StepContext ctx;
        ctx.step = step_;
        ctx.phase_step = phase_step_;
        ctx.phase = &ph;
        ctx.n_threads = n_threads_;
        if (ph.learning_rate)
            ctx.learning_rate = *ph.learning_rate;
        else if (ph.schedule)
            ctx.learning_rate = ph.schedule->at(phase_step_);
        else if (schedule_)
            ctx.learning_rate = schedule_->at(static_cast<int>(step_));
        else
            ctx.learning_rate = plan_.auto_learning_rate(ph);
        require(std::isfinite(ctx.learning_rate) && ctx.learning_rate >= 0,
                hooks.who + ": no learning rate for phase '" + ph.name + "' (give one or a schedule)");
        const bool at_period = hooks.callback_first_of_period ? step_ % hooks.callback_every == 0
                                                              : (phase_step_ + 1) % hooks.callback_every == 0;
        ctx.want_loss = periodic && at_period;
        const double loss = plan_.step(params_, optimizer_, ctx);
        last_lr_ = ctx.learning_rate;
        ++step_;
        ++phase_step_;
        ++report.steps;
        if (!std::isnan(loss)) report.loss = loss;
        if (hooks.progress) hooks.progress(event(ph, loss));
        if (ctx.want_loss) {
            if (hooks.verbose) {
                std::ostringstream msg;
                msg << hooks.who << ": " << ph.name << " " << plan_.unit() << " " << phase_step_ << "/" << ph.n_steps
                    << ", loss " << loss << ", " << timer.seconds() << " s";
                info(msg.str());
            }
            if (hooks.callback) {
                TrainEvent ev = event(ph, loss);
                Matrix<double> copy;
                ev.embedding = embedding_view(copy);
                if (hooks.callback(ev)) {
                    report.stop = StopReason::callback;
                    return report;
                }
            }
        }
    }
    return report;
}

} // namespace nembed
