// nembed's own bf16 kernels (parametric/gemm_own.hpp), each backend that runs here (amx, avx512_bf16): every
// product and epilogue against a float64 reference of the same bf16 operands, against oneDNN's products (exact on
// operands whose products and sums are exact in float32, within float32 summation error on random ones), at the
// network's shapes and odd ones (rows not a multiple of the row block, odd k, 1, 2 and 3 columns), the fused
// backward mask pass against the product and a separate mask, the weights packed once, and a whole network step's
// bits for 1, 2 and 3 threads. A backend absent here is skipped.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "../common/adam_steps.hpp"
#include "nembed/core/aligned.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/random.hpp"
#include "nembed/optim/adam.hpp"
#include "nembed/parametric/gemm.hpp"
#include "nembed/parametric/gemm_own.hpp"
#include "nembed/parametric/mlp.hpp"

using namespace nembed;

namespace {

// The own backends that run here (none: the test skips, saying so).
std::vector<own::Backend> own_backends() {
    std::vector<own::Backend> b;
    if (!bf16_gemm_available()) return b;
    for (own::Backend x : {own::Backend::amx, own::Backend::avx512_bf16})
        if (own::available(x)) b.push_back(x);
    return b;
}
#define NEMBED_REQUIRE_OWN()                                                                                          \
    if (own_backends().empty())                                                                                       \
    GTEST_SKIP() << "no AMX-BF16 or AVX512-BF16 here (or no bf16 products at all): the products run through oneDNN"

// Chooses the backend for a scope (the best one restored after).
struct UseBackend {
    explicit UseBackend(own::Backend b) { own::set_backend(b); }
    ~UseBackend() { own::set_backend(own::best()); }
    UseBackend(const UseBackend&) = delete;
    UseBackend& operator=(const UseBackend&) = delete;
};

struct Case {
    std::size_t m, o, a;
};
const Case kCases[] = {{512, 100, 50}, {512, 100, 100}, {512, 2, 100}, {512, 100, 2}, {37, 100, 100},
                       {100, 3, 7},    {37, 2, 3},      {64, 33, 65},  {13, 5, 1},    {1, 17, 9},
                       {500, 100, 784}};  // paraDime's first layer on 784 pixels

std::vector<std::uint16_t> operand(std::size_t n, std::uint64_t seed, bool integers) {
    std::vector<float> v(n);
    Rng rng(seed, 0);
    for (auto& x : v)
        x = integers ? static_cast<float>(static_cast<int>(rng.below(17)) - 8) : static_cast<float>(rng.normal());
    std::vector<std::uint16_t> y(n);
    to_bf16(v.data(), y.data(), n);
    return y;
}
std::vector<float> bias_of(std::size_t o) {
    std::vector<float> b(o);
    for (std::size_t j = 0; j < o; ++j) b[j] = static_cast<float>(static_cast<int>(j % 7) - 3) * 0.5f;
    return b;
}

// The four products of a layer (forward with bias + ReLU in float32 and in bf16, dW, dIn) by backend b, all outputs
// in one vector (bf16 outputs widened).
std::vector<float> products(const Case& s, own::Backend b, bool integers) {
    UseBackend use(b);
    const auto H = operand(s.m * s.a, 1, integers), Wt = operand(s.a * s.o, 2, integers),
               G = operand(s.m * s.o, 3, integers), W = operand(s.o * s.a, 4, integers);
    const std::vector<float> bias = bias_of(s.o);
    std::vector<float> Z(s.m * s.o), dW(s.o * s.a), dIn(s.m * s.a);
    std::vector<std::uint16_t> Z16(s.m * s.o);
    gemm::h_wt(s.m, s.o, s.a, H.data(), Wt.data(), Z.data(), bias.data(), true);
    gemm::h_wt(s.m, s.o, s.a, H.data(), Wt.data(), Z16.data(), bias.data(), true);
    gemm::gt_h(s.m, s.o, s.a, G.data(), H.data(), dW.data());
    gemm::g_w(s.m, s.o, s.a, G.data(), W.data(), dIn.data());
    std::vector<float> all = Z;
    for (std::uint16_t z : Z16) all.push_back(bf16_to_float(z));
    all.insert(all.end(), dW.begin(), dW.end());
    all.insert(all.end(), dIn.begin(), dIn.end());
    return all;
}

// The same four in float64 from the same bf16 operands, and per entry the bound of its error: float32 summation
// of k products (each exact in float32) with at most one rounding per term and the bias, 2(k + 1)·2^-24·(Σ|ab| +
// |bias|) (twice the recursive-summation bound: VDPBF16PS and the tiles may round inside a pair), plus half a
// bf16 step (2^-8 relative) for the bf16 output.
struct Reference {
    std::vector<double> value, bound;
};
Reference reference(const Case& s) {
    const auto H = operand(s.m * s.a, 1, false), Wt = operand(s.a * s.o, 2, false), G = operand(s.m * s.o, 3, false),
               W = operand(s.o * s.a, 4, false);
    const std::vector<float> bias = bias_of(s.o);
    const auto f = [](std::uint16_t v) { return static_cast<double>(bf16_to_float(v)); };
    Reference r;
    // One entry: Σ_p x[x0 + p·xs]·y[y0 + p·ys] over k terms, after `bias`, then ReLU, and its bound.
    const auto add = [&](const std::vector<std::uint16_t>& x, std::size_t x0, std::size_t xs,
                         const std::vector<std::uint16_t>& y, std::size_t y0, std::size_t ys, std::size_t k,
                         double bias, bool relu, bool to16) {
        double sum = bias, abs = std::abs(bias);
        for (std::size_t p = 0; p < k; ++p) {
            const double t = f(x[x0 + p * xs]) * f(y[y0 + p * ys]);
            sum += t;
            abs += std::abs(t);
        }
        const double tol = 2.0 * static_cast<double>(k + 1) * 0x1p-24 * abs;
        const double v = relu ? std::max(0.0, sum) : sum;
        r.value.push_back(v);
        r.bound.push_back(tol + (to16 ? (std::abs(v) + tol) * 0x1p-8 : 0.0));
    };
    for (bool to16 : {false, true})  // Z = H·Wᵀ + b, ReLU
        for (std::size_t i = 0; i < s.m; ++i)
            for (std::size_t j = 0; j < s.o; ++j) add(H, i * s.a, 1, Wt, j, s.o, s.a, bias[j], true, to16);
    for (std::size_t j = 0; j < s.o; ++j)  // dW = Gᵀ·H
        for (std::size_t c = 0; c < s.a; ++c) add(G, j, s.o, H, c, s.a, s.m, 0.0, false, false);
    for (std::size_t i = 0; i < s.m; ++i)  // dIn = G·W
        for (std::size_t c = 0; c < s.a; ++c) add(G, i * s.o, 1, W, c, s.a, s.o, 0.0, false, false);
    return r;
}

} // namespace

TEST(GemmOwn, BestBackendAndItsChoice) {
    if (!bf16_gemm_available()) GTEST_SKIP() << bf16_unavailable_reason();
    EXPECT_TRUE(own::available(own::Backend::onednn));
    const own::Backend best = own::best();
    EXPECT_EQ(own::backend(), best);
    const own::Backend expected = own::available(own::Backend::amx)           ? own::Backend::amx
                                  : own::available(own::Backend::avx512_bf16) ? own::Backend::avx512_bf16
                                                                              : own::Backend::onednn;
    EXPECT_EQ(best, expected);
    for (own::Backend b : {own::Backend::amx, own::Backend::avx512_bf16}) {
        if (!own::available(b)) {
            EXPECT_THROW(own::set_backend(b), InvalidArgument) << own::to_string(b);
        }
    }
    {
        UseBackend use(own::Backend::onednn);
        EXPECT_FALSE(own::enabled());
    }
    EXPECT_EQ(own::backend(), best);
}

// Every product and epilogue (bias, ReLU, float32 and bf16 outputs) within the stated bound of the float64 result.
TEST(GemmOwn, MatchesFloat64ReferenceOfTheBf16Operands) {
    NEMBED_REQUIRE_OWN();
    for (own::Backend b : own_backends())
        for (const Case& s : kCases) {
            const std::vector<float> got = products(s, b, false);
            const Reference ref = reference(s);
            ASSERT_EQ(got.size(), ref.value.size());
            for (std::size_t i = 0; i < got.size(); ++i)
                ASSERT_LE(std::abs(static_cast<double>(got[i]) - ref.value[i]), ref.bound[i])
                    << own::to_string(b) << " m " << s.m << " o " << s.o << " a " << s.a << " entry " << i;
        }
}

TEST(GemmOwn, MatchesOneDnnExactlyOnExactOperands) {
    NEMBED_REQUIRE_OWN();
    for (const Case& s : kCases) {
        const std::vector<float> onednn = products(s, own::Backend::onednn, true);
        for (own::Backend b : own_backends()) {
            const std::vector<float> own = products(s, b, true);
            ASSERT_EQ(own.size(), onednn.size());
            for (std::size_t i = 0; i < own.size(); ++i)
                ASSERT_EQ(own[i], onednn[i])
                    << own::to_string(b) << " m " << s.m << " o " << s.o << " a " << s.a << " entry " << i;
        }
    }
}

// Random operands: both within float32 summation error of the exact sum; they differ by at most twice that,
// bounded here by 2^-14 of the entry's scale (k ≤ 784 terms of magnitude ~1), and bf16 outputs by one rounding step
// (2^-7 relative) at most.
TEST(GemmOwn, MatchesOneDnnOnRandomOperands) {
    NEMBED_REQUIRE_OWN();
    for (const Case& s : kCases) {
        const std::vector<float> onednn = products(s, own::Backend::onednn, false);
        for (own::Backend b : own_backends()) {
            const std::vector<float> own = products(s, b, false);
            double worst = 0;
            for (std::size_t i = 0; i < own.size(); ++i) {
                const double scale = std::max(1.0, std::abs(static_cast<double>(onednn[i])));
                worst = std::max(worst, std::abs(static_cast<double>(own[i]) - onednn[i]) / scale);
            }
            EXPECT_LE(worst, 0x1p-7) << own::to_string(b) << " m " << s.m << " o " << s.o << " a " << s.a;
        }
    }
}

// The fused mask pass (gemm::g_w_relu_mask) gives the bits of the own dIn product followed by the mask: the kept
// entries rounded, the others 0, and the column sums row after row in float32. With oneDNN it does nothing.
TEST(GemmOwn, FusedMaskPassEqualsProductThenMask) {
    NEMBED_REQUIRE_OWN();
    for (own::Backend b : own_backends())
        for (const Case& s : kCases) {
            UseBackend use(b);
            const auto G = operand(s.m * s.o, 5, false), W = operand(s.o * s.a, 6, false);
            auto H16 = operand(s.m * s.a, 7, false);
            for (std::size_t i = 0; i < H16.size(); i += 3) H16[i] = 0x8000;  // ReLU's −0: masked too
            std::vector<float> dIn(s.m * s.a), db(s.a, 123.0f), db_ref(s.a, 0.0f);
            std::vector<std::uint16_t> G16(s.m * s.a), G16_ref(s.m * s.a);
            gemm::g_w(s.m, s.o, s.a, G.data(), W.data(), dIn.data());
            ASSERT_TRUE(gemm::g_w_relu_mask(s.m, s.o, s.a, G.data(), W.data(), H16.data(), G16.data(), db.data()));
            for (std::size_t r = 0; r < s.m; ++r)
                for (std::size_t j = 0; j < s.a; ++j) {
                    const float v = (H16[r * s.a + j] & 0x7FFF) != 0 ? dIn[r * s.a + j] : 0.0f;
                    db_ref[j] += v;
                    G16_ref[r * s.a + j] = round_bf16(v);
                }
            EXPECT_EQ(G16, G16_ref) << own::to_string(b) << " m " << s.m << " o " << s.o << " a " << s.a;
            EXPECT_EQ(db, db_ref) << own::to_string(b) << " m " << s.m << " o " << s.o << " a " << s.a;
            UseBackend off(own::Backend::onednn);
            EXPECT_FALSE(gemm::g_w_relu_mask(s.m, s.o, s.a, G.data(), W.data(), H16.data(), G16.data(), db.data()));
        }
}

// The weights packed once (pack_b, VNNI here) give the bits of the plain operand packed at the call.
TEST(GemmOwn, PackedWeightsGiveThePlainBits) {
    NEMBED_REQUIRE_OWN();
    for (own::Backend b : own_backends())
        for (const Case& s : kCases) {
            UseBackend use(b);
            const auto H = operand(s.m * s.a, 8, false), Wt = operand(s.a * s.o, 9, false);
            gemm::PackedB packed;
            gemm::pack_b(512, s.o, s.a, Wt.data(), packed);
            EXPECT_TRUE(packed.vnni);
            std::vector<std::uint16_t> Z(s.m * s.o), Zp(s.m * s.o);
            gemm::h_wt(s.m, s.o, s.a, H.data(), Wt.data(), Z.data(), nullptr, false);
            gemm::h_wt(s.m, s.o, s.a, H.data(), Wt.data(), Zp.data(), nullptr, false, &packed);
            EXPECT_EQ(Z, Zp) << own::to_string(b) << " m " << s.m << " o " << s.o << " a " << s.a;
        }
}

// An odd k's last column is taken alone: a NaN just past it in A (the next row's first entry, or a strided row's
// padding) never reaches C.
TEST(GemmOwn, OddDepthReadsNothingPastTheRow) {
    NEMBED_REQUIRE_OWN();
    for (own::Backend b : own_backends()) {
        UseBackend use(b);
        const std::size_t m = 9, n = 20, k = 5, lda = 6;
        std::vector<std::uint16_t> A(m * lda, 0x7FC0);  // NaN in the padding column
        const auto vals = operand(m * k, 10, true), B = operand(k * n, 11, true);
        for (std::size_t i = 0; i < m; ++i)
            for (std::size_t p = 0; p < k; ++p) A[i * lda + p] = vals[i * k + p];
        AlignedVector<std::uint16_t> Bv(own::vnni_size(k, n));
        own::pack_vnni(k, n, B.data(), n, Bv.data());
        std::vector<float> C(m * n);
        own::matmul(m, n, k, A.data(), lda, Bv.data(), {.c32 = C.data(), .ldc = n});
        for (std::size_t i = 0; i < m; ++i)
            for (std::size_t j = 0; j < n; ++j) {
                double s = 0;
                for (std::size_t p = 0; p < k; ++p)
                    s += static_cast<double>(bf16_to_float(A[i * lda + p])) * bf16_to_float(B[p * n + j]);
                ASSERT_EQ(static_cast<double>(C[i * n + j]), s) << own::to_string(b) << " " << i << " " << j;
            }
    }
}

// A whole network step (forward, backward, Adam) in bf16 by each backend: the same bits for 1, 2 and 3 threads.
TEST(GemmOwn, NetworkStepSameBitsForAnyThreadCount) {
    NEMBED_REQUIRE_OWN();
    const std::size_t n = 3000, d = 50;
    Matrix<float> X(n, d);
    {
        Rng rng(1, 0);
        for (auto& x : X.storage()) x = static_cast<float>(rng.normal());
    }
    std::vector<index_t> batch(2500);
    Rng rng(4, 0);
    for (auto& i : batch) i = static_cast<index_t>(rng.below(n));
    for (own::Backend b : own_backends()) {
        UseBackend use(b);
        std::vector<std::vector<float>> params, dXs;
        for (int threads : {1, 2, 3}) {
            MlpOptions o;
            o.hidden = {100, 100, 100};
            o.chunk_rows = 512;
            o.precision = Precision::bf16;
            Mlp net(d, 2, o);
            dXs.push_back(nembed::testing::three_adam_steps(net, X.view(), batch, d, threads));
            params.push_back(net.parameters());
        }
        for (std::size_t t = 1; t < params.size(); ++t) {
            EXPECT_EQ(params[t], params[0]) << own::to_string(b);
            EXPECT_EQ(dXs[t], dXs[0]) << own::to_string(b);
        }
    }
}
