// TorchDR's SymmetricEntropicAffinity: dual ascent on (ε, μ) with nembed's optimizers.
//
// Speed (docs/torchdr.md, "SymmetricEntropicAffinity", implementation): the cost is stored once in float32 and
// every step is one pass over it, row by row: the row's logits l_j = (μ_i + μ_j − 2C_ij)/(ε_i + ε_j) in float
// into the worker's aligned scratch row, then exp(l − max) (vmath) and the two sums Σ e and Σ e·(l − max) in 16
// float lanes added in double. TorchDR itself runs in float32 (X's dtype); the duals and Adam stay in double.
#include "nembed/affinity/symmetric_entropic.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "nembed/core/error.hpp"
#include "nembed/core/interrupt.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/core/vmath.hpp"
#include "torchdr_detail.hpp"

namespace nembed {

SymmetricEntropicAffinity::SymmetricEntropicAffinity(SymmetricEntropicAffinityOptions o) : options_(o) {
    torchdr_detail::require_positive(o.perplexity, "perplexity");
    torchdr_detail::require_positive(o.lr, "lr");
    torchdr_detail::require_positive(o.tol, "tol");
    require(o.max_iter >= 1, "max_iter must be >= 1, got " + std::to_string(o.max_iter));
    require(o.optimizer == OptimizerOptions::Kind::adam || o.optimizer == OptimizerOptions::Kind::sgd,
            "optimizer: SymmetricEntropicAffinity supports Adam and SGD");
    torchdr_detail::require_threads(o.n_threads);
}

namespace {

// -ffp-contract=off (CMakeLists.txt) keeps the clones bit-identical: the same operations in each lane, no FMA.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define NEMBED_SEA_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NEMBED_SEA_CLONES
#endif

constexpr std::size_t kLanes = 16;  // float accumulators per row sum; = vmath::kPad, so padded rows fill them
constexpr float kInfF = std::numeric_limits<float>::infinity();

// The costs of row i against every row, vectorised over j (Xt is X transposed, d × n, in double): the same
// operations in the same order as pair_cost(X_i, X_j), so each value is pair_cost's, rounded to float.
NEMBED_SEA_CLONES void cost_row(const double* Xt, std::size_t n, std::size_t d, std::size_t i, CostMetric m,
                                double* acc, float* out) {
    for (std::size_t j = 0; j < n; ++j) acc[j] = 0.0;
    for (std::size_t k = 0; k < d; ++k) {
        const double* col = Xt + k * n;
        const double a = col[i];
        switch (m) {
            case CostMetric::sqeuclidean:
            case CostMetric::euclidean:
                for (std::size_t j = 0; j < n; ++j) {
                    const double t = a - col[j];
                    acc[j] += t * t;
                }
                break;
            case CostMetric::manhattan:
                for (std::size_t j = 0; j < n; ++j) acc[j] += std::abs(a - col[j]);
                break;
            case CostMetric::angular:
                for (std::size_t j = 0; j < n; ++j) acc[j] += a * col[j];
                break;
        }
    }
    if (m == CostMetric::euclidean)
        for (std::size_t j = 0; j < n; ++j) acc[j] = std::sqrt(acc[j]);
    if (m == CostMetric::angular)
        for (std::size_t j = 0; j < n; ++j) acc[j] = -acc[j];
    for (std::size_t j = 0; j < n; ++j) out[j] = static_cast<float>(acc[j]);
}

// l_j = (μ_i + μ_j − 2 c_j)/(ε_i + ε_j) over a padded row (the pads are finite: c = μ = 0, ε = 1); returns the
// maximum over the first n (exact in any order). Each l_ij equals l_ji bit for bit (float + commutes).
NEMBED_SEA_CLONES float logits(const float* c, const float* mu, const float* e, float mu_i, float e_i,
                               std::size_t padded, std::size_t n, float* l) {
    for (std::size_t j = 0; j < padded; ++j) l[j] = (mu_i + mu[j] - 2.0f * c[j]) / (e_i + e[j]);
    float mx[kLanes];
    for (std::size_t k = 0; k < kLanes; ++k) mx[k] = -kInfF;
    for (std::size_t j = 0; j + kLanes <= n; j += kLanes)
        for (std::size_t k = 0; k < kLanes; ++k) mx[k] = std::max(mx[k], l[j + k]);
    float m = -kInfF;
    for (std::size_t k = 0; k < kLanes; ++k) m = std::max(m, mx[k]);
    for (std::size_t j = n / kLanes * kLanes; j < n; ++j) m = std::max(m, l[j]);
    return m;
}

// t_j ← l_j − m (the caller then takes e = exp(t) in place of a copy).
NEMBED_SEA_CLONES void shift(const float* l, float m, std::size_t padded, float* t) {
    for (std::size_t j = 0; j < padded; ++j) t[j] = l[j] - m;
}

// Σ_j e_j and Σ_j e_j t_j over a padded row (entries to skip have e = 0, t = 0), in kLanes float lanes (lane k
// sums j ≡ k mod kLanes; GCC's vector type, so no variant reorders it), the lanes added in double in lane order.
using Lanes = float __attribute__((vector_size(kLanes * sizeof(float))));
NEMBED_SEA_CLONES void row_sums(const float* e, const float* t, std::size_t padded, double& s, double& u) {
    Lanes as = {}, au = {};
    for (std::size_t j = 0; j < padded; j += kLanes) {
        Lanes ev, tv;
        std::memcpy(&ev, e + j, sizeof(Lanes));
        std::memcpy(&tv, t + j, sizeof(Lanes));
        as += ev;
        au += ev * tv;
    }
    s = u = 0.0;
    for (std::size_t k = 0; k < kLanes; ++k) {
        s += as[k];
        u += au[k];
    }
}

} // namespace

template <typename T>
Matrix<double> SymmetricEntropicAffinity::operator()(MatrixView<T> X, bool log) {
    const SymmetricEntropicAffinityOptions& o = options_;
    const std::size_t n = X.rows, d = X.cols;
    require(n >= 3, "SymmetricEntropicAffinity needs at least 3 points, got " + std::to_string(n));
    require(o.perplexity > 1.0 && o.perplexity < static_cast<double>(n - 1),
            "perplexity must lie in (1, N - 1) = (1, " + std::to_string(n - 1) + "), got " +
                std::to_string(o.perplexity));
    require(d >= 1, "SymmetricEntropicAffinity: the data need at least 1 feature");
    require_finite(X, "input data");
    const std::size_t np = vmath::padded(n);

    // C in float32, rows padded to np (pad costs 0).
    std::vector<float> C(n * np, 0.0f);
    {
        std::vector<double> Xt(d * n);
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t k = 0; k < d; ++k) Xt[k * n + i] = static_cast<double>(X.row(i)[k]);
        parallelize(o.n_threads, n, [&](int, std::size_t b, std::size_t e) {
            std::vector<double> acc(n);
            for (std::size_t i = b; i < e; ++i) {
                cost_row(Xt.data(), n, d, i, o.metric, acc.data(), &C[i * np]);
                if (o.zero_diag) C[i * np + i] = kInfF;  // l_ii = −∞: never the row's max; skipped in the sums
            }
        });
    }
    const double target = std::log(o.perplexity) + 1.0;

    // params = [ε (n), μ (n)]: torch's Adam is elementwise, so one block of 2n equals its two parameter tensors.
    std::vector<double> params(2 * n, 1.0), grad(2 * n), H(n), psum(n), out;
    OptimizerOptions oo;
    oo.kind = o.optimizer;
    auto opt = make_optimizer(oo);

    // The duals in float for the rows (ε squared when eps_square), padded with μ = 0, ε = 1 (finite logits).
    vmath::VBuffer<float> mu_f(n), e_f(n);
    auto float_duals = [&] {
        for (std::size_t i = 0; i < n; ++i) {
            e_f[i] = static_cast<float>(o.eps_square ? params[i] * params[i] : params[i]);
            mu_f[i] = static_cast<float>(params[n + i]);
        }
        for (std::size_t i = n; i < np; ++i) {
            e_f[i] = 1.0f;
            mu_f[i] = 0.0f;
        }
    };

    n_iter_ = 0;
    for (int it = 0; it < o.max_iter; ++it) {
        if (interrupt_requested()) throw Interrupted("SymmetricEntropicAffinity interrupted");
        float_duals();
        parallelize(o.n_threads, n, [&](int, std::size_t b, std::size_t end) {
            vmath::VBuffer<float> l(n), ex(n);
            for (std::size_t i = b; i < end; ++i) {
                const float m = logits(&C[i * np], mu_f.data(), e_f.data(), mu_f[i], e_f[i], np, n, l.data());
                shift(l.data(), m, np, ex.data());
                vmath::exp(ex.all());
                for (std::size_t j = n; j < np; ++j) ex[j] = 0.0f;
                // t = l − m back into l (ex holds exp(t)); skipped entries get e = t = 0.
                shift(l.data(), m, np, l.data());
                for (std::size_t j = n; j < np; ++j) l[j] = 0.0f;
                if (o.zero_diag) ex[i] = l[i] = 0.0f;
                double s, u;
                row_sums(ex.data(), l.data(), np, s, u);
                // P_ij = e^m e_j: Σ_j P_ij = e^m s, h = −Σ_j P_ij (l_j − 1) = −e^m (u + (m − 1) s).
                const double em = std::exp(static_cast<double>(m));
                psum[i] = em * s;
                H[i] = -em * (u + (static_cast<double>(m) - 1.0) * s);
            }
        });
        double ne = 0.0, nm = 0.0;
        for (std::size_t i = 0; i < n; ++i) {
            double ge = H[i] - target;
            if (o.eps_square) ge = 2.0 * params[i] * ge;  // the Jacobian of ε ↦ ε²
            grad[i] = ge;
            grad[n + i] = psum[i] - 1.0;
            ne += ge * ge;
            nm += grad[n + i] * grad[n + i];
        }
        // TorchDR returns the matrix of this step's duals (computed before the optimizer moves them).
        out.assign(params.begin(), params.end());
        opt->step(params.data(), grad.data(), 2 * n, o.lr, 1);
        if (!o.eps_square)
            for (std::size_t i = 0; i < n; ++i) params[i] = std::max(params[i], 0.0);
        for (double v : params)
            require(!std::isnan(v), "SymmetricEntropicAffinity: NaN in the dual variables at step " +
                                        std::to_string(it) + "; consider decreasing lr");
        n_iter_ = it;
        if (std::sqrt(ne) < o.tol && std::sqrt(nm) < o.tol) break;
    }
    params = out;
    eps_.assign(params.begin(), params.begin() + static_cast<std::ptrdiff_t>(n));
    mu_.assign(params.begin() + static_cast<std::ptrdiff_t>(n), params.end());

    // The returned matrix from the same float logits, shifted by log N (then exp'd unless `log`).
    float_duals();
    Matrix<double> P(n, n);
    const float log_n = static_cast<float>(std::log(static_cast<double>(n)));
    parallelize(o.n_threads, n, [&](int, std::size_t b, std::size_t end) {
        vmath::VBuffer<float> l(n);
        for (std::size_t i = b; i < end; ++i) {
            logits(&C[i * np], mu_f.data(), e_f.data(), mu_f[i], e_f[i], np, n, l.data());
            shift(l.data(), log_n, np, l.data());
            if (!log) vmath::exp(l.all());
            double* p = P.row(i);
            for (std::size_t j = 0; j < n; ++j) p[j] = static_cast<double>(l[j]);
            if (o.zero_diag) p[i] = log ? -std::numeric_limits<double>::infinity() : 0.0;
        }
    });
    return P;
}

template Matrix<double> SymmetricEntropicAffinity::operator()(MatrixView<float>, bool);
template Matrix<double> SymmetricEntropicAffinity::operator()(MatrixView<double>, bool);

} // namespace nembed
