// TorchDR's NormalizedGaussian / NormalizedStudent / SelfTuning / MAGIC affinities: dense kernels of the cost with
// one log-domain normalisation.
#include "nembed/affinity/normalized.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "nembed/affinity/self_tuning.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/core/strings.hpp"
#include "torchdr_detail.hpp"

namespace nembed {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();

// log Σ exp over a strided run of values; −∞ when all are −∞.
double log_sum_exp(const double* v, std::size_t n, std::size_t stride) {
    double mx = -kInf;
    for (std::size_t t = 0; t < n; ++t) mx = std::max(mx, v[t * stride]);
    if (mx == -kInf || !std::isfinite(mx)) return mx;
    double s = 0.0;
    for (std::size_t t = 0; t < n; ++t) s += std::exp(v[t * stride] - mx);
    return mx + std::log(s);
}
} // namespace

NormalizationDim parse_normalization_dim(const std::string& name) {
    std::string s;
    for (char c : to_lower(name))
        if (c != ' ' && c != '(' && c != ')' && c != '[' && c != ']') s += c;
    if (s == "none" || s.empty()) return NormalizationDim::none;
    if (s == "0") return NormalizationDim::dim0;
    if (s == "1") return NormalizationDim::dim1;
    if (s == "0,1" || s == "1,0" || s == "both") return NormalizationDim::both;
    throw InvalidArgument("normalization_dim: unknown '" + name + "' (expected None, 0, 1 or (0, 1))");
}

void torchdr_detail::normalize_log_affinity(Matrix<double>& A, NormalizationDim dim, bool subtract_log_n, bool log,
                                            int n_threads) {
    const std::size_t n = A.rows(), m = A.cols();
    const double log_n = subtract_log_n ? std::log(static_cast<double>(n)) : 0.0;
    switch (dim) {
        case NormalizationDim::none: break;
        case NormalizationDim::dim1:
            parallel_for(n_threads, n, [&](std::size_t i) {
                const double z = log_sum_exp(A.row(i), m, 1) + log_n;
                for (std::size_t j = 0; j < m; ++j) A(i, j) -= z;
            });
            break;
        case NormalizationDim::dim0: {
            std::vector<double> z(m);
            parallel_for(n_threads, m, [&](std::size_t j) { z[j] = log_sum_exp(A.data() + j, n, m) + log_n; });
            parallel_for(n_threads, n, [&](std::size_t i) {
                for (std::size_t j = 0; j < m; ++j) A(i, j) -= z[j];
            });
            break;
        }
        case NormalizationDim::both: {
            // Rows first, then their log-sums in row order: the same bits for any thread count.
            std::vector<double> r(n);
            parallel_for(n_threads, n, [&](std::size_t i) { r[i] = log_sum_exp(A.row(i), m, 1); });
            const double z = log_sum_exp(r.data(), n, 1);
            parallel_for(n_threads, n, [&](std::size_t i) {
                for (std::size_t j = 0; j < m; ++j) A(i, j) -= z;
            });
            break;
        }
    }
    if (!log)
        parallel_for(n_threads, n, [&](std::size_t i) {
            for (std::size_t j = 0; j < m; ++j) A(i, j) = std::exp(A(i, j));
        });
}

namespace {
// log A = f(C) off the diagonal marked +∞ (zero_diag), −∞ there.
template <typename F>
void map_cost(Matrix<double>& C, int n_threads, F&& f) {
    parallel_for(n_threads, C.rows(), [&](std::size_t i) {
        for (std::size_t j = 0; j < C.cols(); ++j) C(i, j) = C(i, j) == kInf ? -kInf : f(i, j, C(i, j));
    });
}
} // namespace

template <typename T>
Matrix<double> normalized_gaussian_affinity(MatrixView<T> X, const NormalizedGaussianAffinityOptions& o, bool log) {
    torchdr_detail::require_positive(o.sigma, "sigma");
    torchdr_detail::require_threads(o.n_threads);
    Matrix<double> A = dense_cost(X, o.metric, o.zero_diag, o.n_threads);
    map_cost(A, o.n_threads, [&](std::size_t, std::size_t, double c) { return -c / o.sigma; });
    torchdr_detail::normalize_log_affinity(A, o.normalization_dim, true, log, o.n_threads);
    return A;
}

template <typename T>
Matrix<double> normalized_student_affinity(MatrixView<T> X, const NormalizedStudentAffinityOptions& o, bool log) {
    torchdr_detail::require_positive(o.degrees_of_freedom, "degrees_of_freedom");
    torchdr_detail::require_threads(o.n_threads);
    const double nu = o.degrees_of_freedom;
    Matrix<double> A = dense_cost(X, o.metric, o.zero_diag, o.n_threads);
    map_cost(A, o.n_threads, [&](std::size_t, std::size_t, double c) {
        return -0.5 * (nu + 1.0) * std::log(c / nu + 1.0);
    });
    torchdr_detail::normalize_log_affinity(A, o.normalization_dim, true, log, o.n_threads);
    return A;
}

std::vector<double> kth_smallest_cost(const Matrix<double>& C, int K, bool zero_diag, int n_threads) {
    const std::size_t n = C.rows();
    const std::size_t candidates = zero_diag ? n - 1 : n;
    require(K >= 1 && static_cast<std::size_t>(K) <= candidates,
            "K must lie in [1, " + std::to_string(candidates) + "] for " + std::to_string(n) + " points, got " +
                std::to_string(K));
    std::vector<double> sigma(n);
    parallel_for(n_threads, n, [&](std::size_t i) {
        std::vector<double> r(C.row(i), C.row(i) + C.cols());
        std::nth_element(r.begin(), r.begin() + (K - 1), r.end());  // the +∞ diagonal sorts last
        sigma[i] = r[static_cast<std::size_t>(K - 1)];
    });
    return sigma;
}

template <typename T>
Matrix<double> self_tuning_affinity(MatrixView<T> X, const SelfTuningAffinityOptions& o, bool log) {
    torchdr_detail::require_threads(o.n_threads);
    require(o.K >= 1, "K must be >= 1, got " + std::to_string(o.K));
    Matrix<double> A = dense_cost(X, o.metric, o.zero_diag, o.n_threads);
    const std::vector<double> sigma = kth_smallest_cost(A, o.K, o.zero_diag, o.n_threads);
    map_cost(A, o.n_threads, [&](std::size_t i, std::size_t j, double c) { return -c / (sigma[i] * sigma[j]); });
    torchdr_detail::normalize_log_affinity(A, o.normalization_dim, false, log, o.n_threads);
    return A;
}

template <typename T>
Matrix<double> magic_affinity(MatrixView<T> X, const MAGICAffinityOptions& o) {
    torchdr_detail::require_threads(o.n_threads);
    require(o.K >= 1, "K must be >= 1, got " + std::to_string(o.K));
    Matrix<double> A = dense_cost(X, o.metric, o.zero_diag, o.n_threads);
    const std::vector<double> sigma = kth_smallest_cost(A, o.K, o.zero_diag, o.n_threads);
    map_cost(A, o.n_threads, [&](std::size_t i, std::size_t, double c) { return std::exp(-c / sigma[i]); });
    parallel_for(o.n_threads, A.rows(), [&](std::size_t i) {  // −∞ from map_cost on the diagonal → 0
        for (std::size_t j = 0; j < A.cols(); ++j)
            if (A(i, j) == -kInf) A(i, j) = 0.0;
    });
    const std::size_t n = A.rows();
    Matrix<double> S(n, n);
    parallel_for(o.n_threads, n, [&](std::size_t i) {
        double z = 0.0;
        for (std::size_t j = 0; j < n; ++j) z += S(i, j) = (A(i, j) + A(j, i)) / 2.0;
        for (std::size_t j = 0; j < n; ++j) S(i, j) /= z;
    });
    return S;
}

#define NEMBED_INSTANTIATE(T)                                                                                      \
    template Matrix<double> normalized_gaussian_affinity(MatrixView<T>, const NormalizedGaussianAffinityOptions&, \
                                                         bool);                                                   \
    template Matrix<double> normalized_student_affinity(MatrixView<T>, const NormalizedStudentAffinityOptions&,   \
                                                        bool);                                                    \
    template Matrix<double> self_tuning_affinity(MatrixView<T>, const SelfTuningAffinityOptions&, bool);          \
    template Matrix<double> magic_affinity(MatrixView<T>, const MAGICAffinityOptions&);
NEMBED_INSTANTIATE(float)
NEMBED_INSTANTIATE(double)
#undef NEMBED_INSTANTIATE

} // namespace nembed
