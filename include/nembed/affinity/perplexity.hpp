#pragma once
/// @file perplexity.hpp
/// Perplexity-calibrated Gaussian affinities with openTSNE 1.0.4's semantics: k = min(N − 1, ⌊3·perplexity⌋)
/// neighbours; for each point a precision τ_i is found by bisection so that the entropy of
/// p_j|i ∝ exp(−d_ij² τ_i / 2) (d the true, unsquared neighbour distance) equals log(perplexity); rows sum to 1;
/// the joint matrix is (P + Pᵀ)/2 normalised to sum 1, i.e. (P + Pᵀ)/(2N).
#include <cstddef>
#include <span>
#include <vector>

#include "nembed/core/sparse.hpp"
#include "nembed/neighbors/knn_graph.hpp"

namespace nembed {

/// The bisection's stopping rules (openTSNE's defaults).
struct CalibrationOptions {
    double tolerance = 1e-8;  ///< stop when |H − log(perplexity)| < tolerance (nats)
    int max_iter = 200;       ///< at most this many bisection steps
};

struct PerplexityOptions {
    double perplexity = 30.0;  ///< effective number of neighbours; must be > 0 and below the neighbour count
    bool symmetrize = true;    ///< true: joint (P + Pᵀ)/2N; false: row-normalised conditional P (as `to_new`)
    CalibrationOptions calibration;
    int n_threads = 1;
};

/// Neighbours needed for a perplexity: min(N − 1, ⌊3·perplexity⌋) (openTSNE).
std::size_t perplexity_neighbors(std::size_t n, double perplexity);

/// Caps the perplexity at (N − 1)/3 with a warning, as openTSNE does; throws if it is not positive.
double clamp_perplexity(std::size_t n, double perplexity);

/// Precision τ of one point from its squared neighbour distances: the entropy of p_j ∝ exp(−d_j² τ / 2) equals
/// log(perplexity). Start τ = 1, double or halve until bracketed, then bisect (openTSNE).
double calibrate_precision(std::span<const double> sq_distances, double perplexity,
                           const CalibrationOptions& options = {});

/// τ_i for every row of a kNN graph (self graph or new points against a reference).
std::vector<double> perplexity_precisions(const KnnGraph& graph, double perplexity,
                                          const CalibrationOptions& options = {}, int n_threads = 1);

/// Row-normalised conditional P (n_points x n_reference): works for new points against a reference.
CsrMatrix<double> perplexity_conditional(const KnnGraph& graph, const PerplexityOptions& options);

/// Joint P of a self graph (options.symmetrize = true) or the conditional one (false).
CsrMatrix<double> perplexity_affinities(const KnnGraph& graph, const PerplexityOptions& options);

} // namespace nembed
