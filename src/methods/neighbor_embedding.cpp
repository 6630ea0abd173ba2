// TorchDR's NeighborEmbedding driver and its SNE, TSNE, InfoTSNE, LargeVis (methods/neighbor_embedding.hpp).
#include "nembed/methods/neighbor_embedding.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>
#include <string>

#include "nembed/affinity/entropic.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/log.hpp"
#include "nembed/core/strings.hpp"
#include "nembed/core/timer.hpp"
#include "nembed/init/hyperbolic.hpp"
#include "nembed/init/pca.hpp"
#include "nembed/init/random.hpp"
#include "nembed/init/user.hpp"
#include "nembed/loss/ne_loss.hpp"
#include "nembed/neighbors/knn.hpp"
#include "nembed/optim/optimizer.hpp"
#include "nembed/kernel/hyperbolic.hpp"
#include "nembed/parametric/network_parametrization.hpp"
#include "nembed/train/parametrization.hpp"

namespace nembed {
namespace {

std::string num(double v) { return std::to_string(v); }

bool is_sgd(const NeighborEmbeddingOptions& o) { return to_lower(o.optimizer) == "sgd"; }

OptimizerOptions::Kind optimizer_kind(const std::string& name) {
    const std::string s = to_lower(name);
    if (s == "sgd") return OptimizerOptions::Kind::sgd;
    if (s == "adam") return OptimizerOptions::Kind::adam;
    if (s == "riemannianadam" || s == "riemannian_adam") return OptimizerOptions::Kind::riemannian_adam;
    throw InvalidArgument("optimizer: '" + name + "' is not supported (supported: SGD, Adam, RiemannianAdam)");
}

// The optimizer TorchDR's options build: torch.optim's class with the given kwargs (torch's defaults for the rest;
// "auto" momentum is the phases' business). RiemannianAdam steps on the ball only for the hyperbolic init.
OptimizerOptions optimizer_options(const NeighborEmbeddingOptions& o) {
    OptimizerOptions oo;
    oo.kind = optimizer_kind(o.optimizer);
    if (o.optimizer_kwargs) {
        oo.momentum = o.optimizer_kwargs->momentum;
        oo.weight_decay = o.optimizer_kwargs->weight_decay;
        oo.beta1 = o.optimizer_kwargs->beta1;
        oo.beta2 = o.optimizer_kwargs->beta2;
        oo.adam_eps = o.optimizer_kwargs->eps;
    }
    if (oo.kind == OptimizerOptions::Kind::riemannian_adam) {
        oo.momentum = 0.0;
        oo.row_size = o.n_components;
        oo.manifold = o.init == NeInit::hyperbolic ? RiemannianManifold::poincare_ball : RiemannianManifold::euclidean;
    }
    return oo;
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
    if (s == "hyperbolic") return NeInit::hyperbolic;
    throw InvalidArgument("init: '" + name +
                          "' is not supported (supported: pca, random, normal, hyperbolic, or an array)");
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
    const OptimizerOptions oo = optimizer_options(o);
    if (o.optimizer_kwargs) {
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
    // max_iter within the exaggeration: no main phase (its schedule may start at a rate of 0).
    if (p.n_steps > 0) phases.push_back(p);
    return phases;
}

NeResult run_method(const NeighborEmbeddingOptions& o, MatrixView<float> X, std::size_t n, const std::string& who,
                    NeGradient loss, const TrainHooks& hooks) {
    if (o.encoder.enabled) {
        require(X.rows == n && X.data != nullptr, "encoder: the network needs the data X (n x D)");
        TrainHooks h = hooks;
        if (h.who == "train") h.who = who;
        return run_encoder(X, std::move(loss), o, h);
    }
    const Timer t;
    Matrix<double> Y0 = ne_initial_embedding(o, X, n);
    const double init_seconds = t.seconds();
    TrainHooks h = hooks;
    if (h.who == "train") h.who = who;
    NeResult r = run_neighbor_embedding(std::move(Y0), std::move(loss), o, h);
    r.timings.init = init_seconds;
    return r;
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
        case NeInit::array: Y = user_init(o.init_array->view(), n, d, false); break;  // rescaled below
        case NeInit::hyperbolic:
            // TorchDR: N(0, init_scaling²) mapped into the ball by exp_0, without the std rescaling.
            return hyperbolic_init(n, d, o.random_state, o.init_scaling);
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

namespace {

// TorchDR's loop on a parametrisation (the table, or a network): its phases, the convergence check and the user's
// callbacks. The result has everything but the embedding.
NeResult run_on(Parametrization& params, const std::vector<Phase>& phases, Optimizer& optimizer,
                NeighborEmbeddingPlan& plan, const NeighborEmbeddingOptions& o, TrainHooks hooks) {
    Trainer trainer(plan, params, optimizer, o.n_threads);
    for (const Phase& p : phases) trainer.add_phase(p);

    // TorchDR's convergence check after steps 0, check_interval, 2·check_interval, ... (0-based), the user's
    // callback after steps 0, every, 2·every, ...: the Trainer calls back at the periods of their gcd.
    bool converged = false;
    TrainCallback user = hooks.callback;
    const int every = user ? hooks.callback_every : o.check_interval;
    require(every >= 1, "callback_every must be >= 1, got " + std::to_string(every));
    hooks.callback_every = std::gcd(every, o.check_interval);
    hooks.callback_first_of_period = true;
    hooks.callback_at_start = false;
    hooks.verbose = hooks.verbose || o.verbose;
    if (hooks.who == "train") hooks.who = "NeighborEmbedding";
    hooks.callback = [&](const TrainEvent& ev) {
        const std::int64_t done = ev.step - 1;  // the 0-based index of the step just taken
        if (done % o.check_interval == 0 && plan.last_grad_norm() < o.min_grad_norm) {
            converged = true;
            if (o.verbose)
                info(hooks.who + ": convergence reached at iteration " + std::to_string(ev.step - 1) +
                     " with gradient norm " + num(plan.last_grad_norm()));
            return true;
        }
        return user && done % every == 0 ? user(ev) : false;
    };
    const Timer timer;
    const RunReport rep = trainer.run(-1, hooks);
    NeResult r;
    r.n_iter = static_cast<int>(trainer.steps_done());
    r.stop = converged ? NeStop::converged : (rep.stop == StopReason::callback ? NeStop::callback : NeStop::max_iter);
    r.loss = rep.loss;
    r.grad_norm = plan.last_grad_norm();
    r.timings.optimize = timer.seconds();
    return r;
}

} // namespace

NeResult run_neighbor_embedding(Matrix<double> Y0, NeGradient loss, const NeighborEmbeddingOptions& o,
                                TrainHooks hooks) {
    const std::size_t n = Y0.rows();
    require(Y0.cols() == o.n_components, "neighbor embedding: the initial embedding has " +
                                             std::to_string(Y0.cols()) + " columns, n_components is " +
                                             std::to_string(o.n_components));
    const std::vector<Phase> phases = ne_phases(o, n);
    if (!o.lr && !is_sgd(o) && o.verbose)
        warn("lr 'auto' is meant for the SGD optimizer (TorchDR's warning)");
    const OptimizerOptions oo = optimizer_options(o);
    std::unique_ptr<Optimizer> optimizer = make_optimizer(oo);
    // TorchDR reads the gradient after the optimizer step: RiemannianAdam has added weight_decay·y and divided by
    // λ_y² in place by then (on the Euclidean manifold λ = 1).
    NeGradRowNorm row_norm;
    if (oo.kind == OptimizerOptions::Kind::riemannian_adam) {
        const double wd = oo.weight_decay, c = oo.curvature;
        const bool ball = oo.manifold == RiemannianManifold::poincare_ball;
        row_norm = [wd, c, ball](const double* y, const double* g, std::size_t d) {
            const double l = ball ? hyperbolic::lambda(y, d, c) : 1.0;
            const double f = 1.0 / (l * l);
            double s = 0.0;
            for (std::size_t k = 0; k < d; ++k) {
                const double r = (g[k] + wd * y[k]) * f;
                s += r * r;
            }
            return s;
        };
    }
    EmbeddingTable table(std::move(Y0));
    NeighborEmbeddingPlan plan(std::move(loss), std::move(row_norm));
    NeResult r = run_on(table, phases, *optimizer, plan, o, std::move(hooks));
    r.embedding = std::move(table.Y());
    return r;
}

// The encoder's options as the driver's: the network's rate and optimizer (torch's defaults) in place of the
// table's, the method's scheduler over that rate.
static NeighborEmbeddingOptions encoder_driver_options(const NeighborEmbeddingOptions& o) {
    const NeEncoderOptions& e = o.encoder;
    require(std::isfinite(e.learning_rate) && e.learning_rate > 0,
            "encoder: learning_rate must be positive, got " + num(e.learning_rate));
    require(e.batch_size > 0, "encoder: batch_size must be > 0");
    require(std::isfinite(e.input_noise) && e.input_noise >= 0,
            "encoder: input_noise must be >= 0, got " + num(e.input_noise));
    validate(e.transform_consistency);
    const std::string opt = to_lower(e.optimizer);
    require(opt == "adam" || opt == "sgd", "encoder: optimizer must be Adam or SGD, got '" + e.optimizer + "'");
    validate(e.network);
    NeighborEmbeddingOptions d = o;
    d.lr = e.learning_rate;
    d.optimizer = e.optimizer;
    d.optimizer_kwargs = OptimizerKwargs{};
    d.init = NeInit::random;  // not used; keeps validate from asking for an init array
    d.init_array.reset();
    return d;
}

NeResult run_encoder(MatrixView<float> X, NeGradient loss, const NeighborEmbeddingOptions& options,
                     TrainHooks hooks) {
    require_fit_data(X, std::string("encoder"));
    const NeighborEmbeddingOptions o = encoder_driver_options(options);
    const std::vector<Phase> phases = ne_phases(o, X.rows);
    std::unique_ptr<Optimizer> optimizer = make_optimizer(optimizer_options(o));
    MlpOptions mo = o.encoder.network;
    mo.seed = o.random_state;
    const std::shared_ptr<const Mlp>& start = o.encoder.initial_network;
    if (start)
        require(start->n_inputs() == X.cols && start->n_outputs() == o.n_components,
                "encoder: the initial network maps " + std::to_string(start->n_inputs()) + " inputs to " +
                    std::to_string(start->n_outputs()) + " outputs, the data has " + std::to_string(X.cols) +
                    " columns and n_components is " + std::to_string(o.n_components));
    auto data = std::make_shared<const Matrix<float>>(X.rows, X.cols, std::vector<float>(X.data, X.data + X.size()));
    NetworkParametrization net(data, start ? *start : Mlp(X.cols, o.n_components, mo), o.n_threads);
    if (o.encoder.input_noise > 0) {
        // The noise's scale: the data's mean nearest-neighbour distance (exact search: the same for any thread count).
        require(X.rows >= 2, "encoder: input_noise needs at least 2 points");
        KnnOptions ko;
        ko.method = KnnMethod::exact;
        ko.n_threads = o.n_threads;
        const KnnGraph g = find_neighbors(X, 1, ko);
        double mean = 0;
        for (float d : g.distances) mean += d;
        mean /= static_cast<double>(X.rows);
        net.set_input_noise(o.encoder.input_noise * mean / std::sqrt(static_cast<double>(X.cols)), o.random_state);
    }
    if (o.encoder.transform_consistency.weight > 0) {
        require(o.encoder.batch_size >= X.rows, "encoder: the transform-consistency penalty needs batch_size >= n "
                                                "(one batch of every point)");
        net.set_transform_consistency(std::make_shared<TransformConsistency>(data, o.encoder.transform_consistency,
                                                                             o.random_state, o.n_threads));
    }
    NeighborEmbeddingPlan plan(std::move(loss), {}, NeNetworkBatches{o.encoder.batch_size, o.random_state});
    NeResult r = run_on(net, phases, *optimizer, plan, o, std::move(hooks));
    r.embedding = net.embedding();
    r.network = std::make_shared<const Mlp>(net.network());
    return r;
}

NeResult fit_unique_rows(
    MatrixView<float> X, const NeighborEmbeddingOptions& o,
    const std::function<NeResult(MatrixView<float> X, const std::optional<Matrix<double>>& init_array)>& fit) {
    if (!o.process_duplicates) return fit(X, o.init_array);
    require_finite(X, "input data");
    const std::size_t n = X.rows, D = X.cols;
    // torch.unique(X, dim=0): the rows in lexicographic order; a stable sort keeps each group's first occurrence
    // first.
    std::vector<std::size_t> order(n);
    for (std::size_t i = 0; i < n; ++i) order[i] = i;
    auto less = [&](std::size_t a, std::size_t b) {
        const float* x = X.data + a * D;
        const float* y = X.data + b * D;
        for (std::size_t c = 0; c < D; ++c)
            if (x[c] != y[c]) return x[c] < y[c];
        return false;
    };
    std::stable_sort(order.begin(), order.end(), less);
    std::vector<std::size_t> inverse(n), first;
    first.reserve(n);
    for (std::size_t k = 0; k < n; ++k) {
        if (k == 0 || less(order[k - 1], order[k])) first.push_back(order[k]);
        inverse[order[k]] = first.size() - 1;
    }
    const std::size_t m = first.size();
    if (m == n) return fit(X, o.init_array);  // TorchDR runs on X itself, in its own order
    if (o.verbose)
        info("Detected " + std::to_string(n - m) + " duplicate samples, performing DR on unique data.");
    Matrix<float> U(m, D);
    for (std::size_t u = 0; u < m; ++u) std::copy_n(X.data + first[u] * D, D, U.data() + u * D);
    std::optional<Matrix<double>> init;
    if (o.init_array) {
        const Matrix<double>& A = *o.init_array;
        require(A.rows() == n, "init: the array has " + std::to_string(A.rows()) + " rows, the data " +
                                   std::to_string(n));
        Matrix<double> B(m, A.cols());
        for (std::size_t u = 0; u < m; ++u) std::copy_n(A.data() + first[u] * A.cols(), A.cols(), B.data() + u * A.cols());
        init = std::move(B);
    }
    NeResult r = fit(U.view(), init);
    const std::size_t d = r.embedding.cols();
    Matrix<double> Y(n, d);
    for (std::size_t i = 0; i < n; ++i) std::copy_n(r.embedding.data() + inverse[i] * d, d, Y.data() + i * d);
    r.embedding = std::move(Y);
    return r;
}

CsrMatrix<double> torchdr::entropic_affinity(const EntropicOptions& o, MatrixView<float> X) {
    require(std::isfinite(o.perplexity) && o.perplexity > 0, "perplexity must be positive, got " + num(o.perplexity));
    require(o.perplexity < static_cast<double>(X.rows), "perplexity (" + num(o.perplexity) +
                                                            ") must be smaller than the number of samples (" +
                                                            std::to_string(X.rows) + ")");
    require(o.max_iter_affinity >= 1, "max_iter_affinity must be >= 1, got " + std::to_string(o.max_iter_affinity));
    return EntropicAffinity(entropic_affinity_options(o))(X);
}

EntropicAffinityOptions torchdr::entropic_affinity_options(const EntropicOptions& o) {
    EntropicAffinityOptions eo;
    eo.perplexity = o.perplexity;
    eo.metric = o.metric;
    eo.max_iter = o.max_iter_affinity;
    eo.sparsity = o.sparsity;
    eo.knn_method = o.knn_method;
    eo.knn_shards = o.knn_shards;
    eo.n_threads = o.n_threads;
    return eo;
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

// fit_transform(X) of a method: process_duplicates, then P from the (unique) rows and fit_transform_affinity.
template <typename Method>
NeResult fit_from_data(const typename Method::Options& o, MatrixView<float> X, const TrainHooks& hooks) {
    return fit_unique_rows(X, o, [&](MatrixView<float> Xu, const std::optional<Matrix<double>>& init) {
        typename Method::Options ou = o;
        ou.init_array = init;
        check_entropic(ou, Xu.rows);
        const Timer t;
        const CsrMatrix<double> P = entropic_affinity(ou, Xu);
        const double seconds = t.seconds();
        NeResult r = Method(ou).fit_transform_affinity(P, Xu, hooks);
        r.timings.affinity = seconds;
        return r;
    });
}

} // namespace

// The points each point must not draw: its row of P (its kNN), sorted (CSR rows are).
NeNegatives ne_negatives(const CsrMatrix<double>& P, std::size_t m, bool exclude, std::uint64_t seed,
                         std::size_t scatter_blocks) {
    NeNegatives neg;
    neg.n_negatives = m;
    neg.scatter_blocks = scatter_blocks;
    neg.seed = seed;
    if (exclude) {
        neg.excluded_ptr.assign(P.indptr.begin(), P.indptr.end());
        neg.excluded.reserve(P.indices.size());
        for (index_t j : P.indices) neg.excluded.push_back(static_cast<std::uint32_t>(j));
    }
    return neg;
}

namespace {

template <typename Options, typename MakeLoss>
NeResult fit_with(const Options& o, const CsrMatrix<double>& P, MatrixView<float> X, const TrainHooks& hooks,
                  const char* who, MakeLoss&& make_loss) {
    check_entropic(o, P.n_rows);
    return make_loss([&](NeGradient loss) { return run_method(o, X, P.n_rows, who, std::move(loss), hooks); });
}

} // namespace

NeResult SNE::fit_transform_affinity(const CsrMatrix<double>& P, MatrixView<float> X, const TrainHooks& hooks) const {
    return fit_with(options_, P, X, hooks, "SNE", [&](auto&& run) {
        auto loss = std::make_shared<NeSneLoss>(P, options_.n_threads);
        return run([loss](MatrixView<double> Y, const NeStepInfo& s, double* g, bool w) { return (*loss)(Y, s, g, w); });
    });
}
NeResult SNE::fit_transform(MatrixView<float> X, const TrainHooks& hooks) const {
    return fit_from_data<SNE>(options_, X, hooks);
}

std::shared_ptr<Repulsion> tsne_repulsion(const TSNEOptions& o, const RowShare* share) {
    std::shared_ptr<Repulsion> rep;
    switch (o.backend) {
        case NeBackend::exact: rep = make_exact_repulsion(o.n_threads); break;
        case NeBackend::bh: rep = make_barnes_hut_repulsion(o.theta, o.n_threads); break;
        case NeBackend::fft: {
            require(o.n_components <= 2, "backend fft needs n_components 1 or 2, got " +
                                             std::to_string(o.n_components));
            FftOptions f = o.fft;
            f.n_threads = o.n_threads;
            rep = share ? make_fft_repulsion(f, *share) : make_fft_repulsion(f);
            break;
        }
    }
    const std::string why = rep->unsupported_reason(StudentTKernel(1.0), o.n_components);
    require(why.empty(), "backend " + to_string(o.backend) + ": " + why);
    return rep;
}

NeResult TSNE::fit_transform_affinity(const CsrMatrix<double>& P, MatrixView<float> X, const TrainHooks& hooks) const {
    const TSNEOptions& o = options_;
    std::shared_ptr<Repulsion> rep = tsne_repulsion(o);
    const OutputKernel kernel = StudentTKernel(1.0);
    return fit_with(o, P, X, hooks, "TSNE", [&](auto&& run) {
        auto loss = std::make_shared<NeTsneLoss>(P, *rep, kernel, o.n_threads);
        return run([loss, rep](MatrixView<double> Y, const NeStepInfo& s, double* g, bool w) {
            return (*loss)(Y, s, g, w);
        });
    });
}
NeResult TSNE::fit_transform(MatrixView<float> X, const TrainHooks& hooks) const {
    return fit_from_data<TSNE>(options_, X, hooks);
}

NeResult InfoTSNE::fit_transform_affinity(const CsrMatrix<double>& P, MatrixView<float> X,
                                          const TrainHooks& hooks) const {
    const InfoTSNEOptions& o = options_;
    return fit_with(o, P, X, hooks, "InfoTSNE", [&](auto&& run) {
        auto loss = std::make_shared<NeSampledLoss>(
            P, NeSampledRepulsion::log_sum, StudentTKernel(1.0),
            ne_negatives(P, o.n_negatives, o.exclude_neighbors_from_negative_sampling, o.random_state,
                         o.scatter_blocks),
            o.n_threads);
        return run([loss](MatrixView<double> Y, const NeStepInfo& s, double* g, bool w) { return (*loss)(Y, s, g, w); });
    });
}
NeResult InfoTSNE::fit_transform(MatrixView<float> X, const TrainHooks& hooks) const {
    return fit_from_data<InfoTSNE>(options_, X, hooks);
}

NeResult LargeVis::fit_transform_affinity(const CsrMatrix<double>& P, MatrixView<float> X,
                                          const TrainHooks& hooks) const {
    const LargeVisOptions& o = options_;
    return fit_with(o, P, X, hooks, "LargeVis", [&](auto&& run) {
        auto loss = std::make_shared<NeSampledLoss>(
            P, NeSampledRepulsion::binary, CauchyKernel{2.0},
            ne_negatives(P, o.n_negatives, o.exclude_neighbors_from_negative_sampling, o.random_state,
                         o.scatter_blocks),
            o.n_threads);
        return run([loss](MatrixView<double> Y, const NeStepInfo& s, double* g, bool w) { return (*loss)(Y, s, g, w); });
    });
}
NeResult LargeVis::fit_transform(MatrixView<float> X, const TrainHooks& hooks) const {
    return fit_from_data<LargeVis>(options_, X, hooks);
}

} // namespace torchdr
} // namespace nembed
