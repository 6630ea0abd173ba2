// Exact O(N²) repulsion and the checks and kernel rules the estimators share (repulsion.hpp, exact_sums.hpp).
#include <cmath>
#include <memory>
#include <string>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/repulsion/exact_sums.hpp"
#include "nembed/repulsion/repulsion.hpp"

namespace nembed {

namespace detail {

void check_repulsion_input(const std::string& who, MatrixView<double> Y, const OutputKernel& kernel, const void* out) {
    try {
        validate(kernel);
    } catch (const InvalidArgument& e) {
        throw InvalidArgument(who + ": " + e.what());
    }
    require(Y.cols >= 1, who + ": the embedding has no columns");
    require(Y.rows == 0 || Y.data != nullptr, who + ": null embedding data");
    require(Y.rows == 0 || out != nullptr, who + ": null output buffer");
    require_finite(Y, who + ": embedding");
}

void check_partial_input(const std::string& who, MatrixView<double> reference, MatrixView<double> queries,
                         const OutputKernel& kernel, const double* forces, const double* z) {
    check_repulsion_input(who + " (reference)", reference, kernel, &kernel);
    check_repulsion_input(who + " (queries)", queries, kernel, forces);
    require(queries.rows == 0 || z != nullptr, who + ": null z buffer");
    require(reference.cols == queries.cols, who + ": reference has " + std::to_string(reference.cols) +
                                                " dimensions but queries have " + std::to_string(queries.cols));
}

void require_supported(const Repulsion& estimator, const OutputKernel& kernel, std::size_t n_components) {
    const std::string why = estimator.unsupported_reason(kernel, n_components);
    require_lazy(why.empty(), [&] {
        return estimator.name() + " does not support the " + kernel_name(kernel) + " kernel in " +
               std::to_string(n_components) + " dimensions: " + why;
    });
}

std::string euclidean_kernel_reason(const OutputKernel& kernel) {
    if (std::holds_alternative<CosineKernel>(kernel))
        return "the cosine kernel lives on the unit sphere (D between L2-normalised vectors, differentiated through "
               "the normalisation); the repulsion estimators sum kernels of the Euclidean squared distance";
    return "";
}

bool singular_at_zero(const OutputKernel& kernel) {
    if (const auto* c = std::get_if<CauchyKernel>(&kernel)) return c->eps == 0.0;
    if (const auto* u = std::get_if<UmapCurve>(&kernel)) return u->b < 1.0;
    return false;
}

} // namespace detail

namespace {

class ExactRepulsion final : public Repulsion {
public:
    explicit ExactRepulsion(int n_threads) : n_threads_(n_threads) {
        require(n_threads >= 1, "exact repulsion: n_threads must be >= 1, got " + std::to_string(n_threads));
    }

    std::string name() const override { return "exact repulsion"; }
    std::string unsupported_reason(const OutputKernel& kernel, std::size_t) const override {
        return detail::euclidean_kernel_reason(kernel);
    }

    double compute(MatrixView<double> Y, const OutputKernel& kernel, double* forces) override {
        detail::check_repulsion_input("exact repulsion", Y, kernel, forces);
        detail::require_supported(*this, kernel, Y.cols);
        const std::size_t d = Y.cols;
        return visit_kernel(kernel, [&](const auto& k) {
            return fixed_block_sum(n_threads_, Y.rows, [&](std::size_t b, std::size_t e) {
                double s = 0.0;
                for (std::size_t i = b; i < e; ++i) s += detail::exact_point_sum(Y.row(i), Y, i, k, forces + i * d);
                return s;
            }, 64);
        });
    }

    void compute_partial(MatrixView<double> reference, MatrixView<double> queries, const OutputKernel& kernel,
                         double* forces, double* z) override {
        detail::check_partial_input("exact repulsion", reference, queries, kernel, forces, z);
        detail::require_supported(*this, kernel, queries.cols);
        const std::size_t d = queries.cols;
        visit_kernel(kernel, [&](const auto& k) {
            parallel_for(n_threads_, queries.rows, [&](std::size_t i) {
                z[i] = detail::exact_point_sum(queries.row(i), reference, reference.rows, k, forces + i * d);
            });
        });
    }

private:
    int n_threads_;
};

} // namespace

std::unique_ptr<Repulsion> make_exact_repulsion(int n_threads) { return std::make_unique<ExactRepulsion>(n_threads); }

} // namespace nembed
