#pragma once
/// @file uniform.hpp
/// openTSNE's Uniform affinities: weight 1 on every kNN edge, symmetrised by `max` (the binary union, openTSNE's
/// default since Oct 2025), `mean` ((P + Pᵀ)/2) or `none`, then normalised to sum 1. For new points (conditional)
/// every row is 1/k.
#include "nembed/affinity/symmetrize.hpp"
#include "nembed/neighbors/knn_graph.hpp"

namespace nembed {

struct UniformOptions {
    Symmetrization symmetrize = Symmetrization::max;  ///< none, mean or max
    bool conditional = false;  ///< true: rows of 1/k (new points against a reference), no symmetrisation
    int n_threads = 1;
};

CsrMatrix<double> uniform_affinities(const KnnGraph& graph, const UniformOptions& options);

} // namespace nembed
