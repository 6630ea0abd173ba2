// nembed ne: TorchDR's neighbour-embedding family (methods/neighbor_embedding.hpp, pacmap.hpp, cosne.hpp,
// tsnekhorn.hpp, torchdr_umap.hpp) from the command line, with TorchDR's parameter names as long options. Same I/O,
// progress, plot and metrics options as nembed tsne. `nembed pacmap` is the same binder with the method fixed.
//
// The options write into one NeValues; after parsing, the chosen method's Options (TorchDR's defaults) take every
// option that was given. An option given for a method whose Options struct has no such field is refused, so a new
// method needs one line in kMethods (its class and Options) and nothing else.
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "common.hpp"
#include "distributed.hpp"
#include "options.hpp"
#include "outputs.hpp"
#include "quality.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/log.hpp"
#include "nembed/core/strings.hpp"
#include "nembed/core/timer.hpp"
#include "nembed/dist/io.hpp"
#include "nembed/dist/ne.hpp"
#include "nembed/dist/tsne.hpp"
#include "nembed/io/load.hpp"
#include "nembed/io/model.hpp"
#include "nembed/methods/cosne.hpp"
#include "nembed/methods/ne_transform.hpp"
#include "nembed/methods/neighbor_embedding.hpp"
#include "nembed/methods/pacmap.hpp"
#include "nembed/methods/torchdr_umap.hpp"
#include "nembed/methods/tsnekhorn.hpp"

namespace nembed::cli {
namespace {

// What the options write (field names are the Options' fields; defaults only matter for the help, the method's
// Options keep theirs unless an option is given).
struct NeValues {
    double perplexity = 30.0;
    int max_iter_affinity = 100;
    KnnMethod knn_method = KnnMethod::auto_;
    std::size_t knn_shards = 0;
    std::size_t n_components = 2;
    std::optional<double> lr;
    std::string optimizer = "SGD";
    double momentum = 0.0, weight_decay = 0.0, eps = 1e-8;
    std::vector<double> betas{0.9, 0.999};
    std::string scheduler = "none";
    std::string scheduler_kwargs_word;  // "auto" or "none"
    double start_factor = 1.0 / 3.0, end_factor = 1.0, eta_min = 0.0, gamma = 0.0;
    int total_iters = 5, T_max = 0;
    double min_grad_norm = 1e-7;
    int max_iter = 2000;
    NeInit init = NeInit::pca;
    std::string init_file;
    double init_scaling = 1e-4;
    double early_exaggeration_coeff = 1.0;
    int early_exaggeration_iter = 0;
    double repulsion_strength = 1.0;
    int check_interval = 50;
    std::size_t n_negatives = 5;
    bool exclude_neighbors_from_negative_sampling = false;
    NeBackend backend = NeBackend::exact;
    double theta = 0.5;
    bool process_duplicates = true;
    std::string metric = "sqeuclidean";  // parsed into the method's metric type
    int n_neighbors = 10;                // PACMAP (count), UMAP
    double MN_ratio = 0.5, FP_ratio = 2.0;
    int iter_per_phase = 100;
    double scheduler_gamma = 0.0;        // --scheduler-gamma (--gamma is COSNE's for cosne)
    double learning_rate_for_h_loss = 1.0;
    double lr_affinity_in = 0.1;
    bool eps_square_affinity_in = true;
    double tol_affinity_in = 1e-3;
    int max_iter_affinity_in = 100;
    bool symmetric_affinity = true;
    bool unrolling = false;
    double min_dist = 0.1, spread = 1.0;
    double a = 0.0, b = 0.0;
    int negative_sample_rate = 5;
};

struct NeCli {
    CommonOptions common;
    std::string method = "tsne";
    NeValues v;
    std::map<std::string, CLI::Option*> opts;  // long name -> option, to know which were given
    std::string plot, metrics_json, timings_json;
    std::string transform_file, transform_output;
    bool save_partial = false;
    // TorchDR's encoder: a network (cne's FCNetwork by default) trained in mini-batches instead of a free table.
    bool encoder = false;
    NeEncoderOptions enc;
    std::string save_model;

    bool given(const std::string& name) const { return opts.at(name)->count() > 0; }
    [[noreturn]] void refuse(const std::string& name) const {
        throw InvalidArgument(name + " does not apply to --method " + method);
    }
};

// Sets `field` of the Options from the option `flag` when it was given; refuses it when the Options have no field.
// (The cast: an int option for PACMAP's count n_neighbors, a number for UMAP's optional a and b.)
#define NE_SET(flag, field)                                                                               \
    if (c.given(flag)) {                                                                                  \
        if constexpr (requires { o.field; }) o.field = static_cast<std::remove_cvref_t<decltype(o.field)>>(c.v.field); \
        else c.refuse(flag);                                                                              \
    }

// The method's Options: TorchDR's defaults, then the options given.
template <class Options>
Options options_from_cli(const NeCli& c) {
    Options o;
    // TorchDR's scheduler_kwargs default is None (torch's defaults) for every method without a default scheduler.
    if (to_lower(o.scheduler) == "none" && !o.scheduler_kwargs) o.scheduler_kwargs = SchedulerKwargs{};
    NE_SET("--perplexity", perplexity)
    NE_SET("--max-iter-affinity", max_iter_affinity)
    NE_SET("--neighbors", knn_method)
    NE_SET("--knn-shards", knn_shards)
    NE_SET("--n-components", n_components)
    NE_SET("--optimizer", optimizer)
    NE_SET("--scheduler", scheduler)
    NE_SET("--min-grad-norm", min_grad_norm)
    NE_SET("--max-iter", max_iter)
    NE_SET("--init-scaling", init_scaling)
    NE_SET("--early-exaggeration-coeff", early_exaggeration_coeff)
    NE_SET("--early-exaggeration-iter", early_exaggeration_iter)
    NE_SET("--repulsion-strength", repulsion_strength)
    NE_SET("--check-interval", check_interval)
    NE_SET("--n-negatives", n_negatives)
    NE_SET("--exclude-neighbors-from-negative-sampling", exclude_neighbors_from_negative_sampling)
    NE_SET("--backend", backend)
    NE_SET("--theta", theta)
    NE_SET("--process-duplicates", process_duplicates)
    NE_SET("--n-neighbors", n_neighbors)
    NE_SET("--MN-ratio", MN_ratio)
    NE_SET("--FP-ratio", FP_ratio)
    NE_SET("--iter-per-phase", iter_per_phase)
    NE_SET("--learning-rate-for-h-loss", learning_rate_for_h_loss)
    NE_SET("--lr-affinity-in", lr_affinity_in)
    NE_SET("--eps-square-affinity-in", eps_square_affinity_in)
    NE_SET("--tol-affinity-in", tol_affinity_in)
    NE_SET("--max-iter-affinity-in", max_iter_affinity_in)
    NE_SET("--symmetric-affinity", symmetric_affinity)
    NE_SET("--unrolling", unrolling)
    NE_SET("--min-dist", min_dist)
    NE_SET("--spread", spread)
    NE_SET("--a", a)
    NE_SET("--b", b)
    NE_SET("--negative-sample-rate", negative_sample_rate)
    if (c.given("--metric")) {  // each method's metric type parses (and names) what it accepts
        if constexpr (requires { o.metric; }) {
            if constexpr (std::is_same_v<std::decay_t<decltype(o)>, torchdr::PACMAPOptions>) o.metric = parse_pacmap_metric(c.v.metric);
            else o.metric = parse_cost_metric(c.v.metric);
        } else {
            c.refuse("--metric");
        }
    }
    // --gamma is TorchDR's name of COSNE's γ and of scheduler_kwargs' gamma (ExponentialLR): COSNE takes it, the
    // other methods give it to the scheduler; --scheduler-gamma is the scheduler's for every method.
    constexpr bool has_gamma = requires { o.gamma; };
    if constexpr (has_gamma) {
        if (c.given("--gamma")) o.gamma = c.v.gamma;
    }
    if (c.given("--theta")) {
        if constexpr (requires { o.backend; })
            require(o.backend == NeBackend::bh, "--theta applies to --backend bh");
    }
    if (c.given("--lr")) o.lr = c.v.lr;  // a number, or unset for "auto"

    // optimizer_kwargs: unset = "auto"; any of them given = a dict with torch's defaults for the others.
    const std::vector<std::string> okw{"--momentum", "--weight-decay", "--betas", "--eps"};
    bool any_okw = false;
    for (const auto& k : okw) any_okw = any_okw || c.given(k);
    if (any_okw) {
        OptimizerKwargs k;
        if (c.given("--momentum")) k.momentum = c.v.momentum;
        if (c.given("--weight-decay")) k.weight_decay = c.v.weight_decay;
        if (c.given("--eps")) k.eps = c.v.eps;
        if (c.given("--betas")) {
            require(c.v.betas.size() == 2, "--betas takes two numbers (beta1 beta2)");
            k.beta1 = c.v.betas[0];
            k.beta2 = c.v.betas[1];
        }
        o.optimizer_kwargs = k;
    }

    // scheduler_kwargs: "auto", "none" (torch's defaults) or the kwargs given (torch's defaults for the others).
    const bool scheduler_gamma = c.given("--scheduler-gamma") || (!has_gamma && c.given("--gamma"));
    const std::vector<std::string> skw{"--start-factor", "--end-factor", "--total-iters", "--T-max", "--eta-min"};
    bool any_skw = scheduler_gamma;
    for (const auto& k : skw) any_skw = any_skw || c.given(k);
    const std::string& word = c.v.scheduler_kwargs_word;
    if (c.given("--scheduler-kwargs")) {
        require(word == "auto" || word == "none", "--scheduler-kwargs must be auto or none, got '" + word + "'");
        require(!(word == "auto" && any_skw), "--scheduler-kwargs auto cannot be combined with " +
                                                  std::string("--start-factor/--end-factor/--total-iters/--T-max/"
                                                              "--eta-min/--scheduler-gamma"));
        if (word == "auto") o.scheduler_kwargs.reset();
        else o.scheduler_kwargs = SchedulerKwargs{};
    }
    if (any_skw) {
        SchedulerKwargs k;
        if (c.given("--start-factor")) k.start_factor = c.v.start_factor;
        if (c.given("--end-factor")) k.end_factor = c.v.end_factor;
        if (c.given("--total-iters")) k.total_iters = c.v.total_iters;
        if (c.given("--T-max")) k.T_max = c.v.T_max;
        if (c.given("--eta-min")) k.eta_min = c.v.eta_min;
        if (c.given("--scheduler-gamma")) k.gamma = c.v.scheduler_gamma;
        else if (scheduler_gamma) k.gamma = c.v.gamma;  // --gamma of a method without its own gamma
        o.scheduler_kwargs = k;
    }

    if (c.given("--init")) {
        o.init = c.v.init;
        if (o.init == NeInit::array) o.init_array = load_matrix<double>(c.v.init_file);
    }
    if (c.encoder) {
        // The network's own rate and optimizer replace the table's (NeEncoderOptions); the table's init is not used.
        for (const char* flag : {"--lr", "--optimizer", "--momentum", "--weight-decay", "--betas", "--eps", "--init",
                                 "--init-scaling"})
            require(!c.given(flag), std::string(flag) + " does not apply with --encoder (the network is trained "
                                    "with --encoder-lr and --encoder-optimizer; it has no initial table)");
        o.encoder = c.enc;
        o.encoder.enabled = true;
    } else {
        for (const char* flag : {"--hidden", "--activation", "--network-init", "--network-precision",
                                 "--no-input-normalization", "--encoder-batch-size", "--encoder-lr", "--encoder-optimizer"})
            require(!c.given(flag), std::string(flag) + " applies with --encoder (a network instead of the table)");
    }
    o.random_state = c.common.seed;
    o.verbose = c.common.verbose;
    o.n_threads = c.common.n_threads();
    return o;
}
#undef NE_SET

std::string seconds(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f s", s);
    return buf;
}

// Why a method does not run under mpirun (docs/mpi.md §5).
const char* not_distributed_why(const std::string& method) {
    if (method == "pacmap")
        return "its mid-near pairs draw input distances to random rows anywhere (a row exchange per iteration)";
    if (method == "tsnekhorn")
        return "its doubly stochastic affinity is a dense dual ascent in which every step needs the duals of all "
               "columns and norms over all rows (O(N^2) per step, for N one node holds)";
    return "its hyperbolic start and optimiser are not distributed";
}

// `mpirun -n R nembed ne --method sne|tsne|infotsne|largevis|umap X.npy -o Y.npy` (R > 1): each rank reads its rows of X;
// the affinity's rows are computed where they live and stay there; TorchDR's driver runs on every rank with the loss
// split by rows (dist::fit_ne: each rank its rows' gradient, the rows all-gathered); each rank writes its rows of Y. The other methods refuse with one line saying why.
template <class Options>
void run_method_distributed(NeCli& c, const char* title) {
    run_distributed(c.common, [&c, title](dist::Comm& comm, const CommonOptions& quiet_o) {
        const CommonOptions& o = c.common;
        const std::string method = to_lower(c.method);
        constexpr bool distributed = requires(dist::Comm& cm, const dist::RowPartition& p, MatrixView<float> x,
                                              const Options& t) { dist::fit_ne(cm, p, x, t); };
        if constexpr (!distributed) {
            dist::collective(comm, [&] {
                throw InvalidArgument("nembed ne does not run distributed with --method " + method + ": " +
                                      not_distributed_why(method) + "; start it as one process");
            });
        } else {
            Timer total;
            check_distributed_io(comm, o, "ne",
                                 c.plot.empty() && c.metrics_json.empty() && c.save_model.empty() && !c.save_partial &&
                                     c.transform_file.empty() && c.transform_output.empty() && !c.encoder &&
                                     c.v.init_file.empty(),
                                 "--plot, --metrics, --save-model, --save-partial, --transform, --encoder or --init "
                                 "with a file");
            std::size_t n_cols = 0;
            const dist::RowPartition part = dist::npy_partition(comm, o.inputs[0], &n_cols);
            Options opt;
            dist::collective(comm, [&] {
                opt = options_from_cli<Options>(c);
                validate(static_cast<const NeighborEmbeddingOptions&>(opt), part.n);
            });
            if (opt.init == NeInit::pca && n_cols < opt.n_components) {  // as one process does
                warn("--init pca needs at least " + std::to_string(opt.n_components) + " input columns, the input has " +
                     std::to_string(n_cols) + "; using --init random");
                opt.init = NeInit::random;
            }
            Matrix<float> X = dist::read_npy_block(comm, part, o.inputs[0]);
            say(quiet_o, std::string(title) + " of " + std::to_string(part.n) + " x " + std::to_string(n_cols) +
                             " on " + std::to_string(comm.size()) + " ranks (" + comm.name() + "), " +
                             std::to_string(opt.n_threads) + " thread(s) each");
            TrainHooks hooks;
            hooks.who = title;
            // The split loss's sums are collective: every rank evaluates it at the same steps (rank 0 prints it).
            hooks.evaluate_loss = !o.quiet;
            const int max_iter = opt.max_iter;
            // Bytes sent between the first and the last progress event: the optimisation's per-iteration traffic.
            std::uint64_t first_bytes = 0, last_bytes = 0;
            std::int64_t first_step = -1, last_step = -1;
            hooks.callback = [&quiet_o, &comm, &first_bytes, &last_bytes, &first_step, &last_step, title,
                              max_iter](const TrainEvent& ev) {
                (first_step < 0 ? first_bytes : last_bytes) = comm.bytes_sent();
                (first_step < 0 ? first_step : last_step) = ev.step;
                if (!quiet_o.quiet)
                    std::fprintf(stderr, "  %-9s iteration %5lld/%d  %-19s  loss %.6g  (%s)\n", title,
                                 static_cast<long long>(ev.step), max_iter, ev.phase.c_str(), ev.loss,
                                 seconds(ev.elapsed).c_str());
                return false;
            };
            const std::uint64_t bytes0 = comm.bytes_sent();
            const NeResult r = dist::fit_ne(comm, part, X.view(), opt, hooks);
            say(quiet_o, std::to_string(r.n_iter) + " iterations (" + to_string(r.stop) + "); affinity " +
                             seconds(r.timings.affinity) + ", init " + seconds(r.timings.init) + ", optimize " +
                             seconds(r.timings.optimize) + "; total " + seconds(total.seconds()));
            if (o.verbose) {
                // Per iteration: the gradient rows' all-gather and the loss's own exchanges, measured between the
                // first and the last progress event (every check_interval iterations).
                const std::uint64_t run = last_step > first_step ? last_bytes - first_bytes : 0;
                const int steps = last_step > first_step ? static_cast<int>(last_step - first_step) : 0;
                const std::uint64_t total_bytes = comm.bytes_sent() - bytes0;
                const std::uint64_t prep = last_step > first_step && r.n_iter > 0
                                               ? total_bytes - run * static_cast<std::uint64_t>(r.n_iter) /
                                                                   static_cast<std::uint64_t>(steps)
                                               : total_bytes;
                say_bytes_sent(comm, quiet_o, "kNN + affinity + init", prep, run, steps, "iteration");
            }
            dist::write_npy_block(comm, part, o.output, dist::own_rows(comm, part, r.embedding), r.embedding.cols());
            if (!c.timings_json.empty() && comm.rank() == 0)
                write_text(c.timings_json,
                           nlohmann::json{{"seconds", total.seconds()}, {"iterations", r.n_iter},
                                          {"affinity", r.timings.affinity}, {"optimize", r.timings.optimize},
                                          {"ranks", comm.size()}}
                                   .dump() +
                               "\n");
        }
    });
}

template <class Method, class Options>
void run_method(NeCli& c, const char* title) {
    if (dist::launched_by_mpi()) return run_method_distributed<Options>(c, title);
    const CommonOptions& co = c.common;
    configure_logging(co);
    OutputSet out;
    out.add("-o", co.output, OutputKind::matrix);
    out.add("--plot", c.plot, OutputKind::plot);
    out.add("--metrics", c.metrics_json, OutputKind::json);
    out.add("--timings", c.timings_json, OutputKind::json);
    // TorchDR's non-parametric transform of new points against the fitted embedding (UMAP, LargeVis, InfoTSNE).
    constexpr bool can_transform = requires(const Options& t, MatrixView<float> x, MatrixView<double> y) {
        torchdr::transform(t, x, x, y);
    };
    require(c.transform_file.empty() == c.transform_output.empty(),
            "--transform and --transform-output go together (the new points and where their embedding goes)");
    if (!c.transform_file.empty()) {
        // With the encoder every method transforms (a forward pass); without it, TorchDR's transform.
        if constexpr (!can_transform) {
            if (!c.encoder) c.refuse("--transform");
        }
        out.add("--transform-output", c.transform_output, OutputKind::matrix);
    }
    require(c.save_model.empty() || c.encoder,
            "--save-model needs --encoder (a saved model is the trained network, which `nembed transform` applies; "
            "without it use --transform)");
    out.add("--save-model", c.save_model, OutputKind::directory);
    Options opt = options_from_cli<Options>(c);
    require(c.plot.empty() || opt.n_components <= 2, "--plot needs a 1-D or 2-D embedding (--n-components <= 2)");
    Timer total;
    Preprocessing preprocessing;
    Matrix<float> X = load_inputs(co, &preprocessing);
    const auto labels = load_label_files(co, X.rows());
    if (!opt.encoder.enabled && opt.init == NeInit::pca && X.cols() < opt.n_components) {
        warn("--init pca needs at least " + std::to_string(opt.n_components) + " input columns, the input has " +
             std::to_string(X.cols()) + "; using --init random");
        opt.init = NeInit::random;
    }
    validate(static_cast<const NeighborEmbeddingOptions&>(opt), X.rows());
    Matrix<float> X_new;
    if (!c.transform_file.empty()) {
        X_new = load_matrix<float>(c.transform_file);
        require(X_new.cols() == X.cols(), "--transform: " + std::to_string(X_new.cols()) +
                                              " columns, the training data has " + std::to_string(X.cols()));
    }

    // A bar on a terminal, a line with the loss at TorchDR's check points (every check_interval steps).
    std::unique_ptr<ProgressBar> bar;
    std::vector<double> per_check;
    double last = 0;
    const int max_iter = opt.max_iter;
    PartialResult partial(c.save_partial);
    TrainHooks hooks;
    hooks.who = title;
    hooks.evaluate_loss = !co.quiet;
    hooks.progress = [&](const TrainEvent& ev) {
        if (co.quiet) return;
        if (!bar) bar = std::make_unique<ProgressBar>(co.progress(), title, static_cast<std::size_t>(max_iter));
        bar->update(static_cast<std::size_t>(ev.step));
    };
    hooks.callback = [&](const TrainEvent& ev) {
        per_check.push_back(ev.elapsed - last);
        last = ev.elapsed;
        if (c.save_partial) partial.keep(ev.embedding, "after " + std::to_string(ev.step) + " iterations");
        if (!co.quiet) {
            if (bar) bar->finish();
            bar.reset();
            std::fprintf(stderr, "  %-9s iteration %5lld/%d  %-19s  loss %.6g  (%s)\n", title,
                         static_cast<long long>(ev.step), max_iter, ev.phase.c_str(), ev.loss,
                         seconds(ev.elapsed).c_str());
        }
        return false;
    };

    say(co, std::string(title) + " of " + std::to_string(X.rows()) + " x " + std::to_string(X.cols()) + ", " +
                std::to_string(opt.n_threads) + " thread(s)");
    NeResult r;
    try {
        r = Method(opt).fit_transform(X.view(), hooks);
    } catch (const Interrupted&) {
        partial.write_or_rethrow(co.output);
    }
    if (bar) bar->finish();
    const double fit_seconds = total.seconds();
    say(co, std::to_string(r.n_iter) + " iterations (" + to_string(r.stop) + "), loss " +
                (std::isnan(r.loss) ? std::string("n/a") : std::to_string(r.loss)) + "; total " +
                seconds(fit_seconds));
    save_matrix(out.staged(co.output), r.embedding.view());
    if (!c.transform_file.empty() && r.network) {
        const Matrix<double> Z = convert<double>(r.network->apply(X_new.view(), opt.n_threads).view());
        save_matrix(out.staged(c.transform_output), Z.view());
        say(co, "transformed " + std::to_string(Z.rows()) + " new points (the network's forward pass)");
    } else if constexpr (can_transform) {
        if (!c.transform_file.empty()) {
            TrainHooks th;
            th.who = title;
            const Matrix<double> Z = torchdr::transform(opt, X_new.view(), X.view(), r.embedding.view(), th);
            save_matrix(out.staged(c.transform_output), Z.view());
            say(co, "transformed " + std::to_string(Z.rows()) + " new points");
        }
    }
    if (!c.save_model.empty())
        save_model(out.staged(c.save_model), r, NeModelSettings{title, opt.random_state, r.n_iter}, preprocessing);
    if (!c.timings_json.empty()) {
        const nlohmann::json j = {{"seconds", fit_seconds},   {"iterations", r.n_iter},
                                  {"stop", to_string(r.stop)}, {"loss", std::isnan(r.loss) ? nlohmann::json() : nlohmann::json(r.loss)},
                                  {"per_check", per_check},   {"check_interval", opt.check_interval}};
        write_text(out.staged(c.timings_json), j.dump() + "\n");
    }
    if (!c.plot.empty()) {
        write_plot(out.staged(c.plot), r.embedding.view(), labels, co, std::string(title) + " (nembed)");
    }
    if (!labels.empty() || !c.metrics_json.empty()) {
        QualityInputs q{X.view(), r.embedding.view(), labels.empty() ? nullptr : &labels, nullptr};
        report_quality(co, q, c.metrics_json.empty() ? "" : out.staged(c.metrics_json));
    }
    out.commit();
}

// The methods of `nembed ne --method`: one line each (name, TorchDR's class name, its class and Options).
struct NeMethod {
    const char* name;
    void (*run)(NeCli&);
};
const NeMethod kMethods[] = {
    {"sne", [](NeCli& c) { run_method<torchdr::SNE, torchdr::SNEOptions>(c, "SNE"); }},
    {"tsne", [](NeCli& c) { run_method<torchdr::TSNE, torchdr::TSNEOptions>(c, "TSNE"); }},
    {"infotsne", [](NeCli& c) { run_method<torchdr::InfoTSNE, torchdr::InfoTSNEOptions>(c, "InfoTSNE"); }},
    {"largevis", [](NeCli& c) { run_method<torchdr::LargeVis, torchdr::LargeVisOptions>(c, "LargeVis"); }},
    {"umap", [](NeCli& c) { run_method<torchdr::UMAP, torchdr::UMAPOptions>(c, "UMAP"); }},
    {"pacmap", [](NeCli& c) { run_method<torchdr::PACMAP, torchdr::PACMAPOptions>(c, "PACMAP"); }},
    {"tsnekhorn", [](NeCli& c) { run_method<torchdr::TSNEkhorn, torchdr::TSNEkhornOptions>(c, "TSNEkhorn"); }},
    {"cosne", [](NeCli& c) { run_method<torchdr::COSNE, torchdr::COSNEOptions>(c, "COSNE"); }},
};

std::string method_names() {
    std::string s;
    for (const NeMethod& m : kMethods) s += (s.empty() ? "" : ", ") + std::string(m.name);
    return s;
}

void run_ne(NeCli& c) {
    const std::string name = to_lower(c.method);
    for (const NeMethod& m : kMethods)
        if (name == m.name) return m.run(c);
    throw InvalidArgument("--method: unknown method '" + c.method + "' (valid: " + method_names() + ")");
}

NeInit parse_init_or_file(const std::string& value, std::string& file) {
    try {
        file.clear();
        return parse_ne_init(value);
    } catch (const InvalidArgument&) {
        file = value;
        return NeInit::array;
    }
}

// One binder for `nembed ne` and the commands that fix its method (`nembed pacmap`): every TorchDR option, the
// method's Options deciding which apply (an option that does not is refused when given).
void add_ne_command(CLI::App& app, const std::string& command, const std::string& description,
                    const std::string& fixed_method) {
    auto c = std::make_shared<NeCli>();
    NeValues& v = c->v;
    auto* sub = app.add_subcommand(command, description);
    add_common_options(sub, c->common, true);
    if (fixed_method.empty())
        sub->add_option("--method", c->method, "Method: " + method_names())->capture_default_str();
    else
        c->method = fixed_method;
    auto& o = c->opts;
    const std::string dflt = " (default: the method's, TorchDR's)";
    o["--perplexity"] = sub->add_option("--perplexity", v.perplexity, "Perplexity of the entropic affinity")
                            ->capture_default_str();
    o["--max-iter-affinity"] =
        sub->add_option("--max-iter-affinity", v.max_iter_affinity, "Iterations of the perplexity calibration")
            ->capture_default_str();
    o["--neighbors"] = add_knn_method(sub, v.knn_method);
    o["--knn-shards"] = add_knn_shards(sub, v.knn_shards);
    o["--n-components"] = sub->add_option("--n-components", v.n_components, "Embedding dimension")
                              ->capture_default_str();
    o["--lr"] = add_optional(sub, "--lr", v.lr, "Learning rate: a number or auto" + dflt, "method's");
    o["--optimizer"] = sub->add_option("--optimizer", v.optimizer, "SGD or Adam" + dflt);
    o["--momentum"] = sub->add_option("--momentum", v.momentum, "optimizer_kwargs momentum (SGD); unset = auto");
    o["--weight-decay"] = sub->add_option("--weight-decay", v.weight_decay, "optimizer_kwargs weight_decay");
    o["--betas"] = sub->add_option("--betas", v.betas, "optimizer_kwargs betas (Adam): two numbers")->expected(2);
    o["--eps"] = sub->add_option("--eps", v.eps, "optimizer_kwargs eps (Adam)");
    o["--scheduler"] =
        sub->add_option("--scheduler", v.scheduler, "none, LinearLR, CosineAnnealingLR or ExponentialLR" + dflt);
    o["--scheduler-kwargs"] = sub->add_option(
        "--scheduler-kwargs", v.scheduler_kwargs_word,
        "auto (LinearLR from lr to 0 over max_iter) or none (torch's defaults)" + dflt);
    o["--start-factor"] = sub->add_option("--start-factor", v.start_factor, "scheduler_kwargs start_factor (LinearLR)");
    o["--end-factor"] = sub->add_option("--end-factor", v.end_factor, "scheduler_kwargs end_factor (LinearLR)");
    o["--total-iters"] = sub->add_option("--total-iters", v.total_iters, "scheduler_kwargs total_iters (LinearLR)");
    o["--T-max"] = sub->add_option("--T-max", v.T_max, "scheduler_kwargs T_max (CosineAnnealingLR)");
    o["--eta-min"] = sub->add_option("--eta-min", v.eta_min, "scheduler_kwargs eta_min (CosineAnnealingLR)");
    o["--gamma"] = sub->add_option("--gamma", v.gamma,
                                   "cosne: COSNE's gamma (Q = gamma/(D_H + gamma^2)); the other methods: "
                                   "scheduler_kwargs gamma (ExponentialLR)");
    o["--scheduler-gamma"] =
        sub->add_option("--scheduler-gamma", v.scheduler_gamma, "scheduler_kwargs gamma (ExponentialLR), any method");
    o["--min-grad-norm"] = sub->add_option("--min-grad-norm", v.min_grad_norm,
                                           "Stop when the gradient norm falls below this" + dflt);
    o["--max-iter"] = sub->add_option("--max-iter", v.max_iter, "Iterations" + dflt);
    o["--init"] = sub->add_option_function<std::string>(
                         "--init", [c](const std::string& s) { c->v.init = parse_init_or_file(s, c->v.init_file); },
                         "pca, random, normal, hyperbolic (cosne) or an array file (n x n-components)" + dflt)
                      ->type_name("TEXT");
    o["--init-scaling"] = sub->add_option("--init-scaling", v.init_scaling,
                                          "Standard deviation of the start's first column" + dflt);
    o["--early-exaggeration-coeff"] = sub->add_option("--early-exaggeration-coeff", v.early_exaggeration_coeff,
                                                      "Early exaggeration (1 = none)" + dflt);
    o["--early-exaggeration-iter"] = sub->add_option("--early-exaggeration-iter", v.early_exaggeration_iter,
                                                     "Early exaggeration iterations" + dflt);
    o["--repulsion-strength"] = sub->add_option("--repulsion-strength", v.repulsion_strength,
                                                "Weight of the repulsive term")
                                    ->capture_default_str();
    o["--check-interval"] = sub->add_option("--check-interval", v.check_interval,
                                            "Iterations between min_grad_norm tests (and progress lines)")
                                ->capture_default_str();
    o["--n-negatives"] = sub->add_option("--n-negatives", v.n_negatives,
                                         "Negatives per point (infotsne, largevis)" + dflt);
    o["--exclude-neighbors-from-negative-sampling"] =
        sub->add_option("--exclude-neighbors-from-negative-sampling", v.exclude_neighbors_from_negative_sampling,
                        "Never draw a neighbour as a negative (true/false; infotsne, largevis, umap, pacmap)" + dflt);
    o["--backend"] = add_enum(sub, "--backend", v.backend, parse_ne_backend,
                              "Repulsion of tsne: exact (TorchDR's), bh (Barnes-Hut) or fft");
    o["--theta"] = sub->add_option("--theta", v.theta, "Barnes-Hut accuracy (tsne --backend bh)")
                       ->capture_default_str();
    o["--process-duplicates"] = sub->add_option("--process-duplicates", v.process_duplicates,
                                                "Embed the unique rows, duplicates get their row's position "
                                                "(true/false)")
                                    ->capture_default_str();
    o["--metric"] = sub->add_option("--metric", v.metric,
                                    "Input metric: sqeuclidean, euclidean, manhattan, angular (pacmap: sqeuclidean "
                                    "or euclidean)")
                        ->capture_default_str();
    o["--n-neighbors"] = sub->add_option("--n-neighbors", v.n_neighbors, "Neighbours per point (pacmap, umap)" + dflt)
                             ->check(CLI::NonNegativeNumber);
    o["--MN-ratio"] = sub->add_option("--MN-ratio,--mn-ratio", v.MN_ratio, "Mid-near pairs per neighbour pair (pacmap)")
                          ->capture_default_str();
    o["--FP-ratio"] = sub->add_option("--FP-ratio,--fp-ratio", v.FP_ratio, "Further pairs per neighbour pair (pacmap)")
                          ->capture_default_str();
    o["--iter-per-phase"] = sub->add_option("--iter-per-phase", v.iter_per_phase,
                                            "Iterations of each weight phase (pacmap)")
                                ->capture_default_str();
    o["--learning-rate-for-h-loss"] =
        sub->add_option("--learning-rate-for-h-loss", v.learning_rate_for_h_loss,
                        "Weight of the norm-matching term (cosne)")
            ->capture_default_str();
    o["--lr-affinity-in"] = sub->add_option("--lr-affinity-in", v.lr_affinity_in,
                                            "Dual-ascent rate of the symmetric entropic affinity (tsnekhorn)")
                                ->capture_default_str();
    o["--eps-square-affinity-in"] =
        sub->add_option("--eps-square-affinity-in", v.eps_square_affinity_in,
                        "Optimise the affinity on eps^2 (true/false; tsnekhorn)")
            ->capture_default_str();
    o["--tol-affinity-in"] = sub->add_option("--tol-affinity-in", v.tol_affinity_in,
                                             "Tolerance of the symmetric entropic affinity (tsnekhorn)")
                                 ->capture_default_str();
    o["--max-iter-affinity-in"] = sub->add_option("--max-iter-affinity-in", v.max_iter_affinity_in,
                                                  "Iterations of the input affinity (tsnekhorn)")
                                      ->capture_default_str();
    o["--symmetric-affinity"] = sub->add_option("--symmetric-affinity", v.symmetric_affinity,
                                                "Symmetric entropic affinity, else entropic (true/false; tsnekhorn)")
                                    ->capture_default_str();
    o["--unrolling"] = sub->add_option("--unrolling", v.unrolling, "TorchDR's unrolling (tsnekhorn; only false)")
                           ->capture_default_str();
    o["--min-dist"] = sub->add_option("--min-dist", v.min_dist, "Minimum distance of the output kernel (umap)")
                          ->capture_default_str();
    o["--spread"] = sub->add_option("--spread", v.spread, "Spread of the output kernel (umap)")->capture_default_str();
    o["--a"] = sub->add_option("--a", v.a, "Kernel a (umap; with --b; default: fitted to min-dist and spread)");
    o["--b"] = sub->add_option("--b", v.b, "Kernel b (umap; with --a)");
    o["--negative-sample-rate"] = sub->add_option("--negative-sample-rate", v.negative_sample_rate,
                                                  "Negatives per active edge (umap)")
                                      ->capture_default_str();
    sub->add_flag("--encoder", c->encoder,
                  "TorchDR's encoder: a network maps the data to the map, trained in mini-batches on the method's "
                  "loss; --save-model keeps it for `nembed transform`");
    o["--hidden"] = sub->add_option("--hidden", c->enc.network.hidden, "Encoder: hidden layer widths")
                        ->delimiter(',')
                        ->capture_default_str();
    o["--activation"] = add_enum(sub, "--activation", c->enc.network.hidden_activation, parse_activation,
                                 "Encoder: hidden activation (relu, softplus, tanh or identity) [relu]");
    o["--network-init"] = add_enum(sub, "--network-init", c->enc.network.init, parse_mlp_init,
                                   "Encoder: weight initialisation (torch_default, he_normal, he_uniform, "
                                   "xavier_normal, xavier_uniform) [torch_default]");
    o["--network-precision"] = add_enum(sub, "--network-precision", c->enc.network.precision, parse_precision,
                                        "Encoder: the network's products in float32 or bf16 (bfloat16 operands, "
                                        "float32 sums and weights; needs oneDNN) [float32]");
    o["--no-input-normalization"] = sub->add_flag_callback(
        "--no-input-normalization", [c] { c->enc.network.normalize_inputs = false; },
        "Encoder: the network reads the raw rows, as TorchDR's (default: centred and scaled by the training data's "
        "mean and RMS, saved with the model, so that the map does not depend on where the data sits)");
    o["--encoder-batch-size"] = sub->add_option("--encoder-batch-size", c->enc.batch_size,
                                                "Encoder: points per network update")
                                    ->capture_default_str();
    o["--encoder-lr"] = sub->add_option("--encoder-lr", c->enc.learning_rate, "Encoder: the network's learning rate")
                            ->capture_default_str();
    o["--encoder-optimizer"] =
        sub->add_option("--encoder-optimizer", c->enc.optimizer, "Encoder: Adam or SGD")->capture_default_str();
    sub->add_option("--save-model", c->save_model,
                    "With --encoder: save the network as a model directory for `nembed transform`");
    sub->add_option("--transform", c->transform_file,
                    "New points (n_new x D) to embed against the fit with TorchDR's transform (umap, largevis, "
                    "infotsne; any method with --encoder: the network's forward pass); needs --transform-output");
    sub->add_option("--transform-output", c->transform_output, "Where the new points' embedding goes (.npy, .csv)");
    add_method_outputs(sub, c->plot, c->metrics_json, c->timings_json, c->common.plot);
    sub->add_flag("--save-partial", c->save_partial,
                  "On Ctrl-C / SIGTERM write the embedding of the last check point to -o");
    sub->callback([c] { run_ne(*c); });
}

} // namespace

void register_ne(CLI::App& app) {
    add_ne_command(app, "ne",
                   "TorchDR's neighbour embeddings (--method " + method_names() +
                       ") with TorchDR's parameter names and each method's TorchDR defaults",
                   "");
}

// nembed pacmap: `nembed ne --method pacmap` under its own name (the same options and defaults, TorchDR's).
void register_pacmap(CLI::App& app) {
    add_ne_command(app, "pacmap", "PACMAP with TorchDR's model and defaults (= nembed ne --method pacmap)", "pacmap");
}

} // namespace nembed::cli
