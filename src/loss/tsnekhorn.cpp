// TorchDR's TSNEkhorn objective (loss/tsnekhorn.hpp); Q's Sinkhorn is affinity/sinkhorn.hpp's.
#include "nembed/loss/tsnekhorn.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "nembed/affinity/symmetrize.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/kernel/hyperbolic.hpp"  // sqdiff

namespace nembed {

namespace {
// TorchDR excludes self-pairs by adding 1e12 to the diagonal of the distance matrix; the kernel keeps them.
constexpr double kDiagonalDistance = 1e12;
const double kDiagonalKernel = 1.0 / (1.0 + kDiagonalDistance);

SinkhornAffinityOptions sinkhorn_threads(TsnekhornLossOptions o) {
    o.sinkhorn.n_threads = o.n_threads;
    return o.sinkhorn;
}
} // namespace

SinkhornAffinityOptions tsnekhorn_output_sinkhorn() {
    SinkhornAffinityOptions o;
    o.base_kernel = SinkhornBaseKernel::student;
    o.eps = 1.0;
    o.max_iter = 5;
    o.tol = 1e-5;
    o.metric = CostMetric::sqeuclidean;
    o.zero_diag = true;
    return o;
}

void validate(const TsnekhornLossOptions& o) {
    require(!o.unrolling, "TSNEkhorn: unrolling=true (differentiating through the Sinkhorn iterations) is not "
                          "supported; use unrolling=false (TorchDR's default)");
    static_cast<void>(SinkhornAffinity(o.sinkhorn));  // validates the Sinkhorn options
    require(o.n_threads >= 1, "n_threads must be at least 1");
}

TsnekhornObjective::TsnekhornObjective(CsrMatrix<double> P, TsnekhornLossOptions options)
    : P_(std::move(P)), options_(options), sinkhorn_((validate(options), sinkhorn_threads(options))) {
    P_.validate("TSNEkhorn affinity P");
    require(P_.n_rows == P_.n_cols && P_.n_rows >= 2, "TSNEkhorn: the affinity P must be square with >= 2 points");
    for (double v : P_.values) require(std::isfinite(v) && v >= 0, "TSNEkhorn: the affinity P must be non-negative");
    if (dense_symmetric(P_)) return;  // P + Pᵀ = 2P: no second N × N copy (TorchDR's input affinity is symmetric)
    W_ = symmetrize(P_, Symmetrization::mean, options_.n_threads);  // (P + Pᵀ)/2
    for (double& v : W_.values) v *= 2.0;
}

bool TsnekhornObjective::dense_symmetric(const CsrMatrix<double>& P) {
    const std::size_t n = P.n_rows;
    if (P.values.size() != n * n) return false;
    for (std::size_t i = 0; i < n; ++i)
        if (P.indptr[i] != static_cast<offset_t>(i * n)) return false;
    for (std::size_t p = 0; p < n * n; ++p)
        if (P.indices[p] != static_cast<index_t>(p % n)) return false;
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < i; ++j)
            if (P.values[i * n + j] != P.values[j * n + i]) return false;
    return true;
}

void TsnekhornObjective::set_duals(std::vector<double> f) {
    require(f.size() == P_.n_rows, "TSNEkhorn: the duals must have one entry per point");
    dual_ = std::move(f);
}

double TsnekhornObjective::operator()(MatrixView<double> Z, double, double* grad, bool) {
    const std::size_t n = P_.n_rows, d = Z.cols;
    require(Z.rows == n && d >= 1, "TSNEkhorn: the embedding has " + std::to_string(Z.rows) + " rows, P " +
                                       std::to_string(n));
    sinkhorn_.fit_dual(Z, dual_);  // empty duals: TorchDR's cold start (zeros)
    dual_ = sinkhorn_.dual();
    last_iter_ = sinkhorn_.n_iter() + 1;
    const std::vector<double>& f = dual_;
    const double log_n = std::log(static_cast<double>(n)), inv_n = 1.0 / static_cast<double>(n);
    std::vector<double> row_q(n), row_pl(n), ef(n);
    for (std::size_t j = 0; j < n; ++j) ef[j] = std::exp(f[j]);  // e^{f_i + f_j} = e^{f_i} e^{f_j}: no exp per pair
    // W = P + Pᵀ; when P is symmetric W_ is empty and 2P is read from P (the same values: 2·(P + P)/2 = 2P exactly).
    const CsrMatrix<double>& W = W_.n_rows ? W_ : P_;
    const double w_scale = W_.n_rows ? 2.0 : 4.0;
    parallel_for(options_.n_threads, n, [&](std::size_t i) {
        const double* zi = Z.row(i);
        double* gi = grad + i * d;
        for (std::size_t k = 0; k < d; ++k) gi[k] = 0.0;
        double qsum = ef[i] * ef[i] * kDiagonalKernel * inv_n;
        for (std::size_t j = 0; j < n; ++j) {
            if (j == i) continue;
            const double* zj = Z.row(j);
            const double K = 1.0 / (1.0 + hyperbolic::sqdiff(zi, zj, d));
            const double q = ef[i] * ef[j] * K * inv_n;
            qsum += q;
            const double c = -4.0 * q * K;
            for (std::size_t k = 0; k < d; ++k) gi[k] += c * (zi[k] - zj[k]);
        }
        row_q[i] = qsum;
        for (offset_t p = W.row_begin(i); p < W.row_end(i); ++p) {
            const std::size_t j = static_cast<std::size_t>(W.indices[p]);
            if (j == i) continue;
            const double* zj = Z.row(j);
            const double c = w_scale * W.values[p] / (1.0 + hyperbolic::sqdiff(zi, zj, d));
            for (std::size_t k = 0; k < d; ++k) gi[k] += c * (zi[k] - zj[k]);
        }
        double pl = 0.0;  // Σ_j P_ij log Q_ij
        for (offset_t p = P_.row_begin(i); p < P_.row_end(i); ++p) {
            const std::size_t j = static_cast<std::size_t>(P_.indices[p]);
            const double D = j == i ? kDiagonalDistance : hyperbolic::sqdiff(zi, Z.row(j), d);
            pl += P_.values[p] * (f[i] + f[j] - std::log1p(D) - log_n);
        }
        row_pl[i] = pl;
    });
    double qs = 0.0, pl = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        qs += row_q[i];
        pl += row_pl[i];
    }
    return -pl + qs;
}

} // namespace nembed
