// The BCE (UMAP) loss (loss/bce.hpp): which kernels it accepts.
#include "nembed/loss/bce.hpp"

#include "nembed/core/error.hpp"

namespace nembed {

void validate_bce_kernel(const OutputKernel& kernel) {
    validate(kernel);
    if (const auto* c = std::get_if<CauchyKernel>(&kernel))
        require(c->eps >= 1.0, "the BCE loss needs w <= 1, so the Cauchy kernel's eps must be >= 1, got " +
                                   std::to_string(c->eps));
    require(!std::holds_alternative<CosineKernel>(kernel),
            "the BCE loss needs w <= 1: the cosine kernel exp(cos/tau) exceeds 1 and log(1 - w) is undefined");
}

} // namespace nembed
