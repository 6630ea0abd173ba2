// openTSNE's perplexity calibration, used by methods/tsne.cpp. Private to the t-SNE method (nembed::tsne_detail);
// the public affinity module (affinity/) is the general home of these kernels.
#include "tsne_affinities.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "nembed/core/error.hpp"
#include "nembed/core/log.hpp"
#include "nembed/core/parallel.hpp"

namespace nembed::tsne_detail {
namespace {

// Precision τ of one row so that the entropy of p_j ∝ exp(−(d_j² − d_0²)τ/2) is log(perplexity): start at 1,
// double/halve until bracketed, then bisect; |H − target| < 1e-8 or 200 steps (openTSNE). d2 shifted by d_0².
double calibrate(const double* d2, std::size_t k, double perplexity) {
    const double target = std::log(perplexity);
    double tau = 1.0, lo = -std::numeric_limits<double>::infinity(), hi = std::numeric_limits<double>::infinity();
    for (int it = 0; it < 200; ++it) {
        double z = 0.0, s = 0.0;
        for (std::size_t j = 0; j < k; ++j) {
            const double e = std::exp(-d2[j] * tau / 2.0);
            z += e;
            s += e * d2[j];
        }
        const double H = tau / 2.0 * s / z + std::log(z);
        if (std::abs(H - target) < 1e-8) break;
        if (H > target) {  // too flat: raise the precision
            lo = tau;
            tau = std::isinf(hi) ? tau * 2.0 : (lo + hi) / 2.0;
        } else {
            hi = tau;
            tau = std::isinf(lo) ? tau / 2.0 : (lo + hi) / 2.0;
        }
    }
    return tau;
}

// Row i of the (multi-scale) conditional P, written to out[0..k).
void conditional_row(const float* dist, std::size_t k, const std::vector<double>& perplexities, double* out,
                     std::vector<double>& d2) {
    d2.resize(k);
    const double d0 = static_cast<double>(dist[0]) * dist[0];
    for (std::size_t j = 0; j < k; ++j) d2[j] = static_cast<double>(dist[j]) * dist[j] - d0;
    std::fill(out, out + k, 0.0);
    if (perplexities.size() == 1) {
        const double tau = calibrate(d2.data(), k, perplexities[0]);
        for (std::size_t j = 0; j < k; ++j) out[j] = std::exp(-d2[j] * tau / 2.0);
    } else {
        // Mixture Σ_h √τ_h exp(−d²τ_h/2) (Lee et al.), each τ_h calibrated from a fresh bracket (openTSNE bug #1).
        std::vector<double> tau(perplexities.size()), a(perplexities.size());
        double amax = -std::numeric_limits<double>::infinity();
        for (std::size_t h = 0; h < perplexities.size(); ++h) {
            tau[h] = calibrate(d2.data(), k, perplexities[h]);
            a[h] = 0.5 * std::log(tau[h]) - d0 * tau[h] / 2.0;
            amax = std::max(amax, a[h]);
        }
        for (std::size_t h = 0; h < perplexities.size(); ++h)
            for (std::size_t j = 0; j < k; ++j) out[j] += std::exp(a[h] - amax - d2[j] * tau[h] / 2.0);
    }
    double z = 0.0;
    for (std::size_t j = 0; j < k; ++j) z += out[j];
    for (std::size_t j = 0; j < k; ++j) out[j] /= z;
}

CsrMatrix<double> conditional(const KnnGraph& g, const std::vector<double>& perplexities, int n_threads) {
    g.validate("t-SNE neighbours");
    require(g.k >= 1, "t-SNE affinities need at least one neighbour per point");
    for (double p : perplexities) require(std::isfinite(p) && p > 0.0, "perplexity must be positive");
    std::vector<double> vals(g.n_points * g.k);
    parallelize(n_threads, g.n_points, [&](int, std::size_t b, std::size_t e) {
        std::vector<double> d2;
        for (std::size_t i = b; i < e; ++i) conditional_row(g.dists(i), g.k, perplexities, vals.data() + i * g.k, d2);
    });
    std::vector<Triplet<double>> t;
    t.reserve(vals.size());
    for (std::size_t i = 0; i < g.n_points; ++i)
        for (std::size_t j = 0; j < g.k; ++j) t.push_back({static_cast<index_t>(i), g.neighbors(i)[j], vals[i * g.k + j]});
    return csr_from_triplets(g.n_points, g.n_reference, std::move(t));
}

} // namespace

std::size_t neighbors_for(std::size_t n, double perplexity) {
    return std::min<std::size_t>(n - 1, static_cast<std::size_t>(std::floor(3.0 * perplexity)));
}

double clamp_perplexity(std::size_t n, double perplexity) {
    const double cap = static_cast<double>(n - 1) / 3.0;
    if (perplexity > cap) {
        warn("perplexity " + std::to_string(perplexity) + " is too large for " + std::to_string(n) +
             " points; using " + std::to_string(cap));
        return cap;
    }
    return perplexity;
}

CsrMatrix<double> joint_affinities(const KnnGraph& g, const std::vector<double>& perplexities, int n_threads) {
    require(g.n_reference == g.n_points, "t-SNE affinities need a self neighbour graph");
    CsrMatrix<double> P = conditional(g, perplexities, n_threads);
    CsrMatrix<double> T = transpose(P);
    std::vector<Triplet<double>> t;
    t.reserve(2 * P.nnz());
    const double scale = 1.0 / (2.0 * static_cast<double>(g.n_points));
    for (const CsrMatrix<double>* m : {&P, &T})
        for (std::size_t i = 0; i < m->n_rows; ++i)
            for (offset_t p = m->indptr[i]; p < m->indptr[i + 1]; ++p)
                t.push_back({static_cast<index_t>(i), m->indices[p], m->values[p] * scale});
    return csr_from_triplets(P.n_rows, P.n_cols, std::move(t));  // (P + Pᵀ) / 2N: symmetric, sums to 1
}

CsrMatrix<double> conditional_affinities(const KnnGraph& g, double perplexity, int n_threads) {
    return conditional(g, {perplexity}, n_threads);
}

} // namespace nembed::tsne_detail
