#pragma once
// nembed::UmapOptions from the parameter dict nembed.UMAP builds (UMAP._layout_params): the one translation of the
// Python UMAP's parameters, used by UmapState.prepare / prepare_graph and umap_update.
#include <string>

#include "common.hpp"
#include "nembed/methods/umap.hpp"

namespace nembed_py {

/// Required keys: n_neighbors, n_components, n_epochs (None: umap-learn's rule), learning_rate, min_dist, spread,
/// a, b (None: fitted), local_connectivity, repulsion_strength, negative_sample_rate, seed, transform_seed,
/// n_threads, verbose. Optional (defaults of UmapOptions when absent): knn_metric (the input metric), set_op_mix_ratio, neighbors, densmap,
/// dens_lambda, dens_frac, dens_var_shift, output_dens, output_metric, output_metric_p. init: a UmapInit name or
/// "user" (then init_array, N x n_components).
nembed::UmapOptions umap_options(const nanobind::dict& params, const std::string& init = "random",
                                 F64Mat init_array = {});

} // namespace nembed_py
