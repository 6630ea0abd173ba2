#pragma once
/// @file edge_epoch_plan.hpp
/// umap-learn's per-edge epochs as a batch plan (docs/core.md §6.1). One step is one epoch of the edge schedule:
/// every edge (i, j) is due every epochs_per_sample = w_max/w_ij epochs; a due edge pulls y_i toward y_j and draws
/// negatives uniformly from the tails, about negative_sample_rate per positive sample. Each pair moves y_i at once
/// by the BCE loss's per-pair coefficients (loss/bce.hpp), every coordinate clipped to [−4, 4] and scaled by the
/// step's learning rate: umap-learn's per-pair SGD is the plan's own update rule, so the plan needs plain SGD
/// (nembed::Sgd with momentum 0 and no weight decay) and the free embedding table, and refuses anything else.
///
/// Coefficients: the attraction's c⁺ is multiplied by the phase's exaggeration, the repulsion's γ is the phase's
/// repulsion_strength; the learning rate comes from the Trainer (umap-learn's decay is LrAnneal::umap).
///
/// **Reproducible rows.** umap-learn applies every sampled edge in place, in edge order (Hogwild across threads, so
/// its parallel results are not reproducible). Here an epoch processes the rows of the graph independently: row i
/// moves only y_i, sequentially through its due edges (fit: for each, the attraction toward y_j twice — once as the
/// head of (i, j), once as the tail of the mirrored (j, i), which umap-learn moves by the same rule — then its
/// negatives), reading every other point from a snapshot of the table taken at the start of the epoch. Negatives
/// come from a counter-based stream per (epoch, edge). So each row depends only on the snapshot and the seed: the
/// same seed gives the same bits for any number of threads. In transform the tails are a fixed reference (no
/// snapshot, no mirrored attraction, a draw of the head's own index is not skipped).
///
/// **Small fits go by edges.** On small graphs the snapshot is too stale: each point takes dozens of moves per epoch
/// toward neighbours that are moving too, and the row order (y_i pulled twice in a row toward y_j) loses
/// umap-learn's clusters (supervised iris: KMeans ARI 0.75 by rows vs 1.0 by umap-learn's order from the same start
/// and graph). Below 4 096 points (EdgeOrder::automatic) a fit therefore runs umap-learn's own order: one thread
/// visits the due edges in CSR order and moves both ends in place by the same clipped step, then the head's
/// negatives. Serial, so the same seed still gives the same bits for any thread count.
///
/// Two further terms plug into the same epochs: densMAP's density term (loss/densmap.hpp; fit only, UMAP kernel),
/// added to every attraction move in the epochs where it is active, with its statistics taken from the snapshot at
/// the start of the epoch; and umap-learn's inverse_transform rule (loss/umap_inverse.hpp), which replaces the BCE
/// coefficients when the plan is built with it. A non-Euclidean output metric (loss/umap_output_metric.hpp,
/// umap-learn's optimize_layout_generic) replaces the BCE coefficients of the UMAP kernel the same way
/// (set_output_metric; fit and transform).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/core/sparse.hpp"
#include "nembed/kernel/kernel.hpp"
#include "nembed/loss/densmap.hpp"
#include "nembed/loss/umap_inverse.hpp"
#include "nembed/loss/umap_output_metric.hpp"
#include "nembed/repulsion/negative_sampling.hpp"
#include "nembed/train/plan.hpp"

namespace nembed {

/// The edge schedule of umap-learn's optimize_layout_euclidean over a CSR graph: epochs_per_sample = w_max/w,
/// the next epoch each edge is due, the epoch of its next negatives. Advanced by the plan (it is the plan's state).
struct UmapEdgeSchedule {
    std::vector<double> epochs_per_sample;
    std::vector<double> next_sample;
    std::vector<double> next_negative;
    /// epochs_per_sample/negative_sample_rate (umap-learn's epochs_per_negative_sample) and its inverse, once per
    /// edge: take() then needs no division (two dependent divisions per due edge were a seventh of the epochs).
    std::vector<double> epochs_per_negative;
    std::vector<double> negatives_per_epoch;
    double negative_sample_rate = 5;
    /// Builds the schedule for the entries of `graph` (all assumed kept; see umap_prune_graph). weight_max > 0 is
    /// the largest weight of the whole graph when `graph` holds only some of its rows (a distributed run);
    /// 0: the largest weight of `graph`.
    static UmapEdgeSchedule make(const CsrMatrix<double>& graph, int n_epochs, double negative_sample_rate,
                                 double weight_max = 0.0);
    /// Takes the due edge p's sample in `epoch`: advances its next sample and next negatives, and returns how many
    /// negatives it draws now: umap-learn's int((n − next_negative)/epochs_per_negative_sample), the division
    /// replaced by the product with the precomputed inverse. The two differ where the quotient lies within a rounding
    /// of an integer: none of FMNIST's 91 M samples over 200 epochs, 0 of ~1e6 in the test (docs/core.md §6.1).
    long take(std::size_t p, double epoch) {
        next_sample[p] += epochs_per_sample[p];
        const long n_neg = static_cast<long>((epoch - next_negative[p]) * negatives_per_epoch[p]);
        next_negative[p] += static_cast<double>(n_neg) * epochs_per_negative[p];
        return n_neg;
    }
};

/// The order in which a fit's epoch visits its edges (docs/core.md §6.1, "Edge order").
enum class EdgeOrder {
    automatic,  ///< `edges` below 4 096 points (umap-learn's small-data threshold), `rows` from there on
    rows,       ///< rows in parallel, each moving only its own point, tails from the epoch's snapshot
    edges,      ///< umap-learn's own order: one thread, every due edge in CSR order moves both ends in place
};

/// "auto", "rows" or "edges".
std::string to_string(EdgeOrder order);
/// The inverse of to_string; InvalidArgument naming the value otherwise.
EdgeOrder parse_edge_order(const std::string& name);

struct EdgeEpochOptions {
    int n_epochs = 200;                                ///< E of the schedule (>= 1): edges' sample counts
    double negative_sample_rate = 5;                  ///< negatives per positive sample (> 0)
    std::uint64_t seed = 0;                           ///< seed of the negative streams
    SamplingFamily family = SamplingFamily::umap_fit;  ///< stream family (fit and transform draw differently)
    EdgeOrder order = EdgeOrder::automatic;            ///< a fit's edge order (transforms always go by rows)
    /// 2-D and 3-D embeddings with the UMAP curve (no densMAP): run 32 rows side by side in vectors (docs/core.md
    /// §6.1); false runs them one at a time. Both give the same bits; the switch exists for the tests that show it.
    bool lanes = true;
    /// Distributed runs (dist/umap.hpp, docs/mpi.md §5) give each rank an N-row graph whose rows outside
    /// [row_begin, row_end) are empty. Row order only: those rows are not visited (their points are not moved).
    std::size_t row_begin = 0, row_end = static_cast<std::size_t>(-1);
    /// The global CSR position of this graph's first edge: negatives are drawn from the stream of (epoch,
    /// edge_offset + p), so a rank holding some rows draws what one process holding all rows draws.
    std::uint64_t edge_offset = 0;
    /// The whole graph's largest weight (UmapEdgeSchedule::make); 0: this graph's.
    double weight_max = 0.0;
};

class EdgeEpochPlan final : public BatchPlan {
public:
    /// Fit: `graph` is the symmetric N × N graph over the table's points (heads and tails alike). Throws
    /// InvalidArgument for a non-square graph, bad options, or a kernel the BCE loss refuses (validate_bce_kernel).
    EdgeEpochPlan(CsrMatrix<double> graph, OutputKernel kernel, EdgeEpochOptions options);
    /// Transform: `graph` is N_new × N_ref, the tails are the rows of `reference` (fixed; referenced, keep it alive).
    EdgeEpochPlan(CsrMatrix<double> graph, OutputKernel kernel, EdgeEpochOptions options,
                  const Matrix<double>& reference);
    /// Inverse transform: `graph` is N_new × N_ref with umap-learn's output-kernel weights, the tails the fixed
    /// reference *data* (referenced); the pairs move by `loss` (its σ, ρ referenced, one per reference point).
    EdgeEpochPlan(CsrMatrix<double> graph, UmapInverseLoss loss, EdgeEpochOptions options,
                  const Matrix<double>& reference);

    /// Adds densMAP's term (fit plans with the UMAP kernel only; throws InvalidArgument otherwise). Its activity is
    /// judged against options.n_epochs.
    void set_densmap(DensmapTerm term);
    bool has_densmap() const { return densmap_.has_value(); }
    /// Lays out in a non-Euclidean output metric (UMAP kernel plans without densMAP or the inverse rule only;
    /// throws InvalidArgument otherwise or for a metric the dimension refuses). The Euclidean metric clears it.
    void set_output_metric(const OutputMetric& metric, std::size_t n_components);
    /// The order of a fit's edge updates from the next step on (transforms always go by rows).
    void set_order(EdgeOrder order) { options_.order = order; }

    std::string unit() const override { return "epoch"; }
    /// One epoch at ctx.step (the schedule's epoch). Returns the mean loss per sampled pair when ctx.want_loss
    /// (0 when no pair was sampled), else NaN. Throws InvalidArgument unless params is an EmbeddingTable with one row
    /// per graph row (and the reference's width) and the optimizer is plain SGD.
    double step(Parametrization& params, Optimizer& optimizer, const StepContext& ctx) override;

    const CsrMatrix<double>& graph() const { return graph_; }
    const UmapEdgeSchedule& schedule() const { return schedule_; }
    const OutputKernel& kernel() const { return kernel_; }

private:
    CsrMatrix<double> graph_;
    OutputKernel kernel_;
    EdgeEpochOptions options_;
    UmapEdgeSchedule schedule_;
    const Matrix<double>* reference_ = nullptr;  // transform's tails; null: the table's snapshot
    Matrix<double> snapshot_;
    std::vector<float> snapshot_f_;  // the snapshot in float, when the fit reads its tails at float precision
    std::optional<DensmapTerm> densmap_;          // fit: densMAP's term, when set
    std::optional<UmapInverseLoss> inverse_;      // inverse transform's rule, replacing the BCE coefficients
    std::optional<UmapOutputMetricLoss> output_metric_;  // a non-Euclidean output space, replacing them too
};

} // namespace nembed
