#pragma once
/// @file random.hpp
/// Random initialisation: every coordinate N(0, std^2), std = 1e-4 as openTSNE (and FIt-SNE).
#include <cstddef>
#include <cstdint>

#include "nembed/core/matrix.hpp"

namespace nembed {

/// n x n_components matrix of N(0, std^2) draws; point i uses its own Rng stream, so the output depends only on
/// (n, n_components, seed, std) and row i is the same for any n > i. Throws for n = 0, n_components = 0 or std <= 0.
Matrix<double> random_init(std::size_t n, std::size_t n_components, std::uint64_t seed, double std = 1e-4);

} // namespace nembed
