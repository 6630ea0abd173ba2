// nembed umap: umap-learn's UMAP; nembed cne: cne's contrastive embeddings (NEG / NCE / InfoNCE / UMAP loss).
// Same I/O, progress, timings and metrics as nembed tsne.
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
#include "nembed/methods/cne.hpp"
#include "nembed/methods/umap.hpp"
#include "nembed/plot/scatter.hpp"

namespace nembed::cli {
namespace {

std::string secs(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f s", s);
    return buf;
}

// "auto"/"none"/"" -> nullopt, else a number.
std::optional<double> opt_number(const std::string& value, const std::string& option) {
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
    out.add("--plot", plot, OutputKind::png);
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
        ScatterOptions sopt;
        sopt.title = title;
        write_scatter_png(out.staged(plot), Y.view(), labels, sopt);
    }
    if (!labels.empty() || !metrics_json.empty()) {
        QualityInputs q{X.view(), Y.view(), labels.empty() ? nullptr : &labels, nullptr};
        report_quality(o, q, metrics_json.empty() ? "" : out.staged(metrics_json));
    }
    out.commit();
}

struct UmapCli {
    CommonOptions common;
    std::size_t n_neighbors = 15, n_components = 2;
    std::string n_epochs = "auto";
    double learning_rate = 1.0, min_dist = 0.1, spread = 1.0;
    std::string a = "auto", b = "auto";
    double set_op_mix_ratio = 1.0, local_connectivity = 1.0, repulsion_strength = 1.0, negative_sample_rate = 5;
    std::string init = "spectral", neighbors = "auto", metric = "euclidean";
    std::string transform_input, transform_output;
    int every = 50;
    std::string plot, metrics_json, timings_json, save_model;
    bool save_partial = false;
};

void run_umap(UmapCli& c) {
    const CommonOptions& o = c.common;
    configure_logging(o);
    OutputSet out;
    check_outputs(out, o, c.n_components, c.plot, c.metrics_json, c.timings_json);
    require(c.transform_input.empty() || !c.transform_output.empty(), "--transform needs --transform-output");
    require(c.transform_output.empty() || !c.transform_input.empty(), "--transform-output needs --transform");
    out.add("--transform-output", c.transform_output, OutputKind::matrix);
    out.add("--save-model", c.save_model, OutputKind::directory);
    Timer total;
    Preprocessing preprocessing;
    Matrix<float> X = load_inputs(o, &preprocessing);
    auto labels = load_label_files(o, X.rows());
    UmapOptions opt;
    opt.n_neighbors = c.n_neighbors;
    opt.n_components = c.n_components;
    if (auto e = opt_number(c.n_epochs, "--n-epochs")) {
        require(*e >= 0 && *e == std::floor(*e), "--n-epochs must be a non-negative integer or auto, got " + c.n_epochs);
        require(*e <= 1e8, "--n-epochs " + c.n_epochs + " is too large (at most 100000000)");
        opt.n_epochs = static_cast<int>(*e);
    }
    opt.learning_rate = c.learning_rate;
    opt.min_dist = c.min_dist;
    opt.spread = c.spread;
    opt.a = opt_number(c.a, "--a");
    opt.b = opt_number(c.b, "--b");
    opt.set_op_mix_ratio = c.set_op_mix_ratio;
    opt.local_connectivity = c.local_connectivity;
    opt.repulsion_strength = c.repulsion_strength;
    opt.negative_sample_rate = c.negative_sample_rate;
    if (c.init == "pca" && X.cols() < c.n_components) {
        warn("--init pca needs at least " + std::to_string(c.n_components) + " input columns, the input has " +
             std::to_string(X.cols()) + "; using --init random");
        opt.init = UmapInit::random;
    } else if (c.init == "spectral" || c.init == "pca" || c.init == "random") {
        opt.init = parse_umap_init(c.init);
    } else {
        opt.init = UmapInit::user;
        opt.initial_embedding = load_matrix<double>(c.init);
    }
    opt.neighbors = parse_knn_method(c.neighbors);
    require_affinity_metric(c.metric);
    opt.metric = parse_metric(c.metric);
    opt.n_jobs = o.n_threads();
    opt.random_state = o.seed;
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

struct CneCli {
    CommonOptions common;
    std::size_t k = 15, n_components = 2;
    std::string loss = "infonce", similarity = "euclidean";
    std::string s = "none", Z_bar = "none", neg_spec = "none", ince_spec = "none";
    long negative_samples = 5;
    std::size_t batch_size = 32768;
    int n_epochs = 200;
    double learning_rate = 1.0;
    std::string anneal = "linear";
    double lr_min_factor = 0.0;
    int warmup_epochs = 0;
    double warmup_lr = 0.0;
    std::string optimizer = "sgd";
    double momentum = 0.0, weight_decay = 0.0, temperature = 0.5, eps = 1.0, Z = 1.0;
    std::string clamp_low = "auto", clamp_high = "auto";
    bool no_clip = false, no_early_exaggeration = false;
    std::string init = "pca", neighbors = "auto", graph;
    int every = 25;
    std::string plot, metrics_json, timings_json, save_model;
    bool save_partial = false;
};

void run_cne(CneCli& c) {
    const CommonOptions& o = c.common;
    configure_logging(o);
    OutputSet out;
    check_outputs(out, o, c.n_components, c.plot, c.metrics_json, c.timings_json);
    out.add("--save-model", c.save_model, OutputKind::directory);
    Timer total;
    Preprocessing preprocessing;
    Matrix<float> X = load_inputs(o, &preprocessing);
    auto labels = load_label_files(o, X.rows());
    CneOptions opt;
    opt.k = c.k;
    opt.n_components = c.n_components;
    opt.loss_mode = parse_contrastive_mode(c.loss);
    opt.metric = parse_contrastive_metric(c.similarity);
    opt.s = opt_number(c.s, "--s");
    opt.Z_bar = opt_number(c.Z_bar, "--Z-bar");
    opt.neg_spec = opt_number(c.neg_spec, "--neg-spec");
    opt.ince_spec = opt_number(c.ince_spec, "--ince-spec");
    opt.negative_samples = c.negative_samples;
    opt.batch_size = c.batch_size;
    opt.n_epochs = c.n_epochs;
    opt.learning_rate = c.learning_rate;
    opt.anneal_lr = parse_lr_anneal(c.anneal);
    opt.lr_min_factor = c.lr_min_factor;
    opt.warmup_epochs = c.warmup_epochs;
    opt.warmup_lr = c.warmup_lr;
    opt.optimizer = parse_cne_optimizer(c.optimizer);
    opt.momentum = c.momentum;
    opt.weight_decay = c.weight_decay;
    opt.temperature = c.temperature;
    opt.eps = c.eps;
    opt.Z = c.Z;
    opt.clamp_low = opt_number(c.clamp_low, "--clamp-low");
    opt.clamp_high = opt_number(c.clamp_high, "--clamp-high");
    opt.clip_grad = !c.no_clip;
    opt.early_exaggeration = !c.no_early_exaggeration;
    if (c.init == "pca" && X.cols() < c.n_components) {
        warn("--init pca needs at least " + std::to_string(c.n_components) + " input columns, the input has " +
             std::to_string(X.cols()) + "; using --init random");
        opt.init = CneInit::random;
    } else if (c.init == "pca" || c.init == "random") {
        opt.init = c.init == "pca" ? CneInit::pca : CneInit::random;
    } else {
        opt.init = CneInit::user;
        opt.initial_embedding = load_matrix<double>(c.init);
    }
    opt.neighbors = parse_knn_method(c.neighbors);
    opt.seed = o.seed;
    opt.n_jobs = o.n_threads();
    require(c.every >= 1, "--progress-every must be >= 1");
    EpochPrinter printer{o, c.loss, c.every, nullptr, {}, 0.0};
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

    say(o, "CNE (" + c.loss + ") of " + std::to_string(X.rows()) + " x " + std::to_string(X.cols()) + ", " +
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
    finish(out, o, X, r.embedding, labels, c.plot, "CNE " + c.loss + " (nembed)", c.metrics_json);
}

} // namespace

void register_umap(CLI::App& app) {
    auto c = std::make_shared<UmapCli>();
    auto* sub = app.add_subcommand("umap", "UMAP with umap-learn's model and defaults");
    add_common_options(sub, c->common, true);
    sub->add_option("--n-neighbors", c->n_neighbors, "Neighbours, counting the point itself (umap-learn)")->capture_default_str();
    sub->add_option("--n-components", c->n_components, "Embedding dimension")->capture_default_str();
    sub->add_option("--n-epochs", c->n_epochs, "auto (500 up to 10 000 points, else 200) or a number")->capture_default_str();
    sub->add_option("--learning-rate", c->learning_rate, "Initial learning rate (decays linearly)")->capture_default_str();
    sub->add_option("--min-dist", c->min_dist, "Minimum distance of the output kernel")->capture_default_str();
    sub->add_option("--spread", c->spread, "Scale of the output kernel")->capture_default_str();
    sub->add_option("--a", c->a, "Kernel parameter a (auto: fitted)")->capture_default_str();
    sub->add_option("--b", c->b, "Kernel parameter b (auto: fitted)")->capture_default_str();
    sub->add_option("--set-op-mix-ratio", c->set_op_mix_ratio, "1 = fuzzy union, 0 = intersection")->capture_default_str();
    sub->add_option("--local-connectivity", c->local_connectivity, "Neighbours assumed connected")->capture_default_str();
    sub->add_option("--repulsion-strength", c->repulsion_strength, "Weight of negative samples")->capture_default_str();
    sub->add_option("--negative-sample-rate", c->negative_sample_rate, "Negatives per positive sample")->capture_default_str();
    sub->add_option("--init", c->init, "spectral, pca, random or an array file")->capture_default_str();
    sub->add_option("--neighbors", c->neighbors, "kNN method: auto, exact or hnsw")->capture_default_str();
    sub->add_option("--metric", c->metric, "Input metric: euclidean or cosine")->capture_default_str();
    sub->add_option("--transform", c->transform_input, "Also embed these new points into the result");
    sub->add_option("--transform-output", c->transform_output, "Output file for --transform");
    sub->add_option("--progress-every", c->every, "Print a line every N epochs")->capture_default_str();
    add_method_outputs(sub, c->plot, c->metrics_json, c->timings_json);
    sub->add_option("--save-model", c->save_model, "Save what `nembed transform` needs into this directory");
    sub->add_flag("--save-partial", c->save_partial,
                  "On Ctrl-C / SIGTERM write the embedding of the last finished epoch to -o");
    sub->callback([c] { run_umap(*c); });
}

void register_cne(CLI::App& app) {
    auto c = std::make_shared<CneCli>();
    auto* sub = app.add_subcommand("cne", "Contrastive neighbour embeddings (cne): NEG, NCE, InfoNCE, UMAP loss");
    add_common_options(sub, c->common, true);
    sub->add_option("--loss,--loss-mode", c->loss, "umap, neg, nce, infonce or infonce_alt")->capture_default_str();
    sub->add_option("--similarity,--metric", c->similarity, "euclidean (Cauchy) or cosine")->capture_default_str();
    sub->add_option("--s", c->s, "Spectrum slider: 0 t-SNE-like, 1 UMAP-like (neg, infonce)")->capture_default_str();
    sub->add_option("--Z-bar", c->Z_bar, "NEG's fixed normaliser")->capture_default_str();
    sub->add_option("--neg-spec", c->neg_spec, "NEG's xi")->capture_default_str();
    sub->add_option("--ince-spec", c->ince_spec, "InfoNCE's rho")->capture_default_str();
    sub->add_option("-k,--k", c->k, "Neighbours of the kNN graph")->capture_default_str();
    sub->add_option("--n-components,--embd-dim", c->n_components, "Embedding dimension")->capture_default_str();
    sub->add_option("-m,--negative-samples", c->negative_samples, "Negatives per edge (-1 = full batch)")->capture_default_str();
    sub->add_option("--batch-size", c->batch_size, "Edges per batch")->capture_default_str();
    sub->add_option("--n-epochs", c->n_epochs, "Epochs")->capture_default_str();
    sub->add_option("--learning-rate", c->learning_rate, "Learning rate")->capture_default_str();
    sub->add_option("--anneal-lr", c->anneal, "none, linear or cosine")->capture_default_str();
    sub->add_option("--lr-min-factor", c->lr_min_factor, "Floor of the linear schedule")->capture_default_str();
    sub->add_option("--warmup-epochs", c->warmup_epochs, "Linear warm-up epochs")->capture_default_str();
    sub->add_option("--warmup-lr", c->warmup_lr, "Warm-up start rate")->capture_default_str();
    sub->add_option("--optimizer", c->optimizer, "sgd or adam")->capture_default_str();
    sub->add_option("--momentum", c->momentum, "SGD momentum")->capture_default_str();
    sub->add_option("--weight-decay", c->weight_decay, "Weight decay")->capture_default_str();
    sub->add_option("--temperature", c->temperature, "Cosine temperature")->capture_default_str();
    sub->add_option("--eps", c->eps, "Cauchy offset")->capture_default_str();
    sub->add_option("--Z", c->Z, "NCE's initial Z")->capture_default_str();
    sub->add_option("--clamp-low", c->clamp_low, "Lower clamp of log arguments (auto)")->capture_default_str();
    sub->add_option("--clamp-high", c->clamp_high, "Upper clamp of log arguments (auto)")->capture_default_str();
    sub->add_flag("--no-clip-grad", c->no_clip, "Do not clip gradients at 4");
    sub->add_flag("--no-early-exaggeration", c->no_early_exaggeration, "No exaggerated first third");
    sub->add_option("--init", c->init, "pca, random or an array file")->capture_default_str();
    sub->add_option("--neighbors", c->neighbors, "kNN method: auto, exact or hnsw")->capture_default_str();
    sub->add_option("--graph", c->graph,
                    "Train on this graph instead of the kNN graph: a scipy.sparse.save_npz file (non-zeros = edges)");
    sub->add_option("--progress-every", c->every, "Print a line every N epochs")->capture_default_str();
    add_method_outputs(sub, c->plot, c->metrics_json, c->timings_json);
    sub->add_option("--save-model", c->save_model,
                    "Save the embedding and its settings as a model directory (cne models cannot transform)");
    sub->add_flag("--save-partial", c->save_partial,
                  "On Ctrl-C / SIGTERM write the embedding of the last finished epoch to -o");
    sub->callback([c] { run_cne(*c); });
}

} // namespace nembed::cli
