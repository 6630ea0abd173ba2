// TorchDR's NeighborEmbedding driver and its SNE, TSNE, InfoTSNE, LargeVis (methods/neighbor_embedding.hpp).
#include "nembed/methods/neighbor_embedding.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>

#include "nembed/affinity/perplexity.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/log.hpp"
#include "nembed/core/strings.hpp"
#include "nembed/init/pca.hpp"
#include "nembed/init/random.hpp"
#include "nembed/init/user.hpp"
#include "nembed/loss/ne_loss.hpp"
#include "nembed/optim/optimizer.hpp"
#include "nembed/train/parametrization.hpp"

namespace nembed {
namespace {

std::string num(double v) { return std::to_string(v); }

bool is_sgd(const NeighborEmbeddingOptions& o) { return to_lower(o.optimizer) == "sgd"; }

OptimizerOptions::Kind optimizer_kind(const std::string& name) {
    const std::string s = to_lower(name);
    if (s == "sgd") return OptimizerOptions::Kind::sgd;
    if (s == "adam") return OptimizerOptions::Kind::adam;
    throw InvalidArgument("optimizer: '" + name + "' is not supported (supported: SGD, Adam)");
}

// The phase's schedule: TorchDR's scheduler built on the phase's lr (a constant when there is none).
LrSchedule phase_schedule(const NeighborEmbeddingOptions& o, double lr) {
    LrSchedule s;
    s.learning_rate = lr;
    s.anneal = parse_torch_scheduler(o.scheduler);
    if (s.anneal == LrAnneal::none) return s;
    if (!o.scheduler_kwargs) {
        require(s.anneal == LrAnneal::linear_lr, "scheduler_kwargs: 'auto' is only defined for LinearLR; give the " +
                                                     to_string(s.anneal) + " arguments");
        // TorchDR's auto: from lr to 0 over max_iter steps (not restarted shorter after the exaggeration).
        s.start_factor = 1.0;
        s.end_factor = 0.0;
        s.total_iters = o.max_iter;
        return s;
    }
    const SchedulerKwargs& k = *o.scheduler_kwargs;
    s.start_factor = k.start_factor;
    s.end_factor = k.end_factor;
    s.total_iters = k.total_iters;
    if (s.anneal == LrAnneal::cosine_annealing_lr) {
        require(k.T_max.has_value(), "scheduler_kwargs: CosineAnnealingLR needs T_max");
        s.t_max = *k.T_max;
        s.eta_min = k.eta_min;
    }
    if (s.anneal == LrAnneal::exponential_lr) {
        require(k.gamma.has_value(), "scheduler_kwargs: ExponentialLR needs gamma");
        s.gamma = *k.gamma;
    }
    try {
        s.validate();
    } catch (const InvalidArgument& e) {
        throw InvalidArgument(std::string("scheduler_kwargs: ") + e.what());
    }
    return s;
}

// The ceiling of exaggerated steps: TorchDR ends the phase after the step whose index is early_exaggeration_iter.
int exaggerated_steps(const NeighborEmbeddingOptions& o) {
    if (!(o.early_exaggeration_coeff > 1.0)) return 0;
    return static_cast<int>(std::min<std::int64_t>(std::int64_t(o.early_exaggeration_iter) + 1, o.max_iter));
}

} // namespace

NeInit parse_ne_init(const std::string& name) {
    const std::string s = to_lower(name);
    if (s == "pca") return NeInit::pca;
    if (s == "random" || s == "normal") return NeInit::random;
    throw InvalidArgument("init: '" + name + "' is not supported (supported: pca, random, normal, or an array)");
}

std::string to_string(NeStop s) {
    switch (s) {
        case NeStop::max_iter: return "max_iter";
        case NeStop::converged: return "converged (gradient norm below min_grad_norm)";
        case NeStop::callback: return "callback";
    }
    return "?";
}

NeBackend parse_ne_backend(const std::string& name) {
    const std::string s = to_lower(name);
    if (s == "exact" || s == "none") return NeBackend::exact;
    if (s == "bh" || s == "barnes_hut" || s == "barnes-hut") return NeBackend::bh;
    if (s == "fft") return NeBackend::fft;
    throw InvalidArgument("backend: '" + name + "' is not supported (supported: exact, bh, fft)");
}
std::string to_string(NeBackend b) {
    switch (b) {
        case NeBackend::exact: return "exact";
        case NeBackend::bh: return "bh";
        case NeBackend::fft: return "fft";
    }
    return "?";
}

void validate(const NeighborEmbeddingOptions& o, std::size_t n) {
    require(n >= 2, "neighbor embedding: needs at least 2 samples, got " + std::to_string(n));
    require(o.n_components >= 1, "n_components must be >= 1");
    if (o.lr) require(std::isfinite(*o.lr) && *o.lr > 0, "lr must be positive (or auto), got " + num(*o.lr));
    optimizer_kind(o.optimizer);
    if (o.optimizer_kwargs) {
        const OptimizerKwargs& k = *o.optimizer_kwargs;
        OptimizerOptions oo;
        oo.kind = optimizer_kind(o.optimizer);
        oo.momentum = k.momentum;
        oo.weight_decay = k.weight_decay;
        oo.beta1 = k.beta1;
        oo.beta2 = k.beta2;
        oo.adam_eps = k.eps;
        try {
            validate(oo);
        } catch (const InvalidArgument& e) {
            throw InvalidArgument(std::string("optimizer_kwargs: ") + e.what());
        }
    }
    phase_schedule(o, 1.0);  // the scheduler's name and kwargs
    require(std::isfinite(o.min_grad_norm) && o.min_grad_norm >= 0, "min_grad_norm must be >= 0, got " +
                                                                          num(o.min_grad_norm));
    require(o.max_iter >= 1, "max_iter must be >= 1, got " + std::to_string(o.max_iter));
    require(std::isfinite(o.init_scaling) && o.init_scaling > 0, "init_scaling must be positive, got " +
                                                                      num(o.init_scaling));
    require(std::isfinite(o.early_exaggeration_coeff) && o.early_exaggeration_coeff > 0,
            "early_exaggeration_coeff must be positive, got " + num(o.early_exaggeration_coeff));
    require(o.early_exaggeration_iter >= 0, "early_exaggeration_iter must be >= 0, got " +
                                                std::to_string(o.early_exaggeration_iter));
    require(std::isfinite(o.repulsion_strength) && o.repulsion_strength > 0,
            "repulsion_strength must be positive, got " + num(o.repulsion_strength));
    require(o.check_interval >= 1, "check_interval must be >= 1, got " + std::to_string(o.check_interval));
    require(o.n_threads >= 1, "n_threads must be >= 1 (resolve n_jobs first)");
    if (o.init == NeInit::array) require(o.init_array.has_value(), "init: an array was announced but not given");
}

double ne_learning_rate(const NeighborEmbeddingOptions& o, std::size_t n, double exaggeration) {
    if (o.lr) return *o.lr;
    return std::max(static_cast<double>(n) / exaggeration / 4.0, 50.0);
}

std::vector<Phase> ne_phases(const NeighborEmbeddingOptions& o, std::size_t n) {
    validate(o, n);
    const bool auto_momentum = !o.optimizer_kwargs && is_sgd(o);
    std::vector<Phase> phases;
    const int ex_steps = exaggerated_steps(o);
    Phase p;
    p.name = "main";
    p.n_steps = o.max_iter - ex_steps;
    p.repulsion_strength = o.repulsion_strength;
    if (auto_momentum) p.momentum = 0.8;
    p.schedule = phase_schedule(o, ne_learning_rate(o, n, 1.0));
    if (ex_steps > 0) {
        Phase e;
        e.name = "early_exaggeration";
        e.n_steps = ex_steps;
        e.exaggeration = o.early_exaggeration_coeff;
        e.repulsion_strength = o.repulsion_strength;
        if (auto_momentum) e.momentum = 0.5;
        e.schedule = phase_schedule(o, ne_learning_rate(o, n, o.early_exaggeration_coeff));
        phases.push_back(e);
        p.reset_optimizer = true;  // TorchDR re-creates the optimizer when the exaggeration ends
        if (!o.rederive_after_exaggeration) {
            // torch.optim's setdefault on the reused param group keeps the first optimizer's rate and momentum;
            // the new scheduler starts from the rate the group holds (the old scheduler's after its last step).
            p.momentum = e.momentum;
            p.schedule = phase_schedule(o, e.schedule->at(ex_steps));
        }
    }
    phases.push_back(p);
    return phases;
}

Matrix<double> ne_initial_embedding(const NeighborEmbeddingOptions& o, MatrixView<float> X, std::size_t n) {
    const std::size_t d = o.n_components;
    Matrix<double> Y;
    switch (o.init) {
        case NeInit::pca: {
            require(X.rows == n && X.data != nullptr, "init: pca needs the data X (n x D)");
            require(d <= X.cols, "init: pca needs n_components <= the data's columns (" + std::to_string(X.cols) +
                                     "); use init = random");
            const PcaResult r = pca(X, d, o.n_threads);
            Y = Matrix<double>(n, d);
            for (std::size_t k = 0; k < n * d; ++k) Y.data()[k] = static_cast<double>(r.scores.data()[k]);
            break;
        }
        case NeInit::random: Y = random_init(n, d, o.random_state, 1.0); break;
        case NeInit::array: Y = user_init(o.init_array->view(), n, d); break;
    }
    // init_scaling · Y / std(Y[:, 0]) with torch's unbiased std.
    double mean = 0.0;
    for (std::size_t i = 0; i < n; ++i) mean += Y(i, 0);
    mean /= static_cast<double>(n);
    double ss = 0.0;
    for (std::size_t i = 0; i < n; ++i) ss += (Y(i, 0) - mean) * (Y(i, 0) - mean);
    const double sd = std::sqrt(ss / static_cast<double>(n - 1));
    require(std::isfinite(sd) && sd > 0, "init: the first column of the initial embedding is constant");
    const double f = o.init_scaling / sd;
    for (std::size_t k = 0; k < Y.size(); ++k) Y.data()[k] *= f;
    return Y;
}

NeResult run_neighbor_embedding(Matrix<double> Y0, NeGradient loss, const NeighborEmbeddingOptions& o,
                                TrainHooks hooks) {
    const std::size_t n = Y0.rows();
    require(Y0.cols() == o.n_components, "neighbor embedding: the initial embedding has " +
                                             std::to_string(Y0.cols()) + " columns, n_components is " +
                                             std::to_string(o.n_components));
    const std::vector<Phase> phases = ne_phases(o, n);
    if (!o.lr && !is_sgd(o) && o.verbose)
        warn("lr 'auto' is meant for the SGD optimizer (TorchDR's warning)");
    OptimizerOptions oo;
    oo.kind = optimizer_kind(o.optimizer);
    if (o.optimizer_kwargs) {
        oo.momentum = o.optimizer_kwargs->momentum;
        oo.weight_decay = o.optimizer_kwargs->weight_decay;
        oo.beta1 = o.optimizer_kwargs->beta1;
        oo.beta2 = o.optimizer_kwargs->beta2;
        oo.adam_eps = o.optimizer_kwargs->eps;
    }
    std::unique_ptr<Optimizer> optimizer = make_optimizer(oo);
    EmbeddingTable table(std::move(Y0));
    NeighborEmbeddingPlan plan(std::move(loss));
    Trainer trainer(plan, table, *optimizer, o.n_threads);
    for (const Phase& p : phases) trainer.add_phase(p);

    // TorchDR's convergence check after steps 0, check_interval, 2·check_interval, ... (0-based), then the user's
    // callback at the same points.
    bool converged = false;
    TrainCallback user = hooks.callback;
    hooks.callback_every = o.check_interval;
    hooks.callback_first_of_period = true;
    hooks.callback_at_start = false;
    hooks.verbose = hooks.verbose || o.verbose;
    if (hooks.who == "train") hooks.who = "NeighborEmbedding";
    hooks.callback = [&](const TrainEvent& ev) {
        if (plan.last_grad_norm() < o.min_grad_norm) {
            converged = true;
            if (o.verbose)
                info(hooks.who + ": convergence reached at iteration " + std::to_string(ev.step - 1) +
                     " with gradient norm " + num(plan.last_grad_norm()));
            return true;
        }
        return user ? user(ev) : false;
    };
    const RunReport rep = trainer.run(-1, hooks);
    NeResult r;
    r.embedding = std::move(table.Y());
    r.n_iter = static_cast<int>(trainer.steps_done());
    r.stop = converged ? NeStop::converged : (rep.stop == StopReason::callback ? NeStop::callback : NeStop::max_iter);
    r.loss = rep.loss;
    r.grad_norm = plan.last_grad_norm();
    return r;
}

CsrMatrix<double> torchdr_entropic_affinity(const KnnGraph& graph, double perplexity, int max_iter_affinity,
                                            int n_threads) {
    const std::size_t n = graph.n_points;
    require(std::isfinite(perplexity) && perplexity > 0, "perplexity must be positive, got " + num(perplexity));
    require(perplexity < static_cast<double>(n), "perplexity (" + num(perplexity) +
                                                     ") must be smaller than the number of samples (" +
                                                     std::to_string(n) + ")");
    require(max_iter_affinity >= 1, "max_iter_affinity must be >= 1");
    PerplexityOptions po;
    po.perplexity = perplexity;
    po.symmetrize = false;
    po.calibration.max_iter = max_iter_affinity;
    po.n_threads = n_threads;
    CsrMatrix<double> P = perplexity_conditional(graph, po);
    const double inv_n = 1.0 / static_cast<double>(n);
    for (double& v : P.values) v *= inv_n;
    return P;
}

namespace torchdr {
namespace {

void check_entropic(const EntropicOptions& o, std::size_t n) {
    require(std::isfinite(o.perplexity) && o.perplexity > 0, "perplexity must be positive, got " + num(o.perplexity));
    require(o.perplexity < static_cast<double>(n), "perplexity (" + num(o.perplexity) +
                                                       ") must be smaller than the number of samples (" +
                                                       std::to_string(n) + ")");
    validate(static_cast<const NeighborEmbeddingOptions&>(o), n);
}

CsrMatrix<double> affinity_from_data(const EntropicOptions& o, MatrixView<float> X) {
    check_entropic(o, X.rows);
    const std::size_t k = perplexity_neighbors(X.rows, o.perplexity);
    const KnnGraph graph = find_neighbors(X, k, fit_knn_options(o.knn_method, Metric::euclidean, o.random_state,
                                                                o.n_threads));
    return torchdr_entropic_affinity(graph, o.perplexity, o.max_iter_affinity, o.n_threads);
}

// The points each point must not draw: its row of P (its kNN), sorted (CSR rows are).
NeNegatives negatives_for(const CsrMatrix<double>& P, std::size_t m, bool exclude, std::uint64_t seed) {
    NeNegatives neg;
    neg.n_negatives = m;
    neg.seed = seed;
    if (exclude) {
        neg.excluded_ptr.assign(P.indptr.begin(), P.indptr.end());
        neg.excluded.reserve(P.indices.size());
        for (index_t j : P.indices) neg.excluded.push_back(static_cast<std::uint32_t>(j));
    }
    return neg;
}

template <typename Options, typename MakeLoss>
NeResult fit_with(const Options& o, const CsrMatrix<double>& P, MatrixView<float> X, const TrainHooks& hooks,
                  const char* who, MakeLoss&& make_loss) {
    check_entropic(o, P.n_rows);
    Matrix<double> Y0 = ne_initial_embedding(o, X, P.n_rows);
    TrainHooks h = hooks;
    if (h.who == "train") h.who = who;
    return make_loss([&](NeGradient loss) { return run_neighbor_embedding(std::move(Y0), std::move(loss), o, h); });
}

} // namespace

NeResult SNE::fit_transform_affinity(const CsrMatrix<double>& P, MatrixView<float> X, const TrainHooks& hooks) const {
    return fit_with(options_, P, X, hooks, "SNE", [&](auto&& run) {
        auto loss = std::make_shared<NeSneLoss>(P, options_.n_threads);
        return run([loss](MatrixView<double> Y, const NeStepInfo& s, double* g, bool w) { return (*loss)(Y, s, g, w); });
    });
}
NeResult SNE::fit_transform(MatrixView<float> X, const TrainHooks& hooks) const {
    return fit_transform_affinity(affinity_from_data(options_, X), X, hooks);
}

NeResult TSNE::fit_transform_affinity(const CsrMatrix<double>& P, MatrixView<float> X, const TrainHooks& hooks) const {
    const TSNEOptions& o = options_;
    std::shared_ptr<Repulsion> rep;
    switch (o.backend) {
        case NeBackend::exact: rep = make_exact_repulsion(o.n_threads); break;
        case NeBackend::bh: rep = make_barnes_hut_repulsion(o.theta, o.n_threads); break;
        case NeBackend::fft: {
            require(o.n_components <= 2, "backend fft needs n_components 1 or 2, got " +
                                             std::to_string(o.n_components));
            FftOptions f = o.fft;
            f.n_threads = o.n_threads;
            rep = make_fft_repulsion(f);
            break;
        }
    }
    const OutputKernel kernel = StudentTKernel(1.0);
    const std::string why = rep->unsupported_reason(kernel, o.n_components);
    require(why.empty(), "backend " + to_string(o.backend) + ": " + why);
    return fit_with(o, P, X, hooks, "TSNE", [&](auto&& run) {
        auto loss = std::make_shared<NeTsneLoss>(P, *rep, kernel, o.n_threads);
        return run([loss, rep](MatrixView<double> Y, const NeStepInfo& s, double* g, bool w) {
            return (*loss)(Y, s, g, w);
        });
    });
}
NeResult TSNE::fit_transform(MatrixView<float> X, const TrainHooks& hooks) const {
    return fit_transform_affinity(affinity_from_data(options_, X), X, hooks);
}

NeResult InfoTSNE::fit_transform_affinity(const CsrMatrix<double>& P, MatrixView<float> X,
                                          const TrainHooks& hooks) const {
    const InfoTSNEOptions& o = options_;
    return fit_with(o, P, X, hooks, "InfoTSNE", [&](auto&& run) {
        auto loss = std::make_shared<NeSampledLoss>(
            P, NeSampledRepulsion::log_sum, StudentTKernel(1.0),
            negatives_for(P, o.n_negatives, o.exclude_neighbors_from_negative_sampling, o.random_state), o.n_threads);
        return run([loss](MatrixView<double> Y, const NeStepInfo& s, double* g, bool w) { return (*loss)(Y, s, g, w); });
    });
}
NeResult InfoTSNE::fit_transform(MatrixView<float> X, const TrainHooks& hooks) const {
    return fit_transform_affinity(affinity_from_data(options_, X), X, hooks);
}

NeResult LargeVis::fit_transform_affinity(const CsrMatrix<double>& P, MatrixView<float> X,
                                          const TrainHooks& hooks) const {
    const LargeVisOptions& o = options_;
    return fit_with(o, P, X, hooks, "LargeVis", [&](auto&& run) {
        auto loss = std::make_shared<NeSampledLoss>(
            P, NeSampledRepulsion::binary, CauchyKernel{2.0},
            negatives_for(P, o.n_negatives, o.exclude_neighbors_from_negative_sampling, o.random_state), o.n_threads);
        return run([loss](MatrixView<double> Y, const NeStepInfo& s, double* g, bool w) { return (*loss)(Y, s, g, w); });
    });
}
NeResult LargeVis::fit_transform(MatrixView<float> X, const TrainHooks& hooks) const {
    return fit_transform_affinity(affinity_from_data(options_, X), X, hooks);
}

} // namespace torchdr
} // namespace nembed
