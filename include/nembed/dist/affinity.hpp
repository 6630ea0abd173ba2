#pragma once
/// @file affinity.hpp
/// Row-distributed sparse matrices (docs/mpi.md): each rank holds its rows of an N x N matrix (the rows of
/// dist::RowPartition, global column indices). The transpose exchange is what every symmetrisation needs (t-SNE's
/// (P + Pᵀ)/2, UMAP's fuzzy union); the gather gives every rank the whole matrix where a step needs it (UMAP's
/// spectral initialisation, the serial edge order of small fits).
#include "nembed/core/sparse.hpp"
#include "nembed/dist/comm.hpp"
#include "nembed/dist/rows.hpp"

namespace nembed::dist {

/// This rank's rows of Aᵀ, each sorted by column, from every rank's rows of A (`rows`: part.count(rank) x N): the
/// entries go to the owners of their columns (one alltoallv of 24-byte entries). Collective.
CsrMatrix<double> transpose_rows(Comm& comm, const RowPartition& part, const CsrMatrix<double>& rows);

/// The whole N x N matrix on every rank from every rank's rows (allgatherv of the row lengths, columns and values).
/// Collective.
CsrMatrix<double> gather_rows(Comm& comm, const RowPartition& part, const CsrMatrix<double>& rows);

} // namespace nembed::dist
