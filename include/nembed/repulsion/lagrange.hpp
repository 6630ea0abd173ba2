#pragma once
/// @file lagrange.hpp
/// Lagrange interpolation on p cell-centred nodes of a unit box (FIt-SNE's scheme, docs/core.md §3): the FFT
/// repulsion and the sensitivity's grid convolution spread charges with these weights.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace nembed {

class LagrangeNodes {
public:
    LagrangeNodes() = default;
    explicit LagrangeNodes(std::size_t p) : nodes_(p), denom_(p) {
        for (std::size_t m = 0; m < p; ++m) nodes_[m] = (static_cast<double>(m) + 0.5) / static_cast<double>(p);
        for (std::size_t m = 0; m < p; ++m) {
            double den = 1.0;
            for (std::size_t l = 0; l < p; ++l)
                if (l != m) den *= nodes_[m] - nodes_[l];
            denom_[m] = den;
        }
    }
    std::size_t size() const { return nodes_.size(); }

    /// The box of t (a coordinate in box widths from the grid's origin, clamped to [0, n_boxes − 1]) and the p
    /// weights of its offset inside that box, written to w.
    std::int32_t locate(double t, std::size_t n_boxes, double* w) const {
        const double fb = std::min(std::max(std::floor(t), 0.0), static_cast<double>(n_boxes - 1));
        const double u = t - fb;
        const std::size_t p = nodes_.size();
        for (std::size_t m = 0; m < p; ++m) {
            double num = 1.0;
            for (std::size_t l = 0; l < p; ++l)
                if (l != m) num *= u - nodes_[l];
            w[m] = num / denom_[m];
        }
        return static_cast<std::int32_t>(fb);
    }

private:
    std::vector<double> nodes_, denom_;
};

} // namespace nembed
