#pragma once
/// @file neighbor_embedding.hpp
/// TorchDR's NeighborEmbedding driver, used by every TorchDR method of nembed (SNE, TSNE, InfoTSNE and LargeVis
/// here; PACMAP, COSNE, TSNEkhorn in methods/pacmap.hpp, cosne.hpp, tsnekhorn.hpp) (docs/torchdr.md,
/// "NeighborEmbedding and its methods"): min_Y λ·L_att(P, Y) + ρ·L_rep(Y) (loss/ne_loss.hpp) optimised with
/// TorchDR's rules on the one Trainer (train/trainer.hpp) and TorchDR's plan (train/ne_plan.hpp):
///
///  - lr "auto" (none): max(n / early_exaggeration_coeff / 4, 50) (re-derived with λ = 1 after the exaggeration
///    only with rederive_after_exaggeration);
///  - optimizer "SGD" (torch's, momentum buffer), "Adam" or "RiemannianAdam" (COSNE's: on the Poincaré ball when
///    init is "hyperbolic", else Euclidean, as TorchDR wraps only that init in a ManifoldParameter; the gradient
///    norm of the stop rule is then that of the Riemannian gradient, which TorchDR's optimizer writes in place);
///    optimizer_kwargs "auto" (none): SGD momentum 0.5 with an
///    exaggeration (0.8 after it only with rederive_after_exaggeration), 0.8 without; Adam torch's defaults;
///  - scheduler none, "LinearLR", "CosineAnnealingLR", "ExponentialLR" over each phase's steps; scheduler_kwargs
///    "auto" (none) with LinearLR: a linear decay from lr to 0 over max_iter steps (TorchDR's), given kwargs:
///    torch's defaults for what is not set;
///  - the early exaggeration is a phase: with early_exaggeration_coeff > 1 the steps 0 .. early_exaggeration_iter
///    (inclusive: TorchDR ends it after the step whose index equals early_exaggeration_iter, so it lasts
///    early_exaggeration_iter + 1 steps) run at λ; then TorchDR re-creates its optimizer and scheduler: the next
///    phase resets the optimizer state and restarts the schedule from the current rate with the same momentum
///    (TorchDR 0.5's actual behaviour, see rederive_after_exaggeration for the intended one: lr re-derived,
///    momentum 0.8);
///  - every check_interval steps (steps 0, check_interval, ...) the gradient norm is compared with min_grad_norm
///    and the run stops after that step when it is below (NeStop::converged);
///  - init "pca" (PCA scores), "random"/"normal" (N(0, 1) from counter streams of random_state) or an array, then
///    scaled so that the standard deviation (unbiased, torch's) of its first column is init_scaling; or
///    "hyperbolic" (init/hyperbolic.hpp: N(0, init_scaling²) mapped into the Poincaré ball, not rescaled);
///  - process_duplicates (every method's fit_transform(X)): the method runs on X's unique rows and duplicates get
///    their row's coordinates (fit_unique_rows).
///
///   torchdr::TSNEOptions opt;  opt.random_state = 0;
///   NeResult r = torchdr::TSNE(opt).fit_transform(X);   // r.embedding, r.n_iter, r.stop
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nembed/affinity/cost.hpp"
#include "nembed/affinity/entropic.hpp"
#include "nembed/core/matrix.hpp"
#include "nembed/core/row_share.hpp"
#include "nembed/core/sparse.hpp"
#include "nembed/neighbors/knn.hpp"
#include "nembed/optim/schedule.hpp"
#include "nembed/parametric/mlp.hpp"
#include "nembed/parametric/transform_consistency.hpp"
#include "nembed/loss/ne_loss.hpp"
#include "nembed/repulsion/repulsion.hpp"
#include "nembed/train/ne_plan.hpp"
#include "nembed/train/trainer.hpp"

namespace nembed {

/// torch.optim keyword arguments (torch's defaults); SGD reads momentum and weight_decay, Adam betas, eps and
/// weight_decay.
struct OptimizerKwargs {
    double momentum = 0.0;
    double weight_decay = 0.0;
    double beta1 = 0.9, beta2 = 0.999;
    double eps = 1e-8;
};

/// torch.optim.lr_scheduler keyword arguments (torch's defaults; T_max and gamma have none).
struct SchedulerKwargs {
    double start_factor = 1.0 / 3.0;  ///< LinearLR
    double end_factor = 1.0;          ///< LinearLR
    int total_iters = 5;              ///< LinearLR
    std::optional<int> T_max;         ///< CosineAnnealingLR, required
    double eta_min = 0.0;             ///< CosineAnnealingLR
    std::optional<double> gamma;      ///< ExponentialLR, required
};

enum class NeInit { pca, random, array, hyperbolic };
/// Parses "pca", "random"/"normal", "hyperbolic" (an array is given through NeighborEmbeddingOptions::init_array).
NeInit parse_ne_init(const std::string& name);

/// TorchDR's `encoder`: a network maps the data to the embedding instead of a free table (docs/parametric.md,
/// "TorchDR's methods"). Each iteration evaluates the method's loss gradient dL/dY once on the network's embedding
/// of every point (the same loss: affinities, negatives, exaggeration, repulsion), then trains the network on it in
/// mini-batches of batch_size points (train/ne_plan.hpp; TorchDR's encoder runs full-batch). The network's own
/// learning rate and optimizer replace lr, optimizer and optimizer_kwargs; the method's scheduler applies to that
/// rate. init is not used.
struct NeEncoderOptions {
    bool enabled = false;
    MlpOptions network;                 ///< default cne's FCNetwork: in → 100 → 100 → 100 → out, ReLU
    std::size_t batch_size = 1024;      ///< points per network update, > 0
    double learning_rate = 1e-3;        ///< > 0
    std::string optimizer = "Adam";     ///< "Adam" or "SGD" (torch's defaults)
    /// A trained network to continue from instead of a fresh one (its inputs must be X's columns, its outputs
    /// n_components; `network` is then not used): paraDime's routines hand over their network for a full-batch
    /// phase (parametric/full_batch.hpp).
    std::shared_ptr<const Mlp> initial_network;
    /// Not in TorchDR (#17, a regulariser for held-out points; docs/parametric.md, "Input noise"): >= 0; > 0:
    /// every training forward pass sees X + ε, ε ~ N(0, σ²) per coordinate and row, drawn afresh each pass from the
    /// counter stream (seed, pass, row), σ = input_noise · (mean distance of a point to its nearest other point) /
    /// √D — so |ε| ≈ input_noise nearest-neighbour distances. P is X's. 0: off.
    double input_noise = 0.0;
    /// Not in TorchDR (#17, docs/parametric.md, "Transform consistency"): weight > 0 adds the penalty that pulls
    /// the network's images of points between training points toward their neighbours' affinity-weighted images
    /// (parametric/transform_consistency.hpp; streams keyed by the seed). Needs batch_size >= n. weight 0: off.
    TransformConsistencyOptions transform_consistency;
};

/// TorchDR's NeighborEmbedding parameters with its base-class defaults (the methods' option structs set theirs).
struct NeighborEmbeddingOptions {
    std::size_t n_components = 2;
    std::optional<double> lr = 1.0;              ///< none: "auto"
    std::string optimizer = "SGD";               ///< "SGD", "Adam" or "RiemannianAdam"
    std::optional<OptimizerKwargs> optimizer_kwargs;  ///< none: "auto"
    std::string scheduler = "none";              ///< none, LinearLR, CosineAnnealingLR, ExponentialLR
    std::optional<SchedulerKwargs> scheduler_kwargs;  ///< none: "auto" (defined for LinearLR only)
    double min_grad_norm = 1e-7;
    int max_iter = 2000;
    NeInit init = NeInit::pca;
    std::optional<Matrix<double>> init_array;    ///< init = array: n x n_components
    double init_scaling = 1e-4;
    double early_exaggeration_coeff = 1.0;       ///< TorchDR's None = 1 (no exaggeration)
    int early_exaggeration_iter = 0;             ///< TorchDR's None = 0
    double repulsion_strength = 1.0;
    int check_interval = 50;
    /// What TorchDR's re-created optimizer gets when the exaggeration ends. false (TorchDR 0.5 as it runs): TorchDR
    /// passes the same param-group dict again and torch.optim fills it with setdefault, so the first optimizer's lr
    /// and momentum stay: only the state is reset, and the new scheduler starts from the current rate. true: what
    /// TorchDR's code means to do: the lr re-derived for λ = 1 ("auto"), momentum 0.8 ("auto"), the schedule
    /// restarted from that lr.
    bool rederive_after_exaggeration = false;
    std::uint64_t random_state = 0;              ///< negatives and random init (counter-based streams)
    /// TorchDR's process_duplicates: fit_transform(X) embeds X's unique rows and gives duplicates their row's
    /// coordinates (fit_unique_rows).
    bool process_duplicates = true;
    bool verbose = false;
    int n_threads = 1;                           ///< resolved, >= 1
    NeEncoderOptions encoder;                    ///< a network instead of the table (off by default)
};
/// Throws InvalidArgument naming the bad parameter (n: the number of samples).
void validate(const NeighborEmbeddingOptions& options, std::size_t n);

/// Why a run stopped.
enum class NeStop { max_iter, converged, callback };
std::string to_string(NeStop s);

/// Wall seconds of a fit's parts.
struct NeTimings {
    double affinity = 0.0;  ///< input affinity (kNN included), or PACMAP's neighbour pairs
    double init = 0.0;
    double optimize = 0.0;
};

struct NeResult {
    Matrix<double> embedding;   ///< n x n_components
    int n_iter = 0;             ///< steps taken (TorchDR's n_iter_ + 1)
    NeStop stop = NeStop::max_iter;
    double loss = 0.0;          ///< the last reported loss (NaN when none was)
    double grad_norm = 0.0;     ///< ‖∂L/∂Y‖ of the last step (RiemannianAdam: of the Riemannian gradient)
    NeTimings timings;
    /// With the encoder: the trained network (embedding = its output on the data; new points: network->apply).
    std::shared_ptr<const Mlp> network;
};

/// TorchDR's learning rate: the given lr, or "auto" max(n / exaggeration / 4, 50).
double ne_learning_rate(const NeighborEmbeddingOptions& options, std::size_t n, double exaggeration);
/// The phases TorchDR's loop amounts to (see the file comment): "early_exaggeration" (when coeff > 1) and "main",
/// with their momentum, state reset, lr and schedule. Throws InvalidArgument for bad options.
std::vector<Phase> ne_phases(const NeighborEmbeddingOptions& options, std::size_t n);
/// The initial embedding (init, then init_scaling). X may be empty unless init = pca.
Matrix<double> ne_initial_embedding(const NeighborEmbeddingOptions& options, MatrixView<float> X, std::size_t n);

/// Runs the loss on the Trainer from Y0 with TorchDR's phases, optimizer and stop rule. hooks.callback (when set)
/// is called after the 0-based steps 0, every, 2·every, ... with every = hooks.callback_every (TorchDR logs at its
/// check points: set it to check_interval); the min_grad_norm test runs after steps 0, check_interval, ...;
/// hooks.progress after every step.
NeResult run_neighbor_embedding(Matrix<double> Y0, NeGradient loss, const NeighborEmbeddingOptions& options,
                                TrainHooks hooks = {});
/// A method's run from its loss: the initial embedding of X (ne_initial_embedding; n rows), the run named `who` in
/// messages unless hooks name it, then run_neighbor_embedding; the result's timings.init is set. With the encoder
/// enabled: the network (X: n x D, required) is trained instead (run_encoder).
/// The encoder's run: a network X.cols → hidden → n_components (options.encoder) trained on the loss with TorchDR's
/// phases, schedule and stop rule. The same seed gives the same bits for any thread count.
NeResult run_encoder(MatrixView<float> X, NeGradient loss, const NeighborEmbeddingOptions& options,
                     TrainHooks hooks = {});
NeResult run_method(const NeighborEmbeddingOptions& options, MatrixView<float> X, std::size_t n,
                    const std::string& who, NeGradient loss, const TrainHooks& hooks);

/// TorchDR's process_duplicates (its fit_transform): with options.process_duplicates and repeated rows in X, `fit`
/// runs on X's unique rows in torch.unique's order (lexicographic), with init_array (when given) reduced to the
/// rows of each unique row's first occurrence, and its embedding is scattered back (duplicates get identical
/// coordinates; n_iter, stop, loss as fit returned them). Otherwise fit runs on X and options.init_array as they
/// are. Throws InvalidArgument for non-finite X (duplicates are found by value).
NeResult fit_unique_rows(
    MatrixView<float> X, const NeighborEmbeddingOptions& options,
    const std::function<NeResult(MatrixView<float> X, const std::optional<Matrix<double>>& init_array)>& fit);

/// The repulsion of TorchDR's TSNE: "exact" (TorchDR's only one), and beyond TorchDR Barnes–Hut or FFT.
enum class NeBackend { exact, bh, fft };
/// Parses "exact", "bh"/"barnes_hut", "fft"; throws InvalidArgument naming the value.
NeBackend parse_ne_backend(const std::string& name);
std::string to_string(NeBackend b);

namespace torchdr {

/// What the perplexity-based methods share: the arguments TorchDR's SNE, TSNE, InfoTSNE and LargeVis forward to
/// their EntropicAffinity (affinity/entropic.hpp; its rules: perplexity truncated to an integer in [2, n − 2],
/// rows summing to 1/n, not symmetrised). perplexity must be < n (TorchDR's check).
struct EntropicOptions : NeighborEmbeddingOptions {
    // TorchDR's methods pass scheduler_kwargs=None: a scheduler chosen by name gets torch's own defaults (the
    // base class's "auto" applies to UMAP only).
    EntropicOptions() { scheduler_kwargs = SchedulerKwargs{}; }
    double perplexity = 30.0;
    int max_iter_affinity = 100;                 ///< EntropicAffinity's max_iter
    CostMetric metric = CostMetric::sqeuclidean; ///< sqeuclidean, euclidean, manhattan, angular (cost.hpp)
    bool sparsity = true;                        ///< the 3·perplexity nearest only, else every other point
    KnnMethod knn_method = KnnMethod::auto_;     ///< the (sq)euclidean neighbour index with sparsity
    /// HNSW over this many shards (KnnOptions::hnsw_shards; what mpirun splits: the same bits for any rank count);
    /// 0 = one index (under mpirun: ⌈N/131072⌉ shards, dist::default_knn_shards).
    std::size_t knn_shards = 0;
};
/// TorchDR's EntropicAffinity of X with the method's arguments (InvalidArgument for perplexity >= n).
CsrMatrix<double> entropic_affinity(const EntropicOptions& options, MatrixView<float> X);
/// What TorchDR's methods forward to their EntropicAffinity (one process and dist::entropic_affinity_rows).
EntropicAffinityOptions entropic_affinity_options(const EntropicOptions& options);

/// The repulsion estimator of TorchDR's TSNE for these options (backend, theta, fft); with `share` (a distributed
/// run, dist/ne.hpp) the FFT spreads and interpolates that share's rows only (Barnes–Hut and exact sum every point).
/// Throws InvalidArgument when the backend does not support the Student-t kernel in n_components dimensions.
struct TSNEOptions;
std::shared_ptr<Repulsion> tsne_repulsion(const TSNEOptions& options, const RowShare* share = nullptr);
/// The negatives of InfoTSNE and LargeVis: m per point from random_state, excluding each row's columns of P (its
/// kNN; P may hold a share of the rows, the lists then cover those rows) when `exclude`; summed in at most
/// `scatter_blocks` buffers (NeNegatives::scatter_blocks).
NeNegatives ne_negatives(const CsrMatrix<double>& P, std::size_t m, bool exclude, std::uint64_t seed,
                         std::size_t scatter_blocks = 8);

/// TorchDR's SNE: lr auto, no exaggeration, max_iter 2000, Gaussian output kernel, per-point normalisation.
struct SNEOptions : EntropicOptions {
    SNEOptions() { lr.reset(); }
};
/// TorchDR's TSNE: lr auto, exaggeration 12 for 250 iterations, max_iter 2000, Student-t output kernel.
struct TSNEOptions : EntropicOptions {
    TSNEOptions() {
        lr.reset();
        early_exaggeration_coeff = 12.0;
        early_exaggeration_iter = 250;
    }
    NeBackend backend = NeBackend::exact;
    double theta = 0.5;   ///< Barnes–Hut (nembed's full-side criterion)
    FftOptions fft;       ///< FFT grid (n_threads is the run's)
};
/// TorchDR's InfoTSNE: n_negatives 300, exaggeration 12 for 250, max_iter 1000, LinearLR with torch's defaults.
struct InfoTSNEOptions : EntropicOptions {
    InfoTSNEOptions() {
        lr.reset();
        early_exaggeration_coeff = 12.0;
        early_exaggeration_iter = 250;
        max_iter = 1000;
        scheduler = "LinearLR";
    }
    std::size_t n_negatives = 300;
    bool exclude_neighbors_from_negative_sampling = false;
    std::size_t scatter_blocks = 8;  ///< not TorchDR's: the negatives' sums' buffers (NeNegatives::scatter_blocks)
};
/// TorchDR's LargeVis: n_negatives 5, no exaggeration, max_iter 1000, LinearLR with torch's defaults.
struct LargeVisOptions : EntropicOptions {
    LargeVisOptions() {
        lr.reset();
        max_iter = 1000;
        scheduler = "LinearLR";
    }
    std::size_t n_negatives = 5;
    bool exclude_neighbors_from_negative_sampling = false;
    std::size_t scatter_blocks = 8;  ///< not TorchDR's: the negatives' sums' buffers (NeNegatives::scatter_blocks)
};

/// Each method: fit_transform(X) builds P from X (float32 n x D; duplicates: process_duplicates),
/// fit_transform_affinity(P, X) takes TorchDR's P (n x n; X only for init = pca, may be empty otherwise). Throws InvalidArgument naming a bad parameter
/// (perplexity >= n among them).
class SNE {
public:
    using Options = SNEOptions;
    explicit SNE(SNEOptions options = {}) : options_(std::move(options)) {}
    NeResult fit_transform(MatrixView<float> X, const TrainHooks& hooks = {}) const;
    NeResult fit_transform_affinity(const CsrMatrix<double>& P, MatrixView<float> X, const TrainHooks& hooks = {}) const;
private:
    SNEOptions options_;
};
class TSNE {
public:
    using Options = TSNEOptions;
    explicit TSNE(TSNEOptions options = {}) : options_(std::move(options)) {}
    NeResult fit_transform(MatrixView<float> X, const TrainHooks& hooks = {}) const;
    NeResult fit_transform_affinity(const CsrMatrix<double>& P, MatrixView<float> X, const TrainHooks& hooks = {}) const;
private:
    TSNEOptions options_;
};
class InfoTSNE {
public:
    using Options = InfoTSNEOptions;
    explicit InfoTSNE(InfoTSNEOptions options = {}) : options_(std::move(options)) {}
    NeResult fit_transform(MatrixView<float> X, const TrainHooks& hooks = {}) const;
    NeResult fit_transform_affinity(const CsrMatrix<double>& P, MatrixView<float> X, const TrainHooks& hooks = {}) const;
private:
    InfoTSNEOptions options_;
};
class LargeVis {
public:
    using Options = LargeVisOptions;
    explicit LargeVis(LargeVisOptions options = {}) : options_(std::move(options)) {}
    NeResult fit_transform(MatrixView<float> X, const TrainHooks& hooks = {}) const;
    NeResult fit_transform_affinity(const CsrMatrix<double>& P, MatrixView<float> X, const TrainHooks& hooks = {}) const;
private:
    LargeVisOptions options_;
};

} // namespace torchdr
} // namespace nembed
