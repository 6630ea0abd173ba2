// Block exp/log/pow through Eigen's packet math (core/vmath.hpp).
#include "nembed/core/vmath.hpp"

#include <Eigen/Core>
#include <cstdint>

#include "nembed/core/error.hpp"

namespace nembed::vmath {
namespace {

template <typename T>
using Block = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>, Eigen::Aligned64>;

// Aligned start and a whole number of packets: Eigen's linear traversal then has no scalar head or tail, so every
// element takes the packet path.
template <typename T>
Block<T> block(std::span<T> x) {
    require(reinterpret_cast<std::uintptr_t>(x.data()) % kAlign == 0 || x.empty(),
            "vmath: the block must start on a 64-byte boundary");
    require(x.size() % kPad == 0, "vmath: the block's length must be a multiple of 16");
    return Block<T>(x.data(), static_cast<Eigen::Index>(x.size()));
}

} // namespace

// Eigen clamps exp's argument from below (float at -88.38, double at -709.4) and returns a tiny positive value
// there, also for -inf; below these arguments libm's results are subnormal or 0, so they are flushed to 0.
void exp(std::span<float> x) {
    auto b = block(x);
    b = (b < -87.33f).select(0.0f, b.exp());
}
void exp(std::span<double> x) {
    auto b = block(x);
    b = (b < -708.39).select(0.0, b.exp());
}
void log(std::span<float> x) { auto b = block(x); b = b.log(); }
void log(std::span<double> x) { auto b = block(x); b = b.log(); }
void pow(std::span<float> x, float e) { auto b = block(x); b = b.pow(e); }
void pow(std::span<double> x, double e) { auto b = block(x); b = b.pow(e); }

} // namespace nembed::vmath
