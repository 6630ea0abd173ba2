// TorchDR's TSNEkhorn preset (methods/tsnekhorn.hpp) on the core.
#include "nembed/methods/tsnekhorn.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "nembed/affinity/entropic.hpp"
#include "nembed/affinity/symmetric_entropic.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/core/strings.hpp"
#include "nembed/init/pca_init.hpp"
#include "nembed/init/random.hpp"
#include "nembed/train/full_batch_plan.hpp"
#include "nembed/train/parametrization.hpp"

namespace nembed {

TsnekhornInit parse_tsnekhorn_init(const std::string& name) {
    const std::string s = to_lower(name);
    if (s == "pca") return TsnekhornInit::pca;
    if (s == "normal" || s == "random") return TsnekhornInit::normal;
    throw InvalidArgument("unknown init '" + name + "' (expected pca, normal or random)");
}

void validate(const TsnekhornOptions& o, std::size_t n) {
    require(std::isfinite(o.perplexity) && o.perplexity > 0, "perplexity must be positive");
    require(n == 0 || static_cast<double>(n) > o.perplexity,
            "Number of samples is smaller than perplexity (" + std::to_string(n) + " <= " +
                std::to_string(o.perplexity) + ")");
    require(std::isfinite(o.lr_affinity_in) && o.lr_affinity_in > 0, "lr_affinity_in must be positive");
    require(std::isfinite(o.tol_affinity_in) && o.tol_affinity_in > 0, "tol_affinity_in must be positive");
    require(o.max_iter_affinity_in >= 1, "max_iter_affinity_in must be at least 1");
    require(o.n_components >= 1, "n_components must be at least 1");
    if (o.lr) require(std::isfinite(*o.lr) && *o.lr > 0, "lr must be positive (or auto)");
    require(o.optimizer == OptimizerOptions::Kind::sgd || o.optimizer == OptimizerOptions::Kind::adam,
            "TSNEkhorn: optimizer must be SGD or Adam");
    if (o.momentum) require(std::isfinite(*o.momentum) && *o.momentum >= 0 && *o.momentum < 1,
                            "momentum must lie in [0, 1)");
    require(std::isfinite(o.init_scaling) && o.init_scaling > 0, "init_scaling must be positive");
    require(o.max_iter >= 0, "max_iter must be non-negative");
    require(!o.unrolling, "TSNEkhorn: unrolling=true is not supported; use unrolling=false (TorchDR's default)");
    require(o.check_interval >= 1, "check_interval must be at least 1");
    require(o.n_jobs != 0, "n_jobs must be a positive integer or negative (-1 = all cores), got 0");
    if (!o.init_embedding.empty()) {
        require(o.init_embedding.cols() == o.n_components, "init must have n_components columns");
        require(n == 0 || o.init_embedding.rows() == n, "init must have one row per point");
    }
}

struct TsnekhornEmbedding::State {
    std::shared_ptr<TsnekhornObjective> objective;
    EmbeddingTable table;
    std::unique_ptr<Optimizer> optimizer;
    std::unique_ptr<FullBatchPlan> plan;
    std::unique_ptr<Trainer> trainer;
    TrainHooks hooks;
};

TsnekhornEmbedding::TsnekhornEmbedding(std::unique_ptr<State> s) : s_(std::move(s)) {}
TsnekhornEmbedding::TsnekhornEmbedding(TsnekhornEmbedding&&) noexcept = default;
TsnekhornEmbedding& TsnekhornEmbedding::operator=(TsnekhornEmbedding&&) noexcept = default;
TsnekhornEmbedding::~TsnekhornEmbedding() = default;
const Matrix<double>& TsnekhornEmbedding::embedding() const { return s_->table.Y(); }
std::int64_t TsnekhornEmbedding::iterations() const { return s_->trainer->steps_done(); }
const TsnekhornObjective& TsnekhornEmbedding::objective() const { return *s_->objective; }
RunReport TsnekhornEmbedding::optimize(std::int64_t n) { return s_->trainer->run(n, s_->hooks); }

TsnekhornEmbedding TSNEkhorn::prepare(MatrixView<float> X, CsrMatrix<double> P) const {
    const TsnekhornOptions& o = options_;
    const std::size_t n = P.n_rows, d = o.n_components;
    validate(o, n);
    require(X.rows == n, "TSNEkhorn: X has " + std::to_string(X.rows) + " rows, P " + std::to_string(n));
    const int threads = resolve_threads(o.n_jobs);
    const std::uint64_t seed = o.random_state.value_or(0);
    auto s = std::make_unique<TsnekhornEmbedding::State>();
    TsnekhornLossOptions lo;
    lo.n_threads = threads;
    s->objective = std::make_shared<TsnekhornObjective>(std::move(P), lo);

    Matrix<double> Y;
    if (!o.init_embedding.empty()) Y = o.init_embedding;
    else if (o.init == TsnekhornInit::pca) Y = pca_init(X, d, /*add_jitter=*/false, seed, threads, 1.0);
    else Y = random_init(n, d, seed, 1.0);
    // TorchDR: init_scaling · Y / std(Y[:, 0]) with torch's unbiased std.
    double mean = 0, ss = 0;
    for (std::size_t i = 0; i < n; ++i) mean += Y(i, 0);
    mean /= static_cast<double>(n);
    for (std::size_t i = 0; i < n; ++i) ss += (Y(i, 0) - mean) * (Y(i, 0) - mean);
    const double sd = std::sqrt(ss / static_cast<double>(n - 1));
    require(sd > 0, "init: the first column is constant");
    for (double& v : Y.storage()) v = o.init_scaling * v / sd;
    s->table = EmbeddingTable(std::move(Y));

    OptimizerOptions oo;
    oo.kind = o.optimizer;
    oo.momentum = o.momentum.value_or(o.optimizer == OptimizerOptions::Kind::sgd ? 0.8 : 0.0);
    s->optimizer = make_optimizer(oo);
    FullBatchOptions fo;
    fo.center = false;
    fo.auto_learning_rate = false;
    std::shared_ptr<TsnekhornObjective> obj = s->objective;
    s->plan = std::make_unique<FullBatchPlan>(
        [obj](MatrixView<double> Z, double ex, double* g, bool want) { return (*obj)(Z, ex, g, want); }, n, fo);
    s->trainer = std::make_unique<Trainer>(*s->plan, s->table, *s->optimizer, threads);
    Phase main;
    main.n_steps = o.max_iter;
    main.learning_rate = o.lr ? *o.lr : std::max(static_cast<double>(n) / 4.0, 50.0);
    s->trainer->add_phase(main);
    s->hooks.callback = o.callback;
    s->hooks.callback_every = o.check_interval;
    s->hooks.progress = o.progress;
    s->hooks.verbose = o.verbose;
    s->hooks.who = "TSNEkhorn";
    return TsnekhornEmbedding(std::move(s));
}

CsrMatrix<double> TSNEkhorn::input_affinity(MatrixView<float> X) const {
    const TsnekhornOptions& o = options_;
    const std::size_t n = X.rows;
    validate(o, n);
    const int threads = resolve_threads(o.n_jobs);
    if (!o.symmetric_affinity) {
        EntropicAffinityOptions eo;  // TorchDR: EntropicAffinity(perplexity, metric, max_iter=max_iter_affinity_in)
        eo.perplexity = o.perplexity;
        eo.metric = o.metric;
        eo.max_iter = o.max_iter_affinity_in;
        eo.n_threads = threads;
        return EntropicAffinity(eo)(X);
    }
    SymmetricEntropicAffinityOptions so;  // TorchDR's TSNEkhorn arguments
    so.perplexity = o.perplexity;
    so.lr = o.lr_affinity_in;
    so.eps_square = o.eps_square_affinity_in;
    so.tol = o.tol_affinity_in;
    so.max_iter = o.max_iter_affinity_in;
    so.metric = o.metric;
    so.zero_diag = false;
    so.n_threads = threads;
    const Matrix<double> D = SymmetricEntropicAffinity(so)(X);
    // Dense to CSR with every entry (the diagonal included, as TorchDR's dense P).
    CsrMatrix<double> P;
    P.n_rows = P.n_cols = n;
    P.indptr.resize(n + 1);
    for (std::size_t i = 0; i <= n; ++i) P.indptr[i] = static_cast<offset_t>(i * n);
    P.indices.resize(n * n);
    P.values.assign(D.data(), D.data() + n * n);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j) P.indices[i * n + j] = static_cast<index_t>(j);
    return P;
}

TsnekhornEmbedding TSNEkhorn::prepare(MatrixView<float> X) const { return prepare(X, input_affinity(X)); }

TsnekhornEmbedding TSNEkhorn::fit(MatrixView<float> X) const {
    TsnekhornEmbedding e = prepare(X);
    e.optimize();
    return e;
}

TsnekhornEmbedding TSNEkhorn::fit(MatrixView<float> X, CsrMatrix<double> P) const {
    TsnekhornEmbedding e = prepare(X, std::move(P));
    e.optimize();
    return e;
}

} // namespace nembed
