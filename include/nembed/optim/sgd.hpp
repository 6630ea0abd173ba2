#pragma once
/// @file sgd.hpp
/// torch.optim.SGD on a dense parameter block (the embedding table): with g ← g + weight_decay·p,
/// buf ← momentum·buf + g (buf = g on the first step), p ← p − lr·buf. Elementwise and split into fixed ranges, so
/// results do not depend on the thread count. The momentum buffer persists across steps (resumable).
#include <cstddef>
#include <vector>

#include "nembed/optim/optimizer.hpp"

namespace nembed {

struct SgdOptions {
    double momentum = 0.0;      ///< cne's default for CNE (umap-learn has none)
    double weight_decay = 0.0;
};

class Sgd final : public Optimizer {
public:
    explicit Sgd(SgdOptions options = {}) : options_(options) {}
    /// One step on n parameters. Throws InvalidArgument if n changes between steps.
    void step(double* params, const double* grad, std::size_t n, double lr, int n_threads = 1) override;
    const SgdOptions& options() const { return options_; }
    /// Clears the momentum buffer.
    void reset() override { buf_.clear(); }
    /// torch semantics: a new momentum applies from the next step on (the buffer is kept).
    void set_momentum(double m) override { options_.momentum = m; }
    std::string name() const override { return "sgd"; }

private:
    SgdOptions options_;
    std::vector<double> buf_;
};

} // namespace nembed
