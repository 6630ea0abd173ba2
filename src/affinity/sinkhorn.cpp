// TorchDR's SinkhornAffinity: symmetric Sinkhorn in the log domain.
#include "nembed/affinity/sinkhorn.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "nembed/core/error.hpp"
#include "nembed/core/interrupt.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/core/strings.hpp"
#include "torchdr_detail.hpp"

namespace nembed {

SinkhornBaseKernel parse_sinkhorn_base_kernel(const std::string& name) {
    const std::string s = to_lower(name);
    if (s == "gaussian") return SinkhornBaseKernel::gaussian;
    if (s == "student") return SinkhornBaseKernel::student;
    throw InvalidArgument("base_kernel: unknown '" + name + "' (expected gaussian or student)");
}

SinkhornAffinity::SinkhornAffinity(SinkhornAffinityOptions o) : options_(o) {
    torchdr_detail::require_positive(o.eps, "eps");
    torchdr_detail::require_positive(o.tol, "tol");
    require(o.max_iter >= 1, "max_iter must be >= 1, got " + std::to_string(o.max_iter));
    torchdr_detail::require_threads(o.n_threads);
}

template <typename T>
Matrix<double> SinkhornAffinity::log_affinity(MatrixView<T> X, std::span<const double> init_dual) {
    const SinkhornAffinityOptions& o = options_;
    const std::size_t n = X.rows;
    Matrix<double> logK = dense_cost(X, o.metric, o.zero_diag, o.n_threads);
    const double inf = std::numeric_limits<double>::infinity();
    parallel_for(o.n_threads, n, [&](std::size_t i) {
        double* r = logK.row(i);
        for (std::size_t j = 0; j < n; ++j) {
            double c = r[j];
            if (c == inf) {
                r[j] = -inf;
                continue;
            }
            if (o.base_kernel == SinkhornBaseKernel::student) {
                require_lazy(c > -1.0, [&] {
                    return std::string("SinkhornAffinity: the Student kernel needs costs > -1 (metric angular?)");
                });
                c = std::log1p(c);
            }
            r[j] = -c / o.eps;
        }
    });
    if (init_dual.empty()) {
        dual_.assign(n, 0.0);
    } else {
        require(init_dual.size() == n, "init_dual must hold one value per point (" + std::to_string(n) + "), got " +
                                           std::to_string(init_dual.size()));
        dual_.assign(init_dual.begin(), init_dual.end());
    }
    std::vector<double> red(n);
    n_iter_ = 0;
    for (int it = 0; it < o.max_iter; ++it) {
        if (interrupt_requested()) throw Interrupted("SinkhornAffinity interrupted");
        // log K is symmetric, so TorchDR's logsumexp over the first axis is this row's.
        parallel_for(o.n_threads, n, [&](std::size_t i) {
            const double* r = logK.row(i);
            double mx = -inf;
            for (std::size_t j = 0; j < n; ++j) mx = std::max(mx, r[j] + dual_[j]);
            double s = 0.0;
            if (mx != -inf)
                for (std::size_t j = 0; j < n; ++j) s += std::exp(r[j] + dual_[j] - mx);
            red[i] = -(mx + std::log(s));
        });
        double diff = 0.0;
        for (std::size_t i = 0; i < n; ++i) {
            dual_[i] = 0.5 * (dual_[i] + red[i]);
            require_lazy(!std::isnan(dual_[i]), [&] { return "SinkhornAffinity: NaN at iteration " + std::to_string(it); });
            diff += (dual_[i] - red[i]) * (dual_[i] - red[i]);
        }
        n_iter_ = it;
        if (std::sqrt(diff) < o.tol) break;
    }
    const double log_n = std::log(static_cast<double>(n));
    parallel_for(o.n_threads, n, [&](std::size_t i) {
        double* r = logK.row(i);
        for (std::size_t j = 0; j < n; ++j) r[j] = r[j] + dual_[i] + dual_[j] - log_n;
    });
    return logK;
}

template <typename T>
Matrix<double> SinkhornAffinity::operator()(MatrixView<T> X, std::span<const double> init_dual) {
    Matrix<double> P = log_affinity(X, init_dual);
    for (double& v : P.storage()) v = std::exp(v);
    return P;
}

template Matrix<double> SinkhornAffinity::log_affinity(MatrixView<float>, std::span<const double>);
template Matrix<double> SinkhornAffinity::log_affinity(MatrixView<double>, std::span<const double>);
template Matrix<double> SinkhornAffinity::operator()(MatrixView<float>, std::span<const double>);
template Matrix<double> SinkhornAffinity::operator()(MatrixView<double>, std::span<const double>);

} // namespace nembed
