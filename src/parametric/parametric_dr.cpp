// paraDime's ParametricDR and its predefined routines (parametric/parametric_dr.hpp).
#include "nembed/parametric/parametric_dr.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <sstream>

#include "nembed/core/error.hpp"
#include "nembed/core/log.hpp"
#include "nembed/init/pca.hpp"
#include "nembed/init/spectral.hpp"
#include "nembed/optim/adam.hpp"
#include "nembed/parametric/network_parametrization.hpp"
#include "nembed/train/parametrization.hpp"

namespace nembed::paradime {

DerivedData::Kind parse_derived_data(const std::string& name) {
    if (name == "pca") return DerivedData::Kind::pca;
    if (name == "spectral") return DerivedData::Kind::spectral;
    throw InvalidArgument("unknown derived data '" + name + "' (known: pca, spectral)");
}

ParametricDR::ParametricDR(ParametricDROptions options, std::map<std::string, GlobalRelations> global_relations,
                           std::map<std::string, BatchRelations> batch_relations,
                           std::map<std::string, DerivedData> derived_data, std::vector<TrainingPhase> phases)
    : options_(std::move(options)), global_(std::move(global_relations)), batch_(std::move(batch_relations)),
      derived_(std::move(derived_data)) {
    require(options_.out_dim >= 1, "ParametricDR: out_dim must be >= 1");
    require(options_.n_threads >= 1, "ParametricDR: n_threads must be >= 1");
    for (std::size_t h : options_.hidden_dims) require(h >= 1, "ParametricDR: hidden_dims must be >= 1");
    require(std::isfinite(options_.input_row_norm) && options_.input_row_norm >= 0.0,
            "ParametricDR: input_row_norm must be finite and >= 0 (0: unit RMS per entry), got " +
                std::to_string(options_.input_row_norm));
    for (const auto& [k, r] : global_) validate(r);
    for (const auto& [k, r] : batch_) {
        validate(r);
        std::vector<TransformParams> p;
        for (const Transform& t : r.transform) p.push_back(initial_params(t));
        params_[k] = p;
    }
    for (TrainingPhase& p : phases) add_training_phase(std::move(p));
}

void ParametricDR::add_to_dataset(const std::string& key, Matrix<double> positions) {
    require_finite(positions.view(), "dataset entry '" + key + "'");
    dataset_.positions[key] = std::move(positions);
}

namespace {
void name_losses(Loss& l, int& counter) {
    if (l.name.empty()) {
        static const char* prefix[] = {"rel_loss", "pos_loss", "class_loss", "recon_loss", "comp_loss", "custom"};
        l.name = std::string(prefix[static_cast<int>(l.kind)]) + "_" + std::to_string(counter++);
    }
    for (Loss& s : l.losses) name_losses(s, counter);
}

// The batch and global relation keys and positions a loss reads.
void check_loss(const Loss& l, const TrainingPhase& ph, const std::map<std::string, GlobalRelations>& g,
                const std::map<std::string, BatchRelations>& b) {
    const std::string who = "training phase '" + ph.name + "': " + to_string(l.kind) + " '" + l.name + "': ";
    if (l.kind == LossKind::relation) {
        require(b.count(l.batch_relation_key) == 1, who + "no batch relations '" + l.batch_relation_key + "'");
        const bool from_to = b.at(l.batch_relation_key).kind == BatchRelationKind::dists_from_to;
        if (from_to)
            require(ph.sampling == Sampling::negative_edge,
                    who + "DistsFromTo needs sampling 'negative_edge' (paraDime's rule)");
        else
            require(g.count(l.global_relation_key) == 1, who + "no global relations '" + l.global_relation_key + "'");
    }
    for (const Loss& s : l.losses) check_loss(s, ph, g, b);
}
} // namespace

void ParametricDR::add_training_phase(TrainingPhase phase) {
    validate(phase);
    name_losses(phase.loss, loss_counter_);
    check_loss(phase.loss, phase, global_, batch_);
    if (phase.sampling == Sampling::negative_edge)
        require(global_.count(phase.edge_rel_key) == 1,
                "training phase '" + phase.name + "': no global relations '" + phase.edge_rel_key + "' to sample from");
    phases_.push_back(std::move(phase));
}

void ParametricDR::compute_global_relations(MatrixView<float> X) {
    require_fit_data(X, std::string("ParametricDR"));
    if (!global_data_.empty()) {
        require(X.rows == n_points_, "ParametricDR: global relations were computed for " + std::to_string(n_points_) +
                                         " points, got " + std::to_string(X.rows));
        return;
    }
    n_points_ = X.rows;
    for (const auto& [k, r] : global_) global_data_[k] = paradime::compute_global_relations(r, X, options_.n_threads);
}

void ParametricDR::compute_derived_data(MatrixView<float> X) { compute_derived_data(X, nullptr); }

void ParametricDR::compute_derived_data(MatrixView<float> X, const InputNormalization* fitted_map) {
    for (const auto& [key, dd] : derived_) {
        if (dataset_.positions.count(key)) continue;
        const std::size_t nc = dd.n_components ? dd.n_components : options_.out_dim;
        Matrix<double> out;
        if (dd.kind == DerivedData::Kind::pca) {
            require(nc <= X.cols, "derived data '" + key + "': PCA needs n_components <= the data's dimension, got " +
                                      "n_components " + std::to_string(nc) + " for data of " + std::to_string(X.cols) +
                                      " feature(s) (use fewer output dimensions or no PCA initialization)");
            // The leading components only (Lanczos on the implicit covariance): the full D x D eigendecomposition of
            // 784 pixel columns was most of the routine's fixed cost.
            out = convert<double>(pca_leading(X, nc, options_.n_threads).scores.view());
            // With the network's input map (normalize_inputs), the PCA of the rows as the network reads them: the
            // scores divided by the map's scale (centring leaves them alone), so that the position phase's targets do
            // not depend on the data's scale either (0–255 pixels put them 255× further out than [0, 1] pixels, and
            // ParametricTSNE's recall fell from 0.22 to 0.07). Without the map, paraDime's raw scores.
            if (options_.normalize_inputs) {
                const double inv = 1.0 / (fitted_map ? fitted_map->scale
                                                      : InputNormalization::fit(X, options_.n_threads,
                                                                                options_.input_row_norm)
                                                            .scale);
                for (std::size_t i = 0; i < out.size(); ++i) out.data()[i] *= inv;
            }
        } else {
            compute_global_relations(X);
            auto it = global_data_.find(dd.rel_key);
            require(it != global_data_.end() && !it->second.lazy_pdist,
                    "derived data '" + key + "': spectral needs sparse global relations '" + dd.rel_key + "'");
            SpectralOptions so;
            so.add_jitter = false;
            so.seed = options_.seed;
            so.n_threads = options_.n_threads;
            out = spectral_init(it->second.sparse, nc, so);
            // paraDime standardises each coordinate (mean 0, std 1: torch's unbiased std).
            const std::size_t n = out.rows();
            for (std::size_t c = 0; c < nc; ++c) {
                double m = 0.0, v = 0.0;
                for (std::size_t i = 0; i < n; ++i) m += out(i, c);
                m /= static_cast<double>(n);
                for (std::size_t i = 0; i < n; ++i) v += (out(i, c) - m) * (out(i, c) - m);
                const double sd = std::sqrt(v / static_cast<double>(n - 1));
                for (std::size_t i = 0; i < n; ++i) out(i, c) = sd > 0 ? (out(i, c) - m) / sd : 0.0;
            }
        }
        dataset_.positions[key] = std::move(out);
    }
}

namespace {
void check_positions(const Loss& l, const Dataset& ds, std::size_t n, std::size_t d, bool external) {
    if (l.kind == LossKind::position) {
        auto it = ds.positions.find(l.position_key);
        require(it != ds.positions.end(), "PositionLoss '" + l.name + "': no dataset entry '" + l.position_key + "'");
        require(it->second.rows() == n && it->second.cols() == d,
                "PositionLoss '" + l.name + "': dataset entry '" + l.position_key + "' must be " + std::to_string(n) +
                    " x " + std::to_string(d));
    }
    if (!external && (l.kind == LossKind::classification || l.kind == LossKind::reconstruction ||
                      l.kind == LossKind::custom))
        throw InvalidArgument(to_string(l.kind) + " '" + l.name +
                              "' needs a model with a classify or decode head; the built-in network only embeds (use a "
                              "PyTorch module through nembed.paradime)");
    for (const Loss& s : l.losses) check_positions(s, ds, n, d, external);
}
} // namespace

void ParametricDR::train(MatrixView<float> X, Parametrization& model, const TrainHooks& hooks) {
    require(options_.full_batch.iterations == 0,
            "ParametricDR: the full-batch phase trains the built-in network only (train(X) without a model)");
    train_phases(X, model, hooks);
}

void ParametricDR::train_phases(MatrixView<float> X, Parametrization& model, const TrainHooks& hooks) {
    require(!phases_.empty(), "ParametricDR: no training phase (add_training_phase)");
    require_fit_data(X, std::string("ParametricDR"));
    require(model.n_points() == X.rows, "ParametricDR: the model covers " + std::to_string(model.n_points()) +
                                            " points, the data has " + std::to_string(X.rows));
    require(model.n_components() == options_.out_dim, "ParametricDR: the model embeds in " +
                                                          std::to_string(model.n_components()) +
                                                          " dimensions, out_dim is " + std::to_string(options_.out_dim));
    compute_global_relations(X);
    const auto* net = dynamic_cast<const NetworkParametrization*>(&model);
    compute_derived_data(X, net && !net->network().input_normalization_pending()
                                ? &net->network().input_normalization()
                                : nullptr);
    for (const TrainingPhase& p : phases_) check_positions(p.loss, dataset_, X.rows, options_.out_dim, bool(external_));

    ParadimePlan plan(phases_, global_data_, batch_, params_, dataset_, X.rows, options_.seed);
    plan.set_verbose(options_.verbose);
    plan.set_external_loss(external_);
    plan.set_phase_start(phase_start_);
    Adam unused;  // the plan holds each phase's optimizer (paraDime creates one per phase)
    Trainer trainer(plan, model, unused, options_.n_threads);
    for (const TrainingPhase& p : phases_) {
        Phase ph;
        ph.name = p.name;
        ph.n_steps = p.epochs;
        if (p.lr_anneal == LrAnneal::none) {
            ph.learning_rate = p.learning_rate;
        } else {
            LrSchedule s;
            s.learning_rate = p.learning_rate;
            s.anneal = p.lr_anneal;
            s.total_epochs = p.epochs;
            ph.schedule = s;
        }
        trainer.add_phase(ph);
    }
    trainer.run(-1, hooks);
    for (const PhaseHistory& h : plan.histories()) histories_.push_back(h);
    warn_if_collapsed(plan.histories());
}

void ParametricDR::warn_if_collapsed(const std::vector<PhaseHistory>& run) const {
    // Only the final map counts: a map that shrank below the radius in an early phase and grew again is fine.
    if (run.empty() || !(run.back().radius < collapse_radius)) return;
    std::size_t first = run.size() - 1;
    while (first > 0 && run[first - 1].radius < collapse_radius) --first;
    const auto ph = std::find_if(phases_.begin(), phases_.end(),
                                 [&](const TrainingPhase& p) { return p.name == run[first].phase; });
    std::ostringstream os;
    os.precision(2);
    os << "ParametricDR: the embedding collapsed to a point (RMS distance to its centroid " << run.back().radius
       << " after phase '" << run.back().phase << "', below " << collapse_radius << " since phase '"
       << run[first].phase << "'): the network maps every point to almost the same position, where the loss passes "
          "no useful gradient, so training cannot spread it again (docs/parametric.md, \"Collapse\").";
    if (ph != phases_.end())
        os << " Phase '" << ph->name << "' ran at learning rate " << ph->learning_rate << " with batches of "
           << ph->batch_size << "; a lower rate (paraDime's UMAP tutorial: 0.01, batches of 500, 10 epochs) or "
           << "another seed avoids it.";
    warn(os.str());
}

void ParametricDR::train(MatrixView<float> X, const TrainHooks& hooks) {
    require_fit_data(X, std::string("ParametricDR"));
    const FullBatchOptions& fb = options_.full_batch;
    validate(fb);
    MlpOptions mo;
    mo.hidden.assign(options_.hidden_dims.begin(), options_.hidden_dims.end());
    mo.hidden_activation = options_.hidden_activation;  // paraDime's FullyConnectedEmbeddingModel: Softplus
    mo.precision = options_.network_precision;
    mo.normalize_inputs = options_.normalize_inputs;
    mo.seed = options_.seed;
    // Chunks of 256 rows with batch phases: paraDime's batches of 500 (both routines' position phases, ParametricTSNE's
    // KL phase) are then two chunks, one per core, instead of one chunk of 512 on one core (the chunks fix the bits,
    // not the threads). A full-batch-only routine keeps the default: its run is the encoder's, bit for bit.
    // The same for the input map's row-norm target: a full-batch-only routine reads unit-RMS rows, as the encoder.
    if (!phases_.empty()) mo.chunk_rows = 256, mo.input_row_norm = options_.input_row_norm;
    Mlp net(X.cols, options_.out_dim, mo);
    if (!phases_.empty() || fb.iterations == 0) {
        auto data =
            std::make_shared<const Matrix<float>>(X.rows, X.cols, std::vector<float>(X.data, X.data + X.size()));
        NetworkParametrization model(data, std::move(net), options_.n_threads);
        train_phases(X, model, hooks);
        net = model.network();
    }
    if (fb.iterations > 0) net = train_full_batch(X, net, fb, options_.seed, options_.n_threads, options_.verbose);
    net_ = std::move(net);
    n_inputs_ = X.cols;
}

Matrix<double> ParametricDR::apply(MatrixView<float> X) const {
    require(n_inputs_ > 0, "ParametricDR.apply: the built-in network is not trained (call train first)");
    require(X.cols == n_inputs_, "ParametricDR.apply: the data has " + std::to_string(X.cols) +
                                     " features, the model was trained on " + std::to_string(n_inputs_));
    require_finite(X, "input data");
    return convert<double>(net_.apply(X, options_.n_threads).view());
}

void ParametricDR::set_network(Mlp net) {
    require(net.n_inputs() > 0 && net.n_outputs() == options_.out_dim,
            "ParametricDR: the network embeds in " + std::to_string(net.n_outputs()) + " dimensions, out_dim is " +
                std::to_string(options_.out_dim));
    n_inputs_ = net.n_inputs();
    net_ = std::move(net);
}

void ParametricDR::set_transform_params(const std::string& key, std::vector<TransformParams> params) {
    auto it = params_.find(key);
    require(it != params_.end(), "ParametricDR: no batch relations '" + key + "'");
    require(params.size() == it->second.size(), "ParametricDR: batch relations '" + key + "' have " +
                                                    std::to_string(it->second.size()) + " transforms, got " +
                                                    std::to_string(params.size()) + " parameter sets");
    it->second = std::move(params);
}

const GlobalRelationData& ParametricDR::global_relation_data(const std::string& key) const {
    auto it = global_data_.find(key);
    require(it != global_data_.end(), "ParametricDR: no computed global relations '" + key + "'");
    return it->second;
}

const std::vector<TransformParams>& ParametricDR::transform_params(const std::string& key) const {
    auto it = params_.find(key);
    require(it != params_.end(), "ParametricDR: no batch relations '" + key + "'");
    return it->second;
}

namespace {
// The routines' first phase: fit the network to derived positions (PCA or spectral) before the relation loss.
TrainingPhase position_phase(const char* name, const char* position_key, const char* loss_name, int batch_size,
                             int epochs, double learning_rate) {
    TrainingPhase init;
    init.name = name;
    init.loss = Loss::PositionLoss(position_key);
    init.loss.name = loss_name;
    init.batch_size = batch_size;
    init.epochs = epochs;
    init.learning_rate = learning_rate;
    return init;
}
} // namespace

ParametricDR ParametricTSNE(const ParametricTSNEOptions& o, ParametricDROptions options) {
    GlobalRelations g;
    g.kind = GlobalRelationKind::neighbor_based_pdist;
    g.transform = {Transform::PerplexityBasedRescale(o.perplexity), Transform::Symmetrize(), Transform::Normalize()};
    BatchRelations b;
    b.kind = BatchRelationKind::differentiable_pdist;
    b.transform = {Transform::StudentTTransform(o.alpha), Transform::Normalize()};
    std::map<std::string, DerivedData> derived;
    std::vector<TrainingPhase> phases;
    require(o.initialization == "pca" || o.initialization == "none",
            "ParametricTSNE: initialization must be 'pca' or 'none', got '" + o.initialization + "'");
    // 0 stands for "as the main phase"; a negative value is a mistake, not that default.
    require(o.init_batch_size >= 0,
            "ParametricTSNE: init_batch_size must be >= 0 (0: batch_size), got " + std::to_string(o.init_batch_size));
    require(o.init_learning_rate >= 0, "ParametricTSNE: init_learning_rate must be >= 0 (0: learning_rate), got " +
                                           std::to_string(o.init_learning_rate));
    if (o.initialization == "pca") {
        derived["pca"] = {DerivedData::Kind::pca, "rel", 0};
        phases.push_back(position_phase("pca_init", "pca", "init",
                                        o.init_batch_size > 0 ? o.init_batch_size : o.batch_size, o.init_epochs,
                                        o.init_learning_rate > 0 ? o.init_learning_rate : o.learning_rate));
    }
    require(o.early_exaggeration_epochs >= 0, "ParametricTSNE: early_exaggeration_epochs must be >= 0");
    require(o.full_batch_iterations >= 0, "ParametricTSNE: full_batch_iterations must be >= 0");
    if (o.full_batch_iterations > 0) {
        options.full_batch.iterations = o.full_batch_iterations;
        options.full_batch.learning_rate = o.full_batch_learning_rate;
        options.full_batch.method = "tsne";
        options.full_batch.perplexity = o.perplexity;
        options.full_batch.early_exaggeration = o.full_batch_exaggeration;
        validate(options.full_batch);
        // The full-batch phase replaces the batch KL phases (the PCA phase stays as its start), or follows them.
        if (!o.full_batch_after_kl)
            return ParametricDR(std::move(options), {{"rel", g}}, {{"rel", b}}, std::move(derived), std::move(phases));
    }
    if (o.early_exaggeration_epochs > 0) {
        TrainingPhase ee;
        ee.name = "early_exaggeration";
        ee.loss = Loss::RelationLoss(RelationLossFunction::kullback_leibler_div);
        ee.loss.name = "early_exaggeration";
        ee.loss.exaggeration = o.early_exaggeration;
        ee.batch_size = o.batch_size;
        ee.epochs = o.early_exaggeration_epochs;
        ee.learning_rate = o.learning_rate;
        phases.push_back(ee);
    }
    TrainingPhase main;
    main.name = "embedding";
    main.loss = Loss::RelationLoss(RelationLossFunction::kullback_leibler_div);
    main.loss.name = "embedding";
    main.batch_size = o.batch_size;
    main.epochs = o.epochs;
    main.learning_rate = o.learning_rate;
    main.lr_anneal = parse_lr_anneal(o.lr_anneal);
    phases.push_back(main);
    return ParametricDR(std::move(options), {{"rel", g}}, {{"rel", b}}, std::move(derived), std::move(phases));
}

ParametricDR ParametricUMAP(const ParametricUMAPOptions& o, ParametricDROptions options) {
    GlobalRelations g;
    g.kind = GlobalRelationKind::neighbor_based_pdist;
    g.transform = {Transform::ConnectivityBasedRescale(o.n_neighbors), Transform::Symmetrize(true)};
    BatchRelations b;
    b.kind = BatchRelationKind::dists_from_to;
    b.transform = {Transform::ModifiedCauchyTransform(o.min_dist, o.spread, o.a, o.b)};
    std::map<std::string, DerivedData> derived;
    std::vector<TrainingPhase> phases;
    require(o.initialization == "spectral" || o.initialization == "none",
            "ParametricUMAP: initialization must be 'spectral' or 'none', got '" + o.initialization + "'");
    if (o.initialization == "spectral") {
        derived["spectral"] = {DerivedData::Kind::spectral, "rel", 0};
        phases.push_back(position_phase("spectral_init", "spectral", "spectral_init", o.init_batch_size,
                                        o.init_epochs, o.init_learning_rate));
    }
    require(o.full_batch_iterations >= 0, "ParametricUMAP: full_batch_iterations must be >= 0");
    if (o.full_batch_iterations > 0) {
        // The full-batch phase replaces the negative-edge phase (the spectral phase stays as its start).
        require(!o.a && !o.b, "ParametricUMAP: the full-batch phase fits its kernel to min_dist and spread; a and b "
                              "are not used there");
        options.full_batch.iterations = o.full_batch_iterations;
        options.full_batch.learning_rate = o.full_batch_learning_rate;
        options.full_batch.method = "umap";
        options.full_batch.n_neighbors = static_cast<int>(o.n_neighbors);
        options.full_batch.min_dist = o.min_dist;
        options.full_batch.spread = o.spread;
        validate(options.full_batch);
        return ParametricDR(std::move(options), {{"rel", g}}, {{"rel", b}}, std::move(derived), std::move(phases));
    }
    TrainingPhase main;
    main.name = "embedding";
    main.loss = Loss::RelationLoss(RelationLossFunction::cross_entropy_loss);
    main.loss.name = "embedding";
    main.sampling = Sampling::negative_edge;
    main.neg_sampling_rate = o.negative_sampling_rate;
    main.batch_size = o.batch_size;
    main.batches_per_epoch = o.batches_per_epoch;
    main.epochs = o.epochs;
    main.learning_rate = o.learning_rate;
    main.lr_anneal = parse_lr_anneal(o.lr_anneal);
    phases.push_back(main);
    return ParametricDR(std::move(options), {{"rel", g}}, {{"rel", b}}, std::move(derived), std::move(phases));
}

namespace {
void full_batch_network(ParametricDROptions& options) {
    // A wider network pays off only without the batches' noise (bench/RESULTS.md, p31; p29 for the batch phases).
    options.hidden_dims = {256, 256, 256};
    options.hidden_activation = Activation::relu;
}
} // namespace

void full_batch_preset(ParametricTSNEOptions& tsne, ParametricDROptions& options) {
    tsne.initialization = "none";  // the PCA phase's start scored lower (recall 0.487 vs 0.495; p31)
    tsne.full_batch_iterations = 1000;
    tsne.full_batch_learning_rate = 0.003;
    full_batch_network(options);
}

void full_batch_preset(ParametricUMAPOptions& umap, ParametricDROptions& options) {
    // The default spectral phase (rate 0.05, batches of 100) kills the ReLU network's units on Fashion-MNIST
    // (a constant map, as in "Collapse"): the preset starts from the fresh network.
    umap.initialization = "none";
    umap.full_batch_iterations = 1000;
    umap.full_batch_learning_rate = 0.003;
    full_batch_network(options);
}

} // namespace nembed::paradime
