#include "nembed/loss/tsne_objective.hpp"

#include <cmath>
#include <limits>
#include <string>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/loss/attraction.hpp"
#include "nembed/loss/kl.hpp"
#include "nembed/repulsion/repulsion.hpp"

namespace nembed {
namespace {
void check_p(const CsrMatrix<double>& P, const OutputKernel& kernel, double rho, const char* what) {
    const std::string w(what);
    try {
        validate(kernel);
    } catch (const InvalidArgument& e) {
        throw InvalidArgument(w + ": " + e.what());
    }
    require(std::isfinite(rho) && rho > 0.0,
            w + ": the repulsion strength must be positive and finite, got " + std::to_string(rho));
    require(P.indptr.size() == P.n_rows + 1 && P.indices.size() == P.values.size() &&
                static_cast<std::size_t>(P.indptr.back()) == P.values.size(),
            w + ": malformed sparse matrix P");
    for (double v : P.values) {
        require_lazy(std::isfinite(v) && v >= 0.0, [&] { return std::string(w + ": P must be finite and non-negative"); });
    }
}
} // namespace

TsneObjective::TsneObjective(const CsrMatrix<double>& P, Repulsion& repulsion, const OutputKernel& kernel,
                             int n_threads, double repulsion_strength, bool float32_p)
    : P_(P), repulsion_(repulsion), kernel_(kernel), n_threads_(n_threads), rho_(repulsion_strength) {
    check_p(P, kernel, repulsion_strength, "t-SNE objective");
    require(P.n_rows == P.n_cols, "t-SNE objective: P must be square, got " + std::to_string(P.n_rows) + " x " +
                                      std::to_string(P.n_cols));
    sum_p_log_p_ = sum_p_log_p(P);
    sum_p_ = P.sum();
    if (float32_p) p_f32_ = values_f32(P);
}

double TsneObjective::operator()(MatrixView<double> Y, double exaggeration, double* grad, bool want_kl) {
    require(Y.rows == P_.n_rows, "t-SNE objective: the embedding has " + std::to_string(Y.rows) +
                                     " points but P has " + std::to_string(P_.n_rows) + " rows");
    forces_.resize(Y.size());
    const double Z = repulsion_.compute(Y, kernel_, forces_.data());
    require(std::isfinite(Z) && Z > 0.0, "t-SNE objective: the repulsion normalisation Z is not positive");
    last_z_ = Z;
    if (p_f32_.empty()) attractive_forces(P_, Y, kernel_, exaggeration, grad, n_threads_);
    else attractive_forces(P_, p_f32_, Y, kernel_, exaggeration, grad, n_threads_);
    const double inv_z = rho_ * (1.0 / Z);  // ρ = 1: exactly 1/Z
    const double* f = forces_.data();
    parallelize(n_threads_, Y.size(), [&](int, std::size_t b, std::size_t e) {
        for (std::size_t k = b; k < e; ++k) grad[k] -= f[k] * inv_z;
    });
    if (!want_kl) return std::numeric_limits<double>::quiet_NaN();
    return kl_from_parts(sum_p_log_p_, sum_p_log_w(P_, Y, kernel_, n_threads_), sum_p_, Z);
}

PartialTsneObjective::PartialTsneObjective(const CsrMatrix<double>& P, MatrixView<double> reference,
                                           Repulsion& repulsion, const OutputKernel& kernel, int n_threads,
                                           double repulsion_strength)
    : P_(P), reference_(reference), repulsion_(repulsion), kernel_(kernel), n_threads_(n_threads),
      rho_(repulsion_strength) {
    check_p(P, kernel, repulsion_strength, "partial t-SNE objective");
    require(P.n_cols == reference.rows, "partial t-SNE objective: P has " + std::to_string(P.n_cols) +
                                            " columns but the reference has " + std::to_string(reference.rows) +
                                            " points");
    sum_p_log_p_ = sum_p_log_p(P);
    row_sums_ = row_sums(P);
}

double PartialTsneObjective::operator()(MatrixView<double> Y, double exaggeration, double* grad, bool want_kl) {
    require(Y.rows == P_.n_rows, "partial t-SNE objective: the embedding has " + std::to_string(Y.rows) +
                                     " points but P has " + std::to_string(P_.n_rows) + " rows");
    require(Y.cols == reference_.cols, "partial t-SNE objective: new points and reference differ in dimension");
    forces_.resize(Y.size());
    z_.resize(Y.rows);
    repulsion_.compute_partial(reference_, Y, kernel_, forces_.data(), z_.data());
    attractive_forces(P_, Y, reference_, kernel_, exaggeration, grad, n_threads_);
    const std::size_t d = Y.cols;
    parallel_for(n_threads_, Y.rows, [&](std::size_t i) {
        const double zi = z_[i];
        if (!(zi > 0.0)) return;  // a point infinitely far from everything feels no repulsion
        for (std::size_t c = 0; c < d; ++c) grad[i * d + c] -= rho_ * forces_[i * d + c] / zi;  // ρ = 1: exact
    });
    if (!want_kl) return std::numeric_limits<double>::quiet_NaN();
    double log_z = 0.0;
    for (std::size_t i = 0; i < Y.rows; ++i) {
        if (row_sums_[i] > 0.0) {
            require_lazy(z_[i] > 0.0 && std::isfinite(z_[i]), [&] { return std::string("partial t-SNE objective: non-positive normalisation"); });
            log_z += row_sums_[i] * std::log(z_[i]);
        }
    }
    return sum_p_log_p_ - sum_p_log_w(P_, Y, reference_, kernel_, n_threads_) + log_z;
}

} // namespace nembed
