#pragma once
/// @file tsne.hpp
/// t-SNE with openTSNE 1.0.4 semantics and defaults (tsne.md §1), built from separate parts: kNN index
/// (neighbors/knn.hpp), affinities (affinity/), initialisation (init/), the attraction + a Repulsion estimator
/// (loss/tsne_objective.hpp), openTSNE's gains optimizer (optim/gains.hpp) and the full-batch plan on the one Trainer
/// (train/full_batch_plan.hpp, train/trainer.hpp). openTSNE's schedules are data: tsne_phases(), transform_phases().
///
///   TsneOptions opt;                 // openTSNE defaults
///   opt.random_state = 42;
///   TsneEmbedding emb = TSNE(opt).fit(X);          // kNN -> P -> PCA init -> 250 EE iterations -> 500 more
///   emb.optimize(200, {});                          // continue with the same gains and momentum
///   Matrix<double> Ynew = emb.transform(X_new);     // openTSNE transform defaults
///
/// `TsneEmbedding` is the resumable state (qdtsne's Status): embedding, P, optimizer state, the kNN index for
/// transform, the last KL and per-phase timings. There is no monolithic driver: `TSNE::fit` is prepare_initial +
/// run(tsne_phases(options)).
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/core/sparse.hpp"
#include "nembed/core/error.hpp"
#include "nembed/neighbors/knn.hpp"
#include "nembed/optim/gains.hpp"
#include "nembed/repulsion/repulsion.hpp"
#include "nembed/train/full_batch_plan.hpp"
#include "nembed/train/parametrization.hpp"
#include "nembed/train/phase.hpp"
#include "nembed/train/trainer.hpp"

namespace nembed {

namespace dist {
class Comm;
}

/// How the repulsive forces are computed.
enum class GradientMethod {
    auto_,       ///< Barnes-Hut below 10 000 points, FFT interpolation from 10 000 (openTSNE's rule; BH for > 2-D)
    exact,       ///< O(N²), for small data and tests
    barnes_hut,  ///< space-partitioning tree, accuracy `theta`
    fft          ///< FIt-SNE interpolation; 1-D and 2-D only
};
/// Parses "auto", "exact", "bh"/"barnes_hut"/"barnes-hut"/"barneshut", "fft"/"interpolation" (case-insensitive);
/// throws InvalidArgument naming the bad value.
GradientMethod parse_gradient_method(const std::string& name);
std::string to_string(GradientMethod m);

/// Above this many points the exact O(N²) gradient is refused unless TsneOptions::force_exact is set: every
/// iteration evaluates all N² pairs (2.5e9 at 50 000 points, 4e10 at 200 000, where one iteration took over 120 s
/// on two cores), while Barnes-Hut and FFT cost O(N log N) and O(N) and reach the same map.
inline constexpr std::size_t exact_gradient_max_points = 50000;
/// From this many points an exact gradient (within the limit or forced) warns with its cost, once per fit.
inline constexpr std::size_t exact_gradient_warn_points = 10000;

enum class TsneInit { pca, spectral, random, user };
/// Parses "pca", "spectral", "random" (a user array is given through TsneOptions::initial_embedding).
TsneInit parse_tsne_init(const std::string& name);
std::string to_string(TsneInit m);

/// How the repulsive forces are estimated: every field declared once here, used by TsneOptions, the gradient
/// parameters of an embedding, the CLI, the Python bindings and the saved model.
struct RepulsionOptions {
    GradientMethod method = GradientMethod::auto_;
    double theta = 0.5;  ///< Barnes-Hut accuracy (openTSNE's full-side criterion)
    /// FFT interpolation grid (openTSNE's n_interpolation_points, min_num_intervals, ints_in_interval). Its
    /// n_threads is not an option: the estimator gets the run's thread count.
    FftOptions fft;
};
/// Throws InvalidArgument naming the bad field (n_components: the embedding dimension, FFT is 1-D/2-D only).
void validate(const RepulsionOptions& options, std::size_t n_components);

/// The order in which the gradient visits the points (docs/tsne.md, "Point order"). The optimiser, callbacks and
/// outputs always see the user's order; only the gradient's internal numbering changes, so the sums run in another
/// order (other bits, the same map within float rounding), and the same bits for any thread count.
enum class PointOrder {
    auto_,    ///< hilbert on one process from point_order_min_points points, none otherwise (and distributed)
    none,     ///< the user's order (what a distributed run does: `mpirun` and one process with none agree bitwise)
    hilbert   ///< along a Hilbert curve of the embedding at the first run (one process only)
};
/// Below this many points auto keeps the user's order: Y then fits the L2 cache and there is nothing to gain.
inline constexpr std::size_t point_order_min_points = 10000;
/// Parses "auto", "none", "hilbert" (case-insensitive); throws InvalidArgument naming the bad value.
PointOrder parse_point_order(const std::string& name);
std::string to_string(PointOrder m);

/// Progress events of a t-SNE run (TrainEvent): phase "early_exaggeration", "main", "optimize" or "transform",
/// phase_step/phase_steps the iteration within the phase, loss the KL divergence when evaluated at this iteration
/// (every callbacks_every_iters iterations and at the end of each phase) else NaN, elapsed the seconds since the
/// phase started. Callbacks receive (phase_step, KL, the embedding after exactly phase_step updates of the phase).

/// Seconds spent in each stage of `TSNE::fit`.
struct TsneTimings {
    double knn = 0, affinities = 0, init = 0, early_exaggeration = 0, main = 0;
};

/// Every openTSNE `TSNE(...)` parameter with its default.
struct TsneOptions {
    std::size_t n_components = 2;             ///< embedding dimension
    /// One perplexity (default 30) or several: several give the multiscale mixture (openTSNE's MultiscaleMixture).
    std::vector<double> perplexities = {30.0};
    std::optional<double> learning_rate;      ///< none = "auto": N / exaggeration per phase (N/12 in EE, then N)
    int early_exaggeration_iter = 250;
    std::optional<double> early_exaggeration; ///< none = "auto": 12, or max(12, exaggeration) when that is set
    int n_iter = 500;                         ///< iterations after early exaggeration
    std::optional<double> exaggeration;       ///< late exaggeration for the whole main phase; none = 1
    double dof = 1.0;                         ///< kernel (1 + d²/dof)^−dof; 1 = Cauchy (standard t-SNE)
    RepulsionOptions repulsion;               ///< negative_gradient_method, theta and the FFT grid
    TsneInit initialization = TsneInit::pca;  ///< pca (falls back to spectral without X), spectral, random, user
    Matrix<double> initial_embedding;         ///< N x n_components when initialization == user (a warning if std > 1e-2)
    Metric metric = Metric::euclidean;        ///< input-space metric for the kNN
    MetricParams metric_params;               ///< its parameters (metric.hpp; unset = the metric's defaults)
    double initial_momentum = 0.8;            ///< EE-phase momentum (0.8 since openTSNE 0.7)
    double final_momentum = 0.8;              ///< main-phase momentum
    std::optional<double> max_grad_norm;      ///< per-point gradient clip; none
    std::optional<double> max_step_norm = 5;  ///< per-point update clip
    double min_gain = 0.01;                   ///< additive gain floor
    int n_jobs = 1;                           ///< threads; −1 = all cores (joblib convention)
    KnnMethod neighbors = KnnMethod::auto_;   ///< auto: exact up to N^2 D = 1e12 (4e11 other metrics), else HNSW (knn.hpp)
    std::size_t knn_shards = 0;              ///< HNSW over this many shards (neighbors/sharded.hpp); 0 = one index. Under mpirun: 0 = ⌈N/131072⌉
    /// Run the exact gradient even above exact_max_points (CLI --force-exact).
    bool force_exact = false;
    std::size_t exact_max_points = exact_gradient_max_points;  ///< the exact gradient's limit (see above)
    TrainCallback callback;                   ///< every callbacks_every_iters iterations; true stops the run
    int callbacks_every_iters = 50;
    std::optional<std::uint64_t> random_state;  ///< none = seeded from std::random_device
    bool verbose = false;                     ///< KL every 50 iterations and stage timings through nembed::info
    TrainProgress progress;                   ///< optional, after every iteration
    /// Evaluate the KL every callbacks_every_iters iterations for `progress` (a display). false: progress events
    /// carry NaN except at the end of each phase, like openTSNE, which computes the KL only when verbose or a
    /// callback asks for it (the KL's pass costs ~3 attraction passes; bench/RESULTS.md #21, t26).
    bool progress_loss = true;
    PointOrder point_order = PointOrder::auto_;  ///< the gradient's point order (not openTSNE's; see PointOrder)
};

/// Throws InvalidArgument for any bad option (n_points: data size, 0 when unknown).
void validate(const TsneOptions& options, std::size_t n_points = 0);

/// What the gradient needs besides P and Y; shared by an embedding and its partial embeddings.
struct TsneGradientParams {
    double dof = 1.0;
    RepulsionOptions repulsion;
    int n_threads = 1;  ///< resolved (>= 1)
    PointOrder point_order = PointOrder::auto_;  ///< full embeddings only (a partial embedding keeps its order)
};
/// The Repulsion estimator for n points in `n_components` dimensions (auto resolved as in GradientMethod::auto_).
/// Throws InvalidArgument for FFT above 2 dimensions.
std::unique_ptr<Repulsion> make_repulsion(const TsneGradientParams& params, std::size_t n_points,
                                          std::size_t n_components);
/// GradientMethod::auto_ resolved for n points in d dimensions (other methods unchanged).
GradientMethod resolve_method(GradientMethod method, std::size_t n_points, std::size_t n_components);

/// What a run of phases does besides the phases (openTSNE's gradient_descent_params other than the per-phase
/// learning rate, exaggeration and momentum).
struct TsneRunOptions {
    std::optional<double> max_grad_norm;       ///< per-point gradient clip; none
    std::optional<double> max_step_norm = 5;   ///< per-point update clip
    double min_gain = 0.01;                    ///< additive gain floor
    TrainCallback callback;                    ///< every callbacks_every_iters iterations of each phase
    int callbacks_every_iters = 50;
    bool verbose = false;                      ///< openTSNE's log lines through nembed::info
    TrainProgress progress;                    ///< after every iteration
    bool progress_loss = true;                 ///< evaluate the KL for progress events (TsneOptions::progress_loss)
    /// false: a callback stop returns normally (report.stop == callback) with the embedding where it stopped;
    /// true: it throws OptimizationInterrupt carrying the KL and that embedding (the state is kept either way).
    bool propagate_exception = false;
};
/// Throws InvalidArgument naming the bad field.
void validate(const TsneRunOptions& options);

/// Parameters of one `optimize` call (openTSNE's optimize(**gradient_descent_params)): one phase.
struct TsneOptimizeOptions : TsneRunOptions {
    std::optional<double> learning_rate;       ///< none = auto (N / exaggeration)
    double exaggeration = 1.0;
    double momentum = 0.8;
    std::string phase = "optimize";            ///< the phase's name in progress events
};

/// What a run did.
struct OptimizeReport {
    int iterations = 0;  ///< iterations of the last phase that ran (at a callback stop: where it stopped)
    double kl = std::numeric_limits<double>::quiet_NaN();  ///< KL of the final (or stopped) embedding
    StopReason stop = StopReason::completed;
    double learning_rate = 0.0;  ///< the learning rate of the last phase
    std::vector<double> phase_seconds;  ///< wall time of each phase that ran, in order
};

/// A callback asked to stop: carries the KL and the embedding at the stop (openTSNE's OptimizationInterrupt).
class OptimizationInterrupt : public Interrupted {
public:
    OptimizationInterrupt(double kl_, Matrix<double> embedding, int iteration_)
        : Interrupted("optimization stopped by a callback at iteration " + std::to_string(iteration_)),
          kl(kl_), final_embedding(std::move(embedding)), iteration(iteration_) {}
    double kl;
    Matrix<double> final_embedding;
    int iteration;
};

/// openTSNE's transform / prepare_partial defaults (tsne.md §1.5).
struct TransformOptions {
    double perplexity = 5;           ///< of the new points' conditional P (k = min(N_ref, ⌊3·perplexity⌋))
    std::size_t k = 25;              ///< neighbours for the median initialisation
    Matrix<double> initialization;   ///< optional N_new x d start; empty = median of the k nearest reference points
    double learning_rate = 0.1;      ///< fixed ("auto" is meaningless here)
    double early_exaggeration = 4;
    int early_exaggeration_iter = 0;
    double exaggeration = 1.5;
    int n_iter = 250;
    double initial_momentum = 0.8;
    double final_momentum = 0.8;
    std::optional<double> max_grad_norm = 0.25;  ///< new points overlapping the reference get huge gradients
    std::optional<double> max_step_norm;         ///< none
    TrainCallback callback;
    int callbacks_every_iters = 50;
    bool verbose = false;
    TrainProgress progress;
};

/// openTSNE's fit schedule as data: "early_exaggeration" (early_exaggeration_iter iterations, exaggeration
/// early_exaggeration or auto max(12, exaggeration), initial_momentum) then "main" (n_iter iterations, exaggeration
/// or 1, final_momentum); the learning rate is options.learning_rate or none (auto: N / exaggeration per phase).
std::vector<Phase> tsne_phases(const TsneOptions& options);
/// openTSNE's transform schedule: two phases named "transform" (early_exaggeration_iter at early_exaggeration with
/// initial_momentum, then n_iter at exaggeration with final_momentum), both at options.learning_rate.
std::vector<Phase> transform_phases(const TransformOptions& options);

class PartialTsneEmbedding;

class TsneEmbedding {
public:
    TsneEmbedding() = default;
    /// Wraps an embedding and its affinities (P: N x N). `knn_index` (optional) enables transform; it must index the
    /// same N points. `reference_data` (optional) is kept for saving a model.
    TsneEmbedding(Matrix<double> Y, CsrMatrix<double> P, TsneGradientParams params,
                  std::shared_ptr<const KnnIndex> knn_index = nullptr,
                  std::shared_ptr<const Matrix<float>> reference_data = nullptr);

    /// A distributed embedding (dist/tsne.hpp): Y is the full N x d embedding (every rank holds it), P_rows this
    /// rank's rows of the N x N affinities (dist::RowPartition(N, comm.size())). run/optimize are collective and
    /// give every rank the same embedding; transform and set_affinities are not available. `comm` must outlive it.
    TsneEmbedding(Matrix<double> Y, CsrMatrix<double> P_rows, TsneGradientParams params, dist::Comm& comm);
    /// True for a distributed embedding.
    bool distributed() const { return comm_ != nullptr; }

    /// Runs n_iter iterations in place, continuing from this embedding's optimizer state (gains, momentum).
    /// Updates kl_divergence(). Throws InvalidArgument for bad options, Interrupted on nembed::request_interrupt(),
    /// OptimizationInterrupt on a callback stop when propagate_exception is set.
    OptimizeReport optimize(int n_iter, const TsneOptimizeOptions& options = {});
    /// Runs the phases in order on one Trainer (TSNE::run passes tsne_phases()), continuing the optimizer state.
    /// A callback stop ends the run (later phases do not start). Updates kl_divergence(). Throws as optimize.
    OptimizeReport run(const std::vector<Phase>& phases, const TsneRunOptions& options = {});

    /// Embeds new points into this (unchanged) embedding with openTSNE's transform schedule; returns N_new x d.
    Matrix<double> transform(MatrixView<float> X_new, const TransformOptions& options = {}) const;
    /// The unoptimised partial embedding of new points (kNN query, conditional P, median init).
    PartialTsneEmbedding prepare_partial(MatrixView<float> X_new, const TransformOptions& options = {}) const;
    /// Same from a given N_new x N conditional P (rows normally summing to 1) and start positions.
    PartialTsneEmbedding prepare_partial(CsrMatrix<double> P_new, Matrix<double> initialization) const;

    const Matrix<double>& embedding() const { return table_.Y(); }
    Matrix<double>& embedding() { return table_.Y(); }
    const CsrMatrix<double>& affinities() const { return P_; }
    /// Replaces P (N x N, same N) keeping the positions and the optimizer state (gains, momentum): perplexity
    /// annealing (openTSNE's set_perplexity between optimize calls). Throws InvalidArgument for a bad P.
    void set_affinities(CsrMatrix<double> P);
    /// KL divergence after the last optimize call (NaN before any).
    double kl_divergence() const { return kl_; }
    TsneGradientParams& gradient_params() { return params_; }
    const TsneGradientParams& gradient_params() const { return params_; }
    /// openTSNE's gains and momentum (created on the first iteration).
    const GainsMomentum& optimizer() const { return optimizer_; }
    /// Iterations applied over all calls.
    std::int64_t total_iterations() const { return iterations_; }
    /// The kNN index over the training data (null when fitted from P).
    const std::shared_ptr<const KnnIndex>& knn_index() const { return index_; }
    /// The training data, when fitted from data (for saving a model, io/model.hpp).
    const std::shared_ptr<const Matrix<float>>& reference_data() const { return data_; }
    bool can_transform() const { return static_cast<bool>(index_); }
    const TsneTimings& timings() const { return timings_; }
    TsneTimings& timings() { return timings_; }

private:
    EmbeddingTable table_;
    CsrMatrix<double> P_;
    TsneGradientParams params_;
    std::shared_ptr<const KnnIndex> index_;
    std::shared_ptr<const Matrix<float>> data_;
    GainsMomentum optimizer_{0.8, 0.01, 5.0, 1};
    std::int64_t iterations_ = 0;
    double kl_ = std::numeric_limits<double>::quiet_NaN();
    TsneTimings timings_;
    dist::Comm* comm_ = nullptr;  ///< set for a distributed embedding (P_ then holds this rank's rows)
    /// The gradient's point order (PointOrder), fixed at the first run that wants one, and P renumbered by it
    /// (order_[new] = old); cleared by set_affinities.
    std::vector<index_t> order_;
    CsrMatrix<double> P_ordered_;
};

/// New points optimised against a fixed reference embedding (no new-new interactions, per-point normalisation).
class PartialTsneEmbedding {
public:
    PartialTsneEmbedding(Matrix<double> Y_new, CsrMatrix<double> P_new, std::shared_ptr<const Matrix<double>> reference,
                         TsneGradientParams params);
    /// As TsneEmbedding::optimize, but without centring; a learning rate must be given (no auto).
    /// With the FFT method, points are kept inside a disc/interval around the reference (centre (max+min)/2,
    /// radius 1.25 × the farthest reference point); clipped points lose their momentum.
    OptimizeReport optimize(int n_iter, const TsneOptimizeOptions& options);
    /// Runs the phases in order (transform passes transform_phases()); each needs a learning rate.
    OptimizeReport run(const std::vector<Phase>& phases, const TsneRunOptions& options);

    const Matrix<double>& embedding() const { return table_.Y(); }
    /// The new points' positions, writable between runs (openTSNE's partial embedding is a plain array).
    Matrix<double>& embedding() { return table_.Y(); }
    const CsrMatrix<double>& affinities() const { return P_; }
    double kl_divergence() const { return kl_; }
    const GainsMomentum& optimizer() const { return optimizer_; }
    std::int64_t total_iterations() const { return iterations_; }
    /// The gradient parameters (checked again on each run).
    TsneGradientParams& gradient_params() { return params_; }
    const TsneGradientParams& gradient_params() const { return params_; }

private:
    EmbeddingTable table_;
    CsrMatrix<double> P_;
    std::shared_ptr<const Matrix<double>> reference_;
    TsneGradientParams params_;
    GainsMomentum optimizer_{0.8, 0.01, std::nullopt, 1};
    std::int64_t iterations_ = 0;
    double kl_ = std::numeric_limits<double>::quiet_NaN();
};

class TSNE {
public:
    explicit TSNE(TsneOptions options = {}) : options_(std::move(options)) {}

    /// kNN (index kept for transform) -> perplexity affinities -> initialisation, no optimisation.
    TsneEmbedding prepare_initial(MatrixView<float> X) const;
    /// From precomputed affinities (N x N, normalised to sum 1 here) and an optional start (empty = spectral, or
    /// random when initialization == random). No transform.
    TsneEmbedding prepare_initial(CsrMatrix<double> P, Matrix<double> initialization = {}) const;

    /// prepare_initial + early exaggeration + main phase. A callback stop returns the partial embedding.
    TsneEmbedding fit(MatrixView<float> X) const;
    TsneEmbedding fit(CsrMatrix<double> P, Matrix<double> initialization = {}) const;

    /// Runs tsne_phases(options()) on a prepared embedding (what fit does after prepare_initial) and records the
    /// phases' timings. A callback stop returns the partial embedding.
    void run(TsneEmbedding& embedding) const;

    const TsneOptions& options() const { return options_; }

private:
    TsneOptions options_;
};

} // namespace nembed
