// UMAP's fuzzy simplicial set, following umap-learn's smooth_knn_dist and compute_membership_strengths line by
// line (constants SMOOTH_K_TOLERANCE = 1e-5 via options.tolerance, MIN_K_DIST_SCALE = 1e-3).
#include "nembed/affinity/fuzzy.hpp"

#include <cmath>
#include <limits>
#include <string>

#include "nembed/affinity/symmetrize.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "rows.hpp"

namespace nembed {
namespace {

constexpr double kMinKDistScale = 1e-3;
constexpr double kSmoothKTolerance = 1e-5;  // umap-learn's tolerance for the fractional part of local_connectivity

void check(const FuzzyOptions& o) {
    require(std::isfinite(o.local_connectivity) && o.local_connectivity >= 0.0,
            "local_connectivity must be >= 0, got " + std::to_string(o.local_connectivity));
    require(std::isfinite(o.bandwidth) && o.bandwidth > 0.0, "bandwidth must be > 0, got " + std::to_string(o.bandwidth));
    require(std::isfinite(o.set_op_mix_ratio) && o.set_op_mix_ratio >= 0.0 && o.set_op_mix_ratio <= 1.0,
            "set_op_mix_ratio must lie in [0, 1], got " + std::to_string(o.set_op_mix_ratio));
    require(o.max_iter >= 1, "fuzzy set: max_iter must be >= 1");
    require(std::isfinite(o.tolerance) && o.tolerance > 0.0, "fuzzy set: tolerance must be > 0");
}

} // namespace

FuzzyCalibration smooth_knn_distances(const KnnGraph& g, const FuzzyOptions& o) {
    check(o);
    affinity_detail::require_graph(g, "fuzzy simplicial set");
    const std::size_t n = g.n_points, k = g.k;
    // umap-learn's list length (with the self entry when it is implicit) and where its bisection sum starts.
    const std::size_t list_len = o.self_in_count ? k + 1 : k;
    const std::size_t sum_from = o.self_in_count ? 0 : 1;
    require(list_len >= 2, "fuzzy simplicial set: needs at least 2 neighbours per point (n_neighbors >= 2)");
    const double target = std::log2(static_cast<double>(list_len)) * o.bandwidth;
    double global_mean = fixed_block_sum(o.n_threads, g.distances.size(), [&](std::size_t b, std::size_t e) {
        double s = 0.0;
        for (std::size_t p = b; p < e; ++p) s += g.distances[p];
        return s;
    });
    global_mean /= static_cast<double>(n * list_len);

    FuzzyCalibration c;
    c.rho.assign(n, 0.0);
    c.sigma.assign(n, 0.0);
    parallel_for(o.n_threads, n, [&](std::size_t i) {
        const float* d = g.dists(i);
        // non-zero distances in ascending order (the self entry is 0 and never among them)
        std::size_t first_nz = 0;
        while (first_nz < k && d[first_nz] <= 0.0f) ++first_nz;
        const std::size_t n_nz = k - first_nz;
        const float* nz = d + first_nz;
        double rho = 0.0;
        if (static_cast<double>(n_nz) >= o.local_connectivity) {
            const std::size_t index = static_cast<std::size_t>(std::floor(o.local_connectivity));
            const double interpolation = o.local_connectivity - static_cast<double>(index);
            if (index > 0) {
                rho = nz[index - 1];
                if (interpolation > kSmoothKTolerance && index < n_nz)
                    rho += interpolation * (static_cast<double>(nz[index]) - nz[index - 1]);
            } else {
                rho = interpolation * static_cast<double>(nz[0]);
            }
        } else if (n_nz > 0) {
            rho = nz[n_nz - 1];
        }
        // umap-learn's search (sigma from 1, max_iter = 64 steps) on distances in units of search_unit
        const double unit = affinity_detail::search_unit(static_cast<double>(d[k - 1]));
        double lo = 0.0, hi = std::numeric_limits<double>::infinity(), mid = 1.0;
        for (int it = 0; it < o.max_iter; ++it) {
            double psum = 0.0;
            for (std::size_t j = sum_from; j < k; ++j) {
                const double r = static_cast<double>(d[j]) - rho;
                psum += r > 0.0 ? std::exp(-(r / (mid * unit))) : 1.0;
            }
            if (std::fabs(psum - target) < o.tolerance) break;
            if (psum > target) {
                hi = mid;
                mid = (lo + hi) / 2.0;
            } else {
                lo = mid;
                mid = std::isinf(hi) ? mid * 2.0 : (lo + hi) / 2.0;
            }
        }
        double row_mean = 0.0;
        for (std::size_t j = 0; j < k; ++j) row_mean += d[j];
        row_mean /= static_cast<double>(list_len);
        const double floor = kMinKDistScale * (rho > 0.0 ? row_mean : global_mean);
        c.rho[i] = rho;
        mid *= unit;
        c.sigma[i] = mid < floor ? floor : mid;
    });
    return c;
}

CsrMatrix<double> fuzzy_memberships(const KnnGraph& g, const FuzzyCalibration& c, int n_threads) {
    affinity_detail::require_graph(g, "fuzzy simplicial set");
    require(c.rho.size() == g.n_points && c.sigma.size() == g.n_points,
            "fuzzy memberships: rho and sigma must hold one value per point");
    std::vector<double> vals(g.n_points * g.k);
    const bool self_graph = g.n_reference == g.n_points;
    parallel_for(n_threads, g.n_points, [&](std::size_t i) {
        for (std::size_t j = 0; j < g.k; ++j) {
            const double d = g.dists(i)[j];
            double v;
            if (self_graph && static_cast<std::size_t>(g.neighbors(i)[j]) == i)
                v = 0.0;
            else if (d - c.rho[i] <= 0.0 || c.sigma[i] == 0.0)
                v = 1.0;
            else
                v = std::exp(-((d - c.rho[i]) / c.sigma[i]));
            vals[i * g.k + j] = v;
        }
    });
    return affinity_detail::graph_to_csr(g, vals, n_threads, /*drop_zeros=*/true);
}

CsrMatrix<double> fuzzy_simplicial_set(const KnnGraph& g, const FuzzyOptions& o, FuzzyCalibration* out) {
    FuzzyCalibration c = smooth_knn_distances(g, o);
    require(g.n_reference == g.n_points, "fuzzy simplicial set: needs a self neighbour graph");
    CsrMatrix<double> A = fuzzy_memberships(g, c, o.n_threads);
    CsrMatrix<double> P = fuzzy_combine(A, o.set_op_mix_ratio, o.n_threads);
    if (out) *out = std::move(c);
    return P;
}

} // namespace nembed
