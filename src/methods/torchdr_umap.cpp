// TorchDR's UMAP on the NeighborEmbedding driver (methods/torchdr_umap.hpp).
#include "nembed/methods/torchdr_umap.hpp"

#include <cmath>
#include <memory>
#include <optional>
#include <string>

#include "nembed/affinity/umap_affinity.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/timer.hpp"
#include "nembed/kernel/umap_kernel.hpp"
#include "nembed/loss/umap_ne.hpp"
#include "nembed/methods/ne_transform.hpp"

namespace nembed::torchdr {

UmapCurve torchdr_umap_curve(const UMAPOptions& o) {
    if (o.a) require(std::isfinite(*o.a) && *o.a > 0, "a must be positive, got " + std::to_string(*o.a));
    if (o.b) require(std::isfinite(*o.b) && *o.b > 0, "b must be positive, got " + std::to_string(*o.b));
    if (o.a && o.b) return UmapCurve{*o.a, *o.b};
    // TorchDR fits both when either is None, so one of them alone would be silently ignored: refused instead.
    require(!o.a && !o.b, std::string(o.a ? "a" : "b") + " is given without " + (o.a ? "b" : "a") +
                              ": the kernel takes both (or neither: fitted to min_dist and spread)");
    return find_ab_params(o.spread, o.min_dist);
}

void validate(const UMAPOptions& o, std::size_t n) {
    validate(static_cast<const NeighborEmbeddingOptions&>(o), n);
    require(o.n_neighbors >= 2, "n_neighbors must be >= 2, got " + std::to_string(o.n_neighbors));
    require(static_cast<std::size_t>(o.n_neighbors) < n, "n_neighbors (" + std::to_string(o.n_neighbors) +
                                                             ") must be smaller than the number of samples (" +
                                                             std::to_string(n) + ")");
    require(o.negative_sample_rate >= 0, "negative_sample_rate must be >= 0, got " +
                                             std::to_string(o.negative_sample_rate));
    require(o.max_iter_affinity >= 1, "max_iter_affinity must be >= 1, got " + std::to_string(o.max_iter_affinity));
    torchdr_umap_curve(o);
}

NeUmapSettings umap_ne_settings(const UMAPOptions& o) {
    NeUmapSettings s;
    s.curve = torchdr_umap_curve(o);
    s.negative_sample_rate = o.negative_sample_rate;
    s.exclude_neighbors = o.exclude_neighbors_from_negative_sampling;
    s.seed = o.random_state;
    s.n_threads = o.n_threads;
    return s;
}

NeResult UMAP::fit_transform_affinity(const CsrMatrix<double>& P, MatrixView<float> X, const TrainHooks& hooks) const {
    const UMAPOptions& o = options_;
    validate(o, P.n_rows);
    auto loss = std::make_shared<NeUmapLoss>(P, o.max_iter, umap_ne_settings(o));
    return run_method(
        o, X, P.n_rows, "UMAP",
        [loss](MatrixView<double> Y, const NeStepInfo& info, double* g, bool w) { return (*loss)(Y, info, g, w); },
        hooks);
}

NeResult UMAP::fit_transform(MatrixView<float> X, const TrainHooks& hooks) const {
    const UMAPOptions& o = options_;
    validate(o, X.rows);
    UMAPAffinityOptions ao;
    ao.n_neighbors = o.n_neighbors;
    ao.max_iter = o.max_iter_affinity;
    ao.sparsity = true;
    ao.metric = o.metric;
    ao.knn_method = o.knn_method;
    ao.knn_shards = o.knn_shards;
    ao.n_threads = o.n_threads;
    // process_duplicates as every TorchDR method: the unique rows are embedded, then scattered back.
    return fit_unique_rows(X, o, [&](MatrixView<float> Xu, const std::optional<Matrix<double>>& init) {
        UMAPOptions ou = o;
        ou.init_array = init;
        const Timer t;
        UMAPAffinity affinity(ao);
        const CsrMatrix<double> P = affinity(Xu);
        const double seconds = t.seconds();
        NeResult r = UMAP(ou).fit_transform_affinity(P, Xu, hooks);
        r.timings.affinity = seconds;
        return r;
    });
}

Matrix<double> UMAP::transform(MatrixView<float> X_new, MatrixView<float> X_train, MatrixView<double> Y_train,
                               const TrainHooks& hooks) const {
    return torchdr::transform(options_, X_new, X_train, Y_train, hooks);
}

} // namespace nembed::torchdr
