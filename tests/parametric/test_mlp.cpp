// The multilayer perceptron (parametric/mlp.hpp) and the network parametrisation: forward against a float64
// reference, backward against finite differences of that reference, thread-count identity, rebuilt networks, errors.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <numeric>
#include <vector>

#include "nembed/core/error.hpp"
#include "nembed/core/random.hpp"
#include "nembed/optim/adam.hpp"
#include "nembed/parametric/mlp.hpp"
#include "nembed/parametric/network_parametrization.hpp"
#include "../common/adam_steps.hpp"

using namespace nembed;

namespace {

double act(Activation a, double z) {
    switch (a) {
        case Activation::identity: return z;
        case Activation::relu: return z > 0 ? z : 0;
        case Activation::softplus: return z > 20 ? z : std::log1p(std::exp(z));
        case Activation::tanh: return std::tanh(z);
    }
    return 0;
}

// Float64 forward pass of the same network (the parameters read as doubles), one row.
std::vector<double> reference_forward(const Mlp& net, const std::vector<double>& theta, const std::vector<double>& x) {
    std::vector<double> h = x;
    const auto& w = net.widths();
    for (std::size_t l = 0; l + 1 < w.size(); ++l) {
        const double* W = theta.data() + net.weight_offset(l);
        const double* b = W + w[l + 1] * w[l];
        std::vector<double> z(w[l + 1]);
        for (std::size_t o = 0; o < w[l + 1]; ++o) {
            double s = b[o];
            for (std::size_t i = 0; i < w[l]; ++i) s += W[o * w[l] + i] * h[i];
            z[o] = act(l + 2 == w.size() ? net.output_activation() : net.hidden_activation(), s);
        }
        h = std::move(z);
    }
    return h;
}

// L = Σ_rows Σ_k c_rk y_rk in float64.
double reference_loss(const Mlp& net, const std::vector<double>& theta, const Matrix<double>& X,
                      const std::vector<double>& c) {
    double L = 0;
    for (std::size_t r = 0; r < X.rows(); ++r) {
        std::vector<double> x(X.row(r), X.row(r) + X.cols());
        auto y = reference_forward(net, theta, x);
        for (std::size_t k = 0; k < y.size(); ++k) L += c[r * y.size() + k] * y[k];
    }
    return L;
}

Matrix<float> random_rows(std::size_t n, std::size_t d, std::uint64_t seed) {
    Matrix<float> X(n, d);
    Rng rng(seed, 0);
    for (auto& v : X.storage()) v = static_cast<float>(rng.normal());
    return X;
}

} // namespace

class MlpGradient : public ::testing::TestWithParam<Activation> {};

TEST_P(MlpGradient, BackwardMatchesFiniteDifferencesOfFloat64Reference) {
    MlpOptions o;
    o.hidden = {7, 6};
    o.hidden_activation = GetParam();
    o.output_activation = GetParam() == Activation::relu ? Activation::identity : GetParam();
    o.init = MlpInit::xavier_normal;
    o.seed = 3;
    o.chunk_rows = 4;  // several chunks: the chunk partials must add up
    Mlp net(5, 3, o);
    const std::size_t n = 11;
    Matrix<float> Xf = random_rows(n, 5, 7);
    Matrix<double> X = convert<double>(Xf.view());
    std::vector<double> c(n * 3);
    Rng rng(9, 0);
    for (double& v : c) v = rng.normal();

    // Forward against the float64 reference: float32 arithmetic, relative 1e-5.
    MatrixView<float> Y = net.forward(Xf.view(), {}, 1);
    std::vector<double> theta = net.master();
    for (std::size_t r = 0; r < n; ++r) {
        auto y = reference_forward(net, theta, std::vector<double>(X.row(r), X.row(r) + 5));
        for (std::size_t k = 0; k < 3; ++k) EXPECT_NEAR(Y(r, k), y[k], 1e-5 * (1 + std::abs(y[k])));
    }

    std::vector<float> cf(c.begin(), c.end()), dX(n * 5);
    net.backward(cf.data(), 1, dX.data());
    // Central differences of the float64 reference (h = 1e-6: truncation ~1e-12, rounding ~1e-10); the analytic
    // gradient is float32 (GEMM over ≤ 4 rows, summed over chunks in double): tolerance 2e-4 relative to the scale.
    const double h = 1e-6;
    double scale = 0;
    for (double g : net.gradient()) scale = std::max(scale, std::abs(g));
    ASSERT_GT(scale, 0.1);
    for (std::size_t p = 0; p < theta.size(); ++p) {
        auto tp = theta, tm = theta;
        tp[p] += h;
        tm[p] -= h;
        const double fd = (reference_loss(net, tp, X, c) - reference_loss(net, tm, X, c)) / (2 * h);
        EXPECT_NEAR(net.gradient()[p], fd, 2e-4 * scale) << "parameter " << p;
    }
    // Input gradient.
    for (std::size_t r = 0; r < n; ++r)
        for (std::size_t i = 0; i < 5; ++i) {
            Matrix<double> Xp = X, Xm = X;
            Xp(r, i) += h;
            Xm(r, i) -= h;
            const double fd = (reference_loss(net, theta, Xp, c) - reference_loss(net, theta, Xm, c)) / (2 * h);
            EXPECT_NEAR(dX[r * 5 + i], fd, 2e-4 * (1 + std::abs(fd))) << "row " << r << " input " << i;
        }
}

INSTANTIATE_TEST_SUITE_P(Activations, MlpGradient,
                         ::testing::Values(Activation::identity, Activation::relu, Activation::softplus,
                                           Activation::tanh));

TEST(Mlp, CneFcNetworkShapeAndTorchInit) {
    Mlp net(50, 2, MlpOptions{});
    EXPECT_EQ(net.widths(), (std::vector<std::size_t>{50, 100, 100, 100, 2}));
    EXPECT_EQ(net.n_parameters(), 50u * 100 + 100 + 2 * (100 * 100 + 100) + 100 * 2 + 2);
    // torch's default: W and b ~ U(±1/√fan_in); the sample of 5000 weights has variance bound²/3 (±5 %).
    const double bound = 1 / std::sqrt(50.0);
    double s2 = 0;
    for (std::size_t i = 0; i < 5000; ++i) {
        const double w = net.master()[i];
        ASSERT_LE(std::abs(w), bound);
        s2 += w * w;
    }
    EXPECT_NEAR(s2 / 5000, bound * bound / 3, 0.05 * bound * bound / 3);
    for (std::size_t i = 0; i < 100; ++i) EXPECT_LE(std::abs(net.master()[5000 + i]), bound);
    // He normal: std √(2/fan_in), zero biases.
    MlpOptions he;
    he.init = MlpInit::he_normal;
    Mlp net2(50, 2, he);
    s2 = 0;
    for (std::size_t i = 0; i < 5000; ++i) s2 += net2.master()[i] * net2.master()[i];
    EXPECT_NEAR(s2 / 5000, 2.0 / 50, 0.05 * 2.0 / 50);
    EXPECT_EQ(net2.master()[5000], 0.0);
}

TEST(Mlp, SameBitsForAnyThreadCount) {
    const std::size_t n = 3000;
    Matrix<float> X = random_rows(n, 20, 1);
    std::vector<index_t> batch(2500);
    Rng rng(4, 0);
    for (auto& b : batch) b = static_cast<index_t>(rng.below(n));
    std::vector<std::vector<float>> params;
    std::vector<Matrix<float>> applied;
    for (int threads : {1, 2, 3}) {
        MlpOptions o;
        o.hidden = {64, 32};
        o.hidden_activation = Activation::softplus;
        o.chunk_rows = 256;
        Mlp net(20, 2, o);
        (void)nembed::testing::three_adam_steps(net, X.view(), batch, 20, threads);
        params.push_back(net.parameters());
        applied.push_back(net.apply(X.view(), threads));
    }
    for (std::size_t t = 1; t < params.size(); ++t) {
        EXPECT_EQ(params[t], params[0]);
        EXPECT_EQ(applied[t].storage(), applied[0].storage());
    }
}

TEST(Mlp, ApplyEqualsTrainingForwardAndRebuiltNetworkIsBitwise) {
    Matrix<float> X = random_rows(1500, 8, 2);
    MlpOptions o;
    o.hidden = {30};
    o.hidden_activation = Activation::tanh;
    Mlp net(8, 3, o);
    Matrix<float> A = net.apply(X.view(), 2);
    MatrixView<float> F = net.forward(X.view(), {}, 1);
    EXPECT_TRUE(std::equal(A.storage().begin(), A.storage().end(), F.data));
    Mlp copy(net.widths(), net.hidden_activation(), net.output_activation(), net.parameters());
    EXPECT_EQ(copy.apply(X.view(), 1).storage(), A.storage());
}

// tanh runs through a packet approximation (mlp.cpp): within 8 float ulps of the exact tanh over the whole range
// (tiny, moderate, saturated inputs), exactly ±1 far out, and a value's bits do not depend on its row.
TEST(Mlp, TanhIsCloseToExactAndPositionFree) {
    MlpOptions o;
    o.hidden = {};
    o.output_activation = Activation::tanh;
    Mlp net(1, 1, o);
    net.set_parameters(std::vector<double>{1.0, 0.0});  // y = tanh(1·x + 0)
    std::vector<float> z = {0.0f, 1e-30f, -1e-8f, 3e-4f, -5e-4f, 0.1f, -0.5f, 0.7f, 1.0f, -2.0f, 3.5f, -7.9f, 9.0f,
                            -9.5f, 15.0f, -40.0f, 1e30f};
    for (int i = 0; i < 40; ++i) z.push_back(-6.0f + 0.3f * static_cast<float>(i));
    const Matrix<float> X(z.size(), 1, z);
    const Matrix<float> Y = net.apply(X.view(), 1);
    for (std::size_t i = 0; i < z.size(); ++i) {
        const double exact = std::tanh(static_cast<double>(z[i]));
        EXPECT_NEAR(Y(i, 0), exact, 8 * 1.1920929e-7 * std::abs(exact) + 1e-37) << "z = " << z[i];
    }
    EXPECT_EQ(Y(z.size() - 41, 0), 1.0f);  // 1e30
    // The same values three rows further down (another position in the 16-wide blocks): the same bits.
    std::vector<float> shifted = {0.25f, -0.25f, 2.0f};
    shifted.insert(shifted.end(), z.begin(), z.end());
    const Matrix<float> Y2 = net.apply(Matrix<float>(shifted.size(), 1, shifted).view(), 1);
    for (std::size_t i = 0; i < z.size(); ++i) EXPECT_EQ(Y2(i + 3, 0), Y(i, 0)) << "z = " << z[i];
}

TEST(Mlp, Errors) {
    MlpOptions bad;
    bad.hidden = {10, 0};
    EXPECT_THROW(Mlp(5, 2, bad), InvalidArgument);
    bad.hidden = {-3};
    try {
        Mlp net(5, 2, bad);
        FAIL();
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("width"), std::string::npos);
    }
    EXPECT_THROW(parse_activation("gelu"), InvalidArgument);
    EXPECT_THROW(parse_mlp_init("orthogonal"), InvalidArgument);
    EXPECT_EQ(parse_activation("ReLU"), Activation::relu);
    Mlp net(5, 2, MlpOptions{});
    Matrix<float> X = random_rows(4, 6, 0);
    try {
        (void)net.apply(X.view());
        FAIL();
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("6 columns"), std::string::npos);
    }
    EXPECT_THROW(Mlp({5, 2}, Activation::relu, Activation::identity, std::vector<float>(3)), InvalidArgument);
    Mlp fresh(5, 2, MlpOptions{});
    EXPECT_THROW(fresh.backward(nullptr), InvalidArgument);
    EXPECT_THROW(Mlp(0, 2, MlpOptions{}), InvalidArgument);
}

// A finite row whose values overflow the float32 products gives an error naming the row, not NaN positions; a
// network with a non-finite parameter is named as diverged.
TEST(Mlp, ApplyRefusesRowsThatOverflowTheProducts) {
    MlpOptions o;
    o.hidden = {8};
    o.hidden_activation = Activation::identity;  // a ReLU could zero a unit whose input overflowed
    Mlp net(5, 2, o);
    net.set_input_normalization({{}, 1e-3});  // training data of scale 10⁻³
    Matrix<float> X = random_rows(4, 5, 1);
    EXPECT_NO_THROW((void)net.apply(X.view(), 2));
    for (std::size_t j = 0; j < 5; ++j) X(2, j) = 3e38f;  // finite, but 3e41 after the map
    try {
        (void)net.apply(X.view(), 2);
        FAIL() << "no error";
    } catch (const InvalidArgument& e) {
        const std::string m = e.what();
        EXPECT_NE(m.find("row 2"), std::string::npos) << m;
        EXPECT_NE(m.find("too large"), std::string::npos) << m;
    }
    // With ReLU the overflowed units (inf − inf = NaN) pass as NaN, as torch's ReLU passes them, instead of
    // becoming 0 and a finite but meaningless position.
    o.hidden_activation = Activation::relu;
    Mlp relu_net(5, 2, o);
    relu_net.set_input_normalization({{}, 1e-3});
    EXPECT_THROW((void)relu_net.apply(X.view(), 2), InvalidArgument);
    // A reloaded model's parameters are checked when it is built; a diverged training step can still leave one.
    std::vector<float> p = net.parameters();
    p.back() = std::numeric_limits<float>::quiet_NaN();  // the last layer's last bias: every output row
    EXPECT_THROW(Mlp(net.widths(), net.hidden_activation(), net.output_activation(), p), InvalidArgument);
    std::vector<double> master(net.master());
    master.back() = std::numeric_limits<double>::quiet_NaN();
    net.set_parameters(master);
    try {
        (void)net.apply(random_rows(3, 5, 2).view());
        FAIL() << "no error";
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("diverged"), std::string::npos) << e.what();
    }
}

TEST(NetworkParametrization, ForwardBackwardStepThroughTheSeam) {
    auto X = std::make_shared<const Matrix<float>>(random_rows(200, 6, 5));
    MlpOptions o;
    o.hidden = {16};
    NetworkParametrization p(X, Mlp(6, 2, o), 2, 4.0);
    EXPECT_EQ(p.n_points(), 200u);
    EXPECT_EQ(p.n_components(), 2u);
    EXPECT_EQ(p.table(), nullptr);
    std::vector<index_t> batch = {3, 7, 7, 199};
    std::vector<double> Y(8);
    p.forward(batch, Y.data());
    Matrix<double> all = p.embedding();
    for (std::size_t b = 0; b < batch.size(); ++b)
        for (std::size_t k = 0; k < 2; ++k) EXPECT_EQ(Y[b * 2 + k], all(static_cast<std::size_t>(batch[b]), k));
    // Pull every batch point towards the origin: L = ½Σ‖y‖² decreases after a small step.
    const std::vector<index_t> other = {1, 2, 3, 4};
    EXPECT_THROW(p.backward(other, Y.data()), InvalidArgument);
    double L0 = 0;
    for (double v : Y) L0 += 0.5 * v * v;
    p.backward(batch, Y.data());
    Adam adam;
    p.step(adam, 1e-3, 2);
    p.forward(batch, Y.data());
    double L1 = 0;
    for (double v : Y) L1 += 0.5 * v * v;
    EXPECT_LT(L1, L0);
    EXPECT_THROW(NetworkParametrization(X, Mlp(5, 2, o)), InvalidArgument);
    EXPECT_THROW(p.forward({}, Y.data()), InvalidArgument);
}

// Adam's update over a network's parameters runs in AVX-512/AVX2 clones where the machine has them: element for
// element it must give the scalar formula's bits (torch's order of operations; no contraction), at any length
// (tails of the vector loops) and any thread count, for several steps (bias corrections change with the step).
TEST(Adam, VectorUpdateGivesTheScalarFormulasBits) {
    for (std::size_t n : {1u, 7u, 16u, 33u, 25502u}) {
        AdamOptions ao;
        ao.weight_decay = 1e-3;
        Adam adam(ao);
        Rng rng(11, n);
        std::vector<double> p(n), g(n), q, m(n, 0.0), v(n, 0.0);
        for (double& x : p) x = rng.normal();
        q = p;
        for (int t = 1; t <= 4; ++t) {
            for (double& x : g) x = rng.normal() * (t == 2 ? 1e-6 : 1.0);
            adam.step(p.data(), g.data(), n, 1e-3, t % 2 ? 1 : 3);
            const double bc1 = 1.0 - std::pow(ao.beta1, t), bc2 = 1.0 - std::pow(ao.beta2, t);
            for (std::size_t i = 0; i < n; ++i) {
                const double gi = g[i] + ao.weight_decay * q[i];
                m[i] = ao.beta1 * m[i] + (1.0 - ao.beta1) * gi;
                v[i] = ao.beta2 * v[i] + (1.0 - ao.beta2) * gi * gi;
                q[i] -= 1e-3 * (m[i] / bc1) / (std::sqrt(v[i] / bc2) + ao.eps);
            }
            for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(p[i], q[i]) << "n " << n << " step " << t << " i " << i;
        }
    }
}
