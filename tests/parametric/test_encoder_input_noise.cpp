// The encoder's input noise, a regulariser for held-out points (NeEncoderOptions::input_noise; docs/parametric.md,
// "Input noise"): the documented counter stream's Gaussian on each pass's rows, a noiseless embedding(), and the
// full-batch phase with it keeps the same bits for any thread count.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "../common/numeric.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/random.hpp"
#include "nembed/parametric/network_parametrization.hpp"
#include "nembed/parametric/parametric_dr.hpp"
#include "nembed/repulsion/negative_sampling.hpp"

using namespace nembed;
using nembed::test::same_bits;

namespace {

Mlp small_mlp(std::size_t D) {
    MlpOptions mo;
    mo.hidden = {8, 8};
    mo.seed = 11;
    return Mlp(D, 2, mo);
}

} // namespace

TEST(EncoderInputNoise, InputNoiseIsTheCounterStreamsGaussianPerPassAndRow) {
    const auto X = test::normal_rows(30, 4);
    const double sigma = 0.25;
    const std::uint64_t seed = 9;
    const std::vector<index_t> batch{7, 2, 29, 11};
    NetworkParametrization noisy(X, small_mlp(4), 2);
    noisy.set_input_noise(sigma, seed);
    // The same network with the input map the seam fitted to X: the noise is added in data units, then mapped.
    Mlp plain = small_mlp(4);
    plain.set_input_normalization(noisy.network().input_normalization());
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

// The full-batch phase with input noise: the same bits for 1 and 2 threads, and another result than without.
TEST(EncoderInputNoise, FullBatchWithNoiseIsThreadIndependent) {
    const Matrix<float> X = test::three_blobs(300, 6);
    paradime::ParametricTSNEOptions to;
    to.perplexity = 20;
    to.initialization = "none";
    to.full_batch_iterations = 40;
    auto run = [&](int threads, double noise) {
        paradime::ParametricDROptions po;
        po.hidden_dims = {16, 16};
        po.hidden_activation = Activation::relu;
        po.seed = 5;
        po.n_threads = threads;
        po.full_batch.early_exaggeration_iter = 10;
        po.full_batch.input_noise = noise;
        paradime::ParametricDR dr = paradime::ParametricTSNE(to, po);
        dr.train(X.view());
        return dr.apply(X.view());
    };
    const Matrix<double> noisy1 = run(1, 0.5), noisy2 = run(2, 0.5);
    EXPECT_TRUE(same_bits(noisy1, noisy2));
    EXPECT_FALSE(same_bits(noisy1, run(2, 0.0)));
    paradime::ParametricDROptions bad;
    bad.full_batch.iterations = 10;
    bad.full_batch.input_noise = -1;
    EXPECT_THROW(paradime::validate(bad.full_batch), InvalidArgument);
}
