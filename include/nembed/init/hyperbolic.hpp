#pragma once
/// @file hyperbolic.hpp
/// TorchDR's init="hyperbolic" (COSNE's default): every coordinate N(0, init_scaling²) (random_init's streams), then
/// each point mapped into the Poincaré ball by the exponential map at the origin, exp_0(x) = tanh(‖x‖)·x/‖x‖
/// (curvature 1; kernel/hyperbolic.hpp). Every point lies strictly inside the unit ball.
#include <cstddef>
#include <cstdint>

#include "nembed/core/matrix.hpp"

namespace nembed {

/// n × n_components points in the unit ball. Throws InvalidArgument for n = 0, n_components = 0 or
/// init_scaling <= 0 (named).
Matrix<double> hyperbolic_init(std::size_t n, std::size_t n_components, std::uint64_t seed,
                               double init_scaling = 0.5);

} // namespace nembed
