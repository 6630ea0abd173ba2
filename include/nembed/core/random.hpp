#pragma once
/// @file random.hpp
/// Counter-based random numbers (Philox4x32-10 from Random123). A generator is identified by (seed, stream):
/// give each point, edge or block its own stream and the result cannot depend on how work is split across threads.
/// Distributions are implemented here so results match across standard libraries.
#include <cmath>
#include <cstdint>

#include <Random123/philox.h>

namespace nembed {

class Rng {
public:
    explicit Rng(std::uint64_t seed = 0, std::uint64_t stream = 0) {
        key_ = {{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)}};
        ctr_ = {{static_cast<std::uint32_t>(stream), static_cast<std::uint32_t>(stream >> 32), 0u, 0u}};
    }

    /// Next 32 random bits.
    std::uint32_t next_u32() {
        if (pos_ == 4) refill();
        return out_[pos_++];
    }
    std::uint64_t next_u64() {
        std::uint64_t hi = next_u32();
        return (hi << 32) | next_u32();
    }
    /// Uniform on [0, 1) with 53 random bits.
    double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }
    /// Uniform on [lo, hi).
    double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
    /// Uniform integer in [0, n) without modulo bias (Lemire's method).
    std::uint64_t below(std::uint64_t n) {
        if (n <= 0xffffffffu) {
            std::uint32_t n32 = static_cast<std::uint32_t>(n);
            std::uint64_t m = static_cast<std::uint64_t>(next_u32()) * n32;
            std::uint32_t low = static_cast<std::uint32_t>(m);
            if (low < n32) {
                std::uint32_t t = static_cast<std::uint32_t>(-n32) % n32;
                while (low < t) {
                    m = static_cast<std::uint64_t>(next_u32()) * n32;
                    low = static_cast<std::uint32_t>(m);
                }
            }
            return m >> 32;
        }
        std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
        std::uint64_t r;
        do { r = next_u64(); } while (r >= limit);
        return r % n;
    }
    /// Standard normal (Box-Muller; the second value is cached).
    double normal() {
        if (has_spare_) {
            has_spare_ = false;
            return spare_;
        }
        double u1;
        do { u1 = uniform(); } while (u1 <= 0.0);
        double u2 = uniform();
        double r = std::sqrt(-2.0 * std::log(u1));
        spare_ = r * std::sin(6.283185307179586 * u2);
        has_spare_ = true;
        return r * std::cos(6.283185307179586 * u2);
    }
    double normal(double mean, double sd) { return mean + sd * normal(); }

private:
    void refill() {
        r123::Philox4x32 gen;
        auto r = gen(ctr_, key_);
        for (int i = 0; i < 4; ++i) out_[i] = r.v[i];
        if (++ctr_.v[2] == 0) ++ctr_.v[3];
        pos_ = 0;
    }
    r123::Philox4x32::key_type key_{};
    r123::Philox4x32::ctr_type ctr_{};
    std::uint32_t out_[4] = {0, 0, 0, 0};
    int pos_ = 4;
    bool has_spare_ = false;
    double spare_ = 0.0;
};

} // namespace nembed
