// UMAP's fuzzy simplicial set, following umap-learn's smooth_knn_dist and compute_membership_strengths line by
// line (constants SMOOTH_K_TOLERANCE = 1e-5 via options.tolerance, MIN_K_DIST_SCALE = 1e-3).
#include "nembed/affinity/fuzzy.hpp"

#include <algorithm>
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
    double global_mean = 0.0;
    if (o.global_mean_distance) {
        global_mean = *o.global_mean_distance;
    } else {
        global_mean = fixed_block_sum(o.n_threads, g.distances.size(), [&](std::size_t b, std::size_t e) {
            double s = 0.0;
            for (std::size_t p = b; p < e; ++p) s += g.distances[p];
            return s;
        });
        global_mean /= static_cast<double>(n * list_len);
    }

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

// ---------------------------------------------------------------------------- operations on fuzzy sets
namespace nembed {
namespace {

constexpr double kReprocessTarget = 15.0;  // umap-learn's reprocess_row(k = 15)
constexpr int kReprocessIters = 32;

void require_square(const CsrMatrix<double>& g, const char* what) {
    g.validate(what);
    require(g.n_rows == g.n_cols, std::string(what) + ": the fuzzy graph must be square");
}

// umap-learn's reprocess_row: v -> v^t with Σ v^t = log2(15) by bisection on t.
void reprocess_row(double* v, std::size_t n) {
    const double target = std::log2(kReprocessTarget);
    double lo = 0.0, hi = std::numeric_limits<double>::infinity(), mid = 1.0;
    for (int it = 0; it < kReprocessIters; ++it) {
        double psum = 0.0;
        for (std::size_t j = 0; j < n; ++j) psum += std::pow(v[j], mid);
        if (std::fabs(psum - target) < kSmoothKTolerance) break;
        if (psum < target) {
            hi = mid;
            mid = (lo + hi) / 2.0;
        } else {
            lo = mid;
            mid = std::isinf(hi) ? mid * 2.0 : (lo + hi) / 2.0;
        }
    }
    for (std::size_t j = 0; j < n; ++j) v[j] = std::pow(v[j], mid);
}

CsrMatrix<double> drop_zeros(CsrMatrix<double> g) {
    std::size_t w = 0;
    offset_t begin = 0;
    for (std::size_t i = 0; i < g.n_rows; ++i) {
        const offset_t end = g.indptr[i + 1];
        for (offset_t p = begin; p < end; ++p) {
            if (g.values[p] == 0.0) continue;
            g.indices[w] = g.indices[p];
            g.values[w] = g.values[p];
            ++w;
        }
        begin = end;
        g.indptr[i + 1] = static_cast<offset_t>(w);
    }
    g.indices.resize(w);
    g.values.resize(w);
    return g;
}

double min_value(const std::vector<double>& v, bool complement) {
    double m = std::numeric_limits<double>::infinity();
    for (double x : v) m = std::min(m, complement ? 1.0 - x : x);
    return m;
}

// The union of both patterns, each entry with its left and right value (or the given defaults when absent).
template <class F>
CsrMatrix<double> merge(const CsrMatrix<double>& a, const CsrMatrix<double>& b, bool left_pattern_only, F&& f) {
    CsrMatrix<double> out;
    out.n_rows = a.n_rows;
    out.n_cols = a.n_cols;
    out.indptr.assign(a.n_rows + 1, 0);
    for (std::size_t i = 0; i < a.n_rows; ++i) {
        offset_t p = a.indptr[i], q = b.indptr[i];
        const offset_t pe = a.indptr[i + 1], qe = b.indptr[i + 1];
        while (p < pe || q < qe) {
            const bool take_a = p < pe && (q >= qe || a.indices[p] <= b.indices[q]);
            const bool take_b = q < qe && (p >= pe || b.indices[q] <= a.indices[p]);
            const index_t j = take_a ? a.indices[p] : b.indices[q];
            const double* av = take_a ? &a.values[p] : nullptr;
            const double* bv = take_b ? &b.values[q] : nullptr;
            if (take_a) ++p;
            if (take_b) ++q;
            if (left_pattern_only && !av) continue;
            out.indices.push_back(j);
            out.values.push_back(f(av, bv));
        }
        out.indptr[i + 1] = static_cast<offset_t>(out.indices.size());
    }
    return out;
}

void require_same_shape(const CsrMatrix<double>& a, const CsrMatrix<double>& b, const char* what) {
    require_square(a, what);
    require_square(b, what);
    require(a.n_rows == b.n_rows, std::string(what) + ": the two fuzzy graphs must have the same size (" +
                                      std::to_string(a.n_rows) + " and " + std::to_string(b.n_rows) + " points)");
    require(a.nnz() > 0 && b.nnz() > 0, std::string(what) + ": a fuzzy graph has no edges");
}

} // namespace

CsrMatrix<double> reset_local_connectivity(const CsrMatrix<double>& graph, bool reset_local_metric, int n_threads) {
    require_square(graph, "reset_local_connectivity");
    CsrMatrix<double> s = graph;
    parallel_for(n_threads, s.n_rows, [&](std::size_t i) {
        double m = 0.0;
        for (offset_t p = s.indptr[i]; p < s.indptr[i + 1]; ++p) m = std::max(m, std::fabs(s.values[p]));
        if (m > 0.0)
            for (offset_t p = s.indptr[i]; p < s.indptr[i + 1]; ++p) s.values[p] /= m;
        if (reset_local_metric)
            reprocess_row(s.values.data() + s.indptr[i], static_cast<std::size_t>(s.indptr[i + 1] - s.indptr[i]));
    });
    return symmetrize(s, Symmetrization::fuzzy_union, n_threads);
}

CsrMatrix<double> categorical_intersection(const CsrMatrix<double>& graph, std::span<const std::int64_t> labels,
                                           double unknown_dist, double far_dist, int n_threads) {
    require_square(graph, "categorical target intersection");
    require(labels.size() == graph.n_rows, "target: " + std::to_string(labels.size()) + " labels for " +
                                               std::to_string(graph.n_rows) + " points");
    require(std::isfinite(unknown_dist) && unknown_dist >= 0.0, "unknown_dist must be finite and >= 0");
    require(!std::isnan(far_dist) && far_dist >= 0.0, "far_dist must be >= 0");
    CsrMatrix<double> s = graph;
    const double unknown = std::exp(-unknown_dist), far = std::exp(-far_dist);
    for (std::size_t i = 0; i < s.n_rows; ++i)
        for (offset_t p = s.indptr[i]; p < s.indptr[i + 1]; ++p) {
            const std::int64_t a = labels[i], b = labels[static_cast<std::size_t>(s.indices[p])];
            if (a == -1 || b == -1)
                s.values[p] *= unknown;
            else if (a != b)
                s.values[p] *= far;
        }
    return reset_local_connectivity(drop_zeros(std::move(s)), false, n_threads);
}

CsrMatrix<double> metric_intersection(const CsrMatrix<double>& graph, std::span<const double> edge_distance,
                                      double scale, int n_threads) {
    require_square(graph, "target metric intersection");
    require(edge_distance.size() == graph.nnz(), "target metric intersection: one distance per stored edge needed");
    require(!std::isnan(scale) && scale >= 0.0, "target metric intersection: scale must be >= 0");
    CsrMatrix<double> s = graph;
    for (std::size_t p = 0; p < s.values.size(); ++p) {
        require(!std::isnan(edge_distance[p]) && edge_distance[p] >= 0.0,
                "target metric intersection: target distances must be >= 0 (not NaN)");
        s.values[p] *= std::exp(-(scale * edge_distance[p]));
    }
    return reset_local_connectivity(drop_zeros(std::move(s)), false, n_threads);
}

CsrMatrix<double> general_simplicial_set_intersection(const CsrMatrix<double>& left, const CsrMatrix<double>& right,
                                                      double weight, bool right_complement) {
    require_same_shape(left, right, "general_simplicial_set_intersection");
    require(std::isfinite(weight) && weight >= 0.0 && weight <= 1.0, "target_weight must lie in [0, 1], got " +
                                                                         std::to_string(weight));
    const double left_min = std::max(min_value(left.values, false) / 2.0, 1e-8);
    const double right_min = std::min(std::max(min_value(right.values, right_complement) / 2.0, 1e-8), 1e-4);
    return merge(left, right, right_complement, [&](const double* l, const double* r) {
        const double lv = l ? *l : left_min;
        const double rv = r ? (right_complement ? 1.0 - *r : *r) : right_min;
        if (lv > left_min || rv > right_min) {
            if (weight < 0.5) return lv * std::pow(rv, weight / (1.0 - weight));
            return std::pow(lv, (1.0 - weight) / weight) * rv;
        }
        return right_complement ? *l : (l ? *l : 0.0) + (r ? *r : 0.0);
    });
}

CsrMatrix<double> general_simplicial_set_union(const CsrMatrix<double>& left, const CsrMatrix<double>& right) {
    require_same_shape(left, right, "general_simplicial_set_union");
    const double left_min = std::max(min_value(left.values, false) / 2.0, 1e-8);
    const double right_min = std::max(min_value(right.values, false) / 2.0, 1e-8);
    return merge(left, right, false, [&](const double* l, const double* r) {
        const double lv = l ? *l : left_min, rv = r ? *r : right_min;
        return lv + rv - lv * rv;
    });
}

} // namespace nembed
