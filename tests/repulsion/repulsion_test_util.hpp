#pragma once
// Shared helpers for the repulsion tests: t-SNE-like test layouts and error measures.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/core/random.hpp"

namespace nembed::testing {

/// N points in d dimensions spread like a t-SNE embedding: `clusters` Gaussian blobs (std 2..10) whose centres are
/// Gaussian with std 25, so the span is about 100 units.
inline Matrix<double> clustered_layout(std::size_t n, std::size_t d, std::uint64_t seed, std::size_t clusters = 10) {
    Rng rng(seed, 0);
    std::vector<double> centres(clusters * d), spread(clusters);
    for (auto& c : centres) c = rng.normal(0.0, 25.0);
    for (auto& s : spread) s = rng.uniform(2.0, 10.0);
    Matrix<double> Y(n, d);
    for (std::size_t i = 0; i < n; ++i) {
        Rng r(seed, 1000 + i);
        const std::size_t c = static_cast<std::size_t>(r.below(clusters));
        for (std::size_t k = 0; k < d; ++k) Y(i, k) = centres[c * d + k] + r.normal(0.0, spread[c]);
    }
    return Y;
}

/// ||a − b|| / ||b|| over all entries.
inline double rel_error(const std::vector<double>& a, const std::vector<double>& b) {
    double num = 0.0, den = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += b[i] * b[i];
    }
    return std::sqrt(num / den);
}

/// Straightforward double loop of the Repulsion contract (independent of the library code).
inline double naive_repulsion(const Matrix<double>& Y, double dof, std::vector<double>& F) {
    const std::size_t n = Y.rows(), d = Y.cols();
    F.assign(n * d, 0.0);
    double Z = 0.0;
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j) {
            if (i == j) continue;
            double d2 = 0.0;
            for (std::size_t k = 0; k < d; ++k) d2 += (Y(i, k) - Y(j, k)) * (Y(i, k) - Y(j, k));
            const double w = std::pow(1.0 + d2 / dof, -dof);
            const double wf = std::pow(1.0 + d2 / dof, -(dof + 1.0));
            Z += w;
            for (std::size_t k = 0; k < d; ++k) F[i * d + k] += wf * (Y(i, k) - Y(j, k));
        }
    return Z;
}

} // namespace nembed::testing
