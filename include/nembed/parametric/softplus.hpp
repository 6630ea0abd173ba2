#pragma once
/// @file softplus.hpp
/// Softplus (torch.nn.Softplus: beta 1, threshold 20) and its derivative for the network's hidden layers
/// (parametric/mlp.hpp), as element-wise loops that the compiler vectorises to 16 lanes on AVX-512 (ISA clones).
///
/// softplus(z) = max(z, 0) + log1p(exp(−|z|)) for z ≤ 20, z above; log1p(t) = 2·atanh(t / (2 + t)) by its odd series
/// (t ≤ 1, so the argument is ≤ 1/3) and exp by Cody–Waite reduction and a degree-7 polynomial. The derivative is
/// σ(z) = 1 − exp(−h) = −expm1(−h) from the output h = softplus(z) (expm1 without cancellation near 0).
/// exp is 0 below −86 instead of a value under 4.5e−38 (softplus(−100) is 0, torch's 3.7e−44), and no intermediate is
/// subnormal: subnormal operands stall the multiplier tens of times over. Both agree with the double-precision functions within 4 float
/// ulps (tests/parametric/test_softplus.cpp); every element goes through the same operations in every clone, so a
/// value's bits do not depend on its position, the ISA or the thread count.
#include <cstddef>

namespace nembed {

/// z ← softplus(z), n elements.
void softplus_inplace(float* z, std::size_t n);
/// g ← g · σ(z), with h = softplus(z) given, n elements.
void multiply_softplus_derivative(const float* h, float* g, std::size_t n);

} // namespace nembed
