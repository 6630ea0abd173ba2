#pragma once
/// @file exact_sums.hpp
/// Internal building blocks shared by the repulsion estimators: input checks, the once-per-call kernel dispatch and
/// the exact per-point sum (used by the exact estimator and as the FFT estimator's fallback for queries outside its
/// grid). Not a stable API.
#include <algorithm>
#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "nembed/core/matrix.hpp"
#include "nembed/kernel/kernel.hpp"

namespace nembed {
class Repulsion;
}

namespace nembed::detail {

/// Throws InvalidArgument (prefixed with `who`) for kernel parameters out of range, d == 0, a null output with
/// N > 0, or non-finite coordinates.
void check_repulsion_input(const std::string& who, MatrixView<double> Y, const OutputKernel& kernel, const void* out);
/// The same for compute_partial: both point sets, the output buffers, and equal dimensions.
void check_partial_input(const std::string& who, MatrixView<double> reference, MatrixView<double> queries,
                         const OutputKernel& kernel, const double* forces, const double* z);

/// Throws InvalidArgument "<estimator> does not support the <kernel> kernel in d dimensions: <reason>" unless
/// `estimator` supports `kernel` in `n_components` dimensions.
void require_supported(const Repulsion& estimator, const OutputKernel& kernel, std::size_t n_components);

/// "" for the Euclidean kernels; for the cosine kernel, why the estimators cannot sum it.
std::string euclidean_kernel_reason(const OutputKernel& kernel);

/// True for the kernels with w or force_weight unbounded as D → 0: Cauchy ε = 0 (w = 1/D) and UMAP b < 1
/// (force_weight ~ a·b·D^(b−1)).
bool singular_at_zero(const OutputKernel& kernel);

/// w(D) and force_weight(D) together: the kernel's own `eval` where it has one (one pow for Student-t), else the
/// two members.
template <typename K>
inline void kernel_eval(const K& k, double D, double& w, double& force) {
    if constexpr (requires { k.eval(D, w, force); }) {
        k.eval(D, w, force);
    } else {
        w = k.w(D);
        force = k.force_weight(D);
    }
}


template <int D, typename K>
double exact_point_sum_fixed(const double* q, MatrixView<double> ref, std::size_t skip, const K& kernel, double* f) {
    double acc[D] = {};
    double z = 0.0;
    for (std::size_t j = 0; j < ref.rows; ++j) {
        if (j == skip) continue;
        const double* r = ref.data + j * D;
        double diff[D];
        double d2 = 0.0;
        for (int k = 0; k < D; ++k) {
            diff[k] = q[k] - r[k];
            d2 += diff[k] * diff[k];
        }
        double w, wf;
        kernel_eval(kernel, d2, w, wf);
        z += w;
        for (int k = 0; k < D; ++k) acc[k] += wf * diff[k];
    }
    for (int k = 0; k < D; ++k) f[k] = acc[k];
    return z;
}

/// f[0..d) = Σ_j force_weight(D(q, r_j)) (q − r_j) over the reference rows except `skip` (pass ref.rows for none);
/// returns Σ_j w(D(q, r_j)) over the same rows. Sums in row order.
template <typename K>
double exact_point_sum(const double* q, MatrixView<double> ref, std::size_t skip, const K& kernel, double* f) {
    const std::size_t d = ref.cols;
    switch (d) {
        case 1: return exact_point_sum_fixed<1>(q, ref, skip, kernel, f);
        case 2: return exact_point_sum_fixed<2>(q, ref, skip, kernel, f);
        case 3: return exact_point_sum_fixed<3>(q, ref, skip, kernel, f);
        default: break;
    }
    std::fill(f, f + d, 0.0);
    double z = 0.0;
    for (std::size_t j = 0; j < ref.rows; ++j) {
        if (j == skip) continue;
        const double* r = ref.row(j);
        double d2 = 0.0;
        for (std::size_t k = 0; k < d; ++k) d2 += (q[k] - r[k]) * (q[k] - r[k]);
        double w, wf;
        kernel_eval(kernel, d2, w, wf);
        z += w;
        for (std::size_t k = 0; k < d; ++k) f[k] += wf * (q[k] - r[k]);
    }
    return z;
}

} // namespace nembed::detail
