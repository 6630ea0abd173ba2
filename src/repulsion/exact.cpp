#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/kernel/tsne_kernel.hpp"
#include "nembed/repulsion/exact_sums.hpp"
#include "nembed/repulsion/repulsion.hpp"

namespace nembed {

namespace detail {

void check_repulsion_input(const std::string& who, MatrixView<double> Y, double dof, const void* out) {
    require(std::isfinite(dof) && dof > 0, who + ": dof must be positive and finite, got " + std::to_string(dof));
    require(Y.cols >= 1, who + ": the embedding has no columns");
    require(Y.rows == 0 || Y.data != nullptr, who + ": null embedding data");
    require(Y.rows == 0 || out != nullptr, who + ": null output buffer");
    require_finite(Y, who + ": embedding");
}

namespace {
template <int D, bool Cauchy>
double point_sum_fixed(const double* q, MatrixView<double> ref, std::size_t skip, const TsneKernel& kernel, double* f) {
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
        if constexpr (Cauchy) {
            w = 1.0 / (1.0 + d2);
            wf = w * w;
        } else {
            kernel.eval(d2, w, wf);
        }
        z += w;
        for (int k = 0; k < D; ++k) acc[k] += wf * diff[k];
    }
    for (int k = 0; k < D; ++k) f[k] = acc[k];
    return z;
}

template <int D>
double point_sum_dim(const double* q, MatrixView<double> ref, std::size_t skip, const TsneKernel& kernel, double* f) {
    return kernel.cauchy() ? point_sum_fixed<D, true>(q, ref, skip, kernel, f)
                           : point_sum_fixed<D, false>(q, ref, skip, kernel, f);
}
} // namespace

double exact_point_sum(const double* q, MatrixView<double> ref, std::size_t skip, const TsneKernel& kernel, double* f) {
    const std::size_t d = ref.cols;
    switch (d) {
        case 1: return point_sum_dim<1>(q, ref, skip, kernel, f);
        case 2: return point_sum_dim<2>(q, ref, skip, kernel, f);
        case 3: return point_sum_dim<3>(q, ref, skip, kernel, f);
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
        kernel.eval(d2, w, wf);
        z += w;
        for (std::size_t k = 0; k < d; ++k) f[k] += wf * (q[k] - r[k]);
    }
    return z;
}

} // namespace detail

namespace {

class ExactRepulsion final : public Repulsion {
public:
    explicit ExactRepulsion(int n_threads) : n_threads_(n_threads) {
        require(n_threads >= 1, "exact repulsion: n_threads must be >= 1, got " + std::to_string(n_threads));
    }

    double compute(MatrixView<double> Y, double dof, double* forces) override {
        detail::check_repulsion_input("exact repulsion", Y, dof, forces);
        const TsneKernel kernel(dof);
        const std::size_t d = Y.cols;
        return fixed_block_sum(n_threads_, Y.rows, [&](std::size_t b, std::size_t e) {
            double s = 0.0;
            for (std::size_t i = b; i < e; ++i) s += detail::exact_point_sum(Y.row(i), Y, i, kernel, forces + i * d);
            return s;
        }, 64);
    }

    void compute_partial(MatrixView<double> reference, MatrixView<double> queries, double dof, double* forces,
                         double* z) override {
        detail::check_repulsion_input("exact repulsion (reference)", reference, dof, &dof);
        detail::check_repulsion_input("exact repulsion (queries)", queries, dof, forces);
        require(queries.rows == 0 || z != nullptr, "exact repulsion: null z buffer");
        require(reference.cols == queries.cols, "exact repulsion: reference has " + std::to_string(reference.cols) +
                                                    " dimensions but queries have " + std::to_string(queries.cols));
        const TsneKernel kernel(dof);
        const std::size_t d = queries.cols;
        parallel_for(n_threads_, queries.rows, [&](std::size_t i) {
            z[i] = detail::exact_point_sum(queries.row(i), reference, reference.rows, kernel, forces + i * d);
        });
    }

private:
    int n_threads_;
};

} // namespace

std::unique_ptr<Repulsion> make_exact_repulsion(int n_threads) { return std::make_unique<ExactRepulsion>(n_threads); }

} // namespace nembed
