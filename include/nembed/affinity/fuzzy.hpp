#pragma once
/// @file fuzzy.hpp
/// UMAP's fuzzy simplicial set (umap-learn's smooth_knn_dist + compute_membership_strengths + fuzzy union).
///  - ρ_i: distance to the `local_connectivity`-th non-zero neighbour (interpolated for fractional values);
///  - σ_i by bisection so that Σ_j exp(−max(0, d_ij − ρ_i)/σ_i) = log2(k)·bandwidth (start 1, double while
///    unbounded, ≤ 64 steps, tolerance 1e-5), floored at 1e-3 × the mean neighbour distance;
///  - v_ij = 1 if d_ij ≤ ρ_i or σ_i = 0, else exp(−(d_ij − ρ_i)/σ_i);
///  - P = mix·(A + Aᵀ − A∘Aᵀ) + (1 − mix)·A∘Aᵀ with mix = set_op_mix_ratio.
///
/// umap-learn's kNN lists start with the point itself (distance 0) and its n_neighbors counts it; nembed's graphs
/// never list the point itself. With `self_in_count` (the default, used when fitting) the self entry is put back
/// implicitly, so a graph of k neighbours reproduces umap-learn with n_neighbors = k + 1 exactly: target
/// log2(k + 1), sums over the k real neighbours, means over k + 1 distances including the zero. With
/// `self_in_count = false` the rules are umap-learn's for new points (transform): target log2(k), and, as there,
/// the first listed neighbour is left out of the bisection sum.
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "nembed/core/sparse.hpp"
#include "nembed/neighbors/knn_graph.hpp"

namespace nembed {

struct FuzzyOptions {
    double local_connectivity = 1.0;  ///< neighbours assumed fully connected (≥ 0; umap-learn's default 1)
    double set_op_mix_ratio = 1.0;    ///< 1 = fuzzy union, 0 = fuzzy intersection
    double bandwidth = 1.0;           ///< scales the bisection target log2(k)
    int max_iter = 64;                ///< bisection steps (umap-learn)
    double tolerance = 1e-5;          ///< |Σ − target| at which the bisection stops (umap-learn)
    bool self_in_count = true;        ///< see the file comment
    int n_threads = 1;
    /// The mean neighbour distance of the σ floor, when the graph holds only some rows of the whole (a
    /// distributed run, dist/umap.hpp: the sum over all rows divided by N·list length); unset: from the graph.
    std::optional<double> global_mean_distance;
};

/// Per-point ρ and σ.
struct FuzzyCalibration {
    std::vector<double> rho;
    std::vector<double> sigma;
};

/// umap-learn's smooth_knn_dist on a kNN graph.
FuzzyCalibration smooth_knn_distances(const KnnGraph& graph, const FuzzyOptions& options);

/// Directed memberships v_ij (n_points x n_reference), zeros dropped.
CsrMatrix<double> fuzzy_memberships(const KnnGraph& graph, const FuzzyCalibration& calibration, int n_threads = 1);

/// The symmetric fuzzy simplicial set of a self graph (not normalised: values in (0, 1]). The calibration is
/// written to `calibration` when it is given.
CsrMatrix<double> fuzzy_simplicial_set(const KnnGraph& graph, const FuzzyOptions& options,
                                       FuzzyCalibration* calibration = nullptr);

// ---- Operations on fuzzy simplicial sets (umap-learn's supervised UMAP and model composition; docs/dropin.md).

/// umap-learn's reset_local_connectivity: every row divided by its largest value (sklearn's normalize "max"; rows
/// of zeros kept), with `reset_local_metric` each row's values v replaced by v^t with t found by bisection so that
/// Σ v^t = log2(15) (32 steps, tolerance 1e-5: umap-learn's reprocess_row), then the fuzzy union S + Sᵀ − S∘Sᵀ.
CsrMatrix<double> reset_local_connectivity(const CsrMatrix<double>& graph, bool reset_local_metric = false,
                                           int n_threads = 1);

/// umap-learn's discrete_metric_simplicial_set_intersection with categorical labels: an edge (i, j) is multiplied
/// by exp(−unknown_dist) when either label is −1 (unknown), by exp(−far_dist) when the labels differ; zeros are
/// dropped and the local connectivity reset (reset_local_connectivity without the metric reset). One label per row.
CsrMatrix<double> categorical_intersection(const CsrMatrix<double>& graph, std::span<const std::int64_t> labels,
                                           double unknown_dist = 1.0, double far_dist = 5.0, int n_threads = 1);

/// The same with a target metric (umap-learn's fast_metric_intersection): the edge at storage position p is
/// multiplied by exp(−scale · edge_distance[p]); edge_distance holds the target distance of every stored edge.
CsrMatrix<double> metric_intersection(const CsrMatrix<double>& graph, std::span<const double> edge_distance,
                                      double scale, int n_threads = 1);

/// umap-learn's general_simplicial_set_intersection on the union of both patterns: with l, r the entries (absent
/// entries read as l_min = max(min(left)/2, 1e-8), r_min = min(max(min(right)/2, 1e-8), 1e-4)), an entry where
/// l > l_min or r > r_min becomes l·r^(w/(1−w)) for weight w < 0.5 (w in [0, 1]), else l^((1−w)/w)·r; other entries keep l + r
/// (umap-learn's result starts as left + right). `right_complement` reads r as 1 − right and keeps left's pattern only (model difference). The
/// result is not symmetrised; call reset_local_connectivity.
CsrMatrix<double> general_simplicial_set_intersection(const CsrMatrix<double>& left, const CsrMatrix<double>& right,
                                                      double weight = 0.5, bool right_complement = false);

/// umap-learn's general_simplicial_set_union: l + r − l·r on the union of both patterns, absent entries read as
/// max(min/2, 1e-8) of their matrix.
CsrMatrix<double> general_simplicial_set_union(const CsrMatrix<double>& left, const CsrMatrix<double>& right);

} // namespace nembed
