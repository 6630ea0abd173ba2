// A network as the parametrisation seam (parametric/network_parametrization.hpp).
#include "nembed/parametric/network_parametrization.hpp"

#include <algorithm>
#include <cmath>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/core/random.hpp"
#include "nembed/repulsion/negative_sampling.hpp"

namespace nembed {

NetworkParametrization::NetworkParametrization(std::shared_ptr<const Matrix<float>> X, Mlp network, int n_threads,
                                               std::optional<double> clip)
    : X_(std::move(X)), net_(std::move(network)), clip_(clip) {
    require(X_ && X_->rows() > 0, "NetworkParametrization: the input data is empty");
    require(net_.n_inputs() == X_->cols(), "NetworkParametrization: the network takes " +
                                               std::to_string(net_.n_inputs()) + " inputs but the data has " +
                                               std::to_string(X_->cols()) + " columns");
    require(!clip_ || *clip_ > 0, "NetworkParametrization: clip must be positive");
    set_n_threads(n_threads);
}

void NetworkParametrization::set_n_threads(int n_threads) {
    require(n_threads >= 1, "NetworkParametrization: n_threads must be >= 1");
    n_threads_ = n_threads;
}

void NetworkParametrization::forward(std::span<const index_t> batch, double* out) {
    // An empty span means "every row" to the network; the seam's batches are never empty.
    require(!batch.empty(), "NetworkParametrization: forward on an empty batch");
    MatrixView<float> Y;
    if (noise_sigma_ > 0) {
        // Each row's noise from its own stream of this pass: independent of the batch split and the thread count.
        const std::size_t D = X_->cols();
        // Every element is written below: the buffer is reused across passes of the same shape.
        if (noisy_.rows() != batch.size() || noisy_.cols() != D) noisy_ = Matrix<float>(batch.size(), D);
        const std::uint64_t pass = noise_pass_++;
        parallel_for(n_threads_, batch.size(), [&](std::size_t r) {
            const auto row = static_cast<std::size_t>(batch[r]);
            require_lazy(row < X_->rows(), [&] { return "NetworkParametrization: row " + std::to_string(row) +
                                                        " out of range"; });
            Rng rng(noise_seed_, sampling_stream(SamplingFamily::encoder_input_noise, pass, row));
            const float* x = X_->data() + row * D;
            float* out = noisy_.data() + r * D;
            for (std::size_t c = 0; c < D; ++c) out[c] = static_cast<float>(x[c] + noise_sigma_ * rng.normal());
        });
        Y = net_.forward(noisy_.view(), {}, n_threads_);
    } else {
        Y = net_.forward(X_->view(), batch, n_threads_);
    }
    std::copy(Y.data, Y.data + Y.size(), out);
    last_batch_.assign(batch.begin(), batch.end());
}

void NetworkParametrization::backward(std::span<const index_t> batch, const double* dY) {
    require(batch.size() == last_batch_.size() && std::equal(batch.begin(), batch.end(), last_batch_.begin()),
            "NetworkParametrization: backward must follow the forward pass of the same batch");
    const std::size_t n = batch.size() * net_.n_outputs();
    dY_.resize(n);
    for (std::size_t i = 0; i < n; ++i) dY_[i] = static_cast<float>(dY[i]);
    net_.backward(dY_.data(), n_threads_);
}

void NetworkParametrization::step(Optimizer& optimizer, double lr, int n_threads) {
    net_.step(optimizer, lr, n_threads, clip_);
}

void NetworkParametrization::set_input_noise(double sigma, std::uint64_t seed) {
    require(std::isfinite(sigma) && sigma >= 0,
            "NetworkParametrization: input noise must be >= 0, got " + std::to_string(sigma));
    noise_sigma_ = sigma;
    noise_seed_ = seed;
    noise_pass_ = 0;
}

Matrix<double> NetworkParametrization::embedding() {
    Matrix<float> Y = net_.apply(X_->view(), n_threads_);
    return convert<double>(Y.view());
}

} // namespace nembed
