#pragma once
/// @file model.hpp
/// One saved-model format for every method (docs/core.md §9): a directory with model.json (format "nembed-model",
/// version, method "tsne" / "umap" / "cne", the settings the method needs to transform new points, and the optional
/// preprocessing) and .npy arrays (embedding, reference data, PCA mean and components).
///
///   TsneEmbedding emb = TSNE(opt).fit(X);
///   save_model("model", emb);                       // or a UmapEmbedding (+ its data), or a cne result
///   Model m = load_model("model", n_threads);       // rebuilds the kNN index
///   Matrix<double> Ynew = m.transform(m.preprocessing().apply(raw_new));
///
/// t-SNE and UMAP models transform (openTSNE's and umap-learn's transform); a cne model holds the embedding and its
/// settings, and for cne's parametric mode its network, which transforms new points by a forward pass; a
/// non-parametric cne model refuses to transform (InvalidArgument). A paraDime model (method "paradime": `nembed
/// parametric tsne|umap`, paraDime's ParametricTSNE / ParametricUMAP) holds the trained network, its embedding of the
/// training data and the routine's settings; it transforms by a forward pass. A TorchDR-style model (method "ne":
/// `nembed ne --encoder`, the methods' `encoder` option) holds its network, its embedding and the method's name.
/// The reader type-checks every field and cross-checks the arrays' shapes: a malformed model raises IoError naming
/// the file and the field. It also reads the directories of the CLI's earlier t-SNE format ("nembed-tsne-model",
/// version 1); only the new format is written.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/loss/contrastive.hpp"
#include "nembed/kernel/contrastive_kernel.hpp"
#include "nembed/methods/cne.hpp"
#include "nembed/methods/neighbor_embedding.hpp"
#include "nembed/methods/tsne.hpp"
#include "nembed/methods/umap.hpp"
#include "nembed/neighbors/knn.hpp"
#include "nembed/parametric/mlp.hpp"

namespace nembed::paradime {
class ParametricDR;
}

namespace nembed {

/// The version written; readers refuse newer ones.
inline constexpr int kModelVersion = 1;

enum class ModelMethod { tsne, umap, cne, paradime, ne };
/// "tsne", "umap", "cne", "paradime", "ne".
std::string to_string(ModelMethod m);

/// How raw input rows became the data the method saw: divided by `scale`, then (optionally) centred by `pca_mean`
/// and projected on the rows of `pca_components`. Kept with a model so that new points get the same treatment.
struct Preprocessing {
    double scale = 1.0;              ///< > 0
    std::vector<double> pca_mean;    ///< D values; empty when no PCA was applied
    Matrix<double> pca_components;   ///< n_pca x D (empty without PCA)

    bool has_pca() const { return !pca_mean.empty(); }
    /// Applies the scale and the PCA to raw rows (N x D) in double precision. Throws InvalidArgument when the
    /// column count differs from the PCA's D.
    Matrix<float> apply(MatrixView<float> raw) const;
};

/// The settings a cne model records (a non-parametric cne embedding cannot transform: these document the run).
struct CneModelSettings {
    ContrastiveMode loss_mode = ContrastiveMode::infonce;
    ContrastiveMetric similarity = ContrastiveMetric::euclidean;
    std::size_t k = 15;
    long negative_samples = 5;
    std::size_t batch_size = 32768;
    int n_epochs = 200;          ///< planned
    int epochs_run = 0;          ///< done
    double learning_rate = 1.0;  ///< resolved
    double temperature = 0.5;
    double eps = 1.0;
    double spec = 1.0, spec_early = 1.0;  ///< the resolved spectrum (CneSpectrum)
    int early_epochs = 0;
    double log_Z = 0.0;
    std::uint64_t seed = 0;
};

/// What a paraDime model records besides its network (documentation of the run; transform needs only the network).
struct ParadimeModelSettings {
    std::string routine;     ///< "ParametricTSNE", "ParametricUMAP" (or the caller's name for its own routine)
    std::uint64_t seed = 0;
    struct Phase {
        std::string name, sampling;
        int epochs = 0, batch_size = 0;
        double learning_rate = 0;
    };
    std::vector<Phase> phases;  ///< the training phases, in order
};

/// What a TorchDR-style encoder model records besides its network (transform needs only the network).
struct NeModelSettings {
    std::string method;      ///< TorchDR's class name: "UMAP", "TSNE", "InfoTSNE", ...
    std::uint64_t seed = 0;  ///< random_state of the fit
    int n_iter = 0;          ///< steps the fit took
};

/// A loaded model: the method, its embedding, the preprocessing, and for t-SNE / UMAP an embedding object that can
/// transform (its kNN index rebuilt over the reference data). Move-only.
class Model {
public:
    ModelMethod method() const { return method_; }
    const Preprocessing& preprocessing() const { return preprocessing_; }
    /// The reference embedding (N x d).
    const Matrix<double>& embedding() const;
    /// The reference data (N x D, after preprocessing); null for a cne model.
    const std::shared_ptr<const Matrix<float>>& reference_data() const { return reference_; }
    /// The input metric of the kNN index (t-SNE and UMAP) and its parameters (model.json's "metric_params").
    Metric metric() const { return metric_; }
    const MetricParams& metric_params() const { return metric_params_; }
    /// t-SNE, UMAP, paraDime, TorchDR encoders (ne), and parametric cne (a saved network).
    bool can_transform() const { return method_ != ModelMethod::cne || network_ != nullptr; }
    /// The network of a parametric model (cne's parametric mode, paraDime); null otherwise.
    const std::shared_ptr<const Mlp>& network() const { return network_; }
    /// Embeds new rows given in the reference's space (apply preprocessing() to raw rows first): openTSNE's
    /// transform with `tsne_options` for t-SNE, umap-learn's transform for UMAP (the options are not used).
    /// A parametric cne model applies its network (same bits as the fitted network for any thread count).
    /// Throws InvalidArgument for a non-parametric cne model (no transform) and for rows of the wrong width.
    Matrix<double> transform(MatrixView<float> X_new, const TransformOptions& tsne_options = {}) const;

    /// The method's object; InvalidArgument when the model holds another method.
    const TsneEmbedding& tsne() const;
    const UmapEmbedding& umap() const;
    const CneModelSettings& cne() const;
    const ParadimeModelSettings& paradime() const;
    const NeModelSettings& ne() const;

private:
    friend Model load_model(const std::string& dir, int n_threads, std::uint64_t knn_seed);
    ModelMethod method_ = ModelMethod::tsne;
    Preprocessing preprocessing_;
    Metric metric_ = Metric::euclidean;
    MetricParams metric_params_;
    std::shared_ptr<const Matrix<float>> reference_;
    std::optional<TsneEmbedding> tsne_;
    std::optional<UmapEmbedding> umap_;
    Matrix<double> cne_embedding_;
    CneModelSettings cne_;
    ParadimeModelSettings paradime_;
    NeModelSettings ne_;
    std::shared_ptr<const Mlp> network_;
    int n_threads_ = 1;
};

/// Saves a t-SNE embedding fitted from data (it keeps its reference data): the embedding, the data, the metric (with
/// its parameters) and the gradient parameters (dof, repulsion). P is not saved (a loaded t-SNE model transforms but cannot optimize).
/// model.json is written last, so an interrupted save leaves no loadable model. Throws InvalidArgument for an
/// embedding without data, IoError when a file cannot be written.
void save_model(const std::string& dir, const TsneEmbedding& embedding, const Preprocessing& preprocessing = {});
/// Saves a UMAP embedding fitted from data together with that data (N x D, the rows its kNN index holds): the
/// embedding, n_neighbors, local_connectivity, the curve (a, b), the fit's and the requested epochs, learning rate,
/// repulsion strength, negative_sample_rate, transform_seed and the metric (with its parameters).
void save_model(const std::string& dir, const UmapEmbedding& embedding, MatrixView<float> reference_data,
                const Preprocessing& preprocessing = {});
/// Saves a cne result (its embedding) and the options it was fitted with (CneModelSettings); a parametric result
/// also saves its network (model.json "network": widths, activations, chunk_rows, precision, the input map's
/// input_scale and whether network_input_mean.npy holds its mean; network.npy: the float32 parameters, so a reloaded
/// network gives the same outputs bit for bit).
void save_model(const std::string& dir, const CneResult& result, const CneOptions& options,
                const Preprocessing& preprocessing = {});

/// Saves a trained paraDime routine (ParametricDR trained with its built-in network): the network (as for parametric
/// cne), `embedding` (its output on the training data, n_points x out_dim), the routine's name, seed and phases.
/// A reloaded model transforms to the same bits as `dr.apply`. Throws InvalidArgument for an untrained routine or an
/// embedding of the wrong width.
void save_model(const std::string& dir, const paradime::ParametricDR& dr, const Matrix<double>& embedding,
                const std::string& routine, const Preprocessing& preprocessing = {});

/// Saves a TorchDR-style fit trained with its encoder (`NeighborEmbeddingOptions::encoder`): the network (as for
/// parametric cne), the embedding, the method's name, seed and steps. A reloaded model transforms to the same bits
/// as `result.network->apply`. Throws InvalidArgument for a result without a network.
void save_model(const std::string& dir, const NeResult& result, const NeModelSettings& settings,
                const Preprocessing& preprocessing = {});

/// Loads a model directory; t-SNE and UMAP models get their kNN index rebuilt with `n_threads` (>= 1) and
/// `knn_seed` (HNSW's seed; exact indices ignore it) and transform with `n_threads`. Throws IoError naming the file
/// and the field for a missing or malformed model (missing field, wrong type, shapes that disagree, unknown method,
/// newer version).
Model load_model(const std::string& dir, int n_threads = 1, std::uint64_t knn_seed = 0);

} // namespace nembed
