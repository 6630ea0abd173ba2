#pragma once
// Private helpers of TorchDR's affinities (src/affinity): per-row values on a sparse cost into CSR, TorchDR's
// batched bisection (utils/root_search.py) for one row, and validation messages.
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "nembed/affinity/cost.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/core/sparse.hpp"

namespace nembed::torchdr_detail {

// CSR (n x n) with the pattern of `s` and `vals` (n * k in s's order); columns sorted.
inline CsrMatrix<double> sparse_to_csr(const SparseCost& s, const std::vector<double>& vals, int n_threads) {
    const std::size_t n = s.n, k = s.k;
    CsrMatrix<double> P;
    P.n_rows = n;
    P.n_cols = n;
    P.indptr.resize(n + 1);
    for (std::size_t i = 0; i <= n; ++i) P.indptr[i] = static_cast<offset_t>(i * k);
    P.indices.resize(n * k);
    P.values.resize(n * k);
    parallel_for(n_threads, n, [&](std::size_t i) {
        std::vector<std::pair<index_t, double>> r(k);
        for (std::size_t t = 0; t < k; ++t) r[t] = {s.row_indices(i)[t], vals[i * k + t]};
        std::sort(r.begin(), r.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        for (std::size_t t = 0; t < k; ++t) {
            P.indices[i * k + t] = r[t].first;
            P.values[i * k + t] = r[t].second;
        }
    });
    return P;
}

// TorchDR's binary_search for one increasing function f on (0, ∞): bracket from [begin, end] by halving begin
// while f(begin) > 0 and doubling end while f(end) < 0 (each at most max_iter times), then bisect until
// |f(mid)| < tol or max_iter steps; returns the last midpoint.
template <typename F>
double torchdr_binary_search(F&& f, double begin, double end, int max_iter, double tol = 1e-6) {
    double b = begin, e = end;
    for (int it = 0; it < max_iter && f(b) > 0; ++it) {
        e = std::min(e, b);
        b *= 0.5;
    }
    for (int it = 0; it < max_iter && f(e) < 0; ++it) {
        b = std::max(b, e);
        e *= 2.0;
    }
    double f_b = f(b);
    double m = (b + e) * 0.5;
    double f_m = f(m);
    for (int it = 0; it < max_iter; ++it) {
        if (!(std::abs(f_m) >= tol)) break;
        if (f_m * f_b > 0) {
            b = m;
            f_b = f_m;
        } else {
            e = m;
        }
        m = (b + e) * 0.5;
        f_m = f(m);
    }
    return m;
}

inline void require_positive(double v, const char* name) {
    require(std::isfinite(v) && v > 0.0, std::string(name) + " must be a positive number, got " + std::to_string(v));
}

inline void require_threads(int n_threads) { require(n_threads >= 1, "n_threads must be >= 1"); }

} // namespace nembed::torchdr_detail
