// TorchDR's COSNE objective (loss/cosne.hpp): exact O(N²) sums in the Poincaré ball.
#include "nembed/loss/cosne.hpp"

#include <cmath>
#include <string>

#include "nembed/affinity/symmetrize.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/kernel/hyperbolic.hpp"

namespace nembed {

void validate(const CosneLossOptions& o) {
    require(std::isfinite(o.gamma) && o.gamma > 0, "gamma must be positive, got " + std::to_string(o.gamma));
    require(std::isfinite(o.learning_rate_for_h_loss) && o.learning_rate_for_h_loss >= 0,
            "learning_rate_for_h_loss must be non-negative, got " + std::to_string(o.learning_rate_for_h_loss));
    require(std::isfinite(o.repulsion_strength) && o.repulsion_strength >= 0,
            "repulsion_strength must be non-negative, got " + std::to_string(o.repulsion_strength));
    require(o.n_threads >= 1, "n_threads must be at least 1");
}

CosneObjective::CosneObjective(CsrMatrix<double> P, std::vector<double> x_sqnorm, CosneLossOptions options)
    : P_(std::move(P)), x_sqnorm_(std::move(x_sqnorm)), options_(options) {
    validate(options_);
    P_.validate("COSNE affinity P");
    require(P_.n_rows == P_.n_cols && P_.n_rows >= 1, "COSNE: the affinity P must be square and non-empty");
    require(x_sqnorm_.size() == P_.n_rows, "COSNE: x_sqnorm has " + std::to_string(x_sqnorm_.size()) +
                                               " entries for " + std::to_string(P_.n_rows) + " points");
    for (double v : P_.values) require(std::isfinite(v) && v >= 0, "COSNE: the affinity P must be non-negative");
    for (double v : x_sqnorm_) require(std::isfinite(v) && v >= 0, "COSNE: x_sqnorm must be non-negative");
    W_ = symmetrize(P_, Symmetrization::mean, options_.n_threads);  // (P + Pᵀ)/2
    for (double& v : W_.values) v *= 2.0;
}

double CosneObjective::operator()(MatrixView<double> Z, double ex, double* grad, bool) const {
    const std::size_t n = P_.n_rows, d = Z.cols;
    require(Z.rows == n && d >= 1, "COSNE: the embedding has " + std::to_string(Z.rows) + " rows, P " +
                                       std::to_string(n));
    const int nt = options_.n_threads;
    const double gamma = options_.gamma, g2 = gamma * gamma, log_gamma = std::log(gamma);
    const double rho = options_.repulsion_strength, lam = options_.learning_rate_for_h_loss;

    std::vector<double> norm(n);
    parallel_for(nt, n, [&](std::size_t i) { norm[i] = hyperbolic::dot(Z.row(i), Z.row(i), d); });
    for (std::size_t i = 0; i < n; ++i)
        require_lazy(norm[i] < 1.0, [&] { return "COSNE: point " + std::to_string(i) +
                                                 " lies outside the open unit ball (Poincaré model)"; });
    // Per row: Σ_j Q_ij (diagonal included), the repulsion vector S_i, the attraction value and the norm term.
    std::vector<double> row_z(n), row_att(n), row_norm(n), S(n * d);
    const double q_diag = gamma / (hyperbolic::sqdist_from(0.0, 0.0, 0.0) + g2);  // C = 0: D = arccosh(1 + 1e-8)²
    parallelize(nt, n, [&](int, std::size_t b, std::size_t e) {
        for (std::size_t i = b; i < e; ++i) {
            const double* zi = Z.row(i);
            double* gi = grad + i * d;
            double* si = S.data() + i * d;
            for (std::size_t k = 0; k < d; ++k) gi[k] = si[k] = 0.0;
            const double ni = norm[i], ai = 1.0 / (1.0 - ni);
            double zsum = q_diag;
            for (std::size_t j = 0; j < n; ++j) {
                if (j == i) continue;
                const double* zj = Z.row(j);
                const double C = hyperbolic::sqdiff(zi, zj, d);
                double g = 0.0;
                const double D = hyperbolic::sqdist_and_scale(C, ni, norm[j], g);
                const double inv = 1.0 / (D + g2);
                const double q = gamma * inv;
                zsum += q;
                const double c = q * inv * g;  // Q/(D + γ²) · g
                const double ca = C * ai;
                for (std::size_t k = 0; k < d; ++k) si[k] += c * ((zi[k] - zj[k]) + ca * zi[k]);
            }
            row_z[i] = zsum;
            // Attraction: W = P + Pᵀ for the gradient (both ends of every edge), P itself for the value.
            for (offset_t p = W_.row_begin(i); p < W_.row_end(i); ++p) {
                const std::size_t j = static_cast<std::size_t>(W_.indices[p]);
                if (j == i) continue;  // D_ii does not move with z_i
                const double* zj = Z.row(j);
                const double C = hyperbolic::sqdiff(zi, zj, d);
                double g = 0.0;
                const double D = hyperbolic::sqdist_and_scale(C, ni, norm[j], g);
                const double c = ex * W_.values[p] / (D + g2) * g;
                const double ca = C * ai;
                for (std::size_t k = 0; k < d; ++k) gi[k] += c * ((zi[k] - zj[k]) + ca * zi[k]);
            }
            double att = 0.0;
            for (offset_t p = P_.row_begin(i); p < P_.row_end(i); ++p) {
                const std::size_t j = static_cast<std::size_t>(P_.indices[p]);
                const double D = hyperbolic::sqdist_from(hyperbolic::sqdiff(zi, Z.row(j), d), ni, norm[j]);
                att += P_.values[p] * (std::log(D + g2) - log_gamma);  // −P log Q
            }
            row_att[i] = att;
            // Norm matching: D(z_i, 0) against ‖x_i‖²; ∂D(z, 0)/∂z = g·(z + ‖z‖²·z/(1 − ‖z‖²)).
            double g0 = 0.0;
            const double D0 = hyperbolic::sqdist_and_scale(ni, ni, 0.0, g0);
            const double diff = D0 - x_sqnorm_[i];
            row_norm[i] = diff * diff;
            const double cn = rho * lam * 2.0 / static_cast<double>(n) * diff * g0 * (1.0 + ni * ai);
            for (std::size_t k = 0; k < d; ++k) gi[k] += cn * zi[k];
        }
    });
    double Zsum = 0.0, att = 0.0, nsum = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        Zsum += row_z[i];
        att += row_att[i];
        nsum += row_norm[i];
    }
    const double rep = -rho * 2.0 / Zsum;
    parallel_for(nt, n, [&](std::size_t i) {
        for (std::size_t k = 0; k < d; ++k) grad[i * d + k] += rep * S[i * d + k];
    });
    return att + rho * (std::log(Zsum) + lam * nsum / static_cast<double>(n));
}

} // namespace nembed
