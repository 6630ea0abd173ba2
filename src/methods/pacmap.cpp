// TorchDR's PACMAP on the core (methods/pacmap.hpp).
#include "nembed/methods/pacmap.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <vector>

#include "nembed/core/error.hpp"
#include "nembed/core/timer.hpp"

namespace nembed::torchdr {

std::size_t pacmap_n_mid_near(const PACMAPOptions& o) {
    return static_cast<std::size_t>(o.MN_ratio * static_cast<double>(o.n_neighbors));
}
std::size_t pacmap_n_further(const PACMAPOptions& o) {
    return static_cast<std::size_t>(o.FP_ratio * static_cast<double>(o.n_neighbors));
}

void validate(const PACMAPOptions& o, std::size_t n) {
    PACMAPAffinityOptions ao;
    ao.n_neighbors = o.n_neighbors;
    ao.metric = o.metric;
    validate(ao, n);
    if (n > 0) validate(static_cast<const NeighborEmbeddingOptions&>(o), n);
    require(std::isfinite(o.MN_ratio) && o.MN_ratio >= 0.0, "MN_ratio must be >= 0, got " + std::to_string(o.MN_ratio));
    require(std::isfinite(o.FP_ratio) && o.FP_ratio >= 0.0, "FP_ratio must be >= 0, got " + std::to_string(o.FP_ratio));
    require(o.iter_per_phase >= 1, "iter_per_phase must be >= 1, got " + std::to_string(o.iter_per_phase));
    if (n > 0 && o.exclude_neighbors_from_negative_sampling && pacmap_n_further(o) > 0)
        require(o.n_neighbors + 1 < n, "n_neighbors must be smaller than the number of points − 1 (" +
                                           std::to_string(n - 1) + ") when excluding neighbours from the further "
                                           "pairs, got " + std::to_string(o.n_neighbors));
}

NeResult PACMAP::fit_transform(MatrixView<float> X, const TrainHooks& hooks) const {
    return fit_unique_rows(X, options_, [&](MatrixView<float> Xu, const std::optional<Matrix<double>>& init) {
        PACMAPOptions o = options_;
        o.init_array = init;
        validate(o, Xu.rows);
        const std::size_t n = Xu.rows;
        const Timer t;
        PACMAPAffinityOptions ao;
        ao.n_neighbors = o.n_neighbors;
        ao.metric = o.metric;
        PacmapNeighbors nb =
            pacmap_affinity(Xu, ao, fit_knn_options(o.knn_method, Metric::euclidean, o.random_state, o.n_threads));
        const double affinity_seconds = t.seconds();
        PacmapPairOptions po;
        po.n_mid_near = pacmap_n_mid_near(o);
        po.n_further = pacmap_n_further(o);
        po.exclude_neighbors = o.exclude_neighbors_from_negative_sampling;
        po.iter_per_phase = o.iter_per_phase;
        po.seed = o.random_state;
        Matrix<float> Xc(n, Xu.cols, std::vector<float>(Xu.data, Xu.data + Xu.size()));
        auto objective = std::make_shared<PacmapObjective>(std::move(Xc), std::move(nb), po);
        objective->set_threads(o.n_threads);
        // The weights and pairs follow the step (TorchDR's counter); PACMAP has no exaggeration.
        NeResult r = run_method(
            o, Xu, n, "PACMAP",
            [objective](MatrixView<double> Y, const NeStepInfo& s, double* g, bool want) {
                return (*objective)(Y, 1.0, s.step, g, want);
            },
            hooks);
        r.timings.affinity = affinity_seconds;
        return r;
    });
}

} // namespace nembed::torchdr
