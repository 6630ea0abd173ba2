// TorchDR's PACMAP on the core (methods/pacmap.hpp).
#include "nembed/methods/pacmap.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>

#include "nembed/core/error.hpp"
#include "nembed/core/log.hpp"
#include "nembed/core/strings.hpp"
#include "nembed/core/timer.hpp"
#include "nembed/init/pca.hpp"
#include "nembed/init/random.hpp"
#include "nembed/optim/optimizer.hpp"
#include "nembed/train/full_batch_plan.hpp"
#include "nembed/train/parametrization.hpp"

namespace nembed {

PacmapInit parse_pacmap_init(const std::string& name) {
    const std::string s = to_lower(name);
    if (s == "pca") return PacmapInit::pca;
    if (s == "normal" || s == "random") return PacmapInit::normal;
    throw InvalidArgument("init: unknown PACMAP initialisation '" + name + "' (expected pca, normal or random)");
}

std::string to_string(PacmapInit i) {
    switch (i) {
        case PacmapInit::pca: return "pca";
        case PacmapInit::normal: return "normal";
        case PacmapInit::user: return "user";
    }
    return "?";
}

std::size_t pacmap_n_mid_near(const PacmapOptions& o) {
    return static_cast<std::size_t>(o.MN_ratio * static_cast<double>(o.n_neighbors));
}
std::size_t pacmap_n_further(const PacmapOptions& o) {
    return static_cast<std::size_t>(o.FP_ratio * static_cast<double>(o.n_neighbors));
}

void validate(const PacmapOptions& o, std::size_t n) {
    PACMAPAffinityOptions ao;
    ao.n_neighbors = o.n_neighbors;
    ao.metric = o.metric;
    validate(ao, n);
    require(o.n_components >= 1, "n_components must be >= 1");
    if (o.lr) require(std::isfinite(*o.lr) && *o.lr > 0.0, "lr must be positive, got " + std::to_string(*o.lr));
    require(o.optimizer == OptimizerOptions::Kind::adam || o.optimizer == OptimizerOptions::Kind::sgd,
            "optimizer: PACMAP takes Adam or SGD, got " + to_string(o.optimizer));
    require(std::isfinite(o.init_scaling) && o.init_scaling > 0.0,
            "init_scaling must be positive, got " + std::to_string(o.init_scaling));
    require(std::isfinite(o.min_grad_norm) && o.min_grad_norm >= 0.0,
            "min_grad_norm must be >= 0, got " + std::to_string(o.min_grad_norm));
    require(o.max_iter >= 0, "max_iter must be >= 0, got " + std::to_string(o.max_iter));
    require(std::isfinite(o.MN_ratio) && o.MN_ratio >= 0.0, "MN_ratio must be >= 0, got " + std::to_string(o.MN_ratio));
    require(std::isfinite(o.FP_ratio) && o.FP_ratio >= 0.0, "FP_ratio must be >= 0, got " + std::to_string(o.FP_ratio));
    require(o.check_interval >= 1, "check_interval must be >= 1, got " + std::to_string(o.check_interval));
    require(o.iter_per_phase >= 1, "iter_per_phase must be >= 1, got " + std::to_string(o.iter_per_phase));
    require(o.callbacks_every_iters >= 0, "callbacks_every_iters must be >= 0");
    require(o.n_jobs >= 1, "n_jobs must be resolved to >= 1 threads");
    if (n > 0 && o.exclude_neighbors_from_negative_sampling && pacmap_n_further(o) > 0)
        require(o.n_neighbors + 1 < n, "n_neighbors must be smaller than the number of points − 1 (" +
                                           std::to_string(n - 1) + ") when excluding neighbours from the further "
                                           "pairs, got " + std::to_string(o.n_neighbors));
    if (o.init == PacmapInit::user) {
        require(o.initial_embedding.cols() == o.n_components && (n == 0 || o.initial_embedding.rows() == n),
                "init: the initial embedding must be N x n_components");
        require_finite(o.initial_embedding.view(), "initial embedding");
    }
}

std::vector<Phase> pacmap_phases(int max_iter, int iter_per_phase, double lr) {
    require(max_iter >= 0 && iter_per_phase >= 1, "pacmap_phases: max_iter >= 0 and iter_per_phase >= 1");
    const int p1 = std::min(max_iter, iter_per_phase + 1);
    const int p2 = std::min(max_iter - p1, iter_per_phase);
    const int p3 = max_iter - p1 - p2;
    std::vector<Phase> out;
    const std::pair<const char*, int> parts[3] = {{"phase_1", p1}, {"phase_2", p2}, {"phase_3", p3}};
    for (const auto& [name, steps] : parts) {
        if (steps <= 0) continue;
        Phase ph;
        ph.name = name;
        ph.n_steps = steps;
        ph.learning_rate = lr;
        out.push_back(ph);
    }
    return out;
}

Matrix<double> pacmap_scale_init(Matrix<double> Y, double init_scaling) {
    const std::size_t n = Y.rows();
    require(n >= 2 && Y.cols() >= 1, "init: needs at least 2 points");
    double mean = 0.0;
    for (std::size_t i = 0; i < n; ++i) mean += Y(i, 0);
    mean /= static_cast<double>(n);
    double ss = 0.0;
    for (std::size_t i = 0; i < n; ++i) ss += (Y(i, 0) - mean) * (Y(i, 0) - mean);
    const double sd = std::sqrt(ss / static_cast<double>(n - 1));
    require(sd > 0.0 && std::isfinite(sd), "init: the first column of the initial embedding is constant");
    const double f = init_scaling / sd;
    for (std::size_t i = 0; i < Y.size(); ++i) Y.data()[i] *= f;
    return Y;
}

struct PacmapEmbedding::Training {
    EmbeddingTable table;
    PacmapObjective objective;
    FullBatchPlan plan;
    std::unique_ptr<Optimizer> optimizer;
    Trainer trainer;
    static FullBatchOptions plan_options() {
        FullBatchOptions fo;
        fo.center = false;  // TorchDR moves the table as the optimizer says
        fo.auto_learning_rate = false;
        return fo;
    }
    Training(Matrix<double> Y, PacmapObjective obj, std::unique_ptr<Optimizer> opt, int n_threads)
        : table(std::move(Y)), objective(std::move(obj)),
          plan([this](MatrixView<double> Yv, double ex, std::int64_t step, double* grad, bool want) {
                   return objective(Yv, ex, step, grad, want);
               },
               table.n_points(), plan_options()),
          optimizer(std::move(opt)), trainer(plan, table, *optimizer, n_threads) {}
};

PacmapEmbedding::PacmapEmbedding(Matrix<double> Y, PacmapObjective objective, const PacmapOptions& o, int n_threads)
    : max_iter_(o.max_iter), check_interval_(o.check_interval), min_grad_norm_(o.min_grad_norm),
      verbose_(o.verbose) {
    n_threads = std::max(1, n_threads);
    const std::size_t n = Y.rows();
    require(n == objective.n_points(), "PACMAP: the initial embedding has " + std::to_string(n) +
                                           " points, the data " + std::to_string(objective.n_points()));
    objective.set_threads(n_threads);
    OptimizerOptions oo;
    oo.kind = o.optimizer;  // torch's defaults: Adam (0.9, 0.999, 1e-8), SGD without momentum
    const double lr = o.lr ? *o.lr : std::max(static_cast<double>(n) / 4.0, 50.0);
    train_ = std::make_unique<Training>(std::move(Y), std::move(objective), make_optimizer(oo), n_threads);
    for (Phase& ph : pacmap_phases(o.max_iter, o.iter_per_phase, lr)) train_->trainer.add_phase(std::move(ph));
}

PacmapEmbedding::PacmapEmbedding(PacmapEmbedding&&) noexcept = default;
PacmapEmbedding& PacmapEmbedding::operator=(PacmapEmbedding&&) noexcept = default;
PacmapEmbedding::~PacmapEmbedding() = default;

const Matrix<double>& PacmapEmbedding::embedding() const { return train_->table.Y(); }
int PacmapEmbedding::iterations_done() const { return static_cast<int>(train_->trainer.steps_done()); }
double PacmapEmbedding::gradient_norm() const { return train_->plan.gradient_norm(); }
const PacmapObjective& PacmapEmbedding::objective() const { return train_->objective; }

int PacmapEmbedding::optimize(int n_more, const TrainCallback& callback, int every, const TrainProgress& progress) {
    Timer t;
    TrainHooks hooks;
    hooks.who = "PACMAP";
    // The run goes in chunks (below); events count seconds from the start of this call, not of a chunk.
    if (progress)
        hooks.progress = [&](const TrainEvent& ev) {
            TrainEvent e = ev;
            e.elapsed = t.seconds();
            progress(e);
        };
    hooks.verbose = verbose_;
    // Periods over the global iterations, after 0-based iterations 0, every, 2·every, ... (TorchDR logs there).
    hooks.callback_first_of_period = true;
    hooks.callback_every = check_interval_;
    if (callback && every > 0) {
        hooks.callback = [&](const TrainEvent& ev) {
            TrainEvent e = ev;
            e.elapsed = t.seconds();
            return callback(e);
        };
        hooks.callback_every = every;
    }
    Trainer& tr = train_->trainer;
    const auto ci = static_cast<std::int64_t>(check_interval_);
    std::int64_t done = 0;
    // In chunks ending on TorchDR's check iterations (s % check_interval == 0), where the gradient norm is tested;
    // chunks of one run are the same steps as one run (the Trainer is resumable).
    while (!converged_ && !tr.done() && (n_more < 0 || done < n_more)) {
        const std::int64_t s = tr.steps_done();
        const std::int64_t check = (s + ci - 1) / ci * ci;
        std::int64_t chunk = check - s + 1;
        if (n_more >= 0) chunk = std::min(chunk, static_cast<std::int64_t>(n_more) - done);
        const RunReport r = tr.run(chunk, hooks);
        done += r.steps;
        if (r.stop == StopReason::callback) break;
        if (tr.steps_done() == check + 1 && train_->plan.gradient_norm() < min_grad_norm_) {
            converged_ = true;
            if (verbose_) {
                std::ostringstream msg;
                msg << "PACMAP: converged at iteration " << check << " with gradient norm "
                    << train_->plan.gradient_norm();
                info(msg.str());
            }
        }
        if (r.steps < chunk) break;
    }
    timings_.optimize += t.seconds();
    return static_cast<int>(done);
}

namespace {
std::uint64_t resolve_seed(const std::optional<std::uint64_t>& s) {
    if (s) return *s;
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}
} // namespace

PacmapEmbedding PACMAP::prepare(MatrixView<float> X) const {
    const PacmapOptions& o = options_;
    validate(o, X.rows);
    require_finite(X, "input data");
    const std::uint64_t seed = resolve_seed(o.random_state);
    const int nt = o.n_jobs;
    PacmapTimings timings;
    Timer t;
    PACMAPAffinityOptions ao;
    ao.n_neighbors = o.n_neighbors;
    ao.metric = o.metric;
    PacmapNeighbors nb = pacmap_affinity(X, ao, fit_knn_options(o.neighbors, Metric::euclidean, seed, nt));
    timings.knn = t.seconds();
    t = Timer();
    Matrix<double> Y0;
    switch (o.init) {
        case PacmapInit::pca: {
            require(o.n_components <= std::min(X.rows, X.cols),
                    "init pca: n_components must be at most min(N, D)");
            const PcaResult p = pca(X, o.n_components, nt);
            Y0 = Matrix<double>(X.rows, o.n_components);
            for (std::size_t i = 0; i < Y0.size(); ++i) Y0.data()[i] = static_cast<double>(p.scores.data()[i]);
            break;
        }
        case PacmapInit::normal: Y0 = random_init(X.rows, o.n_components, seed, 1.0); break;
        case PacmapInit::user: Y0 = o.initial_embedding; break;
    }
    Y0 = pacmap_scale_init(std::move(Y0), o.init_scaling);
    timings.init = t.seconds();
    PacmapPairOptions po;
    po.n_mid_near = pacmap_n_mid_near(o);
    po.n_further = pacmap_n_further(o);
    po.exclude_neighbors = o.exclude_neighbors_from_negative_sampling;
    po.iter_per_phase = o.iter_per_phase;
    po.seed = seed;
    Matrix<float> Xc(X.rows, X.cols, std::vector<float>(X.data, X.data + X.size()));
    PacmapEmbedding emb(std::move(Y0), PacmapObjective(std::move(Xc), std::move(nb), po), o, nt);
    emb.timings() = timings;
    return emb;
}

PacmapEmbedding PACMAP::fit(MatrixView<float> X) const {
    PacmapEmbedding emb = prepare(X);
    emb.optimize(-1, options_.callback, options_.callbacks_every_iters, options_.progress);
    return emb;
}

} // namespace nembed
