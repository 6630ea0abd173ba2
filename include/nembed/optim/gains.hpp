#pragma once
/// @file gains.hpp
/// openTSNE's gradient descent step as an Optimizer (docs/core.md §5): per coordinate, the gain grows by 0.2 where the
/// gradient's sign differs from the previous update's, else decays as 0.8·gain + min_gain (an additive floor, not a
/// clamp); update = momentum·update − lr·gain·g; optionally each point's update is clipped to `max_step_norm`
/// (scaled by limit/(norm + 1e-6), openTSNE's clip); params += update. Gains and updates persist (resumable).
#include <algorithm>
#include <cstddef>
#include <optional>
#include <vector>

#include "nembed/optim/optimizer.hpp"

namespace nembed {

class GainsMomentum final : public Optimizer {
public:
    /// row_size: values per point (the embedding dimension) for the per-point step clip.
    GainsMomentum(double momentum, double min_gain, std::optional<double> max_step_norm, std::size_t row_size)
        : momentum_(momentum), min_gain_(min_gain), max_step_norm_(max_step_norm), row_size_(row_size) {}
    void step(double* params, const double* grad, std::size_t n, double lr, int n_threads) override;
    void set_momentum(double m) override { momentum_ = m; }
    /// Zeroes the update (momentum) of those parameters, not their gains (as openTSNE).
    void clear_momentum(std::size_t first, std::size_t count) override {
        if (first + count <= update_.size()) std::fill_n(update_.begin() + static_cast<std::ptrdiff_t>(first), count, 0.0);
    }
    void set_min_gain(double g) { min_gain_ = g; }
    void set_max_step_norm(std::optional<double> s) { max_step_norm_ = s; }
    void reset() override {
        gains_.clear();
        update_.clear();
    }
    std::string name() const override { return "gains"; }
    double momentum() const { return momentum_; }
    const std::vector<double>& gains() const { return gains_; }
    /// The last update (the momentum buffer); empty before the first step.
    const std::vector<double>& update() const { return update_; }

private:
    double momentum_, min_gain_;
    std::optional<double> max_step_norm_;
    std::size_t row_size_;
    std::vector<double> gains_, update_;
};

/// openTSNE's per-row clip: rows (of row_size values) with norm > limit are scaled by limit/(norm + 1e-6).
void clip_rows(double* m, std::size_t n_rows, std::size_t row_size, double limit, int n_threads);
/// Clips every value to [−limit, limit] (clipping by value, as cne's and umap-learn's).
void clip_values(double* v, std::size_t n, double limit, int n_threads);

} // namespace nembed
