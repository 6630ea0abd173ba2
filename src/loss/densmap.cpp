// densMAP's density term (loss/densmap.hpp): radii, per-epoch statistics, the per-edge coefficient.
#include "nembed/loss/densmap.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "nembed/affinity/fuzzy.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/log.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/neighbors/distance.hpp"
#include "nembed/neighbors/generic.hpp"

namespace nembed {

namespace {
constexpr double kEps = 1e-8;  // umap-learn's epsilon inside the radii's log

void check_symmetric(const CsrMatrix<double>& g) {
    require(g.n_rows == g.n_cols, "densMAP: the graph must be square, got " + std::to_string(g.n_rows) + " x " +
                                      std::to_string(g.n_cols));
    // Φ_k and μ_tot count every edge at k in both directions (umap-learn's COO loop); with a symmetric graph that is
    // twice the row's sum, which is what the per-row computation uses.
    for (std::size_t i = 0; i < g.n_rows; ++i)
        for (offset_t p = g.indptr[i]; p < g.indptr[i + 1]; ++p) {
            const auto j = static_cast<std::size_t>(g.indices[p]);
            const auto* b = g.indices.data() + g.indptr[j];
            const auto* e = g.indices.data() + g.indptr[j + 1];
            const auto* it = std::find(b, e, static_cast<index_t>(i));
            require(it != e && g.values[static_cast<std::size_t>(it - g.indices.data())] == g.values[p],
                    "densMAP needs a symmetric graph (UMAP's fuzzy union); entry (" + std::to_string(i) + ", " +
                        std::to_string(j) + ") has no equal mirror");
        }
}
} // namespace

void validate(const DensmapOptions& o) {
    require(std::isfinite(o.lambda) && o.lambda >= 0, "dens_lambda cannot be negative, got " + std::to_string(o.lambda));
    require(std::isfinite(o.frac) && o.frac >= 0 && o.frac <= 1,
            "dens_frac must be between 0.0 and 1.0, got " + std::to_string(o.frac));
    require(std::isfinite(o.var_shift) && o.var_shift >= 0,
            "dens_var_shift cannot be negative, got " + std::to_string(o.var_shift));
}

std::vector<double> densmap_log_radii(const CsrMatrix<double>& g, const std::vector<double>& values) {
    require(values.size() == g.nnz(), "densMAP radii: one value per graph entry is needed");
    std::vector<double> r(g.n_rows);
    for (std::size_t i = 0; i < g.n_rows; ++i) {
        double num = 0, den = 0;
        for (offset_t p = g.indptr[i]; p < g.indptr[i + 1]; ++p) {
            num += g.values[p] * values[p];
            den += g.values[p];
        }
        r[i] = std::log(kEps + (den > 0 ? num / den : 0.0));
    }
    return r;
}

std::vector<double> densmap_data_radii(const CsrMatrix<double>& g, MatrixView<float> X, Metric metric,
                                       int n_threads, const MetricParams& params) {
    require(X.rows == g.n_rows, "densMAP: the data has " + std::to_string(X.rows) + " rows, the graph " +
                                    std::to_string(g.n_rows));
    std::vector<double> d2(g.nnz());
    if (!is_gemm_metric(metric) || !params.empty()) {
        // point_distance serves the three float32-path metrics only; the others are MetricEval's, as the kNN's
        const auto rows = detail::metric_rows(X, fit_knn_options(KnnMethod::exact, metric, 0, std::max(1, n_threads),
                                                                 params), "densMAP");
        parallel_for(std::max(1, n_threads), g.n_rows, [&](std::size_t i) {
            for (offset_t p = g.indptr[i]; p < g.indptr[i + 1]; ++p) {
                const double d = rows->distance(i, *rows, static_cast<std::size_t>(g.indices[p]));
                d2[p] = d * d;
            }
        });
        return densmap_log_radii(g, d2);
    }
    std::vector<double> norms(metric == Metric::cosine ? X.rows : 0);
    for (std::size_t i = 0; i < norms.size(); ++i) norms[i] = vector_norm(X.row(i), X.cols);
    parallel_for(std::max(1, n_threads), g.n_rows, [&](std::size_t i) {
        for (offset_t p = g.indptr[i]; p < g.indptr[i + 1]; ++p) {
            const auto j = static_cast<std::size_t>(g.indices[p]);
            const double d = point_distance(X.row(i), X.row(j), X.cols, metric, norms.empty() ? 0.0 : norms[i],
                                            norms.empty() ? 0.0 : norms[j]);
            d2[p] = d * d;
        }
    });
    return densmap_log_radii(g, d2);
}

std::vector<double> densmap_knn_radii(const CsrMatrix<double>& g, const KnnGraph& knn) {
    require(knn.n_points == g.n_rows && knn.n_reference == g.n_rows, "densMAP: the kNN graph does not match the graph");
    auto listed = [&](std::size_t i, std::size_t j) {  // the distance i -> j when j is among i's neighbours, else -1
        for (std::size_t t = 0; t < knn.k; ++t)
            if (static_cast<std::size_t>(knn.neighbors(i)[t]) == j) return static_cast<double>(knn.dists(i)[t]);
        return -1.0;
    };
    std::vector<double> d2(g.nnz());
    for (std::size_t i = 0; i < g.n_rows; ++i)
        for (offset_t p = g.indptr[i]; p < g.indptr[i + 1]; ++p) {
            const auto j = static_cast<std::size_t>(g.indices[p]);
            const double d = std::max({listed(i, j), listed(j, i), 0.0});
            d2[p] = d * d;
        }
    return densmap_log_radii(g, d2);
}

std::vector<double> densmap_embedding_radii(MatrixView<double> Y, std::size_t n_neighbors, int n_threads) {
    require(Y.rows >= 2, "densMAP: the embedding radii need at least 2 points");
    const std::size_t k = std::min(n_neighbors, Y.rows) - 1;
    require(k >= 1, "densMAP: the embedding radii need n_neighbors >= 2");
    Matrix<float> Yf(Y.rows, Y.cols);
    for (std::size_t i = 0; i < Y.rows; ++i)
        for (std::size_t c = 0; c < Y.cols; ++c) Yf(i, c) = static_cast<float>(Y(i, c));
    KnnOptions ko;
    ko.method = KnnMethod::exact;
    ko.n_threads = std::max(1, n_threads);
    const KnnGraph knn = build_knn_index(Yf.view(), ko)->self_neighbors(k);
    FuzzyOptions fo;
    fo.n_threads = ko.n_threads;
    const CsrMatrix<double> G = fuzzy_simplicial_set(knn, fo);
    std::vector<double> d(G.nnz());
    for (std::size_t i = 0; i < G.n_rows; ++i)
        for (offset_t p = G.indptr[i]; p < G.indptr[i + 1]; ++p)
            d[p] = point_distance(Yf.row(i), Yf.row(static_cast<std::size_t>(G.indices[p])), Y.cols,
                                  Metric::euclidean);
    return densmap_log_radii(G, d);
}

DensmapTerm::DensmapTerm(const CsrMatrix<double>& graph, const std::vector<double>& ro, UmapCurve curve,
                         DensmapOptions options)
    : curve_(curve), options_(options) {
    validate(options_);
    check_symmetric(graph);
    const std::size_t n = graph.n_rows;
    require(ro.size() == n, "densMAP: one data radius per point is needed");
    require(n >= 2, "densMAP needs at least 2 points");
    // R = standardised r_o (population std, as numpy's np.std)
    const double mean = std::accumulate(ro.begin(), ro.end(), 0.0) / static_cast<double>(n);
    double var = 0;
    for (double v : ro) var += (v - mean) * (v - mean);
    const double sd = std::sqrt(var / static_cast<double>(n));
    R_.assign(n, 0.0);
    if (sd > 0 && std::isfinite(sd)) {
        for (std::size_t i = 0; i < n; ++i) R_[i] = (ro[i] - mean) / sd;
    } else {
        // umap-learn divides by zero here (NaN embedding); equal radii give the term nothing to match
        warn("densMAP: all data radii are equal; the density term has no target and is left out");
    }
    mu_tot_ = std::accumulate(graph.values.begin(), graph.values.end(), 0.0);
}

bool DensmapTerm::active(std::int64_t epoch, int n_epochs) const {
    return options_.lambda > 0 &&
           (static_cast<double>(epoch) + 1.0) / static_cast<double>(n_epochs) > 1.0 - options_.frac;
}

void DensmapTerm::begin_epoch(const CsrMatrix<double>& g, const Matrix<double>& Y, int n_threads) {
    const std::size_t n = g.n_rows, d = Y.cols();
    require(Y.rows() == n && R_.size() == n, "densMAP: the embedding and the graph differ in size");
    re_.assign(n, 0.0);
    phi_sum_.assign(n, 0.0);
    const double a = curve_.a, b = curve_.b;
    parallel_for(std::max(1, n_threads), n, [&](std::size_t i) {
        double num = 0, den = 0;
        for (offset_t p = g.indptr[i]; p < g.indptr[i + 1]; ++p) {
            const double D = squared_distance(Y.row(i), Y.row(static_cast<std::size_t>(g.indices[p])), d);
            const double phi = 1.0 / (1.0 + a * std::pow(D, b));
            num += phi * D;
            den += phi;
        }
        // both directions of every edge, as umap-learn's loop over the COO entries (symmetric graph)
        phi_sum_[i] = 2.0 * den;
        re_[i] = std::log(kEps + (den > 0 ? num / den : 0.0));
    });
    const double nn = static_cast<double>(n);
    mean_ = std::accumulate(re_.begin(), re_.end(), 0.0) / nn;
    double var = 0, cov = 0;
    for (std::size_t i = 0; i < n; ++i) {
        var += (re_[i] - mean_) * (re_[i] - mean_);
        cov += re_[i] * R_[i];
    }
    std_ = std::sqrt(var / nn + options_.var_shift);
    cov_ = cov / (nn - 1.0);
}

double DensmapTerm::coefficient(std::size_t i, std::size_t j, double mu_p, double D) const {
    if (D <= 0 || std_ <= 0) return 0.0;  // coincident points: no direction (umap-learn's D^(b−1) may be infinite)
    const double a = curve_.a, b = curve_.b;
    const double u = a * std::pow(D, b);
    const double phi = 1.0 / (1.0 + u);
    const double dphi = a * b * std::pow(D, b - 1.0) / (1.0 + u);
    const double base = 1.0 - b * (1.0 - phi);
    const double dr_j = phi / phi_sum_[j] * (base / std::exp(re_[j]) + dphi);
    const double dr_i = phi / phi_sum_[i] * (base / std::exp(re_[i]) + dphi);
    const double s2 = std_ * std_;
    const double w_j = R_[j] - cov_ * (re_[j] - mean_) / s2;
    const double w_i = R_[i] - cov_ * (re_[i] - mean_) / s2;
    return options_.lambda * mu_tot_ * (w_j * dr_j + w_i * dr_i) / (mu_p * std_) / static_cast<double>(R_.size());
}

Matrix<double> DensmapTerm::gradient(const CsrMatrix<double>& g, const Matrix<double>& Y, int n_threads) {
    begin_epoch(g, Y, n_threads);
    const std::size_t d = Y.cols();
    Matrix<double> G(Y.rows(), d);
    for (std::size_t i = 0; i < g.n_rows; ++i)
        for (offset_t p = g.indptr[i]; p < g.indptr[i + 1]; ++p) {
            const auto j = static_cast<std::size_t>(g.indices[p]);
            const double D = squared_distance(Y.row(i), Y.row(j), d);
            const double c = 4.0 * coefficient(i, j, g.values[p], D) * g.values[p] / mu_tot_;
            for (std::size_t k = 0; k < d; ++k) G(i, k) += c * (Y(i, k) - Y(j, k));
        }
    return G;
}

} // namespace nembed
