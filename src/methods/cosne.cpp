// TorchDR's COSNE (methods/cosne.hpp) on the NeighborEmbedding driver.
#include "nembed/methods/cosne.hpp"

#include <cmath>
#include <memory>
#include <optional>
#include <string>

#include "nembed/core/error.hpp"
#include "nembed/core/timer.hpp"

namespace nembed::torchdr {
namespace {

std::vector<double> squared_norms(MatrixView<float> X) {
    std::vector<double> xn(X.rows);
    for (std::size_t i = 0; i < X.rows; ++i) {
        double s = 0;
        for (std::size_t c = 0; c < X.cols; ++c) s += static_cast<double>(X(i, c)) * static_cast<double>(X(i, c));
        xn[i] = s;
    }
    return xn;
}

} // namespace

NeResult COSNE::fit_transform_affinity(const CsrMatrix<double>& P, std::vector<double> x_sqnorm, MatrixView<float> X,
                                       const TrainHooks& hooks) const {
    const COSNEOptions& o = options_;
    const std::size_t n = P.n_rows;
    require(std::isfinite(o.perplexity) && o.perplexity > 0, "perplexity must be positive");
    require(static_cast<double>(n) > o.perplexity, "Number of samples is smaller than perplexity (" +
                                                       std::to_string(n) + " <= " + std::to_string(o.perplexity) + ")");
    validate(static_cast<const NeighborEmbeddingOptions&>(o), n);
    // A network's output is not confined to the Poincaré ball (COSNE's map); TorchDR's COSNE has no encoder either.
    require(!o.encoder.enabled, "COSNE: encoder is not supported (the network's output is not confined to the "
                                "Poincaré ball that COSNE's hyperbolic map lives in)");
    CosneLossOptions lo;
    lo.gamma = o.gamma;
    lo.learning_rate_for_h_loss = o.learning_rate_for_h_loss;
    lo.repulsion_strength = o.repulsion_strength;  // the phases carry the same ρ
    lo.n_threads = o.n_threads;
    auto objective = std::make_shared<CosneObjective>(P, std::move(x_sqnorm), lo);  // validates lo and the sizes
    return run_method(
        o, X, n, "COSNE",
        [objective](MatrixView<double> Y, const NeStepInfo& s, double* g, bool want) {
            return (*objective)(Y, s.exaggeration, g, want);
        },
        hooks);
}

NeResult COSNE::fit_transform_affinity(const CsrMatrix<double>& P, MatrixView<float> X,
                                       const TrainHooks& hooks) const {
    require(X.rows == P.n_rows, "COSNE: X has " + std::to_string(X.rows) + " rows, P " + std::to_string(P.n_rows));
    return fit_transform_affinity(P, squared_norms(X), X, hooks);
}

NeResult COSNE::fit_transform(MatrixView<float> X, const TrainHooks& hooks) const {
    return fit_unique_rows(X, options_, [&](MatrixView<float> Xu, const std::optional<Matrix<double>>& init) {
        COSNEOptions o = options_;
        o.init_array = init;
        const Timer t;
        const CsrMatrix<double> P = entropic_affinity(o, Xu);  // rows sum to 1/N, total 1
        const double seconds = t.seconds();
        NeResult r = COSNE(o).fit_transform_affinity(P, Xu, hooks);
        r.timings.affinity = seconds;
        return r;
    });
}

} // namespace nembed::torchdr
