// nembed tsne: openTSNE's TSNE from the command line; nembed transform: new points into a saved reference.
#include <cmath>
#include <cstdio>
#include <memory>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "common.hpp"
#include "outputs.hpp"
#include "quality.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/log.hpp"
#include "nembed/core/timer.hpp"
#include "nembed/io/load.hpp"
#include "nembed/io/model.hpp"
#include "nembed/methods/tsne.hpp"
#include "nembed/neighbors/knn.hpp"
#include "nembed/plot/scatter.hpp"

namespace nembed::cli {
namespace {

struct TsneCli {
    CommonOptions common;
    std::vector<double> perplexities{30.0};
    std::size_t n_components = 2;
    int n_iter = 500;
    int early_exaggeration_iter = 250;
    std::string early_exaggeration = "auto";
    std::string exaggeration = "none";
    std::string learning_rate = "auto";
    double dof = 1.0;
    RepulsionOptions repulsion;
    bool force_exact = false;
    std::string init = "pca";
    std::string neighbors = "auto";
    std::string metric = "euclidean";
    double initial_momentum = 0.8;
    double final_momentum = 0.8;
    std::string max_grad_norm = "none";
    std::string max_step_norm = "5";
    std::string plot;
    std::string metrics_json;
    std::string timings_json;
    std::string save_model;
    bool save_partial = false;
};

// "auto"/"none" -> nullopt, else a number (with a clear error naming the option).
std::optional<double> optional_number(const std::string& value, const std::string& option) {
    if (value == "auto" || value == "none" || value.empty()) return std::nullopt;
    try {
        std::size_t used = 0;
        double v = std::stod(value, &used);
        if (used != value.size()) throw std::invalid_argument(value);
        return v;
    } catch (const std::exception&) {
        throw InvalidArgument(option + ": expected a number or auto/none, got '" + value + "'");
    }
}

std::string seconds(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f s", s);
    return buf;
}

// Prints the KL every 50 iterations as a line, and a progress bar in between on a terminal; without a terminal, a
// line at least every 30 s when iterations are slow (the exact gradient on many points).
struct ProgressPrinter {
    const CommonOptions& o;
    std::unique_ptr<ProgressBar> bar;
    std::string phase;
    std::vector<double> per50;  // seconds per callbacks_every_iters iterations, across both phases
    double last_elapsed = 0;
    std::string last_phase;
    int iteration = 0;          // updates done in the current phase (for --save-partial)
    std::string current_phase;  // also with --quiet
    double last_line = 0;       // elapsed (in `phase`) at the last line printed
    void operator()(const TrainEvent& e) {
        iteration = e.phase_step;
        current_phase = e.phase;
        const bool line = !std::isnan(e.loss);
        if (line) {  // elapsed is counted from the start of each phase
            per50.push_back(e.phase == last_phase ? e.elapsed - last_elapsed : e.elapsed);
            last_elapsed = e.elapsed;
            last_phase = e.phase;
        }
        if (o.quiet) return;
        if (e.phase != phase) {
            phase = e.phase;
            last_line = 0;
            bar = std::make_unique<ProgressBar>(o.progress(), phase, static_cast<std::size_t>(e.phase_steps));
        }
        if (!line && !o.progress() && e.elapsed - last_line >= 30.0) {
            last_line = e.elapsed;
            std::fprintf(stderr, "  %-19s iteration %4d/%d  (%s)\n", e.phase.c_str(), e.phase_step, e.phase_steps,
                         seconds(e.elapsed).c_str());
        }
        if (line) {
            if (bar) bar->finish();
            last_line = e.elapsed;
            std::fprintf(stderr, "  %-19s iteration %4d/%d  KL %.4f  (%s)\n", e.phase.c_str(), e.phase_step,
                         e.phase_steps, e.loss, seconds(e.elapsed).c_str());
            bar = std::make_unique<ProgressBar>(o.progress(), phase, static_cast<std::size_t>(e.phase_steps));
        }
        if (bar) bar->update(static_cast<std::size_t>(e.phase_step));
        if (e.phase_step == e.phase_steps && bar) bar->finish();
    }
};

// The one mapping of RepulsionOptions to CLI options (io/model.cpp maps it to model.json).
void add_repulsion_options(CLI::App* sub, RepulsionOptions& r) {
    sub->add_option("--theta", r.theta, "Barnes-Hut accuracy")->capture_default_str();
    sub->add_option_function<std::string>(
           "--method,--negative-gradient-method",
           [&r](const std::string& name) { r.method = parse_gradient_method(name); }, "auto, exact, bh or fft")
        ->type_name("TEXT")
        ->default_str(to_string(r.method));
    sub->add_option("--n-interpolation-points", r.fft.n_interpolation_points, "FFT nodes per box")
        ->capture_default_str();
    sub->add_option("--min-num-intervals", r.fft.min_num_intervals, "FFT minimum boxes")->capture_default_str();
    sub->add_option("--ints-in-interval", r.fft.ints_in_interval, "FFT box width")->capture_default_str();
}

void run_tsne(TsneCli& c) {
    const CommonOptions& o = c.common;
    configure_logging(o);
    OutputSet out;
    out.add("-o", o.output, OutputKind::matrix);
    out.add("--plot", c.plot, OutputKind::png);
    out.add("--metrics", c.metrics_json, OutputKind::json);
    out.add("--timings", c.timings_json, OutputKind::json);
    out.add("--save-model", c.save_model, OutputKind::directory);
    require(c.plot.empty() || c.n_components <= 2, "--plot needs a 1-D or 2-D embedding (--n-components <= 2)");
    Timer total;
    Preprocessing preprocessing;
    Matrix<float> X = load_inputs(o, &preprocessing);
    auto labels = load_label_files(o, X.rows());

    TsneOptions opt;
    opt.n_components = c.n_components;
    opt.perplexities = c.perplexities;
    opt.n_iter = c.n_iter;
    opt.early_exaggeration_iter = c.early_exaggeration_iter;
    opt.early_exaggeration = optional_number(c.early_exaggeration, "--early-exaggeration");
    opt.exaggeration = optional_number(c.exaggeration, "--exaggeration");
    opt.learning_rate = optional_number(c.learning_rate, "--learning-rate");
    opt.dof = c.dof;
    opt.repulsion = c.repulsion;
    opt.force_exact = c.force_exact;
    if (c.init == "pca" && X.cols() < c.n_components) {
        // 1-D data: PCA cannot give more components than input columns.
        warn("--init pca needs at least " + std::to_string(c.n_components) + " input columns, the input has " +
             std::to_string(X.cols()) + "; using --init random");
        opt.initialization = TsneInit::random;
    } else if (c.init == "pca" || c.init == "spectral" || c.init == "random") {
        opt.initialization = parse_tsne_init(c.init);
    } else {
        opt.initialization = TsneInit::user;
        opt.initial_embedding = load_matrix<double>(c.init);
    }
    opt.neighbors = parse_knn_method(c.neighbors);
    require_affinity_metric(c.metric);
    opt.metric = parse_metric(c.metric);
    opt.initial_momentum = c.initial_momentum;
    opt.final_momentum = c.final_momentum;
    opt.max_grad_norm = optional_number(c.max_grad_norm, "--max-grad-norm");
    opt.max_step_norm = optional_number(c.max_step_norm, "--max-step-norm");
    opt.n_jobs = o.n_threads();
    opt.random_state = o.seed;
    // A callback that never stops makes the optimizer evaluate the KL every 50 iterations for the log.
    opt.callback = [](const TrainEvent&) { return false; };
    opt.callbacks_every_iters = 50;
    ProgressPrinter printer{o, nullptr, "", {}, 0.0, "", 0, "", 0.0};
    opt.progress = [&printer](const TrainEvent& e) { printer(e); };
    validate(opt, X.rows());

    say(o, "t-SNE of " + std::to_string(X.rows()) + " x " + std::to_string(X.cols()) + ", " +
               std::to_string(opt.n_jobs) + " thread(s)");
    TSNE tsne(opt);
    TsneEmbedding emb = tsne.prepare_initial(X.view());
    PartialResult partial(c.save_partial);
    try {
        tsne.run(emb);  // the two phases of fit, on an embedding that holds every update made before a signal
    } catch (const Interrupted&) {
        partial.keep(emb.embedding().view(),
                     printer.current_phase.empty()
                         ? "the initial embedding"
                         : "iteration " + std::to_string(printer.iteration) + " of " + printer.current_phase);
        partial.write_or_rethrow(o.output);
    }
    const auto& t = emb.timings();
    say(o, "timings: kNN " + seconds(t.knn) + ", affinities " + seconds(t.affinities) + ", init " + seconds(t.init) +
               ", early exaggeration " + seconds(t.early_exaggeration) + ", main " + seconds(t.main) + "; total " +
               seconds(total.seconds()));
    char kl[64];
    std::snprintf(kl, sizeof kl, "%.4f", emb.kl_divergence());
    say(o, std::string("KL divergence ") + kl);

    save_matrix(out.staged(o.output), emb.embedding().view());
    if (!c.plot.empty()) {
        ScatterOptions sopt;
        sopt.title = "t-SNE (nembed)";
        write_scatter_png(out.staged(c.plot), emb.embedding().view(), labels, sopt);
    }
    if (!c.save_model.empty()) save_model(out.staged(c.save_model), emb, preprocessing);
    if (!c.timings_json.empty()) {
        nlohmann::json j = {{"seconds", total.seconds()},  {"knn", t.knn},   {"affinities", t.affinities},
                            {"init", t.init}, {"early_exaggeration", t.early_exaggeration}, {"main", t.main},
                            {"kl", emb.kl_divergence()}, {"per50", printer.per50}};
        write_text(out.staged(c.timings_json), j.dump() + "\n");
    }
    if (!labels.empty() || !c.metrics_json.empty()) {
        QualityInputs q{X.view(), emb.embedding().view(), labels.empty() ? nullptr : &labels, &emb.affinities()};
        report_quality(o, q, c.metrics_json.empty() ? "" : out.staged(c.metrics_json));
    }
    out.commit();
}

} // namespace

void register_tsne(CLI::App& app) {
    auto c = std::make_shared<TsneCli>();
    auto* sub = app.add_subcommand("tsne", "t-SNE with openTSNE's model and defaults");
    add_common_options(sub, c->common, true);
    sub->add_option("--perplexity", c->perplexities, "Perplexity; several values give a multiscale mixture")
        ->capture_default_str();
    sub->add_option("--n-components", c->n_components, "Embedding dimension")->capture_default_str();
    sub->add_option("--n-iter", c->n_iter, "Iterations after early exaggeration")->capture_default_str();
    sub->add_option("--early-exaggeration-iter", c->early_exaggeration_iter, "Early exaggeration iterations")
        ->capture_default_str();
    sub->add_option("--early-exaggeration", c->early_exaggeration, "auto (12) or a number")->capture_default_str();
    sub->add_option("--exaggeration", c->exaggeration, "Late exaggeration (none = 1)")->capture_default_str();
    sub->add_option("--learning-rate", c->learning_rate, "auto (N / exaggeration) or a number")->capture_default_str();
    sub->add_option("--dof", c->dof, "Degrees of freedom of the output kernel (1 = Cauchy)")->capture_default_str();
    add_repulsion_options(sub, c->repulsion);
    sub->add_flag("--force-exact", c->force_exact, "Allow --method exact above 50000 points (O(N^2) per iteration)");
    sub->add_option("--init", c->init, "pca, spectral, random or an array file")->capture_default_str();
    sub->add_option("--neighbors", c->neighbors, "kNN method: auto, exact or hnsw")->capture_default_str();
    sub->add_option("--metric", c->metric, "Input metric: euclidean or cosine")->capture_default_str();
    sub->add_option("--initial-momentum", c->initial_momentum, "Momentum during early exaggeration")->capture_default_str();
    sub->add_option("--final-momentum", c->final_momentum, "Momentum afterwards")->capture_default_str();
    sub->add_option("--max-grad-norm", c->max_grad_norm, "Per-point gradient clip (none)")->capture_default_str();
    sub->add_option("--max-step-norm", c->max_step_norm, "Per-point step clip")->capture_default_str();
    add_method_outputs(sub, c->plot, c->metrics_json, c->timings_json);
    sub->add_option("--save-model", c->save_model, "Save what `nembed transform` needs into this directory");
    sub->add_flag("--save-partial", c->save_partial,
                  "On Ctrl-C / SIGTERM write the embedding reached so far to -o, as openTSNE returns it on "
                  "KeyboardInterrupt");
    sub->callback([c] { run_tsne(*c); });
}

void register_transform(CLI::App& app) {
    auto o = std::make_shared<CommonOptions>();
    auto model = std::make_shared<std::string>();
    auto n_iter = std::make_shared<int>(250);
    auto perplexity = std::make_shared<double>(5);
    auto plot = std::make_shared<std::string>();
    auto* sub = app.add_subcommand(
        "transform", "Embed new points into a reference saved by `nembed tsne --save-model` or `nembed umap "
                     "--save-model` (cne models cannot transform: cne's embedding is non-parametric)");
    add_common_options(sub, *o, true, false);
    sub->add_option("-m,--model", *model, "Model directory written by nembed tsne/umap --save-model")->required();
    auto* n_iter_opt = sub->add_option("--n-iter", *n_iter, "t-SNE models: optimisation iterations for the new points")
                           ->capture_default_str();
    auto* perplexity_opt =
        sub->add_option("--perplexity", *perplexity, "t-SNE models: perplexity of the new points' affinities")
            ->capture_default_str();
    sub->add_option("--plot", *plot, "PNG of the reference (grey) with the new points (coloured by --labels)");
    sub->callback([o, model, n_iter, perplexity, plot, n_iter_opt, perplexity_opt] {
        configure_logging(*o);
        OutputSet out;
        out.add("-o", o->output, OutputKind::matrix);
        out.add("--plot", *plot, OutputKind::png);
        const Model m = load_model(*model, o->n_threads(), o->seed);
        require(m.can_transform(), *model + " is a cne model: cne's embedding is non-parametric (no map from the "
                                            "data), so it cannot transform new points; fit cne on all points instead");
        if (m.method() != ModelMethod::tsne) {
            for (const CLI::Option* opt : {n_iter_opt, perplexity_opt})
                require(opt->count() == 0, opt->get_name() + " applies to t-SNE models; " + *model + " is a " +
                                               to_string(m.method()) + " model (umap-learn's transform has its own "
                                               "epochs and memberships)");
        }
        Matrix<float> Xnew = m.preprocessing().apply(load_raw(o->inputs).view());
        auto labels = load_label_files(*o, Xnew.rows());
        const Matrix<float>& ref = *m.reference_data();
        require(Xnew.cols() == ref.cols(), "new data has " + std::to_string(Xnew.cols()) +
                                               " columns after preprocessing, the reference has " +
                                               std::to_string(ref.cols()));
        Timer t;
        TransformOptions topt;
        topt.n_iter = *n_iter;
        topt.perplexity = *perplexity;
        ProgressPrinter printer{*o, nullptr, "", {}, 0.0, "", 0, "", 0.0};
        topt.progress = [&printer](const TrainEvent& e) { printer(e); };
        Matrix<double> Ynew = m.transform(Xnew.view(), topt);
        say(*o, to_string(m.method()) + " transform of " + std::to_string(Xnew.rows()) + " points in " +
                    seconds(t.seconds()));
        save_matrix(out.staged(o->output), Ynew.view());
        if (!plot->empty()) {
            require(Ynew.cols() <= 2, "--plot needs a 1-D or 2-D embedding");
            // Reference points labelled -1 (drawn first, in the first palette colour), new points by their labels.
            const auto& Yref = m.embedding();
            Matrix<double> both(Yref.rows() + Ynew.rows(), Ynew.cols());
            std::copy(Yref.data(), Yref.data() + Yref.size(), both.data());
            std::copy(Ynew.data(), Ynew.data() + Ynew.size(), both.data() + Yref.size());
            std::vector<std::int64_t> lab(both.rows(), -1);
            for (std::size_t i = 0; i < Ynew.rows(); ++i) lab[Yref.rows() + i] = labels.empty() ? 0 : labels[i];
            ScatterOptions sopt;
            sopt.title = "transform (reference = -1)";
            write_scatter_png(out.staged(*plot), both.view(), lab, sopt);
        }
        out.commit();
    });
}

} // namespace nembed::cli
