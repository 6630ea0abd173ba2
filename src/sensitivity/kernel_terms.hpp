#pragma once
// Per-pair kernel terms of the KL objective's derivatives (private to src/sensitivity; docs/sensitivity.md §2):
// from the output kernel's w, ℓ' = dlog_w and ℓ'' = d2log_w, the quantities the gradient, the Hessian and the
// mixed derivative read. Callers dispatch once per call (`visit_kernel`, kernel.hpp) and loop over pairs with the concrete type.
#include <cmath>
#include <type_traits>
#include <variant>

#include "nembed/kernel/kernel.hpp"

namespace nembed::sensitivity_detail {

/// w, a = −ℓ' (attraction weight), l2 = ℓ'', f = −w ℓ' (force weight), g = w (ℓ'² + ℓ'') = −df/dD.
struct PairTerms {
    double w, a, l2, f, g;
};

/// t-SNE's kernel (Student-t with one degree of freedom, = Cauchy with ε = 1): every term is a power of
/// w = 1/(1 + D), one division per pair.
inline PairTerms terms(const StudentT1Kernel& k, double d0, double d1) {
    const double w = k.w(d0 * d0 + d1 * d1);
    return {w, w, w * w, w * w, 2.0 * w * w * w};
}

/// Student-t of any dof α: b = (1 + D/α)^−1, w = b^α, a = b, ℓ'' = b²/α (one pow per pair).
inline PairTerms terms(const StudentTKernel& k, double d0, double d1) {
    const double b = k.base(d0 * d0 + d1 * d1), l2 = b * b / k.dof();
    const double w = std::pow(b, k.dof());
    return {w, b, l2, w * b, w * (b * b + l2)};
}

/// Any other kernel through its members.
template <class K>
inline PairTerms terms(const K& k, double d0, double d1) {
    const double D = d0 * d0 + d1 * d1;
    const double w = k.w(D), l1 = k.dlog_w(D), l2 = k.d2log_w(D);
    return {w, -l1, l2, -w * l1, w * (l1 * l1 + l2)};
}
template <class K>
inline double log_w(const K& k, double d0, double d1) {
    return k.log_w(d0 * d0 + d1 * d1);
}


} // namespace nembed::sensitivity_detail
