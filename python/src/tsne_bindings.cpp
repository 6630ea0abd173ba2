// nembed._core t-SNE objects: TsneState (nembed::TsneEmbedding) and PartialTsneState (nembed::PartialTsneEmbedding).
// The Python classes in nembed/tsne.py hold one of these next to the ndarray the user sees.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <memory>
#include <optional>
#include <string>

#include "common.hpp"
#include "knn_holder.hpp"
#include "nembed/loss/tsne_objective.hpp"
#include "nembed/methods/tsne.hpp"
#include "nembed/repulsion/repulsion.hpp"

namespace nb = nanobind;
using namespace nb::literals;
using namespace nembed_py;

namespace {

// The one mapping of nembed::RepulsionOptions to openTSNE's keyword names (both directions).
nembed::RepulsionOptions repulsion_options(const std::string& method, double theta, std::size_t n_interpolation_points,
                                           std::size_t min_num_intervals, double ints_in_interval) {
    nembed::RepulsionOptions r;
    r.method = nembed::parse_gradient_method(method);
    r.theta = theta;
    r.fft.n_interpolation_points = n_interpolation_points;
    r.fft.min_num_intervals = min_num_intervals;
    r.fft.ints_in_interval = ints_in_interval;
    return r;
}

void put_repulsion(nb::dict& d, const nembed::RepulsionOptions& r) {
    d["negative_gradient_method"] = nembed::to_string(r.method);
    d["theta"] = r.theta;
    d["n_interpolation_points"] = r.fft.n_interpolation_points;
    d["min_num_intervals"] = r.fft.min_num_intervals;
    d["ints_in_interval"] = r.fft.ints_in_interval;
}

nembed::TsneGradientParams gradient_params(double dof, const std::string& method, double theta,
                                           std::size_t n_interpolation_points, std::size_t min_num_intervals,
                                           double ints_in_interval, int n_threads) {
    nembed::TsneGradientParams p;
    p.dof = dof;
    p.repulsion = repulsion_options(method, theta, n_interpolation_points, min_num_intervals, ints_in_interval);
    nembed::require(n_threads >= 1, "n_threads must be >= 1");
    p.n_threads = n_threads;
    return p;
}

nb::dict params_dict(const nembed::TsneGradientParams& p) {
    nb::dict d;
    d["dof"] = p.dof;
    put_repulsion(d, p.repulsion);
    d["n_threads"] = p.n_threads;
    return d;
}

// openTSNE's schedules for the Python layer, which runs each phase as one optimize call.
nb::list phase_list(const std::vector<nembed::Phase>& phases) {
    nb::list out;
    for (const nembed::Phase& ph : phases) {
        nb::dict d;
        d["name"] = ph.name;
        d["n_iter"] = ph.n_steps;
        d["exaggeration"] = ph.exaggeration;
        d["momentum"] = ph.momentum.value_or(0.8);
        out.append(d);
    }
    return out;
}

/// The options of one optimize call.
nembed::TsneOptimizeOptions optimize_options(std::optional<double> learning_rate, double exaggeration,
                                             double momentum, std::optional<double> max_grad_norm,
                                             std::optional<double> max_step_norm, double min_gain,
                                             nb::handle callback, int callbacks_every_iters, bool verbose) {
    nembed::TsneOptimizeOptions o;
    o.learning_rate = learning_rate;
    o.exaggeration = exaggeration;
    o.momentum = momentum;
    o.max_grad_norm = max_grad_norm;
    o.max_step_norm = max_step_norm;
    o.min_gain = min_gain;
    o.callback = make_train_callback(callback);
    o.callbacks_every_iters = callbacks_every_iters;
    o.verbose = verbose;
    o.propagate_exception = false;  // the Python layer raises OptimizationInterrupt itself
    return o;
}

nb::dict report_dict(const nembed::OptimizeReport& r) {
    nb::dict d;
    d["iterations"] = r.iterations;
    d["kl"] = r.kl;
    d["stopped"] = r.stop == nembed::StopReason::callback;
    d["learning_rate"] = r.learning_rate;
    return d;
}

void set_embedding(nembed::Matrix<double>& target, const F64Mat& Y) {
    nembed::require(Y.shape(0) == target.rows() && Y.shape(1) == target.cols(),
                    "embedding has shape (" + std::to_string(Y.shape(0)) + ", " + std::to_string(Y.shape(1)) +
                        "), expected (" + std::to_string(target.rows()) + ", " + std::to_string(target.cols()) + ")");
    std::copy(Y.data(), Y.data() + target.size(), target.data());
}

// The schedule fields that fit (TsneOptions) and transform (TransformOptions) share, for tsne_phases/transform_phases.
template <class Options, class Early, class Late>
Options schedule_options(int early_exaggeration_iter, Early early_exaggeration, int n_iter, Late exaggeration,
                         double initial_momentum, double final_momentum) {
    Options o;
    o.early_exaggeration_iter = early_exaggeration_iter;
    o.early_exaggeration = early_exaggeration;
    o.n_iter = n_iter;
    o.exaggeration = exaggeration;
    o.initial_momentum = initial_momentum;
    o.final_momentum = final_momentum;
    return o;
}

// The optimizer's per-value state as an N x d array (None before the first iteration, as openTSNE's gains).
nb::object optimizer_array(const std::vector<double>& v, std::size_t d) {
    if (v.empty() || d == 0) return nb::none();
    return nb::cast(copy_to_numpy(nembed::MatrixView<double>{v.data(), v.size() / d, d}), nb::rv_policy::move);
}

} // namespace

void bind_tsne(nb::module_& m) {
    m.def(
        "tsne_kl_gradient",
        [](F64Mat Y, I64Vec indptr, I32Vec indices, F64Vec data, double dof, const std::string& method, double theta,
           std::size_t nip, std::size_t mni, double iii, int n_threads, std::optional<F64Mat> reference,
           double exaggeration) {
            auto params = gradient_params(dof, method, theta, nip, mni, iii, n_threads);
            const std::size_t n = Y.shape(0), d = Y.shape(1);
            nembed::Matrix<double> grad(n, d);
            double kl = 0.0;
            if (reference) {
                nembed::require(reference->shape(1) == d, "reference_embedding must have the embedding's dimension");
                auto P = to_csr(indptr, indices, data, n, reference->shape(0));
                auto rep = nembed::make_repulsion(params, reference->shape(0), d);
                nembed::PartialTsneObjective f(P, view(*reference), *rep, nembed::StudentTKernel(dof), n_threads);
                kl = f(view(Y), exaggeration, grad.data(), true);
            } else {
                auto P = to_csr(indptr, indices, data, n, n);
                auto rep = nembed::make_repulsion(params, n, d);
                nembed::TsneObjective f(P, *rep, nembed::StudentTKernel(dof), n_threads);
                kl = f(view(Y), exaggeration, grad.data(), true);
            }
            return nb::make_tuple(kl, to_numpy(std::move(grad)));
        },
        "Y"_a, "indptr"_a, "indices"_a, "data"_a, "dof"_a, "negative_gradient_method"_a, "theta"_a,
        "n_interpolation_points"_a, "min_num_intervals"_a, "ints_in_interval"_a, "n_threads"_a,
        "reference"_a.none(), "exaggeration"_a = 1.0,
        "(KL divergence of the un-exaggerated P, gradient) of the t-SNE objective at Y (openTSNE's convention); "
        "with a reference, of new points against it.");
    m.def(
        "tsne_phases",
        [](int early_exaggeration_iter, std::optional<double> early_exaggeration, int n_iter,
           std::optional<double> exaggeration, double initial_momentum, double final_momentum) {
            return phase_list(nembed::tsne_phases(schedule_options<nembed::TsneOptions>(
                early_exaggeration_iter, early_exaggeration, n_iter, exaggeration, initial_momentum, final_momentum)));
        },
        "early_exaggeration_iter"_a, "early_exaggeration"_a.none(), "n_iter"_a, "exaggeration"_a.none(),
        "initial_momentum"_a, "final_momentum"_a,
        "openTSNE's fit schedule: a list of {name, n_iter, exaggeration, momentum} (early exaggeration, main).");
    m.def(
        "transform_phases",
        [](int early_exaggeration_iter, double early_exaggeration, int n_iter, double exaggeration,
           double initial_momentum, double final_momentum) {
            return phase_list(nembed::transform_phases(schedule_options<nembed::TransformOptions>(
                early_exaggeration_iter, early_exaggeration, n_iter, exaggeration, initial_momentum, final_momentum)));
        },
        "early_exaggeration_iter"_a, "early_exaggeration"_a, "n_iter"_a, "exaggeration"_a, "initial_momentum"_a,
        "final_momentum"_a, "openTSNE's transform schedule: a list of {name, n_iter, exaggeration, momentum}.");
    m.def("parse_gradient_method", [](const std::string& s) { return nembed::to_string(nembed::parse_gradient_method(s)); },
          "name"_a, "Canonical name of a negative-gradient method; ValueError for unknown names.");

    nb::class_<nembed::PartialTsneEmbedding>(m, "PartialTsneState",
                                             "New points optimised against a fixed reference embedding.")
        .def("__copy__", [](const nembed::PartialTsneEmbedding& e) { return nembed::PartialTsneEmbedding(e); })
        .def(
            "optimize",
            [](nembed::PartialTsneEmbedding& e, F64Mat Y, int n_iter, std::optional<double> learning_rate,
               double exaggeration, double momentum, std::optional<double> max_grad_norm,
               std::optional<double> max_step_norm, double min_gain, nb::object callback, int callbacks_every_iters,
               bool verbose, bool handle_sigint) {
                set_embedding(e.embedding(), Y);
                nembed::require_finite(e.embedding().view(), "partial embedding");
                auto o = optimize_options(learning_rate, exaggeration, momentum, max_grad_norm, max_step_norm,
                                          min_gain, callback, callbacks_every_iters, verbose);
                o.phase = "transform";
                auto r = run_long(handle_sigint, [&] { return e.optimize(n_iter, o); });
                return nb::make_tuple(copy_to_numpy(e.embedding().view()), report_dict(r));
            },
            "Y"_a, "n_iter"_a, "learning_rate"_a.none(), "exaggeration"_a, "momentum"_a, "max_grad_norm"_a.none(),
            "max_step_norm"_a.none(), "min_gain"_a, "callback"_a.none(), "callbacks_every_iters"_a, "verbose"_a,
            "handle_sigint"_a)
        .def_static(
            "create",
            [](F64Mat Y, I64Vec indptr, I32Vec indices, F64Vec data, F64Mat reference, double dof,
               const std::string& method, double theta, std::size_t nip, std::size_t mni, double iii, int n_threads) {
                auto P = to_csr(indptr, indices, data, Y.shape(0), reference.shape(0));
                auto ref = std::make_shared<const nembed::Matrix<double>>(to_matrix(reference));
                return nembed::PartialTsneEmbedding(to_matrix(Y), std::move(P), std::move(ref),
                                                    gradient_params(dof, method, theta, nip, mni, iii, n_threads));
            },
            "Y"_a, "indptr"_a, "indices"_a, "data"_a, "reference"_a, "dof"_a, "negative_gradient_method"_a,
            "theta"_a, "n_interpolation_points"_a, "min_num_intervals"_a, "ints_in_interval"_a, "n_threads"_a,
            "New points Y (N_new x d) against a fixed reference (N_ref x d) with P (N_new x N_ref).")
        .def(
            "set_gradient_params",
            [](nembed::PartialTsneEmbedding& e, double dof, const std::string& method, double theta, std::size_t nip,
               std::size_t mni, double iii, int n_threads) {
                e.gradient_params() = gradient_params(dof, method, theta, nip, mni, iii, n_threads);
            },
            "dof"_a, "negative_gradient_method"_a, "theta"_a, "n_interpolation_points"_a, "min_num_intervals"_a,
            "ints_in_interval"_a, "n_threads"_a)
        .def_prop_ro("gains", [](const nembed::PartialTsneEmbedding& e) { return optimizer_array(e.optimizer().gains(), e.embedding().cols()); }, nb::rv_policy::move)
        .def_prop_ro("update", [](const nembed::PartialTsneEmbedding& e) { return optimizer_array(e.optimizer().update(), e.embedding().cols()); }, nb::rv_policy::move)
        .def_prop_ro("embedding", [](const nembed::PartialTsneEmbedding& e) { return copy_to_numpy(e.embedding().view()); }, nb::rv_policy::move)
        .def_prop_ro("P", [](const nembed::PartialTsneEmbedding& e) { return from_csr(e.affinities()); }, nb::rv_policy::move)
        .def_prop_ro("kl_divergence", &nembed::PartialTsneEmbedding::kl_divergence);

    nb::class_<nembed::TsneEmbedding>(m, "TsneState", "Resumable t-SNE state (nembed::TsneEmbedding).")
        .def("__copy__", [](const nembed::TsneEmbedding& e) { return nembed::TsneEmbedding(e); })
        .def_static(
            "from_affinities",
            [](F64Mat Y, I64Vec indptr, I32Vec indices, F64Vec data, double dof, const std::string& method,
               double theta, std::size_t nip, std::size_t mni, double iii, int n_threads,
               std::shared_ptr<KnnHolder> knn) {
                auto P = to_csr(indptr, indices, data, Y.shape(0), Y.shape(0));
                auto params = gradient_params(dof, method, theta, nip, mni, iii, n_threads);
                std::shared_ptr<const nembed::KnnIndex> index = knn ? knn->index : nullptr;
                std::shared_ptr<const nembed::Matrix<float>> ref = knn ? knn->data : nullptr;
                return nembed::TsneEmbedding(to_matrix(Y), std::move(P), params, index, ref);
            },
            "Y"_a, "indptr"_a, "indices"_a, "data"_a, "dof"_a, "negative_gradient_method"_a, "theta"_a,
            "n_interpolation_points"_a, "min_num_intervals"_a, "ints_in_interval"_a, "n_threads"_a,
            "knn_index"_a.none())
        .def_static(
            "prepare",
            [](F32Mat X, std::size_t n_components, const std::vector<double>& perplexities,
               const std::string& initialization, std::optional<F64Mat> initial_embedding, const std::string& metric,
               const std::string& neighbors, double dof, const std::string& method, double theta, std::size_t nip,
               std::size_t mni, double iii, int n_threads, std::uint64_t seed, bool verbose, bool handle_sigint) {
                nembed::TsneOptions o;
                o.n_components = n_components;
                o.perplexities = perplexities;
                if (initial_embedding) {
                    o.initialization = nembed::TsneInit::user;
                    o.initial_embedding = to_matrix(*initial_embedding);
                } else {
                    o.initialization = nembed::parse_tsne_init(initialization);
                }
                o.metric = nembed::parse_metric(metric);
                o.neighbors = nembed::parse_knn_method(neighbors);
                o.dof = dof;
                o.repulsion = repulsion_options(method, theta, nip, mni, iii);
                o.n_jobs = n_threads;
                o.random_state = seed;
                o.verbose = verbose;
                nembed::TSNE tsne(o);
                return run_long(handle_sigint, [&] { return tsne.prepare_initial(view(X)); });
            },
            "X"_a, "n_components"_a, "perplexities"_a, "initialization"_a, "initial_embedding"_a.none(), "metric"_a,
            "neighbors"_a, "dof"_a, "negative_gradient_method"_a, "theta"_a, "n_interpolation_points"_a,
            "min_num_intervals"_a, "ints_in_interval"_a, "n_threads"_a, "seed"_a, "verbose"_a, "handle_sigint"_a)
        .def(
            "optimize",
            [](nembed::TsneEmbedding& e, F64Mat Y, int n_iter, std::optional<double> learning_rate,
               double exaggeration, double momentum, std::optional<double> max_grad_norm,
               std::optional<double> max_step_norm, double min_gain, nb::object callback, int callbacks_every_iters,
               bool verbose, bool handle_sigint) {
                set_embedding(e.embedding(), Y);
                nembed::require_finite(e.embedding().view(), "embedding");
                auto o = optimize_options(learning_rate, exaggeration, momentum, max_grad_norm, max_step_norm,
                                          min_gain, callback, callbacks_every_iters, verbose);
                auto r = run_long(handle_sigint, [&] { return e.optimize(n_iter, o); });
                return nb::make_tuple(copy_to_numpy(e.embedding().view()), report_dict(r));
            },
            "Y"_a, "n_iter"_a, "learning_rate"_a.none(), "exaggeration"_a, "momentum"_a, "max_grad_norm"_a.none(),
            "max_step_norm"_a.none(), "min_gain"_a, "callback"_a.none(), "callbacks_every_iters"_a, "verbose"_a,
            "handle_sigint"_a)
        .def(
            "set_gradient_params",
            [](nembed::TsneEmbedding& e, double dof, const std::string& method, double theta, std::size_t nip,
               std::size_t mni, double iii, int n_threads) {
                e.gradient_params() = gradient_params(dof, method, theta, nip, mni, iii, n_threads);
                // Validates the combination for this embedding (e.g. FFT above 2-D) before any run.
                nembed::make_repulsion(e.gradient_params(), e.embedding().rows(), e.embedding().cols());
            },
            "dof"_a, "negative_gradient_method"_a, "theta"_a, "n_interpolation_points"_a, "min_num_intervals"_a,
            "ints_in_interval"_a, "n_threads"_a)
        .def_prop_ro("gradient_params", [](const nembed::TsneEmbedding& e) { return params_dict(e.gradient_params()); })
        .def(
            "set_embedding", [](nembed::TsneEmbedding& e, F64Mat Y) { set_embedding(e.embedding(), Y); }, "Y"_a)
        .def_prop_ro("embedding", [](const nembed::TsneEmbedding& e) { return copy_to_numpy(e.embedding().view()); }, nb::rv_policy::move)
        .def_prop_ro("P", [](const nembed::TsneEmbedding& e) { return from_csr(e.affinities()); }, nb::rv_policy::move)
        .def_prop_ro("kl_divergence", &nembed::TsneEmbedding::kl_divergence)
        .def_prop_ro("can_transform", &nembed::TsneEmbedding::can_transform)
        .def_prop_ro("total_iterations", &nembed::TsneEmbedding::total_iterations)
        .def_prop_ro("gains", [](const nembed::TsneEmbedding& e) { return optimizer_array(e.optimizer().gains(), e.embedding().cols()); }, nb::rv_policy::move)
        .def_prop_ro("update", [](const nembed::TsneEmbedding& e) { return optimizer_array(e.optimizer().update(), e.embedding().cols()); }, nb::rv_policy::move)
        .def(
            "set_affinities",
            [](nembed::TsneEmbedding& e, I64Vec indptr, I32Vec indices, F64Vec data) {
                const std::size_t n = e.embedding().rows();
                e.set_affinities(to_csr(indptr, indices, data, n, n));
            },
            "indptr"_a, "indices"_a, "data"_a, "Replaces P, keeping positions, gains and momentum.")
        .def_prop_ro("timings",
                     [](const nembed::TsneEmbedding& e) {
                         nb::dict d;
                         d["knn"] = e.timings().knn;
                         d["affinities"] = e.timings().affinities;
                         d["init"] = e.timings().init;
                         return d;
                     }, nb::rv_policy::move)
        .def(
            "knn_index",
            [](const nembed::TsneEmbedding& e, const std::string& method, std::uint64_t seed)
                -> std::shared_ptr<KnnHolder> {
                if (!e.knn_index()) return nullptr;
                auto h = std::make_shared<KnnHolder>();
                h->index = e.knn_index();
                h->data = e.reference_data();
                h->options.method = nembed::parse_knn_method(method);
                h->options.metric = e.knn_index()->metric();
                h->options.metric_params = e.knn_index()->metric_params();
                h->options.seed = seed;
                h->options.n_threads = e.gradient_params().n_threads;
                return h;
            },
            "method"_a, "seed"_a)
        .def(
            "transform",
            [](const nembed::TsneEmbedding& e, F32Mat X, double perplexity, std::size_t k,
               std::optional<F64Mat> initialization, double learning_rate, double early_exaggeration,
               int early_exaggeration_iter, double exaggeration, int n_iter, double initial_momentum,
               double final_momentum, std::optional<double> max_grad_norm, std::optional<double> max_step_norm,
               nb::object callback, int callbacks_every_iters, bool verbose, bool handle_sigint) {
                nembed::TransformOptions o;
                o.perplexity = perplexity;
                o.k = k;
                if (initialization) o.initialization = to_matrix(*initialization);
                o.learning_rate = learning_rate;
                o.early_exaggeration = early_exaggeration;
                o.early_exaggeration_iter = early_exaggeration_iter;
                o.exaggeration = exaggeration;
                o.n_iter = n_iter;
                o.initial_momentum = initial_momentum;
                o.final_momentum = final_momentum;
                o.max_grad_norm = max_grad_norm;
                o.max_step_norm = max_step_norm;
                o.callback = make_train_callback(callback);
                o.callbacks_every_iters = callbacks_every_iters;
                o.verbose = verbose;
                return to_numpy(run_long(handle_sigint, [&] { return e.transform(view(X), o); }));
            },
            "X"_a, "perplexity"_a, "k"_a, "initialization"_a.none(), "learning_rate"_a, "early_exaggeration"_a,
            "early_exaggeration_iter"_a, "exaggeration"_a, "n_iter"_a, "initial_momentum"_a, "final_momentum"_a,
            "max_grad_norm"_a.none(), "max_step_norm"_a.none(), "callback"_a.none(), "callbacks_every_iters"_a,
            "verbose"_a, "handle_sigint"_a)
        .def(
            "prepare_partial",
            [](const nembed::TsneEmbedding& e, F32Mat X, double perplexity, std::size_t k,
               std::optional<F64Mat> initialization, bool handle_sigint) {
                nembed::TransformOptions o;
                o.perplexity = perplexity;
                o.k = k;
                if (initialization) o.initialization = to_matrix(*initialization);
                return run_long(handle_sigint, [&] { return e.prepare_partial(view(X), o); });
            },
            "X"_a, "perplexity"_a, "k"_a, "initialization"_a.none(), "handle_sigint"_a)
        .def(
            "prepare_partial_from",
            [](const nembed::TsneEmbedding& e, I64Vec indptr, I32Vec indices, F64Vec data, F64Mat initialization) {
                auto P = to_csr(indptr, indices, data, initialization.shape(0), e.embedding().rows());
                return e.prepare_partial(std::move(P), to_matrix(initialization));
            },
            "indptr"_a, "indices"_a, "data"_a, "initialization"_a);
}
