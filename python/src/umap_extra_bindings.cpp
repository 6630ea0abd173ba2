// nembed._core, UMAP's densMAP, inverse_transform and update (loss/densmap.hpp, methods/umap_inverse.hpp) on a
// UmapState (nembed::UmapEmbedding). nembed/_umap_extra.py calls these for nembed.UMAP.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <optional>
#include <string>
#include <vector>

#include "common.hpp"
#include "umap_options.hpp"
#include "nembed/loss/densmap.hpp"
#include "nembed/methods/umap.hpp"
#include "nembed/methods/umap_inverse.hpp"

namespace nb = nanobind;
using namespace nb::literals;
using namespace nembed_py;

namespace {

NpArray<double> vec_to_numpy(std::vector<double> v) {
    const std::size_t n = v.size();
    return to_numpy(std::move(v), {n});
}

} // namespace

void bind_umap_extra(nb::module_& m) {
    m.def(
        "umap_set_calibration",
        [](nembed::UmapEmbedding& e, F64Vec sigma, F64Vec rho) {
            const std::size_t n = e.embedding().rows();
            nembed::require(sigma.shape(0) == n && rho.shape(0) == n,
                            "umap_set_calibration: sigma and rho need one value per point");
            e.calibration.sigma.assign(sigma.data(), sigma.data() + n);
            e.calibration.rho.assign(rho.data(), rho.data() + n);
        },
        "state"_a, "sigma"_a, "rho"_a,
        "Stores the fit's smooth_knn_dist calibration (inverse_transform needs it) on a state made from a graph.");
    m.def(
        "umap_data_radii",
        [](const nembed::UmapEmbedding& e, F32Mat X, const std::string& metric, int n_threads) {
            return vec_to_numpy(run_long(false, [&] {
                return nembed::densmap_data_radii(e.graph(), view(X), nembed::parse_metric(metric), n_threads);
            }));
        },
        "state"_a, "X"_a, "metric"_a, "n_threads"_a = 1,
        "umap-learn's rad_orig: log(1e-8 + sum mu d^2 / sum mu) over the state's (pruned) graph.");
    m.def(
        "umap_enable_densmap",
        [](nembed::UmapEmbedding& e, F64Vec radii, double lambda, double frac, double var_shift) {
            nembed::DensmapOptions o;
            o.lambda = lambda;
            o.frac = frac;
            o.var_shift = var_shift;
            e.enable_densmap(o, std::vector<double>(radii.data(), radii.data() + radii.shape(0)));
        },
        "state"_a, "radii"_a, "dens_lambda"_a, "dens_frac"_a, "dens_var_shift"_a,
        "Adds densMAP's term to the state's layout (before optimize).");
    m.def(
        "umap_embedding_radii",
        [](F64Mat Y, std::size_t n_neighbors, int n_threads) {
            return vec_to_numpy(
                run_long(false, [&] { return nembed::densmap_embedding_radii(view(Y), n_neighbors, n_threads); }));
        },
        "Y"_a, "n_neighbors"_a, "n_threads"_a = 1, "umap-learn's rad_emb of an embedding.");
    m.def(
        "umap_inverse_transform",
        [](const nembed::UmapEmbedding& e, F32Mat reference, const std::string& metric, double p, nb::object grad,
           F64Mat Y, int n_threads, bool handle_sigint) {
            nembed::OutputMetric om;
            if (grad.is_none()) {
                om = nembed::parse_output_metric(metric, p);
            } else {
                // a Python metric(x, y) -> (distance, gradient): called with the GIL, from one thread. The function
                // is copied without the GIL, so it holds a borrowed handle (`grad` outlives the call).
                om.kind = nembed::OutputMetricKind::custom;
                const nb::handle fn = grad;
                om.custom = [fn](const double* x, const double* y, std::size_t d, double* g) {
                    nb::gil_scoped_acquire gil;
                    auto arr = [d](const double* v) {
                        nb::object a = nb::module_::import_("numpy").attr("array")(
                            nb::cast(std::vector<double>(v, v + d)), "float64");
                        return a;
                    };
                    nb::object out = fn(arr(x), arr(y));
                    nb::tuple t = nb::cast<nb::tuple>(nb::module_::import_("builtins").attr("tuple")(out));
                    nembed::require(t.size() == 2, "inverse_transform: the metric must return (distance, gradient)");
                    nb::object gv = nb::module_::import_("numpy").attr("asarray")(t[1], "float64").attr("ravel")();
                    const auto gl = nb::cast<std::vector<double>>(gv.attr("tolist")());
                    nembed::require(gl.size() == d, "inverse_transform: the metric's gradient has " +
                                                        std::to_string(gl.size()) + " values, the data " +
                                                        std::to_string(d) + " columns");
                    std::copy(gl.begin(), gl.end(), g);
                    return nb::cast<double>(t[0]);
                };
                n_threads = 1;
            }
            return to_numpy(run_long(handle_sigint, [&] {
                return nembed::umap_inverse_transform(e, view(reference), om, view(Y), n_threads);
            }));
        },
        "state"_a, "reference"_a, "metric"_a, "p"_a, "gradient"_a.none(), "Y"_a, "n_threads"_a, "handle_sigint"_a,
        "umap-learn's inverse_transform in data space: metric one of umap-learn's named metrics with gradients "
        "(minkowski's p), or gradient a Python metric(x, y) -> (distance, gradient).");
    m.def(
        "umap_update",
        [](const nembed::UmapEmbedding& e, I32Mat indices, nb::ndarray<const float, nb::ndim<2>, nb::c_contig> distances,
           F32Mat X, nb::dict p, bool handle_sigint) {
            const nembed::KnnGraph g = to_graph(indices, distances, indices.shape(0));
            const nembed::UmapOptions o = umap_options(p);
            return run_long(handle_sigint, [&] { return nembed::umap_update(e, g, view(X), o); });
        },
        "state"_a, "indices"_a, "distances"_a, "X"_a, "params"_a, "handle_sigint"_a,
        "umap-learn's update: the state over all the points X (old first) from their self kNN graph (indices, "
        "distances; n_neighbors - 1 each), the old layout kept and the new points started at their old neighbours.");
    m.def(
        "umap_state_radii",
        [](const nembed::UmapEmbedding& e) { return nb::make_tuple(vec_to_numpy(e.rad_orig), vec_to_numpy(e.rad_emb)); },
        "state"_a, "(rad_orig, rad_emb) a state holds (empty unless output_dens).");
}
