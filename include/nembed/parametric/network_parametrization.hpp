#pragma once
/// @file network_parametrization.hpp
/// A network as the parametrisation seam (train/parametrization.hpp; docs/parametric.md §2): the positions of
/// points are the MLP's outputs on their input rows, the parameters are the network's weights. forward(batch)
/// runs the network on the batch's rows (float32) and keeps the activations; backward(batch, dL/dY) is the
/// network's backward pass on that same batch and accumulates dL/dθ; step clips the weight gradient by value
/// (cne clips the parameters' gradients, here the weights', at 4) and steps the optimizer on the weights.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/parametric/mlp.hpp"
#include "nembed/parametric/transform_consistency.hpp"
#include "nembed/train/parametrization.hpp"

namespace nembed {

class NetworkParametrization final : public Parametrization {
public:
    /// X: the input rows (N × D float32, shared with the caller); network: D → n_components. clip: clip the weight
    /// gradient by value before each step (none: off). Throws InvalidArgument when the network does not take D
    /// inputs or n_threads < 1.
    NetworkParametrization(std::shared_ptr<const Matrix<float>> X, Mlp network, int n_threads = 1,
                           std::optional<double> clip = std::nullopt);

    std::size_t n_points() const override { return X_->rows(); }
    std::size_t n_components() const override { return net_.n_outputs(); }
    void forward(std::span<const index_t> batch, double* out) override;
    /// `batch` must be the batch of the last forward (the activations are those of that pass); else InvalidArgument.
    void backward(std::span<const index_t> batch, const double* dY) override;
    void step(Optimizer& optimizer, double lr, int n_threads) override;
    /// A forward pass over every point.
    Matrix<double> embedding() override;

    Mlp& network() { return net_; }
    const Mlp& network() const { return net_; }
    const std::shared_ptr<const Matrix<float>>& data() const { return X_; }
    int n_threads() const { return n_threads_; }
    void set_n_threads(int n_threads);

    /// Gaussian input noise of standard deviation sigma per coordinate on every training forward pass
    /// (NeEncoderOptions::input_noise), keyed by (seed, pass, row): the same bits for any thread count. 0 = off.
    /// embedding() stays noiseless.
    void set_input_noise(double sigma, std::uint64_t seed);
    /// The transform-consistency penalty (parametric/transform_consistency.hpp) on every training pass: its m
    /// points between training points are forwarded with the batch, and backward adds the penalty's gradient
    /// (on them, and on the batch's rows unless stop_gradient). Needs batches of every point (the full-batch phase);
    /// forward refuses others. nullptr: off.
    void set_transform_consistency(std::shared_ptr<TransformConsistency> term);
    /// The penalty's value at the last forward pass (0 when off).
    double transform_consistency_loss() const { return consistency_loss_; }

private:
    std::shared_ptr<const Matrix<float>> X_;
    Mlp net_;
    int n_threads_ = 1;
    std::optional<double> clip_;
    std::vector<index_t> last_batch_;
    std::vector<float> dY_;
    double noise_sigma_ = 0.0;
    std::uint64_t noise_seed_ = 0, noise_pass_ = 0;
    Matrix<float> noisy_;  // the pass's (noisy) rows and the penalty's points, handed to the network's forward
    // X through the network's input map once, rounded to bf16 in bf16 precision (X16_), else in float32 (Xmapped_,
    // only when the map is not the identity): paraDime's tutorial gathers each of 5 000 rows of 784 columns ~235
    // times, and mapping (or rounding) them at every gather was 4-5 % of its CPU. mapped_by_: the map they were made
    // with (a network whose map is set again afterwards gets fresh copies).
    void map_inputs_once();
    std::vector<std::uint16_t> X16_;
    Matrix<float> Xmapped_;
    std::optional<InputNormalization> mapped_by_;
    std::shared_ptr<TransformConsistency> consistency_;
    std::uint64_t consistency_pass_ = 0;
    std::vector<double> consistency_grad_;  // ∂L_c/∂(outputs) of the last forward, batch rows then the points
    double consistency_loss_ = 0.0;
};

} // namespace nembed
