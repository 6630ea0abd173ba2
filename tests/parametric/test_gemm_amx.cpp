// nembed's own AMX kernels (parametric/gemm_amx.hpp) against oneDNN's products (the same gemm:: calls with the own
// kernels switched off): exact on operands whose products and sums are exact in float32, within float32 summation
// error on random ones, at the network's shapes and odd ones (37 rows, k not a multiple of 32, 2 and 3 columns);
// the fused backward mask pass against the product and a separate mask; skipped where AMX is absent or refused.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "nembed/core/random.hpp"
#include "nembed/parametric/gemm.hpp"
#include "nembed/parametric/gemm_amx.hpp"

using namespace nembed;

namespace {

#define NEMBED_REQUIRE_AMX()                                                                                          \
    if (!bf16_gemm_available()) GTEST_SKIP() << "built without oneDNN: no bf16 products to compare with";           \
    if (!amx::available())                                                                                            \
    GTEST_SKIP() << "no AMX-BF16 here (or the kernel refused the tile data): the products run through oneDNN"

// Switches the own kernels on or off for a scope (restored after).
struct OwnKernels {
    explicit OwnKernels(bool on) { amx::set_enabled(on); }
    ~OwnKernels() { amx::set_enabled(true); }
    OwnKernels(const OwnKernels&) = delete;
    OwnKernels& operator=(const OwnKernels&) = delete;
};

struct Case {
    std::size_t m, o, a;
};
const Case kCases[] = {{512, 100, 50}, {512, 100, 100}, {512, 2, 100}, {512, 100, 2},
                       {37, 100, 100}, {100, 3, 7},     {37, 2, 3},     {64, 33, 65},
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

// The four products of a layer (forward with bias + ReLU in float32 and in bf16, dW, dIn), all outputs in one vector
// (bf16 outputs widened).
std::vector<float> products(const Case& s, bool own, bool integers) {
    OwnKernels switch_(own);
    const auto H = operand(s.m * s.a, 1, integers), Wt = operand(s.a * s.o, 2, integers),
               G = operand(s.m * s.o, 3, integers), W = operand(s.o * s.a, 4, integers);
    std::vector<float> b(s.o);
    for (std::size_t j = 0; j < s.o; ++j) b[j] = static_cast<float>(static_cast<int>(j % 7) - 3) * 0.5f;
    std::vector<float> Z(s.m * s.o), dW(s.o * s.a), dIn(s.m * s.a);
    std::vector<std::uint16_t> Z16(s.m * s.o);
    gemm::h_wt(s.m, s.o, s.a, H.data(), Wt.data(), Z.data(), b.data(), true);
    gemm::h_wt(s.m, s.o, s.a, H.data(), Wt.data(), Z16.data(), b.data(), true);
    gemm::gt_h(s.m, s.o, s.a, G.data(), H.data(), dW.data());
    gemm::g_w(s.m, s.o, s.a, G.data(), W.data(), dIn.data());
    std::vector<float> all = Z;
    for (std::uint16_t z : Z16) all.push_back(bf16_to_float(z));
    all.insert(all.end(), dW.begin(), dW.end());
    all.insert(all.end(), dIn.begin(), dIn.end());
    return all;
}

} // namespace

TEST(GemmAmx, MatchesOneDnnExactlyOnExactOperands) {
    NEMBED_REQUIRE_AMX();
    for (const Case& s : kCases) {
        const std::vector<float> own = products(s, true, true), onednn = products(s, false, true);
        ASSERT_EQ(own.size(), onednn.size());
        for (std::size_t i = 0; i < own.size(); ++i)
            ASSERT_EQ(own[i], onednn[i]) << "m " << s.m << " o " << s.o << " a " << s.a << " entry " << i;
    }
}

// Random operands: both within float32 summation error of the exact sum; the two differ by at most twice that,
// bounded here by 2^-14 of the entry's scale (k ≤ 512 terms of magnitude ~1, plus bf16 rounding of the output).
TEST(GemmAmx, MatchesOneDnnOnRandomOperands) {
    NEMBED_REQUIRE_AMX();
    for (const Case& s : kCases) {
        const std::vector<float> own = products(s, true, false), onednn = products(s, false, false);
        double worst = 0;
        for (std::size_t i = 0; i < own.size(); ++i) {
            const double scale = std::max(1.0, std::abs(static_cast<double>(onednn[i])));
            worst = std::max(worst, std::abs(static_cast<double>(own[i]) - onednn[i]) / scale);
        }
        // bf16 outputs round to 2^-8 relative: one rounding step apart at most.
        EXPECT_LE(worst, 0x1p-7) << "m " << s.m << " o " << s.o << " a " << s.a;
    }
}

// The fused mask pass (gemm::g_w_relu_mask) gives the bits of the own dIn product followed by the mask: the kept
// entries rounded, the others 0, and the column sums row after row in float32. Switched off, it does nothing.
TEST(GemmAmx, FusedMaskPassEqualsProductThenMask) {
    NEMBED_REQUIRE_AMX();
    for (const Case& s : kCases) {
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
        EXPECT_EQ(G16, G16_ref) << "m " << s.m << " o " << s.o << " a " << s.a;
        EXPECT_EQ(db, db_ref) << "m " << s.m << " o " << s.o << " a " << s.a;
        OwnKernels off(false);
        EXPECT_FALSE(gemm::g_w_relu_mask(s.m, s.o, s.a, G.data(), W.data(), H16.data(), G16.data(), db.data()));
    }
}

// The weights packed once (pack_b, VNNI here) give the bits of the plain operand packed at the call.
TEST(GemmAmx, PackedWeightsGiveThePlainBits) {
    NEMBED_REQUIRE_AMX();
    for (const Case& s : kCases) {
        const auto H = operand(s.m * s.a, 8, false), Wt = operand(s.a * s.o, 9, false);
        gemm::PackedB packed;
        gemm::pack_b(512, s.o, s.a, Wt.data(), packed);
        EXPECT_TRUE(packed.vnni);
        std::vector<std::uint16_t> Z(s.m * s.o), Zp(s.m * s.o);
        gemm::h_wt(s.m, s.o, s.a, H.data(), Wt.data(), Z.data(), nullptr, false);
        gemm::h_wt(s.m, s.o, s.a, H.data(), Wt.data(), Zp.data(), nullptr, false, &packed);
        EXPECT_EQ(Z, Zp) << "m " << s.m << " o " << s.o << " a " << s.a;
    }
}
