// TorchDR's COSNE preset (methods/cosne.hpp) on the core.
#include "nembed/methods/cosne.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "nembed/affinity/entropic.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/init/hyperbolic.hpp"
#include "nembed/optim/riemannian_adam.hpp"

namespace nembed {

void validate(const CosneOptions& o, std::size_t n) {
    require(std::isfinite(o.perplexity) && o.perplexity > 0, "perplexity must be positive");
    require(n == 0 || static_cast<double>(n) > o.perplexity,
            "Number of samples is smaller than perplexity (" + std::to_string(n) + " <= " +
                std::to_string(o.perplexity) + ")");
    CosneLossOptions lo;
    lo.gamma = o.gamma;
    lo.learning_rate_for_h_loss = o.learning_rate_for_h_loss;
    lo.repulsion_strength = o.repulsion_strength;
    validate(lo);
    require(o.n_components >= 1, "n_components must be at least 1");
    if (o.lr) require(std::isfinite(*o.lr) && *o.lr > 0, "lr must be positive (or auto)");
    RiemannianAdamOptions ro;
    ro.beta1 = o.beta1;
    ro.beta2 = o.beta2;
    ro.eps = o.eps;
    ro.weight_decay = o.weight_decay;
    ro.row_size = o.n_components;
    validate(ro);
    require(std::isfinite(o.init_scaling) && o.init_scaling > 0, "init_scaling must be positive");
    require(o.max_iter >= 0, "max_iter must be non-negative");
    if (o.early_exaggeration_coeff)
        require(std::isfinite(*o.early_exaggeration_coeff) && *o.early_exaggeration_coeff > 0,
                "early_exaggeration_coeff must be positive");
    if (o.early_exaggeration_iter) require(*o.early_exaggeration_iter >= 0, "early_exaggeration_iter must be >= 0");
    require(o.max_iter_affinity >= 1, "max_iter_affinity must be at least 1");
    require(o.check_interval >= 1, "check_interval must be at least 1");
    require(o.n_jobs != 0, "n_jobs must be a positive integer or negative (-1 = all cores), got 0");
    if (!o.init.empty()) {
        require(o.init.cols() == o.n_components, "init must have n_components columns");
        require(n == 0 || o.init.rows() == n, "init must have one row per point");
    }
}

struct CosneEmbedding::State {
    std::shared_ptr<CosneObjective> objective;
    EmbeddingTable table;
    std::unique_ptr<Optimizer> optimizer;
    std::unique_ptr<FullBatchPlan> plan;
    std::unique_ptr<Trainer> trainer;
    TrainHooks hooks;
    std::int64_t ee_steps = 0;  // steps after which TorchDR re-creates its optimizer (0: none)
    bool reset_done = false;
};

CosneEmbedding::CosneEmbedding(std::unique_ptr<State> s) : s_(std::move(s)) {}
CosneEmbedding::CosneEmbedding(CosneEmbedding&&) noexcept = default;
CosneEmbedding& CosneEmbedding::operator=(CosneEmbedding&&) noexcept = default;
CosneEmbedding::~CosneEmbedding() = default;
const Matrix<double>& CosneEmbedding::embedding() const { return s_->table.Y(); }
std::int64_t CosneEmbedding::iterations() const { return s_->trainer->steps_done(); }
const CosneObjective& CosneEmbedding::objective() const { return *s_->objective; }

RunReport CosneEmbedding::optimize(std::int64_t n) {
    State& s = *s_;
    RunReport total;
    auto maybe_reset = [&] {
        if (s.ee_steps > 0 && !s.reset_done && s.trainer->steps_done() == s.ee_steps) {
            s.optimizer->reset();  // TorchDR re-creates the optimizer when the exaggeration ends
            s.reset_done = true;
        }
    };
    std::int64_t left = n;
    while (left != 0 && !s.trainer->done()) {
        maybe_reset();
        std::int64_t chunk = left;
        if (s.ee_steps > 0 && !s.reset_done) {
            const std::int64_t to_boundary = s.ee_steps - s.trainer->steps_done();
            chunk = chunk < 0 ? to_boundary : std::min(chunk, to_boundary);
        }
        const RunReport r = s.trainer->run(chunk, s.hooks);
        total.steps += r.steps;
        if (!std::isnan(r.loss)) total.loss = r.loss;
        total.stop = r.stop;
        if (left > 0) left -= r.steps;
        if (r.stop == StopReason::callback || r.steps == 0) break;
    }
    maybe_reset();
    return total;
}

CosneEmbedding COSNE::prepare(CsrMatrix<double> P, std::vector<double> x_sqnorm) const {
    const CosneOptions& o = options_;
    const std::size_t n = P.n_rows, d = o.n_components;
    validate(o, n);
    const int threads = resolve_threads(o.n_jobs);
    auto s = std::make_unique<CosneEmbedding::State>();
    CosneLossOptions lo;
    lo.gamma = o.gamma;
    lo.learning_rate_for_h_loss = o.learning_rate_for_h_loss;
    lo.repulsion_strength = o.repulsion_strength;
    lo.n_threads = threads;
    s->objective = std::make_shared<CosneObjective>(std::move(P), std::move(x_sqnorm), lo);

    OptimizerOptions oo;
    oo.kind = OptimizerOptions::Kind::riemannian_adam;
    oo.beta1 = o.beta1;
    oo.beta2 = o.beta2;
    oo.adam_eps = o.eps;
    oo.weight_decay = o.weight_decay;
    oo.row_size = d;
    if (o.init.empty()) {
        s->table = EmbeddingTable(hyperbolic_init(n, d, o.random_state.value_or(0), o.init_scaling));
    } else {
        // TorchDR: init_scaling · init / std(first column) (torch's unbiased std), a plain tensor: Euclidean steps.
        Matrix<double> Y = o.init;
        double mean = 0, ss = 0;
        for (std::size_t i = 0; i < n; ++i) mean += Y(i, 0);
        mean /= static_cast<double>(n);
        for (std::size_t i = 0; i < n; ++i) ss += (Y(i, 0) - mean) * (Y(i, 0) - mean);
        const double sd = n > 1 ? std::sqrt(ss / static_cast<double>(n - 1)) : 0.0;
        require(sd > 0, "init: the first column is constant");
        for (double& v : Y.storage()) v = o.init_scaling * v / sd;
        s->table = EmbeddingTable(std::move(Y));
        oo.manifold = RiemannianManifold::euclidean;
    }
    s->optimizer = make_optimizer(oo);

    FullBatchOptions fo;
    fo.center = false;  // TorchDR does not centre (and centring would move points out of the ball)
    fo.auto_learning_rate = false;
    std::shared_ptr<CosneObjective> obj = s->objective;
    s->plan = std::make_unique<FullBatchPlan>(
        [obj](MatrixView<double> Y, double ex, double* g, bool want) { return (*obj)(Y, ex, g, want); }, n, fo);
    s->trainer = std::make_unique<Trainer>(*s->plan, s->table, *s->optimizer, threads);

    const double coeff = o.early_exaggeration_coeff.value_or(1.0);
    const int ee_iter = o.early_exaggeration_iter.value_or(0);
    auto auto_lr = [&](double ex) { return std::max(static_cast<double>(n) / ex / 4.0, 50.0); };
    int ee = 0;
    if (coeff > 1.0) ee = std::min(ee_iter + 1, o.max_iter);
    if (ee > 0) {
        Phase p;
        p.name = "early_exaggeration";
        p.n_steps = ee;
        p.exaggeration = coeff;
        p.repulsion_strength = o.repulsion_strength;
        p.learning_rate = o.lr ? *o.lr : auto_lr(coeff);
        s->trainer->add_phase(p);
        s->ee_steps = ee;
    }
    Phase main;
    main.n_steps = o.max_iter - ee;
    main.repulsion_strength = o.repulsion_strength;
    main.learning_rate = o.lr ? *o.lr : auto_lr(1.0);
    s->trainer->add_phase(main);

    s->hooks.callback = o.callback;
    s->hooks.callback_every = o.check_interval;
    s->hooks.progress = o.progress;
    s->hooks.verbose = o.verbose;
    s->hooks.who = "COSNE";
    return CosneEmbedding(std::move(s));
}

CosneEmbedding COSNE::prepare(MatrixView<float> X) const {
    const CosneOptions& o = options_;
    const std::size_t n = X.rows;
    validate(o, n);
    EntropicAffinityOptions eo;  // TorchDR's COSNE forwards these to its EntropicAffinity
    eo.perplexity = o.perplexity;
    eo.metric = o.metric;
    eo.max_iter = o.max_iter_affinity;
    eo.sparsity = o.sparsity;
    eo.knn_method = o.neighbors;
    eo.n_threads = resolve_threads(o.n_jobs);
    CsrMatrix<double> P = EntropicAffinity(eo)(X);  // rows sum to 1/N, total 1
    std::vector<double> xn(n);
    for (std::size_t i = 0; i < n; ++i) {
        double s = 0;
        for (std::size_t c = 0; c < X.cols; ++c) s += static_cast<double>(X(i, c)) * static_cast<double>(X(i, c));
        xn[i] = s;
    }
    return prepare(std::move(P), std::move(xn));
}

CosneEmbedding COSNE::fit(MatrixView<float> X) const {
    CosneEmbedding e = prepare(X);
    e.optimize();
    return e;
}

} // namespace nembed
