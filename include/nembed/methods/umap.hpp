#pragma once
/// @file umap.hpp
/// UMAP with umap-learn's model and defaults (contrastive.md §2), from the shared parts: kNN (neighbors/knn.hpp),
/// the fuzzy simplicial set (affinity/fuzzy.hpp), spectral initialisation (init/spectral.hpp), the UMAP kernel and
/// its fitted (a, b) (kernel/umap_kernel.hpp), and training on the shared core (docs/core.md §6): the BCE loss
/// (loss/bce.hpp) in umap-learn's per-edge epochs (train/edge_epoch_plan.hpp, which documents the
/// thread-count-independent row scheme) on the embedding table, plain SGD, umap-learn's learning-rate decay
/// (LrAnneal::umap in optim/schedule.hpp), run by the resumable Trainer (train/trainer.hpp).
///
///   UmapOptions opt;                        // umap-learn: n_neighbors 15, min_dist 0.1, spread 1, spectral init
///   opt.random_state = 42;
///   UmapEmbedding emb = UMAP(opt).fit(X);   // kNN -> fuzzy set -> spectral -> n_epochs of SGD
///   Matrix<double> Ynew = emb.transform(X_new);
///
/// n_neighbors counts the point itself, as in umap-learn: the kNN graph has n_neighbors − 1 neighbours per point and
/// the fuzzy set uses self_in_count, which reproduces umap-learn's graph exactly (tests/affinity).
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nembed/affinity/fuzzy.hpp"
#include "nembed/core/matrix.hpp"
#include "nembed/core/sparse.hpp"
#include "nembed/init/multi_component.hpp"
#include "nembed/kernel/output_metric.hpp"
#include "nembed/kernel/umap_kernel.hpp"
#include "nembed/loss/densmap.hpp"
#include "nembed/neighbors/knn.hpp"
#include "nembed/train/edge_epoch_plan.hpp"
#include "nembed/train/trainer.hpp"

namespace nembed {

namespace dist {
class Comm;
}

enum class UmapInit { spectral, pca, random, user };
/// Parses "spectral", "pca", "random"; throws InvalidArgument otherwise.
UmapInit parse_umap_init(const std::string& name);
std::string to_string(UmapInit i);

/// Supervised UMAP (umap-learn's fit(X, y)): the data's fuzzy graph intersected with the target's (docs/dropin.md,
/// "umap-learn"). One value per point.
struct UmapTarget {
    std::vector<double> values;              ///< empty: unsupervised
    /// true: values are category labels (integers, −1 = unknown; umap-learn's "categorical"), intersected with
    /// far_dist = 2.5/(1 − weight) (1e12 for weight 1) and unknown_dist 1. false: the target's own directed fuzzy
    /// graph from its target_n_neighbors nearest values (|y_i − y_j|, umap-learn's "l1"/"euclidean" on 1-D targets),
    /// combined by general_simplicial_set_intersection with the weight.
    bool categorical = true;
    double weight = 0.5;                     ///< umap-learn's target_weight, in [0, 1]
    std::size_t n_neighbors = 0;             ///< target_n_neighbors counting the point itself; 0 = n_neighbors
};

/// umap-learn's supervised graph: `graph` (the symmetric fuzzy set of the data) combined with `target`, then
/// reset_local_connectivity. n_neighbors is the data's (the target's default). Throws InvalidArgument for a bad
/// target (size, non-integer labels, weight outside [0, 1], too few points).
CsrMatrix<double> umap_supervised_graph(const CsrMatrix<double>& graph, const UmapTarget& target,
                                        std::size_t n_neighbors, int n_threads = 1);

struct UmapTimings {
    double knn = 0, graph = 0, init = 0, optimize = 0;
};

/// umap-learn's UMAP(...) parameters that this model uses, with umap-learn's defaults.
struct UmapOptions {
    std::size_t n_neighbors = 15;            ///< counts the point itself (umap-learn); >= 2
    std::size_t n_components = 2;            ///< >= 1
    Metric metric = Metric::euclidean;       ///< input metric
    MetricParams metric_params;              ///< its parameters (metric.hpp; unset = the metric's defaults)
    std::optional<int> n_epochs;             ///< none: 500 below 10 000 points (inclusive), else 200
    double learning_rate = 1.0;              ///< initial α, decayed linearly to 0
    UmapInit init = UmapInit::spectral;
    Matrix<double> initial_embedding;        ///< N x n_components when init == user
    double min_dist = 0.1;
    double spread = 1.0;
    std::optional<double> a, b;              ///< none: fitted from (min_dist, spread)
    double set_op_mix_ratio = 1.0;
    double local_connectivity = 1.0;
    double repulsion_strength = 1.0;         ///< γ
    double negative_sample_rate = 5;         ///< negatives per positive sample
    std::optional<std::uint64_t> random_state;  ///< none: seeded from std::random_device
    std::uint64_t transform_seed = 42;
    int n_jobs = 1;                          ///< threads; −1 = all cores
    KnnMethod neighbors = KnnMethod::auto_;
    std::size_t knn_shards = 0;              ///< HNSW over this many shards (neighbors/sharded.hpp); 0 = one index. Under mpirun: 0 = ⌈N/131072⌉
    /// Called every `callbacks_every_epochs` epochs (event.step = epochs done, event.loss = mean loss per pair
    /// sampled in that epoch, event.embedding); returning true stops the run.
    TrainCallback callback;
    int callbacks_every_epochs = 0;          ///< 0 = never
    /// After every epoch (event.step = epochs done, event.phase_steps = total epochs, event.elapsed = seconds).
    TrainProgress progress;
    bool verbose = false;
    UmapTarget target;                       ///< supervised UMAP when target.values is not empty
    /// densMAP (loss/densmap.hpp): the density term in the last dens.frac of the epochs; the default epoch count
    /// grows by 200 (umap-learn). Needs the Euclidean output of the UMAP kernel (always the case here).
    bool densmap = false;
    DensmapOptions dens;
    /// Also compute the local radii umap-learn returns with output_dens (UmapEmbedding::rad_orig, rad_emb).
    bool output_dens = false;
    /// The space of the layout (umap-learn's output_metric): Euclidean, or a metric of kernel/output_metric.hpp
    /// laid out by umap-learn's generic rule (fit and transform). Not with densMAP / output_dens.
    OutputMetric output_metric;
    /// The order of the fit's edge updates (train/edge_epoch_plan.hpp): automatic = umap-learn's serial edge order
    /// below 4 096 points, the parallel row order from there on (docs/core.md §6.1, "Edge order").
    EdgeOrder edge_order = EdgeOrder::automatic;
};

/// Throws InvalidArgument for any bad option (n_points = data size, 0 when unknown).
void validate(const UmapOptions& options, std::size_t n_points = 0);

/// umap-learn's n_epochs rule (densMAP: 200 more).
inline int umap_default_epochs(std::size_t n_points, bool densmap = false) {
    return (n_points <= 10000 ? 500 : 200) + (densmap ? 200 : 0);
}

/// umap-learn's edge pruning: drops entries below max/n_epochs (keeps the matrix symmetric if it was). weight_max
/// > 0 is the whole graph's largest weight when `graph` holds only some of its rows (a distributed run); 0: the
/// largest weight of `graph`.
CsrMatrix<double> umap_prune_graph(const CsrMatrix<double>& graph, int n_epochs, double weight_max = 0.0);

/// umap-learn's random initialisation: uniform in [−10, 10], one counter stream per point (any split of the rows
/// draws the same values).
Matrix<double> umap_uniform_init(std::size_t n_points, std::size_t n_components, std::uint64_t seed);
/// umap-learn's noisy_scale_coords: scaled so the largest |coordinate| is 10, plus N(0, 1e-4²) noise per point.
void umap_noisy_scale(Matrix<double>& Y, std::uint64_t seed);
/// What umap-learn does to every initialisation: each dimension rescaled to [0, 10] (a constant one set to 5).
void umap_rescale_0_10(Matrix<double>& Y);

/// umap-learn's spectral_layout (eigenvectors of the normalised Laplacian for the smallest non-trivial eigenvalues),
/// scaled so the largest |coordinate| is 10, plus N(0, 1e-4²) noise. A disconnected graph gets umap-learn's
/// multi-component layout (init/multi_component.hpp; X, when given with one row per point, places the components by
/// their centroids). Falls back (with a warning) to uniform [−10, 10] when the eigensolver does not converge, as
/// umap-learn falls back to random when its solver fails.
Matrix<double> umap_spectral_init(const CsrMatrix<double>& graph, std::size_t n_components, std::uint64_t seed,
                                  int n_threads = 1, MatrixView<float> X = {});
/// The same with the data's per-component sums supplied by `component_sums(comps)` (comps.count x D, row-major, as
/// add_component_sums adds them over all rows), which is called only when the graph has more than 2·n_components
/// components, the only layout that reads the data: a distributed run folds the sums over its ranks there (so every
/// rank calls it together). D = 0: no data.
Matrix<double> umap_spectral_init(const CsrMatrix<double>& graph, std::size_t n_components, std::uint64_t seed,
                                  int n_threads, std::size_t D,
                                  const std::function<std::vector<double>(const GraphComponents&)>& component_sums);

/// A UMAP layout in training: the embedding table, the edge-epoch plan over the fuzzy graph, plain SGD and the
/// Trainer with one phase of n_epochs epochs. Move-only (the Trainer references the others).
class UmapEmbedding {
public:
    /// Wraps a symmetric fuzzy graph (already pruned) and a start layout; n_epochs is the planned total.
    UmapEmbedding(Matrix<double> Y, CsrMatrix<double> graph, UmapCurve curve, int n_epochs, double learning_rate,
                  double repulsion_strength, double negative_sample_rate, std::uint64_t seed, int n_threads);
    /// Distributed (dist/umap.hpp, docs/mpi.md §5): `graph_rows` holds this rank's rows of the pruned graph
    /// (dist::RowPartition(N, comm.size()), global columns), Y the whole start layout on every rank. Each epoch
    /// moves the owned points in the row order (EdgeOrder::rows) and all-gathers them, so every rank holds the
    /// same Y, bitwise the single-process row order's. The epochs' loss is not reported (NaN). Collective;
    /// `comm` must outlive it; transform, densMAP and output metrics are not available.
    UmapEmbedding(Matrix<double> Y, const CsrMatrix<double>& graph_rows, UmapCurve curve, int n_epochs,
                  double learning_rate, double repulsion_strength, double negative_sample_rate, std::uint64_t seed,
                  int n_threads, dist::Comm& comm);
    UmapEmbedding(UmapEmbedding&&) noexcept;
    UmapEmbedding& operator=(UmapEmbedding&&) noexcept;
    ~UmapEmbedding();

    /// Runs up to `n_more` further epochs of the planned schedule (all remaining when n_more < 0); returns the
    /// number run. Two calls of 100 epochs are bitwise identical to one of 200. The callback runs every
    /// `callbacks_every_epochs` epochs (never when <= 0; returning true stops), the progress hook after every epoch.
    /// Throws Interrupted on nembed::request_interrupt().
    int optimize(int n_more = -1, const TrainCallback& callback = {}, int callbacks_every_epochs = 0,
                 const TrainProgress& progress = {});

    /// umap-learn's transform: kNN of the new points among the reference, memberships with the transform rules
    /// (self_in_count false, local_connectivity − 1), start at the membership-weighted mean of the neighbours,
    /// then n_epochs (none: 100 up to 10 000 new points, else 30; set: n_epochs/3) at learning_rate/4 moving only the
    /// new points, negatives from the reference: the same plan with the reference fixed. Needs a kNN index (fitted
    /// from data; refused for densMAP, as umap-learn does). Returns N_new x d.
    Matrix<double> transform(MatrixView<float> X_new) const;
    /// The same from the new points' neighbours among the reference (n_new x N, e.g. from a precomputed distance
    /// matrix); needs no kNN index.
    Matrix<double> transform(const KnnGraph& neighbors) const;
    /// The new points' memberships (n_new x N, umap-learn's transform_mode "graph"): the graph transform optimises.
    CsrMatrix<double> transform_memberships(const KnnGraph& neighbors) const;

    const Matrix<double>& embedding() const;
    Matrix<double>& embedding();
    /// The fuzzy graph the layout was optimised for (after pruning).
    const CsrMatrix<double>& graph() const;
    const UmapCurve& curve() const { return curve_; }
    int epochs_done() const;
    int n_epochs() const { return n_epochs_; }
    const UmapTimings& timings() const { return timings_; }
    /// Adds densMAP's term to the layout (loss/densmap.hpp) from the data radii r_o (one per point); call before
    /// the epochs it should act in. Throws InvalidArgument for bad options.
    void enable_densmap(const DensmapOptions& options, const std::vector<double>& data_radii);
    bool densmap() const;
    /// Lays out (and transforms) in `metric` (kernel/output_metric.hpp); before the epochs it should act in.
    /// Throws InvalidArgument with densMAP or for a metric the dimension refuses.
    void set_output_metric(const OutputMetric& metric);
    const OutputMetric& output_metric() const { return output_metric_; }
    /// The order of the fit's edge updates from the next epoch on (EdgeOrder; default automatic).
    void set_edge_order(EdgeOrder order);
    UmapTimings& timings() { return timings_; }
    /// Loss per sampled pair in the last epoch where it was evaluated (NaN before).
    double last_loss() const { return loss_; }
    /// The training constants (also what transform uses: learning_rate / 4, γ, negatives per positive sample).
    double learning_rate() const { return learning_rate_; }
    double repulsion_strength() const { return gamma_; }
    double negative_sample_rate() const { return negative_sample_rate_; }

    // What transform needs (set by UMAP::fit).
    std::shared_ptr<const KnnIndex> knn_index;
    std::size_t n_neighbors = 15;
    double local_connectivity = 1.0;
    std::optional<int> requested_epochs;
    std::uint64_t transform_seed = 42;
    /// The fit's smooth_knn_dist calibration (σ, ρ per point; inverse transform's rule needs them).
    FuzzyCalibration calibration;
    /// output_dens: the data radii r_o and, after the layout, the embedding radii (loss/densmap.hpp); else empty.
    std::vector<double> rad_orig, rad_emb;

private:
    struct Training;  // table, plan, optimizer, trainer (stable addresses for the Trainer's references)
    std::unique_ptr<Training> train_;
    UmapCurve curve_;
    OutputMetric output_metric_;
    int n_epochs_ = 0;
    double learning_rate_ = 1.0, gamma_ = 1.0, negative_sample_rate_ = 5;
    int n_threads_ = 1;
    double loss_ = std::numeric_limits<double>::quiet_NaN();
    UmapTimings timings_;
};

class UMAP {
public:
    explicit UMAP(UmapOptions options = {}) : options_(std::move(options)) {}
    /// kNN -> fuzzy set -> pruning -> init -> optimisation.
    UmapEmbedding fit(MatrixView<float> X) const;
    /// The same from a kNN graph (n_neighbors − 1 neighbours expected; no transform); X only for init = pca.
    UmapEmbedding fit(const KnnGraph& graph, MatrixView<float> X = {}) const;
    /// Everything but the optimisation (the returned state has run 0 epochs).
    UmapEmbedding prepare(MatrixView<float> X) const;
    UmapEmbedding prepare(const KnnGraph& graph, MatrixView<float> X = {}) const;
    /// From a fuzzy graph already built (symmetric, N x N, weights in [0, 1], not pruned: e.g. a supervised or
    /// composed one, or scanpy's obsp["connectivities"]), as umap-learn's simplicial_set_embedding: pruning, init,
    /// the training state. X (one row per point) only for init = pca and the placement of disconnected components;
    /// none of options' kNN, fuzzy-set or target settings are read; no transform.
    /// `knn` (the graph's kNN, when it came from one) gives densMAP's data radii when X is not given.
    UmapEmbedding prepare_graph(CsrMatrix<double> graph, MatrixView<float> X = {}, const KnnGraph* knn = nullptr) const;
    UmapEmbedding fit_graph(CsrMatrix<double> graph, MatrixView<float> X = {}) const;
    const UmapOptions& options() const { return options_; }
    /// (a, b): the given ones, or fitted from min_dist and spread.
    UmapCurve curve() const;

private:
    UmapOptions options_;
};

} // namespace nembed
