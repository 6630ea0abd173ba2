// TorchDR's TSNEkhorn (methods/tsnekhorn.hpp) on the NeighborEmbedding driver.
#include "nembed/methods/tsnekhorn.hpp"

#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "nembed/affinity/entropic.hpp"
#include "nembed/affinity/symmetric_entropic.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/timer.hpp"

namespace nembed::torchdr {
namespace {

void check(const TSNEkhornOptions& o, std::size_t n) {
    require(std::isfinite(o.perplexity) && o.perplexity > 0, "perplexity must be positive");
    require(static_cast<double>(n) > o.perplexity, "Number of samples is smaller than perplexity (" +
                                                       std::to_string(n) + " <= " + std::to_string(o.perplexity) + ")");
    require(std::isfinite(o.lr_affinity_in) && o.lr_affinity_in > 0, "lr_affinity_in must be positive");
    require(std::isfinite(o.tol_affinity_in) && o.tol_affinity_in > 0, "tol_affinity_in must be positive");
    require(o.max_iter_affinity_in >= 1, "max_iter_affinity_in must be at least 1");
    require(!o.unrolling, "TSNEkhorn: unrolling=true is not supported; use unrolling=false (TorchDR's default)");
    validate(static_cast<const NeighborEmbeddingOptions&>(o), n);
}

} // namespace

NeResult TSNEkhorn::fit_transform_affinity(const CsrMatrix<double>& P, MatrixView<float> X,
                                           const TrainHooks& hooks) const {
    return fit_owned(CsrMatrix<double>(P), X, hooks);
}

NeResult TSNEkhorn::fit_owned(CsrMatrix<double> P, MatrixView<float> X, const TrainHooks& hooks) const {
    const TSNEkhornOptions& o = options_;
    const std::size_t n = P.n_rows;
    check(o, n);
    if (o.init == NeInit::pca)
        require(X.rows == n, "TSNEkhorn: X has " + std::to_string(X.rows) + " rows, P " + std::to_string(n));
    TsnekhornLossOptions lo;
    lo.n_threads = o.n_threads;
    lo.unrolling = o.unrolling;
    auto objective = std::make_shared<TsnekhornObjective>(std::move(P), lo);
    // TorchDR's TSNEkhorn overrides the exaggerated loss: the exaggeration never reaches it.
    return run_method(
        o, X, n, "TSNEkhorn",
        [objective](MatrixView<double> Y, const NeStepInfo&, double* g, bool want) {
            return (*objective)(Y, 1.0, g, want);
        },
        hooks);
}

CsrMatrix<double> TSNEkhorn::input_affinity(MatrixView<float> X) const {
    const TSNEkhornOptions& o = options_;
    const std::size_t n = X.rows;
    check(o, n);
    if (!o.symmetric_affinity) {
        EntropicAffinityOptions eo;  // TorchDR: EntropicAffinity(perplexity, metric, max_iter=max_iter_affinity_in)
        eo.perplexity = o.perplexity;
        eo.metric = o.metric;
        eo.max_iter = o.max_iter_affinity_in;
        eo.n_threads = o.n_threads;
        return EntropicAffinity(eo)(X);
    }
    SymmetricEntropicAffinityOptions so;  // TorchDR's TSNEkhorn arguments
    so.perplexity = o.perplexity;
    so.lr = o.lr_affinity_in;
    so.eps_square = o.eps_square_affinity_in;
    so.tol = o.tol_affinity_in;
    so.max_iter = o.max_iter_affinity_in;
    so.metric = o.metric;
    so.zero_diag = false;
    so.n_threads = o.n_threads;
    Matrix<double> D = SymmetricEntropicAffinity(so)(X);
    // Dense to CSR with every entry (the diagonal included, as TorchDR's dense P); the values moved, not copied.
    CsrMatrix<double> P;
    P.n_rows = P.n_cols = n;
    P.indptr.resize(n + 1);
    for (std::size_t i = 0; i <= n; ++i) P.indptr[i] = static_cast<offset_t>(i * n);
    P.indices.resize(n * n);
    P.values = std::move(D.storage());
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j) P.indices[i * n + j] = static_cast<index_t>(j);
    return P;
}

NeResult TSNEkhorn::fit_transform(MatrixView<float> X, const TrainHooks& hooks) const {
    return fit_unique_rows(X, options_, [&](MatrixView<float> Xu, const std::optional<Matrix<double>>& init) {
        TSNEkhornOptions o = options_;
        o.init_array = init;
        const Timer t;
        CsrMatrix<double> P = TSNEkhorn(o).input_affinity(Xu);
        const double seconds = t.seconds();
        NeResult r = TSNEkhorn(o).fit_owned(std::move(P), Xu, hooks);
        r.timings.affinity = seconds;
        return r;
    });
}

} // namespace nembed::torchdr
