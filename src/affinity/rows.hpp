#pragma once
// Private helpers of src/affinity: turning per-neighbour values of a kNN graph into a CSR matrix.
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/core/sparse.hpp"
#include "nembed/neighbors/knn_graph.hpp"

namespace nembed::affinity_detail {

// Bandwidth searches start at 1 and take a bounded number of doubling / bisection steps, so a row whose largest
// distance is far from 1 (data x 1e36, denormal data) searches on distances divided by this power of two (exact)
// and scales its result back; other rows keep the peers' exact sequence of steps (unit 1).
inline double search_unit(double largest) {
    if (!(largest > 0.0) || !std::isfinite(largest) || (largest <= 0x1p30 && largest >= 0x1p-30)) return 1.0;
    return std::ldexp(1.0, std::ilogb(largest));
}

// A joint (symmetric) affinity needs a self graph: square, and no row listing itself.
inline void require_self_graph(const KnnGraph& g, const char* what) {
    require(g.n_reference == g.n_points, std::string(what) + ": a joint affinity needs a self neighbour graph (" +
                                             std::to_string(g.n_points) + " points against " +
                                             std::to_string(g.n_reference) + " references)");
    for (std::size_t i = 0; i < g.n_points; ++i)
        for (std::size_t j = 0; j < g.k; ++j)
            require_lazy(static_cast<std::size_t>(g.neighbors(i)[j]) != i, [&] {
                return std::string(what) + ": row " + std::to_string(i) + " lists itself as a neighbour";
            });
}

inline void require_graph(const KnnGraph& g, const char* what) {
    g.validate(what);
    require(g.n_points >= 1 && g.k >= 1, std::string(what) + ": the neighbour graph is empty");
}

// CSR with the graph's pattern and `vals` (n_points * k, in the graph's order): columns sorted, repeated
// neighbours summed, exact zeros dropped when `drop_zeros`.
inline CsrMatrix<double> graph_to_csr(const KnnGraph& g, const std::vector<double>& vals, int n_threads,
                                      bool drop_zeros = false) {
    const std::size_t n = g.n_points, k = g.k;
    std::vector<std::pair<index_t, double>> rows(n * k);
    std::vector<offset_t> count(n + 1, 0);
    parallel_for(n_threads, n, [&](std::size_t i) {
        auto* r = rows.data() + i * k;
        for (std::size_t j = 0; j < k; ++j) r[j] = {g.neighbors(i)[j], vals[i * k + j]};
        std::sort(r, r + k, [](const auto& a, const auto& b) { return a.first < b.first; });
        std::size_t m = 0;
        for (std::size_t j = 0; j < k; ++j) {
            if (m > 0 && r[m - 1].first == r[j].first)
                r[m - 1].second += r[j].second;
            else
                r[m++] = r[j];
        }
        if (drop_zeros) m = static_cast<std::size_t>(std::remove_if(r, r + m, [](const auto& e) {
                                                          return e.second == 0.0;
                                                      }) - r);
        count[i + 1] = static_cast<offset_t>(m);
    });
    CsrMatrix<double> P;
    P.n_rows = n;
    P.n_cols = g.n_reference;
    P.indptr.assign(n + 1, 0);
    for (std::size_t i = 0; i < n; ++i) P.indptr[i + 1] = P.indptr[i] + count[i + 1];
    P.indices.resize(static_cast<std::size_t>(P.indptr[n]));
    P.values.resize(P.indices.size());
    parallel_for(n_threads, n, [&](std::size_t i) {
        const auto* r = rows.data() + i * k;
        for (offset_t p = P.indptr[i], q = 0; p < P.indptr[i + 1]; ++p, ++q) {
            P.indices[static_cast<std::size_t>(p)] = r[q].first;
            P.values[static_cast<std::size_t>(p)] = r[q].second;
        }
    });
    return P;
}

} // namespace nembed::affinity_detail
