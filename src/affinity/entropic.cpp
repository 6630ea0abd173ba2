// TorchDR's EntropicAffinity on nembed's perplexity calibration.
#include "nembed/affinity/entropic.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "nembed/affinity/perplexity.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/interrupt.hpp"
#include "nembed/core/log.hpp"
#include "nembed/core/parallel.hpp"
#include "torchdr_detail.hpp"

namespace nembed {

double entropic_perplexity(std::size_t n, double perplexity) {
    torchdr_detail::require_positive(perplexity, "perplexity");
    require(n >= 4, "EntropicAffinity needs at least 4 points, got " + std::to_string(n));
    // TorchDR 0.5 passes the perplexity through check_neighbor_param with a tensor sample count, which casts it to
    // an integer and clamps it to [2, N − 2].
    const double upper = static_cast<double>(n - 2);
    const double p = std::clamp(std::floor(perplexity), 2.0, upper);
    if (p != perplexity)
        warn("EntropicAffinity: perplexity " + std::to_string(perplexity) + " becomes " + std::to_string(p) +
             " (TorchDR truncates it to an integer in [2, N - 2] for N = " + std::to_string(n) + ")");
    return p;
}

std::size_t entropic_neighbors(std::size_t n, double perplexity) {
    torchdr_detail::require_positive(perplexity, "perplexity");
    require(n >= 4, "EntropicAffinity needs at least 4 points, got " + std::to_string(n));
    const double p = std::clamp(std::floor(perplexity), 2.0, static_cast<double>(n - 2));
    return static_cast<std::size_t>(std::clamp(3.0 * p, 2.0, static_cast<double>(n - 2)));
}

EntropicAffinity::EntropicAffinity(EntropicAffinityOptions o) : options_(o) {
    torchdr_detail::require_positive(o.perplexity, "perplexity");
    require(o.max_iter >= 1, "max_iter must be >= 1, got " + std::to_string(o.max_iter));
    torchdr_detail::require_positive(o.tol, "tol");
    torchdr_detail::require_threads(o.n_threads);
}

std::vector<double> entropic_rows(const SparseCost& s, double perplexity, double row_total,
                                  const EntropicAffinityOptions& o, std::vector<double>& eps) {
    const std::size_t n = s.n, k = s.k;
    CalibrationOptions cal;
    cal.tolerance = o.tol;
    cal.max_iter = o.max_iter;
    std::vector<double> vals(n * k);
    eps.assign(n, 0.0);
    parallelize(o.n_threads, n, [&](int, std::size_t b, std::size_t e) {
        std::vector<double> c(k);
        for (std::size_t i = b; i < e; ++i) {
            if ((i - b) % 1024 == 0 && interrupt_requested()) throw Interrupted("affinities interrupted");
            const double* ci = s.row_costs(i);
            // Shifted by the row's smallest cost (ascending order: the first), which leaves the normalised row
            // unchanged and keeps its largest term at exp(0) = 1.
            for (std::size_t t = 0; t < k; ++t) c[t] = ci[t] - ci[0];
            const double tau = calibrate_precision(c, perplexity, cal);  // p ∝ exp(−c τ/2)
            eps[i] = 2.0 / tau;
            double* out = vals.data() + i * k;
            double z = 0.0;
            for (std::size_t t = 0; t < k; ++t) z += out[t] = std::exp(-c[t] * tau / 2.0);
            for (std::size_t t = 0; t < k; ++t) out[t] = out[t] / z * row_total;
        }
    });
    return vals;
}

CsrMatrix<double> EntropicAffinity::operator()(MatrixView<float> X) {
    const EntropicAffinityOptions& o = options_;
    require(X.rows >= 4, "EntropicAffinity needs at least 4 points, got " + std::to_string(X.rows));
    const std::size_t n = X.rows;
    perplexity_ = entropic_perplexity(n, o.perplexity);
    const std::size_t candidates = o.zero_diag ? n - 1 : n;
    const std::size_t k = o.sparsity ? entropic_neighbors(n, o.perplexity) : candidates;
    CostKnnOptions ko;
    ko.zero_diag = o.zero_diag;
    ko.method = o.knn_method;
    ko.hnsw_shards = o.knn_shards;
    ko.n_threads = o.n_threads;
    const SparseCost s = knn_cost(X, k, o.metric, ko);

    const std::vector<double> vals = entropic_rows(s, perplexity_, 1.0 / static_cast<double>(n), o, eps_);
    return torchdr_detail::sparse_to_csr(s, vals, o.n_threads);
}

} // namespace nembed
