#include "nembed/methods/tsne.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <random>
#include <sstream>

#include "nembed/core/locality_order.hpp"
#include "nembed/core/log.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/core/timer.hpp"
#include "nembed/init/pca_init.hpp"
#include "nembed/init/user.hpp"
#include "nembed/init/spectral.hpp"
#include "nembed/init/random.hpp"
#include "nembed/init/median.hpp"
#include "nembed/loss/tsne_objective.hpp"
#include "nembed/affinity/multiscale.hpp"
#include "nembed/affinity/perplexity.hpp"
#include "nembed/core/strings.hpp"
#include "nembed/dist/rows.hpp"
#include "nembed/dist/tsne.hpp"

namespace nembed {
namespace {

std::uint64_t resolve_seed(const std::optional<std::uint64_t>& s) {
    if (s) return *s;
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}

// The first k neighbours of every row (rows are sorted by distance).
KnnGraph truncate(const KnnGraph& g, std::size_t k) {
    if (k >= g.k) return g;
    KnnGraph t;
    t.n_points = g.n_points;
    t.k = k;
    t.n_reference = g.n_reference;
    t.indices.resize(g.n_points * k);
    t.distances.resize(g.n_points * k);
    for (std::size_t i = 0; i < g.n_points; ++i) {
        std::copy_n(g.indices.begin() + static_cast<std::ptrdiff_t>(i * g.k), k,
                    t.indices.begin() + static_cast<std::ptrdiff_t>(i * k));
        std::copy_n(g.distances.begin() + static_cast<std::ptrdiff_t>(i * g.k), k,
                    t.distances.begin() + static_cast<std::ptrdiff_t>(i * k));
    }
    return t;
}

void check_optional_positive(const std::optional<double>& v, const char* name) {
    if (v) {
        require(std::isfinite(*v) && *v > 0.0,
                std::string(name) + " must be positive (or unset), got " + std::to_string(*v));
    }
}

void validate_gradient_params(const TsneGradientParams& p, std::size_t n_components) {
    require(std::isfinite(p.dof) && p.dof > 0.0, "dof must be positive, got " + std::to_string(p.dof));
    validate(p.repulsion, n_components);
    require(p.n_threads >= 1, "n_threads must be >= 1");
}

TsneGradientParams gradient_params_from(const TsneOptions& o, int n_threads) {
    TsneGradientParams p;
    p.dof = o.dof;
    p.repulsion = o.repulsion;
    p.n_threads = n_threads;
    p.point_order = o.point_order;
    return p;
}


// Runs `phases` on one Trainer over the table and optimizer: one trainer.run per phase (per-phase timings, and
// progress elapsed counted from each phase's start), openTSNE's log lines when verbose.
OptimizeReport run_phases(const std::vector<Phase>& phases, const TsneRunOptions& o, FullBatchPlan& plan,
                          EmbeddingTable& table, GainsMomentum& optimizer, int n_threads, std::int64_t& total) {
    validate(o);
    require(!phases.empty(), "t-SNE: no phases to run");
    require_finite(table.Y().view(), "optimize: initial embedding");
    optimizer.set_min_gain(o.min_gain);
    optimizer.set_max_step_norm(o.max_step_norm);
    Trainer trainer(plan, table, optimizer, n_threads);
    for (const Phase& ph : phases) trainer.add_phase(ph);
    TrainHooks hooks;
    hooks.callback = o.callback;
    hooks.callback_every = o.callbacks_every_iters;
    hooks.evaluate_loss = o.verbose || (static_cast<bool>(o.progress) && o.progress_loss);
    hooks.who = "t-SNE";
    hooks.progress = [&o](const TrainEvent& e) {
        if (o.verbose && !std::isnan(e.loss)) {
            std::ostringstream msg;
            msg << "Iteration " << e.phase_step << ", KL divergence " << e.loss;
            info(msg.str());
        }
        if (o.progress) o.progress(e);
    };
    OptimizeReport report;
    for (const Phase& ph : phases) {
        const double lr = ph.learning_rate.value_or(plan.auto_learning_rate(ph));
        report.learning_rate = lr;
        if (o.verbose) {
            std::ostringstream msg;
            msg << "Optimizing " << ph.n_steps << " iterations, exaggeration " << ph.exaggeration
                << ", learning rate " << lr;
            info(msg.str());
        }
        Timer timer;
        const RunReport r = trainer.run(ph.n_steps, hooks);
        total += r.steps;
        report.iterations = static_cast<int>(r.steps);
        if (!std::isnan(r.loss)) report.kl = r.loss;
        report.phase_seconds.push_back(timer.seconds());
        if (o.verbose) {
            std::ostringstream msg;
            msg << "  done in " << timer.seconds() << " s, KL divergence " << report.kl;
            info(msg.str());
        }
        if (r.stop == StopReason::callback) {
            report.stop = StopReason::callback;
            break;
        }
    }
    // Without any iteration the KL is that of the given embedding (openTSNE's optimize(0)).
    if (std::isnan(report.kl)) report.kl = plan.loss(table, phases.back().exaggeration);
    return report;
}

// The run settings that fit (TsneOptions) and transform (TransformOptions) share.
template <class Options>
TsneRunOptions run_options_from(const Options& o) {
    TsneRunOptions run;
    run.max_grad_norm = o.max_grad_norm;
    run.max_step_norm = o.max_step_norm;
    run.callback = o.callback;
    run.callbacks_every_iters = o.callbacks_every_iters;
    run.verbose = o.verbose;
    run.progress = o.progress;
    if constexpr (requires { o.progress_loss; }) run.progress_loss = o.progress_loss;
    return run;
}

} // namespace

// ------------------------------------------------------------------------------------------------ names

GradientMethod parse_gradient_method(const std::string& name) {
    const std::string s = to_lower(name);
    if (s == "auto") return GradientMethod::auto_;
    if (s == "exact") return GradientMethod::exact;
    if (s == "bh" || s == "barnes_hut" || s == "barnes-hut" || s == "barneshut") return GradientMethod::barnes_hut;
    if (s == "fft" || s == "interpolation") return GradientMethod::fft;
    throw InvalidArgument("unknown negative_gradient_method '" + name + "' (expected auto, exact, bh or fft)");
}

std::string to_string(GradientMethod m) {
    switch (m) {
    case GradientMethod::auto_: return "auto";
    case GradientMethod::exact: return "exact";
    case GradientMethod::barnes_hut: return "bh";
    case GradientMethod::fft: return "fft";
    }
    return "auto";
}

PointOrder parse_point_order(const std::string& name) {
    const std::string s = to_lower(name);
    if (s == "auto") return PointOrder::auto_;
    if (s == "none") return PointOrder::none;
    if (s == "hilbert") return PointOrder::hilbert;
    throw InvalidArgument("unknown point order '" + name + "' (expected auto, none or hilbert)");
}

std::string to_string(PointOrder m) {
    switch (m) {
    case PointOrder::auto_: return "auto";
    case PointOrder::none: return "none";
    case PointOrder::hilbert: return "hilbert";
    }
    return "auto";
}

TsneInit parse_tsne_init(const std::string& name) {
    const std::string s = to_lower(name);
    if (s == "pca") return TsneInit::pca;
    if (s == "spectral") return TsneInit::spectral;
    if (s == "random") return TsneInit::random;
    throw InvalidArgument("unknown initialization '" + name + "' (expected pca, spectral or random)");
}

std::string to_string(TsneInit m) {
    switch (m) {
    case TsneInit::pca: return "pca";
    case TsneInit::spectral: return "spectral";
    case TsneInit::random: return "random";
    case TsneInit::user: return "user";
    }
    return "pca";
}

// ------------------------------------------------------------------------------------------------ options

void validate(const RepulsionOptions& r, std::size_t n_components) {
    require(std::isfinite(r.theta) && r.theta >= 0.0, "theta must be non-negative, got " + std::to_string(r.theta));
    require(r.fft.n_interpolation_points >= 1, "n_interpolation_points must be >= 1");
    require(r.fft.min_num_intervals >= 1, "min_num_intervals must be >= 1");
    require(std::isfinite(r.fft.ints_in_interval) && r.fft.ints_in_interval > 0.0,
            "ints_in_interval must be positive, got " + std::to_string(r.fft.ints_in_interval));
    require(n_components >= 1, "n_components must be >= 1");
    require(!(r.method == GradientMethod::fft && n_components > 2),
            "negative_gradient_method fft supports 1 or 2 components, got n_components = " +
                std::to_string(n_components) + " (use bh or exact)");
}

void validate(const TsneRunOptions& o) {
    check_optional_positive(o.max_grad_norm, "max_grad_norm");
    check_optional_positive(o.max_step_norm, "max_step_norm");
    require(std::isfinite(o.min_gain) && o.min_gain >= 0.0,
            "min_gain must be non-negative, got " + std::to_string(o.min_gain));
    require(o.callbacks_every_iters >= 1,
            "callbacks_every_iters must be >= 1, got " + std::to_string(o.callbacks_every_iters));
}

namespace {
// One of openTSNE's phases: a fixed exaggeration and momentum, the given rate (none: auto N/exaggeration).
Phase opentsne_phase(const char* name, int n_iter, double exaggeration, double momentum,
                    std::optional<double> learning_rate) {
    Phase ph;
    ph.name = name;
    ph.n_steps = n_iter;
    ph.exaggeration = exaggeration;
    ph.momentum = momentum;
    ph.learning_rate = learning_rate;
    return ph;
}
} // namespace

std::vector<Phase> tsne_phases(const TsneOptions& o) {
    const double late = o.exaggeration.value_or(1.0);
    const double early = o.early_exaggeration.value_or(std::max(12.0, late));
    return {opentsne_phase("early_exaggeration", o.early_exaggeration_iter, early, o.initial_momentum, o.learning_rate),
            opentsne_phase("main", o.n_iter, late, o.final_momentum, o.learning_rate)};
}

std::vector<Phase> transform_phases(const TransformOptions& o) {
    // openTSNE's transform runs both phases under one name
    return {opentsne_phase("transform", o.early_exaggeration_iter, o.early_exaggeration, o.initial_momentum,
                          o.learning_rate),
            opentsne_phase("transform", o.n_iter, o.exaggeration, o.final_momentum, o.learning_rate)};
}

namespace {
std::string exact_cost(std::size_t n) {
    char cost[96];
    std::snprintf(cost, sizeof cost, "%zu points: %.2g pair interactions per iteration", n,
                  static_cast<double>(n) * static_cast<double>(n));
    return cost;
}

// Once per fit (validate runs several times): the exact gradient's cost on many points.
void warn_exact_cost(const TsneOptions& o, std::size_t n) {
    if (o.repulsion.method != GradientMethod::exact || n < exact_gradient_warn_points) return;
    warn("exact t-SNE gradient on " + exact_cost(n) + " (O(N^2); fft and bh are O(N) / O(N log N))");
}
} // namespace

void validate(const TsneOptions& o, std::size_t n) {
    require(n == 0 || o.knn_shards <= n, "knn_shards (" + std::to_string(o.knn_shards) + ") must not exceed the number of points (" + std::to_string(n) + ")");
    require(o.n_components >= 1, "n_components must be >= 1");
    require(!o.perplexities.empty(), "perplexity: at least one value is needed");
    for (double p : o.perplexities) {
        require(std::isfinite(p) && p > 0.0, "perplexity must be positive, got " + std::to_string(p));
    }
    check_optional_positive(o.learning_rate, "learning_rate");
    check_optional_positive(o.early_exaggeration, "early_exaggeration");
    check_optional_positive(o.exaggeration, "exaggeration");
    check_optional_positive(o.max_grad_norm, "max_grad_norm");
    check_optional_positive(o.max_step_norm, "max_step_norm");
    require(o.early_exaggeration_iter >= 0,
            "early_exaggeration_iter must be non-negative, got " + std::to_string(o.early_exaggeration_iter));
    require(o.n_iter >= 0, "n_iter must be non-negative, got " + std::to_string(o.n_iter));
    for (double m : {o.initial_momentum, o.final_momentum}) {
        require(std::isfinite(m) && m >= 0.0 && m < 1.0, "momentum must lie in [0, 1), got " + std::to_string(m));
    }
    require(std::isfinite(o.min_gain) && o.min_gain >= 0.0, "min_gain must be non-negative");
    require(o.callbacks_every_iters >= 1, "callbacks_every_iters must be >= 1");
    require(o.n_jobs != 0, "n_jobs must be a positive integer or negative (-1 = all cores), got 0");
    TsneGradientParams p = gradient_params_from(o, 1);
    validate_gradient_params(p, o.n_components);
    if (n > 0 && o.repulsion.method == GradientMethod::exact) {
        const long long iters = static_cast<long long>(o.early_exaggeration_iter) + o.n_iter;
        char total[64];
        std::snprintf(total, sizeof total, ", %.2g over %lld iterations",
                      static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(iters), iters);
        require(n <= o.exact_max_points || o.force_exact,
                "the exact gradient is O(N^2) and too slow for " + exact_cost(n) + total + " (limit " +
                    std::to_string(o.exact_max_points) +
                    " points); use the fft or bh method (O(N) / O(N log N), the same map), or force it "
                    "(--force-exact, TsneOptions::force_exact)");
    }
    if (o.n_components > 3 && o.repulsion.method != GradientMethod::exact) {
        warn("t-SNE with " + std::to_string(o.n_components) +
             " components: Barnes-Hut scales exponentially with the dimension");
    }
    if (o.initialization == TsneInit::user) {
        require(!o.initial_embedding.empty(), "initialization = user needs initial_embedding");
        require(o.initial_embedding.cols() == o.n_components,
                "initial_embedding has " + std::to_string(o.initial_embedding.cols()) + " columns, expected " +
                    std::to_string(o.n_components));
        if (n > 0) {
            require(o.initial_embedding.rows() == n, "initial_embedding has " +
                                                         std::to_string(o.initial_embedding.rows()) +
                                                         " rows for " + std::to_string(n) + " points");
        }
        require_finite(o.initial_embedding.view(), "initial_embedding");
        check_init_spread(o.initial_embedding.view(), "the initial embedding");
    }
    if (n > 0) require(n >= 2, "t-SNE needs at least 2 points, got " + std::to_string(n));
}

GradientMethod resolve_method(GradientMethod m, std::size_t n, std::size_t d) {
    if (m != GradientMethod::auto_) return m;
    return (n < 10000 || d > 2) ? GradientMethod::barnes_hut : GradientMethod::fft;
}

std::unique_ptr<Repulsion> make_repulsion(const TsneGradientParams& p, std::size_t n, std::size_t d) {
    validate_gradient_params(p, d);
    switch (resolve_method(p.repulsion.method, n, d)) {
    case GradientMethod::exact: return make_exact_repulsion(p.n_threads);
    case GradientMethod::barnes_hut: return make_barnes_hut_repulsion(p.repulsion.theta, p.n_threads);
    default: {
        FftOptions f = p.repulsion.fft;
        f.n_threads = p.n_threads;
        return make_fft_repulsion(f);
    }
    }
}

// ------------------------------------------------------------------------------------------------ embedding

TsneEmbedding::TsneEmbedding(Matrix<double> Y, CsrMatrix<double> P, TsneGradientParams params,
                             std::shared_ptr<const KnnIndex> knn_index, std::shared_ptr<const Matrix<float>> data)
    : table_(std::move(Y)), P_(std::move(P)), params_(params), index_(std::move(knn_index)), data_(std::move(data)) {
    const Matrix<double>& Y_ = table_.Y();
    require(Y_.rows() >= 1 && Y_.cols() >= 1, "TsneEmbedding: empty embedding");
    require_finite(Y_.view(), "TsneEmbedding: embedding");
    validate_gradient_params(params_, Y_.cols());
    if (!P_.indptr.empty()) {
        P_.validate("TsneEmbedding: P");
        require(P_.n_rows == Y_.rows() && P_.n_cols == Y_.rows(),
                "TsneEmbedding: P is " + std::to_string(P_.n_rows) + " x " + std::to_string(P_.n_cols) +
                    " for an embedding of " + std::to_string(Y_.rows()) + " points");
    }
    if (index_) {
        require(index_->n_points() == Y_.rows(), "TsneEmbedding: the kNN index covers " +
                                                     std::to_string(index_->n_points()) + " points, the embedding " +
                                                     std::to_string(Y_.rows()));
    }
    optimizer_ = GainsMomentum(0.8, 0.01, 5.0, Y_.cols());
}

TsneEmbedding::TsneEmbedding(Matrix<double> Y, CsrMatrix<double> P_rows, TsneGradientParams params, dist::Comm& comm)
    : table_(std::move(Y)), P_(std::move(P_rows)), params_(params), comm_(&comm) {
    const Matrix<double>& Y_ = table_.Y();
    require(Y_.rows() >= 1 && Y_.cols() >= 1, "TsneEmbedding: empty embedding");
    require_finite(Y_.view(), "TsneEmbedding: embedding");
    validate_gradient_params(params_, Y_.cols());
    P_.validate("TsneEmbedding: P rows");
    const dist::RowPartition part(Y_.rows(), comm.size());
    require(P_.n_rows == part.count(comm.rank()) && P_.n_cols == Y_.rows(),
            "TsneEmbedding: this rank's P is " + std::to_string(P_.n_rows) + " x " + std::to_string(P_.n_cols) +
                ", expected its " + std::to_string(part.count(comm.rank())) + " rows of " + std::to_string(Y_.rows()) +
                " columns");
    optimizer_ = GainsMomentum(0.8, 0.01, 5.0, Y_.cols());
}

void TsneEmbedding::set_affinities(CsrMatrix<double> P) {
    require(comm_ == nullptr, "set_affinities: not available on a distributed embedding");
    P.validate("TsneEmbedding: P");
    const std::size_t n = table_.Y().rows();
    require(P.n_rows == n && P.n_cols == n, "TsneEmbedding: P is " + std::to_string(P.n_rows) + " x " +
                                                std::to_string(P.n_cols) + " for an embedding of " +
                                                std::to_string(n) + " points");
    P_ = std::move(P);
    order_.clear();
    P_ordered_ = {};
}

namespace {
Phase one_phase(int n_iter, const TsneOptimizeOptions& o) {
    require(n_iter >= 0, "n_iter must be non-negative, got " + std::to_string(n_iter));
    Phase ph;
    ph.name = o.phase;
    ph.n_steps = n_iter;
    ph.exaggeration = o.exaggeration;
    ph.momentum = o.momentum;
    ph.learning_rate = o.learning_rate;
    return ph;
}
} // namespace

OptimizeReport TsneEmbedding::optimize(int n_iter, const TsneOptimizeOptions& o) {
    return run({one_phase(n_iter, o)}, o);
}

OptimizeReport TsneEmbedding::run(const std::vector<Phase>& phases, const TsneRunOptions& o) {
    require(!P_.indptr.empty(), "optimize: this embedding has no affinities (loaded models can only transform)");
    const Matrix<double>& Y = table_.Y();
    validate_gradient_params(params_, Y.cols());
    FullBatchOptions fb;
    fb.max_grad_norm = o.max_grad_norm;
    // The gradient of all rows (one process) or of this rank's rows, all-gathered (dist/tsne.hpp); the same
    // trainer runs on the full embedding either way.
    std::unique_ptr<Repulsion> rep;
    std::optional<TsneObjective> objective;
    std::optional<dist::TsneRowsObjective> rows_objective;
    GradientFunction gradient;
    if (comm_) {
        require(params_.point_order != PointOrder::hilbert,
                "point_order hilbert is not available in a distributed run (it keeps the user's order: the "
                "single-process run with point_order none gives the same bits)");
        rows_objective.emplace(*comm_, P_, params_, Y.rows(), Y.cols());
        gradient = [&rows_objective](MatrixView<double> Yv, double ex, double* g, bool want) {
            return (*rows_objective)(Yv, ex, g, want);
        };
    } else {
        const std::size_t n = Y.rows(), d = Y.cols();
        const bool reorder = params_.point_order == PointOrder::hilbert ||
                             (params_.point_order == PointOrder::auto_ && n >= point_order_min_points);
        if (reorder && order_.size() != n) {
            // Once per embedding (the first run; set_affinities clears it): the Hilbert order of the map as it is
            // now, and P renumbered by it, so the gradient's neighbour reads and grid passes touch nearby memory.
            order_ = hilbert_order(Y.view());
            P_ordered_ = permute_symmetric(P_, order_, params_.n_threads);
        }
        if (!reorder) {
            order_.clear();
            P_ordered_ = {};
        }
        rep = make_repulsion(params_, n, d);
        // float32 P values in the attraction (memory-bound; docs/tsne.md), as the distributed objective reads them.
        objective.emplace(reorder ? P_ordered_ : P_, *rep, StudentTKernel(params_.dof), params_.n_threads, 1.0, true);
        if (reorder) {
            // Y in, gradient out: the trainer, callbacks and outputs keep the user's order.
            gradient = [&objective, this, n, d, y = std::vector<double>(n * d), go = std::vector<double>(n * d)](
                           MatrixView<double> Yv, double ex, double* g, bool want) mutable {
                const int T = params_.n_threads;
                gather_rows(Yv.data, order_, d, y.data(), T);
                const double kl = (*objective)(MatrixView<double>{y.data(), n, d}, ex, go.data(), want);
                scatter_rows(go.data(), order_, d, g, T);
                return kl;
            };
        } else {
            gradient = [&objective](MatrixView<double> Yv, double ex, double* g, bool want) {
                return (*objective)(Yv, ex, g, want);
            };
        }
    }
    FullBatchPlan plan(std::move(gradient), Y.rows(), fb);
    OptimizeReport r = run_phases(phases, o, plan, table_, optimizer_, params_.n_threads, iterations_);
    kl_ = r.kl;
    if (r.stop == StopReason::callback && o.propagate_exception)
        throw OptimizationInterrupt(r.kl, table_.Y(), r.iterations);
    return r;
}

PartialTsneEmbedding TsneEmbedding::prepare_partial(MatrixView<float> X, const TransformOptions& o) const {
    require(can_transform(), "transform: this embedding has no kNN index (it was fitted from affinities)");
    require(X.rows >= 1, "transform: no new points");
    require(X.cols == index_->n_dims(), "transform: new points have " + std::to_string(X.cols) +
                                            " dimensions, the training data " + std::to_string(index_->n_dims()));
    require_finite(X, "transform: new data");
    require(std::isfinite(o.perplexity) && o.perplexity > 0.0,
            "transform: perplexity must be positive, got " + std::to_string(o.perplexity));
    require(o.k >= 1, "transform: k must be >= 1");
    const Matrix<double>& Y_ = table_.Y();
    const std::size_t n_ref = Y_.rows();
    const std::size_t k_p = std::max<std::size_t>(
        1, std::min(n_ref, static_cast<std::size_t>(std::floor(3.0 * o.perplexity))));
    const std::size_t k_init = std::min(o.k, n_ref);
    const bool need_init = o.initialization.empty();
    const KnnGraph g = index_->query(X, std::max(k_p, need_init ? k_init : std::size_t(0)));
    PerplexityOptions po;
    po.perplexity = o.perplexity;
    po.symmetrize = false;
    po.n_threads = params_.n_threads;
    CsrMatrix<double> P_new = perplexity_conditional(truncate(g, k_p), po);
    Matrix<double> init;
    if (need_init) {
        init = median_init(Y_.view(), truncate(g, k_init));
    } else {
        require(o.initialization.rows() == X.rows && o.initialization.cols() == Y_.cols(),
                "transform: initialization must be N_new x n_components");
        init = o.initialization;
    }
    return prepare_partial(std::move(P_new), std::move(init));
}

PartialTsneEmbedding TsneEmbedding::prepare_partial(CsrMatrix<double> P_new, Matrix<double> init) const {
    auto ref = std::make_shared<const Matrix<double>>(table_.Y());
    return PartialTsneEmbedding(std::move(init), std::move(P_new), std::move(ref), params_);
}

Matrix<double> TsneEmbedding::transform(MatrixView<float> X, const TransformOptions& o) const {
    require(o.early_exaggeration_iter >= 0 && o.n_iter >= 0, "transform: iteration counts must be non-negative");
    PartialTsneEmbedding part = prepare_partial(X, o);
    part.run(transform_phases(o), run_options_from(o));
    return part.embedding();
}

// ------------------------------------------------------------------------------------------------ partial

PartialTsneEmbedding::PartialTsneEmbedding(Matrix<double> Y_new, CsrMatrix<double> P_new,
                                           std::shared_ptr<const Matrix<double>> reference, TsneGradientParams params)
    : table_(std::move(Y_new)), P_(std::move(P_new)), reference_(std::move(reference)), params_(params) {
    const Matrix<double>& Y_ = table_.Y();
    require(reference_ && !reference_->empty(), "PartialTsneEmbedding: empty reference");
    require(Y_.rows() >= 1 && Y_.cols() == reference_->cols(),
            "PartialTsneEmbedding: new points must have the reference's dimension");
    require_finite(Y_.view(), "PartialTsneEmbedding: initialization");
    P_.validate("PartialTsneEmbedding: P");
    require(P_.n_rows == Y_.rows() && P_.n_cols == reference_->rows(),
            "PartialTsneEmbedding: P must be N_new x N_ref");
    validate_gradient_params(params_, Y_.cols());
    optimizer_ = GainsMomentum(0.8, 0.01, std::nullopt, Y_.cols());
}

OptimizeReport PartialTsneEmbedding::optimize(int n_iter, const TsneOptimizeOptions& o) {
    return run({one_phase(n_iter, o)}, o);
}

OptimizeReport PartialTsneEmbedding::run(const std::vector<Phase>& phases, const TsneRunOptions& o) {
    for (const Phase& ph : phases)
        require(ph.learning_rate.has_value(),
                "transform: learning_rate must be given (auto = N/exaggeration is meant for full embeddings)");
    const Matrix<double>& ref = *reference_;
    const std::size_t d = ref.cols();
    std::unique_ptr<Repulsion> rep = make_repulsion(params_, ref.rows(), d);
    PartialTsneObjective objective(P_, ref.view(), *rep, StudentTKernel(params_.dof), params_.n_threads);
    FullBatchOptions fb;
    fb.max_grad_norm = o.max_grad_norm;
    fb.center = false;
    fb.auto_learning_rate = false;
    if (resolve_method(params_.repulsion.method, ref.rows(), d) == GradientMethod::fft) {
        // Keep new points on the reference's interpolation grid: centre (max+min)/2, padding 25 %.
        ClipRegion c;
        c.center.assign(d, 0.0);
        for (std::size_t j = 0; j < d; ++j) {
            double lo = ref(0, j), hi = lo;
            for (std::size_t i = 1; i < ref.rows(); ++i) {
                lo = std::min(lo, ref(i, j));
                hi = std::max(hi, ref(i, j));
            }
            c.center[j] = 0.5 * (lo + hi);
        }
        double r2 = 0.0;
        for (std::size_t i = 0; i < ref.rows(); ++i) {
            double s = 0;
            for (std::size_t j = 0; j < d; ++j) s += (ref(i, j) - c.center[j]) * (ref(i, j) - c.center[j]);
            r2 = std::max(r2, s);
        }
        c.radius = 1.25 * std::max(std::sqrt(r2), 1e-8);
        fb.clip = c;
    }
    FullBatchPlan plan([&objective](MatrixView<double> Yv, double ex, double* g, bool want) {
        return objective(Yv, ex, g, want);
    }, table_.Y().rows(), fb);
    OptimizeReport r = run_phases(phases, o, plan, table_, optimizer_, params_.n_threads, iterations_);
    kl_ = r.kl;
    if (r.stop == StopReason::callback && o.propagate_exception)
        throw OptimizationInterrupt(r.kl, table_.Y(), r.iterations);
    return r;
}

// ------------------------------------------------------------------------------------------------ TSNE

TsneEmbedding TSNE::prepare_initial(MatrixView<float> X) const {
    const TsneOptions& o = options_;
    const std::size_t n = X.rows;
    require(n >= 2, "t-SNE needs at least 2 points, got " + std::to_string(n));
    require(X.cols >= 1, "t-SNE: the data has no columns");
    validate(o, n);
    warn_exact_cost(o, n);
    require_finite(X, "t-SNE input data");
    const int threads = resolve_threads(o.n_jobs);
    const std::uint64_t seed = resolve_seed(o.random_state);
    TsneTimings times;

    const std::vector<double> perps = clean_perplexities(n, o.perplexities);
    const std::size_t k = multiscale_neighbors(n, perps);

    Timer t;
    std::shared_ptr<const KnnIndex> index(
        build_knn_index(X, fit_knn_options(o.neighbors, o.metric, seed, threads, o.metric_params, o.knn_shards)).release());
    KnnGraph knn = index->self_neighbors(k);
    times.knn = t.seconds();

    t.reset();
    CsrMatrix<double> P;
    MultiscaleOptions mo;
    mo.perplexities = perps;
    mo.mode = MultiscaleMode::mixture;
    mo.n_threads = threads;
    P = multiscale_affinities(knn, mo);
    times.affinities = t.seconds();

    t.reset();
    Matrix<double> Y;
    switch (o.initialization) {
    case TsneInit::pca: Y = pca_init(X, o.n_components, true, seed, threads); break;
    case TsneInit::spectral: Y = spectral_init(P, o.n_components, true, seed); break;
    case TsneInit::random: Y = random_init(n, o.n_components, seed); break;
    case TsneInit::user: Y = user_init(o.initial_embedding.view(), n, o.n_components); break;
    }
    times.init = t.seconds();
    if (o.verbose) {
        std::ostringstream msg;
        msg << "kNN (k = " << k << ") " << times.knn << " s, affinities " << times.affinities << " s, "
            << to_string(o.initialization) << " init " << times.init << " s";
        info(msg.str());
    }

    auto data = std::make_shared<const Matrix<float>>(convert<float>(X));
    TsneEmbedding emb(std::move(Y), std::move(P), gradient_params_from(o, threads), std::move(index), std::move(data));
    emb.timings() = times;
    return emb;
}

TsneEmbedding TSNE::prepare_initial(CsrMatrix<double> P, Matrix<double> init) const {
    const TsneOptions& o = options_;
    P.validate("t-SNE affinities");
    require(P.n_rows == P.n_cols, "t-SNE affinities must be square, got " + std::to_string(P.n_rows) + " x " +
                                      std::to_string(P.n_cols));
    const std::size_t n = P.n_rows;
    require(n >= 2, "t-SNE needs at least 2 points, got " + std::to_string(n));
    TsneOptions checked = o;
    if (init.empty() && o.initialization == TsneInit::user) init = o.initial_embedding;
    if (!init.empty()) {
        checked.initialization = TsneInit::user;
        checked.initial_embedding = init;
    } else if (checked.initialization == TsneInit::pca || checked.initialization == TsneInit::user) {
        checked.initialization = TsneInit::spectral;  // openTSNE: no data -> spectral
    }
    validate(checked, n);
    warn_exact_cost(o, n);
    for (double v : P.values) require_lazy(std::isfinite(v) && v >= 0.0, [] { return "t-SNE affinities must be finite and >= 0"; });
    const double s = P.sum();
    require(s > 0.0, "t-SNE affinities sum to zero");
    for (double& v : P.values) v /= s;
    const int threads = resolve_threads(o.n_jobs);
    const std::uint64_t seed = resolve_seed(o.random_state);
    Timer t;
    Matrix<double> Y;
    if (checked.initialization == TsneInit::user) {
        Y = user_init(init.view(), n, o.n_components);
    } else if (checked.initialization == TsneInit::random) {
        Y = random_init(n, o.n_components, seed);
    } else {
        Y = spectral_init(P, o.n_components, true, seed);
    }
    TsneTimings times;
    times.init = t.seconds();
    TsneEmbedding emb(std::move(Y), std::move(P), gradient_params_from(o, threads));
    emb.timings() = times;
    return emb;
}

void TSNE::run(TsneEmbedding& emb) const {
    const TsneOptions& o = options_;
    validate(o, emb.embedding().rows());
    TsneRunOptions run = run_options_from(o);
    run.min_gain = o.min_gain;
    const OptimizeReport r = emb.run(tsne_phases(o), run);  // a callback stop returns the partial embedding
    if (!r.phase_seconds.empty()) emb.timings().early_exaggeration = r.phase_seconds[0];
    if (r.phase_seconds.size() > 1) emb.timings().main = r.phase_seconds[1];
}

TsneEmbedding TSNE::fit(MatrixView<float> X) const {
    TsneEmbedding emb = prepare_initial(X);
    run(emb);
    return emb;
}

TsneEmbedding TSNE::fit(CsrMatrix<double> P, Matrix<double> init) const {
    TsneEmbedding emb = prepare_initial(std::move(P), std::move(init));
    run(emb);
    return emb;
}

} // namespace nembed
