#pragma once
/// @file parametric_dr.hpp
/// paraDime's ParametricDR routine (docs/parametric.md, "paraDime"): global relations, batch relations, derived
/// data, training phases and a model, trained by the one Trainer over the paraDime batch plan.
///
///   ParametricDR dr(opts, {{"rel", global}}, {{"rel", batch}}, {{"pca", {DerivedData::Kind::pca}}});
///   dr.add_training_phase(init_phase);
///   dr.add_training_phase(main_phase);
///   dr.train(X, model);          // any Parametrization of X's rows (a network, an embedding table)
///
/// Derived data are paraDime's: "pca" (the data's first out_dim principal components, init/pca) and "spectral"
/// (init/spectral on the sparse global relation, each column standardised; never a dense n x n matrix).
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/parametric/full_batch.hpp"
#include "nembed/parametric/mlp.hpp"
#include "nembed/parametric/paradime_plan.hpp"
#include "nembed/parametric/relations.hpp"
#include "nembed/parametric/training_phase.hpp"
#include "nembed/train/trainer.hpp"

namespace nembed {
class Parametrization;
}

namespace nembed::paradime {

struct DerivedData {
    enum class Kind { pca, spectral };
    Kind kind = Kind::pca;
    std::string rel_key = "rel";     ///< spectral: the global relation it reads
    std::size_t n_components = 0;    ///< 0: the routine's out_dim
};
/// "pca", "spectral"; throws InvalidArgument naming the bad value.
DerivedData::Kind parse_derived_data(const std::string& name);

struct ParametricDROptions {
    std::size_t out_dim = 2;                      ///< >= 1
    std::vector<std::size_t> hidden_dims{100, 50};  ///< the built-in network's hidden widths (paraDime's default)
    Activation hidden_activation = Activation::softplus;  ///< the built-in network's (paraDime's: Softplus)
    Precision network_precision = Precision::float32;     ///< the built-in network's products (MlpOptions::precision)
    /// Not in paraDime (MlpOptions::normalize_inputs): the built-in network reads the rows centred and scaled by the
    /// training data's mean and RMS, so that the map does not depend on where the data sits. false: paraDime's raw rows.
    bool normalize_inputs = true;
    /// The map's target RMS row norm with batch phases (MlpOptions::input_row_norm; 0: unit RMS per entry). 8: the
    /// scale where paraDime's routines fit best on pixels and on PCA-50 rows (docs/parametric.md §1). A
    /// full-batch-only routine keeps the encoder's unit RMS (its run is TorchDR's encoder run, bit for bit).
    double input_row_norm = 8.0;
    /// Not in paraDime: a full-batch phase after the batch phases, built-in network only (full_batch.hpp).
    FullBatchOptions full_batch{};
    std::uint64_t seed = 0;
    int n_threads = 1;                            ///< resolved, >= 1
    bool verbose = false;
};

class ParametricDR {
public:
    ParametricDR(ParametricDROptions options, std::map<std::string, GlobalRelations> global_relations,
                 std::map<std::string, BatchRelations> batch_relations,
                 std::map<std::string, DerivedData> derived_data = {}, std::vector<TrainingPhase> phases = {});

    /// Adds named positions (n x out_dim) for PositionLoss; replaces an entry of the same key.
    void add_to_dataset(const std::string& key, Matrix<double> positions);
    /// Appends a phase (validated; unnamed losses get paraDime's "<prefix>_<number>" names).
    void add_training_phase(TrainingPhase phase);

    /// The global relations of X (computed once; X must stay alive while a PDist relation is used).
    void compute_global_relations(MatrixView<float> X);
    /// The derived data of X and the global relations ("other" before, "rel_based" after them in paraDime).
    void compute_derived_data(MatrixView<float> X);
    /// Runs every phase on `model`, a parametrisation of X's rows (n_points() == X.rows, n_components() ==
    /// out_dim). Computes relations and derived data first if needed. Throws InvalidArgument for data of the wrong
    /// shape, an unknown relation key, a loss the model cannot evaluate, no phase, a full-batch phase set.
    void train(MatrixView<float> X, Parametrization& model, const TrainHooks& hooks = {});
    /// Trains paraDime's default model, the built-in network in → hidden_dims → out_dim with Softplus
    /// (parametric/mlp.hpp, torch's initialisation from the seed), then the full-batch phase when
    /// options.full_batch.iterations > 0 (the batch phases may then be none).
    void train(MatrixView<float> X, const TrainHooks& hooks = {});
    /// The trained built-in network on new rows (X.cols must match the training data; else InvalidArgument).
    Matrix<double> apply(MatrixView<float> X) const;
    /// The built-in network (empty before train(X)).
    const Mlp& network() const { return net_; }
    /// Restores a trained built-in network (a reloaded routine: Python's pickling); apply() then uses it. Throws
    /// InvalidArgument when its outputs are not out_dim.
    void set_network(Mlp net);
    /// Restores the parameters (α, a, b) of batch relation `key`'s transforms (one per transform; learnable ones are
    /// trained). Throws InvalidArgument for an unknown key or a count that differs from the transforms'.
    void set_transform_params(const std::string& key, std::vector<TransformParams> params);

    /// Hooks for a model that evaluates some losses itself (the PyTorch plug-in); see paradime_plan.hpp. With an
    /// external loss set, ClassificationLoss, ReconstructionLoss and custom losses are passed to it.
    void set_external_loss(ExternalLoss f) { external_ = std::move(f); }
    void set_phase_start(PhaseStart f) { phase_start_ = std::move(f); }

    const ParametricDROptions& options() const { return options_; }
    const std::vector<TrainingPhase>& training_phases() const { return phases_; }
    const GlobalRelationData& global_relation_data(const std::string& key) const;
    const Dataset& dataset() const { return dataset_; }
    /// Per phase trained so far, per loss name, one sum per epoch.
    const std::vector<PhaseHistory>& histories() const { return histories_; }
    /// The transform parameters of a batch relation (α, a, b: trained when learnable).
    const std::vector<TransformParams>& transform_params(const std::string& key) const;

private:
    /// compute_derived_data with the training network's fitted input map, if any: the PCA targets reuse its scale
    /// instead of fitting the map to X a second time.
    void compute_derived_data(MatrixView<float> X, const InputNormalization* fitted_map);
    /// The batch phases on `model` (what train(X, model) runs).
    void train_phases(MatrixView<float> X, Parametrization& model, const TrainHooks& hooks);
    /// Warns (nembed::warn) when the run's final map has collapsed to a point (radius < collapse_radius), naming
    /// the phase where it collapsed and its rate.
    void warn_if_collapsed(const std::vector<PhaseHistory>& run) const;

    ParametricDROptions options_;
    std::map<std::string, GlobalRelations> global_;
    std::map<std::string, BatchRelations> batch_;
    std::map<std::string, DerivedData> derived_;
    std::vector<TrainingPhase> phases_;
    std::map<std::string, GlobalRelationData> global_data_;
    std::map<std::string, std::vector<TransformParams>> params_;
    Dataset dataset_;
    std::vector<PhaseHistory> histories_;
    std::size_t n_points_ = 0;
    int loss_counter_ = 0;
    Mlp net_;
    ExternalLoss external_;
    PhaseStart phase_start_;
    std::size_t n_inputs_ = 0;
};

/// paraDime's ParametricTSNE defaults (contrastive.md §4.2).
struct ParametricTSNEOptions {
    double perplexity = 30.0;
    double alpha = 1.0;
    std::string initialization = "pca";   ///< "pca" or "none"
    int epochs = 30;
    int init_epochs = 10;
    int batch_size = 500;
    int init_batch_size = 0;              ///< 0: batch_size
    double learning_rate = 0.01;
    double init_learning_rate = 0.0;      ///< 0: learning_rate
    // Not in paraDime (defaults keep its routine; docs/parametric.md, "Closing the gap", "Full batch"):
    /// > 0: the batch KL phases are replaced by this many full-batch iterations of t-SNE's loss (the PCA phase
    /// stays as the start); with full_batch_preset's network this reaches t-SNE's training recall.
    int full_batch_iterations = 0;
    double full_batch_learning_rate = 0.003;
    /// true: keep the batch KL phases and run the full-batch iterations after them (a mixed schedule) instead.
    bool full_batch_after_kl = false;
    double full_batch_exaggeration = 12.0;  ///< over the full-batch phase's first 250 iterations; 1: none
    int early_exaggeration_epochs = 0;    ///< an "early_exaggeration" KL phase of this many epochs before the main one
    double early_exaggeration = 12.0;     ///< its exaggeration (RelationLoss::exaggeration), > 0
    std::string lr_anneal = "none";       ///< the main phase's decay: none, linear, cosine (TrainingPhase::lr_anneal)
};
/// paraDime's ParametricUMAP defaults (contrastive.md §4.2).
struct ParametricUMAPOptions {
    double n_neighbors = 30;
    double min_dist = 0.01;
    double spread = 1.0;
    std::optional<double> a, b;
    std::string initialization = "spectral";  ///< "spectral" or "none"
    int epochs = 30;
    int init_epochs = 5;
    int batch_size = 10;
    int negative_sampling_rate = 5;
    int init_batch_size = 100;
    double learning_rate = 0.005;
    double init_learning_rate = 0.05;
    int batches_per_epoch = -1;   ///< main phase (the seed tutorial: 10)
    std::string lr_anneal = "none";  ///< the main phase's decay (not in paraDime): none, linear, cosine
    /// > 0: the negative-edge phase is replaced by this many full-batch iterations of TorchDR's UMAP loss (not in
    /// paraDime; the spectral phase stays as the start).
    int full_batch_iterations = 0;
    double full_batch_learning_rate = 0.003;
};

/// The full-batch preset (docs/parametric.md, "Full batch"): 1 000 full-batch iterations at Adam 0.003 on a
/// network in → 256 → 256 → 256 → out with ReLU, from the fresh network (no PCA or spectral phase); the routine's
/// other settings are kept.
void full_batch_preset(ParametricTSNEOptions& tsne, ParametricDROptions& options);
void full_batch_preset(ParametricUMAPOptions& umap, ParametricDROptions& options);

/// The predefined routines: global NN distances → perplexity rescale → symmetrise → normalise, batch distances →
/// Student-t → normalise, a PCA position phase then KL (t-SNE); NN distances → connectivity rescale → fuzzy
/// symmetrise, pair distances → modified Cauchy, a spectral position phase then negative-edge cross-entropy (UMAP).
ParametricDR ParametricTSNE(const ParametricTSNEOptions& tsne = {}, ParametricDROptions options = {});
ParametricDR ParametricUMAP(const ParametricUMAPOptions& umap = {}, ParametricDROptions options = {});

} // namespace nembed::paradime
