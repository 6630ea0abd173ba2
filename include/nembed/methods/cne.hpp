#pragma once
/// @file cne.hpp
/// Contrastive neighbour embeddings with cne's model and defaults (contrastive-ne 0.3.8; contrastive.md §1): UMAP's,
/// NEG (Neg-t-SNE), NCE (NCVis) and InfoNCE (InfoNC-t-SNE) losses (loss/contrastive.hpp) with the Cauchy or cosine
/// similarity (kernel/contrastive_kernel.hpp), in-batch negative sampling (repulsion/negative_sampling.hpp),
/// SGD or Adam (optim/) with cne's learning-rate schedules, and cne's spectrum parameter s.
///
/// Pipeline: a binary, union-symmetrised kNN graph (k = 15, self excluded) → PCA initialisation with PC1 std 1 →
/// epochs, each one pass over every directed edge, shuffled, in batches of b heads; per batch every head draws m
/// negatives uniformly from the other 2b − 1 batch slots (or all 2b − 2 others: full-batch), the batch loss is the
/// sum over heads, gradients are clipped by value at 4 and one optimizer step is taken.
///
/// A preset over the training core (docs/core.md): the epochs are the edge mini-batch plan
/// (train/edge_batch_plan.hpp) on an EmbeddingTable (parametric: a NetworkParametrization, cne's FCNetwork), run by the Trainer with cne's schedule as its LrSchedule and
/// the early exaggeration as a phase that sets the loss's spectrum (Phase::loss_spec). CNE::prepare gives a
/// resumable CneEmbedding: optimize(50) twice takes exactly the steps of optimize(100).
///
/// Spectrum (priority s > Z_bar > neg_spec for NEG; s > ince_spec for InfoNCE):
///   NEG:  Z̄(s) = Z_tsne·(Z_umap/Z_tsne)^s, Z_tsne = 100·n, Z_umap = n²/m;  ξ = neg_spec = m·Z̄/n²
///         (s = 0: ξ = 100·m/n, t-SNE-like; s = 1: ξ = 1, UMAP-like; nothing given: ξ = 1, no spectrum).
///         cne's README and current source use Z_umap = n²/m; contrastive.md notes that 0.3.8's code had n²/5 —
///         the two agree at the default m = 5.
///   InfoNCE: ρ = ince_spec = 4^s (nothing given: s = 0, exact InfoNC-t-SNE).
/// Early exaggeration (cne): for neg and infonce when s is in effect, the first ⌊n_epochs/3⌋ epochs use max(s, 1).
///
/// Reproducibility: the epoch's shuffle is drawn from a counter-based stream per epoch, negatives from a stream per
/// (epoch, batch, chunk of heads; chunks have a fixed size); per-head losses and gradients are computed in parallel
/// from the positions at the start of the step, and the gradient contributions are summed as 64-bit fixed-point
/// integers (units of at most 2^-35, each contribution capped at ±256 first), whose sums do not depend on their
/// order. So the result is bitwise the same for any number of threads.
/// Batches: as cne 0.4's loader (drop_last False), every epoch ends with the partial batch of the remaining edges,
/// whose heads draw min(m, 2·b' − 2) negatives among its own 2·b' points (all of them when that is all there is).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/core/sparse.hpp"
#include "nembed/loss/contrastive.hpp"
#include "nembed/neighbors/knn.hpp"
#include "nembed/optim/schedule.hpp"
#include "nembed/parametric/mlp.hpp"
#include "nembed/repulsion/negative_sampling.hpp"
#include "nembed/train/edge_batch_plan.hpp"
#include "nembed/train/trainer.hpp"

namespace nembed {

enum class CneOptimizer { sgd, adam };
CneOptimizer parse_cne_optimizer(const std::string& name);
std::string to_string(CneOptimizer o);

enum class CneInit { pca, random, user };
/// Parses "pca", "random" (any case); throws InvalidArgument otherwise (user is set with an initial embedding).
CneInit parse_cne_init(const std::string& name);
std::string to_string(CneInit i);

struct CneTimings {
    double knn = 0, graph = 0, init = 0, optimize = 0;
};

/// cne's CNE / ContrastiveEmbedding parameters, with CNE's defaults.
struct CneOptions {
    std::size_t k = 15;                       ///< kNN graph neighbours (self excluded)
    std::size_t n_components = 2;             ///< cne's embd_dim
    ContrastiveMode loss_mode = ContrastiveMode::infonce;
    ContrastiveMetric metric = ContrastiveMetric::euclidean;
    std::optional<double> s;                  ///< the spectrum slider (see the file comment)
    std::optional<double> Z_bar;              ///< NEG's fixed normaliser
    std::optional<double> neg_spec;           ///< NEG's ξ
    std::optional<double> ince_spec;          ///< InfoNCE's ρ
    long negative_samples = 5;                ///< m; −1 = full batch (all 2b − 2 other slots)
    std::size_t batch_size = 32768;           ///< b (2^15)
    int n_epochs = 200;
    std::optional<double> learning_rate;      ///< none: 1.0 (non-parametric), 0.001 (parametric), as cne
    /// cne's parametric mode: a network maps the data to the map (docs/parametric.md §3); the positions are its
    /// outputs, its weights the parameters (init and initial_embedding are not used). Needs the data X.
    bool parametric = false;
    /// The network when parametric (hidden widths, activations, init); its seed is the run's seed. Default:
    /// cne's FCNetwork, in → 100 → 100 → 100 → n_components with ReLU, torch's default initialisation.
    MlpOptions network;
    LrAnneal anneal_lr = LrAnneal::linear;
    double lr_min_factor = 0.0;
    int warmup_epochs = 0;
    double warmup_lr = 0.0;
    CneOptimizer optimizer = CneOptimizer::sgd;
    double momentum = 0.0;                    ///< SGD
    double weight_decay = 0.0;
    double temperature = 0.5;                 ///< cosine similarity; InfoNCE's loss factor τ/τ₀
    double eps = 1.0;                         ///< Cauchy offset
    std::optional<double> clamp_low, clamp_high;  ///< none = "auto" (1e-4 / 1 Euclidean, ∓inf cosine)
    double Z = 1.0;                           ///< NCE's initial Z (learned as log Z at lr 0.001)
    bool clip_grad = true;                    ///< clip gradients by value at 4
    bool early_exaggeration = true;
    CneInit init = CneInit::pca;
    Matrix<double> initial_embedding;         ///< N x n_components when init == user
    std::uint64_t seed = 0;
    int n_jobs = 1;                           ///< threads; −1 = all cores
    KnnMethod neighbors = KnnMethod::auto_;
    std::size_t knn_shards = 0;              ///< HNSW over this many shards (neighbors/sharded.hpp); 0 = one index. Under mpirun: 0 = ⌈N/131072⌉
    Metric input_metric = Metric::euclidean;  ///< the kNN graph's metric
    MetricParams input_metric_params;         ///< its parameters (metric.hpp; unset = the metric's defaults)
    NegativeSampling sampling = NegativeSampling::in_batch;  ///< cne: in-batch; uniform: over all points
    bool exclude_neighbors = false;           ///< uniform sampling: never a head's graph neighbour (TorchDR)
    /// Distributed runs only (dist::prepare_cne sets it): each rank runs its chunks of every batch (edge_batch_plan.hpp).
    EdgeBatchShare share;
    /// Called before training (event step 0: cne's epoch −1) and after every epoch e (0-based) with
    /// e % save_freq == 0 (event step e + 1), with the mean per-edge loss of that epoch (NaN before training) and
    /// the embedding; returning true stops the run.
    TrainCallback callback;
    int save_freq = 25;                       ///< callback period in epochs (0 = no callback)
    /// After every epoch: event step = epochs done, loss = the epoch's mean per-edge loss.
    TrainProgress progress;
    bool verbose = false;
};

/// Throws InvalidArgument for any bad option (n_points: data size, 0 when unknown; knn_graph = false: the graph is
/// given, so k is not checked against n_points).
void validate(const CneOptions& options, std::size_t n_points = 0, bool knn_graph = true);

/// The resolved spectrum of a run: ξ (neg) or ρ (infonce), the early-exaggeration value and its epochs.
struct CneSpectrum {
    double spec = 1.0;
    double spec_early = 1.0;
    int early_epochs = 0;
};
/// cne's mapping (see the file comment) for n points and m negatives per head.
CneSpectrum resolve_spectrum(const CneOptions& options, std::size_t n_points, std::size_t m);

struct CneResult {
    Matrix<double> embedding;
    CsrMatrix<double> graph;           ///< the binary symmetric kNN graph
    std::vector<double> epoch_losses;  ///< mean per-head loss of every epoch run
    double log_Z = 0.0;                ///< NCE's learned normaliser (log Z at start otherwise)
    CneSpectrum spectrum;
    int epochs_run = 0;
    CneTimings timings;
    /// The trained network (parametric runs; null otherwise): transform(X) is network->apply(X).
    std::shared_ptr<const Mlp> network;
};

/// The binary union-symmetrised kNN graph cne trains on (edge i–j if either lists the other); n_threads for the
/// symmetrisation.
CsrMatrix<double> binary_symmetric_graph(const KnnGraph& knn, int n_threads = 1);

namespace detail {
/// Rows [first, first + knn.n_points) of the 0/1 kNN matrix (knn.n_reference columns): each point's neighbours,
/// itself dropped, sorted, without repeats, value 1. binary_symmetric_graph is its max-symmetrisation; a
/// distributed rank passes its own rows (dist/cne.hpp).
CsrMatrix<double> binary_knn_rows(const KnnGraph& knn, std::size_t first);
/// The initial embedding of o.init (pca of X: n rows needed; random: from o.seed; user: o.initial_embedding).
Matrix<double> cne_init(const CneOptions& o, MatrixView<float> X, std::size_t n, int n_threads);
} // namespace detail

class EdgeBatchPlan;
class Parametrization;
class Optimizer;

/// A prepared cne run: graph, embedding table, edge plan, optimizer and Trainer, resumable.
class CneEmbedding {
public:
    /// From the options (validated), the graph (validated by the plan) and the initial embedding.
    CneEmbedding(CneOptions options, CsrMatrix<double> graph, Matrix<double> initial, CneTimings timings = {});
    /// Parametric (options.parametric): the network's input rows X (N × D, N = the graph's points).
    CneEmbedding(CneOptions options, CsrMatrix<double> graph, std::shared_ptr<const Matrix<float>> X,
                 CneTimings timings = {});
    ~CneEmbedding();
    CneEmbedding(CneEmbedding&&) noexcept;
    CneEmbedding& operator=(CneEmbedding&&) noexcept;

    /// Runs up to n_epochs further epochs (all remaining when < 0) with the options' callback and progress.
    /// Throws Interrupted (state consistent: whole epochs) on an interrupt request, InvalidArgument when the loss
    /// or the embedding becomes non-finite.
    RunReport optimize(std::int64_t n_epochs = -1);

    bool done() const;
    int epochs_done() const;
    int n_epochs() const { return options_.n_epochs; }
    const Matrix<double>& embedding() const;
    const CsrMatrix<double>& graph() const { return graph_; }
    const std::vector<double>& epoch_losses() const { return losses_; }
    double log_Z() const;
    const CneSpectrum& spectrum() const { return spectrum_; }
    const CneTimings& timings() const { return timings_; }
    /// A copy of the state as a result (epochs_run = epochs done).
    CneResult result() const;
    /// The network of a parametric run (null otherwise).
    const Mlp* network() const;
    /// Parametric runs: the network's forward pass on new rows (D columns as the training data); InvalidArgument
    /// for a non-parametric run (cne's embedding is then a table: no map for new points) or the wrong width.
    Matrix<double> transform(MatrixView<float> X) const;

private:
    void build(Matrix<double> initial, std::shared_ptr<const Matrix<float>> X);
    void refresh_embedding();
    CneOptions options_;
    CsrMatrix<double> graph_;
    CneSpectrum spectrum_;
    CneTimings timings_;
    std::vector<double> losses_;
    // Heap-held: the Trainer references them, and the embedding moves.
    std::unique_ptr<Parametrization> params_;  // the table, or a NetworkParametrization (parametric)
    Matrix<double> net_embedding_;             // parametric: the forward pass over every point after each run
    std::unique_ptr<EdgeBatchPlan> plan_;
    std::unique_ptr<Optimizer> optimizer_;
    std::unique_ptr<Trainer> trainer_;
};

class CNE {
public:
    explicit CNE(CneOptions options = {}) : options_(std::move(options)) {}
    /// kNN graph → init (or the network when parametric) → a run ready to optimize.
    CneEmbedding prepare(MatrixView<float> X) const;
    /// From a graph (any non-negative N x N matrix; its non-zeros are the edges, as cne's `graph=`) and X for the
    /// PCA init (or an initial embedding in the options).
    CneEmbedding prepare(const CsrMatrix<double>& graph, MatrixView<float> X = {}) const;
    /// prepare + optimize all epochs.
    CneResult fit(MatrixView<float> X) const;
    CneResult fit(const CsrMatrix<double>& graph, MatrixView<float> X = {}) const;
    const CneOptions& options() const { return options_; }

private:
    CneOptions options_;
};

} // namespace nembed
