#pragma once
/// @file pca_init.hpp
/// PCA initialisation as openTSNE: the first n_components principal component scores, rescaled so PC1 has standard
/// deviation `target_std` (1e-4; cne uses 1), then jittered with scale 0.01 (noise std = 1e-2 * target_std).
#include <cstddef>
#include <cstdint>

#include "nembed/core/matrix.hpp"

namespace nembed {

/// pca(X, n_components) -> rescale(target_std) -> jitter(0.01, seed) if add_jitter. Throws InvalidArgument for
/// n_components = 0 or > min(N, D), non-finite X, or data whose first principal component has zero variance.
Matrix<double> pca_init(MatrixView<float> X, std::size_t n_components, bool add_jitter = true,
                        std::uint64_t seed = 0, int n_threads = 1, double target_std = 1e-4);
/// The steps of pca_init after the PCA, from the scores of all N points (a distributed run gathers them).
Matrix<double> pca_init_from_scores(MatrixView<float> scores, bool add_jitter = true, std::uint64_t seed = 0,
                                    double target_std = 1e-4);

} // namespace nembed
