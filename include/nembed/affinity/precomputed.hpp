#pragma once
/// @file precomputed.hpp
/// User-supplied affinities (openTSNE's PrecomputedAffinities): any square non-negative matrix, as CSR or dense.
/// The diagonal is dropped (a point's affinity to itself has no role in a neighbour embedding and would make the
/// KL infinite); with `normalize` the result is divided by its sum. Not symmetrised unless asked.
#include "nembed/affinity/symmetrize.hpp"
#include "nembed/core/matrix.hpp"

namespace nembed {

struct PrecomputedOptions {
    bool normalize = true;                             ///< divide by the sum (openTSNE's default)
    Symmetrization symmetrize = Symmetrization::none;  ///< optional symmetrisation before normalising
    int n_threads = 1;
};

/// Validates (square, sorted, finite, ≥ 0, some positive entry off the diagonal) and prepares P.
CsrMatrix<double> precomputed_affinities(const CsrMatrix<double>& P, const PrecomputedOptions& options = {});

/// From a dense N x N matrix; zeros are not stored.
CsrMatrix<double> precomputed_affinities(MatrixView<double> P, const PrecomputedOptions& options = {});

} // namespace nembed
