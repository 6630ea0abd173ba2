#include "nembed/methods/tsne.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "nembed/core/log.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/core/timer.hpp"
#include "nembed/init/pca_init.hpp"
#include "nembed/init/user.hpp"
#include "nembed/init/spectral.hpp"
#include "nembed/init/random.hpp"
#include "nembed/init/median.hpp"
#include "nembed/loss/tsne_objective.hpp"
#include "nembed/repulsion/repulsion.hpp"
#include "nembed/affinity/multiscale.hpp"
#include "nembed/affinity/perplexity.hpp"

namespace nembed {
namespace {

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

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

GradientDescentOptions to_gd(const TsneOptimizeOptions& o, int n_threads, int n_iter, const Timer* timer) {
    GradientDescentOptions g;
    g.learning_rate = o.learning_rate;
    g.momentum = o.momentum;
    g.exaggeration = o.exaggeration;
    g.min_gain = o.min_gain;
    g.max_grad_norm = o.max_grad_norm;
    g.max_step_norm = o.max_step_norm;
    g.callback = o.callback;
    g.callbacks_every_iters = o.callbacks_every_iters;
    g.verbose = o.verbose;
    g.n_threads = n_threads;
    if (o.progress) {
        ProgressHook hook = o.progress;
        std::string phase = o.phase;
        g.on_iteration = [hook, phase, n_iter, timer](int it, double kl) {
            hook(ProgressEvent{phase, it, n_iter, kl, timer->seconds()});
        };
    }
    return g;
}

void validate_gradient_params(const TsneGradientParams& p, std::size_t n_components) {
    require(std::isfinite(p.dof) && p.dof > 0.0, "dof must be positive, got " + std::to_string(p.dof));
    require(std::isfinite(p.theta) && p.theta >= 0.0, "theta must be non-negative, got " + std::to_string(p.theta));
    require(p.n_interpolation_points >= 1, "n_interpolation_points must be >= 1");
    require(p.min_num_intervals >= 1, "min_num_intervals must be >= 1");
    require(std::isfinite(p.ints_in_interval) && p.ints_in_interval > 0.0,
            "ints_in_interval must be positive, got " + std::to_string(p.ints_in_interval));
    require(p.n_threads >= 1, "n_threads must be >= 1");
    require(n_components >= 1, "n_components must be >= 1");
    require(!(p.method == GradientMethod::fft && n_components > 2),
            "negative_gradient_method fft supports 1 or 2 components, got n_components = " +
                std::to_string(n_components) + " (use bh or exact)");
}

TsneGradientParams gradient_params_from(const TsneOptions& o, int n_threads) {
    TsneGradientParams p;
    p.dof = o.dof;
    p.method = o.negative_gradient_method;
    p.theta = o.theta;
    p.n_interpolation_points = o.n_interpolation_points;
    p.min_num_intervals = o.min_num_intervals;
    p.ints_in_interval = o.ints_in_interval;
    p.n_threads = n_threads;
    return p;
}

} // namespace

// ------------------------------------------------------------------------------------------------ names

GradientMethod parse_gradient_method(const std::string& name) {
    const std::string s = lower(name);
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

TsneInit parse_tsne_init(const std::string& name) {
    const std::string s = lower(name);
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

namespace {
std::string exact_cost(std::size_t n) {
    char cost[96];
    std::snprintf(cost, sizeof cost, "%zu points: %.2g pair interactions per iteration", n,
                  static_cast<double>(n) * static_cast<double>(n));
    return cost;
}

// Once per fit (validate runs several times): the exact gradient's cost on many points.
void warn_exact_cost(const TsneOptions& o, std::size_t n) {
    if (o.negative_gradient_method != GradientMethod::exact || n < exact_gradient_warn_points) return;
    warn("exact t-SNE gradient on " + exact_cost(n) + " (O(N^2); fft and bh are O(N) / O(N log N))");
}
} // namespace

void validate(const TsneOptions& o, std::size_t n) {
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
    if (n > 0 && o.negative_gradient_method == GradientMethod::exact) {
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
    if (o.n_components > 3 && o.negative_gradient_method != GradientMethod::exact) {
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

std::unique_ptr<Repulsion> make_repulsion(const TsneGradientParams& p, std::size_t n, std::size_t d) {
    validate_gradient_params(p, d);
    GradientMethod m = p.method;
    if (m == GradientMethod::auto_) m = (n < 10000 || d > 2) ? GradientMethod::barnes_hut : GradientMethod::fft;
    switch (m) {
    case GradientMethod::exact: return make_exact_repulsion(p.n_threads);
    case GradientMethod::barnes_hut: return make_barnes_hut_repulsion(p.theta, p.n_threads);
    default: {
        FftOptions f;
        f.n_interpolation_points = p.n_interpolation_points;
        f.min_num_intervals = p.min_num_intervals;
        f.ints_in_interval = p.ints_in_interval;
        f.n_threads = p.n_threads;
        return make_fft_repulsion(f);
    }
    }
}

// ------------------------------------------------------------------------------------------------ embedding

TsneEmbedding::TsneEmbedding(Matrix<double> Y, CsrMatrix<double> P, TsneGradientParams params,
                             std::shared_ptr<const KnnIndex> knn_index, std::shared_ptr<const Matrix<float>> data)
    : Y_(std::move(Y)), P_(std::move(P)), params_(params), index_(std::move(knn_index)), data_(std::move(data)) {
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
}

OptimizeReport TsneEmbedding::optimize(int n_iter, const TsneOptimizeOptions& o) {
    require(!P_.indptr.empty(), "optimize: this embedding has no affinities (loaded models can only transform)");
    require(n_iter >= 0, "n_iter must be non-negative, got " + std::to_string(n_iter));
    validate_gradient_params(params_, Y_.cols());
    std::unique_ptr<Repulsion> rep = make_repulsion(params_, Y_.rows(), Y_.cols());
    TsneObjective objective(P_, *rep, StudentTKernel(params_.dof), params_.n_threads);
    GradientFunction grad = [&objective](MatrixView<double> Y, double ex, double* g, bool want) {
        return objective(Y, ex, g, want);
    };
    Timer timer;
    GradientDescentOptions gd = to_gd(o, params_.n_threads, n_iter, &timer);
    if (o.verbose) {
        std::ostringstream msg;
        msg << "Optimizing " << n_iter << " iterations, exaggeration " << o.exaggeration << ", learning rate "
            << (o.learning_rate ? *o.learning_rate : static_cast<double>(Y_.rows()) / o.exaggeration);
        info(msg.str());
    }
    OptimizeReport r = optimizer_.optimize(Y_, grad, n_iter, gd);
    kl_ = r.kl;
    if (o.verbose) {
        std::ostringstream msg;
        msg << "  done in " << timer.seconds() << " s, KL divergence " << r.kl;
        info(msg.str());
    }
    if (r.stop == StopReason::callback && o.propagate_exception) throw OptimizationInterrupt(r.kl, Y_, r.iterations);
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
    auto ref = std::make_shared<const Matrix<double>>(Y_);
    return PartialTsneEmbedding(std::move(init), std::move(P_new), std::move(ref), params_);
}

Matrix<double> TsneEmbedding::transform(MatrixView<float> X, const TransformOptions& o) const {
    require(o.early_exaggeration_iter >= 0 && o.n_iter >= 0, "transform: iteration counts must be non-negative");
    PartialTsneEmbedding part = prepare_partial(X, o);
    TsneOptimizeOptions phase;
    phase.learning_rate = o.learning_rate;
    phase.max_grad_norm = o.max_grad_norm;
    phase.max_step_norm = o.max_step_norm;
    phase.callback = o.callback;
    phase.callbacks_every_iters = o.callbacks_every_iters;
    phase.verbose = o.verbose;
    phase.progress = o.progress;
    phase.phase = "transform";
    phase.exaggeration = o.early_exaggeration;
    phase.momentum = o.initial_momentum;
    OptimizeReport r = part.optimize(o.early_exaggeration_iter, phase);
    if (r.stop != StopReason::callback) {
        phase.exaggeration = o.exaggeration;
        phase.momentum = o.final_momentum;
        part.optimize(o.n_iter, phase);
    }
    return part.embedding();
}

// ------------------------------------------------------------------------------------------------ partial

PartialTsneEmbedding::PartialTsneEmbedding(Matrix<double> Y_new, CsrMatrix<double> P_new,
                                           std::shared_ptr<const Matrix<double>> reference, TsneGradientParams params)
    : Y_(std::move(Y_new)), P_(std::move(P_new)), reference_(std::move(reference)), params_(params) {
    require(reference_ && !reference_->empty(), "PartialTsneEmbedding: empty reference");
    require(Y_.rows() >= 1 && Y_.cols() == reference_->cols(),
            "PartialTsneEmbedding: new points must have the reference's dimension");
    require_finite(Y_.view(), "PartialTsneEmbedding: initialization");
    P_.validate("PartialTsneEmbedding: P");
    require(P_.n_rows == Y_.rows() && P_.n_cols == reference_->rows(),
            "PartialTsneEmbedding: P must be N_new x N_ref");
    validate_gradient_params(params_, Y_.cols());
}

OptimizeReport PartialTsneEmbedding::optimize(int n_iter, const TsneOptimizeOptions& o) {
    require(o.learning_rate.has_value(),
            "transform: learning_rate must be given (auto = N/exaggeration is meant for full embeddings)");
    require(n_iter >= 0, "n_iter must be non-negative, got " + std::to_string(n_iter));
    const std::size_t d = Y_.cols();
    std::unique_ptr<Repulsion> rep = make_repulsion(params_, reference_->rows(), d);
    PartialTsneObjective objective(P_, reference_->view(), *rep, StudentTKernel(params_.dof), params_.n_threads);
    GradientFunction grad = [&objective](MatrixView<double> Y, double ex, double* g, bool want) {
        return objective(Y, ex, g, want);
    };
    Timer timer;
    GradientDescentOptions gd = to_gd(o, params_.n_threads, n_iter, &timer);
    gd.center = false;
    GradientMethod m = params_.method;
    if (m == GradientMethod::auto_) m = (reference_->rows() < 10000 || d > 2) ? GradientMethod::barnes_hut
                                                                              : GradientMethod::fft;
    if (m == GradientMethod::fft) {
        // Keep new points on the reference's interpolation grid: centre (max+min)/2, padding 25 %.
        ClipRegion c;
        c.center.assign(d, 0.0);
        for (std::size_t j = 0; j < d; ++j) {
            double lo = (*reference_)(0, j), hi = lo;
            for (std::size_t i = 1; i < reference_->rows(); ++i) {
                lo = std::min(lo, (*reference_)(i, j));
                hi = std::max(hi, (*reference_)(i, j));
            }
            c.center[j] = 0.5 * (lo + hi);
        }
        double r2 = 0.0;
        for (std::size_t i = 0; i < reference_->rows(); ++i) {
            double s = 0;
            for (std::size_t j = 0; j < d; ++j) s += ((*reference_)(i, j) - c.center[j]) * ((*reference_)(i, j) - c.center[j]);
            r2 = std::max(r2, s);
        }
        c.radius = 1.25 * std::max(std::sqrt(r2), 1e-8);
        gd.clip = c;
    }
    OptimizeReport r = optimizer_.optimize(Y_, grad, n_iter, gd);
    kl_ = r.kl;
    if (r.stop == StopReason::callback && o.propagate_exception) throw OptimizationInterrupt(r.kl, Y_, r.iterations);
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
    KnnOptions ko;
    ko.method = o.neighbors;
    ko.metric = o.metric;
    ko.seed = seed;
    ko.n_threads = threads;
    std::shared_ptr<const KnnIndex> index(build_knn_index(X, ko).release());
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
    const double late = o.exaggeration.value_or(1.0);
    const double early = o.early_exaggeration.value_or(std::max(12.0, late));
    TsneOptimizeOptions phase;
    phase.learning_rate = o.learning_rate;
    phase.max_grad_norm = o.max_grad_norm;
    phase.max_step_norm = o.max_step_norm;
    phase.min_gain = o.min_gain;
    phase.callback = o.callback;
    phase.callbacks_every_iters = o.callbacks_every_iters;
    phase.verbose = o.verbose;
    phase.progress = o.progress;

    phase.exaggeration = early;
    phase.momentum = o.initial_momentum;
    phase.phase = "early_exaggeration";
    Timer t;
    OptimizeReport r = emb.optimize(o.early_exaggeration_iter, phase);
    emb.timings().early_exaggeration = t.seconds();
    if (r.stop == StopReason::callback) return;  // openTSNE: a callback stop returns the partial embedding

    phase.exaggeration = late;
    phase.momentum = o.final_momentum;
    phase.phase = "main";
    t.reset();
    emb.optimize(o.n_iter, phase);
    emb.timings().main = t.seconds();
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

// ------------------------------------------------------------------------------------------------ model files

namespace {
constexpr char kMagic[8] = {'N', 'E', 'M', 'B', 'T', 'S', 'N', 'E'};
constexpr std::uint32_t kVersion = 1;

template <typename T>
void put(std::ofstream& f, const T& v) {
    f.write(reinterpret_cast<const char*>(&v), sizeof(T));
}

struct Reader {
    std::ifstream f;
    std::string path;
    template <typename T>
    T get(const char* what) {
        T v{};
        const auto off = static_cast<long long>(f.tellg());
        if (!f.read(reinterpret_cast<char*>(&v), sizeof(T))) {
            throw IoError(path + ": truncated t-SNE model while reading " + what + " at offset " +
                          std::to_string(off));
        }
        return v;
    }
    void bytes(void* dst, std::size_t n, const char* what) {
        const auto off = static_cast<long long>(f.tellg());
        if (!f.read(static_cast<char*>(dst), static_cast<std::streamsize>(n))) {
            throw IoError(path + ": truncated t-SNE model while reading " + what + " at offset " +
                          std::to_string(off));
        }
    }
};
} // namespace

void save_tsne_model(const std::string& path, const TsneEmbedding& emb) {
    require(emb.reference_data() != nullptr,
            "save_tsne_model: the embedding has no training data (fit it from data to save a model)");
    const Matrix<float>& X = *emb.reference_data();
    const Matrix<double>& Y = emb.embedding();
    const TsneGradientParams& p = emb.gradient_params();
    std::ofstream f(path, std::ios::binary);
    if (!f) throw IoError(path + ": cannot open for writing");
    f.write(kMagic, 8);
    put(f, kVersion);
    put<std::uint64_t>(f, X.rows());
    put<std::uint64_t>(f, X.cols());
    put<std::uint64_t>(f, Y.cols());
    put<std::uint32_t>(f, static_cast<std::uint32_t>(emb.knn_index() ? emb.knn_index()->metric() : Metric::euclidean));
    put<double>(f, p.dof);
    put<std::uint32_t>(f, static_cast<std::uint32_t>(p.method));
    put<double>(f, p.theta);
    put<std::uint64_t>(f, p.n_interpolation_points);
    put<std::uint64_t>(f, p.min_num_intervals);
    put<double>(f, p.ints_in_interval);
    f.write(reinterpret_cast<const char*>(X.data()), static_cast<std::streamsize>(X.size() * sizeof(float)));
    f.write(reinterpret_cast<const char*>(Y.data()), static_cast<std::streamsize>(Y.size() * sizeof(double)));
    if (!f) throw IoError(path + ": write failed");
}

TsneEmbedding load_tsne_model(const std::string& path, int n_threads) {
    require(n_threads >= 1, "load_tsne_model: n_threads must be >= 1");
    Reader r{std::ifstream(path, std::ios::binary), path};
    if (!r.f) throw IoError(path + ": cannot open t-SNE model");
    char magic[8];
    r.bytes(magic, 8, "the magic bytes");
    if (std::memcmp(magic, kMagic, 8) != 0) throw IoError(path + ": not a nembed t-SNE model (bad magic at offset 0)");
    const auto version = r.get<std::uint32_t>("the version");
    if (version != kVersion) {
        throw IoError(path + ": unsupported t-SNE model version " + std::to_string(version) + " at offset 8");
    }
    const auto n = r.get<std::uint64_t>("N"), D = r.get<std::uint64_t>("D"), d = r.get<std::uint64_t>("d");
    if (n < 2 || D < 1 || d < 1 || n > (1ull << 31) || D > (1ull << 24) || d > 64) {
        throw IoError(path + ": implausible model shape N=" + std::to_string(n) + ", D=" + std::to_string(D) +
                      ", d=" + std::to_string(d) + " at offset 12");
    }
    const auto metric = r.get<std::uint32_t>("the metric");
    if (metric > static_cast<std::uint32_t>(Metric::inner_product)) throw IoError(path + ": bad metric code at offset 36");
    TsneGradientParams p;
    p.dof = r.get<double>("dof");
    const auto method = r.get<std::uint32_t>("the gradient method");
    if (method > static_cast<std::uint32_t>(GradientMethod::fft)) throw IoError(path + ": bad gradient method code");
    p.method = static_cast<GradientMethod>(method);
    p.theta = r.get<double>("theta");
    p.n_interpolation_points = r.get<std::uint64_t>("n_interpolation_points");
    p.min_num_intervals = r.get<std::uint64_t>("min_num_intervals");
    p.ints_in_interval = r.get<double>("ints_in_interval");
    p.n_threads = n_threads;
    auto X = std::make_shared<Matrix<float>>(n, D);
    r.bytes(X->data(), X->size() * sizeof(float), "the training data");
    Matrix<double> Y(n, d);
    r.bytes(Y.data(), Y.size() * sizeof(double), "the embedding");
    try {
        validate_gradient_params(p, d);
        require_finite(X->view(), "training data");
        require_finite(Y.view(), "embedding");
    } catch (const InvalidArgument& e) {
        throw IoError(path + ": invalid t-SNE model: " + e.what());
    }
    KnnOptions ko;
    ko.metric = static_cast<Metric>(metric);
    ko.n_threads = n_threads;
    std::shared_ptr<const KnnIndex> index(build_knn_index(X->view(), ko).release());
    return TsneEmbedding(std::move(Y), CsrMatrix<double>{}, p, std::move(index), std::move(X));
}

} // namespace nembed
