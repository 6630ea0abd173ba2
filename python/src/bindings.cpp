// nembed._core: the module, exception translation, the log sink, and the kNN / affinity / init / io / metrics
// functions. t-SNE objects are bound in tsne_bindings.cpp.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <Python.h>

#include <memory>
#include <new>
#include <string>

#include "common.hpp"
#include "nembed/core/log.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/init/median.hpp"
#include "nembed/init/pca_init.hpp"
#include "nembed/init/random.hpp"
#include "nembed/init/rescale.hpp"
#include "nembed/init/spectral.hpp"
#include "nembed/io/load.hpp"
#include "nembed/metrics/quality.hpp"
#include "nembed/metrics/reference_quality.hpp"
#include "nembed/neighbors/knn.hpp"
#include "knn_holder.hpp"
#include "nembed/affinity/fixed_sigma.hpp"
#include "nembed/affinity/fuzzy.hpp"
#include "nembed/affinity/multiscale.hpp"
#include "nembed/affinity/perplexity.hpp"
#include "nembed/affinity/precomputed.hpp"
#include "nembed/affinity/uniform.hpp"

namespace nb = nanobind;
using namespace nb::literals;
using namespace nembed_py;

void bind_tsne(nb::module_& m);
void bind_umap(nb::module_& m);
void bind_sensitivity(nb::module_& m);
void bind_torchdr_affinity(nb::module_& m);
void bind_eval(nb::module_& m);
void bind_torchdr_ne(nb::module_& m);
void bind_knn(nb::module_& m);
void bind_paradime(nb::module_& m);

namespace {

void install_log_sink() {
    nembed::set_log_sink([](nembed::LogLevel level, const std::string& message) {
        // Debug lines (the kNN's and MINRES's internals) are for the CLI's --verbose, as in the default sink: in a
        // notebook they were noise on stdout at every fit.
        if (level == nembed::LogLevel::debug || !Py_IsInitialized()) return;
        nb::gil_scoped_acquire gil;
        // Never let a logging failure unwind through C++ code: keep any pending error and restore it afterwards.
        PyObject *type, *value, *trace;
        PyErr_Fetch(&type, &value, &trace);
        if (level == nembed::LogLevel::warning) {
            if (PyErr_WarnEx(PyExc_UserWarning, message.c_str(), 1) < 0) PyErr_Clear();
        } else {
            PyObject* out = PySys_GetObject("stdout");  // borrowed
            if (out && out != Py_None) {
                PyObject* r = PyObject_CallMethod(out, "write", "s", (message + "\n").c_str());
                if (r) {
                    Py_DECREF(r);
                    PyObject* f = PyObject_CallMethod(out, "flush", nullptr);
                    if (f) Py_DECREF(f); else PyErr_Clear();
                } else {
                    PyErr_Clear();
                }
            }
        }
        PyErr_Restore(type, value, trace);
    });
}

nembed::KnnOptions knn_options(const std::string& method, const std::string& metric, int n_threads,
                               std::uint64_t seed, int hnsw_m, int hnsw_ef_construction, int hnsw_ef) {
    nembed::KnnOptions o;
    o.method = nembed::parse_knn_method(method);
    o.metric = nembed::parse_metric(metric);
    o.n_threads = n_threads;
    o.seed = seed;
    o.hnsw_m = hnsw_m;
    o.hnsw_ef_construction = hnsw_ef_construction;
    o.hnsw_ef = hnsw_ef;
    return o;
}

} // namespace

namespace nembed_py {
std::shared_ptr<KnnHolder> build_holder(F32Mat data, const nembed::KnnOptions& o, bool handle_sigint) {
    auto copy = std::make_shared<const nembed::Matrix<float>>(nembed::convert<float>(view(data)));
    auto holder = std::make_shared<KnnHolder>();
    holder->options = o;
    holder->data = copy;
    holder->index = run_long(handle_sigint, [&] {
        return std::shared_ptr<const nembed::KnnIndex>(nembed::build_knn_index(copy->view(), o).release());
    });
    return holder;
}
} // namespace nembed_py

NB_MODULE(_core, m) {
    m.doc() = "nembed's C++ core (thin nanobind bindings; use the pure-Python API in `nembed`).";
    m.attr("__version__") = NEMBED_VERSION;

    // InvalidArgument derives from std::invalid_argument, which nanobind already maps to ValueError.
    nb::register_exception_translator([](const std::exception_ptr& p, void*) {
        try {
            std::rethrow_exception(p);
        } catch (const nembed::IoError& e) {
            PyErr_SetString(PyExc_ValueError, e.what());
        } catch (const nembed::InvalidArgument& e) {
            PyErr_SetString(PyExc_ValueError, e.what());
        } catch (const std::bad_alloc&) {
            // nanobind's own MemoryError says only "std::bad_alloc": say what lowers the need, as the CLI does.
            PyErr_SetString(PyExc_MemoryError,
                            "out of memory: the run needs more memory than this process may use (fewer points, "
                            "smaller network widths or batches, a smaller perplexity or n_neighbors lower the need)");
        }
    });
    install_log_sink();

    m.def("resolve_threads", &nembed::resolve_threads, "n_jobs"_a,
          "Resolves the joblib convention (-1 = all cores) to a thread count >= 1.");

    // ---------------------------------------------------------------------------------------- neighbours
    nb::class_<KnnHolder>(m, "KnnIndex", "A built nearest-neighbour index over reference points (C++ KnnIndex).")
        .def_static(
            "build",
            [](F32Mat data, const std::string& method, const std::string& metric, int n_threads, std::uint64_t seed,
               int hnsw_m, int hnsw_ef_construction, int hnsw_ef, bool handle_sigint) {
                return build_holder(data, knn_options(method, metric, n_threads, seed, hnsw_m, hnsw_ef_construction,
                                                      hnsw_ef),
                                    handle_sigint);
            },
            "data"_a, "method"_a = "auto", "metric"_a = "euclidean", "n_threads"_a = 1, "seed"_a = 0,
            "hnsw_m"_a = 16, "hnsw_ef_construction"_a = 200, "hnsw_ef"_a = 0, "handle_sigint"_a = false)
        .def(
            "self_neighbors",
            [](const KnnHolder& h, std::size_t k, bool handle_sigint) {
                return from_graph(run_long(handle_sigint, [&] { return h.index->self_neighbors(k); }));
            },
            "k"_a, "handle_sigint"_a = false)
        .def(
            "query",
            [](const KnnHolder& h, F32Mat queries, std::size_t k, bool handle_sigint) {
                return from_graph(run_long(handle_sigint, [&] { return h.index->query(view(queries), k); }));
            },
            "queries"_a, "k"_a, "handle_sigint"_a = false)
        .def_prop_ro("n_points", [](const KnnHolder& h) { return h.index->n_points(); })
        .def_prop_ro("n_dims", [](const KnnHolder& h) { return h.index->n_dims(); })
        .def_prop_ro("metric", [](const KnnHolder& h) { return nembed::to_string(h.index->metric()); })
        .def_prop_ro("method", [](const KnnHolder& h) { return nembed::to_string(h.options.method); })
        .def_prop_ro("seed", [](const KnnHolder& h) { return h.options.seed; })
        .def_prop_ro("data", [](const KnnHolder& h) {
            nembed::require(static_cast<bool>(h.data), "this kNN index keeps no copy of its data");
            return copy_to_numpy(h.data->view());
        }, nb::rv_policy::move);

    m.def(
        "neighbors_from_arrays",
        [](I64Mat indices, F64Mat distances, std::size_t n_reference) {
            nembed::MatrixView<std::int64_t> iv{indices.data(), indices.shape(0), indices.shape(1)};
            return from_graph(nembed::neighbors_from_arrays(iv, view(distances), n_reference));
        },
        "indices"_a, "distances"_a, "n_reference"_a);
    m.def(
        "neighbors_from_distance_matrix",
        [](F64Mat distances, std::size_t k, int n_threads) {
            return from_graph(run_long(false, [&] {
                return nembed::neighbors_from_distance_matrix(view(distances), k, n_threads);
            }));
        },
        "distances"_a, "k"_a, "n_threads"_a = 1);

    // ---------------------------------------------------------------------------------------- affinities
    using F32Dist = nb::ndarray<const float, nb::ndim<2>, nb::c_contig>;
    m.def("perplexity_neighbors", &nembed::perplexity_neighbors, "n"_a, "perplexity"_a,
          "min(N - 1, floor(3 * perplexity)).");
    m.def("clamp_perplexity", &nembed::clamp_perplexity, "n"_a, "perplexity"_a,
          "Caps the perplexity at (N - 1) / 3, with a warning.");
    m.def(
        "gaussian_affinities",
        [](I32Mat indices, F32Dist distances, std::size_t n_reference, const std::vector<double>& perplexities,
           const std::string& mode, bool symmetrize, int n_threads, bool handle_sigint) {
            nembed::KnnGraph g = to_graph(indices, distances, n_reference);
            nembed::MultiscaleOptions o;
            o.perplexities = perplexities;
            o.mode = nembed::parse_multiscale_mode(mode);
            o.symmetrize = symmetrize;
            o.n_threads = n_threads;
            return from_csr(run_long(handle_sigint, [&] { return nembed::multiscale_affinities(g, o); }));
        },
        "indices"_a, "distances"_a, "n_reference"_a, "perplexities"_a, "mode"_a = "mixture", "symmetrize"_a = true,
        "n_threads"_a = 1, "handle_sigint"_a = false,
        "Perplexity-calibrated Gaussian affinities (several perplexities: mixture or average). Joint P summing "
        "to 1 from a self graph when symmetrize, else the row-normalised conditional P.");
    m.def(
        "fixed_sigma_affinities",
        [](I32Mat indices, F32Dist distances, std::size_t n_reference, double sigma, bool symmetrize, int n_threads) {
            nembed::KnnGraph g = to_graph(indices, distances, n_reference);
            nembed::FixedSigmaOptions o;
            o.sigma = sigma;
            o.symmetrize = symmetrize;
            o.n_threads = n_threads;
            return from_csr(run_long(false, [&] { return nembed::fixed_sigma_affinities(g, o); }));
        },
        "indices"_a, "distances"_a, "n_reference"_a, "sigma"_a, "symmetrize"_a = true, "n_threads"_a = 1);
    m.def(
        "uniform_affinities",
        [](I32Mat indices, F32Dist distances, std::size_t n_reference, const std::string& symmetrize,
           bool conditional, int n_threads) {
            nembed::KnnGraph g = to_graph(indices, distances, n_reference);
            nembed::UniformOptions o;
            o.symmetrize = nembed::parse_symmetrization(symmetrize);
            o.conditional = conditional;
            o.n_threads = n_threads;
            return from_csr(run_long(false, [&] { return nembed::uniform_affinities(g, o); }));
        },
        "indices"_a, "distances"_a, "n_reference"_a, "symmetrize"_a = "max", "conditional"_a = false,
        "n_threads"_a = 1);
    m.def(
        "fuzzy_simplicial_set",
        [](I32Mat indices, F32Dist distances, double local_connectivity, double set_op_mix_ratio, double bandwidth,
           int n_threads) {
            nembed::KnnGraph g = to_graph(indices, distances, indices.shape(0));
            nembed::FuzzyOptions o;
            o.local_connectivity = local_connectivity;
            o.set_op_mix_ratio = set_op_mix_ratio;
            o.bandwidth = bandwidth;
            o.n_threads = n_threads;
            nembed::FuzzyCalibration c;
            auto P = run_long(false, [&] { return nembed::fuzzy_simplicial_set(g, o, &c); });
            const std::size_t n = c.sigma.size();
            return nb::make_tuple(from_csr(P), to_numpy(std::move(c.sigma), {n}), to_numpy(std::move(c.rho), {n}));
        },
        "indices"_a, "distances"_a, "local_connectivity"_a = 1.0, "set_op_mix_ratio"_a = 1.0, "bandwidth"_a = 1.0,
        "n_threads"_a = 1,
        "UMAP's fuzzy simplicial set of a self kNN graph (self excluded; umap-learn's n_neighbors = k + 1). "
        "Returns ((indptr, indices, data), sigmas, rhos).");
    m.def(
        "precomputed_affinities",
        [](I64Vec indptr, I32Vec indices, F64Vec data, std::size_t n_rows, std::size_t n_cols, bool normalize,
           const std::string& symmetrize) {
            auto P = to_csr(indptr, indices, data, n_rows, n_cols);
            nembed::PrecomputedOptions o;
            o.normalize = normalize;
            o.symmetrize = nembed::parse_symmetrization(symmetrize);
            return from_csr(nembed::precomputed_affinities(P, o));
        },
        "indptr"_a, "indices"_a, "data"_a, "n_rows"_a, "n_cols"_a, "normalize"_a = true, "symmetrize"_a = "none");

    // ---------------------------------------------------------------------------------------- initialisation
    m.def(
        "pca_init",
        [](F32Mat X, std::size_t n_components, bool add_jitter, std::uint64_t seed, int n_threads) {
            return to_numpy(run_long(false, [&] {
                return nembed::pca_init(view(X), n_components, add_jitter, seed, n_threads);
            }));
        },
        "X"_a, "n_components"_a, "add_jitter"_a = true, "seed"_a = 0, "n_threads"_a = 1);
    m.def(
        "spectral_init",
        [](I64Vec indptr, I32Vec indices, F64Vec data, std::size_t n, std::size_t n_components, bool add_jitter,
           std::uint64_t seed) {
            auto A = to_csr(indptr, indices, data, n, n);
            return to_numpy(run_long(false, [&] { return nembed::spectral_init(A, n_components, add_jitter, seed); }));
        },
        "indptr"_a, "indices"_a, "data"_a, "n"_a, "n_components"_a, "add_jitter"_a = true, "seed"_a = 0);
    m.def(
        "random_init",
        [](std::size_t n, std::size_t n_components, std::uint64_t seed, double std_) {
            return to_numpy(nembed::random_init(n, n_components, seed, std_));
        },
        "n"_a, "n_components"_a, "seed"_a = 0, "std"_a = 1e-4);
    m.def(
        "rescale",
        [](F64Mat Y, double target_std) {
            auto M = to_matrix(Y);
            nembed::rescale(M, target_std);
            return to_numpy(std::move(M));
        },
        "Y"_a, "target_std"_a = 1e-4);
    m.def(
        "jitter",
        [](F64Mat Y, double scale, std::uint64_t seed) {
            auto M = to_matrix(Y);
            nembed::jitter(M, scale, seed);
            return to_numpy(std::move(M));
        },
        "Y"_a, "scale"_a = 0.01, "seed"_a = 0);
    m.def(
        "median_init",
        [](F64Mat reference, I32Mat indices, nb::ndarray<const float, nb::ndim<2>, nb::c_contig> distances,
           bool weighted) {
            auto g = to_graph(indices, distances, reference.shape(0));
            return to_numpy(weighted ? nembed::weighted_mean_init(view(reference), g)
                                     : nembed::median_init(view(reference), g));
        },
        "reference"_a, "indices"_a, "distances"_a, "weighted"_a = false);

    // ---------------------------------------------------------------------------------------- io
    m.def(
        "load_matrix",
        [](const std::string& spec) {
            return to_numpy(run_long(false, [&] { return nembed::load_matrix<float>(spec); }));
        },
        "spec"_a, "Loads .npy, file.npz[:member], .csv/.tsv/.txt or idx[.gz] as float32 rows.");
    m.def(
        "load_labels",
        [](const std::string& spec) {
            auto v = run_long(false, [&] { return nembed::load_labels(spec); });
            const std::size_t n = v.size();
            return to_numpy(std::move(v), {n});
        },
        "spec"_a);
    m.def(
        "save_matrix",
        [](const std::string& path, F64Mat M) { run_long(false, [&] { nembed::save_matrix(path, view(M)); }); },
        "path"_a, "matrix"_a);

    // ---------------------------------------------------------------------------------------- metrics
    m.def(
        "kl_divergence_exact",
        [](I64Vec indptr, I32Vec indices, F64Vec data, F64Mat Y, double dof, int n_threads) {
            auto P = to_csr(indptr, indices, data, Y.shape(0), Y.shape(0));
            return run_long(false, [&] { return nembed::kl_divergence_exact(P, view(Y), dof, n_threads); });
        },
        "indptr"_a, "indices"_a, "data"_a, "Y"_a, "dof"_a = 1.0, "n_threads"_a = 1);
    m.def(
        "trustworthiness",
        [](F32Mat X, F64Mat Y, std::size_t k, int n_threads) {
            return run_long(false, [&] { return nembed::trustworthiness(view(X), view(Y), k, n_threads); });
        },
        "X"_a, "Y"_a, "k"_a = 10, "n_threads"_a = 1);
    m.def(
        "knn_recall",
        [](F32Mat X, F64Mat Y, std::size_t k, int n_threads) {
            return run_long(false, [&] { return nembed::knn_recall(view(X), view(Y), k, n_threads); });
        },
        "X"_a, "Y"_a, "k"_a = 10, "n_threads"_a = 1);
    m.def(
        "knn_accuracy",
        [](F64Mat Y, I64Vec labels, std::size_t k, int n_threads) {
            std::vector<std::int64_t> l(labels.data(), labels.data() + labels.shape(0));
            return run_long(false, [&] { return nembed::knn_accuracy(view(Y), l, k, n_threads); });
        },
        "Y"_a, "labels"_a, "k"_a = 10, "n_threads"_a = 1);
    m.def(
        "evaluate_against_reference",
        [](F32Mat X_ref, F64Mat Y_ref, F32Mat X, F64Mat Y, std::size_t k, std::optional<I64Vec> ref_labels,
           std::optional<I64Vec> labels, int n_threads) {
            std::vector<std::int64_t> lr, l;
            if (ref_labels) lr.assign(ref_labels->data(), ref_labels->data() + ref_labels->shape(0));
            if (labels) l.assign(labels->data(), labels->data() + labels->shape(0));
            const auto r = run_long(false, [&] {
                return nembed::evaluate_against_reference(view(X_ref), view(Y_ref), view(X), view(Y), k,
                                                          ref_labels ? &lr : nullptr, labels ? &l : nullptr,
                                                          n_threads);
            });
            return nb::make_tuple(r.knn_recall, r.knn_accuracy);
        },
        "X_ref"_a, "Y_ref"_a, "X"_a, "Y"_a, "k"_a = 10, "ref_labels"_a.none(), "labels"_a.none(),
        "n_threads"_a = 1);

    bind_tsne(m);
    bind_umap(m);
    bind_sensitivity(m);
    bind_torchdr_affinity(m);
    bind_eval(m);
    bind_torchdr_ne(m);
    bind_knn(m);
    bind_paradime(m);
    { void bind_affinity_matcher(nb::module_&); bind_affinity_matcher(m); }  // TorchDR's AffinityMatcher
    { void bind_umap_extra(nb::module_&); bind_umap_extra(m); }  // UMAP: densMAP, inverse_transform, update
}
