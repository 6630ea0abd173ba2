#pragma once
// Private to the library (used by loss/ne_loss.cpp's NeSneLoss): SNE's exact O(n²) repulsion in float32 over a fixed
// tiling of the pairs, each unordered pair's exp(−D) computed once per pass (sne_dense.cpp).
#include <cstddef>
#include <vector>

#include "nembed/core/matrix.hpp"

namespace nembed::detail {

// With w_ij = exp(−‖y_i − y_j‖²): z_i = Σ_j w_ij (j = i included, so z_i >= 1) into z (n values), and
// grad_i += scale · Σ_{j≠i} w_ij (1/z_i + 1/z_j)(y_i − y_j). scratch is reused across calls. The result does not
// depend on n_threads.
void sne_repulsion(MatrixView<double> Y, double scale, double* grad, double* z, std::vector<float>& scratch,
                   int n_threads);

} // namespace nembed::detail
