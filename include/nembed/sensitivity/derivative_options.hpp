#pragma once
/// @file derivative_options.hpp
/// What the sensitivity analysis differentiates (docs/sensitivity.md §1): the affinity side P(X) (conditional
/// Gaussian rows, dense or over neighbour sets, β calibrated to a perplexity, fixed or differentiated, or the
/// affinities that produced Y* given as they are) and the objective side, KL(P ‖ w/Z) with an output kernel w.
#include <cstddef>
#include <vector>

#include "nembed/core/sparse.hpp"
#include "nembed/kernel/kernel.hpp"

namespace nembed {

/// Which conditional affinities are differentiated.
enum class SensitivityAffinity {
    dense,  ///< p_{j|i} over all j ≠ i (the seed's)
    knn,    ///< p_{j|i} over the k nearest neighbours of i (exact float64 kNN, or `neighbors`; nembed's t-SNE)
};

/// How the bandwidths β_i enter the derivative in X.
enum class BandwidthMode {
    fixed,           ///< β held fixed (the seed's stop-gradient)
    differentiated,  ///< β_i(X) keeps the row entropy at log(perplexity)
};

struct DerivativeOptions {
    // ---- affinity side P(X)
    double perplexity = 30.0;                                ///< > 0; exact search: below the neighbour count
    SensitivityAffinity affinity = SensitivityAffinity::dense;
    /// Dense P keeps every pair: about 28 N² bytes (P and the N × N work arrays of the products) and O(N² D) per
    /// product, 11 GB at 20 000 points. Above this many points the dense layout is refused (use the kNN affinity).
    std::size_t dense_max_points = 20000;
    std::size_t n_neighbors = 0;                             ///< kNN only; 0 = min(N − 1, ⌊3·perplexity⌋) (openTSNE)
    BandwidthMode bandwidth = BandwidthMode::fixed;
    /// true: the seed's search, kept only to reproduce the seed's S (1000 bisection steps from β = 1, entropy with
    /// the +1e-8 sum floor, tolerance 1e-5, no shift), which also accepts perplexities below 1 (then the floor sets
    /// β). false: nembed's perplexity calibration (affinity/perplexity.hpp, the one t-SNE uses) to
    /// `calibration_tolerance`.
    bool seed_search = false;
    double calibration_tolerance = 1e-12;                    ///< nats; nembed's search only
    int n_threads = 1;                                       ///< threads for every product (−1 = all cores)
    /// Non-empty: use these β_i (length N, > 0) as given instead of calibrating (e.g. the bandwidths that made
    /// Y*: nembed's t-SNE precision τ_i is 2 β_i; or to hold β fixed in a finite-difference check).
    std::vector<double> beta;
    /// Non-empty: the neighbour sets N(i) that made Y*'s P (N × `neighbors_k`, row-major, e.g. nembed's t-SNE kNN
    /// graph or `nembed knn`): used instead of the exact float64 kNN search (implies the kNN affinity; the order
    /// within a row does not matter; a row may not list itself or a point twice).
    std::vector<std::size_t> neighbors;
    std::size_t neighbors_k = 0;                             ///< columns of `neighbors`
    /// Non-empty (n_rows > 0): the joint P (N × N, symmetric, non-negative, sums to 1) that produced Y*, e.g. nembed
    /// t-SNE's affinities or `nembed affinity`. The objective side (KL, g, H) uses it as given; the X-derivative J
    /// still comes from the conditional rows over the neighbour sets and β above (P itself does not say how it
    /// splits into rows), so give those that made it for a consistent S.
    CsrMatrix<double> joint;

    // ---- objective side
    /// Output kernel w(D) of the normalised KL(P ‖ w/Z): any Euclidean kernel of kernel.hpp (Student-t of any dof,
    /// Cauchy ε, UMAP curve, Gaussian = SNE); the cosine kernel is refused. Default: t-SNE's Student-t, dof 1.
    OutputKernel kernel = StudentTKernel{1.0};
};

} // namespace nembed
