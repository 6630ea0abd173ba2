// TorchDR's PACMAPAffinity and PaCMAP's mid-near rule (affinity/pacmap.hpp).
#include "nembed/affinity/pacmap.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/core/strings.hpp"

namespace nembed {

namespace {
bool pacmap_metric(CostMetric m) { return m == CostMetric::sqeuclidean || m == CostMetric::euclidean; }
} // namespace

CostMetric parse_pacmap_metric(const std::string& name) {
    const std::string s = to_lower(name);
    if (s == "sqeuclidean") return CostMetric::sqeuclidean;
    if (s == "euclidean") return CostMetric::euclidean;
    throw InvalidArgument("metric: unknown or unsupported PACMAP metric '" + name +
                          "' (expected sqeuclidean or euclidean)");
}

void validate(const PACMAPAffinityOptions& o, std::size_t n) {
    require(o.n_neighbors >= 1, "n_neighbors must be >= 1, got " + std::to_string(o.n_neighbors));
    require(pacmap_metric(o.metric), "metric: unsupported PACMAP metric '" + to_string(o.metric) +
                                         "' (expected sqeuclidean or euclidean)");
    if (n == 0) return;
    require(n >= 7, "PACMAP needs at least 7 points (ρ reads the 6th neighbour), got " + std::to_string(n));
    require(o.n_neighbors < n, "n_neighbors must be smaller than the number of points (" + std::to_string(n) +
                                   "), got " + std::to_string(o.n_neighbors));
}

PacmapNeighbors pacmap_affinity(const KnnGraph& g, const PACMAPAffinityOptions& o, int n_threads) {
    const std::size_t n = g.n_points;
    validate(o, n);
    require(g.n_reference == n, "PACMAPAffinity needs a self kNN graph");
    const std::size_t k_ext = pacmap_extended_neighbors(o.n_neighbors, n);
    require(g.k >= k_ext, "PACMAPAffinity: the kNN graph has " + std::to_string(g.k) + " neighbours per point, " +
                              std::to_string(k_ext) + " are needed (n_neighbors + 50, at most N − 1)");
    const std::size_t k = o.n_neighbors;
    const bool squared = o.metric == CostMetric::sqeuclidean;
    // C_ij as TorchDR's search returns it (the squared distance for sqeuclidean).
    auto C = [&](std::size_t i, std::size_t c) {
        const double d = g.dists(i)[c];
        return squared ? d * d : d;
    };
    PacmapNeighbors r;
    r.n_points = n;
    r.n_neighbors = k;
    r.rho.assign(n, 0.0);
    r.indices.assign(n * k, 0);
    r.scaled.assign(n * k, 0.0);
    parallel_for(n_threads, n, [&](std::size_t i) {
        r.rho[i] = (std::sqrt(C(i, 3)) + std::sqrt(C(i, 4)) + std::sqrt(C(i, 5))) / 3.0;
    });
    parallelize(n_threads, n, [&](std::size_t, std::size_t begin, std::size_t end) {
        std::vector<std::pair<double, std::size_t>> row(k_ext);
        for (std::size_t i = begin; i < end; ++i) {
            const index_t* nb = g.neighbors(i);
            for (std::size_t c = 0; c < k_ext; ++c) {
                const double denom = r.rho[i] * r.rho[static_cast<std::size_t>(nb[c])];
                const double v = C(i, c);
                // Duplicates give ρ = 0: a coincident pair stays nearest, any other is pushed to the end.
                const double s = denom > 0.0 ? v / denom : (v > 0.0 ? HUGE_VAL : 0.0);
                row[c] = {s, c};
            }
            // (scaled, position in the input order): ties go to the nearer input neighbour.
            std::partial_sort(row.begin(), row.begin() + static_cast<std::ptrdiff_t>(k), row.end());
            for (std::size_t t = 0; t < k; ++t) {
                r.indices[i * k + t] = nb[row[t].second];
                r.scaled[i * k + t] = row[t].first;
            }
        }
    });
    return r;
}

PacmapNeighbors pacmap_affinity(MatrixView<float> X, const PACMAPAffinityOptions& o, const KnnOptions& knn) {
    validate(o, X.rows);
    require(knn.metric == Metric::euclidean, "PACMAPAffinity: the kNN search must be Euclidean");
    const KnnGraph g = find_neighbors(X, pacmap_extended_neighbors(o.n_neighbors, X.rows), knn);
    return pacmap_affinity(g, o, knn.n_threads);
}

double pacmap_distance(MatrixView<float> X, std::size_t i, std::size_t j, CostMetric metric) {
    return pair_cost(X.row(i), X.row(j), X.cols, metric);
}

index_t pacmap_mid_near_choice(MatrixView<float> X, std::size_t i, const index_t (&candidates)[6]) {
    // The squared distance orders the candidates as either metric does.
    double d[6];
    for (int c = 0; c < 6; ++c)
        d[c] = pacmap_distance(X, i, static_cast<std::size_t>(candidates[c]), CostMetric::sqeuclidean);
    return candidates[pacmap_second_smallest(d)];
}

} // namespace nembed
