#pragma once
/// @file adam.hpp
/// torch.optim.Adam (no amsgrad) on a dense parameter block: g ← g + weight_decay·p; m ← β₁m + (1 − β₁)g;
/// v ← β₂v + (1 − β₂)g²; p ← p − lr·(m/(1 − β₁ᵗ)) / (√(v/(1 − β₂ᵗ)) + ε). Every row moves every step (rows with a
/// zero gradient still follow their first moment), exactly as torch does on an embedding table. Elementwise, so
/// independent of the thread count; the moments persist across steps (resumable).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "nembed/optim/optimizer.hpp"

namespace nembed {

struct AdamOptions {
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    double weight_decay = 0.0;
};

class Adam final : public Optimizer {
public:
    explicit Adam(AdamOptions options = {}) : options_(options) {}
    void step(double* params, const double* grad, std::size_t n, double lr, int n_threads = 1) override;
    const AdamOptions& options() const { return options_; }
    std::int64_t steps() const { return t_; }
    std::string name() const override { return "adam"; }
    void reset() override {
        m_.clear();
        v_.clear();
        t_ = 0;
    }

private:
    AdamOptions options_;
    std::vector<double> m_, v_;
    std::int64_t t_ = 0;
};

} // namespace nembed
