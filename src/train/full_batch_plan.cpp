// The full-batch plan (train/full_batch_plan.hpp): openTSNE's iteration on the Trainer.
#include "nembed/train/full_batch_plan.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/optim/gains.hpp"  // clip_rows
#include "nembed/optim/optimizer.hpp"
#include "nembed/train/parametrization.hpp"
#include "nembed/train/phase.hpp"

namespace nembed {

void validate(const FullBatchOptions& o, std::size_t d) {
    if (o.max_grad_norm)
        require(std::isfinite(*o.max_grad_norm) && *o.max_grad_norm > 0.0,
                "max_grad_norm must be positive (or none), got " + std::to_string(*o.max_grad_norm));
    if (o.clip) {
        require(std::isfinite(o.clip->radius) && o.clip->radius > 0.0, "clip radius must be positive");
        require(o.clip->center.size() == d, "clip region centre must have one entry per embedding dimension");
    }
}

FullBatchPlan::FullBatchPlan(GradientFunction gradient, std::size_t n_points, FullBatchOptions options)
    : gradient_(std::move(gradient)), n_points_(n_points), options_(std::move(options)) {
    require(static_cast<bool>(gradient_), "full-batch plan: no gradient function");
    require(n_points_ >= 1, "full-batch plan: no points");
    if (options_.max_grad_norm)
        require(std::isfinite(*options_.max_grad_norm) && *options_.max_grad_norm > 0.0,
                "max_grad_norm must be positive (or none), got " + std::to_string(*options_.max_grad_norm));
}

double FullBatchPlan::auto_learning_rate(const Phase& phase) const {
    if (!options_.auto_learning_rate) return std::numeric_limits<double>::quiet_NaN();
    return static_cast<double>(n_points_) / phase.exaggeration;
}

Matrix<double>& FullBatchPlan::table_matrix(Parametrization& params) const {
    EmbeddingTable* table = params.table();
    require(table != nullptr, "the full-batch plan needs the embedding table as its parametrisation");
    Matrix<double>& Y = table->Y();
    require(Y.rows() == n_points_ && Y.cols() >= 1,
            "full-batch plan: the embedding has " + std::to_string(Y.rows()) + " points, the plan " +
                std::to_string(n_points_));
    if (options_.clip) validate(options_, Y.cols());
    return Y;
}

bool FullBatchPlan::cached_at(MatrixView<double> Y) const {
    return cached_ && cached_Y_.size() == Y.size() &&
           std::memcmp(cached_Y_.data(), Y.data, Y.size() * sizeof(double)) == 0;
}

double FullBatchPlan::evaluate(MatrixView<double> Y, double exaggeration, bool want_loss) {
    grad_.resize(Y.size());
    const double loss = gradient_(Y, exaggeration, grad_.data(), want_loss);
    cached_ = want_loss;
    if (want_loss) {
        cached_Y_.assign(Y.data, Y.data + Y.size());
        cached_exaggeration_ = exaggeration;
        cached_loss_ = loss;
    }
    return loss;
}

double FullBatchPlan::loss(Parametrization& params, double exaggeration) {
    const MatrixView<double> Y = table_matrix(params).view();
    if (cached_at(Y)) return cached_loss_;  // the loss does not depend on the exaggeration
    return evaluate(Y, exaggeration, true);
}

double FullBatchPlan::step(Parametrization& params, Optimizer& optimizer, const StepContext& ctx) {
    require(ctx.phase != nullptr, "full-batch plan: a step needs its phase");
    Matrix<double>& Y = table_matrix(params);
    const MatrixView<double> Yv = Y.view();
    double* y = Y.data();
    const std::size_t n = Yv.rows, d = Yv.cols;
    const int nt = ctx.n_threads;
    const double ex = ctx.phase->exaggeration;
    // The gradient of the last reporting evaluation is this step's when Y and the exaggeration are unchanged.
    if (!(cached_at(Yv) && cached_exaggeration_ == ex)) evaluate(Yv, ex, false);
    cached_ = false;  // Y moves below

    if (options_.max_grad_norm) clip_rows(grad_.data(), n, d, *options_.max_grad_norm, nt);
    optimizer.step(y, grad_.data(), n * d, ctx.learning_rate, nt);
    if (options_.clip) {
        const ClipRegion& c = *options_.clip;
        parallel_for(nt, n, [&](std::size_t i) {
            double* yi = y + i * d;
            double s = 0.0;
            for (std::size_t j = 0; j < d; ++j) s += (yi[j] - c.center[j]) * (yi[j] - c.center[j]);
            const double r = std::sqrt(s);
            if (r > c.radius) {
                for (std::size_t j = 0; j < d; ++j) yi[j] = c.center[j] + (yi[j] - c.center[j]) * (c.radius / r);
                optimizer.clear_momentum(i * d, d);
            }
        });
    }
    if (options_.center) {
        mean_.assign(d, 0.0);
        for (std::size_t j = 0; j < d; ++j) {
            mean_[j] = fixed_block_sum(nt, n, [&](std::size_t b, std::size_t e) {
                double s = 0.0;
                for (std::size_t i = b; i < e; ++i) s += y[i * d + j];
                return s;
            }) / static_cast<double>(n);
        }
        parallel_for(nt, n, [&](std::size_t i) {
            for (std::size_t j = 0; j < d; ++j) y[i * d + j] -= mean_[j];
        });
    }

    const bool last_of_phase = ctx.phase_step + 1 == ctx.phase->n_steps;
    if (!ctx.want_loss && !last_of_phase) return std::numeric_limits<double>::quiet_NaN();
    const double loss = evaluate(Yv, ex, true);
    require(std::isfinite(loss), "the loss became non-finite at " + unit() + " " + std::to_string(ctx.step + 1) +
                                     " (learning rate too large?)");
    return loss;
}

} // namespace nembed
