// Perplexity calibration (openTSNE), multiscale affinities and fixed-σ Gaussians: all Gaussian kernels on the
// kNN distances, sharing one bisection and one row builder.
#include "nembed/affinity/perplexity.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "nembed/affinity/fixed_sigma.hpp"
#include "nembed/affinity/multiscale.hpp"
#include "nembed/affinity/symmetrize.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/interrupt.hpp"
#include "nembed/core/log.hpp"
#include "nembed/core/parallel.hpp"
#include "rows.hpp"

namespace nembed {
namespace {

void check_perplexity(double perplexity) {
    require(std::isfinite(perplexity) && perplexity > 0.0,
            "perplexity must be a positive number, got " + std::to_string(perplexity));
}

void check_calibration(const CalibrationOptions& o) {
    require(std::isfinite(o.tolerance) && o.tolerance > 0.0, "calibration tolerance must be > 0");
    require(o.max_iter >= 1, "calibration max_iter must be >= 1");
}

// Squared distances of row i shifted by the smallest one (the normalised rows do not change, and the first term
// is exp(0) = 1 so no row can underflow to 0/0). Returns the shift d_0².
double shifted_sq(const KnnGraph& g, std::size_t i, std::vector<double>& d2) {
    d2.resize(g.k);
    const float* d = g.dists(i);
    const double d0 = static_cast<double>(d[0]) * d[0];
    for (std::size_t j = 0; j < g.k; ++j) d2[j] = static_cast<double>(d[j]) * d[j] - d0;
    return d0;
}

void normalize(double* out, std::size_t k) {
    double z = 0.0;
    for (std::size_t j = 0; j < k; ++j) z += out[j];
    for (std::size_t j = 0; j < k; ++j) out[j] /= z;
}

// Conditional rows of a Gaussian family: row_fn(i, d2 (shifted), d0², out) fills out[0..k).
template <typename RowFn>
CsrMatrix<double> gaussian_rows(const KnnGraph& g, bool symmetrize_joint, int n_threads, const char* what,
                                RowFn row_fn) {
    affinity_detail::require_graph(g, what);
    if (symmetrize_joint) affinity_detail::require_self_graph(g, what);
    std::vector<double> vals(g.n_points * g.k);
    parallelize(n_threads, g.n_points, [&](int, std::size_t b, std::size_t e) {
        std::vector<double> d2;
        for (std::size_t i = b; i < e; ++i) {
            // Ctrl-C: a few thousand rows take well under 100 ms.
            if ((i - b) % 1024 == 0 && interrupt_requested()) throw Interrupted("affinities interrupted");
            const double d0 = shifted_sq(g, i, d2);
            double* out = vals.data() + i * g.k;
            row_fn(i, d2, d0, out);
            normalize(out, g.k);
        }
    });
    CsrMatrix<double> P = affinity_detail::graph_to_csr(g, vals, n_threads);
    if (!symmetrize_joint) return P;
    CsrMatrix<double> J = symmetrize(P, Symmetrization::mean, n_threads);
    normalize_total(J, what);  // rows summed to 1, so this is (P + Pᵀ)/2N
    return J;
}

} // namespace

std::size_t perplexity_neighbors(std::size_t n, double perplexity) {
    check_perplexity(perplexity);
    require(n >= 2, "perplexity-based affinities need at least 2 points, got " + std::to_string(n));
    return std::max<std::size_t>(1, std::min<std::size_t>(n - 1, static_cast<std::size_t>(std::floor(3.0 * perplexity))));
}

double clamp_perplexity(std::size_t n, double perplexity) {
    check_perplexity(perplexity);
    require(n >= 2, "perplexity-based affinities need at least 2 points, got " + std::to_string(n));
    const double cap = static_cast<double>(n - 1) / 3.0;
    if (perplexity > cap) {
        warn("perplexity " + std::to_string(perplexity) + " is too large for " + std::to_string(n) +
             " points; using " + std::to_string(cap) + " = (N - 1)/3");
        return cap;
    }
    return perplexity;
}

namespace {
double calibrate_from_one(std::span<const double> d2, double perplexity, const CalibrationOptions& o) {
    // Entropy of p_j ∝ exp(−d_j² τ/2) is H = τ/2 · E_p[d²] + log Z; it falls as τ grows, with
    // dH/d log τ = −(τ/2)² Var_p[d²]. openTSNE brackets the root by doubling or halving τ from 1 and bisects; here
    // each step is a Newton step in log τ, kept inside the bracket known so far (and replaced by openTSNE's own
    // step when it would leave it). The stopping rule is openTSNE's, so the result is the same root to within the
    // same tolerance, in ~5 evaluations of the row instead of ~30.
    const double target = std::log(perplexity);
    double tau = 1.0, lo = -std::numeric_limits<double>::infinity(), hi = std::numeric_limits<double>::infinity();
    for (int it = 0; it < o.max_iter; ++it) {
        double z = 0.0, s = 0.0, s2 = 0.0;
        for (double v : d2) {
            const double e = std::exp(-v * tau / 2.0);
            z += e;
            s += e * v;
            s2 += e * v * v;
        }
        const double mean = s / z;
        const double H = tau / 2.0 * mean + std::log(z);
        if (std::abs(H - target) < o.tolerance) break;
        if (H > target)  // too flat: raise the precision
            lo = tau;
        else
            hi = tau;
        const double var = std::max(0.0, s2 / z - mean * mean);
        const double slope = -(tau / 2.0) * (tau / 2.0) * var;  // dH / d log τ
        double next = slope < 0.0 ? tau * std::exp(std::clamp((target - H) / slope, -2.0, 2.0)) : 0.0;
        if (!(next > lo && next < hi) || !std::isfinite(next)) {  // openTSNE's step
            if (H > target)
                next = std::isinf(hi) ? tau * 2.0 : (lo + hi) / 2.0;
            else
                next = std::isinf(lo) ? tau / 2.0 : (lo + hi) / 2.0;
        }
        tau = next;
    }
    return tau;
}
} // namespace

double calibrate_precision(std::span<const double> d2, double perplexity, const CalibrationOptions& o) {
    // H depends on τ d² only: rows far from 1 solve on d² / unit and scale τ back (affinity_detail::search_unit).
    double largest = 0.0;
    for (double v : d2) largest = std::max(largest, v);
    const double unit = affinity_detail::search_unit(largest);
    if (unit == 1.0) return calibrate_from_one(d2, perplexity, o);
    std::vector<double> scaled(d2.begin(), d2.end());
    for (double& v : scaled) v /= unit;
    return calibrate_from_one(scaled, perplexity, o) / unit;
}

std::vector<double> perplexity_precisions(const KnnGraph& g, double perplexity, const CalibrationOptions& o,
                                          int n_threads) {
    check_perplexity(perplexity);
    check_calibration(o);
    affinity_detail::require_graph(g, "perplexity affinities");
    std::vector<double> tau(g.n_points);
    parallelize(n_threads, g.n_points, [&](int, std::size_t b, std::size_t e) {
        std::vector<double> d2;
        for (std::size_t i = b; i < e; ++i) {
            if ((i - b) % 1024 == 0 && interrupt_requested()) throw Interrupted("affinities interrupted");
            shifted_sq(g, i, d2);
            tau[i] = calibrate_precision(d2, perplexity, o);
        }
    });
    return tau;
}

namespace {
CsrMatrix<double> perplexity_impl(const KnnGraph& g, const PerplexityOptions& o, bool joint) {
    check_perplexity(o.perplexity);
    check_calibration(o.calibration);
    if (static_cast<double>(g.k) < o.perplexity && g.k + 1 < g.n_reference)
        warn("perplexity " + std::to_string(o.perplexity) + " exceeds the " + std::to_string(g.k) +
             " neighbours given; the rows come out nearly uniform (openTSNE uses 3 x perplexity neighbours)");
    return gaussian_rows(g, joint, o.n_threads, "perplexity affinities",
                         [&](std::size_t, const std::vector<double>& d2, double, double* out) {
                             const double tau = calibrate_precision(d2, o.perplexity, o.calibration);
                             for (std::size_t j = 0; j < d2.size(); ++j) out[j] = std::exp(-d2[j] * tau / 2.0);
                         });
}
} // namespace

CsrMatrix<double> perplexity_conditional(const KnnGraph& g, const PerplexityOptions& o) {
    return perplexity_impl(g, o, false);
}

CsrMatrix<double> perplexity_affinities(const KnnGraph& g, const PerplexityOptions& o) {
    return perplexity_impl(g, o, o.symmetrize);
}

// ---------------------------------------------------------------------------------------------- multiscale

MultiscaleMode parse_multiscale_mode(const std::string& name) {
    if (name == "mixture") return MultiscaleMode::mixture;
    if (name == "average" || name == "mean") return MultiscaleMode::average;
    throw InvalidArgument("unknown multiscale mode '" + name + "' (expected mixture or average)");
}

std::vector<double> clean_perplexities(std::size_t n, const std::vector<double>& perplexities) {
    require(!perplexities.empty(), "multiscale affinities need at least one perplexity");
    std::vector<double> out;
    for (double p : perplexities) {
        const double c = clamp_perplexity(n, p);
        if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
    }
    return out;
}

std::size_t multiscale_neighbors(std::size_t n, const std::vector<double>& perplexities) {
    require(!perplexities.empty(), "multiscale affinities need at least one perplexity");
    return perplexity_neighbors(n, *std::max_element(perplexities.begin(), perplexities.end()));
}

CsrMatrix<double> multiscale_affinities(const KnnGraph& g, const MultiscaleOptions& o) {
    require(!o.perplexities.empty(), "multiscale affinities need at least one perplexity");
    for (double p : o.perplexities) check_perplexity(p);
    check_calibration(o.calibration);
    const std::size_t H = o.perplexities.size();
    return gaussian_rows(
        g, o.symmetrize, o.n_threads, "multiscale affinities",
        [&](std::size_t, const std::vector<double>& d2, double d0, double* out) {
            const std::size_t k = d2.size();
            std::fill(out, out + k, 0.0);
            std::vector<double> tau(H), a(H);
            double amax = -std::numeric_limits<double>::infinity();
            for (std::size_t h = 0; h < H; ++h) {
                tau[h] = calibrate_precision(d2, o.perplexities[h], o.calibration);  // a fresh bracket per scale
                // mixture weight √τ exp(−d²τ/2) with d² = d2 + d0²: the scale's log factor, kept in the log domain
                a[h] = o.mode == MultiscaleMode::mixture ? 0.5 * std::log(tau[h]) - d0 * tau[h] / 2.0 : 0.0;
                amax = std::max(amax, a[h]);
            }
            for (std::size_t h = 0; h < H; ++h) {
                if (o.mode == MultiscaleMode::mixture) {
                    for (std::size_t j = 0; j < k; ++j) out[j] += std::exp(a[h] - amax - d2[j] * tau[h] / 2.0);
                } else {
                    double z = 0.0;
                    for (std::size_t j = 0; j < k; ++j) z += std::exp(-d2[j] * tau[h] / 2.0);
                    for (std::size_t j = 0; j < k; ++j) out[j] += std::exp(-d2[j] * tau[h] / 2.0) / (z * H);
                }
            }
        });
}

// ---------------------------------------------------------------------------------------------- fixed sigma

CsrMatrix<double> fixed_sigma_affinities(const KnnGraph& g, const FixedSigmaOptions& o) {
    require(std::isfinite(o.sigma) && o.sigma > 0.0, "sigma must be a positive number, got " + std::to_string(o.sigma));
    const double inv = 1.0 / (2.0 * o.sigma * o.sigma);
    return gaussian_rows(g, o.symmetrize, o.n_threads, "fixed-sigma affinities",
                         [&](std::size_t, const std::vector<double>& d2, double, double* out) {
                             for (std::size_t j = 0; j < d2.size(); ++j) out[j] = std::exp(-d2[j] * inv);
                         });
}

} // namespace nembed
