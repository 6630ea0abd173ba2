// Output kernels (kernel/kernel.hpp): parameter checks and names.
#include "nembed/kernel/kernel.hpp"

#include "nembed/core/error.hpp"

namespace nembed {

namespace {
void positive(double v, const char* what) {
    require(std::isfinite(v) && v > 0, std::string(what) + " must be positive and finite, got " + std::to_string(v));
}
} // namespace

void validate(const OutputKernel& kernel) {
    std::visit(
        [](const auto& k) {
            using K = std::decay_t<decltype(k)>;
            if constexpr (std::is_same_v<K, StudentTKernel>) {
                positive(k.dof(), "Student-t kernel: dof");
            } else if constexpr (std::is_same_v<K, CauchyKernel>) {
                require(std::isfinite(k.eps) && k.eps >= 0,
                        "Cauchy kernel: eps must be finite and >= 0, got " + std::to_string(k.eps));
            } else if constexpr (std::is_same_v<K, UmapCurve>) {
                positive(k.a, "UMAP kernel: a");
                positive(k.b, "UMAP kernel: b");
            } else if constexpr (std::is_same_v<K, GaussianKernel>) {
                positive(k.bandwidth, "Gaussian kernel: bandwidth");
            } else {
                positive(k.temperature, "cosine kernel: temperature");
            }
        },
        kernel);
}

std::string kernel_name(const OutputKernel& kernel) {
    return std::visit([](const auto& k) { return k.name(); }, kernel);
}

} // namespace nembed
