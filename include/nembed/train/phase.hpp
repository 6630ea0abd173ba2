#pragma once
/// @file phase.hpp
/// A phase of a training run (docs/core.md §6): a number of steps (iterations of a full-batch plan, epochs of an
/// edge plan) with fixed loss coefficients. Early exaggeration is a phase, as in openTSNE and TorchDR.
#include <optional>
#include <string>

#include "nembed/optim/schedule.hpp"

namespace nembed {

struct Phase {
    std::string name = "main";           ///< reported in progress events ("early_exaggeration", "main", ...)
    int n_steps = 0;                      ///< >= 0
    double exaggeration = 1.0;            ///< coefficient on the attraction (TorchDR's early_exaggeration_coeff)
    double repulsion_strength = 1.0;      ///< coefficient on the repulsion (TorchDR's repulsion_strength, UMAP's γ)
    std::optional<double> momentum;       ///< set on the optimizer at the phase start; none: unchanged
    /// A constant rate for the phase; none: the run's schedule (LrSchedule over all steps) or the plan's auto rule.
    std::optional<double> learning_rate;
    /// A schedule over this phase's own steps (evaluated at the step within the phase), below learning_rate and
    /// above the run's schedule: TorchDR re-creates its scheduler when the early exaggeration ends.
    std::optional<LrSchedule> schedule;
    /// Forget the optimizer's state (momentum buffers, moments) when the phase starts: TorchDR re-creates its
    /// optimizer when the early exaggeration ends.
    bool reset_optimizer = false;
    /// A loss parameter for this phase only (cne's spectrum ξ/ρ during its early exaggeration); none: the loss's.
    std::optional<double> loss_spec;
};

/// Throws InvalidArgument naming the phase and the bad field.
void validate(const Phase& phase);

} // namespace nembed
