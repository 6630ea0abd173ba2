// paraDime's relation transforms (parametric/transforms.hpp).
#include "nembed/parametric/transforms.hpp"

#include <algorithm>
#include <cmath>
#include <span>
#include <utility>

#include "nembed/affinity/fuzzy.hpp"
#include "nembed/affinity/perplexity.hpp"
#include "nembed/affinity/symmetrize.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/kernel/umap_kernel.hpp"

namespace nembed::paradime {

namespace {

struct Named {
    const char* cls;
    const char* snake;
    TransformKind kind;
};
constexpr Named kTransforms[] = {
    {"PerplexityBasedRescale", "perplexity_based_rescale", TransformKind::perplexity_based_rescale},
    {"ConnectivityBasedRescale", "connectivity_based_rescale", TransformKind::connectivity_based_rescale},
    {"Symmetrize", "symmetrize", TransformKind::symmetrize},
    {"Normalize", "normalize", TransformKind::normalize},
    {"NormalizeRows", "normalize_rows", TransformKind::normalize_rows},
    {"ZeroDiagonal", "zero_diagonal", TransformKind::zero_diagonal},
    {"StudentTTransform", "student_t", TransformKind::student_t},
    {"ModifiedCauchyTransform", "modified_cauchy", TransformKind::modified_cauchy},
};

} // namespace

TransformKind parse_transform(const std::string& name) {
    std::string known;
    for (const Named& n : kTransforms) {
        if (name == n.cls || name == n.snake) return n.kind;
        known += std::string(known.empty() ? "" : ", ") + n.cls;
    }
    throw InvalidArgument("unknown transform '" + name + "' (known: " + known + ")");
}

std::string to_string(TransformKind kind) {
    for (const Named& n : kTransforms)
        if (n.kind == kind) return n.cls;
    return "?";
}

Transform Transform::PerplexityBasedRescale(double perplexity) {
    Transform t;
    t.kind = TransformKind::perplexity_based_rescale;
    t.perplexity = perplexity;
    return t;
}
Transform Transform::ConnectivityBasedRescale(double n_neighbors) {
    Transform t;
    t.kind = TransformKind::connectivity_based_rescale;
    t.n_neighbors = n_neighbors;
    return t;
}
Transform Transform::Symmetrize(bool subtract_product) {
    Transform t;
    t.kind = TransformKind::symmetrize;
    t.subtract_product = subtract_product;
    return t;
}
Transform Transform::Normalize() { return Transform{}; }
Transform Transform::NormalizeRows() {
    Transform t;
    t.kind = TransformKind::normalize_rows;
    return t;
}
Transform Transform::ZeroDiagonal() {
    Transform t;
    t.kind = TransformKind::zero_diagonal;
    return t;
}
Transform Transform::StudentTTransform(double alpha, bool learnable) {
    Transform t;
    t.kind = TransformKind::student_t;
    t.alpha = alpha;
    t.learnable = learnable;
    return t;
}
Transform Transform::ModifiedCauchyTransform(double min_dist, double spread, std::optional<double> a,
                                             std::optional<double> b, bool learnable) {
    Transform t;
    t.kind = TransformKind::modified_cauchy;
    t.min_dist = min_dist;
    t.spread = spread;
    t.a = a;
    t.b = b;
    t.learnable = learnable;
    return t;
}

void validate(const Transform& t) {
    const std::string who = to_string(t.kind) + ": ";
    switch (t.kind) {
    case TransformKind::perplexity_based_rescale:
        require(std::isfinite(t.perplexity) && t.perplexity > 0, who + "perplexity must be positive");
        break;
    case TransformKind::connectivity_based_rescale:
        require(std::isfinite(t.n_neighbors) && t.n_neighbors > 1, who + "n_neighbors must be > 1");
        break;
    case TransformKind::student_t:
        require(std::isfinite(t.alpha) && t.alpha > 0, who + "alpha must be positive");
        break;
    case TransformKind::modified_cauchy:
        require(std::isfinite(t.spread) && t.spread > 0, who + "spread must be positive");
        require(std::isfinite(t.min_dist) && t.min_dist >= 0, who + "min_dist must be >= 0");
        if (t.a) require(std::isfinite(*t.a) && *t.a > 0, who + "a must be positive");
        if (t.b) require(std::isfinite(*t.b) && *t.b > 0, who + "b must be positive");
        break;
    default:
        break;
    }
    require(!t.learnable || t.kind == TransformKind::student_t || t.kind == TransformKind::modified_cauchy,
            who + "has no learnable parameter");
}

bool acts_on_global(TransformKind kind) {
    return kind != TransformKind::student_t && kind != TransformKind::modified_cauchy;
}

bool acts_on_batch(TransformKind kind) {
    return kind == TransformKind::student_t || kind == TransformKind::modified_cauchy ||
           kind == TransformKind::normalize || kind == TransformKind::zero_diagonal;
}

namespace {

// Each row's values replaced, in place, by f(row index, values of the row).
template <typename F>
void for_rows(CsrMatrix<double>& rel, int n_threads, F&& f) {
    parallel_for(n_threads, rel.n_rows, [&](std::size_t i) {
        const auto b = static_cast<std::size_t>(rel.indptr[i]), e = static_cast<std::size_t>(rel.indptr[i + 1]);
        f(i, std::span<double>(rel.values.data() + b, e - b), std::span<const index_t>(rel.indices.data() + b, e - b));
    });
}

void perplexity_rescale(const Transform& t, CsrMatrix<double>& rel, int n_threads) {
    for_rows(rel, n_threads, [&](std::size_t i, std::span<double> v, std::span<const index_t> cols) {
        std::vector<double> sq;
        sq.reserve(v.size());
        for (std::size_t p = 0; p < v.size(); ++p)
            if (static_cast<std::size_t>(cols[p]) != i) sq.push_back(v[p] * v[p]);
        require_lazy(!sq.empty(), [&] { return "PerplexityBasedRescale: point " + std::to_string(i) +
                                               " has no relations to rescale"; });
        // p ∝ exp(−β d²) with β = τ/2: openTSNE's calibration (entropy in nats = log(perplexity) is the same root
        // as paraDime's bits = log2(perplexity), without its β bracket [0.01, 1]).
        const double tau = calibrate_precision(sq, std::min(t.perplexity, static_cast<double>(sq.size())));
        double dmin = 0.0;
        bool first = true;
        for (std::size_t p = 0; p < v.size(); ++p)
            if (static_cast<std::size_t>(cols[p]) != i && (first || v[p] * v[p] < dmin)) {
                dmin = v[p] * v[p];
                first = false;
            }
        double sum = 0.0;
        for (std::size_t p = 0; p < v.size(); ++p) {
            // Shifted by the smallest d² for range; the shift cancels in the normalisation.
            v[p] = static_cast<std::size_t>(cols[p]) == i ? 0.0 : std::exp(-(v[p] * v[p] - dmin) * tau / 2.0);
            sum += v[p];
        }
        for (double& x : v) x /= sum;
    });
}

void connectivity_rescale(const Transform& t, CsrMatrix<double>& rel, int n_threads) {
    // affinity/fuzzy's calibration on a neighbour graph built from the rows (each row sorted by distance).
    std::size_t k = 0;
    for (std::size_t i = 0; i < rel.n_rows; ++i) {
        const auto len = static_cast<std::size_t>(rel.indptr[i + 1] - rel.indptr[i]);
        require(i == 0 || len == k, "ConnectivityBasedRescale: every point needs the same number of relations (row " +
                                        std::to_string(i) + " has " + std::to_string(len) + ", row 0 " +
                                        std::to_string(k) + ")");
        k = len;
    }
    require(k >= 1, "ConnectivityBasedRescale: no relations to rescale");
    KnnGraph g = KnnGraph::sized(rel.n_rows, k, rel.n_cols);
    std::vector<std::size_t> order(rel.nnz());
    for (std::size_t i = 0; i < rel.n_rows; ++i) {
        const auto b = static_cast<std::size_t>(rel.indptr[i]);
        std::size_t* o = order.data() + b;
        for (std::size_t p = 0; p < k; ++p) o[p] = b + p;
        std::stable_sort(o, o + k, [&](std::size_t x, std::size_t y) { return rel.values[x] < rel.values[y]; });
        for (std::size_t p = 0; p < k; ++p) {
            g.indices[i * k + p] = rel.indices[o[p]];
            g.distances[i * k + p] = static_cast<float>(rel.values[o[p]]);
        }
    }
    FuzzyOptions fo;
    // paraDime: Σ_j exp(−(d_j − d_min)/σ) = log2(n_neighbors) over the k listed neighbours (self removed). fuzzy's
    // self-counting rules sum over the k neighbours with target log2(k + 1)·bandwidth.
    fo.bandwidth = std::log2(t.n_neighbors) / std::log2(static_cast<double>(k) + 1.0);
    fo.n_threads = n_threads;
    const FuzzyCalibration cal = smooth_knn_distances(g, fo);
    for (std::size_t i = 0; i < rel.n_rows; ++i) {
        const auto b = static_cast<std::size_t>(rel.indptr[i]);
        for (std::size_t p = 0; p < k; ++p) {
            const double d = rel.values[b + p];
            const double x = d - cal.rho[i];
            rel.values[b + p] = (x <= 0.0 || cal.sigma[i] <= 0.0) ? 1.0 : std::exp(-x / cal.sigma[i]);
        }
    }
}

} // namespace

void apply_global(const Transform& t, CsrMatrix<double>& rel, int n_threads) {
    validate(t);
    require(acts_on_global(t.kind), to_string(t.kind) + " transforms batch relations, not global ones");
    switch (t.kind) {
    case TransformKind::perplexity_based_rescale:
        perplexity_rescale(t, rel, n_threads);
        break;
    case TransformKind::connectivity_based_rescale:
        connectivity_rescale(t, rel, n_threads);
        break;
    case TransformKind::symmetrize:
        require(rel.n_rows == rel.n_cols, "Symmetrize: relations must be square");
        rel = t.subtract_product ? symmetrize(rel, Symmetrization::fuzzy_union, n_threads)
                                 : symmetrize(rel, Symmetrization::mean, n_threads);
        break;
    case TransformKind::normalize:
        normalize_total(rel, "Normalize");
        break;
    case TransformKind::normalize_rows:
        normalize_rows(rel, n_threads);
        break;
    case TransformKind::zero_diagonal: {
        std::vector<Triplet<double>> t3;
        t3.reserve(rel.nnz());
        for (std::size_t i = 0; i < rel.n_rows; ++i)
            for (offset_t p = rel.indptr[i]; p < rel.indptr[i + 1]; ++p)
                if (static_cast<std::size_t>(rel.indices[p]) != i)
                    t3.push_back({static_cast<index_t>(i), rel.indices[p], rel.values[p]});
        rel = csr_from_triplets(rel.n_rows, rel.n_cols, std::move(t3));
        break;
    }
    default:
        break;
    }
}

TransformParams initial_params(const Transform& t) {
    TransformParams p;
    p.alpha = t.alpha;
    if (t.kind == TransformKind::modified_cauchy) {
        if (!t.a || !t.b) {
            const UmapCurve c = find_ab_params(t.spread, t.min_dist);
            p.a = c.a;
            p.b = c.b;
        }
        if (t.a) p.a = *t.a;
        if (t.b) p.b = *t.b;
    }
    return p;
}

double elementwise_value(TransformKind kind, const TransformParams& p, double x) {
    if (kind == TransformKind::student_t) {
        if (p.alpha == 1.0) return 1.0 / (1.0 + x * x);  // t-SNE's kernel, without a power
        return std::pow(1.0 + x * x / p.alpha, -(p.alpha + 1.0) / 2.0);
    }
    // paraDime's tensor branch, with a (its numpy and neighbour-tuple branches drop a: a known bug).
    return 1.0 / (1.0 + p.a * std::pow(x, 2.0 * p.b));
}

ElementwiseDerivatives elementwise_derivatives(TransformKind kind, const TransformParams& p, double x, double w,
                                               bool want_params) {
    ElementwiseDerivatives d;
    if (kind == TransformKind::student_t) {
        const double al = p.alpha;
        d.dx = -w * (al + 1.0) * x / (al + x * x);
        if (want_params)
            d.dp0 = w * (-0.5 * std::log1p(x * x / al) + (al + 1.0) * x * x / (2.0 * al * (al + x * x)));
        return d;
    }
    if (x <= 0.0) return d;
    const double axb = 1.0 / w - 1.0;  // a·x^(2b)
    d.dx = -w * w * 2.0 * p.b * axb / x;
    if (want_params) {
        d.dp0 = -w * w * axb / p.a;
        d.dp1 = -w * w * axb * 2.0 * std::log(x);
    }
    return d;
}

} // namespace nembed::paradime
