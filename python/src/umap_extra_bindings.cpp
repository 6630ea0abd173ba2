// nembed._core, UMAP's densMAP, inverse_transform and update (loss/densmap.hpp, methods/umap_inverse.hpp) on a
// UmapState (nembed::UmapEmbedding). nembed/_umap_extra.py calls these for nembed.UMAP.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <optional>
#include <string>
#include <vector>

#include "common.hpp"
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
        [](const nembed::UmapEmbedding& e, F32Mat reference, const std::string& metric, F64Mat Y, int n_threads,
           bool handle_sigint) {
            return to_numpy(run_long(handle_sigint, [&] {
                return nembed::umap_inverse_transform(e, view(reference), nembed::parse_metric(metric), view(Y),
                                                      n_threads);
            }));
        },
        "state"_a, "reference"_a, "metric"_a, "Y"_a, "n_threads"_a, "handle_sigint"_a,
        "umap-learn's inverse_transform (data space, Euclidean input metric).");
    m.def(
        "umap_update",
        [](const nembed::UmapEmbedding& e, F32Mat X_old, F32Mat X_new, nb::dict p, bool handle_sigint) {
            auto get = [&](const char* key) { return nb::borrow(p[key]); };
            auto opt_double = [&](const char* key) -> std::optional<double> {
                nb::object v = get(key);
                if (v.is_none()) return std::nullopt;
                return nb::cast<double>(v);
            };
            nembed::UmapOptions o;
            o.n_neighbors = nb::cast<std::size_t>(get("n_neighbors"));
            o.n_components = nb::cast<std::size_t>(get("n_components"));
            o.metric = nembed::parse_metric(nb::cast<std::string>(get("metric")));
            if (!get("n_epochs").is_none()) o.n_epochs = nb::cast<int>(get("n_epochs"));
            o.learning_rate = nb::cast<double>(get("learning_rate"));
            o.min_dist = nb::cast<double>(get("min_dist"));
            o.spread = nb::cast<double>(get("spread"));
            o.a = opt_double("a");
            o.b = opt_double("b");
            o.set_op_mix_ratio = nb::cast<double>(get("set_op_mix_ratio"));
            o.local_connectivity = nb::cast<double>(get("local_connectivity"));
            o.repulsion_strength = nb::cast<double>(get("repulsion_strength"));
            o.negative_sample_rate = nb::cast<double>(get("negative_sample_rate"));
            o.random_state = nb::cast<std::uint64_t>(get("seed"));
            o.transform_seed = nb::cast<std::uint64_t>(get("transform_seed"));
            o.n_jobs = nb::cast<int>(get("n_threads"));
            o.neighbors = nembed::parse_knn_method(nb::cast<std::string>(get("neighbors")));
            o.verbose = nb::cast<bool>(get("verbose"));
            o.densmap = nb::cast<bool>(get("densmap"));
            o.dens.lambda = nb::cast<double>(get("dens_lambda"));
            o.dens.frac = nb::cast<double>(get("dens_frac"));
            o.dens.var_shift = nb::cast<double>(get("dens_var_shift"));
            o.output_dens = nb::cast<bool>(get("output_dens"));
            return run_long(handle_sigint, [&] { return nembed::umap_update(e, view(X_old), view(X_new), o); });
        },
        "state"_a, "X_old"_a, "X_new"_a, "params"_a, "handle_sigint"_a,
        "umap-learn's update: the state over [X_old; X_new] (graph rebuilt, layout continued).");
    m.def(
        "umap_state_radii",
        [](const nembed::UmapEmbedding& e) { return nb::make_tuple(vec_to_numpy(e.rad_orig), vec_to_numpy(e.rad_emb)); },
        "state"_a, "(rad_orig, rad_emb) a state holds (empty unless output_dens).");
}
