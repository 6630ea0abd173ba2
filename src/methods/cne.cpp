// Contrastive neighbour embeddings (methods/cne.hpp).
#include "nembed/methods/cne.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <limits>

#include "nembed/affinity/symmetrize.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/interrupt.hpp"
#include "nembed/core/log.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/core/timer.hpp"
#include "nembed/init/pca.hpp"
#include "nembed/init/rescale.hpp"
#include "nembed/init/user.hpp"
#include "nembed/optim/optimizer.hpp"
#include "nembed/parametric/network_parametrization.hpp"
#include "nembed/repulsion/negative_sampling.hpp"
#include "nembed/train/edge_batch_plan.hpp"
#include "nembed/train/parametrization.hpp"
#include "nembed/core/strings.hpp"

namespace nembed {

CneOptimizer parse_cne_optimizer(const std::string& name) {
    const std::string s = to_lower(name);
    if (s == "sgd") return CneOptimizer::sgd;
    if (s == "adam") return CneOptimizer::adam;
    throw InvalidArgument("unknown optimizer '" + name + "' (expected sgd or adam)");
}
std::string to_string(CneOptimizer o) { return o == CneOptimizer::sgd ? "sgd" : "adam"; }

CneInit parse_cne_init(const std::string& name) {
    const std::string s = to_lower(name);
    if (s == "pca") return CneInit::pca;
    if (s == "random") return CneInit::random;
    throw InvalidArgument("unknown CNE init '" + name + "' (expected pca, random or an array)");
}
std::string to_string(CneInit i) {
    switch (i) {
        case CneInit::pca: return "pca";
        case CneInit::random: return "random";
        case CneInit::user: return "user";
    }
    return "unknown";
}

void validate(const CneOptions& o, std::size_t n, bool knn_graph) {
    require(n == 0 || o.knn_shards <= n, "knn_shards (" + std::to_string(o.knn_shards) + ") must not exceed the number of points (" + std::to_string(n) + ")");
    require(o.k >= 1, "k must be >= 1");
    require(n == 0 || !knn_graph || o.k < n,
            "k (" + std::to_string(o.k) + ") must be smaller than the number of points (" + std::to_string(n) + ")");
    require(o.n_components >= 1, "embd_dim / n_components must be >= 1");
    require(!o.s || std::isfinite(*o.s), "s must be finite");
    require(!o.Z_bar || (std::isfinite(*o.Z_bar) && *o.Z_bar > 0), "Z_bar must be positive");
    require(!o.neg_spec || (std::isfinite(*o.neg_spec) && *o.neg_spec > 0), "neg_spec must be positive");
    require(!o.ince_spec || (std::isfinite(*o.ince_spec) && *o.ince_spec > 0), "ince_spec must be positive");
    require(o.negative_samples == -1 || o.negative_samples >= 1,
            "negative_samples must be >= 1, or -1 for full-batch repulsion");
    require(o.batch_size >= 1, "batch_size must be >= 1");
    require(o.n_epochs >= 0, "n_epochs must be >= 0");
    require(!o.learning_rate || (std::isfinite(*o.learning_rate) && *o.learning_rate > 0),
            "learning_rate must be positive");
    require(std::isfinite(o.lr_min_factor) && o.lr_min_factor >= 0, "lr_min_factor must be >= 0");
    require(o.warmup_epochs >= 0 && (o.n_epochs == 0 || o.warmup_epochs < o.n_epochs),
            "warmup_epochs must be in [0, n_epochs)");
    require(std::isfinite(o.warmup_lr) && o.warmup_lr >= 0, "warmup_lr must be >= 0");
    require(std::isfinite(o.momentum) && o.momentum >= 0 && o.momentum < 1, "momentum must be in [0, 1)");
    require(std::isfinite(o.weight_decay) && o.weight_decay >= 0, "weight_decay must be >= 0");
    require(std::isfinite(o.temperature) && o.temperature > 0, "temperature must be positive");
    require(std::isfinite(o.eps) && o.eps >= 0, "eps must be >= 0");
    require(std::isfinite(o.Z) && o.Z > 0, "Z must be positive");
    require(o.save_freq >= 0, "save_freq must be >= 0");
    require(o.n_jobs != 0, "n_jobs must be a positive integer or negative (-1 = all cores), got 0");
    require(!o.parametric || !o.share.sum, "CNE: a parametric run is not distributed");
    if (o.parametric) {
        validate(o.network);
        require(o.sampling == NegativeSampling::in_batch,
                "parametric CNE needs in-batch negative sampling (uniform sampling with a network is not built)");
    }
    if (o.init == CneInit::user) {
        require(o.initial_embedding.cols() == o.n_components, "the initial embedding has " +
                                                                  std::to_string(o.initial_embedding.cols()) +
                                                                  " columns, n_components is " +
                                                                  std::to_string(o.n_components));
        require(n == 0 || o.initial_embedding.rows() == n, "the initial embedding has " +
                                                               std::to_string(o.initial_embedding.rows()) +
                                                               " rows, the data " + std::to_string(n));
        require_finite(o.initial_embedding.view(), "initial embedding");
        check_init_spread(o.initial_embedding.view(), "the initial embedding");
    }
}

CneSpectrum resolve_spectrum(const CneOptions& o, std::size_t n_points, std::size_t m) {
    CneSpectrum r;
    const double n = static_cast<double>(n_points), md = static_cast<double>(m);
    std::optional<double> s = o.s;
    if (o.loss_mode == ContrastiveMode::neg) {
        auto xi_of = [&](double sv) {
            const double z_tsne = 100.0 * n, z_umap = n * n / md;
            const double zbar = z_tsne * std::exp(sv * (std::log(z_umap) - std::log(z_tsne)));
            return md * zbar / (n * n);
        };
        if (s) {
            r.spec = xi_of(*s);
        } else if (o.Z_bar) {
            r.spec = md * *o.Z_bar / (n * n);
        } else if (o.neg_spec) {
            r.spec = *o.neg_spec;
        } else {
            r.spec = 1.0;
        }
        r.spec_early = r.spec;
        if (s && o.early_exaggeration) {
            r.spec_early = xi_of(std::max(*s, 1.0));
            r.early_epochs = o.n_epochs / 3;
        }
    } else if (o.loss_mode == ContrastiveMode::infonce || o.loss_mode == ContrastiveMode::infonce_alt) {
        if (!s && !o.ince_spec) s = 0.0;  // cne's default InfoNCE: s = 0 (ρ = 1), exaggerated start
        r.spec = s ? std::pow(4.0, *s) : *o.ince_spec;
        r.spec_early = r.spec;
        if (s && o.early_exaggeration && o.loss_mode == ContrastiveMode::infonce) {
            r.spec_early = std::pow(4.0, std::max(*s, 1.0));
            r.early_epochs = o.n_epochs / 3;
        }
    }
    return r;
}

// A row-wise build and symmetrize's merge of sorted rows: sorting the 2·n·k (row, column) pairs of both directions
// took ~0.13 s serially at 70 000 × 15; the same entries, all 1.
CsrMatrix<double> binary_symmetric_graph(const KnnGraph& knn, int n_threads) {
    return symmetrize(detail::binary_knn_rows(knn, 0), Symmetrization::max, n_threads);
}

namespace detail {
CsrMatrix<double> binary_knn_rows(const KnnGraph& knn, std::size_t first) {
    CsrMatrix<double> A;
    A.n_rows = knn.n_points;
    A.n_cols = knn.n_reference;
    A.indptr.assign(knn.n_points + 1, 0);
    A.indices.reserve(knn.n_points * knn.k);
    for (std::size_t i = 0; i < knn.n_points; ++i) {
        const std::size_t at = A.indices.size();
        for (std::size_t j = 0; j < knn.k; ++j) {
            const index_t nb = knn.neighbors(i)[j];
            if (static_cast<std::size_t>(nb) != first + i) A.indices.push_back(nb);
        }
        std::sort(A.indices.begin() + static_cast<std::ptrdiff_t>(at), A.indices.end());
        A.indices.erase(std::unique(A.indices.begin() + static_cast<std::ptrdiff_t>(at), A.indices.end()),
                        A.indices.end());
        A.indptr[i + 1] = static_cast<offset_t>(A.indices.size());
    }
    A.values.assign(A.indices.size(), 1.0);
    return A;
}

Matrix<double> cne_init(const CneOptions& o, MatrixView<float> X, std::size_t n, int n_threads) {
    if (o.init == CneInit::user) return o.initial_embedding;
    if (o.init == CneInit::random) {
        Matrix<double> Y(n, o.n_components);
        for (std::size_t i = 0; i < n; ++i) {
            Rng rng(o.seed, sampling_stream(SamplingFamily::cne_shuffle, ~0ull, i));
            for (std::size_t k = 0; k < o.n_components; ++k) Y(i, k) = rng.normal();
        }
        return Y;
    }
    require(X.rows == n, "CNE: PCA initialisation needs the data (or pass an initial embedding)");
    require(o.n_components <= X.cols, "CNE: PCA initialisation needs n_components <= number of features");
    auto r = pca(X, o.n_components, n_threads);
    Matrix<double> Y = convert<double>(r.scores.view());
    rescale(Y, 1.0);  // cne: divide by the std of PC1
    return Y;
}

} // namespace detail

CneEmbedding::CneEmbedding(CneOptions options, CsrMatrix<double> graph, Matrix<double> initial, CneTimings timings)
    : options_(std::move(options)), graph_(std::move(graph)), timings_(timings) {
    require(!options_.parametric, "CNE: a parametric run is built from the data X, not an initial embedding");
    build(std::move(initial), nullptr);
}

CneEmbedding::CneEmbedding(CneOptions options, CsrMatrix<double> graph, std::shared_ptr<const Matrix<float>> X,
                           CneTimings timings)
    : options_(std::move(options)), graph_(std::move(graph)), timings_(timings) {
    require(options_.parametric, "CNE: the data-only constructor is for parametric runs (parametric = true)");
    build({}, std::move(X));
}

void CneEmbedding::build(Matrix<double> initial, std::shared_ptr<const Matrix<float>> X) {
    const auto& o = options_;
    const std::size_t n = graph_.n_rows, d = o.n_components;
    graph_.validate("CNE graph");
    require(graph_.n_rows == graph_.n_cols, "CNE graph must be square");
    validate(o, n, false);
    require(n >= 2, "CNE needs at least 2 points");
    if (o.parametric) {
        require(X && X->rows() == n, "CNE: parametric mode needs the data X with one row per graph point");
        require_finite(X->view(), "X");
    } else {
        require(initial.rows() == n && initial.cols() == d, "CNE: initial embedding has the wrong shape");
    }

    ContrastiveLossParams lp;
    lp.mode = o.loss_mode;
    lp.metric = o.metric;
    lp.eps = o.eps;
    lp.temperature = o.temperature;
    lp.clamp_low = o.clamp_low.value_or(o.metric == ContrastiveMetric::euclidean ? 1e-4 : -INFINITY);
    lp.clamp_high = o.clamp_high.value_or(o.metric == ContrastiveMetric::euclidean ? 1.0 : INFINITY);
    lp.log_Z = std::log(o.Z);
    EdgeBatchOptions eo;
    eo.batch_size = o.batch_size;
    eo.negative_samples = o.negative_samples;
    eo.sampling = o.sampling;
    eo.exclude_neighbors = o.exclude_neighbors;
    eo.clip = o.clip_grad ? std::optional<double>(4.0) : std::nullopt;
    eo.seed = o.seed;
    eo.share = o.share;
    OptimizerOptions oo;
    oo.kind = o.optimizer == CneOptimizer::sgd ? OptimizerOptions::Kind::sgd : OptimizerOptions::Kind::adam;
    oo.momentum = o.momentum;
    eo.log_Z_optimizer = oo;  // cne steps log Z with the run's rule and momentum, without weight decay
    oo.weight_decay = o.weight_decay;
    plan_ = std::make_unique<EdgeBatchPlan>(graph_, lp, eo, d);
    // The spectrum depends on m, which the plan resolved from the batch size and the edges.
    spectrum_ = resolve_spectrum(o, n, std::max<std::size_t>(plan_->negatives(), 1));
    plan_->set_spec(0, spectrum_.spec);

    const int n_threads = resolve_threads(o.n_jobs);
    if (o.parametric) {
        // cne clips its model's gradients by value: for a network, its weights' gradients.
        MlpOptions mo = o.network;
        mo.seed = o.seed;
        Mlp net(X->cols(), d, mo);
        params_ = std::make_unique<NetworkParametrization>(
            std::move(X), std::move(net), n_threads,
            o.clip_grad ? std::optional<double>(4.0) : std::nullopt);
    } else {
        params_ = std::make_unique<EmbeddingTable>(std::move(initial));
    }
    optimizer_ = make_optimizer(oo);
    trainer_ = std::make_unique<Trainer>(*plan_, *params_, *optimizer_, n_threads);
    LrSchedule sched;
    sched.learning_rate = o.learning_rate.value_or(o.parametric ? 0.001 : 1.0);
    sched.anneal = o.anneal_lr;
    sched.min_factor = o.lr_min_factor;
    sched.warmup_epochs = o.warmup_epochs;
    sched.warmup_lr = o.warmup_lr;
    sched.total_epochs = std::max(1, o.n_epochs);
    trainer_->set_schedule(sched);
    if (spectrum_.early_epochs > 0) {  // cne's exaggerated first third: the spectrum at max(s, 1)
        Phase early;
        early.name = "early_exaggeration";
        early.n_steps = spectrum_.early_epochs;
        early.loss_spec = spectrum_.spec_early;
        trainer_->add_phase(early);
    }
    Phase main;
    main.n_steps = o.n_epochs - spectrum_.early_epochs;
    trainer_->add_phase(main);
    refresh_embedding();
}

void CneEmbedding::refresh_embedding() {
    if (options_.parametric) net_embedding_ = params_->embedding();
}

const Mlp* CneEmbedding::network() const {
    const auto* net = dynamic_cast<const NetworkParametrization*>(params_.get());
    return net ? &net->network() : nullptr;
}

Matrix<double> CneEmbedding::transform(MatrixView<float> X) const {
    const Mlp* net = network();
    require(net != nullptr, "CNE: transform needs a parametric run (parametric = true); a non-parametric cne "
                            "embedding is a table of positions with no map for new points");
    require_finite(X, "X");
    return convert<double>(net->apply(X, resolve_threads(options_.n_jobs)).view());
}

CneEmbedding::~CneEmbedding() = default;
CneEmbedding::CneEmbedding(CneEmbedding&&) noexcept = default;
CneEmbedding& CneEmbedding::operator=(CneEmbedding&&) noexcept = default;

RunReport CneEmbedding::optimize(std::int64_t n_epochs) {
    const auto& o = options_;
    TrainHooks hooks;
    if (o.callback && o.save_freq > 0) hooks.callback = o.callback;
    hooks.callback_at_start = true;
    hooks.callback_first_of_period = true;  // cne: after 0-based epochs e with e % save_freq == 0
    hooks.callback_every = o.save_freq > 0 ? o.save_freq : std::max(1, o.n_epochs / 5);
    hooks.progress = [this](const TrainEvent& ev) {
        losses_.push_back(ev.loss);
        if (options_.progress) options_.progress(ev);
    };
    hooks.verbose = o.verbose;
    hooks.who = "CNE";
    Timer t;
    try {
        RunReport r = trainer_->run(n_epochs, hooks);
        refresh_embedding();
        timings_.optimize += t.seconds();
        return r;
    } catch (...) {
        refresh_embedding();
        timings_.optimize += t.seconds();
        throw;
    }
}

bool CneEmbedding::done() const { return trainer_->done(); }
int CneEmbedding::epochs_done() const { return static_cast<int>(trainer_->steps_done()); }
const Matrix<double>& CneEmbedding::embedding() const {
    return options_.parametric ? net_embedding_ : params_->table()->Y();
}
double CneEmbedding::log_Z() const { return plan_->log_Z(); }

CneResult CneEmbedding::result() const {
    CneResult r;
    r.embedding = embedding();
    if (const Mlp* net = network()) r.network = std::make_shared<const Mlp>(*net);
    r.graph = graph_;
    r.epoch_losses = losses_;
    r.log_Z = log_Z();
    r.spectrum = spectrum_;
    r.epochs_run = epochs_done();
    r.timings = timings_;
    return r;
}

namespace {
// Graph checks, then the initial embedding (timed into tm.init), then the run.
CneEmbedding prepare_run(const CneOptions& o, CsrMatrix<double> graph, MatrixView<float> X, CneTimings tm) {
    graph.validate("CNE graph");
    require(graph.n_rows == graph.n_cols, "CNE graph must be square");
    validate(o, graph.n_rows, false);
    require(graph.n_rows >= 2, "CNE needs at least 2 points");
    if (o.parametric) {
        require(X.rows == graph.n_rows, "CNE: parametric mode needs the data X (" + std::to_string(graph.n_rows) +
                                            " rows, one per graph point), got " + std::to_string(X.rows) + " rows");
        return CneEmbedding(o, std::move(graph), std::make_shared<const Matrix<float>>(convert<float>(X)), tm);
    }
    Timer t;
    Matrix<double> Y = detail::cne_init(o, X, graph.n_rows, resolve_threads(o.n_jobs));
    tm.init = t.seconds();
    return CneEmbedding(o, std::move(graph), std::move(Y), tm);
}
} // namespace

CneEmbedding CNE::prepare(MatrixView<float> X) const {
    const auto& o = options_;
    validate(o, X.rows);
    require_fit_data(X, "CNE");
    Timer t;
    KnnGraph knn = find_neighbors(X, o.k, fit_knn_options(o.neighbors, o.input_metric, o.seed, resolve_threads(o.n_jobs),
                                                                   o.input_metric_params, o.knn_shards));
    const double t_knn = t.seconds();
    t.reset();
    CsrMatrix<double> g = binary_symmetric_graph(knn, resolve_threads(o.n_jobs));
    const double t_graph = t.seconds();
    CneTimings tm;
    tm.knn = t_knn;
    tm.graph = t_graph;
    return prepare_run(o, std::move(g), X, tm);
}

CneEmbedding CNE::prepare(const CsrMatrix<double>& graph, MatrixView<float> X) const {
    return prepare_run(options_, graph, X, {});
}

CneResult CNE::fit(MatrixView<float> X) const {
    CneEmbedding e = prepare(X);
    e.optimize();
    return e.result();
}

CneResult CNE::fit(const CsrMatrix<double>& graph, MatrixView<float> X) const {
    CneEmbedding e = prepare(graph, X);
    e.optimize();
    return e.result();
}

} // namespace nembed
