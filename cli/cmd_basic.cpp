// Small subcommands: pca, knn, plot.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "common.hpp"
#include "options.hpp"
#include "outputs.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/timer.hpp"
#include "nembed/init/pca.hpp"
#include "nembed/io/file.hpp"
#include "nembed/io/load.hpp"
#include "nembed/neighbors/knn.hpp"

namespace nembed::cli {

void register_pca(CLI::App& app) {
    auto o = std::make_shared<CommonOptions>();
    auto n_components = std::make_shared<std::size_t>(50);
    auto* sub = app.add_subcommand("pca", "Principal component scores of the input (centred, float32)");
    add_common_options(sub, *o, true, false);
    sub->add_option("-n,--n-components", *n_components, "Number of components")->capture_default_str();
    sub->callback([o, n_components] {
        configure_logging(*o);
        OutputSet out;
        out.add("-o", o->output, OutputKind::matrix);
        auto X = load_inputs(*o);
        require(*n_components >= 1 && *n_components <= X.cols(),
                "--n-components must be between 1 and the input dimension " + std::to_string(X.cols()));
        Timer t;
        auto res = pca(X.view(), *n_components, o->n_threads());
        say(*o, "PCA in " + std::to_string(t.seconds()) + " s");
        save_matrix(out.staged(o->output), convert<double>(res.scores.view()).view());
        out.commit();
    });
}

void register_knn(CLI::App& app) {
    auto o = std::make_shared<CommonOptions>();
    auto k = std::make_shared<std::size_t>(15);
    auto method = std::make_shared<std::string>("auto");
    auto metric = std::make_shared<std::string>("euclidean");
    auto metric_params = std::make_shared<MetricParams>();
    auto shards = std::make_shared<std::size_t>(0);
    auto* sub = app.add_subcommand(
        "knn", "k nearest neighbours of every point (self excluded); writes OUTPUT_indices.npy and OUTPUT_distances.npy");
    add_common_options(sub, *o, true);
    sub->get_option("-o")->description("Output prefix: writes PREFIX_indices.npy and PREFIX_distances.npy");
    sub->add_option("-k", *k, "Neighbours per point")->capture_default_str();
    sub->add_option("--method", *method, "auto, exact or hnsw")->capture_default_str();
    sub->add_option("--metric", *metric,
                    "euclidean, cosine, ip (inner product: largest first), manhattan, chebyshev, minkowski, "
                    "seuclidean, mahalanobis, correlation, jaccard, ... (docs/dropin.md)")
        ->capture_default_str();
    add_metric_params(sub, *metric_params);
    add_knn_shards(sub, *shards);
    sub->callback([o, k, method, metric, metric_params, shards] {
        configure_logging(*o);
        // Both files are checked first and replaced together.
        std::string stem = o->output;
        if (file_extension(stem) == ".npy") stem.resize(stem.size() - 4);
        const std::string indices = stem + "_indices.npy", distances = stem + "_distances.npy";
        OutputSet out;
        out.add("-o (indices)", indices, OutputKind::npy);
        out.add("-o (distances)", distances, OutputKind::npy);
        auto X = load_inputs(*o);
        KnnOptions opt;
        opt.method = parse_knn_method(*method);
        opt.metric = parse_metric(*metric);
        opt.metric_params = *metric_params;
        opt.hnsw_shards = *shards;
        opt.n_threads = o->n_threads();
        opt.seed = o->seed;
        Timer t;
        auto g = find_neighbors(X.view(), *k, opt);
        say(*o, "kNN (" + *method + ", k = " + std::to_string(*k) + ") in " + std::to_string(t.seconds()) + " s");
        Matrix<double> idx(g.n_points, g.k), dist(g.n_points, g.k);
        for (std::size_t i = 0; i < g.indices.size(); ++i) {
            idx.data()[i] = g.indices[i];
            dist.data()[i] = g.distances[i];
        }
        save_matrix(out.staged(indices), idx.view());
        save_matrix(out.staged(distances), dist.view());
        out.commit();
    });
}

void register_plot(CLI::App& app) {
    auto o = std::make_shared<CommonOptions>();
    auto size = std::make_shared<int>(1000);
    auto* sub = app.add_subcommand("plot", "Scatter plot of a 2-D embedding (PNG, SVG or PDF), coloured by labels or values");
    add_common_options(sub, *o, true, false);
    sub->get_option("-o")->description("Output plot: .png, .svg or .pdf");
    add_plot_style(sub, o->plot, "--title");
    sub->add_option("--size", *size, "Plot size in pixels")->capture_default_str();
    sub->callback([o, size] {
        configure_logging(*o);
        OutputSet out;
        out.add("-o", o->output, OutputKind::plot);
        auto Y = convert<double>(load_inputs(*o).view());
        auto labels = load_label_files(*o, Y.rows());
        write_plot(out.staged(o->output), Y.view(), labels, *o, "", *size);
        out.commit();
    });
}

} // namespace nembed::cli
