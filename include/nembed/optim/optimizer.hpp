#pragma once
/// @file optimizer.hpp
/// The optimizer concept every method shares (docs/core.md §5): a stateful rule that turns a gradient into a step on
/// a dense parameter block (the embedding table, or a network's weights). State (moments, gains, momentum buffers)
/// persists across calls, so a run split into several `Trainer::run` calls takes the same steps as one run.
/// Implementations: openTSNE's gains + momentum (optim/gains.hpp), SGD with momentum and weight decay
/// (optim/sgd.hpp), Adam (optim/adam.hpp). All are elementwise or per-row over fixed ranges: results do not depend
/// on the thread count.
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

namespace nembed {

class Optimizer {
public:
    virtual ~Optimizer() = default;
    /// One step on n parameters (row-major, `row_size` per point where the rule is per point) with rate lr.
    virtual void step(double* params, const double* grad, std::size_t n, double lr, int n_threads) = 0;
    /// Momentum for the following steps where the rule has one (openTSNE and TorchDR change it per phase);
    /// ignored by rules without momentum.
    virtual void set_momentum(double) {}
    /// Forgets the momentum of parameters [first, first + count) (transform's points projected back into their
    /// clip region); rules without a momentum buffer ignore it. Safe to call for disjoint ranges concurrently.
    virtual void clear_momentum(std::size_t /*first*/, std::size_t /*count*/) {}
    /// Forgets all state.
    virtual void reset() = 0;
    virtual std::string name() const = 0;
};

/// The manifold a Riemannian optimizer steps on: the Poincaré ball (kernel/hyperbolic.hpp) or Euclidean space.
enum class RiemannianManifold { poincare_ball, euclidean };

/// Which optimizer, with every rule's settings in one place (defaults: the rule's own).
struct OptimizerOptions {
    enum class Kind { gains, sgd, adam, riemannian_adam };
    Kind kind = Kind::sgd;
    double momentum = 0.0;      ///< gains: openTSNE 0.8; sgd: cne 0 (torch's buffer semantics)
    double weight_decay = 0.0;  ///< sgd, adam
    double beta1 = 0.9, beta2 = 0.999, adam_eps = 1e-8;  ///< adam, riemannian_adam
    RiemannianManifold manifold = RiemannianManifold::poincare_ball;  ///< riemannian_adam
    double curvature = 1.0;     ///< riemannian_adam: c of the Poincaré ball
    double min_gain = 0.01;     ///< gains: additive floor
    std::optional<double> max_step_norm;  ///< gains: per-row update clip (openTSNE 5)
    std::size_t row_size = 0;   ///< gains, riemannian_adam: values per point (the embedding dimension)
};
/// Parses "gains"/"opentsne", "sgd", "adam", "RiemannianAdam"/"riemannian_adam" (TorchDR's class name;
/// case-insensitive); throws InvalidArgument naming the bad value.
OptimizerOptions::Kind parse_optimizer_kind(const std::string& name);
std::string to_string(OptimizerOptions::Kind kind);
/// Throws InvalidArgument for out-of-range settings.
void validate(const OptimizerOptions& options);
std::unique_ptr<Optimizer> make_optimizer(const OptimizerOptions& options);

} // namespace nembed
