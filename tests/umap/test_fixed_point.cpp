// The CNE step's fixed-point gradient accumulation: exact rounding, order-independent sums, the cap, and room for
// every term of a batch at the cap without overflow.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "nembed/core/random.hpp"
#include "../../src/methods/fixed_point.hpp"  // private to the library

using nembed::Rng;
using nembed::detail::FixedPoint;

TEST(FixedPoint, ShiftLeavesRoomForEveryTermAtTheCap) {
    for (double terms : {1.0, 7.0, 4096.0, 229376.0, 2e8, 4294967296.0}) {
        const FixedPoint fx(terms);
        EXPECT_LE(fx.shift, 35) << terms;
        const double rounded = std::exp2(std::ceil(std::log2(std::max(2.0, terms))));
        EXPECT_LE(rounded * FixedPoint::cap * fx.scale, std::exp2(62.0)) << terms;
        EXPECT_EQ(fx.scale * fx.inv_scale, 1.0);
    }
    // cne's default batch: 32768 heads x 7 contributions, all at the cap on one point
    const std::size_t terms = 32768 * 7;
    const FixedPoint fx(static_cast<double>(terms));
    EXPECT_EQ(fx.shift, 35);
    std::int64_t sum = 0;
    for (std::size_t i = 0; i < terms; ++i) sum += fx.to_fixed(1e6);  // capped at 256
    EXPECT_EQ(fx.to_double(sum), 256.0 * static_cast<double>(terms));
}

TEST(FixedPoint, RoundsToNearestAndSumsInAnyOrder) {
    const FixedPoint fx(229376.0);
    Rng rng(3);
    std::vector<double> x(5000);
    for (double& v : x)  // 1e-9 ... 100, inside the cap
        v = std::clamp(rng.normal() * std::exp2(rng.uniform(-30.0, 5.0)), -255.0, 255.0);
    double exact = 0;  // the sum of the rounded terms, exact in double here (|sum| < 2^17, resolution 2^-35)
    std::int64_t forward = 0;
    for (double v : x) {
        const std::int64_t q = fx.to_fixed(v);
        EXPECT_LE(std::abs(fx.to_double(q) - v), 0.5 * fx.inv_scale) << v;
        forward += q;
        exact += fx.to_double(q);
    }
    std::int64_t backward = 0;
    for (auto it = x.rbegin(); it != x.rend(); ++it) backward += fx.to_fixed(*it);
    EXPECT_EQ(forward, backward);
    EXPECT_EQ(fx.to_double(forward), exact);
    double naive = 0;
    for (double v : x) naive += v;
    EXPECT_NEAR(fx.to_double(forward), naive, 5000 * 0.5 * fx.inv_scale + 1e-12 * std::abs(naive));
    // ties round to even, as the double mantissa does
    EXPECT_EQ(fx.to_fixed(0.5 * fx.inv_scale), 0);
    EXPECT_EQ(fx.to_fixed(1.5 * fx.inv_scale), 2);
    EXPECT_EQ(fx.to_fixed(-2.5 * fx.inv_scale), -2);
}

TEST(FixedPoint, CapsLargeAndNonFiniteValues) {
    const FixedPoint fx(1000.0);
    EXPECT_EQ(fx.to_fixed(1e12), fx.to_fixed(FixedPoint::cap));
    EXPECT_EQ(fx.to_fixed(std::numeric_limits<double>::infinity()), fx.to_fixed(FixedPoint::cap));
    EXPECT_EQ(fx.to_fixed(-std::numeric_limits<double>::infinity()), fx.to_fixed(-FixedPoint::cap));
    EXPECT_EQ(fx.to_double(fx.to_fixed(-FixedPoint::cap)), -FixedPoint::cap);
}

TEST(FixedPoint, PairAdditionEqualsTwoScalarOnes) {
    // add_fixed2 (one 128-bit operation for a point's two coordinates) must give to_fixed's bits per lane, including
    // the cap, infinities, NaN (-> -cap), signed zeros and ties at half a unit.
    const FixedPoint fx(229376.0);
    std::vector<double> v = {0.0, -0.0, 0.5 * fx.inv_scale, 1.5 * fx.inv_scale, -2.5 * fx.inv_scale, 1e12, -1e12,
                             FixedPoint::cap, -FixedPoint::cap, std::numeric_limits<double>::infinity(),
                             -std::numeric_limits<double>::infinity(), std::numeric_limits<double>::quiet_NaN()};
    Rng rng(5, 1);
    for (int i = 0; i < 2000; ++i) v.push_back(rng.normal(0.0, i % 2 ? 1e-6 : 30.0));
    for (std::size_t i = 0; i < v.size(); ++i) {
        const double x[2] = {v[i], v[(i * 7 + 3) % v.size()]};
        std::int64_t packed[2] = {12345, -678}, scalar[2] = {12345, -678};
        fx.add_fixed2(packed, x);
        scalar[0] += fx.to_fixed(x[0]);
        scalar[1] += fx.to_fixed(x[1]);
        EXPECT_EQ(packed[0], scalar[0]) << x[0];
        EXPECT_EQ(packed[1], scalar[1]) << x[1];
    }
}
