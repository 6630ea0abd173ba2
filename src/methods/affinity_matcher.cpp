// TorchDR's AffinityMatcher (methods/affinity_matcher.hpp) on the NeighborEmbedding driver.
#include "nembed/methods/affinity_matcher.hpp"

#include <memory>
#include <string>

#include "nembed/core/error.hpp"
#include "nembed/core/timer.hpp"

namespace nembed::torchdr {

AffinityMatcherObjective AffinityMatcher::objective(const CsrMatrix<double>& P) const {
    AffinityMatcherLossOptions lo;
    lo.affinity_out = options_.affinity_out;
    lo.gaussian = options_.gaussian;
    lo.student = options_.student;
    lo.sinkhorn = options_.sinkhorn;
    lo.loss_fn = options_.loss_fn;
    lo.n_threads = options_.n_threads;
    return AffinityMatcherObjective(P, lo);
}

NeResult AffinityMatcher::fit_transform_affinity(const CsrMatrix<double>& P, MatrixView<float> X,
                                                 const TrainHooks& hooks) const {
    AffinityMatcherOptions o = options_;
    if (!o.lr) o.lr = 1.0;  // TorchDR's AffinityMatcher: "auto" has no rule and means 1
    require(o.early_exaggeration_coeff == 1.0,
            "early_exaggeration_coeff: not a parameter of TorchDR's AffinityMatcher (must stay 1)");
    require(o.repulsion_strength == 1.0,
            "repulsion_strength: not a parameter of TorchDR's AffinityMatcher (must stay 1)");
    const std::size_t n = P.n_rows;
    validate(static_cast<const NeighborEmbeddingOptions&>(o), n);
    auto loss = std::make_shared<const AffinityMatcherObjective>(AffinityMatcher(o).objective(P));
    if (o.init == NeInit::pca)
        require(X.rows == n, "AffinityMatcher: X has " + std::to_string(X.rows) + " rows, P " + std::to_string(n));
    TrainHooks h = hooks;
    if (h.who == "train") h.who = "AffinityMatcher";
    if (o.encoder.enabled) {
        require(X.rows == n, "AffinityMatcher: the encoder needs X (" + std::to_string(X.rows) + " rows, P " +
                                 std::to_string(n) + ")");
        return run_encoder(
            X, [loss](MatrixView<double> Y, const NeStepInfo&, double* g, bool) { return (*loss)(Y, g); }, o, h);
    }
    const Timer t;
    Matrix<double> Y0 = ne_initial_embedding(o, X, n);
    const double init_seconds = t.seconds();
    NeResult r = run_neighbor_embedding(
        std::move(Y0),
        [loss](MatrixView<double> Y, const NeStepInfo&, double* g, bool) { return (*loss)(Y, g); }, o, h);
    r.timings.init = init_seconds;
    return r;
}

} // namespace nembed::torchdr
