#include "nembed/loss/kl.hpp"

#include <cmath>
#include <string>

#include "nembed/core/error.hpp"

namespace nembed {

double sum_p_log_p(const CsrMatrix<double>& P) {
    double s = 0.0;
    for (double p : P.values) {
        if (p > 0.0) s += p * std::log(p);
    }
    return s;
}

std::vector<double> row_sums(const CsrMatrix<double>& P) {
    std::vector<double> r(P.n_rows, 0.0);
    for (std::size_t i = 0; i < P.n_rows; ++i) {
        for (offset_t p = P.indptr[i]; p < P.indptr[i + 1]; ++p) r[i] += P.values[p];
    }
    return r;
}

double kl_from_parts(double sum_p_log_p, double sum_p_log_w, double sum_p, double Z) {
    require(std::isfinite(Z) && Z > 0.0, "kl_from_parts: the normalisation Z must be positive and finite, got " +
                                             std::to_string(Z));
    return sum_p_log_p - sum_p_log_w + sum_p * std::log(Z);
}

double exaggeration_corrected_kl(double error, double exaggeration) {
    require(std::isfinite(exaggeration) && exaggeration > 0.0,
            "exaggeration must be positive and finite, got " + std::to_string(exaggeration));
    return error / exaggeration - std::log(exaggeration);
}

} // namespace nembed
