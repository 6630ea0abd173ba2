// nembed pacmap: TorchDR's PACMAP (methods/pacmap.hpp, on the NeighborEmbedding driver), options under TorchDR's names. Same I/O, progress, plot and
// metrics as nembed umap.
#include <cmath>
#include <cstdio>
#include <memory>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "common.hpp"
#include "options.hpp"
#include "outputs.hpp"
#include "quality.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/log.hpp"
#include "nembed/core/timer.hpp"
#include "nembed/io/load.hpp"
#include "nembed/methods/pacmap.hpp"
#include "nembed/plot/scatter.hpp"

namespace nembed::cli {
namespace {

struct PacmapCli {
    CommonOptions common;
    torchdr::PACMAPOptions opt;
    std::string init = "pca";
    int every = 50;
    std::string plot, metrics_json, timings_json;
    bool save_partial = false;
};

void run_pacmap(PacmapCli& c) {
    const CommonOptions& o = c.common;
    torchdr::PACMAPOptions& opt = c.opt;
    configure_logging(o);
    OutputSet out;
    out.add("-o", o.output, OutputKind::matrix);
    out.add("--plot", c.plot, OutputKind::png);
    out.add("--metrics", c.metrics_json, OutputKind::json);
    out.add("--timings", c.timings_json, OutputKind::json);
    require(c.plot.empty() || opt.n_components <= 2, "--plot needs a 1-D or 2-D embedding (--n-components <= 2)");
    require(c.every >= 1, "--progress-every must be >= 1");
    Timer total;
    Matrix<float> X = load_inputs(o);
    const auto labels = load_label_files(o, X.rows());
    // --init: pca, normal/random, or an array file.
    try {
        opt.init = parse_ne_init(c.init);
    } catch (const InvalidArgument&) {
        opt.init = NeInit::array;
        opt.init_array = load_matrix<double>(c.init);
    }
    if (opt.init == NeInit::pca && X.cols() < opt.n_components) {
        warn("--init pca needs at least " + std::to_string(opt.n_components) + " input columns, the input has " +
             std::to_string(X.cols()) + "; using --init random");
        opt.init = NeInit::random;
    }
    opt.n_threads = o.n_threads();
    opt.random_state = o.seed;
    opt.verbose = o.verbose;
    validate(opt, X.rows());

    std::unique_ptr<ProgressBar> bar;
    std::vector<double> per_block;
    double last = 0;
    const int max_iter = opt.max_iter;
    // A bar on a terminal, a line with the loss every --progress-every iterations (the callback's).
    auto progress = [&](const TrainEvent& ev) {
        if (o.quiet) return;
        if (!bar) bar = std::make_unique<ProgressBar>(o.progress(), "pacmap", static_cast<std::size_t>(max_iter));
        bar->update(static_cast<std::size_t>(ev.step));
    };
    PartialResult partial(c.save_partial);
    auto callback = [&](const TrainEvent& ev) {
        per_block.push_back(ev.elapsed - last);
        last = ev.elapsed;
        if (c.save_partial) partial.keep(ev.embedding, "after " + std::to_string(ev.step) + " iterations");
        if (!o.quiet) {
            if (bar) bar->finish();
            bar.reset();
            std::fprintf(stderr, "  pacmap   iteration %4lld/%d  %s  loss %.4f  (%.2f s)\n",
                         static_cast<long long>(ev.step), max_iter, ev.phase.c_str(), ev.loss, ev.elapsed);
        }
        return false;
    };

    say(o, "PACMAP of " + std::to_string(X.rows()) + " x " + std::to_string(X.cols()) + ", " +
               std::to_string(opt.n_threads) + " thread(s)");
    TrainHooks hooks;
    hooks.callback = callback;
    hooks.callback_every = c.every;
    hooks.progress = progress;
    NeResult emb;
    try {
        emb = torchdr::PACMAP(opt).fit_transform(X.view(), hooks);
    } catch (const Interrupted&) {
        partial.write_or_rethrow(o.output);
    }
    if (bar) bar->finish();
    const NeTimings& t = emb.timings;
    const bool converged = emb.stop == NeStop::converged;
    char line[160];
    std::snprintf(line, sizeof line, "%d iterations%s; timings: kNN %.2f s, init %.2f s, optimize %.2f s; total %.2f s",
                  emb.n_iter, converged ? " (converged: gradient norm below min_grad_norm)" : "",
                  t.affinity, t.init, t.optimize, total.seconds());
    say(o, line);
    if (!c.timings_json.empty()) {
        const nlohmann::json j = {{"seconds", total.seconds()}, {"knn", t.affinity}, {"init", t.init},
                                  {"optimize", t.optimize}, {"iterations", emb.n_iter},
                                  {"converged", converged}, {"per_block", per_block},
                                  {"block_iterations", c.every}};
        write_text(out.staged(c.timings_json), j.dump() + "\n");
    }
    save_matrix(out.staged(o.output), emb.embedding.view());
    if (!c.plot.empty()) {
        ScatterOptions sopt;
        sopt.title = "PACMAP (nembed)";
        write_scatter_png(out.staged(c.plot), emb.embedding.view(), labels, sopt);
    }
    if (!labels.empty() || !c.metrics_json.empty()) {
        QualityInputs q{X.view(), emb.embedding.view(), labels.empty() ? nullptr : &labels, nullptr};
        report_quality(o, q, c.metrics_json.empty() ? "" : out.staged(c.metrics_json));
    }
    out.commit();
}

} // namespace

void register_pacmap(CLI::App& app) {
    auto c = std::make_shared<PacmapCli>();
    torchdr::PACMAPOptions& opt = c->opt;
    auto* sub = app.add_subcommand("pacmap", "PACMAP with TorchDR's model and defaults");
    add_common_options(sub, c->common, true);
    sub->add_option("--n-neighbors", opt.n_neighbors, "Neighbour pairs per point")->capture_default_str();
    sub->add_option("--n-components", opt.n_components, "Embedding dimension")->capture_default_str();
    add_optional(sub, "--lr", opt.lr, "Learning rate (auto: max(N/4, 50))", "auto");
    sub->add_option("--optimizer", opt.optimizer, "Adam or SGD")->capture_default_str();
    sub->add_option("--init", c->init, "pca, normal (random) or an array file")->capture_default_str();
    sub->add_option("--init-scaling", opt.init_scaling, "Standard deviation of the start's first column")
        ->capture_default_str();
    sub->add_option("--min-grad-norm", opt.min_grad_norm, "Stop when the gradient norm falls below this")
        ->capture_default_str();
    sub->add_option("--max-iter", opt.max_iter, "Iterations")->capture_default_str();
    add_enum(sub, "--metric", opt.metric, parse_pacmap_metric, "sqeuclidean or euclidean");
    sub->add_option("--mn-ratio,--MN-ratio", opt.MN_ratio, "Mid-near pairs per neighbour pair")->capture_default_str();
    sub->add_option("--fp-ratio,--FP-ratio", opt.FP_ratio, "Further pairs per neighbour pair")->capture_default_str();
    sub->add_option("--check-interval", opt.check_interval, "Iterations between min_grad_norm tests")
        ->capture_default_str();
    sub->add_option("--iter-per-phase", opt.iter_per_phase, "Iterations of each weight phase")->capture_default_str();
    sub->add_option("--exclude-neighbors-from-negative-sampling", opt.exclude_neighbors_from_negative_sampling,
                    "Never draw a neighbour as a further pair (true/false)")
        ->capture_default_str();
    add_knn_method(sub, opt.knn_method);
    sub->add_option("--progress-every", c->every, "Print a line (with the loss) every N iterations")
        ->capture_default_str();
    add_method_outputs(sub, c->plot, c->metrics_json, c->timings_json);
    sub->add_flag("--save-partial", c->save_partial,
                  "On Ctrl-C / SIGTERM write the embedding of the last --progress-every checkpoint to -o");
    sub->callback([c] { run_pacmap(*c); });
}

} // namespace nembed::cli
