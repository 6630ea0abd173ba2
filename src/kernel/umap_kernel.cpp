// Levenberg–Marquardt fit of UMAP's (a, b) (umap-learn's find_ab_params).
#include "nembed/kernel/umap_kernel.hpp"

#include <array>
#include <stdexcept>
#include <vector>

#include "nembed/core/error.hpp"

namespace nembed {

UmapCurve find_ab_params(double spread, double min_dist) {
    require(std::isfinite(spread) && spread > 0, "spread must be positive, got " + std::to_string(spread));
    require(std::isfinite(min_dist) && min_dist >= 0, "min_dist must be >= 0, got " + std::to_string(min_dist));
    require(min_dist <= spread, "min_dist must be <= spread (umap-learn's rule), got min_dist " +
                                    std::to_string(min_dist) + " > spread " + std::to_string(spread));
    constexpr int n = 300;
    std::vector<double> x(n), y(n);
    for (int i = 0; i < n; ++i) {
        x[i] = 3.0 * spread * i / (n - 1);  // numpy.linspace(0, 3·spread, 300)
        y[i] = x[i] < min_dist ? 1.0 : std::exp(-(x[i] - min_dist) / spread);
    }
    // residuals r = f(x; a, b) − y; f = 1/(1 + a·x^(2b)); ∂f/∂a = −x^(2b) f², ∂f/∂b = −a·x^(2b)·2·ln x·f²
    // (x = 0: x^(2b)·ln x → 0, which is what curve_fit's finite differences see there).
    auto cost = [&](double a, double b) {
        double s = 0;
        for (int i = 0; i < n; ++i) {
            const double p = x[i] > 0 ? std::pow(x[i], 2 * b) : 0.0;
            const double r = 1.0 / (1.0 + a * p) - y[i];
            s += r * r;
        }
        return s;
    };
    double a = 1.0, b = 1.0, lambda = 1e-3;
    double c = cost(a, b);
    for (int it = 0; it < 500; ++it) {
        std::array<double, 3> JtJ{0, 0, 0};  // [aa, ab, bb]
        std::array<double, 2> Jtr{0, 0};
        for (int i = 0; i < n; ++i) {
            if (x[i] <= 0) continue;  // f = 1 and both derivatives vanish at x = 0
            const double p = std::pow(x[i], 2 * b);
            const double f = 1.0 / (1.0 + a * p);
            const double r = f - y[i];
            const double ja = -p * f * f, jb = -a * p * 2.0 * std::log(x[i]) * f * f;
            JtJ[0] += ja * ja;
            JtJ[1] += ja * jb;
            JtJ[2] += jb * jb;
            Jtr[0] += ja * r;
            Jtr[1] += jb * r;
        }
        bool improved = false;
        for (int tries = 0; tries < 30 && !improved; ++tries) {
            // Marquardt's scaling: damp the diagonal proportionally
            const double h00 = JtJ[0] * (1 + lambda), h11 = JtJ[2] * (1 + lambda), h01 = JtJ[1];
            const double det = h00 * h11 - h01 * h01;
            if (!(std::abs(det) > 0)) {
                lambda *= 10;
                continue;
            }
            const double da = -(h11 * Jtr[0] - h01 * Jtr[1]) / det;
            const double db = -(-h01 * Jtr[0] + h00 * Jtr[1]) / det;
            const double cn = cost(a + da, b + db);
            if (std::isfinite(cn) && cn <= c) {
                const bool converged = c - cn <= 1e-15 * (1 + c) && std::abs(da) <= 1e-12 * (1 + std::abs(a)) &&
                                       std::abs(db) <= 1e-12 * (1 + std::abs(b));
                a += da;
                b += db;
                c = cn;
                lambda = std::max(lambda / 10, 1e-12);
                improved = true;
                if (converged) return {a, b};
            } else {
                lambda *= 10;
            }
        }
        if (!improved) return {a, b};  // no further decrease possible: at the minimum to machine precision
    }
    if (!std::isfinite(a) || !std::isfinite(b)) throw std::runtime_error("find_ab_params: the fit did not converge");
    return {a, b};
}

} // namespace nembed
