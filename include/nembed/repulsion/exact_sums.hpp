#pragma once
/// @file exact_sums.hpp
/// Internal building blocks shared by the repulsion estimators: input checks and the exact per-point sum (used by
/// the exact estimator and as the FFT estimator's fallback for queries outside its grid). Not a stable API.
#include <cstddef>
#include <string>

#include "nembed/core/matrix.hpp"
#include "nembed/kernel/tsne_kernel.hpp"

namespace nembed::detail {

/// Throws InvalidArgument (prefixed with `who`) for dof <= 0 or not finite, d == 0, a null output with N > 0, or
/// non-finite coordinates.
void check_repulsion_input(const std::string& who, MatrixView<double> Y, double dof, const void* out);

/// f[0..d) = Σ_j w(q, r_j)^((α+1)/α) (q − r_j) over the reference rows except `skip` (pass ref.rows for none);
/// returns Σ_j w(q, r_j) over the same rows. Sums in row order.
double exact_point_sum(const double* q, MatrixView<double> ref, std::size_t skip, const TsneKernel& kernel, double* f);

} // namespace nembed::detail
