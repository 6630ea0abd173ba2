#pragma once
/// @file pacmap.hpp
/// TorchDR's PACMAPAffinity (docs/torchdr.md, "PACMAP"): the neighbour pairs of PaCMAP. From the k_ext =
/// min(n_neighbors + 50, N − 1) nearest neighbours of every point (self excluded) with C_ij the input distance of
/// the metric (sqeuclidean: ‖x_i − x_j‖², TorchDR's default; euclidean: ‖x_i − x_j‖):
///   ρ_i = mean of √C_ij over the 4th, 5th and 6th neighbours of i,
///   C̃_ij = C_ij / (ρ_i ρ_j),
/// and the n_neighbors neighbours of i are the n_neighbors candidates with the smallest C̃_ij (ties: the nearer
/// candidate in the input metric first). TorchDR returns only these indices (no weights): PACMAP's loss weighs
/// every neighbour pair equally.
///
/// Also here: PaCMAP's mid-near rule (TorchDR's PACMAP._compute_attractive_loss): of 6 candidates drawn uniformly
/// with replacement among the other points, the one with the second smallest input distance.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "nembed/affinity/cost.hpp"
#include "nembed/core/matrix.hpp"
#include "nembed/core/types.hpp"
#include "nembed/neighbors/knn.hpp"
#include "nembed/neighbors/knn_graph.hpp"

namespace nembed {

/// The input metrics of TorchDR's PACMAP are the costs a Euclidean kNN serves, sqeuclidean and euclidean (TorchDR's
/// FAISS backend also accepts "angular", whose negative scores make ρ undefined, and its torch backend "manhattan",
/// which nembed's kNN lacks). Parses one of them (case-insensitive); throws InvalidArgument naming the bad value.
CostMetric parse_pacmap_metric(const std::string& name);

/// TorchDR's PACMAPAffinity(n_neighbors=10, metric="sqeuclidean").
struct PACMAPAffinityOptions {
    std::size_t n_neighbors = 10;  ///< neighbour pairs per point; 1 <= n_neighbors, 6 <= N − 1
    CostMetric metric = CostMetric::sqeuclidean;  ///< sqeuclidean or euclidean
};
/// Throws InvalidArgument naming the bad field (n_points: the data size; 0 skips the size checks).
void validate(const PACMAPAffinityOptions& options, std::size_t n_points = 0);

/// The neighbour pairs and the scale of every point.
struct PacmapNeighbors {
    std::size_t n_points = 0;
    std::size_t n_neighbors = 0;
    std::vector<index_t> indices;  ///< n_points × n_neighbors, each row by increasing scaled distance
    std::vector<double> scaled;    ///< the scaled distances C̃ of those pairs
    std::vector<double> rho;       ///< ρ_i, one per point
    const index_t* neighbors(std::size_t i) const { return indices.data() + i * n_neighbors; }
};

/// The number of exact neighbours the affinity searches: min(n_neighbors + 50, n_points − 1).
inline std::size_t pacmap_extended_neighbors(std::size_t n_neighbors, std::size_t n_points) {
    return n_neighbors + 50 < n_points - 1 ? n_neighbors + 50 : n_points - 1;
}

/// From a self kNN graph with at least pacmap_extended_neighbors(n_neighbors, N) Euclidean neighbours per point
/// (extra columns are ignored). Throws InvalidArgument for a graph that is too small or options out of range.
PacmapNeighbors pacmap_affinity(const KnnGraph& graph, const PACMAPAffinityOptions& options, int n_threads = 1);
/// kNN (`knn`: method, seed, threads; its metric must be Euclidean) then the above.
PacmapNeighbors pacmap_affinity(MatrixView<float> X, const PACMAPAffinityOptions& options, const KnnOptions& knn);

/// Input distance of the metric between rows i and j of X (in double).
double pacmap_distance(MatrixView<float> X, std::size_t i, std::size_t j, CostMetric metric);

/// The position of the second smallest of 6 candidate distances, ties to the earlier position: the second of the
/// candidates ordered by (distance, position) — PaCMAP's mid-near rule (a repeated nearest candidate is also the
/// second).
template <typename T>
int pacmap_second_smallest(const T (&d)[6]) {
    int a = 0;
    for (int c = 1; c < 6; ++c)
        if (d[c] < d[a]) a = c;
    int b = a == 0 ? 1 : 0;
    for (int c = b + 1; c < 6; ++c)
        if (c != a && d[c] < d[b]) b = c;
    return b;
}

/// PaCMAP's mid-near choice for point i among 6 candidates (each != i, repeats allowed): the candidate with the
/// second smallest input distance (ties: the earlier draw first). Both metrics order the candidates alike.
index_t pacmap_mid_near_choice(MatrixView<float> X, std::size_t i, const index_t (&candidates)[6]);

} // namespace nembed
