// The encoder's regularisers for held-out points (NeEncoderOptions::weight_average / input_noise; docs/parametric.md,
// "Full batch"): the averaged network is the EMA of the steps' weights, the noise is the documented counter stream's
// Gaussian on each pass's rows, and the full-batch phase with both keeps the same bits for any thread count.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <numeric>
#include <vector>

#include "nembed/core/error.hpp"
#include "nembed/core/random.hpp"
#include "nembed/optim/optimizer.hpp"
#include "nembed/parametric/network_parametrization.hpp"
#include "nembed/parametric/parametric_dr.hpp"
#include "nembed/repulsion/negative_sampling.hpp"

using namespace nembed;

namespace {

std::shared_ptr<const Matrix<float>> data(std::size_t n, std::size_t D) {
    auto X = std::make_shared<Matrix<float>>(n, D);
    Rng rng(3);
    for (std::size_t i = 0; i < X->size(); ++i) X->data()[i] = static_cast<float>(rng.normal());
    return X;
}

Mlp small_mlp(std::size_t D) {
    MlpOptions mo;
    mo.hidden = {8, 8};
    mo.seed = 11;
    return Mlp(D, 2, mo);
}

bool same_bits(const Matrix<double>& a, const Matrix<double>& b) {
    return a.rows() == b.rows() && a.cols() == b.cols() &&
           std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

} // namespace

TEST(EncoderRegularisers, WeightAverageIsTheEmaOfTheSteps) {
    const auto X = data(40, 5);
    NetworkParametrization net(X, small_mlp(5), 2);
    const double beta = 0.9;
    net.set_weight_average(beta);
    std::vector<double> ema = net.network().master();
    OptimizerOptions oo;
    oo.kind = OptimizerOptions::Kind::adam;
    const auto opt = make_optimizer(oo);
    std::vector<index_t> all(X->rows());
    std::iota(all.begin(), all.end(), index_t(0));
    std::vector<double> Y(X->rows() * 2), dY(X->rows() * 2);
    for (int s = 0; s < 6; ++s) {
        net.forward(all, Y.data());
        for (std::size_t i = 0; i < Y.size(); ++i) dY[i] = Y[i] - 0.1 * static_cast<double>(i % 7);
        net.backward(all, dY.data());
        net.step(*opt, 0.01, 2);
        const std::vector<double>& w = net.network().master();
        for (std::size_t i = 0; i < w.size(); ++i) ema[i] = beta * ema[i] + (1.0 - beta) * w[i];
    }
    const std::vector<double> live = net.network().master();
    net.use_weight_average();
    EXPECT_EQ(net.network().master(), ema);
    EXPECT_NE(net.network().master(), live);
    EXPECT_THROW(net.set_weight_average(1.0), InvalidArgument);
    EXPECT_THROW(net.set_weight_average(-0.1), InvalidArgument);
}

TEST(EncoderRegularisers, InputNoiseIsTheCounterStreamsGaussianPerPassAndRow) {
    const auto X = data(30, 4);
    const double sigma = 0.25;
    const std::uint64_t seed = 9;
    const std::vector<index_t> batch{7, 2, 29, 11};
    NetworkParametrization noisy(X, small_mlp(4), 2);
    noisy.set_input_noise(sigma, seed);
    Mlp plain = small_mlp(4);
    for (std::uint64_t pass = 0; pass < 2; ++pass) {
        std::vector<double> got(batch.size() * 2);
        noisy.forward(batch, got.data());
        Matrix<float> Xn(batch.size(), 4);
        for (std::size_t r = 0; r < batch.size(); ++r) {
            const auto row = static_cast<std::size_t>(batch[r]);
            Rng rng(seed, sampling_stream(SamplingFamily::encoder_input_noise, pass, row));
            for (std::size_t c = 0; c < 4; ++c)
                Xn(r, c) = static_cast<float>((*X)(row, c) + sigma * rng.normal());
        }
        const MatrixView<float> want = plain.forward(Xn.view(), {}, 1);
        for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], static_cast<double>(want.data[i])) << pass;
        // Not the noiseless forward.
        const MatrixView<float> clean = plain.forward(X->view(), batch, 1);
        EXPECT_NE(got[0], static_cast<double>(clean.data[0]));
    }
    // embedding() stays noiseless.
    const Matrix<double> E = noisy.embedding();
    const Matrix<float> A = plain.apply(X->view(), 1);
    for (std::size_t i = 0; i < E.size(); ++i) EXPECT_EQ(E.data()[i], static_cast<double>(A.data()[i]));
}

// The full-batch phase with both regularisers: the same bits for 1 and 2 threads, and another result than without.
TEST(EncoderRegularisers, FullBatchWithBothIsThreadIndependent) {
    Matrix<float> X(300, 6);
    Rng rng(4);
    for (std::size_t i = 0; i < X.rows(); ++i)
        for (std::size_t j = 0; j < X.cols(); ++j)
            X(i, j) = static_cast<float>(3.0 * static_cast<double>((i % 3) == j) + rng.normal());
    paradime::ParametricTSNEOptions to;
    to.perplexity = 20;
    to.initialization = "none";
    to.full_batch_iterations = 40;
    auto run = [&](int threads, double ema, double noise) {
        paradime::ParametricDROptions po;
        po.hidden_dims = {16, 16};
        po.hidden_activation = Activation::relu;
        po.seed = 5;
        po.n_threads = threads;
        po.full_batch.early_exaggeration_iter = 10;
        po.full_batch.weight_average = ema;
        po.full_batch.input_noise = noise;
        paradime::ParametricDR dr = paradime::ParametricTSNE(to, po);
        dr.train(X.view());
        return dr.apply(X.view());
    };
    const Matrix<double> both1 = run(1, 0.9, 0.5), both2 = run(2, 0.9, 0.5);
    EXPECT_TRUE(same_bits(both1, both2));
    const Matrix<double> plain = run(2, 0.0, 0.0);
    EXPECT_FALSE(same_bits(both1, plain));
    EXPECT_FALSE(same_bits(run(2, 0.9, 0.0), plain));
    EXPECT_FALSE(same_bits(run(2, 0.0, 0.5), plain));
    paradime::ParametricDROptions bad;
    bad.full_batch.iterations = 10;
    bad.full_batch.input_noise = -1;
    EXPECT_THROW(paradime::validate(bad.full_batch), InvalidArgument);
    bad.full_batch.input_noise = 0;
    bad.full_batch.weight_average = 1;
    EXPECT_THROW(paradime::validate(bad.full_batch), InvalidArgument);
}
