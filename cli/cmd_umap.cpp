// nembed umap: umap-learn's UMAP; nembed cne: cne's contrastive embeddings (NEG / NCE / InfoNCE / UMAP loss).
// Same I/O, progress, timings and metrics as nembed tsne.
#include <cmath>
#include <cstdio>
#include <memory>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "common.hpp"
#include "distributed.hpp"
#include "options.hpp"
#include "outputs.hpp"
#include "quality.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/log.hpp"
#include "nembed/core/timer.hpp"
#include "nembed/dist/io.hpp"
#include "nembed/dist/tsne.hpp"
#include "nembed/dist/umap.hpp"
#include "nembed/io/load.hpp"
#include "nembed/io/model.hpp"
#include "nembed/methods/cne.hpp"
#include "nembed/dist/cne.hpp"
#include "nembed/methods/umap.hpp"

namespace nembed::cli {
namespace {

std::string secs(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f s", s);
    return buf;
}

// Epoch progress: a bar on a terminal and a line every `every` epochs; seconds per `every` epochs kept for --timings.
struct EpochPrinter {
    const CommonOptions& o;
    std::string label;
    int every = 50;
    std::unique_ptr<ProgressBar> bar;
    std::vector<double> per_block;
    double last = 0;
    void operator()(int epoch, int n_epochs, double loss, double elapsed) {
        if (epoch % every == 0 || epoch == n_epochs) {
            per_block.push_back(elapsed - last);
            last = elapsed;
        }
        if (o.quiet) return;
        if (!bar) bar = std::make_unique<ProgressBar>(o.progress(), label, static_cast<std::size_t>(n_epochs));
        if (epoch % every == 0 || epoch == n_epochs) {
            bar->finish();
            if (std::isnan(loss))
                std::fprintf(stderr, "  %-8s epoch %4d/%d  (%s)\n", label.c_str(), epoch, n_epochs, secs(elapsed).c_str());
            else
                std::fprintf(stderr, "  %-8s epoch %4d/%d  loss %.4f  (%s)\n", label.c_str(), epoch, n_epochs, loss,
                             secs(elapsed).c_str());
            bar = std::make_unique<ProgressBar>(o.progress(), label, static_cast<std::size_t>(n_epochs));
        }
        bar->update(static_cast<std::size_t>(epoch));
        if (epoch == n_epochs) bar->finish();
    }
};

void write_json(const std::string& path, const nlohmann::json& j) { write_text(path, j.dump() + "\n"); }

// Checks every output path before the work starts (the transform output only when given).
void check_outputs(OutputSet& out, const CommonOptions& o, std::size_t n_components, const std::string& plot,
                   const std::string& metrics_json, const std::string& timings_json) {
    out.add("-o", o.output, OutputKind::matrix);
    out.add("--plot", plot, OutputKind::plot);
    out.add("--metrics", metrics_json, OutputKind::json);
    out.add("--timings", timings_json, OutputKind::json);
    require(plot.empty() || n_components <= 2, "--plot needs a 1-D or 2-D embedding (--n-components <= 2)");
}

// Writes the embedding, plot and metrics beside the staged outputs and commits them all.
void finish(OutputSet& out, const CommonOptions& o, const Matrix<float>& X, const Matrix<double>& Y,
            const std::vector<std::int64_t>& labels, const std::string& plot, const std::string& title,
            const std::string& metrics_json) {
    save_matrix(out.staged(o.output), Y.view());
    if (!plot.empty()) {
        write_plot(out.staged(plot), Y.view(), labels, o, title);
    }
    if (!labels.empty() || !metrics_json.empty()) {
        QualityInputs q{X.view(), Y.view(), labels.empty() ? nullptr : &labels, nullptr};
        report_quality(o, q, metrics_json.empty() ? "" : out.staged(metrics_json));
    }
    out.commit();
}

// The CLI of `nembed umap`: the library's options (bound field by field) and what only the command has.
struct UmapCli {
    CommonOptions common;
    UmapOptions opt;
    std::string init_file;  // --init with an array file
    std::string transform_input, transform_output;
    int every = 50;
    std::string plot, metrics_json, timings_json, save_model;
    bool save_partial = false;
    std::string target_file;                 // --target
    bool supervised = false;                 // --supervised: the --labels are the target
    std::string target_metric = "categorical";
    std::string output_dens;  // --output-dens FILE: N x 2 (rad_orig, rad_emb)
    double output_metric_p = 2.0;  // --output-metric-p (minkowski)
};

// Supervised UMAP's target (umap-learn's fit(X, y)): labels (categorical) or values (a 1-D metric), one per point.
void load_target(UmapCli& c, const std::vector<std::int64_t>& labels, std::size_t n_points) {
    UmapTarget& t = c.opt.target;
    require(!(c.supervised && !c.target_file.empty()), "--supervised and --target are exclusive");
    const std::string& m = c.target_metric;
    require(m == "categorical" || m == "l1" || m == "euclidean" || m == "l2" || m == "manhattan",
            "--target-metric must be categorical, l1, manhattan, euclidean or l2 (1-D targets), got '" + m + "'");
    t.categorical = m == "categorical";
    if (c.supervised) {
        require(!labels.empty(), "--supervised needs --labels");
        t.values.assign(labels.begin(), labels.end());
    } else if (!c.target_file.empty()) {
        if (t.categorical) {
            auto lab = load_labels(c.target_file);
            t.values.assign(lab.begin(), lab.end());
        } else {
            Matrix<float> v = load_raw({c.target_file});
            require(v.cols() == 1, "--target: a metric target needs one value per point (one column), got " +
                                       std::to_string(v.cols()) + " columns");
            t.values.assign(v.storage().begin(), v.storage().end());
        }
    } else {
        return;
    }
    require(t.values.size() == n_points, "--target: " + std::to_string(t.values.size()) + " values for " +
                                             std::to_string(n_points) + " points");
}

// `mpirun -n R nembed umap X.npy -o Y.npy` (R > 1): each rank reads its rows of X, runs the distributed UMAP
// (dist/umap.hpp) and writes its rows of Y; rank 0 prints (run_distributed: errors every rank agreed on are printed
// once, any other error ends all ranks).
void run_umap_distributed(UmapCli& c) {
    run_distributed(c.common, [&c](dist::Comm& comm, const CommonOptions& quiet_o) {
        const CommonOptions& o = c.common;
        UmapOptions& opt = c.opt;
        Timer total;
        check_distributed_io(comm, o, "umap",
                             c.plot.empty() && c.metrics_json.empty() && c.save_model.empty() && !c.save_partial &&
                                 c.init_file.empty() && c.transform_input.empty() && c.transform_output.empty() &&
                                 c.output_dens.empty() && c.target_file.empty() && !c.supervised,
                             "--plot, --metrics, --save-model, --save-partial, --transform, --output-dens, --target, "
                             "--supervised or --init with a file");
        std::size_t n_cols = 0;
        const dist::RowPartition part = dist::npy_partition(comm, o.inputs[0], &n_cols);
        opt.output_metric.p = c.output_metric_p;
        opt.n_jobs = o.n_threads();
        opt.random_state = o.seed;
        EpochPrinter printer{quiet_o, "umap", c.every, nullptr, {}, 0.0};
        opt.progress = [&printer](const TrainEvent& ev) {
            printer(static_cast<int>(ev.step), ev.phase_steps, std::nan(""), ev.elapsed);
        };
        dist::collective(comm, [&] {
            require(c.every >= 1, "--progress-every must be >= 1");
            validate(opt, part.n);
        });
        Matrix<float> X = dist::read_npy_block(comm, part, o.inputs[0]);
        say(quiet_o, "UMAP of " + std::to_string(part.n) + " x " + std::to_string(n_cols) + " on " +
                         std::to_string(comm.size()) + " ranks (" + comm.name() + "), " + std::to_string(opt.n_jobs) +
                         " thread(s) each");
        const std::uint64_t bytes0 = comm.bytes_sent();
        UmapEmbedding emb = dist::prepare_umap(comm, part, X.view(), opt);
        const std::uint64_t bytes1 = comm.bytes_sent();
        emb.optimize(-1, {}, 0, opt.progress);
        const std::uint64_t bytes2 = comm.bytes_sent();
        const auto& t = emb.timings();
        say(quiet_o, "timings: kNN " + secs(t.knn) + ", graph " + secs(t.graph) + ", init " + secs(t.init) +
                         ", optimize " + secs(t.optimize) + "; total " + secs(total.seconds()));
        if (o.verbose)
            say_bytes_sent(comm, quiet_o, "kNN + graph + init", bytes1 - bytes0, bytes2 - bytes1, emb.n_epochs(),
                           "epoch");
        dist::write_npy_block(comm, part, o.output, dist::own_rows(comm, part, emb.embedding()),
                              emb.embedding().cols());
        if (!c.timings_json.empty() && comm.rank() == 0) {
            const int epochs = emb.n_epochs();
            write_json(c.timings_json,
                       {{"seconds", total.seconds()}, {"knn", t.knn}, {"graph", t.graph}, {"init", t.init},
                        {"optimize", t.optimize}, {"n_epochs", epochs}, {"a", emb.curve().a}, {"b", emb.curve().b},
                        {"per_block", printer.per_block}, {"block_epochs", c.every}, {"ranks", comm.size()},
                        {"bytes_sent_prepare_rank0", bytes1 - bytes0},
                        {"bytes_sent_per_epoch_rank0",
                         epochs > 0 ? static_cast<double>(bytes2 - bytes1) / epochs : 0.0}});
        }
    });
}

void run_umap(UmapCli& c) {
    if (dist::launched_by_mpi()) return run_umap_distributed(c);
    const CommonOptions& o = c.common;
    UmapOptions& opt = c.opt;
    configure_logging(o);
    OutputSet out;
    check_outputs(out, o, opt.n_components, c.plot, c.metrics_json, c.timings_json);
    require(c.transform_input.empty() || !c.transform_output.empty(), "--transform needs --transform-output");
    // umap-learn refuses to transform new points into a densMAP embedding (a saved model exists to transform)
    require(!opt.densmap || c.transform_input.empty(), "--transform is not available with --densmap (as umap-learn)");
    require(!opt.densmap || c.save_model.empty(), "--save-model is not available with --densmap (its model cannot transform)");
    require(c.transform_output.empty() || !c.transform_input.empty(), "--transform-output needs --transform");
    opt.output_metric.p = c.output_metric_p;
    out.add("--transform-output", c.transform_output, OutputKind::matrix);
    out.add("--save-model", c.save_model, OutputKind::directory);
    out.add("--output-dens", c.output_dens, OutputKind::matrix);
    opt.output_dens = !c.output_dens.empty();
    Timer total;
    Preprocessing preprocessing;
    Matrix<float> X = load_inputs(o, &preprocessing);
    auto labels = load_label_files(o, X.rows());
    resolve_init(opt.init, opt.initial_embedding, c.init_file, X.cols(), opt.n_components);
    opt.n_jobs = o.n_threads();
    opt.random_state = o.seed;
    load_target(c, labels, X.rows());
    require(opt.target.values.empty() || c.save_model.empty(),
            "--save-model is not available for supervised UMAP (a saved model rebuilds the unsupervised graph)");
    require(c.every >= 1, "--progress-every must be >= 1");
    EpochPrinter printer{o, "umap", c.every, nullptr, {}, 0.0};
    opt.progress = [&printer](const TrainEvent& ev) {
        printer(static_cast<int>(ev.step), ev.phase_steps, std::nan(""), ev.elapsed);
    };
    validate(opt, X.rows());

    say(o, "UMAP of " + std::to_string(X.rows()) + " x " + std::to_string(X.cols()) + ", " +
               std::to_string(opt.n_jobs) + " thread(s)");
    UMAP umap(opt);
    UmapEmbedding emb = umap.prepare(X.view());
    PartialResult partial(c.save_partial);
    try {
        // fit's optimisation, on an embedding that holds every finished epoch when a signal stops it
        emb.optimize(-1, opt.callback, opt.callbacks_every_epochs, opt.progress);
    } catch (const Interrupted&) {
        partial.keep(emb.embedding().view(), "after " + std::to_string(emb.epochs_done()) + " epochs");
        partial.write_or_rethrow(o.output);
    }
    if (opt.output_dens) {  // umap-learn's (rad_orig, rad_emb), one row per point
        emb.rad_emb = densmap_embedding_radii(emb.embedding().view(), opt.n_neighbors, opt.n_jobs);
        Matrix<double> radii(X.rows(), 2);
        for (std::size_t i = 0; i < X.rows(); ++i) {
            radii(i, 0) = emb.rad_orig[i];
            radii(i, 1) = emb.rad_emb[i];
        }
        save_matrix(out.staged(c.output_dens), radii.view());
    }
    const auto& t = emb.timings();
    say(o, "timings: kNN " + secs(t.knn) + ", graph " + secs(t.graph) + ", init " + secs(t.init) + ", optimize " +
               secs(t.optimize) + "; total " + secs(total.seconds()));
    double t_transform = 0;
    if (!c.transform_input.empty()) {
        Timer tt;
        Matrix<float> Xn = preprocessing.apply(load_raw({c.transform_input}).view());
        save_matrix(out.staged(c.transform_output), emb.transform(Xn.view()).view());
        t_transform = tt.seconds();
        say(o, "transform of " + std::to_string(Xn.rows()) + " points in " + secs(t_transform));
    }
    if (!c.save_model.empty()) save_model(out.staged(c.save_model), emb, X.view(), preprocessing);
    if (!c.timings_json.empty()) {
        write_json(out.staged(c.timings_json), {{"seconds", total.seconds()}, {"knn", t.knn}, {"graph", t.graph},
                                    {"init", t.init}, {"optimize", t.optimize}, {"transform", t_transform},
                                    {"n_epochs", emb.n_epochs()}, {"a", emb.curve().a}, {"b", emb.curve().b},
                                    {"edges", emb.graph().nnz()}, {"per_block", printer.per_block},
                                    {"block_epochs", c.every}});
    }
    finish(out, o, X, emb.embedding(), labels, c.plot, "UMAP (nembed)", c.metrics_json);
}

// The CLI of `nembed cne`: the library's options (bound field by field) and what only the command has.
struct CneCli {
    CommonOptions common;
    CneOptions opt;
    std::string init_file;  // --init with an array file
    std::string graph;
    std::string knn_input;  // --knn-input PREFIX
    int every = 25;
    std::string plot, metrics_json, timings_json, save_model;
    bool save_partial = false;
};

// `mpirun -n R nembed cne X.npy -o Y.npy` (R > 1): each rank reads its rows of X, runs the distributed CNE
// (dist/cne.hpp: ring kNN, the graph on every rank, batches shared) and writes its rows of Y.
void run_cne_distributed(CneCli& c) {
    run_distributed(c.common, [&c](dist::Comm& comm, const CommonOptions& quiet_o) {
        const CommonOptions& o = c.common;
        CneOptions& opt = c.opt;
        Timer total;
        check_distributed_io(comm, o, "cne",
                             c.plot.empty() && c.metrics_json.empty() && c.save_model.empty() && !c.save_partial &&
                                 c.init_file.empty() && c.graph.empty(),
                             "--plot, --metrics, --save-model, --save-partial, --graph or --init with a file");
        std::size_t n_cols = 0;
        const dist::RowPartition part = dist::npy_partition(comm, o.inputs[0], &n_cols);
        opt.seed = o.seed;
        opt.n_jobs = o.n_threads();
        const std::string loss = to_string(opt.loss_mode);
        EpochPrinter printer{quiet_o, loss, c.every, nullptr, {}, 0.0};
        const int n_epochs = opt.n_epochs;
        opt.progress = [&printer, n_epochs](const TrainEvent& ev) {
            printer(static_cast<int>(ev.step), n_epochs, ev.loss, ev.elapsed);
        };
        dist::collective(comm, [&] { require(c.every >= 1, "--progress-every must be >= 1"); });
        Matrix<float> X = dist::read_npy_block(comm, part, o.inputs[0]);
        say(quiet_o, "CNE (" + loss + ") of " + std::to_string(part.n) + " x " + std::to_string(n_cols) + " on " +
                         std::to_string(comm.size()) + " ranks (" + comm.name() + "), " + std::to_string(opt.n_jobs) +
                         " thread(s) each");
        const std::uint64_t bytes0 = comm.bytes_sent();
        dist::DistKnnGraph given;
        if (!c.knn_input.empty()) given = dist::read_knn_block(comm, part, c.knn_input, opt.k);
        CneEmbedding emb = dist::prepare_cne(comm, part, X.view(), opt, c.knn_input.empty() ? nullptr : &given);
        given = {};  // the graph holds what the run needs
        const std::uint64_t bytes1 = comm.bytes_sent();
        emb.optimize();
        const std::uint64_t bytes2 = comm.bytes_sent();
        if (o.verbose)
            say_bytes_sent(comm, quiet_o, "kNN + graph + init", bytes1 - bytes0, bytes2 - bytes1, emb.epochs_done(),
                           "epoch");
        const CneResult r = emb.result();
        const auto& t = r.timings;
        say(quiet_o, "timings: kNN " + secs(t.knn) + ", graph " + secs(t.graph) + ", init " + secs(t.init) +
                         ", optimize " + secs(t.optimize) + "; total " + secs(total.seconds()));
        dist::write_npy_block(comm, part, o.output, dist::own_rows(comm, part, r.embedding), r.embedding.cols());
    });
}

void run_cne(CneCli& c) {
    // Precomputed neighbours are read by rows by the distributed path, also on one process (serial communicator).
    if (dist::launched_by_mpi() || !c.knn_input.empty()) return run_cne_distributed(c);
    const CommonOptions& o = c.common;
    CneOptions& opt = c.opt;
    const std::string loss = to_string(opt.loss_mode);
    configure_logging(o);
    OutputSet out;
    check_outputs(out, o, opt.n_components, c.plot, c.metrics_json, c.timings_json);
    out.add("--save-model", c.save_model, OutputKind::directory);
    Timer total;
    Preprocessing preprocessing;
    Matrix<float> X = load_inputs(o, &preprocessing);
    auto labels = load_label_files(o, X.rows());
    resolve_init(opt.init, opt.initial_embedding, c.init_file, X.cols(), opt.n_components);
    opt.seed = o.seed;
    opt.n_jobs = o.n_threads();
    require(c.every >= 1, "--progress-every must be >= 1");
    EpochPrinter printer{o, loss, c.every, nullptr, {}, 0.0};
    const int n_epochs = opt.n_epochs;
    opt.progress = [&printer, n_epochs](const TrainEvent& ev) {
        printer(static_cast<int>(ev.step), n_epochs, ev.loss, ev.elapsed);
    };
    PartialResult partial(c.save_partial);
    if (c.save_partial) {
        opt.callback = [&partial](const TrainEvent& ev) {
            // ev.step: epochs done (0: the initial embedding)
            partial.keep(ev.embedding, ev.step == 0 ? "the initial embedding"
                                                    : "after " + std::to_string(ev.step) + " epochs");
            return false;
        };
        opt.save_freq = 1;
    }
    validate(opt, X.rows(), c.graph.empty());

    say(o, "CNE (" + loss + ") of " + std::to_string(X.rows()) + " x " + std::to_string(X.cols()) + ", " +
               std::to_string(opt.n_jobs) + " thread(s)");
    CNE cne(opt);
    CneResult r;
    try {
        if (c.graph.empty()) {
            r = cne.fit(X.view());
        } else {
            const CsrMatrix<double> g = load_sparse(c.graph);
            require(g.n_rows == X.rows() && g.n_cols == X.rows(),
                    "--graph: the graph is " + std::to_string(g.n_rows) + " x " + std::to_string(g.n_cols) +
                        ", the data has " + std::to_string(X.rows()) + " points");
            r = cne.fit(g, X.view());
        }
    } catch (const Interrupted&) {
        partial.write_or_rethrow(o.output);
    }
    const auto& t = r.timings;
    say(o, "timings: kNN " + secs(t.knn) + ", graph " + secs(t.graph) + ", init " + secs(t.init) + ", optimize " +
               secs(t.optimize) + "; total " + secs(total.seconds()));
    if (!c.timings_json.empty()) {
        write_json(out.staged(c.timings_json), {{"seconds", total.seconds()}, {"knn", t.knn}, {"graph", t.graph},
                                    {"init", t.init}, {"optimize", t.optimize}, {"spec", r.spectrum.spec},
                                    {"spec_early", r.spectrum.spec_early}, {"early_epochs", r.spectrum.early_epochs},
                                    {"log_Z", r.log_Z}, {"losses", r.epoch_losses}, {"per_block", printer.per_block},
                                    {"block_epochs", c.every}});
    }
    if (!c.save_model.empty()) save_model(out.staged(c.save_model), r, opt, preprocessing);
    finish(out, o, X, r.embedding, labels, c.plot, "CNE " + loss + " (nembed)", c.metrics_json);
}

} // namespace

void register_umap(CLI::App& app) {
    auto c = std::make_shared<UmapCli>();
    UmapOptions& opt = c->opt;
    auto* sub = app.add_subcommand("umap", "UMAP with umap-learn's model and defaults");
    add_common_options(sub, c->common, true);
    sub->add_option("--n-neighbors", opt.n_neighbors, "Neighbours, counting the point itself (umap-learn)")->capture_default_str();
    sub->add_option("--n-components", opt.n_components, "Embedding dimension")->capture_default_str();
    add_optional(sub, "--n-epochs", opt.n_epochs, "auto (500 up to 10 000 points, else 200) or a number", "auto");
    sub->add_option("--learning-rate", opt.learning_rate, "Initial learning rate (decays linearly)")->capture_default_str();
    sub->add_option("--min-dist", opt.min_dist, "Minimum distance of the output kernel")->capture_default_str();
    sub->add_option("--spread", opt.spread, "Scale of the output kernel")->capture_default_str();
    add_optional(sub, "--a", opt.a, "Kernel parameter a (auto: fitted)", "auto");
    add_optional(sub, "--b", opt.b, "Kernel parameter b (auto: fitted)", "auto");
    sub->add_option("--set-op-mix-ratio", opt.set_op_mix_ratio, "1 = fuzzy union, 0 = intersection")->capture_default_str();
    sub->add_option("--local-connectivity", opt.local_connectivity, "Neighbours assumed connected")->capture_default_str();
    sub->add_option("--repulsion-strength", opt.repulsion_strength, "Weight of negative samples")->capture_default_str();
    sub->add_option("--negative-sample-rate", opt.negative_sample_rate, "Negatives per positive sample")->capture_default_str();
    add_init(sub, opt.init, c->init_file, parse_umap_init, "spectral, pca, random or an array file");
    add_knn_method(sub, opt.neighbors);
    add_knn_shards(sub, opt.knn_shards);
    add_affinity_metric(sub, opt.metric);
    add_metric_params(sub, opt.metric_params);
    sub->add_flag("--densmap", opt.densmap, "densMAP: also preserve local density (umap-learn's densmap)");
    sub->add_option("--dens-lambda", opt.dens.lambda, "densMAP: weight of the density term")->capture_default_str();
    sub->add_option("--dens-frac", opt.dens.frac, "densMAP: fraction of the last epochs with the density term")
        ->capture_default_str();
    sub->add_option("--dens-var-shift", opt.dens.var_shift, "densMAP: added to the variance of the embedding radii")
        ->capture_default_str();
    add_enum(sub, "--output-metric", opt.output_metric, [](const std::string& v) { return parse_output_metric(v); },
             "Space of the layout (umap-learn's output_metric): euclidean, manhattan, chebyshev, minkowski, canberra, "
             "braycurtis, cosine, correlation, haversine (2-D), hyperboloid");
    sub->add_option("--output-metric-p", c->output_metric_p, "p of --output-metric minkowski")->capture_default_str();
    add_enum(sub, "--edge-order", opt.edge_order, [](const std::string& v) { return parse_edge_order(v); },
             "Order of the epochs' updates: auto (umap-learn's serial edge order below 4096 points, parallel rows "
             "from there on), rows (parallel at any size), edges (umap-learn's order at any size, one thread)");
    sub->add_option("--output-dens", c->output_dens,
                    "Write the local radii (log) as N x 2: data, embedding (umap-learn's output_dens)");
    sub->add_option("--transform", c->transform_input, "Also embed these new points into the result");
    sub->add_option("--transform-output", c->transform_output, "Output file for --transform");
    sub->add_option("--target", c->target_file,
                    "Supervised UMAP: a target per point (labels, -1 = unlabelled; values with --target-metric)");
    sub->add_flag("--supervised", c->supervised, "Supervised UMAP with the --labels as the target");
    sub->add_option("--target-metric", c->target_metric,
                    "categorical, or l1/euclidean for 1-D values (umap-learn's target_metric)")->capture_default_str();
    sub->add_option("--target-weight", opt.target.weight, "0 = data only, 1 = target only")->capture_default_str();
    sub->add_option("--target-n-neighbors", opt.target.n_neighbors,
                    "Neighbours of the target's graph (0 = --n-neighbors)")->capture_default_str();
    sub->add_option("--progress-every", c->every, "Print a line every N epochs")->capture_default_str();
    add_method_outputs(sub, c->plot, c->metrics_json, c->timings_json, c->common.plot);
    sub->add_option("--save-model", c->save_model, "Save what `nembed transform` needs into this directory");
    sub->add_flag("--save-partial", c->save_partial,
                  "On Ctrl-C / SIGTERM write the embedding of the last finished epoch to -o");
    sub->callback([c] { run_umap(*c); });
}

void register_cne(CLI::App& app) {
    auto c = std::make_shared<CneCli>();
    CneOptions& opt = c->opt;
    auto* sub = app.add_subcommand("cne", "Contrastive neighbour embeddings (cne): NEG, NCE, InfoNCE, UMAP loss");
    add_common_options(sub, c->common, true);
    add_enum(sub, "--loss,--loss-mode", opt.loss_mode, parse_contrastive_mode, "umap, neg, nce, infonce or infonce_alt");
    add_enum(sub, "--similarity", opt.metric, parse_contrastive_metric,
             "Embedding similarity: euclidean (Cauchy) or cosine (cne's `metric`)");
    add_optional(sub, "--s", opt.s, "Spectrum slider: 0 t-SNE-like, 1 UMAP-like (neg, infonce)", "none");
    add_optional(sub, "--Z-bar", opt.Z_bar, "NEG's fixed normaliser", "none");
    add_optional(sub, "--neg-spec", opt.neg_spec, "NEG's xi", "none");
    add_optional(sub, "--ince-spec", opt.ince_spec, "InfoNCE's rho", "none");
    sub->add_option("-k,--k", opt.k, "Neighbours of the kNN graph")->capture_default_str();
    sub->add_option("--n-components,--embd-dim", opt.n_components, "Embedding dimension")->capture_default_str();
    sub->add_option("-m,--negative-samples", opt.negative_samples, "Negatives per edge (-1 = full batch)")->capture_default_str();
    sub->add_option("--batch-size", opt.batch_size, "Edges per batch")->capture_default_str();
    sub->add_option("--n-epochs", opt.n_epochs, "Epochs")->capture_default_str();
    add_optional(sub, "--learning-rate", opt.learning_rate,
                 "Learning rate (auto: cne's 1 for an embedding table, 0.001 with --parametric)", "auto");
    add_enum(sub, "--anneal-lr", opt.anneal_lr, parse_lr_anneal, "none, linear or cosine");
    sub->add_option("--lr-min-factor", opt.lr_min_factor, "Floor of the linear schedule")->capture_default_str();
    sub->add_option("--warmup-epochs", opt.warmup_epochs, "Linear warm-up epochs")->capture_default_str();
    sub->add_option("--warmup-lr", opt.warmup_lr, "Warm-up start rate")->capture_default_str();
    add_enum(sub, "--optimizer", opt.optimizer, parse_cne_optimizer, "sgd or adam");
    sub->add_option("--momentum", opt.momentum, "SGD momentum")->capture_default_str();
    sub->add_option("--weight-decay", opt.weight_decay, "Weight decay")->capture_default_str();
    sub->add_option("--temperature", opt.temperature, "Cosine temperature")->capture_default_str();
    sub->add_option("--eps", opt.eps, "Cauchy offset")->capture_default_str();
    sub->add_option("--Z", opt.Z, "NCE's initial Z")->capture_default_str();
    add_optional(sub, "--clamp-low", opt.clamp_low, "Lower clamp of log arguments (auto)", "auto");
    add_optional(sub, "--clamp-high", opt.clamp_high, "Upper clamp of log arguments (auto)", "auto");
    sub->add_flag_callback("--no-clip-grad", [&opt] { opt.clip_grad = false; }, "Do not clip gradients at 4");
    sub->add_flag_callback("--no-early-exaggeration", [&opt] { opt.early_exaggeration = false; },
                           "No exaggerated first third");
    add_init(sub, opt.init, c->init_file, parse_cne_init, "pca, random or an array file");
    sub->add_flag("--parametric", opt.parametric,
                  "cne's parametric mode: a network maps the data to the map (learning rate auto: 0.001); "
                  "--save-model keeps it for `nembed transform`");
    sub->add_option("--hidden", opt.network.hidden, "Parametric: hidden layer widths (cne's FCNetwork)")
        ->delimiter(',')
        ->capture_default_str();
    add_enum(sub, "--activation", opt.network.hidden_activation, parse_activation,
             "Parametric: hidden activation (relu, softplus, tanh or identity)");
    add_enum(sub, "--network-init", opt.network.init, parse_mlp_init,
             "Parametric: weight initialisation (torch_default, he_normal, he_uniform, xavier_normal, xavier_uniform)");
    add_enum(sub, "--network-precision", opt.network.precision, parse_precision,
             "Parametric: the network's products in float32 or bf16 (bfloat16 operands, float32 sums and weights; "
             "needs oneDNN) [float32]");
    sub->add_flag_callback("--no-input-normalization", [&opt] { opt.network.normalize_inputs = false; },
                  "Parametric: the network reads the raw rows, as cne's (default: centred and scaled by the training "
                  "data's mean and RMS, saved with the model, so that the map does not depend on where the data "
                  "sits)");
    add_knn_method(sub, opt.neighbors);
    add_knn_shards(sub, opt.knn_shards);
    add_knn_input(sub, c->knn_input);
    CLI::Option* metric = add_affinity_metric(sub, opt.input_metric);
    CLI::Option* metric_params = add_metric_params(sub, opt.input_metric_params);
    sub->add_option("--graph", c->graph,
                    "Train on this graph instead of the kNN graph: a scipy.sparse.save_npz file (non-zeros = edges)");
    sub->add_option("--progress-every", c->every, "Print a line every N epochs")->capture_default_str();
    add_method_outputs(sub, c->plot, c->metrics_json, c->timings_json, c->common.plot);
    sub->add_option("--save-model", c->save_model,
                    "Save the embedding and its settings as a model directory (with --parametric also the network, "
                    "which `nembed transform` applies to new points)");
    sub->add_flag("--save-partial", c->save_partial,
                  "On Ctrl-C / SIGTERM write the embedding of the last finished epoch to -o");
    sub->callback([c, metric, metric_params] {
        require(c->graph.empty() || (metric->count() == 0 && metric_params->count() == 0),
                "--metric / --metric-param: the kNN graph's metric has no effect with --graph");
        run_cne(*c);
    });
}

} // namespace nembed::cli
