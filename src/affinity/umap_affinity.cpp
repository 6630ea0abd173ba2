// TorchDR's UMAPAffinity: per-row σ by TorchDR's bisection on the kNN costs, then the fuzzy union.
#include "nembed/affinity/umap_affinity.hpp"

#include <cmath>
#include <string>

#include "nembed/affinity/symmetrize.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/interrupt.hpp"
#include "nembed/core/parallel.hpp"
#include "torchdr_detail.hpp"

namespace nembed {

UMAPAffinity::UMAPAffinity(UMAPAffinityOptions o) : options_(o) {
    require(o.max_iter >= 1, "max_iter must be >= 1, got " + std::to_string(o.max_iter));
    require(o.n_neighbors >= 2, "n_neighbors must be >= 2, got " + std::to_string(o.n_neighbors));
    torchdr_detail::require_threads(o.n_threads);
}

std::vector<double> umap_affinity_rows(const SparseCost& s, int n_neighbors, int max_iter, int n_threads,
                                       std::vector<double>& rho_out, std::vector<double>& eps_out) {
    const std::size_t n = s.n, k = s.k;
    const double target = std::log2(static_cast<double>(n_neighbors));

    rho_out.assign(n, 0.0);
    eps_out.assign(n, 0.0);
    std::vector<double> vals(n * k);
    parallelize(n_threads, n, [&](int, std::size_t b, std::size_t e) {
        for (std::size_t i = b; i < e; ++i) {
            if ((i - b) % 1024 == 0 && interrupt_requested()) throw Interrupted("affinities interrupted");
            const double* c = s.row_costs(i);
            const double rho = c[0];  // ascending
            auto gap = [&](double sigma) {
                double m = 0.0;
                for (std::size_t t = 0; t < k; ++t) m += std::exp(-(c[t] - rho) / sigma);
                return m - target;
            };
            const double sigma = torchdr_detail::torchdr_binary_search(gap, 1.0, 1.0, max_iter);
            rho_out[i] = rho;
            eps_out[i] = sigma;
            for (std::size_t t = 0; t < k; ++t) vals[i * k + t] = std::exp(-(c[t] - rho) / sigma);
        }
    });
    return vals;
}

CsrMatrix<double> UMAPAffinity::operator()(MatrixView<float> X) {
    const UMAPAffinityOptions& o = options_;
    const std::size_t n = X.rows;
    require(n >= 4, "UMAPAffinity needs at least 4 points, got " + std::to_string(n));
    require(static_cast<std::size_t>(o.n_neighbors) < n - 1,
            "n_neighbors must lie in (1, N - 1) = (1, " + std::to_string(n - 1) + "), got " +
                std::to_string(o.n_neighbors));
    const std::size_t candidates = o.zero_diag ? n - 1 : n;
    const std::size_t k = o.sparsity ? static_cast<std::size_t>(o.n_neighbors - 1) : candidates;
    CostKnnOptions ko;
    ko.zero_diag = o.zero_diag;
    ko.method = o.knn_method;
    ko.hnsw_shards = o.knn_shards;
    ko.n_threads = o.n_threads;
    const SparseCost s = knn_cost(X, k, o.metric, ko);
    const std::vector<double> vals = umap_affinity_rows(s, o.n_neighbors, o.max_iter, o.n_threads, rho_, eps_);
    CsrMatrix<double> P = torchdr_detail::sparse_to_csr(s, vals, o.n_threads);
    if (!o.symmetrize) return P;
    return symmetrize(P, Symmetrization::fuzzy_union, o.n_threads);
}

} // namespace nembed
