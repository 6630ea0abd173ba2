#pragma once
/// @file fixed_sigma.hpp
/// openTSNE's FixedSigmaNN: p_j|i ∝ exp(−d_ij² / 2σ²) with one σ for all points, row-normalised, then
/// (optionally) symmetrised to (P + Pᵀ)/2N. Computed with the row's smallest distance factored out, so rows far
/// from every neighbour do not underflow to 0/0 (openTSNE's direct formula does).
#include "nembed/core/sparse.hpp"
#include "nembed/neighbors/knn_graph.hpp"

namespace nembed {

struct FixedSigmaOptions {
    double sigma = 1.0;       ///< kernel width; must be finite and > 0
    bool symmetrize = true;   ///< joint P, or the row-normalised conditional one (new points)
    int n_threads = 1;
};

CsrMatrix<double> fixed_sigma_affinities(const KnnGraph& graph, const FixedSigmaOptions& options);

} // namespace nembed
