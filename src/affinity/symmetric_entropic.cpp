// TorchDR's SymmetricEntropicAffinity: dual ascent on (ε, μ) with nembed's optimizers.
#include "nembed/affinity/symmetric_entropic.hpp"

#include <cmath>
#include <limits>
#include <string>

#include "nembed/core/error.hpp"
#include "nembed/core/interrupt.hpp"
#include "nembed/core/parallel.hpp"
#include "torchdr_detail.hpp"

namespace nembed {

SymmetricEntropicAffinity::SymmetricEntropicAffinity(SymmetricEntropicAffinityOptions o) : options_(o) {
    torchdr_detail::require_positive(o.perplexity, "perplexity");
    torchdr_detail::require_positive(o.lr, "lr");
    torchdr_detail::require_positive(o.tol, "tol");
    require(o.max_iter >= 1, "max_iter must be >= 1, got " + std::to_string(o.max_iter));
    require(o.optimizer == OptimizerOptions::Kind::adam || o.optimizer == OptimizerOptions::Kind::sgd,
            "optimizer: SymmetricEntropicAffinity supports Adam and SGD");
    torchdr_detail::require_threads(o.n_threads);
}

template <typename T>
Matrix<double> SymmetricEntropicAffinity::operator()(MatrixView<T> X, bool log) {
    const SymmetricEntropicAffinityOptions& o = options_;
    const std::size_t n = X.rows;
    require(n >= 3, "SymmetricEntropicAffinity needs at least 3 points, got " + std::to_string(n));
    require(o.perplexity > 1.0 && o.perplexity < static_cast<double>(n - 1),
            "perplexity must lie in (1, N - 1) = (1, " + std::to_string(n - 1) + "), got " +
                std::to_string(o.perplexity));
    const Matrix<double> C = dense_cost(X, o.metric, o.zero_diag, o.n_threads);
    const double target = std::log(o.perplexity) + 1.0;

    // params = [ε (n), μ (n)]: torch's Adam is elementwise, so one block of 2n equals its two parameter tensors.
    std::vector<double> params(2 * n, 1.0), grad(2 * n), H(n), psum(n), out;
    OptimizerOptions oo;
    oo.kind = o.optimizer;
    auto opt = make_optimizer(oo);
    const double inf = std::numeric_limits<double>::infinity();

    // log P_ij with ε already squared when eps_square; the diagonal (C = +∞) gives −∞.
    auto log_p = [&](std::size_t i, std::size_t j, const double* e) {
        if (C(i, j) == inf) return -inf;
        return (params[n + i] + params[n + j] - 2.0 * C(i, j)) / (e[i] + e[j]);
    };
    std::vector<double> e_eff(n);
    auto effective_eps = [&] {
        for (std::size_t i = 0; i < n; ++i) e_eff[i] = o.eps_square ? params[i] * params[i] : params[i];
    };

    n_iter_ = 0;
    for (int it = 0; it < o.max_iter; ++it) {
        if (interrupt_requested()) throw Interrupted("SymmetricEntropicAffinity interrupted");
        effective_eps();
        parallel_for(o.n_threads, n, [&](std::size_t i) {
            double h = 0.0, mx = -inf;
            for (std::size_t j = 0; j < n; ++j) {
                const double l = log_p(i, j, e_eff.data());
                if (l == -inf) continue;
                h -= std::exp(l) * (l - 1.0);
                mx = std::max(mx, l);
            }
            double s = 0.0;
            for (std::size_t j = 0; j < n; ++j) {
                const double l = log_p(i, j, e_eff.data());
                if (l != -inf) s += std::exp(l - mx);
            }
            H[i] = h;
            psum[i] = std::exp(mx) * s;  // exp(logsumexp), as TorchDR
        });
        double ne = 0.0, nm = 0.0;
        for (std::size_t i = 0; i < n; ++i) {
            double ge = H[i] - target;
            if (o.eps_square) ge = 2.0 * params[i] * ge;  // the Jacobian of ε ↦ ε²
            grad[i] = ge;
            grad[n + i] = psum[i] - 1.0;
            ne += ge * ge;
            nm += grad[n + i] * grad[n + i];
        }
        // TorchDR returns the matrix of this step's duals (computed before the optimizer moves them).
        out.assign(params.begin(), params.end());
        opt->step(params.data(), grad.data(), 2 * n, o.lr, 1);
        if (!o.eps_square)
            for (std::size_t i = 0; i < n; ++i) params[i] = std::max(params[i], 0.0);
        for (double v : params)
            require(!std::isnan(v), "SymmetricEntropicAffinity: NaN in the dual variables at step " +
                                        std::to_string(it) + "; consider decreasing lr");
        n_iter_ = it;
        if (std::sqrt(ne) < o.tol && std::sqrt(nm) < o.tol) break;
    }
    params = out;
    eps_.assign(params.begin(), params.begin() + static_cast<std::ptrdiff_t>(n));
    mu_.assign(params.begin() + static_cast<std::ptrdiff_t>(n), params.end());

    effective_eps();
    Matrix<double> P(n, n);
    const double log_n = std::log(static_cast<double>(n));
    parallel_for(o.n_threads, n, [&](std::size_t i) {
        for (std::size_t j = 0; j < n; ++j) {
            const double l = log_p(i, j, e_eff.data()) - log_n;
            P(i, j) = log ? l : std::exp(l);
        }
    });
    return P;
}

template Matrix<double> SymmetricEntropicAffinity::operator()(MatrixView<float>, bool);
template Matrix<double> SymmetricEntropicAffinity::operator()(MatrixView<double>, bool);

} // namespace nembed
