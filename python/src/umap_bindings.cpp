// nembed._core UMAP and CNE: UmapState (nembed::UmapEmbedding), cne_fit (nembed::CNE), find_ab_params.
// The Python classes nembed.UMAP and nembed.CNE (nembed/umap.py, nembed/cne.py) hold parameters and call these.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <memory>
#include <optional>
#include <span>
#include <string>

#include "common.hpp"
#include "umap_options.hpp"
#include "nembed/affinity/fuzzy.hpp"
#include "nembed/methods/cne.hpp"
#include "nembed/parametric/mlp.hpp"
#include "nembed/methods/umap.hpp"

namespace nb = nanobind;
using namespace nb::literals;
using namespace nembed_py;

namespace {

nb::dict umap_timings(const nembed::UmapTimings& t) {
    nb::dict d;
    d["knn"] = t.knn;
    d["graph"] = t.graph;
    d["init"] = t.init;
    d["optimize"] = t.optimize;
    return d;
}

using F32Dist = nb::ndarray<const float, nb::ndim<2>, nb::c_contig>;

nembed::CsrMatrix<double> square_csr(const I64Vec& indptr, const I32Vec& indices, const F64Vec& data, std::size_t n) {
    return to_csr(indptr, indices, data, n, n);
}

} // namespace

nembed::UmapOptions nembed_py::umap_options(const nb::dict& p, const std::string& init, F64Mat init_array) {
    auto get = [&](const char* key) { return nb::borrow(p[key]); };
    auto opt_double = [&](const char* key) -> std::optional<double> {
        nb::object v = get(key);
        if (v.is_none()) return std::nullopt;
        return nb::cast<double>(v);
    };
    nembed::UmapOptions o;
    o.n_neighbors = nb::cast<std::size_t>(get("n_neighbors"));
    o.n_components = nb::cast<std::size_t>(get("n_components"));
    if (!get("n_epochs").is_none()) o.n_epochs = nb::cast<int>(get("n_epochs"));
    o.learning_rate = nb::cast<double>(get("learning_rate"));
    if (init == "user") {
        o.init = nembed::UmapInit::user;
        o.initial_embedding = to_matrix(init_array);
    } else {
        o.init = nembed::parse_umap_init(init);
    }
    o.min_dist = nb::cast<double>(get("min_dist"));
    o.spread = nb::cast<double>(get("spread"));
    o.a = opt_double("a");
    o.b = opt_double("b");
    o.local_connectivity = nb::cast<double>(get("local_connectivity"));
    o.repulsion_strength = nb::cast<double>(get("repulsion_strength"));
    o.negative_sample_rate = nb::cast<double>(get("negative_sample_rate"));
    o.random_state = nb::cast<std::uint64_t>(get("seed"));
    o.transform_seed = nb::cast<std::uint64_t>(get("transform_seed"));
    const int n_threads = nb::cast<int>(get("n_threads"));
    nembed::require(n_threads >= 1, "n_threads must be >= 1");
    o.n_jobs = n_threads;
    o.verbose = nb::cast<bool>(get("verbose"));
    // the keys of the kNN, graph, densMAP and output space: read when given
    if (p.contains("knn_metric")) o.metric = nembed::parse_metric(nb::cast<std::string>(get("knn_metric")));
    if (p.contains("set_op_mix_ratio")) o.set_op_mix_ratio = nb::cast<double>(get("set_op_mix_ratio"));
    if (p.contains("neighbors")) o.neighbors = nembed::parse_knn_method(nb::cast<std::string>(get("neighbors")));
    if (p.contains("densmap")) o.densmap = nb::cast<bool>(get("densmap"));
    if (p.contains("dens_lambda")) o.dens.lambda = nb::cast<double>(get("dens_lambda"));
    if (p.contains("dens_frac")) o.dens.frac = nb::cast<double>(get("dens_frac"));
    if (p.contains("dens_var_shift")) o.dens.var_shift = nb::cast<double>(get("dens_var_shift"));
    if (p.contains("output_dens")) o.output_dens = nb::cast<bool>(get("output_dens"));
    if (p.contains("output_metric"))
        o.output_metric = nembed::parse_output_metric(nb::cast<std::string>(get("output_metric")),
                                                      p.contains("output_metric_p")
                                                          ? nb::cast<double>(get("output_metric_p"))
                                                          : 2.0);
    return o;
}

void bind_umap(nb::module_& m) {
    m.def(
        "find_ab_params",
        [](double spread, double min_dist) {
            auto c = nembed::find_ab_params(spread, min_dist);
            return nb::make_tuple(c.a, c.b);
        },
        "spread"_a, "min_dist"_a, "umap-learn's find_ab_params: (a, b) of 1/(1 + a x^(2b)).");

    nb::class_<nembed::UmapEmbedding>(m, "UmapState", "Resumable UMAP state (nembed::UmapEmbedding).")
        .def_static(
            "prepare",
            [](F32Mat X, nb::dict params, const std::string& init, F64Mat init_array, bool handle_sigint) {
                const nembed::UmapOptions o = umap_options(params, init, init_array);
                return run_long(handle_sigint, [&] { return nembed::UMAP(o).prepare(view(X)); });
            },
            "X"_a, "params"_a, "init"_a, "init_array"_a, "handle_sigint"_a,
            "The UMAP state from data (kNN, fuzzy set, pruning, init), params as for prepare_graph.")
        .def_static(
            "prepare_graph",
            [](I64Vec indptr, I32Vec indices, F64Vec data, std::size_t n, F32Mat X, nb::dict params,
               const std::string& init, F64Mat init_array, bool handle_sigint) {
                nembed::UmapOptions o = umap_options(params, init, init_array);
                auto P = square_csr(indptr, indices, data, n);
                const nembed::MatrixView<float> xv = X.shape(0) == n ? view(X) : nembed::MatrixView<float>{};
                return run_long(handle_sigint, [&] { return nembed::UMAP(o).prepare_graph(std::move(P), xv); });
            },
            "indptr"_a, "indices"_a, "data"_a, "n"_a, "X"_a, "params"_a, "init"_a, "init_array"_a, "handle_sigint"_a,
            "The UMAP state from a fuzzy graph (CSR parts, not pruned): pruning, init, the layout's training state. "
            "X (one row per point, or 0 rows) places disconnected components and serves init = pca.")
        .def(
            "transform_knn",
            [](const nembed::UmapEmbedding& e, I32Mat indices, F32Dist distances, bool handle_sigint) {
                nembed::KnnGraph g = to_graph(indices, distances, e.embedding().rows());
                return to_numpy(run_long(handle_sigint, [&] { return e.transform(g); }));
            },
            "indices"_a, "distances"_a, "handle_sigint"_a,
            "transform from the new points' neighbours among the reference (indices, distances).")
        .def(
            "transform_memberships",
            [](const nembed::UmapEmbedding& e, I32Mat indices, F32Dist distances) {
                nembed::KnnGraph g = to_graph(indices, distances, e.embedding().rows());
                return from_csr(e.transform_memberships(g));
            },
            "indices"_a, "distances"_a, "The new points' memberships (CSR parts), transform_mode 'graph'.")
        .def(
            "optimize",
            [](nembed::UmapEmbedding& e, int n_more, nb::object callback, int every, bool handle_sigint) {
                auto cb = make_callback(callback);
                nembed::TrainCallback ucb;
                if (cb)
                    ucb = [cb](const nembed::TrainEvent& ev) {
                        return cb(static_cast<int>(ev.step), ev.loss, ev.embedding);
                    };
                return run_long(handle_sigint, [&] { return e.optimize(n_more, ucb, every); });
            },
            "n_more"_a, "callback"_a.none(), "callbacks_every_epochs"_a, "handle_sigint"_a,
            "Runs up to n_more further epochs (all remaining when < 0); returns the number run.")
        .def(
            "transform",
            [](const nembed::UmapEmbedding& e, F32Mat X, bool handle_sigint) {
                return to_numpy(run_long(handle_sigint, [&] { return e.transform(view(X)); }));
            },
            "X"_a, "handle_sigint"_a)
        .def_prop_ro("embedding", [](const nembed::UmapEmbedding& e) { return copy_to_numpy(e.embedding().view()); },
                     nb::rv_policy::move)
        .def_prop_ro("graph", [](const nembed::UmapEmbedding& e) { return from_csr(e.graph()); }, nb::rv_policy::move)
        .def_prop_ro("a", [](const nembed::UmapEmbedding& e) { return e.curve().a; })
        .def_prop_ro("b", [](const nembed::UmapEmbedding& e) { return e.curve().b; })
        .def_prop_ro("n_epochs", &nembed::UmapEmbedding::n_epochs)
        .def_prop_ro("epochs_done", &nembed::UmapEmbedding::epochs_done)
        .def_prop_ro("last_loss", &nembed::UmapEmbedding::last_loss)
        .def_prop_ro("timings", [](const nembed::UmapEmbedding& e) { return umap_timings(e.timings()); });

    // operations on fuzzy simplicial sets (affinity/fuzzy.hpp): supervised UMAP and model composition
    m.def(
        "fuzzy_memberships",
        [](I32Mat indices, F32Dist distances, double local_connectivity, int n_threads) {
            nembed::KnnGraph g = to_graph(indices, distances, indices.shape(0));
            nembed::FuzzyOptions o;
            o.local_connectivity = local_connectivity;
            o.n_threads = n_threads;
            auto c = nembed::smooth_knn_distances(g, o);
            return from_csr(nembed::fuzzy_memberships(g, c, n_threads));
        },
        "indices"_a, "distances"_a, "local_connectivity"_a = 1.0, "n_threads"_a = 1,
        "Directed memberships of a self kNN graph (self excluded; umap-learn's fuzzy set without set operations).");
    m.def(
        "fuzzy_reset_local_connectivity",
        [](I64Vec indptr, I32Vec indices, F64Vec data, std::size_t n, bool reset_local_metric, int n_threads) {
            return from_csr(nembed::reset_local_connectivity(square_csr(indptr, indices, data, n), reset_local_metric,
                                                             n_threads));
        },
        "indptr"_a, "indices"_a, "data"_a, "n"_a, "reset_local_metric"_a = false, "n_threads"_a = 1);
    m.def(
        "fuzzy_categorical_intersection",
        [](I64Vec indptr, I32Vec indices, F64Vec data, std::size_t n, I64Vec labels, double unknown_dist,
           double far_dist, int n_threads) {
            std::span<const std::int64_t> lab(labels.data(), labels.shape(0));
            return from_csr(nembed::categorical_intersection(square_csr(indptr, indices, data, n), lab, unknown_dist,
                                                             far_dist, n_threads));
        },
        "indptr"_a, "indices"_a, "data"_a, "n"_a, "labels"_a, "unknown_dist"_a = 1.0, "far_dist"_a = 5.0,
        "n_threads"_a = 1);
    m.def(
        "fuzzy_metric_intersection",
        [](I64Vec indptr, I32Vec indices, F64Vec data, std::size_t n, F64Vec edge_distance, double scale,
           int n_threads) {
            std::span<const double> d(edge_distance.data(), edge_distance.shape(0));
            return from_csr(nembed::metric_intersection(square_csr(indptr, indices, data, n), d, scale, n_threads));
        },
        "indptr"_a, "indices"_a, "data"_a, "n"_a, "edge_distance"_a, "scale"_a, "n_threads"_a = 1);
    m.def(
        "fuzzy_general_intersection",
        [](I64Vec ip1, I32Vec ix1, F64Vec d1, I64Vec ip2, I32Vec ix2, F64Vec d2, std::size_t n, double weight,
           bool right_complement) {
            return from_csr(nembed::general_simplicial_set_intersection(square_csr(ip1, ix1, d1, n),
                                                                        square_csr(ip2, ix2, d2, n), weight,
                                                                        right_complement));
        },
        "indptr1"_a, "indices1"_a, "data1"_a, "indptr2"_a, "indices2"_a, "data2"_a, "n"_a, "weight"_a = 0.5,
        "right_complement"_a = false);
    m.def(
        "fuzzy_general_union",
        [](I64Vec ip1, I32Vec ix1, F64Vec d1, I64Vec ip2, I32Vec ix2, F64Vec d2, std::size_t n) {
            return from_csr(nembed::general_simplicial_set_union(square_csr(ip1, ix1, d1, n),
                                                                 square_csr(ip2, ix2, d2, n)));
        },
        "indptr1"_a, "indices1"_a, "data1"_a, "indptr2"_a, "indices2"_a, "data2"_a, "n"_a);

    m.def(
        "cne_fit",
        [](F32Mat X, std::optional<I64Vec> indptr, std::optional<I32Vec> indices, std::optional<F64Vec> data,
           std::size_t n_points, nb::dict params, F64Mat init_array, nb::object callback, bool handle_sigint) {
            nembed::CneOptions o;
            auto get = [&](const char* key) { return nb::borrow(params[key]); };
            auto opt_double = [&](const char* key) -> std::optional<double> {
                nb::object v = get(key);
                if (v.is_none()) return std::nullopt;
                return nb::cast<double>(v);
            };
            o.k = nb::cast<std::size_t>(get("k"));
            o.n_components = nb::cast<std::size_t>(get("embd_dim"));
            o.loss_mode = nembed::parse_contrastive_mode(nb::cast<std::string>(get("loss_mode")));
            o.metric = nembed::parse_contrastive_metric(nb::cast<std::string>(get("metric")));
            o.s = opt_double("s");
            o.Z_bar = opt_double("Z_bar");
            o.neg_spec = opt_double("neg_spec");
            o.ince_spec = opt_double("ince_spec");
            o.negative_samples = nb::cast<long>(get("negative_samples"));
            o.batch_size = nb::cast<std::size_t>(get("batch_size"));
            o.n_epochs = nb::cast<int>(get("n_epochs"));
            o.learning_rate = opt_double("learning_rate");
            o.anneal_lr = nembed::parse_lr_anneal(nb::cast<std::string>(get("anneal_lr")));
            o.lr_min_factor = nb::cast<double>(get("lr_min_factor"));
            o.warmup_epochs = nb::cast<int>(get("warmup_epochs"));
            o.warmup_lr = nb::cast<double>(get("warmup_lr"));
            o.optimizer = nembed::parse_cne_optimizer(nb::cast<std::string>(get("optimizer")));
            o.momentum = nb::cast<double>(get("momentum"));
            o.weight_decay = nb::cast<double>(get("weight_decay"));
            o.temperature = nb::cast<double>(get("temperature"));
            o.eps = nb::cast<double>(get("eps"));
            o.clamp_low = opt_double("clamp_low");
            o.clamp_high = opt_double("clamp_high");
            o.Z = nb::cast<double>(get("Z"));
            o.clip_grad = nb::cast<bool>(get("clip_grad"));
            o.early_exaggeration = nb::cast<bool>(get("early_exaggeration"));
            o.seed = nb::cast<std::uint64_t>(get("seed"));
            o.n_jobs = nb::cast<int>(get("n_jobs"));
            o.neighbors = nembed::parse_knn_method(nb::cast<std::string>(get("neighbors")));
            o.save_freq = nb::cast<int>(get("save_freq"));
            o.verbose = nb::cast<bool>(get("verbose"));
            o.parametric = nb::cast<bool>(get("parametric"));
            if (o.parametric) {
                o.network.hidden = nb::cast<std::vector<long>>(get("hidden"));
                o.network.hidden_activation = nembed::parse_activation(nb::cast<std::string>(get("activation")));
                o.network.init = nembed::parse_mlp_init(nb::cast<std::string>(get("network_init")));
                o.network.precision = nembed::parse_precision(nb::cast<std::string>(get("network_precision")));
                o.network.normalize_inputs = nb::cast<bool>(get("normalize_inputs"));
            }
            if (init_array.shape(0) > 0) {
                o.init = nembed::CneInit::user;
                o.initial_embedding = to_matrix(init_array);
            } else {
                o.init = nb::cast<std::string>(get("init")) == "random" ? nembed::CneInit::random : nembed::CneInit::pca;
            }
            auto cb = make_callback(callback);
            // cne's callback(epoch, loss, embedding): epoch 0-based after it ran, -1 before training (event step 0)
            if (cb)
                o.callback = [cb](const nembed::TrainEvent& ev) {
                    return cb(static_cast<int>(ev.step) - 1, ev.loss, ev.embedding);
                };
            nembed::CneResult r;
            if (indptr) {
                nembed::require(indices.has_value() && data.has_value(), "graph: indptr, indices and data are needed");
                auto g = to_csr(*indptr, *indices, *data, n_points, n_points);
                r = run_long(handle_sigint, [&] { return nembed::CNE(o).fit(g, view(X)); });
            } else {
                r = run_long(handle_sigint, [&] { return nembed::CNE(o).fit(view(X)); });
            }
            nb::dict out;
            out["graph"] = from_csr(r.graph);
            out["embedding"] = to_numpy(std::move(r.embedding));
            out["losses"] = r.epoch_losses;
            out["log_Z"] = r.log_Z;
            out["spec"] = r.spectrum.spec;
            out["spec_early"] = r.spectrum.spec_early;
            out["early_epochs"] = r.spectrum.early_epochs;
            out["epochs_run"] = r.epochs_run;
            if (r.network) out["network"] = network_dict(*r.network);
            nb::dict t;
            t["knn"] = r.timings.knn;
            t["graph"] = r.timings.graph;
            t["init"] = r.timings.init;
            t["optimize"] = r.timings.optimize;
            out["timings"] = t;
            return out;
        },
        "X"_a, "indptr"_a.none(), "indices"_a.none(), "data"_a.none(), "n_points"_a, "params"_a, "init_array"_a,
        "callback"_a.none(), "handle_sigint"_a, "cne's CNE.fit on data X or a given graph (CSR parts).");

    // A saved network (network_dict's values) applied to new rows: parametric transform.
    m.def(
        "mlp_apply",
        [](nb::dict network, F32Mat X, int n_threads) {
            const nembed::Mlp net = network_from_dict(network);
            nembed::require_finite(view(X), "X");
            nembed::Matrix<float> Y;
            {
                nb::gil_scoped_release release;
                Y = net.apply(view(X), std::max(1, n_threads));
            }
            return to_numpy(nembed::convert<double>(Y.view()));
        },
        "network"_a, "X"_a, "n_threads"_a,
        "A network's forward pass on X (parametric CNE's and TorchDR's encoder's transform).");
}
