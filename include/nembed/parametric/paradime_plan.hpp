#pragma once
/// @file paradime_plan.hpp
/// The batch plan of paraDime's training phases (docs/parametric.md, "paraDime"): one Trainer step is one epoch of
/// the current TrainingPhase. Each batch is embedded by the parametrisation (forward), its losses give dL/dY of the
/// batch, the parametrisation's backward pass and one optimizer step follow (paraDime: one torch step per batch).
/// paraDime creates each phase's optimizer anew: the plan holds one per phase (the Trainer's optimizer is not
/// used); the learnable transform parameters (α, a, b) have their own state under the same rule and rate.
/// Batches are drawn from counter-based streams of (seed, phase, epoch): same seed, same bits for any thread count.
#include <cstdint>
#include <functional>
#include <limits>
#include <span>
#include <map>
#include <memory>
#include <string>
#include <vector>
#include <utility>

#include "nembed/core/cumulative_search.hpp"
#include "nembed/core/matrix.hpp"
#include "nembed/parametric/relations.hpp"
#include "nembed/parametric/training_phase.hpp"
#include "nembed/train/plan.hpp"

namespace nembed::paradime {

/// Per-epoch loss sums of one phase (paraDime's Loss.history): the phase's loss under its name, and, for a
/// CompoundLoss, each part (unweighted) under its own.
struct PhaseHistory {
    std::string phase;
    std::map<std::string, std::vector<double>> losses;
    /// The embedding's RMS distance to its centroid after the phase's last epoch (embedding_radius; NaN when the
    /// run stopped inside the phase): the collapse check of ParametricDR::train.
    double radius = std::numeric_limits<double>::quiet_NaN();
};

/// RMS distance of the rows of Y to their centroid (double, fixed order).
double embedding_radius(MatrixView<double> Y);
/// Below this radius an embedding has collapsed to a point (docs/parametric.md, "Collapse"): the modified Cauchy
/// cross-entropy clamps every negative pair (1 − q < ε = 1e-7 for distances under ~1e-4 at min_dist 0.1, ~3e-5 at
/// 0.01) and passes no repulsion, so the map cannot grow again. Healthy maps are O(1).
inline constexpr double collapse_radius = 1e-4;

/// Named data of a routine: positions (PositionLoss targets: "pca", "spectral", user data) and labels.
struct Dataset {
    std::map<std::string, Matrix<double>> positions;
};

/// A loss the model evaluates itself (ClassificationLoss, ReconstructionLoss, custom losses of a PyTorch module):
/// called after the batch's forward pass with the loss, the batch and its weight in the phase's total; returns the
/// loss's (unweighted) value and adds weight·∂loss/∂θ to the model's gradient itself.
using ExternalLoss = std::function<double(const Loss& loss, std::span<const index_t> batch, double weight)>;
/// Called when a phase starts, with its index (a PyTorch model creates the phase's optimizer).
using PhaseStart = std::function<void(int phase)>;

class ParadimePlan final : public BatchPlan {
public:
    /// Everything is referenced, not copied: keep it alive while the plan is in use. `params` holds each batch
    /// relation's transform parameters (updated in place when learnable).
    ParadimePlan(const std::vector<TrainingPhase>& phases, const std::map<std::string, GlobalRelationData>& global,
                 const std::map<std::string, BatchRelations>& batch,
                 std::map<std::string, std::vector<TransformParams>>& params, const Dataset& dataset,
                 std::size_t n_points, std::uint64_t seed);
    ~ParadimePlan() override;
    std::string unit() const override { return "epoch"; }
    double step(Parametrization& params, Optimizer& optimizer, const StepContext& ctx) override;
    const std::vector<PhaseHistory>& histories() const { return histories_; }
    /// Log the loss every report_interval epochs (paraDime's verbose).
    void set_verbose(bool v) { verbose_ = v; }
    void set_external_loss(ExternalLoss f) { external_ = std::move(f); }
    void set_phase_start(PhaseStart f) { phase_start_ = std::move(f); }

private:
    struct Batch;
    double run_batch(Parametrization& model, const TrainingPhase& phase, Batch& batch, double lr, int n_threads,
                     std::map<std::string, double>& sums);
    double evaluate(const Loss& loss, Batch& batch, const TrainingPhase& phase, double weight,
                    std::map<std::string, double>& sums);

    const std::vector<TrainingPhase>& phases_;
    const std::map<std::string, GlobalRelationData>& global_;
    const std::map<std::string, BatchRelations>& batch_rel_;
    std::map<std::string, std::vector<TransformParams>>& params_;
    const Dataset& dataset_;
    std::size_t n_;
    std::uint64_t seed_;
    bool verbose_ = false;
    ExternalLoss external_;
    PhaseStart phase_start_;
    int current_ = -1;
    std::int64_t epoch_ = 0;
    std::unique_ptr<Optimizer> optimizer_, param_optimizer_;
    std::vector<PhaseHistory> histories_;
    std::vector<std::int64_t> pos_;
    std::map<std::string, CumulativeSearch> cumulative_;  // negative_edge: cumulative edge weights per key
    std::map<std::string, std::vector<std::pair<index_t, index_t>>> edges_;  // negative_edge: each stored edge's ends
};

} // namespace nembed::paradime
