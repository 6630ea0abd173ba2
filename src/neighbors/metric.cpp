#include "nembed/neighbors/metric.hpp"

#include <algorithm>
#include <exception>
#include <cmath>
#include <limits>
#include <utility>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/core/strings.hpp"

namespace nembed {
namespace {

struct NameEntry {
    const char* name;
    Metric m;
};
// Canonical name first in each group (to_string returns it).
constexpr NameEntry kNames[] = {
    {"euclidean", Metric::euclidean}, {"l2", Metric::euclidean},
    {"cosine", Metric::cosine},
    {"inner_product", Metric::inner_product}, {"ip", Metric::inner_product}, {"dot", Metric::inner_product},
    {"sqeuclidean", Metric::sqeuclidean},
    {"manhattan", Metric::manhattan}, {"cityblock", Metric::manhattan}, {"l1", Metric::manhattan},
    {"taxicab", Metric::manhattan},
    {"chebyshev", Metric::chebyshev}, {"linfinity", Metric::chebyshev}, {"linfty", Metric::chebyshev},
    {"linf", Metric::chebyshev}, {"infinity", Metric::chebyshev},
    {"minkowski", Metric::minkowski},
    {"wminkowski", Metric::wminkowski}, {"weighted_minkowski", Metric::wminkowski},
    {"seuclidean", Metric::seuclidean}, {"standardised_euclidean", Metric::seuclidean},
    {"mahalanobis", Metric::mahalanobis},
    {"canberra", Metric::canberra},
    {"braycurtis", Metric::braycurtis},
    {"correlation", Metric::correlation},
    {"haversine", Metric::haversine},
    {"hellinger", Metric::hellinger},
    {"hamming", Metric::hamming},
    {"matching", Metric::matching},
    {"jaccard", Metric::jaccard},
    {"dice", Metric::dice},
    {"kulsinski", Metric::kulsinski},
    {"rogerstanimoto", Metric::rogerstanimoto},
    {"russellrao", Metric::russellrao}, {"russelrao", Metric::russellrao},
    {"sokalmichener", Metric::sokalmichener},
    {"sokalsneath", Metric::sokalsneath},
    {"yule", Metric::yule},
};

// Calls f(d, x_d, y_d) for every column where x or y is non-zero (sparse rows: the union of their supports, in
// column order; dense rows: every column). Each metric below adds nothing for x_d = y_d = 0, so both forms agree.
template <class F>
inline void visit(RowRef x, RowRef y, std::size_t dim, F&& f) {
    if (x.idx == nullptr) {
        for (std::size_t d = 0; d < dim; ++d) f(d, static_cast<double>(x.dense[d]), static_cast<double>(y.dense[d]));
        return;
    }
    std::size_t a = 0, b = 0;
    while (a < x.nnz || b < y.nnz) {
        const std::int32_t ca = a < x.nnz ? x.idx[a] : std::numeric_limits<std::int32_t>::max();
        const std::int32_t cb = b < y.nnz ? y.idx[b] : std::numeric_limits<std::int32_t>::max();
        if (ca == cb) {
            f(static_cast<std::size_t>(ca), static_cast<double>(x.val[a]), static_cast<double>(y.val[b]));
            ++a;
            ++b;
        } else if (ca < cb) {
            f(static_cast<std::size_t>(ca), static_cast<double>(x.val[a]), 0.0);
            ++a;
        } else {
            f(static_cast<std::size_t>(cb), 0.0, static_cast<double>(y.val[b]));
            ++b;
        }
    }
}

// Calls f(d, v) for each value of the row in column order (sparse: the non-zeros only).
template <class F>
inline void each(RowRef x, std::size_t dim, F&& f) {
    if (x.idx == nullptr) {
        for (std::size_t d = 0; d < dim; ++d) f(d, static_cast<double>(x.dense[d]));
    } else {
        for (std::size_t t = 0; t < x.nnz; ++t) f(static_cast<std::size_t>(x.idx[t]), static_cast<double>(x.val[t]));
    }
}

template <class F>
void each_row_value(const RowSet& s, F&& f) {
    if (s.sparse) {
        for (std::size_t i = 0; i < s.csr.rows; ++i)
            for (auto t = s.csr.indptr[i]; t < s.csr.indptr[i + 1]; ++t)
                f(i, static_cast<std::size_t>(s.csr.indices[t]), static_cast<double>(s.csr.values[t]));
    } else {
        for (std::size_t i = 0; i < s.dense.rows; ++i)
            for (std::size_t d = 0; d < s.dense.cols; ++d) f(i, d, static_cast<double>(s.dense.row(i)[d]));
    }
}

// Inverse of a symmetric positive definite-ish matrix by Gauss-Jordan with partial pivoting; empty if singular.
std::vector<double> invert(std::vector<double> a, std::size_t n) {
    std::vector<double> inv(n * n, 0.0);
    for (std::size_t i = 0; i < n; ++i) inv[i * n + i] = 1.0;
    double largest = 0.0;
    for (double v : a) largest = std::max(largest, std::abs(v));
    for (std::size_t c = 0; c < n; ++c) {
        std::size_t piv = c;
        for (std::size_t r = c + 1; r < n; ++r)
            if (std::abs(a[r * n + c]) > std::abs(a[piv * n + c])) piv = r;
        if (!(std::abs(a[piv * n + c]) > 1e-12 * largest)) return {};
        if (piv != c)
            for (std::size_t j = 0; j < n; ++j) {
                std::swap(a[c * n + j], a[piv * n + j]);
                std::swap(inv[c * n + j], inv[piv * n + j]);
            }
        const double s = 1.0 / a[c * n + c];
        for (std::size_t j = 0; j < n; ++j) {
            a[c * n + j] *= s;
            inv[c * n + j] *= s;
        }
        for (std::size_t r = 0; r < n; ++r) {
            if (r == c) continue;
            const double f = a[r * n + c];
            if (f == 0.0) continue;
            for (std::size_t j = 0; j < n; ++j) {
                a[r * n + j] -= f * a[c * n + j];
                inv[r * n + j] -= f * inv[c * n + j];
            }
        }
    }
    return inv;
}

void require_finite_values(const std::vector<double>& v, const std::string& what) {
    for (std::size_t i = 0; i < v.size(); ++i)
        require_lazy(std::isfinite(v[i]), [&] { return what + "[" + std::to_string(i) + "] is not finite"; });
}

} // namespace

Metric parse_metric(const std::string& name) {
    const std::string n = to_lower(name);
    for (const auto& e : kNames)
        if (n == e.name) return e.m;
    throw InvalidArgument("metric: unknown metric '" + name + "' (expected one of " + metric_names() + ")");
}

std::string to_string(Metric m) {
    for (const auto& e : kNames)
        if (e.m == m) return e.name;
    return "unknown";
}

std::string metric_names() {
    std::string s;
    for (const auto& e : kNames) s += (s.empty() ? "" : ", ") + std::string(e.name);
    return s;
}

void set_metric_param(MetricParams& params, const std::string& name, const std::vector<double>& values) {
    if (name == "p") {
        require(values.size() == 1, "metric_params: p must be one number");
        params.p = values[0];
    } else if (name == "w") {
        params.w = values;
    } else if (name == "V" || name == "sigma") {
        params.V = values;
    } else if (name == "VI" || name == "vinv") {
        params.VI = values;
    } else {
        throw InvalidArgument("metric_params: unknown parameter '" + name + "' (expected p, w, V (sigma) or VI (vinv))");
    }
}

void parse_metric_param(MetricParams& params, const std::string& spec) {
    const auto eq = spec.find('=');
    require(eq != std::string::npos && eq > 0 && eq + 1 < spec.size(),
            "--metric-param: expected NAME=VALUE[,VALUE...] (e.g. p=3 or w=1,2,1), got '" + spec + "'");
    const std::string name = spec.substr(0, eq);
    std::vector<double> values;
    std::size_t at = eq + 1;
    while (at <= spec.size()) {
        const std::size_t comma = std::min(spec.find(',', at), spec.size());
        const std::string tok = spec.substr(at, comma - at);
        std::size_t used = 0;
        double v = 0.0;
        try {
            v = std::stod(tok, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        require(used == tok.size() && !tok.empty(), "--metric-param " + name + ": '" + tok + "' is not a number");
        values.push_back(v);
        at = comma + 1;
    }
    set_metric_param(params, name, values);
}

CsrData copy_csr(const CsrView& x, const std::string& what) {
    require(x.rows > 0, what + ": the data has no points (0 rows)");
    require(x.cols > 0, what + ": the data has no dimensions (0 columns)");
    require(x.cols <= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()),
            what + ": too many columns for 32-bit column indices");
    require(x.indptr != nullptr, what + ": the CSR indptr is null");
    require(x.indptr[0] == 0, what + ": CSR indptr must start at 0");
    for (std::size_t i = 0; i < x.rows; ++i)
        require_lazy(x.indptr[i + 1] >= x.indptr[i],
                     [&] { return what + ": CSR indptr decreases at row " + std::to_string(i); });
    CsrData c;
    c.rows = x.rows;
    c.cols = x.cols;
    c.indptr.assign(x.indptr, x.indptr + x.rows + 1);
    const std::size_t nnz = c.indptr.back() < 0 ? 0 : static_cast<std::size_t>(c.indptr.back());
    require(nnz == 0 || (x.indices != nullptr && x.values != nullptr), what + ": the CSR arrays are null");
    c.indices.assign(x.indices, x.indices + nnz);
    c.values.assign(x.values, x.values + nnz);
    for (std::size_t i = 0; i < x.rows; ++i)
        for (auto t = c.indptr[i]; t < c.indptr[i + 1]; ++t) {
            const auto j = c.indices[static_cast<std::size_t>(t)];
            require_lazy(j >= 0 && static_cast<std::size_t>(j) < x.cols, [&] {
                return what + ": CSR column index " + std::to_string(j) + " out of range in row " + std::to_string(i);
            });
            require_lazy(t == c.indptr[i] || c.indices[static_cast<std::size_t>(t - 1)] < j, [&] {
                return what + ": CSR column indices must be sorted and unique within each row (row " +
                       std::to_string(i) + ")";
            });
            require_lazy(std::isfinite(c.values[static_cast<std::size_t>(t)]), [&] {
                return what + ": the data contains NaN or infinite values (row " + std::to_string(i) + ")";
            });
        }
    return c;
}

CsrData dense_to_csr(MatrixView<float> x) {
    CsrData c;
    c.rows = x.rows;
    c.cols = x.cols;
    c.indptr.assign(1, 0);
    for (std::size_t i = 0; i < x.rows; ++i) {
        const float* r = x.row(i);
        for (std::size_t d = 0; d < x.cols; ++d)
            if (r[d] != 0.0f) {
                c.indices.push_back(static_cast<std::int32_t>(d));
                c.values.push_back(r[d]);
            }
        c.indptr.push_back(static_cast<std::int64_t>(c.indices.size()));
    }
    return c;
}

Matrix<float> csr_to_dense(const CsrView& x) {
    Matrix<float> m(x.rows, x.cols);
    std::fill(m.data(), m.data() + m.size(), 0.0f);
    for (std::size_t i = 0; i < x.rows; ++i)
        for (auto t = x.indptr[i]; t < x.indptr[i + 1]; ++t) m.row(i)[x.indices[t]] = x.values[t];
    return m;
}

void check_metric_domain(const MetricSpec& spec, const RowSet& rows, const std::string& what) {
    if (spec.kind == Metric::hellinger) {
        each_row_value(rows, [&](std::size_t i, std::size_t, double v) {
            require_lazy(v >= 0.0, [&] {
                return what + ": the hellinger metric needs non-negative data (row " + std::to_string(i) +
                       " has a negative value)";
            });
        });
    }
}

MetricSpec resolve_metric(Metric kind, const MetricParams& params, const RowSet& reference, int n_threads) {
    (void)n_threads;
    MetricSpec s;
    s.kind = kind;
    s.dim = reference.cols();
    const std::size_t dim = s.dim, n = reference.rows();
    const std::string name = to_string(kind);
    const bool takes_p = kind == Metric::minkowski || kind == Metric::wminkowski;
    const bool takes_w = takes_p;
    require(!params.p || takes_p, "metric_params: 'p' is not a parameter of the " + name + " metric");
    require(params.w.empty() || takes_w, "metric_params: 'w' is not a parameter of the " + name + " metric");
    require(params.V.empty() || kind == Metric::seuclidean,
            "metric_params: 'V' is not a parameter of the " + name + " metric (seuclidean only)");
    require(params.VI.empty() || kind == Metric::mahalanobis,
            "metric_params: 'VI' is not a parameter of the " + name + " metric (mahalanobis only)");
    if (takes_p) {
        s.p = params.p.value_or(2.0);
        require(s.p > 0.0 && !std::isnan(s.p),
                "metric_params: p must be > 0 for the " + name + " metric (got " + std::to_string(s.p) + ")");
        if (!params.w.empty()) {
            require(params.w.size() == dim, "metric_params: w must have one weight per dimension (" +
                                                std::to_string(dim) + "), got " + std::to_string(params.w.size()));
            require_finite_values(params.w, "metric_params: w");
            for (double v : params.w) require(v >= 0.0, "metric_params: the weights w must be non-negative");
            s.w = params.w;
        }
        if (std::isinf(s.p)) {
            // Chebyshev, weighted by w > 0 as scipy does (a zero weight drops the dimension).
            s.kind = Metric::chebyshev;
            if (!s.w.empty()) {
                for (double& v : s.w) v = v > 0.0 ? 1.0 : 0.0;
                s.kind = Metric::wminkowski;  // handled with p = inf below
                s.p = std::numeric_limits<double>::infinity();
            }
        } else if (kind == Metric::minkowski && !s.w.empty()) {
            s.kind = Metric::wminkowski;
        }
    }
    if (kind == Metric::seuclidean) {
        if (!params.V.empty()) {
            require(params.V.size() == dim, "metric_params: V must have one variance per dimension (" +
                                                std::to_string(dim) + "), got " + std::to_string(params.V.size()));
            s.V = params.V;
        } else {
            require(n >= 2, "seuclidean: the default V (column variances) needs at least 2 points; pass V");
            std::vector<double> sum(dim, 0.0), mean(dim, 0.0), ss(dim, 0.0);
            each_row_value(reference, [&](std::size_t, std::size_t d, double v) { sum[d] += v; });
            for (std::size_t d = 0; d < dim; ++d) mean[d] = sum[d] / static_cast<double>(n);
            std::vector<std::size_t> nz(dim, 0);
            each_row_value(reference, [&](std::size_t, std::size_t d, double v) {
                ss[d] += (v - mean[d]) * (v - mean[d]);
                ++nz[d];
            });
            s.V.resize(dim);
            for (std::size_t d = 0; d < dim; ++d)
                s.V[d] = (ss[d] + static_cast<double>(n - nz[d]) * mean[d] * mean[d]) / static_cast<double>(n - 1);
        }
        require_finite_values(s.V, "seuclidean: V");
        for (std::size_t d = 0; d < dim; ++d)
            require_lazy(s.V[d] > 0.0, [&] {
                return "seuclidean: the variance V[" + std::to_string(d) + "] must be > 0" +
                       (params.V.empty() ? std::string(" (a constant column: pass V in metric_params)") : "");
            });
    }
    if (kind == Metric::mahalanobis) {
        if (!params.VI.empty()) {
            require(params.VI.size() == dim * dim, "metric_params: VI must be a " + std::to_string(dim) + " x " +
                                                       std::to_string(dim) + " matrix");
            s.VI = params.VI;
            require_finite_values(s.VI, "mahalanobis: VI");
        } else {
            require(n > dim, "mahalanobis: the default VI (inverse covariance) needs more points (" +
                                 std::to_string(n) + ") than dimensions (" + std::to_string(dim) + "); pass VI");
            Matrix<float> dense_copy;
            MatrixView<float> X = reference.dense;
            if (reference.sparse) {
                dense_copy = csr_to_dense(reference.csr);
                X = dense_copy.view();
            }
            std::vector<double> mean(dim, 0.0), cov(dim * dim, 0.0);
            for (std::size_t i = 0; i < n; ++i)
                for (std::size_t d = 0; d < dim; ++d) mean[d] += X.row(i)[d];
            for (double& m : mean) m /= static_cast<double>(n);
            std::vector<double> c(dim);
            for (std::size_t i = 0; i < n; ++i) {
                for (std::size_t d = 0; d < dim; ++d) c[d] = X.row(i)[d] - mean[d];
                for (std::size_t a = 0; a < dim; ++a)
                    for (std::size_t b = a; b < dim; ++b) cov[a * dim + b] += c[a] * c[b];
            }
            for (std::size_t a = 0; a < dim; ++a)
                for (std::size_t b = a; b < dim; ++b) {
                    cov[a * dim + b] /= static_cast<double>(n - 1);
                    cov[b * dim + a] = cov[a * dim + b];
                }
            s.VI = invert(cov, dim);
            require(!s.VI.empty(), "mahalanobis: the data's covariance matrix is singular; pass VI in metric_params");
        }
    }
    if (kind == Metric::haversine)
        require(dim == 2, "haversine: the metric is defined for 2 columns (latitude, longitude in radians), got " +
                              std::to_string(dim));
    check_metric_domain(s, reference, to_string(kind));
    return s;
}

MetricEval::MetricEval(MetricSpec spec) : spec_(std::move(spec)) {}

RowRef MetricEval::row(const RowSet& s, std::size_t i) const {
    RowRef r;
    if (s.sparse) {
        const auto b = s.csr.indptr[i], e = s.csr.indptr[i + 1];
        r.idx = s.csr.indices + b;
        r.val = s.csr.values + b;
        r.nnz = static_cast<std::size_t>(e - b);
    } else {
        r.dense = s.dense.row(i);
    }
    return r;
}

MetricEval::Aux MetricEval::aux(RowRef r) const {
    Aux a;
    const std::size_t dim = spec_.dim;
    switch (spec_.kind) {
    case Metric::cosine: {
        // Summed in column order over every column (zeros add exactly 0): the same bits dense or sparse, and the
        // same as vector_norm.
        double s = 0.0;
        each(r, dim, [&](std::size_t, double v) { s += v * v; });
        a.a = std::sqrt(s);
        break;
    }
    case Metric::correlation: {
        double s = 0.0;
        each(r, dim, [&](std::size_t, double v) { s += v; });
        const double m = s / static_cast<double>(dim);
        double ss = 0.0;
        std::size_t nz = 0;
        each(r, dim, [&](std::size_t, double v) {
            ss += (v - m) * (v - m);
            ++nz;
        });
        a.a = m;
        a.b = ss + static_cast<double>(dim - nz) * m * m;
        break;
    }
    case Metric::hellinger: {
        double s = 0.0;
        each(r, dim, [&](std::size_t, double v) { s += v; });
        a.a = s;
        break;
    }
    default:
        break;
    }
    return a;
}

double MetricEval::operator()(RowRef x, const Aux& ax, RowRef y, const Aux& ay) const {
    const std::size_t dim = spec_.dim;
    const double n = static_cast<double>(dim);
    switch (spec_.kind) {
    case Metric::euclidean:
    case Metric::sqeuclidean: {
        double s = 0.0;
        visit(x, y, dim, [&](std::size_t, double a, double b) { s += (a - b) * (a - b); });
        return spec_.kind == Metric::euclidean ? std::sqrt(s) : s;
    }
    case Metric::cosine: {
        // as point_distance: 1 - cos = |a/|a| - b/|b||^2 / 2; degenerate rows as umap-learn
        if (ax.a <= 0.0 || ay.a <= 0.0) return ax.a <= 0.0 && ay.a <= 0.0 ? 0.0 : 1.0;
        const double ia = 1.0 / ax.a, ib = 1.0 / ay.a;
        double s = 0.0;
        visit(x, y, dim, [&](std::size_t, double a, double b) {
            const double diff = a * ia - b * ib;
            s += diff * diff;
        });
        return std::clamp(0.5 * s, 0.0, 2.0);
    }
    case Metric::inner_product: {
        double s = 0.0;
        visit(x, y, dim, [&](std::size_t, double a, double b) { s += a * b; });
        return 1.0 - s;
    }
    case Metric::manhattan: {
        double s = 0.0;
        visit(x, y, dim, [&](std::size_t, double a, double b) { s += std::abs(a - b); });
        return s;
    }
    case Metric::chebyshev: {
        double s = 0.0;
        visit(x, y, dim, [&](std::size_t, double a, double b) { s = std::max(s, std::abs(a - b)); });
        return s;
    }
    case Metric::minkowski: {
        const double p = spec_.p;
        double s = 0.0;
        if (p == 1.0) {
            visit(x, y, dim, [&](std::size_t, double a, double b) { s += std::abs(a - b); });
            return s;
        }
        if (p == 2.0) {
            visit(x, y, dim, [&](std::size_t, double a, double b) { s += (a - b) * (a - b); });
            return std::sqrt(s);
        }
        visit(x, y, dim, [&](std::size_t, double a, double b) { s += std::pow(std::abs(a - b), p); });
        return std::pow(s, 1.0 / p);
    }
    case Metric::wminkowski: {
        const double p = spec_.p;
        const double* w = spec_.w.empty() ? nullptr : spec_.w.data();
        double s = 0.0;
        if (std::isinf(p)) {
            visit(x, y, dim, [&](std::size_t d, double a, double b) {
                if (w == nullptr || w[d] > 0.0) s = std::max(s, std::abs(a - b));
            });
            return s;
        }
        visit(x, y, dim, [&](std::size_t d, double a, double b) {
            s += (w != nullptr ? w[d] : 1.0) * std::pow(std::abs(a - b), p);
        });
        return std::pow(s, 1.0 / p);
    }
    case Metric::seuclidean: {
        const double* V = spec_.V.data();
        double s = 0.0;
        visit(x, y, dim, [&](std::size_t d, double a, double b) { s += (a - b) * (a - b) / V[d]; });
        return std::sqrt(s);
    }
    case Metric::mahalanobis: {
        // (x - y)' VI (x - y) over the columns where x - y may be non-zero, in column order: the same sum dense or
        // sparse (the skipped terms are exact zeros).
        thread_local std::vector<std::pair<std::size_t, double>> diff;
        diff.clear();
        visit(x, y, dim, [&](std::size_t d, double a, double b) { diff.emplace_back(d, a - b); });
        const double* VI = spec_.VI.data();
        double s = 0.0;
        for (const auto& [i, di] : diff) {
            double t = 0.0;
            for (const auto& [j, dj] : diff) t += VI[i * dim + j] * dj;
            s += t * di;
        }
        return std::sqrt(std::max(s, 0.0));
    }
    case Metric::canberra: {
        double s = 0.0;
        visit(x, y, dim, [&](std::size_t, double a, double b) {
            const double den = std::abs(a) + std::abs(b);
            if (den > 0.0) s += std::abs(a - b) / den;
        });
        return s;
    }
    case Metric::braycurtis: {
        double num = 0.0, den = 0.0;
        visit(x, y, dim, [&](std::size_t, double a, double b) {
            num += std::abs(a - b);
            den += std::abs(a + b);
        });
        return den > 0.0 ? num / den : 0.0;
    }
    case Metric::correlation: {
        const double mx = ax.a, my = ay.a;
        double dot = 0.0;
        std::size_t seen = 0;
        visit(x, y, dim, [&](std::size_t, double a, double b) {
            dot += (a - mx) * (b - my);
            ++seen;
        });
        dot += static_cast<double>(dim - seen) * mx * my;  // the columns where both rows are 0
        if (ax.b <= 0.0 && ay.b <= 0.0) return 0.0;
        if (ax.b <= 0.0 || ay.b <= 0.0 || dot == 0.0) return 1.0;
        return std::clamp(1.0 - dot / std::sqrt(ax.b * ay.b), 0.0, 2.0);
    }
    case Metric::hellinger: {
        if (ax.a <= 0.0 && ay.a <= 0.0) return 0.0;
        if (ax.a <= 0.0 || ay.a <= 0.0) return 1.0;
        double s = 0.0;
        visit(x, y, dim, [&](std::size_t, double a, double b) { s += std::sqrt(a * b); });
        return std::sqrt(std::max(0.0, 1.0 - s / std::sqrt(ax.a * ay.a)));
    }
    case Metric::haversine: {
        double xv[2] = {0.0, 0.0}, yv[2] = {0.0, 0.0};
        visit(x, y, dim, [&](std::size_t d, double a, double b) {
            xv[d] = a;
            yv[d] = b;
        });
        const double sl = std::sin(0.5 * (xv[0] - yv[0])), so = std::sin(0.5 * (xv[1] - yv[1]));
        const double r = std::sqrt(sl * sl + std::cos(xv[0]) * std::cos(yv[0]) * so * so);
        return 2.0 * std::asin(std::min(1.0, r));
    }
    case Metric::hamming: {
        double c = 0.0;
        visit(x, y, dim, [&](std::size_t, double a, double b) { c += a != b ? 1.0 : 0.0; });
        return c / n;
    }
    default:
        break;
    }
    // The boolean metrics: counts of (x != 0, y != 0) pairs; n_ff = n - the rest.
    double tt = 0.0, tf = 0.0, ft = 0.0;
    visit(x, y, dim, [&](std::size_t, double a, double b) {
        const bool xa = a != 0.0, yb = b != 0.0;
        tt += xa && yb ? 1.0 : 0.0;
        tf += xa && !yb ? 1.0 : 0.0;
        ft += !xa && yb ? 1.0 : 0.0;
    });
    const double ne = tf + ft, ff = n - tt - tf - ft;
    switch (spec_.kind) {
    case Metric::matching: return ne / n;
    case Metric::jaccard: return tt + ne == 0.0 ? 0.0 : ne / (tt + ne);
    case Metric::dice: return ne == 0.0 ? 0.0 : ne / (2.0 * tt + ne);
    case Metric::kulsinski: return ne == 0.0 ? 0.0 : (ne - tt + n) / (ne + n);
    case Metric::rogerstanimoto:
    case Metric::sokalmichener: return 2.0 * ne / (n + ne);
    case Metric::russellrao: return ne == 0.0 ? 0.0 : (n - tt) / n;
    case Metric::sokalsneath: return ne == 0.0 ? 0.0 : ne / (0.5 * tt + ne);
    case Metric::yule: return tf == 0.0 || ft == 0.0 ? 0.0 : 2.0 * tf * ft / (tt * ff + tf * ft);
    default: break;
    }
    return std::numeric_limits<double>::quiet_NaN();  // unreachable: every kind is handled above
}

} // namespace nembed
