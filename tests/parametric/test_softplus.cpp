// The vectorised softplus and its derivative (parametric/softplus.hpp) against the double-precision functions.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "nembed/core/random.hpp"
#include "nembed/parametric/softplus.hpp"

using namespace nembed;

namespace {
// torch.nn.Softplus (beta 1, threshold 20) in double.
double softplus_ref(double z) { return z > 20 ? z : std::log1p(std::exp(z)); }

// |got − want| in units of the float spacing at want (subnormal and zero wants: the smallest normal's spacing).
double ulps(float got, double want) {
    const double w = std::max(std::fabs(want), 1.1754943508222875e-38);
    const double spacing = std::ldexp(1.0, std::ilogb(w) - 23);
    return std::fabs(static_cast<double>(got) - want) / spacing;
}

std::vector<float> grid() {
    std::vector<float> z;
    for (int i = -13000; i <= 4000; ++i) z.push_back(0.01f * static_cast<float>(i));  // −130 … 40
    for (float t : {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-7f, -1e-7f, 20.0f, 20.000002f, 19.999998f, -85.9f, -86.0f, -86.1f, -86.9f, -87.0f,
                    -87.1f, -88.7f, -103.0f, -1e30f, 1e30f})
        z.push_back(t);
    Rng rng(7, 0);
    for (int i = 0; i < 20000; ++i) z.push_back(static_cast<float>(rng.normal(0.0, 6.0)));
    return z;
}
} // namespace

TEST(Softplus, WithinFourUlpsOfDouble) {
    const std::vector<float> z = grid();
    std::vector<float> h = z;
    softplus_inplace(h.data(), h.size());
    double worst = 0.0;
    for (std::size_t i = 0; i < z.size(); ++i) {
        const double want = softplus_ref(z[i]);
        // Below −86 the function returns 0 instead of a value under 4.5e−38 (no subnormal operands).
        if (z[i] < -86.0f) {
            EXPECT_EQ(h[i], 0.0f) << z[i];
            EXPECT_LE(want, 4.5e-38) << z[i];
            continue;
        }
        worst = std::max(worst, ulps(h[i], want));
        ASSERT_LE(ulps(h[i], want), 4.0) << "z = " << z[i] << " got " << h[i] << " want " << want;
    }
    RecordProperty("worst_ulps", std::to_string(worst));
}

TEST(Softplus, DerivativeWithinFourUlpsOfDouble) {
    const std::vector<float> z = grid();
    std::vector<float> h = z, g(z.size(), 1.0f);
    softplus_inplace(h.data(), h.size());
    multiply_softplus_derivative(h.data(), g.data(), g.size());
    for (std::size_t i = 0; i < z.size(); ++i) {
        // σ(z) from the float output h, as the network has it: 1 − exp(−h) in double.
        const double want = -std::expm1(-static_cast<double>(h[i]));
        if (h[i] == 0.0f) {
            EXPECT_EQ(g[i], 0.0f) << z[i];
            continue;
        }
        ASSERT_LE(ulps(g[i], want), 4.0) << "z = " << z[i] << " h = " << h[i] << " got " << g[i] << " want " << want;
    }
}

// Every element goes through the same operations: its bits do not depend on where it sits in the array (the
// vector body, the remainder loop) — the training forward pass, apply and any chunking agree.
TEST(Softplus, BitsIndependentOfPosition) {
    const std::vector<float> z = grid();
    std::vector<float> whole = z;
    softplus_inplace(whole.data(), whole.size());
    std::vector<float> g(z.size(), 0.75f);
    multiply_softplus_derivative(whole.data(), g.data(), g.size());
    for (std::size_t shift : {1u, 3u, 7u, 13u}) {
        std::vector<float> part(z.begin() + static_cast<std::ptrdiff_t>(shift), z.end());
        softplus_inplace(part.data(), part.size());
        ASSERT_EQ(std::memcmp(part.data(), whole.data() + shift, part.size() * sizeof(float)), 0) << shift;
        std::vector<float> gp(part.size(), 0.75f);
        multiply_softplus_derivative(part.data(), gp.data(), gp.size());
        ASSERT_EQ(std::memcmp(gp.data(), g.data() + shift, gp.size() * sizeof(float)), 0) << shift;
    }
    for (std::size_t i = 0; i < 40; ++i) {  // one element at a time: the scalar path
        float one = z[i * 37];
        softplus_inplace(&one, 1);
        ASSERT_EQ(std::memcmp(&one, &whole[i * 37], sizeof(float)), 0) << z[i * 37];
    }
}
