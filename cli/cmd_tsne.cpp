// nembed tsne: openTSNE's TSNE from the command line; nembed transform: new points into a saved reference.
#include <cmath>
#include <cstdio>
#include <memory>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "common.hpp"
#include "distributed.hpp"
#include "interrupt.hpp"
#include "options.hpp"
#include "outputs.hpp"
#include "quality.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/log.hpp"
#include "nembed/affinity/multiscale.hpp"
#include "nembed/core/timer.hpp"
#include "nembed/dist/comm.hpp"
#include "nembed/dist/io.hpp"
#include "nembed/dist/tsne.hpp"
#include "nembed/io/load.hpp"
#include "nembed/io/model.hpp"
#include "nembed/methods/tsne.hpp"
#include "nembed/neighbors/knn.hpp"

namespace nembed::cli {
namespace {

// The CLI of `nembed tsne`: the library's options (bound field by field) and what only the command has.
struct TsneCli {
    CommonOptions common;
    TsneOptions opt;
    std::string init_file;  // --init with an array file
    std::string plot;
    std::string metrics_json;
    std::string timings_json;
    std::string save_model;
    std::string knn_input;  // --knn-input PREFIX
    bool save_partial = false;
};

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
        // Timing marks every 50 iterations and at each phase's end, whether or not the KL was evaluated there
        // (--quiet skips it, as openTSNE does unless verbose); elapsed is counted from the start of each phase.
        if (e.phase_step % 50 == 0 || e.phase_step == e.phase_steps) {
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

// `mpirun -n R nembed tsne X.npy -o Y.npy` (R > 1): each rank reads its rows of X, runs the distributed t-SNE
// (dist/tsne.hpp) and writes its rows of Y; rank 0 prints. Errors every rank agrees on are printed once by rank 0
// (the others exit with the same code silently); an error on one rank outside those checks ends all ranks.
void run_tsne_distributed(TsneCli& c) {
    run_distributed(c.common, [&c](dist::Comm& comm, const CommonOptions& quiet_o) {
        const CommonOptions& o = c.common;
        TsneOptions& opt = c.opt;
        const int rank = comm.rank();
        Timer total;
        check_distributed_io(comm, o, "tsne",
                             c.plot.empty() && c.metrics_json.empty() && c.save_model.empty() && !c.save_partial &&
                                 c.init_file.empty(),
                             "--plot, --metrics, --save-model, --save-partial or --init with a file");
        std::size_t n_cols = 0;
        const dist::RowPartition part = dist::npy_partition(comm, o.inputs[0], &n_cols);
        opt.n_jobs = o.n_threads();
        opt.random_state = o.seed;
        opt.callback = [](const TrainEvent&) { return false; };
        opt.callbacks_every_iters = 50;
        ProgressPrinter printer{quiet_o, nullptr, "", {}, 0.0, "", 0, "", 0.0};
        opt.progress = [&printer](const TrainEvent& e) { printer(e); };
        dist::collective(comm, [&] { validate(opt, part.n); });
        Matrix<float> X = dist::read_npy_block(comm, part, o.inputs[0]);
        say(quiet_o, "t-SNE of " + std::to_string(part.n) + " x " + std::to_string(n_cols) + " on " +
                         std::to_string(comm.size()) + " ranks (" + comm.name() + "), " + std::to_string(opt.n_jobs) +
                         " thread(s) each");
        TSNE tsne(opt);
        const std::uint64_t bytes0 = comm.bytes_sent();
        dist::DistKnnGraph given;
        if (!c.knn_input.empty())
            given = dist::read_knn_block(comm, part, c.knn_input,
                                         multiscale_neighbors(part.n, clean_perplexities(part.n, opt.perplexities)));
        TsneEmbedding emb = dist::prepare_tsne(comm, part, X.view(), opt, c.knn_input.empty() ? nullptr : &given);
        given = {};  // P holds what the run needs
        const std::uint64_t bytes1 = comm.bytes_sent();
        tsne.run(emb);
        const std::uint64_t bytes2 = comm.bytes_sent();
        const int iters = opt.early_exaggeration_iter + opt.n_iter;
        const double per_iter = iters > 0 ? static_cast<double>(bytes2 - bytes1) / iters : 0.0;
        const auto& t = emb.timings();
        say(quiet_o, "timings: kNN " + seconds(t.knn) + ", affinities " + seconds(t.affinities) + ", init " +
                         seconds(t.init) + ", early exaggeration " + seconds(t.early_exaggeration) + ", main " +
                         seconds(t.main) + "; total " + seconds(total.seconds()));
        // Every rank's own count: the ranks differ (the last one broadcasts the chained grids).
        if (o.verbose)
            say_bytes_sent(comm, quiet_o, "kNN + affinities + init", bytes1 - bytes0, bytes2 - bytes1, iters, "iteration");
        char kl[64];
        std::snprintf(kl, sizeof kl, "%.4f", emb.kl_divergence());
        say(quiet_o, std::string("KL divergence ") + kl);
        dist::write_npy_block(comm, part, o.output, dist::own_rows(comm, part, emb.embedding()),
                              emb.embedding().cols());
        if (!c.timings_json.empty() && rank == 0) {
            nlohmann::json j = {{"seconds", total.seconds()}, {"knn", t.knn}, {"affinities", t.affinities},
                                {"init", t.init}, {"early_exaggeration", t.early_exaggeration}, {"main", t.main},
                                {"kl", emb.kl_divergence()}, {"per50", printer.per50}, {"ranks", comm.size()},
                                {"bytes_sent_prepare_rank0", bytes1 - bytes0},
                                {"bytes_sent_per_iteration_rank0", per_iter}};
            write_text(c.timings_json, j.dump() + "\n");
        }
    });
}

void run_tsne(TsneCli& c) {
    // Precomputed neighbours are read by rows by the distributed path, also on one process (its serial
    // communicator gives the single-process bits, docs/mpi.md §2).
    if (dist::launched_by_mpi() || !c.knn_input.empty()) return run_tsne_distributed(c);
    const CommonOptions& o = c.common;
    TsneOptions& opt = c.opt;
    configure_logging(o);
    OutputSet out;
    out.add("-o", o.output, OutputKind::matrix);
    out.add("--plot", c.plot, OutputKind::plot);
    out.add("--metrics", c.metrics_json, OutputKind::json);
    out.add("--timings", c.timings_json, OutputKind::json);
    out.add("--save-model", c.save_model, OutputKind::directory);
    require(c.plot.empty() || opt.n_components <= 2, "--plot needs a 1-D or 2-D embedding (--n-components <= 2)");
    Timer total;
    Preprocessing preprocessing;
    Matrix<float> X = load_inputs(o, &preprocessing);
    auto labels = load_label_files(o, X.rows());

    resolve_init(opt.initialization, opt.initial_embedding, c.init_file, X.cols(), opt.n_components);
    opt.n_jobs = o.n_threads();
    opt.random_state = o.seed;
    // The KL every 50 iterations is for the log lines only: --quiet skips it (openTSNE computes it only when
    // verbose or a callback asks; the KL at the end of each phase is always computed).
    opt.callbacks_every_iters = 50;
    opt.progress_loss = !o.quiet;
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
        write_plot(out.staged(c.plot), emb.embedding().view(), labels, o, "t-SNE (nembed)");
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
    TsneOptions& opt = c->opt;
    auto* sub = app.add_subcommand("tsne", "t-SNE with openTSNE's model and defaults");
    add_common_options(sub, c->common, true);
    sub->add_option("--perplexity", opt.perplexities, "Perplexity; several values give a multiscale mixture")
        ->capture_default_str();
    sub->add_option("--n-components", opt.n_components, "Embedding dimension")->capture_default_str();
    sub->add_option("--n-iter", opt.n_iter, "Iterations after early exaggeration")->capture_default_str();
    sub->add_option("--early-exaggeration-iter", opt.early_exaggeration_iter, "Early exaggeration iterations")
        ->capture_default_str();
    add_optional(sub, "--early-exaggeration", opt.early_exaggeration, "auto (12) or a number", "auto");
    add_optional(sub, "--exaggeration", opt.exaggeration, "Late exaggeration (none = 1)", "none");
    add_optional(sub, "--learning-rate", opt.learning_rate, "auto (N / exaggeration) or a number", "auto");
    sub->add_option("--dof", opt.dof, "Degrees of freedom of the output kernel (1 = Cauchy)")->capture_default_str();
    add_repulsion_options(sub, opt.repulsion);
    sub->add_flag("--force-exact", opt.force_exact, "Allow --method exact above 50000 points (O(N^2) per iteration)");
    sub->add_option_function<std::string>(
           "--point-order", [&opt](const std::string& v) { opt.point_order = parse_point_order(v); },
           "The gradient's internal point order: auto (hilbert from 10000 points on one process, none under "
           "mpirun), none, hilbert (a Hilbert curve of the initial map: faster; outputs stay in the input order)")
        ->default_str("auto");
    add_init(sub, opt.initialization, c->init_file, parse_tsne_init, "pca, spectral, random or an array file");
    add_knn_method(sub, opt.neighbors);
    add_knn_shards(sub, opt.knn_shards);
    add_knn_input(sub, c->knn_input);
    add_affinity_metric(sub, opt.metric);
    add_metric_params(sub, opt.metric_params);
    sub->add_option("--initial-momentum", opt.initial_momentum, "Momentum during early exaggeration")->capture_default_str();
    sub->add_option("--final-momentum", opt.final_momentum, "Momentum afterwards")->capture_default_str();
    add_optional(sub, "--max-grad-norm", opt.max_grad_norm, "Per-point gradient clip (none)", "none");
    add_optional(sub, "--max-step-norm", opt.max_step_norm, "Per-point step clip", "none");
    add_method_outputs(sub, c->plot, c->metrics_json, c->timings_json, c->common.plot);
    sub->add_option("--save-model", c->save_model, "Save what `nembed transform` needs into this directory");
    sub->add_flag("--save-partial", c->save_partial,
                  "On Ctrl-C / SIGTERM write the embedding reached so far to -o, as openTSNE returns it on "
                  "KeyboardInterrupt");
    sub->callback([c] { run_tsne(*c); });
}

void register_transform(CLI::App& app) {
    auto o = std::make_shared<CommonOptions>();
    auto model = std::make_shared<std::string>();
    auto topt = std::make_shared<TransformOptions>();
    auto plot = std::make_shared<std::string>();
    auto* sub = app.add_subcommand(
        "transform", "Embed new points into a reference saved by `nembed tsne --save-model` or `nembed umap "
                     "--save-model`, or apply the network of `nembed cne --parametric --save-model` or `nembed "
                     "parametric tsne|umap --save-model` (non-parametric cne models cannot transform)");
    add_common_options(sub, *o, true, false);
    sub->add_option("-m,--model", *model, "Model directory written by nembed tsne/umap/cne --parametric/parametric --save-model")->required();
    auto* n_iter_opt = sub->add_option("--n-iter", topt->n_iter, "t-SNE models: optimisation iterations for the new points")
                           ->capture_default_str();
    auto* perplexity_opt =
        sub->add_option("--perplexity", topt->perplexity, "t-SNE models: perplexity of the new points' affinities")
            ->capture_default_str();
    sub->add_option("--plot", *plot, "Plot (.png, .svg or .pdf) of the reference (label -1) with the new points "
                                     "(coloured by --labels)");
    add_plot_style(sub, o->plot, "--plot-title");
    sub->callback([o, model, topt, plot, n_iter_opt, perplexity_opt] {
        configure_logging(*o);
        OutputSet out;
        out.add("-o", o->output, OutputKind::matrix);
        out.add("--plot", *plot, OutputKind::plot);
        const Model m = load_model(*model, o->n_threads(), o->seed);
        require(m.can_transform(), *model + " is a non-parametric cne model: its embedding is a table (no map "
                                            "from the data), so it cannot transform new points; fit cne on all "
                                            "points, or with --parametric");
        if (m.method() != ModelMethod::tsne) {
            for (const CLI::Option* opt : {n_iter_opt, perplexity_opt})
                require(opt->count() == 0, opt->get_name() + " applies to t-SNE models; " + *model + " is a " +
                                               to_string(m.method()) + " model" +
                                               (m.method() == ModelMethod::umap
                                                    ? " (umap-learn's transform has its own epochs and memberships)"
                                                    : " (its network embeds new points by a forward pass)"));
        }
        Matrix<float> Xnew = m.preprocessing().apply(load_raw(o->inputs).view());
        auto labels = load_label_files(*o, Xnew.rows());
        const std::size_t n_features = m.network() ? m.network()->n_inputs() : m.reference_data()->cols();
        require(Xnew.cols() == n_features, "new data has " + std::to_string(Xnew.cols()) +
                                               " columns after preprocessing, the " +
                                               (m.network() ? "network takes " : "reference has ") +
                                               std::to_string(n_features));
        Timer t;
        ProgressPrinter printer{*o, nullptr, "", {}, 0.0, "", 0, "", 0.0};
        topt->progress = [&printer](const TrainEvent& e) { printer(e); };
        Matrix<double> Ynew = m.transform(Xnew.view(), *topt);
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
            write_plot(out.staged(*plot), both.view(), lab, *o, "transform (reference = -1)");
        }
        out.commit();
    });
}

} // namespace nembed::cli
