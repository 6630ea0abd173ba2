// TorchDR's SinkhornAffinity: symmetric Sinkhorn on a stored log K (log_affinity) or on K evaluated on the fly
// (fit_dual: TSNEkhorn's output side). One loop serves both.
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

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// The diagonal cost with zero_diag: TorchDR adds 1e12 to C_ii (0 with the supported metrics but angular). With the
// Gaussian kernel exp(−1e12/ε) is 0 for any sensible ε, so the pair is left out exactly (+∞, log K = −∞); with the
// Student kernel TorchDR's K_ii = (1 + 1e12)^(−1/ε) ≈ 1e−12 is kept, for its numbers.
double diagonal_cost(const SinkhornAffinityOptions& o) {
    return o.base_kernel == SinkhornBaseKernel::student ? 1e12 : kInf;
}

// log K of one cost: −C/ε, or −log(1 + C)/ε with the Student base kernel; +∞ (the excluded diagonal) gives −∞.
double log_kernel(double c, const SinkhornAffinityOptions& o) {
    if (c == kInf) return -kInf;
    if (o.base_kernel == SinkhornBaseKernel::student) {
        require_lazy(c > -1.0, [] {
            return std::string("SinkhornAffinity: the Student kernel needs costs > -1 (metric angular?)");
        });
        c = std::log1p(c);
    }
    return -c / o.eps;
}

// −logsumexp_j(log K_ij + f_j) of one row of log K, stabilised by the row's maximum as torch's logsumexp.
double row_reduction(const double* logk, const std::vector<double>& f) {
    const std::size_t n = f.size();
    double mx = -kInf;
    for (std::size_t j = 0; j < n; ++j) mx = std::max(mx, logk[j] + f[j]);
    double s = 0.0;
    if (mx != -kInf)
        for (std::size_t j = 0; j < n; ++j) s += std::exp(logk[j] + f[j] - mx);
    return -(mx + std::log(s));
}

// The one Sinkhorn loop: f ← (f + r)/2 with r_i = reduce(buffer, i) (each row a fixed sequence of operations, so
// any thread count gives the same bits; `buffer` is the worker's scratch row of N doubles), until ‖f − r‖ < tol or
// max_iter steps; `prologue` runs before each iteration's reductions. Returns the index of the last step.
template <typename Reduce, typename Prologue = void (*)()>
int sinkhorn_loop(std::vector<double>& f, const SinkhornAffinityOptions& o, Reduce&& reduce,
                  Prologue&& prologue = [] {}) {
    const std::size_t n = f.size();
    std::vector<double> red(n);
    int last = 0;
    for (int it = 0; it < o.max_iter; ++it) {
        if (interrupt_requested()) throw Interrupted("SinkhornAffinity interrupted");
        prologue();
        // log K is symmetric, so TorchDR's logsumexp over the first axis is this row's.
        parallelize(o.n_threads, n, [&](int, std::size_t b, std::size_t e) {
            std::vector<double> buffer;
            for (std::size_t i = b; i < e; ++i) red[i] = reduce(buffer, i);
        });
        double diff = 0.0;
        for (std::size_t i = 0; i < n; ++i) {
            f[i] = 0.5 * (f[i] + red[i]);
            require_lazy(!std::isnan(f[i]), [&] { return "SinkhornAffinity: NaN at iteration " + std::to_string(it); });
            diff += (f[i] - red[i]) * (f[i] - red[i]);
        }
        last = it;
        if (std::sqrt(diff) < o.tol) break;
    }
    return last;
}

} // namespace

void SinkhornAffinity::start_dual(std::size_t n, std::span<const double> init_dual) {
    require(n >= 2, "SinkhornAffinity needs at least 2 points, got " + std::to_string(n));
    if (init_dual.empty()) {
        dual_.assign(n, 0.0);
    } else {
        require(init_dual.size() == n, "init_dual must hold one value per point (" + std::to_string(n) + "), got " +
                                           std::to_string(init_dual.size()));
        dual_.assign(init_dual.begin(), init_dual.end());
    }
}

template <typename T>
Matrix<double> SinkhornAffinity::log_affinity(MatrixView<T> X, std::span<const double> init_dual) {
    const SinkhornAffinityOptions& o = options_;
    const std::size_t n = X.rows;
    start_dual(n, init_dual);
    Matrix<double> logK = dense_cost(X, o.metric, o.zero_diag, o.n_threads);
    parallel_for(o.n_threads, n, [&](std::size_t i) {
        double* r = logK.row(i);
        if (o.zero_diag) r[i] = diagonal_cost(o);
        for (std::size_t j = 0; j < n; ++j) r[j] = log_kernel(r[j], o);
    });
    n_iter_ = sinkhorn_loop(dual_, o, [&](std::vector<double>&, std::size_t i) {
        return row_reduction(logK.row(i), dual_);
    });
    const double log_n = std::log(static_cast<double>(n));
    parallel_for(o.n_threads, n, [&](std::size_t i) {
        double* r = logK.row(i);
        for (std::size_t j = 0; j < n; ++j) r[j] = r[j] + dual_[i] + dual_[j] - log_n;
    });
    return logK;
}

template <typename T>
void SinkhornAffinity::fit_dual(MatrixView<T> X, std::span<const double> init_dual) {
    const SinkhornAffinityOptions& o = options_;
    const std::size_t n = X.rows;
    start_dual(n, init_dual);
    auto cost = [&](std::size_t i, std::size_t j) {
        return (o.zero_diag && i == j) ? diagonal_cost(o) : pair_cost(X.row(i), X.row(j), X.cols, o.metric);
    };
    if (o.base_kernel == SinkhornBaseKernel::gaussian) {
        // log K row by row into the worker's buffer, then log_affinity's reduction.
        n_iter_ = sinkhorn_loop(dual_, o, [&](std::vector<double>& buffer, std::size_t i) {
            buffer.resize(n);
            for (std::size_t j = 0; j < n; ++j) buffer[j] = log_kernel(cost(i, j), o);
            return row_reduction(buffer.data(), dual_);
        });
        return;
    }
    // Student: K_ij = (1 + C_ij)^(−1/ε) > 0 needs no exp per pair. The sum is taken in the kernel domain,
    // r_i = −(M + log Σ_j K_ij e^{f_j − M}) with M = max f (one exp per point and iteration): each term is at most
    // K_ij <= 1, and the terms cannot all underflow unless (1 + C)^(−1/ε) does. It agrees with log_affinity's
    // row-max logsumexp to rounding (tested), not bit for bit.
    std::vector<double> ef(n);
    double M = 0.0;
    const bool unit = o.eps == 1.0;  // TSNEkhorn's case: a division, no pow
    n_iter_ = sinkhorn_loop(dual_, o, [&](std::vector<double>&, std::size_t i) {
        double s = 0.0;
        for (std::size_t j = 0; j < n; ++j) {
            const double c = cost(i, j);
            require_lazy(c > -1.0, [] {
                return std::string("SinkhornAffinity: the Student kernel needs costs > -1 (metric angular?)");
            });
            s += (unit ? 1.0 / (1.0 + c) : std::pow(1.0 + c, -1.0 / o.eps)) * ef[j];
        }
        return -(M + std::log(s));
    }, [&] {
        M = *std::max_element(dual_.begin(), dual_.end());
        for (std::size_t j = 0; j < n; ++j) ef[j] = std::exp(dual_[j] - M);
    });
}

template <typename T>
Matrix<double> SinkhornAffinity::operator()(MatrixView<T> X, std::span<const double> init_dual) {
    Matrix<double> P = log_affinity(X, init_dual);
    for (double& v : P.storage()) v = std::exp(v);
    return P;
}

template Matrix<double> SinkhornAffinity::log_affinity(MatrixView<float>, std::span<const double>);
template Matrix<double> SinkhornAffinity::log_affinity(MatrixView<double>, std::span<const double>);
template void SinkhornAffinity::fit_dual(MatrixView<float>, std::span<const double>);
template void SinkhornAffinity::fit_dual(MatrixView<double>, std::span<const double>);
template Matrix<double> SinkhornAffinity::operator()(MatrixView<float>, std::span<const double>);
template Matrix<double> SinkhornAffinity::operator()(MatrixView<double>, std::span<const double>);

} // namespace nembed
