// A network as the parametrisation seam (parametric/network_parametrization.hpp).
#include "nembed/parametric/network_parametrization.hpp"

#include <algorithm>
#include <cmath>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/core/random.hpp"
#include "nembed/parametric/gemm.hpp"
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
    // A fresh network built to normalise its inputs learns the map from the training rows here, before its first
    // pass (a continued or reloaded network keeps its own).
    net_.fit_input_normalization(X_->view(), n_threads_);
}

void NetworkParametrization::set_n_threads(int n_threads) {
    require(n_threads >= 1, "NetworkParametrization: n_threads must be >= 1");
    n_threads_ = n_threads;
}

void NetworkParametrization::forward(std::span<const index_t> batch, double* out) {
    // An empty span means "every row" to the network; the seam's batches are never empty.
    require(!batch.empty(), "NetworkParametrization: forward on an empty batch");
    const std::size_t D = X_->cols(), b = batch.size(), d = net_.n_outputs();
    const std::size_t m = consistency_ ? consistency_->samples() : 0;
    if (consistency_)
        require(b == X_->rows(), "NetworkParametrization: the transform-consistency penalty needs batches of "
                                 "every point (the full-batch phase)");
    MatrixView<float> Y;
    if (noise_sigma_ > 0 || m > 0) {
        // Every element is written below: the buffer is reused across passes of the same shape.
        if (noisy_.rows() != b + m || noisy_.cols() != D) noisy_ = Matrix<float>(b + m, D);
        const std::uint64_t pass = noise_sigma_ > 0 ? noise_pass_++ : 0;
        parallel_for(n_threads_, b, [&](std::size_t r) {
            const auto row = static_cast<std::size_t>(batch[r]);
            require_lazy(row < X_->rows(), [&] { return "NetworkParametrization: row " + std::to_string(row) +
                                                        " out of range"; });
            const float* x = X_->data() + row * D;
            float* o = noisy_.data() + r * D;
            if (noise_sigma_ == 0) {
                std::copy_n(x, D, o);
                return;
            }
            // Each row's noise from its own stream of this pass: independent of the batch split and the thread count.
            Rng rng(noise_seed_, sampling_stream(SamplingFamily::encoder_input_noise, pass, row));
            for (std::size_t c = 0; c < D; ++c) o[c] = static_cast<float>(x[c] + noise_sigma_ * rng.normal());
        });
        // The penalty's points after the batch's rows: one forward (and one backward) for both.
        if (m > 0) consistency_->draw(consistency_pass_++, noisy_.data() + b * D, n_threads_);
        Y = net_.forward(noisy_.view(), {}, n_threads_);
    } else {
        map_inputs_once();
        if (net_.precision() == Precision::bf16) Y = net_.forward(X_->view(), batch, n_threads_, X16_.data());
        else if (Xmapped_.size() > 0) Y = net_.forward(Xmapped_.view(), batch, n_threads_, nullptr, true);
        else Y = net_.forward(X_->view(), batch, n_threads_);
    }
    std::copy(Y.data, Y.data + b * d, out);
    last_batch_.assign(batch.begin(), batch.end());
    if (m > 0) {
        // The penalty's gradient on this pass's outputs (the training images by row index for its targets).
        const bool through_targets = !consistency_->options().stop_gradient;
        Matrix<double> Yrow(b, d), F(m, d);
        for (std::size_t r = 0; r < b; ++r) std::copy_n(out + r * d, d, Yrow.row(static_cast<std::size_t>(batch[r])));
        for (std::size_t k = 0; k < m * d; ++k) F.data()[k] = Y.data[b * d + k];
        consistency_grad_.assign((b + m) * d, 0.0);
        std::vector<double> gY(through_targets ? b * d : 0, 0.0);
        consistency_loss_ = consistency_->evaluate(F.view(), Yrow.view(), consistency_grad_.data() + b * d,
                                                   through_targets ? gY.data() : nullptr, n_threads_);
        if (through_targets)
            for (std::size_t r = 0; r < b; ++r)
                std::copy_n(gY.data() + static_cast<std::size_t>(batch[r]) * d, d, consistency_grad_.data() + r * d);
    }
}

void NetworkParametrization::map_inputs_once() {
    const InputNormalization& map = net_.input_normalization();
    const bool bf16 = net_.precision() == Precision::bf16;
    if (mapped_by_ && mapped_by_->scale == map.scale && mapped_by_->mean == map.mean) return;
    mapped_by_ = map;
    X16_.clear();
    Xmapped_ = Matrix<float>();
    if (!bf16 && map.identity()) return;  // the rows are read as they are
    const std::size_t D = X_->cols(), block = 1024, n_blocks = (X_->rows() + block - 1) / block;
    if (bf16) X16_.resize(X_->size());
    else Xmapped_ = Matrix<float>(X_->rows(), D);
    parallel_for(n_threads_, n_blocks, [&](std::size_t k) {
        const std::size_t r0 = k * block, rows = std::min(block, X_->rows() - r0);
        if (!bf16) {
            net_.normalize_inputs(X_->row(r0), rows, Xmapped_.row(r0));
            return;
        }
        // The rows through the map, then rounded: what the network's forward would round.
        std::vector<float> mapped(rows * D);
        net_.normalize_inputs(X_->row(r0), rows, mapped.data());
        to_bf16(mapped.data(), X16_.data() + r0 * D, rows * D);
    });
}

void NetworkParametrization::backward(std::span<const index_t> batch, const double* dY) {
    require(batch.size() == last_batch_.size() && std::equal(batch.begin(), batch.end(), last_batch_.begin()),
            "NetworkParametrization: backward must follow the forward pass of the same batch");
    const std::size_t n = batch.size() * net_.n_outputs();
    if (consistency_) {
        // The batch's rows carry the loss's gradient and the penalty's, the penalty's points the penalty's alone.
        const std::vector<double>& g = consistency_grad_;
        dY_.resize(g.size());
        for (std::size_t i = 0; i < n; ++i) dY_[i] = static_cast<float>(dY[i] + g[i]);
        for (std::size_t i = n; i < g.size(); ++i) dY_[i] = static_cast<float>(g[i]);
    } else {
        dY_.resize(n);
        for (std::size_t i = 0; i < n; ++i) dY_[i] = static_cast<float>(dY[i]);
    }
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

void NetworkParametrization::set_transform_consistency(std::shared_ptr<TransformConsistency> term) {
    require(!term || term->n_points() == X_->rows(),
            "NetworkParametrization: the transform-consistency penalty was built for other data");
    consistency_ = std::move(term);
    consistency_pass_ = 0;
    consistency_loss_ = 0.0;
}

Matrix<double> NetworkParametrization::embedding() {
    Matrix<float> Y = net_.apply(X_->view(), n_threads_);
    return convert<double>(Y.view());
}

} // namespace nembed
