#pragma once
/// @file training_phase.hpp
/// paraDime's TrainingPhase (docs/parametric.md, "paraDime"): what one phase of a ParametricDR routine trains, with
/// paraDime's names and defaults. One epoch is one step of the Trainer (train/trainer.hpp) over the paraDime batch
/// plan (parametric/paradime_plan.hpp).
///  - sampling "standard": the points shuffled, batches of batch_size points (the last one partial), all pairs;
///  - sampling "negative_edge": batch_size edges per batch drawn ∝ the global relation with replacement, each with
///    neg_sampling_rate negatives uniform over all points; batches_per_epoch batches per epoch, or (−1) enough for
///    max(batch_size, ⌈n/(neg_sampling_rate + 1)⌉) edges.
/// paraDime's set_training_defaults bug (batches_per_epoch written into batch_size) is not reproduced.
#include <string>

#include "nembed/optim/optimizer.hpp"
#include "nembed/optim/schedule.hpp"
#include "nembed/parametric/losses.hpp"

namespace nembed::paradime {

enum class Sampling { standard, negative_edge };
/// "standard", "negative_edge"; throws InvalidArgument naming the bad value.
Sampling parse_sampling(const std::string& name);
std::string to_string(Sampling s);

struct TrainingPhase {
    std::string name = "phase";
    int epochs = 5;                 ///< >= 1
    int batch_size = 50;            ///< points (standard) or positive edges (negative_edge) per batch, >= 1
    int batches_per_epoch = -1;     ///< −1: the whole data (standard) or paraDime's edge count (negative_edge)
    Sampling sampling = Sampling::standard;
    int neg_sampling_rate = 5;      ///< negatives per positive edge, >= 1
    std::string edge_rel_key = "rel";  ///< the global relation negative_edge samples from
    OptimizerOptions optimizer = default_optimizer();  ///< paraDime: torch.optim.Adam
    double learning_rate = 0.01;    ///< > 0
    /// Learning-rate decay over the phase's epochs (not in paraDime, whose rate is constant): none (paraDime),
    /// linear (lr·(1 − e/E)) or cosine (lr·(1 + cos(π e/E))/2), e the epoch within the phase (optim/schedule.hpp).
    LrAnneal lr_anneal = LrAnneal::none;
    int report_interval = 5;        ///< epochs between logged losses (verbose), >= 1
    Loss loss = Loss::RelationLoss();

    static OptimizerOptions default_optimizer() {
        OptimizerOptions o;
        o.kind = OptimizerOptions::Kind::adam;
        return o;
    }
};

/// Throws InvalidArgument naming the phase and the bad field (0 epochs, batch size, rates, the loss).
void validate(const TrainingPhase& phase);

} // namespace nembed::paradime
