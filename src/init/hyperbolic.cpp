// TorchDR's hyperbolic initialisation (init/hyperbolic.hpp).
#include "nembed/init/hyperbolic.hpp"

#include <cmath>
#include <string>

#include "nembed/core/error.hpp"
#include "nembed/init/random.hpp"
#include "nembed/kernel/hyperbolic.hpp"

namespace nembed {

Matrix<double> hyperbolic_init(std::size_t n, std::size_t n_components, std::uint64_t seed, double init_scaling) {
    require(std::isfinite(init_scaling) && init_scaling > 0.0,
            "init_scaling must be positive and finite, got " + std::to_string(init_scaling));
    Matrix<double> Y = random_init(n, n_components, seed, init_scaling);
    for (std::size_t i = 0; i < n; ++i) hyperbolic::expmap0(Y.row(i), n_components, 1.0);
    return Y;
}

} // namespace nembed
