// The network's bf16 precision (parametric/gemm.hpp, MlpOptions::precision): bfloat16 rounding, the three bf16
// products against float64 references, the network's forward and backward against float32, thread-count identity,
// a saved parametric cne model reloaded bit for bit, and the error of a build without oneDNN.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "../common/adam_steps.hpp"
#include "../common/fmnist_subset.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/random.hpp"
#include "nembed/io/model.hpp"
#include "nembed/methods/cne.hpp"
#include "nembed/optim/adam.hpp"
#include "nembed/parametric/gemm.hpp"
#include "nembed/parametric/mlp.hpp"

using namespace nembed;

namespace {

#define NEMBED_REQUIRE_ONEDNN() \
    if (!bf16_gemm_available()) GTEST_SKIP() << bf16_unavailable_reason() << ": the bf16 products are an error (UnavailableIsAClearError)"

std::vector<float> normal_values(std::size_t n, std::uint64_t seed, double scale = 1.0) {
    std::vector<float> v(n);
    Rng rng(seed, 0);
    for (auto& x : v) x = static_cast<float>(rng.normal() * scale);
    return v;
}

std::vector<std::uint16_t> rounded(const std::vector<float>& x) {
    std::vector<std::uint16_t> y(x.size());
    to_bf16(x.data(), y.data(), x.size());
    return y;
}

// C (m×n) = op(A) · op(B) in float64 from float values, A given as m×k (or k×m when ta), B as k×n (or n×k when tb);
// also Σ |a||b| per entry (the scale of the float32 summation's error).
struct Ref {
    std::vector<double> c, abs;
};
Ref reference(std::size_t m, std::size_t n, std::size_t k, const std::vector<double>& A, bool ta,
              const std::vector<double>& B, bool tb) {
    Ref r{std::vector<double>(m * n), std::vector<double>(m * n)};
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < n; ++j) {
            double s = 0, a = 0;
            for (std::size_t p = 0; p < k; ++p) {
                const double x = ta ? A[p * m + i] : A[i * k + p], y = tb ? B[j * k + p] : B[p * n + j];
                s += x * y;
                a += std::abs(x * y);
            }
            r.c[i * n + j] = s;
            r.abs[i * n + j] = a;
        }
    return r;
}

std::vector<double> widen(const std::vector<std::uint16_t>& v) {
    std::vector<double> out(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) out[i] = bf16_to_float(v[i]);
    return out;
}
std::vector<double> widen(const std::vector<float>& v) { return {v.begin(), v.end()}; }

// The product `which` (0: Z = H·Wᵀ given Wᵀ, 1: dW = Gᵀ·H, 2: dIn = G·W) of a layer with m rows, o outputs, a inputs, on
// operands x (first) and y (second), and its float64 reference from `xr`, `yr`.
struct Case {
    std::size_t m, o, a;
};
std::vector<float> run_product(int which, Case s, const std::vector<std::uint16_t>& x,
                               const std::vector<std::uint16_t>& y) {
    switch (which) {
        case 0: {
            std::vector<float> Z(s.m * s.o);
            gemm::h_wt(s.m, s.o, s.a, x.data(), y.data(), Z.data());
            return Z;
        }
        case 1: {
            std::vector<float> dW(s.o * s.a);
            gemm::gt_h(s.m, s.o, s.a, x.data(), y.data(), dW.data());
            return dW;
        }
        default: {
            std::vector<float> dIn(s.m * s.a);
            gemm::g_w(s.m, s.o, s.a, x.data(), y.data(), dIn.data());
            return dIn;
        }
    }
}
// Operand sizes of product `which`: (x, y).
std::pair<std::size_t, std::size_t> operand_sizes(int which, Case s) {
    switch (which) {
        case 0: return {s.m * s.a, s.a * s.o};  // H, Wᵀ
        case 1: return {s.m * s.o, s.m * s.a};  // G, H
        default: return {s.m * s.o, s.o * s.a};  // G, W
    }
}
Ref product_reference(int which, Case s, const std::vector<double>& x, const std::vector<double>& y) {
    switch (which) {
        case 0: return reference(s.m, s.o, s.a, x, false, y, false);
        case 1: return reference(s.o, s.a, s.m, x, true, y, false);
        default: return reference(s.m, s.a, s.o, x, false, y, false);
    }
}

const Case kCases[] = {{512, 100, 50}, {512, 100, 100}, {512, 2, 100}, {37, 100, 100}, {100, 3, 7}};

} // namespace

TEST(Bf16, RoundsToNearestEven) {
    const auto bits = [](float x) { return round_bf16(x); };
    EXPECT_EQ(bits(1.0f), 0x3F80);
    EXPECT_EQ(bits(-2.0f), 0xC000);
    EXPECT_EQ(bits(1.0f + 0x1p-8f), 0x3F80);          // halfway, to the even 1.0
    EXPECT_EQ(bits(1.0f + 3 * 0x1p-8f), 0x3F82);      // halfway, to the even 1 + 2^-6
    EXPECT_EQ(bits(1.0f + 0x1p-8f + 0x1p-20f), 0x3F81);  // above halfway, up
    EXPECT_EQ(bits(std::numeric_limits<float>::max()), 0x7F80);  // rounds to infinity
    EXPECT_EQ(bits(std::numeric_limits<float>::infinity()), 0x7F80);
    EXPECT_EQ(bits(std::numeric_limits<float>::denorm_min()), 0x0000);
    EXPECT_EQ(bits(0x1p-130f), 0x0008);  // subnormals are kept, not flushed
    EXPECT_TRUE(std::isnan(bf16_to_float(bits(std::numeric_limits<float>::quiet_NaN()))));
    EXPECT_TRUE(std::isnan(bf16_to_float(bits(std::bit_cast<float>(0x7F800001u)))));  // a NaN never becomes inf
    // The array conversion (vectorised) gives each element's scalar bits, at any length and offset.
    const std::vector<float> x = normal_values(1001, 3, 100.0);
    const std::vector<std::uint16_t> y = rounded(x);
    for (std::size_t i = 0; i < x.size(); ++i) {
        ASSERT_EQ(y[i], round_bf16(x[i])) << i;
        EXPECT_LE(std::abs(bf16_to_float(y[i]) - x[i]), std::abs(x[i]) * 0x1p-8f) << i;  // half an ulp of 8 bits
    }
}

TEST(Bf16, PrecisionNames) {
    EXPECT_EQ(parse_precision("BF16"), Precision::bf16);
    EXPECT_EQ(parse_precision("bfloat16"), Precision::bf16);
    EXPECT_EQ(parse_precision("float32"), Precision::float32);
    EXPECT_EQ(to_string(Precision::bf16), "bf16");
    EXPECT_EQ(to_string(Precision::float32), "float32");
    EXPECT_THROW(parse_precision("float16"), InvalidArgument);
    EXPECT_EQ(MlpOptions{}.precision, Precision::float32);
}

// Integer operands in [-8, 8] are exact in bf16 and every partial sum (≤ 64·512 < 2^24) is exact in float32: the
// products equal the float64 reference exactly, whatever the kernels' summation order.
TEST(Bf16, ProductsAreExactOnExactOperands) {
    NEMBED_REQUIRE_ONEDNN();
    for (const Case s : kCases)
        for (int which = 0; which < 3; ++which) {
            const auto [nx, ny] = operand_sizes(which, s);
            Rng rng(7, static_cast<std::uint64_t>(which));
            std::vector<float> x(nx), y(ny);
            for (auto& v : x) v = static_cast<float>(static_cast<int>(rng.below(17)) - 8);
            for (auto& v : y) v = static_cast<float>(static_cast<int>(rng.below(17)) - 8);
            const std::vector<float> C = run_product(which, s, rounded(x), rounded(y));
            const Ref r = product_reference(which, s, widen(x), widen(y));
            for (std::size_t i = 0; i < C.size(); ++i)
                ASSERT_EQ(static_cast<double>(C[i]), r.c[i]) << "product " << which << " m " << s.m << " entry " << i;
        }
}

// The weights pre-packed once (gemm::pack_b) give the products' bits with the plain operand: the forward in both
// outputs (with bias and ReLU, on full and padded row counts) and dIn.
TEST(Bf16, PrePackedWeightsGiveThePlainBits) {
    NEMBED_REQUIRE_ONEDNN();
    for (const Case s : kCases) {
        const std::vector<std::uint16_t> H = rounded(normal_values(s.m * s.a, 31)),
                                         Wt = rounded(normal_values(s.a * s.o, 32)),
                                         G = rounded(normal_values(s.m * s.o, 33)),
                                         W = rounded(normal_values(s.o * s.a, 34));
        const std::vector<float> b = normal_values(s.o, 35);
        gemm::PackedB pwt, pw;
        gemm::pack_b(512, s.o, s.a, Wt.data(), pwt);  // packed for the network's chunk rows, used on m rows
        gemm::pack_b(512, s.a, s.o, W.data(), pw);
        EXPECT_FALSE(pwt.bytes.empty());
        std::vector<float> Z(s.m * s.o), Zp(s.m * s.o), dIn(s.m * s.a), dInp(s.m * s.a);
        std::vector<std::uint16_t> Z16(s.m * s.o), Z16p(s.m * s.o);
        gemm::h_wt(s.m, s.o, s.a, H.data(), Wt.data(), Z.data(), b.data(), true);
        gemm::h_wt(s.m, s.o, s.a, H.data(), Wt.data(), Zp.data(), b.data(), true, &pwt);
        EXPECT_EQ(Z, Zp) << s.m << " " << s.o << " " << s.a;
        gemm::h_wt(s.m, s.o, s.a, H.data(), Wt.data(), Z16.data(), b.data(), true);
        gemm::h_wt(s.m, s.o, s.a, H.data(), Wt.data(), Z16p.data(), b.data(), true, &pwt);
        EXPECT_EQ(Z16, Z16p) << s.m << " " << s.o << " " << s.a;
        gemm::g_w(s.m, s.o, s.a, G.data(), W.data(), dIn.data());
        gemm::g_w(s.m, s.o, s.a, G.data(), W.data(), dInp.data(), &pw);
        EXPECT_EQ(dIn, dInp) << s.m << " " << s.o << " " << s.a;
        // A packing of other weights is not used for these: the product follows the packed bytes.
        gemm::pack_b(512, s.o, s.a, rounded(normal_values(s.a * s.o, 36)).data(), pwt);
        gemm::h_wt(s.m, s.o, s.a, H.data(), Wt.data(), Zp.data(), b.data(), true, &pwt);
        EXPECT_NE(Z, Zp) << "the packed operand is the one multiplied";
    }
}

// Random operands: within float32 summation error of the float64 product of the rounded operands
// (|err| ≤ k·2^-23·Σ|ab|), and within bf16's rounding of the float64 product of the float operands (each operand
// within 2^-8 relative, a product within 2^-7 + 2^-16: bounded here by 2^-6·Σ|ab|).
TEST(Bf16, ProductsMatchFloat64References) {
    NEMBED_REQUIRE_ONEDNN();
    for (const Case s : kCases)
        for (int which = 0; which < 3; ++which) {
            const auto [nx, ny] = operand_sizes(which, s);
            const std::vector<float> x = normal_values(nx, 11 + static_cast<std::uint64_t>(which)),
                                     y = normal_values(ny, 21 + static_cast<std::uint64_t>(which));
            const std::vector<std::uint16_t> xs = rounded(x), ys = rounded(y);
            const std::vector<float> C = run_product(which, s, xs, ys);
            const Ref exact16 = product_reference(which, s, widen(xs), widen(ys));
            const Ref exact = product_reference(which, s, widen(x), widen(y));
            const std::size_t k = which == 0 ? s.a : which == 1 ? s.m : s.o;
            for (std::size_t i = 0; i < C.size(); ++i) {
                ASSERT_LE(std::abs(C[i] - exact16.c[i]), static_cast<double>(k) * 0x1p-23 * exact16.abs[i])
                    << "product " << which << " m " << s.m << " entry " << i;
                ASSERT_LE(std::abs(C[i] - exact.c[i]), 0x1p-6 * exact.abs[i]) << "product " << which << " entry " << i;
            }
        }
}

// The network in bf16 against the same network in float32: outputs, dL/dθ and dL/dX within a stated tolerance,
// relative to the float32 values' norm. Softplus (the separate rounding passes): 2^-6 ≈ 1.6 %, where bf16 operands
// give errors of order 2^-8 per product. ReLU (the fused passes): outputs 2^-6, gradients 2^-3 — a unit whose
// pre-activation is within bf16's error of 0 flips its mask, and with random dY the gradient's error norm grows as
// the square root of the flipped fraction (measured: 3 % for dL/dθ, 6 % for dL/dX; torch's bf16 autocast alike).
TEST(Bf16, NetworkMatchesFloat32) {
    NEMBED_REQUIRE_ONEDNN();
    for (Activation act : {Activation::relu, Activation::softplus}) {
        const std::size_t n = 1300, d = 20;
        Matrix<float> X(n, d);
        X.storage() = normal_values(n * d, 5);
        const std::vector<float> dY = normal_values(n * 2, 6);
        std::vector<std::vector<float>> outs, dXs;
        std::vector<std::vector<double>> grads;
        std::vector<std::vector<std::vector<double>>> bias_grads, weight_grads;  // per precision, per layer
        for (Precision p : {Precision::float32, Precision::bf16}) {
            MlpOptions o;
            o.hidden = {64, 48};
            o.hidden_activation = act;
            o.chunk_rows = 256;
            o.precision = p;
            Mlp net(d, 2, o);
            const MatrixView<float> Y = net.forward(X.view(), {}, 2);
            outs.emplace_back(Y.data, Y.data + Y.size());
            std::vector<float> dX(n * d);
            net.backward(dY.data(), 2, dX.data());
            dXs.push_back(dX);
            grads.push_back(net.gradient());
            bias_grads.emplace_back();
            weight_grads.emplace_back();
            const auto at = [&](std::size_t i) { return net.gradient().begin() + static_cast<std::ptrdiff_t>(i); };
            for (std::size_t l = 0; l < net.n_layers(); ++l) {
                const std::size_t w0 = net.weight_offset(l), b0 = w0 + net.widths()[l] * net.widths()[l + 1];
                weight_grads.back().emplace_back(at(w0), at(b0));
                bias_grads.back().emplace_back(at(b0), at(b0 + net.widths()[l + 1]));
            }
        }
        const auto rel = [](const auto& a, const auto& b) {
            double num = 0, den = 0;
            for (std::size_t i = 0; i < a.size(); ++i) {
                num += (double(a[i]) - double(b[i])) * (double(a[i]) - double(b[i]));
                den += double(a[i]) * double(a[i]);
            }
            return std::sqrt(num / den);
        };
        const double grad_tol = act == Activation::relu ? 0x1p-3 : 0x1p-6;
        EXPECT_LT(rel(outs[0], outs[1]), 0x1p-6) << to_string(act);
        EXPECT_LT(rel(grads[0], grads[1]), grad_tol) << to_string(act);
        EXPECT_LT(rel(dXs[0], dXs[1]), grad_tol) << to_string(act);
        // Each layer's weight and bias gradients on their own (the hidden layers' biases are summed in the bf16 ReLU
        // mask pass; a wrong sum of a few hundred of the parameters would hardly move the norm over all of them).
        for (std::size_t l = 0; l < bias_grads[0].size(); ++l) {
            EXPECT_LT(rel(weight_grads[0][l], weight_grads[1][l]), grad_tol) << to_string(act) << " layer " << l;
            EXPECT_LT(rel(bias_grads[0][l], bias_grads[1][l]), grad_tol) << to_string(act) << " layer " << l;
        }
        EXPECT_GT(rel(outs[0], outs[1]), 0.0) << "the bf16 run must not be the float32 one";
    }
}

TEST(Bf16, SameBitsForAnyThreadCount) {
    NEMBED_REQUIRE_ONEDNN();
    const std::size_t n = 3000;
    Matrix<float> X(n, 20);
    X.storage() = normal_values(n * 20, 1);
    std::vector<index_t> batch(2500);
    Rng rng(4, 0);
    for (auto& b : batch) b = static_cast<index_t>(rng.below(n));
    for (Activation act : {Activation::relu, Activation::tanh}) {
        std::vector<std::vector<float>> params, applied, dXs;
        for (int threads : {1, 2, 3}) {
            MlpOptions o;
            o.hidden = {64, 32};
            o.hidden_activation = act;
            o.chunk_rows = 256;
            o.precision = Precision::bf16;
            Mlp net(20, 2, o);
            dXs.push_back(nembed::testing::three_adam_steps(net, X.view(), batch, 20, threads));
            params.push_back(net.parameters());
            applied.push_back(net.apply(X.view(), threads).storage());
        }
        for (std::size_t t = 1; t < params.size(); ++t) {
            EXPECT_EQ(params[t], params[0]) << to_string(act);
            EXPECT_EQ(applied[t], applied[0]) << to_string(act);
            EXPECT_EQ(dXs[t], dXs[0]) << to_string(act);
        }
    }
}

// Inputs handed over already rounded (Mlp::forward's X16, what NetworkParametrization caches) give the bits of
// rounding them at each gather, for sampled batches and for all rows, and a training step from them the same weights.
TEST(Bf16, PreRoundedInputsGiveTheSameBits) {
    NEMBED_REQUIRE_ONEDNN();
    const std::size_t n = 700;
    Matrix<float> X(n, 37);
    X.storage() = normal_values(n * 37, 5);
    const std::vector<std::uint16_t> X16 = rounded(X.storage());
    std::vector<index_t> batch(600);
    Rng rng(6, 0);
    for (auto& b : batch) b = static_cast<index_t>(rng.below(n));
    for (const bool sampled : {true, false}) {
        std::vector<std::vector<float>> outs, params;
        for (const bool pre : {false, true}) {
            MlpOptions o;
            o.hidden = {64, 32};
            o.hidden_activation = Activation::softplus;
            o.chunk_rows = 256;
            o.precision = Precision::bf16;
            Mlp net(37, 2, o);
            Adam adam;
            const std::span<const index_t> rows = sampled ? std::span<const index_t>(batch) : std::span<const index_t>();
            MatrixView<float> Y = net.forward(X.view(), rows, 2, pre ? X16.data() : nullptr);
            outs.emplace_back(Y.data, Y.data + Y.size());
            std::vector<float> dY(Y.size(), 0.25f);
            net.backward(dY.data(), 2);
            net.step(adam, 0.01, 2, 4.0);
            params.push_back(net.parameters());
        }
        EXPECT_EQ(outs[1], outs[0]) << (sampled ? "sampled rows" : "all rows");
        EXPECT_EQ(params[1], params[0]) << (sampled ? "sampled rows" : "all rows");
    }
}

// cne's parametric mode in bf16: the model records the precision, and the reloaded network applies as the fit did
// (the embedding is the network on the data, bit for bit), at any thread count.
TEST(Bf16, SavedParametricCneReloadsBitwise) {
    NEMBED_REQUIRE_ONEDNN();
    const auto& f = nembed::testing::fmnist();
    Matrix<float> X(600, f.X.cols());
    std::copy(f.X.row(0), f.X.row(600), X.data());
    CneOptions o;
    o.parametric = true;
    o.loss_mode = ContrastiveMode::neg;
    o.optimizer = CneOptimizer::adam;
    o.batch_size = 512;
    o.n_epochs = 3;
    o.n_jobs = 2;
    o.seed = 11;
    o.network.hidden = {32, 32};
    o.network.precision = Precision::bf16;
    const CneResult r = CNE(o).fit(X.view());
    ASSERT_TRUE(r.network);
    EXPECT_EQ(r.network->precision(), Precision::bf16);
    CneOptions o32 = o;
    o32.network.precision = Precision::float32;
    EXPECT_NE(CNE(o32).fit(X.view()).embedding.storage(), r.embedding.storage());
    const std::string dir = (std::filesystem::temp_directory_path() / "nembed_test_mlp_bf16_model").string();
    std::filesystem::remove_all(dir);
    save_model(dir, r, o);
    std::stringstream json;
    json << std::ifstream(dir + "/model.json").rdbuf();
    EXPECT_NE(json.str().find("\"precision\": \"bf16\""), std::string::npos);
    for (int threads : {1, 3}) {
        const Model m = load_model(dir, threads);
        ASSERT_TRUE(m.network());
        EXPECT_EQ(m.network()->precision(), Precision::bf16);
        EXPECT_EQ(m.transform(X.view()).storage(), r.embedding.storage()) << "threads " << threads;
    }
    std::filesystem::remove_all(dir);
}

// Without oneDNN, or on a CPU without bfloat16 products (AVX2 only), every bf16 entry point refuses with the reason.
TEST(Bf16, UnavailableIsAClearError) {
    if (bf16_gemm_available()) GTEST_SKIP() << "the bf16 products run here: they are tested above";
    EXPECT_FALSE(bf16_unavailable_reason().empty());
    MlpOptions o;
    o.precision = Precision::bf16;
    try {
        Mlp net(4, 2, o);
        FAIL() << "expected InvalidArgument";
    } catch (const InvalidArgument& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("precision bf16 is not available: " + bf16_unavailable_reason()), std::string::npos) << what;
    }
    EXPECT_THROW(validate(o), InvalidArgument);
    EXPECT_THROW(Mlp({4, 2}, Activation::relu, Activation::identity, std::vector<float>(10), 512, Precision::bf16),
                 InvalidArgument);
    std::vector<std::uint16_t> a(4), b(4);
    std::vector<float> c(4);
    EXPECT_THROW(gemm::h_wt(2, 2, 2, a.data(), b.data(), c.data()), InvalidArgument);
}
