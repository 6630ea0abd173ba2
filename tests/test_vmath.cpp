// core/vmath.hpp: block exp/log/pow against libm with stated tolerances, and position independence.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "nembed/core/error.hpp"
#include "nembed/core/vmath.hpp"

namespace {

using nembed::vmath::VBuffer;

template <typename T>
std::vector<T> args(T lo, T hi, std::size_t n) {  // log-spaced in [lo, hi]
    std::vector<T> v(n);
    for (std::size_t i = 0; i < n; ++i)
        v[i] = static_cast<T>(std::exp(std::log(double(lo)) + (std::log(double(hi)) - std::log(double(lo))) * double(i) / double(n - 1)));
    return v;
}

template <typename T, typename F, typename R>
double max_rel_error(const std::vector<T>& x, F vec, R ref) {
    VBuffer<T> buf(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) buf[i] = x[i];
    vec(buf.all());
    double worst = 0.0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        const double r = ref(double(x[i]));
        worst = std::max(worst, std::abs(double(buf[i]) - r) / std::abs(r));
    }
    return worst;
}

TEST(Vmath, FloatExpLogPowWithinAFewUlp) {
    const auto xe = args<float>(1e-6f, 80.0f, 1001);
    std::vector<float> xn(xe.size());
    for (std::size_t i = 0; i < xe.size(); ++i) xn[i] = -xe[i];
    // float's ulp is 6e-8 relative: 4 ulp.
    EXPECT_LT(max_rel_error(xn, [](std::span<float> s) { nembed::vmath::exp(s); }, [](double v) { return std::exp(v); }), 2.4e-7);
    const auto xl = args<float>(1e-30f, 1e30f, 1001);
    // log's relative error away from 1 (the arguments avoid [0.99, 1.01] where the relative error of log blows up).
    std::vector<float> xl2;
    for (float v : xl) if (std::abs(v - 1.0f) > 0.01f) xl2.push_back(v);
    EXPECT_LT(max_rel_error(xl2, [](std::span<float> s) { nembed::vmath::log(s); }, [](double v) { return std::log(v); }), 2.4e-7);
    const auto xp = args<float>(1e-12f, 1e12f, 1001);
    EXPECT_LT(max_rel_error(xp, [](std::span<float> s) { nembed::vmath::pow(s, 0.7915f); },
                            [](double v) { return std::pow(v, double(0.7915f)); }), 2.4e-7);
}

TEST(Vmath, DoubleExpLogPowWithinAFewUlp) {
    const auto xe = args<double>(1e-9, 700.0, 1001);
    std::vector<double> xn(xe.size());
    for (std::size_t i = 0; i < xe.size(); ++i) xn[i] = -xe[i];
    EXPECT_LT(max_rel_error(xn, [](std::span<double> s) { nembed::vmath::exp(s); }, [](double v) { return std::exp(v); }), 1e-15);
    std::vector<double> xl;
    for (double v : args<double>(1e-300, 1e300, 1001)) if (std::abs(v - 1.0) > 0.01) xl.push_back(v);
    EXPECT_LT(max_rel_error(xl, [](std::span<double> s) { nembed::vmath::log(s); }, [](double v) { return std::log(v); }), 1e-15);
    EXPECT_LT(max_rel_error(args<double>(1e-100, 1e100, 1001), [](std::span<double> s) { nembed::vmath::pow(s, 0.79); },
                            [](double v) { return std::pow(v, 0.79); }), 1e-15);
}

TEST(Vmath, SpecialValuesAsLibm) {
    VBuffer<float> b(16);
    b[0] = 0.0f; b[1] = -1.0f; b[2] = std::numeric_limits<float>::infinity(); b[3] = 1.0f;
    nembed::vmath::log(b.all());
    EXPECT_EQ(b[0], -std::numeric_limits<float>::infinity());
    EXPECT_TRUE(std::isnan(b[1]));
    EXPECT_EQ(b[2], std::numeric_limits<float>::infinity());
    EXPECT_EQ(b[3], 0.0f);
    b[0] = -87.34f; b[1] = 0.0f; b[2] = -std::numeric_limits<float>::infinity(); b[3] = 100.0f;
    nembed::vmath::exp(b.all());
    EXPECT_EQ(b[0], 0.0f);
    EXPECT_EQ(b[1], 1.0f);
    EXPECT_EQ(b[2], 0.0f);
    EXPECT_EQ(b[3], std::numeric_limits<float>::infinity());
    VBuffer<double> d(16);
    d[0] = -708.4; d[1] = -std::numeric_limits<double>::infinity(); d[2] = -708.0;
    nembed::vmath::exp(d.all());
    EXPECT_EQ(d[0], 0.0);
    EXPECT_EQ(d[1], 0.0);
    EXPECT_NEAR(d[2], std::exp(-708.0), 1e-15 * std::exp(-708.0));
    b[0] = 0.0f; b[1] = 1.0f; b[2] = 4.0f;
    nembed::vmath::pow(b.all(), 0.5f);
    EXPECT_EQ(b[0], 0.0f);
    EXPECT_EQ(b[1], 1.0f);
    EXPECT_EQ(b[2], 2.0f);
}

// A value's result does not depend on where it sits in the block (no scalar head or tail path).
TEST(Vmath, ResultIndependentOfPosition) {
    const float v = 0.3731f;
    VBuffer<float> b(48);
    for (std::size_t i = 0; i < 48; ++i) b[i] = v;
    nembed::vmath::exp(b.all());
    for (std::size_t i = 1; i < 48; ++i) EXPECT_EQ(b[i], b[0]) << i;
    VBuffer<double> d(33);  // padded to 48
    EXPECT_EQ(d.size(), 48u);
    for (std::size_t i = 0; i < 48; ++i) d[i] = 12.345;
    nembed::vmath::pow(d.all(), 0.79);
    for (std::size_t i = 1; i < 48; ++i) EXPECT_EQ(d[i], d[0]) << i;
}

TEST(Vmath, MisalignedOrUnpaddedBlocksRefused) {
    VBuffer<float> b(32);
    EXPECT_THROW(nembed::vmath::exp(std::span<float>(b.data() + 1, 16)), nembed::InvalidArgument);
    EXPECT_THROW(nembed::vmath::exp(std::span<float>(b.data(), 15)), nembed::InvalidArgument);
}

} // namespace
