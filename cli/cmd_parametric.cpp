// nembed parametric tsne|umap: paraDime's ParametricTSNE / ParametricUMAP routines (parametric/parametric_dr.hpp)
// with paraDime's defaults; the network, trained batch-wise, embeds the data (-o) and is saved (--save-model) for
// `nembed transform -m DIR`, which applies it by a forward pass. Same I/O, plot and metrics options as nembed tsne.
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "common.hpp"
#include "options.hpp"
#include "outputs.hpp"
#include "quality.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/timer.hpp"
#include "nembed/io/load.hpp"
#include "nembed/io/model.hpp"
#include "nembed/parametric/parametric_dr.hpp"

namespace nembed::cli {
namespace {

// What both routines take besides their own options.
struct ParametricCli {
    CommonOptions common;
    std::size_t n_components = 2;                    // paraDime's out_dim
    std::vector<long> hidden{100, 50};               // paraDime's default hidden_dims (signed: "-1" gets our message)
    std::string activation = "softplus";             // paraDime's
    Precision precision = Precision::float32;        // the network's products (--network-precision)
    bool normalize_inputs = true;                     // --no-input-normalization: false
    double input_row_norm = paradime::ParametricDROptions{}.input_row_norm;  // --input-row-norm
    bool full_batch = false;                         // full_batch_preset, under what is given explicitly
    double input_noise = 0.0;                        // FullBatchOptions::input_noise
    TransformConsistencyOptions consistency;         // FullBatchOptions::transform_consistency
    bool consistency_through_targets = false;
    CLI::Option *hidden_opt = nullptr, *activation_opt = nullptr, *iterations_opt = nullptr, *rate_opt = nullptr,
                *init_opt = nullptr;
    int every = 10;
    std::string plot, metrics_json, timings_json, save_model;
    paradime::ParametricTSNEOptions tsne;
    paradime::ParametricUMAPOptions umap;
};

std::string secs(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f s", s);
    return buf;
}

void run_parametric(ParametricCli& c, bool is_tsne) {
    const CommonOptions& o = c.common;
    const std::string routine = is_tsne ? "ParametricTSNE" : "ParametricUMAP";
    configure_logging(o);
    OutputSet out;
    out.add("-o", o.output, OutputKind::matrix);
    out.add("--plot", c.plot, OutputKind::plot);
    out.add("--metrics", c.metrics_json, OutputKind::json);
    out.add("--timings", c.timings_json, OutputKind::json);
    out.add("--save-model", c.save_model, OutputKind::directory);
    require(c.n_components >= 1, "--n-components must be >= 1");
    require(c.plot.empty() || c.n_components <= 2, "--plot needs a 1-D or 2-D embedding (--n-components <= 2)");
    require(c.every >= 1, "--progress-every must be >= 1");
    paradime::ParametricDROptions dro;
    dro.out_dim = c.n_components;
    if (c.full_batch) {
        // The preset's network and phase, then whatever the command line names explicitly.
        const int iterations = is_tsne ? c.tsne.full_batch_iterations : c.umap.full_batch_iterations;
        const double rate = is_tsne ? c.tsne.full_batch_learning_rate : c.umap.full_batch_learning_rate;
        const std::string init = is_tsne ? c.tsne.initialization : c.umap.initialization;
        if (is_tsne) paradime::full_batch_preset(c.tsne, dro);
        else paradime::full_batch_preset(c.umap, dro);
        if (c.iterations_opt->count()) (is_tsne ? c.tsne.full_batch_iterations : c.umap.full_batch_iterations) = iterations;
        if (c.rate_opt->count()) (is_tsne ? c.tsne.full_batch_learning_rate : c.umap.full_batch_learning_rate) = rate;
        if (c.init_opt->count()) (is_tsne ? c.tsne.initialization : c.umap.initialization) = init;
    }
    if (!c.full_batch || c.hidden_opt->count()) {
        dro.hidden_dims.clear();
        for (long h : c.hidden) {
            require(h > 0, "--hidden: every layer width must be > 0, got " + std::to_string(h));
            dro.hidden_dims.push_back(static_cast<std::size_t>(h));
        }
    }
    if (!c.full_batch || c.activation_opt->count()) dro.hidden_activation = parse_activation(c.activation);
    dro.network_precision = c.precision;
    dro.normalize_inputs = c.normalize_inputs;
    dro.input_row_norm = c.input_row_norm;
    dro.full_batch.input_noise = c.input_noise;
    dro.full_batch.transform_consistency = c.consistency;
    dro.full_batch.transform_consistency.stop_gradient = !c.consistency_through_targets;
    dro.seed = o.seed;
    dro.n_threads = o.n_threads();
    dro.verbose = o.verbose;
    // The routine validates its phases (epochs >= 1, batch sizes, rates) before any data is read.
    paradime::ParametricDR dr = is_tsne ? paradime::ParametricTSNE(c.tsne, dro) : paradime::ParametricUMAP(c.umap, dro);

    Timer total;
    Preprocessing preprocessing;
    Matrix<float> X = load_inputs(o, &preprocessing);
    const auto labels = load_label_files(o, X.rows());
    say(o, routine + " of " + std::to_string(X.rows()) + " x " + std::to_string(X.cols()) + ", " +
               std::to_string(dro.n_threads) + " thread(s)");

    std::vector<double> per_block;
    double last = 0;
    TrainHooks hooks;
    hooks.who = routine;
    hooks.callback_every = c.every;
    hooks.evaluate_loss = !o.quiet;
    hooks.callback = [&](const TrainEvent& ev) {
        per_block.push_back(ev.elapsed - last);
        last = ev.elapsed;
        if (!o.quiet) {
            if (std::isnan(ev.loss))
                std::fprintf(stderr, "  %-14s epoch %4d/%d  (%s)\n", ev.phase.c_str(), ev.phase_step, ev.phase_steps,
                             secs(ev.elapsed).c_str());
            else
                std::fprintf(stderr, "  %-14s epoch %4d/%d  loss %.6g  (%s)\n", ev.phase.c_str(), ev.phase_step,
                             ev.phase_steps, ev.loss, secs(ev.elapsed).c_str());
        }
        return false;
    };
    Timer t_train;
    dr.train(X.view(), hooks);
    const double train_seconds = t_train.seconds();
    // The embedding is the trained network's forward pass over the data: what `nembed transform` gives for it.
    Timer t_apply;
    const Matrix<double> Y = dr.apply(X.view());
    const double apply_seconds = t_apply.seconds();
    say(o, "timings: train " + secs(train_seconds) + ", apply " + secs(apply_seconds) + "; total " +
               secs(total.seconds()));
    if (!c.timings_json.empty()) {
        const nlohmann::json j = {{"seconds", total.seconds()}, {"train", train_seconds}, {"apply", apply_seconds},
                                  {"per_block", per_block},     {"block_epochs", c.every}};
        write_text(out.staged(c.timings_json), j.dump() + "\n");
    }
    if (!c.save_model.empty()) save_model(out.staged(c.save_model), dr, Y, routine, preprocessing);
    save_matrix(out.staged(o.output), Y.view());
    if (!c.plot.empty()) write_plot(out.staged(c.plot), Y.view(), labels, o, routine + " (nembed)");
    if (!labels.empty() || !c.metrics_json.empty()) {
        QualityInputs q{X.view(), Y.view(), labels.empty() ? nullptr : &labels, nullptr};
        report_quality(o, q, c.metrics_json.empty() ? "" : out.staged(c.metrics_json));
    }
    out.commit();
}

// The options both routines share: the network, the outputs, the common I/O.
CLI::App* add_routine(CLI::App* parent, const std::string& name, const std::string& description,
                      std::shared_ptr<ParametricCli> c) {
    auto* sub = parent->add_subcommand(name, description);
    add_common_options(sub, c->common, true);
    sub->add_option("--n-components", c->n_components, "Embedding dimension (paraDime's out_dim)")->capture_default_str();
    c->hidden_opt = sub->add_option("--hidden", c->hidden, "Hidden layer widths of the network (paraDime's hidden_dims)")
                        ->delimiter(',')
                        ->capture_default_str();
    c->activation_opt = sub->add_option("--activation", c->activation,
                                        "Hidden activation of the network: softplus (paraDime's), relu, tanh, identity")
                            ->capture_default_str();
    add_enum(sub, "--network-precision", c->precision, parse_precision,
             "The network's products in float32 or bf16 (bfloat16 operands, float32 sums and weights; needs oneDNN) "
             "[float32]");
    sub->add_flag_callback("--no-input-normalization", [c] { c->normalize_inputs = false; },
                  "The network reads the raw rows, as paraDime's (default: centred and scaled by the training data's "
                  "mean and RMS, saved with the model, so that the map does not depend on where the data sits)");
    sub->add_option("--input-row-norm", c->input_row_norm,
                    "Not in paraDime: the RMS row norm the input map scales the rows to with training phases (0: unit "
                    "RMS per entry; docs/parametric.md §1)")
        ->capture_default_str();
    sub->add_flag("--full-batch", c->full_batch,
                  "Not in paraDime: the full-batch preset (1000 full-batch iterations of the method's loss at Adam "
                  "0.003 instead of the batch phases, network 256,256,256 with ReLU, no PCA/spectral phase; explicit "
                  "options win)");
    sub->add_option("--full-batch-input-noise", c->input_noise,
                    "Not in paraDime: Gaussian noise on the full-batch phase's inputs, its size in mean "
                    "nearest-neighbour distances (0: off)")
        ->capture_default_str();
    sub->add_option("--full-batch-consistency", c->consistency.weight,
                    "Not in paraDime: the transform-consistency penalty's weight (points near training points pulled "
                    "toward their candidates' images by t-SNE's transform's attraction; 0: off)")
        ->capture_default_str();
    sub->add_option("--full-batch-consistency-samples", c->consistency.samples,
                    "Such points per full-batch iteration (0: as many as training points)")
        ->capture_default_str();
    sub->add_option("--full-batch-consistency-neighbors", c->consistency.n_neighbors,
                    "Each such point's candidates: a training point and its k nearest")
        ->capture_default_str();
    sub->add_option("--full-batch-consistency-size", c->consistency.size,
                    "How far such a point lies from its training point, in that point's nearest-neighbour distances")
        ->capture_default_str();
    sub->add_option("--full-batch-consistency-perplexity", c->consistency.perplexity,
                    "The perplexity of a point's weights over its candidates (openTSNE's transform: 5)")
        ->capture_default_str();
    sub->add_flag("--full-batch-consistency-through-targets", c->consistency_through_targets,
                  "Let the penalty's gradient reach the candidates' images too (default: the targets are constants)");
    sub->add_option("--progress-every", c->every, "Print a line every N epochs of a phase")->capture_default_str();
    add_method_outputs(sub, c->plot, c->metrics_json, c->timings_json, c->common.plot);
    sub->add_option("--save-model", c->save_model,
                    "Save the network as a model directory; `nembed transform -m DIR NEW -o OUT` applies it");
    return sub;
}

} // namespace

void register_parametric(CLI::App& app) {
    auto* par = app.add_subcommand("parametric", "paraDime's parametric routines: a network (in -> 100 -> 50 -> out, "
                                                 "Softplus) trained batch-wise; `nembed parametric tsne|umap --help`");
    par->require_subcommand(0, 1);
    par->allow_extras();
    par->callback([par] {
        if (!par->get_subcommands().empty()) return;
        for (const std::string& word : par->remaining())
            if (!word.empty() && word.front() != '-')
                throw InvalidArgument("nembed parametric: unknown routine '" + word + "' (expected tsne or umap)");
        throw InvalidArgument("nembed parametric needs a routine: tsne or umap (nembed parametric tsne --help)");
    });

    auto t = std::make_shared<ParametricCli>();
    paradime::ParametricTSNEOptions& to = t->tsne;
    auto* ts = add_routine(par, "tsne", "paraDime's ParametricTSNE with its defaults (PCA phase, then KL on batches)", t);
    ts->add_option("--perplexity", to.perplexity, "Perplexity of the global relations")->capture_default_str();
    ts->add_option("--alpha", to.alpha, "Degrees of freedom of the Student-t batch relation")->capture_default_str();
    t->init_opt = ts->add_option("--initialization", to.initialization, "pca (a PCA position phase first) or none")
                      ->capture_default_str();
    ts->add_option("--epochs", to.epochs, "Epochs of the main (KL) phase")->capture_default_str();
    ts->add_option("--init-epochs", to.init_epochs, "Epochs of the PCA phase")->capture_default_str();
    ts->add_option("--batch-size", to.batch_size, "Points per batch")->capture_default_str();
    ts->add_option("--init-batch-size", to.init_batch_size, "Points per batch of the PCA phase (0: --batch-size)")
        ->capture_default_str();
    ts->add_option("--learning-rate", to.learning_rate, "Adam's learning rate")->capture_default_str();
    ts->add_option("--init-learning-rate", to.init_learning_rate, "PCA phase's rate (0: --learning-rate)")
        ->capture_default_str();
    ts->add_option("--early-exaggeration-epochs", to.early_exaggeration_epochs,
                   "Epochs of an early-exaggeration KL phase before the main one (not in paraDime; 0: none)")
        ->capture_default_str();
    ts->add_option("--early-exaggeration", to.early_exaggeration, "Exaggeration of that phase (attraction factor)")
        ->capture_default_str();
    ts->add_option("--lr-anneal", to.lr_anneal, "Learning-rate decay of the main phase: none (paraDime), linear, cosine")
        ->capture_default_str();
    t->iterations_opt = ts->add_option("--full-batch-iterations", to.full_batch_iterations,
                                       "Not in paraDime: full-batch iterations of t-SNE's loss (FFT) replacing the KL "
                                       "batch phases (0: none)")
                            ->capture_default_str();
    t->rate_opt = ts->add_option("--full-batch-learning-rate", to.full_batch_learning_rate,
                                 "Adam's rate of the full-batch phase")
                      ->capture_default_str();
    ts->add_flag("--full-batch-after-kl", to.full_batch_after_kl,
                 "Keep the KL batch phases and run the full-batch iterations after them (a mixed schedule)");
    ts->add_option("--full-batch-exaggeration", to.full_batch_exaggeration,
                   "Exaggeration of the full-batch phase's first 250 iterations (1: none)")
        ->capture_default_str();
    ts->callback([t] { run_parametric(*t, true); });

    auto u = std::make_shared<ParametricCli>();
    paradime::ParametricUMAPOptions& uo = u->umap;
    auto* us = add_routine(par, "umap",
                           "paraDime's ParametricUMAP with its defaults (spectral phase, then negative-edge "
                           "cross-entropy)",
                           u);
    us->add_option("--n-neighbors", uo.n_neighbors, "Neighbours of the connectivity rescale")->capture_default_str();
    us->add_option("--min-dist", uo.min_dist, "Minimum distance of the modified Cauchy curve")->capture_default_str();
    us->add_option("--spread", uo.spread, "Spread of the curve")->capture_default_str();
    add_optional(us, "--a", uo.a, "Curve parameter a (auto: fitted to min-dist and spread)", "auto");
    add_optional(us, "--b", uo.b, "Curve parameter b (auto: fitted)", "auto");
    u->init_opt = us->add_option("--initialization", uo.initialization,
                                 "spectral (a spectral position phase first) or none")
                      ->capture_default_str();
    us->add_option("--epochs", uo.epochs, "Epochs of the main phase")->capture_default_str();
    us->add_option("--init-epochs", uo.init_epochs, "Epochs of the spectral phase")->capture_default_str();
    us->add_option("--batch-size", uo.batch_size, "Positive edges per batch")->capture_default_str();
    us->add_option("--negative-sampling-rate", uo.negative_sampling_rate, "Negatives per positive edge")
        ->capture_default_str();
    us->add_option("--batches-per-epoch", uo.batches_per_epoch,
                   "Batches per epoch of the main phase (-1: paraDime's count from the data size)")
        ->capture_default_str();
    us->add_option("--init-batch-size", uo.init_batch_size, "Points per batch of the spectral phase")
        ->capture_default_str();
    us->add_option("--learning-rate", uo.learning_rate, "Adam's learning rate")->capture_default_str();
    us->add_option("--init-learning-rate", uo.init_learning_rate, "Spectral phase's rate")->capture_default_str();
    us->add_option("--lr-anneal", uo.lr_anneal, "Learning-rate decay of the main phase: none (paraDime), linear, cosine")
        ->capture_default_str();
    u->iterations_opt = us->add_option("--full-batch-iterations", uo.full_batch_iterations,
                                       "Not in paraDime: full-batch iterations of TorchDR's UMAP loss replacing the "
                                       "negative-edge phase (0: none)")
                            ->capture_default_str();
    u->rate_opt = us->add_option("--full-batch-learning-rate", uo.full_batch_learning_rate,
                                 "Adam's rate of the full-batch phase")
                      ->capture_default_str();
    us->callback([u] { run_parametric(*u, false); });
}

} // namespace nembed::cli
