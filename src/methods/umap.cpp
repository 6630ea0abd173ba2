// UMAP (methods/umap.hpp): umap-learn's model, optimised with a thread-count-independent row scheme.
#include "nembed/methods/umap.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "nembed/core/error.hpp"
#include "nembed/core/log.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/core/timer.hpp"
#include "nembed/dist/comm.hpp"
#include "nembed/dist/umap.hpp"
#include "nembed/init/pca.hpp"
#include "nembed/init/multi_component.hpp"
#include "nembed/init/user.hpp"
#include "nembed/optim/sgd.hpp"
#include "nembed/train/parametrization.hpp"
#include "nembed/repulsion/negative_sampling.hpp"
#include "nembed/core/strings.hpp"

namespace nembed {

namespace {

std::uint64_t resolve_seed(const std::optional<std::uint64_t>& s) {
    if (s) return *s;
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}

} // namespace

// [0, 10] per dimension, as umap-learn does to every initialisation.
void umap_rescale_0_10(Matrix<double>& Y) {
    for (std::size_t k = 0; k < Y.cols(); ++k) {
        double lo = INFINITY, hi = -INFINITY;
        for (std::size_t i = 0; i < Y.rows(); ++i) {
            lo = std::min(lo, Y(i, k));
            hi = std::max(hi, Y(i, k));
        }
        require(std::isfinite(lo) && std::isfinite(hi), "UMAP: the initial embedding has non-finite values");
        if (hi <= lo) {
            warn("UMAP: dimension " + std::to_string(k) + " of the initial embedding is constant; set to 5");
            for (std::size_t i = 0; i < Y.rows(); ++i) Y(i, k) = 5.0;
            continue;
        }
        for (std::size_t i = 0; i < Y.rows(); ++i) Y(i, k) = 10.0 * (Y(i, k) - lo) / (hi - lo);
    }
}

Matrix<double> umap_uniform_init(std::size_t n, std::size_t d, std::uint64_t seed) {
    Matrix<double> Y(n, d);
    for (std::size_t i = 0; i < n; ++i) {
        Rng rng = sampling_rng(seed, SamplingFamily::umap_init, 1, i);
        for (std::size_t k = 0; k < d; ++k) Y(i, k) = rng.uniform(-10.0, 10.0);
    }
    return Y;
}

// umap-learn's noisy_scale_coords: largest |coordinate| 10, then N(0, 1e-4²) noise.
void umap_noisy_scale(Matrix<double>& Y, std::uint64_t seed) {
    double m = 0;
    for (double v : Y.storage()) m = std::max(m, std::abs(v));
    require(m > 0 && std::isfinite(m), "UMAP: the initial layout is all zeros or non-finite");
    for (std::size_t i = 0; i < Y.rows(); ++i) {
        Rng rng = sampling_rng(seed, SamplingFamily::umap_init, 2, i);
        for (std::size_t k = 0; k < Y.cols(); ++k) Y(i, k) = Y(i, k) * (10.0 / m) + rng.normal(0.0, 1e-4);
    }
}

UmapInit parse_umap_init(const std::string& name) {
    const std::string s = to_lower(name);
    if (s == "spectral") return UmapInit::spectral;
    if (s == "pca") return UmapInit::pca;
    if (s == "random") return UmapInit::random;
    throw InvalidArgument("unknown UMAP init '" + name + "' (expected spectral, pca, random or an array)");
}
std::string to_string(UmapInit i) {
    switch (i) {
        case UmapInit::spectral: return "spectral";
        case UmapInit::pca: return "pca";
        case UmapInit::random: return "random";
        case UmapInit::user: return "user";
    }
    return "?";
}

void validate(const UmapOptions& o, std::size_t n_points) {
    require(n_points == 0 || o.knn_shards <= n_points, "knn_shards (" + std::to_string(o.knn_shards) + ") must not exceed the number of points (" + std::to_string(n_points) + ")");
    require(o.n_neighbors >= 2, "n_neighbors must be >= 2 (it counts the point itself), got " +
                                    std::to_string(o.n_neighbors));
    require(n_points == 0 || o.n_neighbors <= n_points, "n_neighbors (" + std::to_string(o.n_neighbors) +
                                                            ") must not exceed the number of points (" +
                                                            std::to_string(n_points) + ")");
    require(o.n_components >= 1, "n_components must be >= 1");
    require(!o.n_epochs || *o.n_epochs >= 0, "n_epochs must be >= 0");
    require(std::isfinite(o.learning_rate) && o.learning_rate > 0, "learning_rate must be positive");
    require(std::isfinite(o.spread) && o.spread > 0, "spread must be positive");
    require(std::isfinite(o.min_dist) && o.min_dist >= 0, "min_dist must be >= 0");
    require(o.min_dist <= o.spread, "min_dist must be less than or equal to spread");
    require(!o.a || (std::isfinite(*o.a) && *o.a > 0), "a must be positive");
    require(!o.b || (std::isfinite(*o.b) && *o.b > 0), "b must be positive");
    require(o.a.has_value() == o.b.has_value(), "a and b must be given together");
    require(std::isfinite(o.set_op_mix_ratio) && o.set_op_mix_ratio >= 0 && o.set_op_mix_ratio <= 1,
            "set_op_mix_ratio must be in [0, 1]");
    require(std::isfinite(o.local_connectivity) && o.local_connectivity >= 0, "local_connectivity must be >= 0");
    require(std::isfinite(o.repulsion_strength) && o.repulsion_strength >= 0, "repulsion_strength must be >= 0");
    require(std::isfinite(o.negative_sample_rate) && o.negative_sample_rate > 0, "negative_sample_rate must be > 0");
    require(o.n_jobs != 0, "n_jobs must be a positive integer or negative (-1 = all cores), got 0");
    require(o.callbacks_every_epochs >= 0, "callbacks_every_epochs must be >= 0");
    validate(o.dens);
    validate(o.output_metric, o.n_components);
    require(o.output_metric.euclidean() || !(o.densmap || o.output_dens),
            "densMAP and output_dens need the Euclidean output metric (as in umap-learn), got output_metric " +
                to_string(o.output_metric));
    if (o.init == UmapInit::user) {
        require(o.initial_embedding.cols() == o.n_components,
                "the initial embedding has " + std::to_string(o.initial_embedding.cols()) + " columns, n_components is " +
                    std::to_string(o.n_components));
        require(n_points == 0 || o.initial_embedding.rows() == n_points,
                "the initial embedding has " + std::to_string(o.initial_embedding.rows()) + " rows, the data " +
                    std::to_string(n_points));
        require_finite(o.initial_embedding.view(), "initial embedding");
        check_init_spread(o.initial_embedding.view(), "the initial embedding");
    }
}

CsrMatrix<double> umap_prune_graph(const CsrMatrix<double>& graph, int n_epochs, double weight_max) {
    double wmax = weight_max;
    if (!(wmax > 0))
        for (double w : graph.values) wmax = std::max(wmax, w);
    const double cut = wmax / static_cast<double>(std::max(1, n_epochs));
    CsrMatrix<double> out;
    out.n_rows = graph.n_rows;
    out.n_cols = graph.n_cols;
    out.indptr.assign(graph.n_rows + 1, 0);
    for (std::size_t i = 0; i < graph.n_rows; ++i) {
        for (offset_t p = graph.indptr[i]; p < graph.indptr[i + 1]; ++p) {
            if (graph.values[p] < cut || graph.values[p] <= 0) continue;
            out.indices.push_back(graph.indices[p]);
            out.values.push_back(graph.values[p]);
        }
        out.indptr[i + 1] = static_cast<offset_t>(out.indices.size());
    }
    return out;
}

Matrix<double> umap_spectral_init(const CsrMatrix<double>& graph, std::size_t d, std::uint64_t seed, int n_threads,
                                  MatrixView<float> X) {
    require(X.rows == 0 || X.rows == graph.n_rows, "UMAP: the data must have one row per graph point (or none)");
    const bool data = X.rows > 0 && X.cols > 0;
    return umap_spectral_init(graph, d, seed, n_threads, data ? X.cols : 0, [&](const GraphComponents& comps) {
        std::vector<double> sums(comps.count * X.cols, 0.0);
        add_component_sums(comps, X, 0, sums);
        return sums;
    });
}

Matrix<double> umap_spectral_init(const CsrMatrix<double>& graph, std::size_t d, std::uint64_t seed, int n_threads,
                                  std::size_t D,
                                  const std::function<std::vector<double>(const GraphComponents&)>& component_sums) {
    const std::size_t n = graph.n_rows;
    require(n >= 2, "UMAP: spectral initialisation needs at least 2 points");
    auto fallback = [&](const std::string& why) {
        warn("UMAP: spectral initialisation failed (" + why + "); falling back to random initialisation");
        return umap_uniform_init(n, d, seed);
    };
    if (d + 1 >= n) return fallback("n_components + 1 >= number of points");
    const GraphComponents comps = connected_components(graph);
    Matrix<double> Y;
    if (comps.count > 1) {
        const bool data = D > 0 && comps.count > 2 * d;  // only the centroid layout reads the data
        Y = multi_component_layout(graph, comps, d, data ? component_sums(comps) : std::vector<double>{},
                                   data ? D : 0, seed, n_threads);
    } else {
        std::string why;
        auto U = laplacian_eigenmap(graph, d, seed, n_threads, &why);
        if (!U) return fallback(why);
        Y = std::move(*U);
    }
    umap_noisy_scale(Y, seed);
    return Y;
}

struct UmapEmbedding::Training {
    EmbeddingTable table;
    EdgeEpochPlan plan;
    std::unique_ptr<BatchPlan> gather;  // distributed: the plan on the owned rows, then the all-gather of Y
    Sgd sgd;
    Trainer trainer;
    Training(Matrix<double> Y, CsrMatrix<double> graph, const UmapCurve& curve, const EdgeEpochOptions& eo,
             int n_threads)
        : table(std::move(Y)), plan(std::move(graph), curve, eo), trainer(plan, table, sgd, n_threads) {}
    Training(Matrix<double> Y, CsrMatrix<double> graph, const UmapCurve& curve, const EdgeEpochOptions& eo,
             int n_threads, dist::Comm& comm, const dist::RowPartition& part)
        : table(std::move(Y)), plan(std::move(graph), curve, eo),
          gather(std::make_unique<dist::RowsAllGatherPlan>(plan, comm, part)),
          trainer(*gather, table, sgd, n_threads) {}
};

namespace {
// The run of `n_epochs` UMAP epochs: one phase with repulsion strength γ, umap-learn's decay of lr.
void plan_run(Trainer& tr, const std::string& name, int n_epochs, double lr, double gamma) {
    LrSchedule s;
    s.learning_rate = lr;
    s.anneal = LrAnneal::umap;
    s.total_epochs = std::max(1, n_epochs);
    tr.set_schedule(s);
    Phase ph;
    ph.name = name;
    ph.n_steps = n_epochs;
    ph.repulsion_strength = gamma;
    tr.add_phase(ph);
}
} // namespace

UmapEmbedding::UmapEmbedding(Matrix<double> Y, CsrMatrix<double> graph, UmapCurve curve, int n_epochs,
                             double learning_rate, double repulsion_strength, double negative_sample_rate,
                             std::uint64_t seed, int n_threads)
    : curve_(curve), n_epochs_(n_epochs), learning_rate_(learning_rate), gamma_(repulsion_strength),
      negative_sample_rate_(negative_sample_rate), n_threads_(std::max(1, n_threads)) {
    require(graph.n_rows == graph.n_cols && graph.n_rows == Y.rows(),
            "UmapEmbedding: the graph must be N x N with N the embedding's rows");
    require(n_epochs >= 0, "n_epochs must be >= 0");
    EdgeEpochOptions eo;
    eo.n_epochs = std::max(1, n_epochs);
    eo.negative_sample_rate = negative_sample_rate;
    eo.seed = seed;
    eo.family = SamplingFamily::umap_fit;
    train_ = std::make_unique<Training>(std::move(Y), std::move(graph), curve_, eo, n_threads_);
    plan_run(train_->trainer, "umap", n_epochs, learning_rate_, gamma_);
}

UmapEmbedding::UmapEmbedding(Matrix<double> Y, const CsrMatrix<double>& rows, UmapCurve curve, int n_epochs,
                             double learning_rate, double repulsion_strength, double negative_sample_rate,
                             std::uint64_t seed, int n_threads, dist::Comm& comm)
    : curve_(curve), n_epochs_(n_epochs), learning_rate_(learning_rate), gamma_(repulsion_strength),
      negative_sample_rate_(negative_sample_rate), n_threads_(std::max(1, n_threads)) {
    const std::size_t n = Y.rows();
    const dist::RowPartition part(n, comm.size());
    const std::size_t b = part.begin(comm.rank()), e = part.end(comm.rank());
    require(rows.n_rows == e - b && rows.n_cols == n && (rows.n_rows == 0 || rows.indptr[0] == 0),
            "UmapEmbedding: this rank's graph rows must be its " + std::to_string(e - b) + " rows of " +
                std::to_string(n) + " (global columns)");
    require(n_epochs >= 0, "n_epochs must be >= 0");
    // An N-row graph whose rows outside [b, e) are empty: rows and tails keep their global indices.
    const offset_t nnz = rows.n_rows ? rows.indptr[rows.n_rows] : 0;
    CsrMatrix<double> g;
    g.n_rows = g.n_cols = n;
    g.indptr.assign(n + 1, 0);
    for (std::size_t i = b; i < n; ++i) g.indptr[i + 1] = i < e ? rows.indptr[i - b + 1] : nnz;
    g.indices = rows.indices;
    g.values = rows.values;
    EdgeEpochOptions eo;
    eo.n_epochs = std::max(1, n_epochs);
    eo.negative_sample_rate = negative_sample_rate;
    eo.seed = seed;
    eo.family = SamplingFamily::umap_fit;
    eo.order = EdgeOrder::rows;
    eo.row_begin = b;
    eo.row_end = e;
    const std::vector<std::uint64_t> counts = dist::allgather_u64(comm, static_cast<std::uint64_t>(nnz));
    for (int q = 0; q < comm.rank(); ++q) eo.edge_offset += counts[static_cast<std::size_t>(q)];
    for (double v : g.values) eo.weight_max = std::max(eo.weight_max, v);
    comm.allreduce_max(&eo.weight_max, 1);
    train_ = std::make_unique<Training>(std::move(Y), std::move(g), curve_, eo, n_threads_, comm, part);
    plan_run(train_->trainer, "umap", n_epochs, learning_rate_, gamma_);
}

UmapEmbedding::UmapEmbedding(UmapEmbedding&&) noexcept = default;
UmapEmbedding& UmapEmbedding::operator=(UmapEmbedding&&) noexcept = default;
UmapEmbedding::~UmapEmbedding() = default;

void UmapEmbedding::enable_densmap(const DensmapOptions& options, const std::vector<double>& data_radii) {
    require(!train_->gather, "densMAP is not distributed (its radii need the whole graph)");
    train_->plan.set_densmap(DensmapTerm(train_->plan.graph(), data_radii, curve_, options));
}
bool UmapEmbedding::densmap() const { return train_->plan.has_densmap(); }
void UmapEmbedding::set_edge_order(EdgeOrder order) {
    require(!train_->gather || order == EdgeOrder::rows,
            "a distributed UMAP layout runs in the row order (EdgeOrder::rows)");
    train_->plan.set_order(order);
}
void UmapEmbedding::set_output_metric(const OutputMetric& metric) {
    train_->plan.set_output_metric(metric, train_->table.Y().cols());
    output_metric_ = metric;
}

const Matrix<double>& UmapEmbedding::embedding() const { return train_->table.Y(); }
Matrix<double>& UmapEmbedding::embedding() { return train_->table.Y(); }
const CsrMatrix<double>& UmapEmbedding::graph() const { return train_->plan.graph(); }
int UmapEmbedding::epochs_done() const { return static_cast<int>(train_->trainer.steps_done()); }

int UmapEmbedding::optimize(int n_more, const TrainCallback& callback, int every, const TrainProgress& progress) {
    Timer t;
    TrainHooks hooks;
    hooks.who = "UMAP";
    hooks.progress = progress;
    if (callback && every > 0) {
        hooks.callback_every = every;
        hooks.callback = [&](const TrainEvent& ev) {
            loss_ = ev.loss;
            return callback(ev);
        };
    }
    const RunReport r = train_->trainer.run(n_more < 0 ? -1 : n_more, hooks);
    timings_.optimize += t.seconds();
    return static_cast<int>(r.steps);
}

Matrix<double> UmapEmbedding::transform(MatrixView<float> X_new) const {
    require(static_cast<bool>(knn_index), "UMAP transform needs a model fitted from data (no kNN index)");
    require(!densmap(), "transforming new points into an existing embedding is not supported for densMAP (as in umap-learn)");
    require(X_new.rows > 0, "transform: no new points");
    require(X_new.cols == knn_index->n_dims(), "transform: new data has " + std::to_string(X_new.cols) +
                                                    " columns, the reference has " +
                                                    std::to_string(knn_index->n_dims()));
    require_finite(X_new, "new data");
    const std::size_t k = std::min(n_neighbors, knn_index->n_points());
    return transform(knn_index->query(X_new, k));
}

CsrMatrix<double> UmapEmbedding::transform_memberships(const KnnGraph& g) const {
    g.validate("UMAP transform neighbours");
    require(g.n_reference == train_->table.Y().rows(), "transform: the neighbours index " +
                                                           std::to_string(g.n_reference) + " reference points, the "
                                                           "embedding has " + std::to_string(train_->table.Y().rows()));
    FuzzyOptions fo;
    fo.self_in_count = false;
    fo.local_connectivity = std::max(0.0, local_connectivity - 1.0);
    fo.n_threads = n_threads_;
    auto cal = smooth_knn_distances(g, fo);
    return fuzzy_memberships(g, cal, n_threads_);
}

Matrix<double> UmapEmbedding::transform(const KnnGraph& g) const {
    CsrMatrix<double> P = transform_memberships(g);
    const std::size_t n_new = g.n_points;
    const int n_ep = requested_epochs ? *requested_epochs / 3 : (n_new <= 10000 ? 100 : 30);
    P = umap_prune_graph(P, std::max(1, n_ep));
    const std::size_t d = train_->table.Y().cols();
    Matrix<double> H(n_new, d);
    for (std::size_t i = 0; i < H.rows(); ++i) {  // umap-learn's init_graph_transform
        double rs = 0;
        for (offset_t p = P.indptr[i]; p < P.indptr[i + 1]; ++p) rs += P.values[p];
        if (rs <= 0) {
            for (std::size_t c = 0; c < d; ++c) H(i, c) = std::numeric_limits<double>::quiet_NaN();
            continue;
        }
        for (offset_t p = P.indptr[i]; p < P.indptr[i + 1]; ++p) {
            const double* yj = train_->table.Y().row(static_cast<std::size_t>(P.indices[p]));
            if (P.values[p] == 1.0) {
                std::copy(yj, yj + d, H.row(i));
                break;
            }
            for (std::size_t c = 0; c < d; ++c) H(i, c) += P.values[p] / rs * yj[c];
        }
    }
    if (n_ep <= 0 || P.nnz() == 0) return H;
    // the same plan with the reference fixed: rows are independent
    EdgeEpochOptions eo;
    eo.n_epochs = n_ep;
    eo.negative_sample_rate = negative_sample_rate_;
    eo.seed = transform_seed;
    eo.family = SamplingFamily::umap_transform;
    EdgeEpochPlan plan(std::move(P), curve_, eo, train_->table.Y());
    if (!output_metric_.euclidean()) plan.set_output_metric(output_metric_, d);
    EmbeddingTable table(std::move(H));
    Sgd sgd;
    Trainer tr(plan, table, sgd, n_threads_);
    plan_run(tr, "transform", n_ep, learning_rate_ / 4.0, gamma_);
    TrainHooks hooks;
    hooks.who = "UMAP transform";
    tr.run(-1, hooks);
    return std::move(table.Y());
}

UmapCurve UMAP::curve() const {
    if (options_.a && options_.b) return {*options_.a, *options_.b};
    return find_ab_params(options_.spread, options_.min_dist);
}

UmapEmbedding UMAP::prepare(MatrixView<float> X) const {
    const auto& o = options_;
    validate(o, X.rows);
    require_fit_data(X, "UMAP");
    Timer t;
    std::shared_ptr<const KnnIndex> index = build_knn_index(
        X, fit_knn_options(o.neighbors, o.metric, o.random_state.value_or(0), resolve_threads(o.n_jobs),
                                   o.metric_params, o.knn_shards));
    KnnGraph g = index->self_neighbors(o.n_neighbors - 1);
    const double t_knn = t.seconds();
    UmapEmbedding emb = prepare(g, X);
    emb.timings().knn = t_knn;
    emb.knn_index = index;
    return emb;
}

UmapEmbedding UMAP::prepare(const KnnGraph& knn, MatrixView<float> X) const {
    const auto& o = options_;
    const std::size_t n = knn.n_points;
    validate(o, n);
    knn.validate("UMAP kNN graph");
    require(knn.n_reference == n, "UMAP needs a self kNN graph (n_reference == n_points)");
    const int n_threads = resolve_threads(o.n_jobs);
    Timer t;
    FuzzyOptions fo;
    fo.local_connectivity = o.local_connectivity;
    fo.set_op_mix_ratio = o.set_op_mix_ratio;
    fo.n_threads = n_threads;
    FuzzyCalibration cal;
    CsrMatrix<double> P = fuzzy_simplicial_set(knn, fo, &cal);
    if (!o.target.values.empty()) P = umap_supervised_graph(P, o.target, o.n_neighbors, n_threads);
    const double t_graph = t.seconds();
    UmapEmbedding emb = prepare_graph(std::move(P), X, &knn);
    emb.timings().graph += t_graph;
    emb.calibration = std::move(cal);
    return emb;
}

UmapEmbedding UMAP::prepare_graph(CsrMatrix<double> P, MatrixView<float> X, const KnnGraph* knn) const {
    const auto& o = options_;
    const std::size_t n = P.n_rows;
    validate(o, n);
    require(P.n_cols == n, "UMAP graph: must be square, got " + std::to_string(P.n_rows) + " x " +
                               std::to_string(P.n_cols));
    P.validate("UMAP graph");
    for (double v : P.values)
        require_lazy(std::isfinite(v) && v >= 0, [] { return std::string("UMAP graph: weights must be finite and >= 0"); });
    const int n_threads = resolve_threads(o.n_jobs);
    const std::uint64_t seed = resolve_seed(o.random_state);
    const UmapCurve c = curve();
    Timer t;
    const int n_epochs = o.n_epochs.value_or(umap_default_epochs(n, o.densmap));
    P = umap_prune_graph(P, n_epochs > 10 ? n_epochs : umap_default_epochs(n, o.densmap));
    std::vector<double> radii;  // densMAP's / output_dens' data radii, over the pruned graph (umap-learn)
    if (o.densmap || o.output_dens) {
        require(X.rows == n || knn != nullptr, "UMAP: densMAP / output_dens on a given graph needs the data");
        radii = X.rows == n ? densmap_data_radii(P, X, o.metric, n_threads, o.metric_params) : densmap_knn_radii(P, *knn);
    }
    const double t_graph = t.seconds();
    t.reset();
    Matrix<double> Y;
    switch (o.init) {
        case UmapInit::spectral:
            Y = umap_spectral_init(P, o.n_components, seed, n_threads, X.rows == n ? X : MatrixView<float>{});
            break;
        case UmapInit::random: Y = umap_uniform_init(n, o.n_components, seed); break;
        case UmapInit::pca: {
            require(X.rows == n, "UMAP: init = pca needs the data");
            require(o.n_components <= X.cols, "UMAP: init = pca needs n_components <= number of features");
            auto r = pca(X, o.n_components, n_threads);
            Y = convert<double>(r.scores.view());
            umap_noisy_scale(Y, seed);
            break;
        }
        case UmapInit::user: Y = o.initial_embedding; break;
    }
    umap_rescale_0_10(Y);
    UmapEmbedding emb(std::move(Y), std::move(P), c, n_epochs, o.learning_rate, o.repulsion_strength,
                      o.negative_sample_rate, seed, n_threads);
    emb.timings().graph = t_graph;
    emb.timings().init = t.seconds();
    emb.n_neighbors = o.n_neighbors;
    emb.local_connectivity = o.local_connectivity;
    emb.requested_epochs = o.n_epochs;
    emb.transform_seed = o.transform_seed;
    if (o.densmap) emb.enable_densmap(o.dens, radii);
    if (!o.output_metric.euclidean()) emb.set_output_metric(o.output_metric);
    emb.set_edge_order(o.edge_order);
    if (o.output_dens) emb.rad_orig = std::move(radii);
    if (o.verbose)
        info("UMAP: " + std::to_string(n) + " points, " + std::to_string(emb.graph().nnz()) + " edges, a = " +
             std::to_string(c.a) + ", b = " + std::to_string(c.b) + ", " + std::to_string(n_epochs) + " epochs");
    return emb;
}

UmapEmbedding UMAP::fit(MatrixView<float> X) const {
    UmapEmbedding emb = prepare(X);
    emb.optimize(-1, options_.callback, options_.callbacks_every_epochs, options_.progress);
    if (options_.output_dens)
        emb.rad_emb = densmap_embedding_radii(emb.embedding().view(), options_.n_neighbors, resolve_threads(options_.n_jobs));
    return emb;
}

UmapEmbedding UMAP::fit_graph(CsrMatrix<double> graph, MatrixView<float> X) const {
    UmapEmbedding emb = prepare_graph(std::move(graph), X);
    emb.optimize(-1, options_.callback, options_.callbacks_every_epochs, options_.progress);
    return emb;
}

UmapEmbedding UMAP::fit(const KnnGraph& graph, MatrixView<float> X) const {
    UmapEmbedding emb = prepare(graph, X);
    emb.optimize(-1, options_.callback, options_.callbacks_every_epochs, options_.progress);
    if (options_.output_dens)
        emb.rad_emb = densmap_embedding_radii(emb.embedding().view(), options_.n_neighbors, resolve_threads(options_.n_jobs));
    return emb;
}

} // namespace nembed
