#pragma once
/// @file cne.hpp
/// Distributed CNE (docs/mpi.md §5): `mpirun -n R nembed cne`. The ring exact kNN (dist/knn.hpp) of the owned rows
/// (or the shards, or precomputed rows), this rank's rows of cne's binary symmetric graph (the transposed entries
/// from their owners), the pca start by chained sums (as t-SNE's) or random / user, and the edge mini-batch plan
/// with its edges and batches split over the ranks (EdgeBatchShare: each rank shuffles its rows' edges, runs its
/// chunks and finishes its slots). Every rank holds all of Y; the edges, the graph and the neighbours are split.
/// R = 1, 2, 3, 4 ranks and any thread count give the bits of the single-process run with the same neighbours.
#include "nembed/core/matrix.hpp"
#include "nembed/dist/comm.hpp"
#include "nembed/dist/knn.hpp"
#include "nembed/dist/rows.hpp"
#include "nembed/methods/cne.hpp"

namespace nembed::dist {

/// Everything CNE::prepare does, distributed. Refused (InvalidArgument on every rank): input metrics other than
/// euclidean, cosine and inner product, exclude_neighbors and parametric runs. `comm` must outlive the result
/// (its batches call it). `neighbors`, when given, are this rank's rows of a precomputed kNN with k = o.k
/// (read_knn_block, dist/io.hpp), used instead of the search.
/// This rank's rows of binary_symmetric_graph (methods/cne.hpp) from its rows of the kNN (`mine`: part.count(rank)
/// rows over N points), in an N × N matrix whose other rows are empty. Collective (one transpose exchange).
CsrMatrix<double> binary_symmetric_graph_rows(Comm& comm, const RowPartition& part, const KnnGraph& mine);

CneEmbedding prepare_cne(Comm& comm, const RowPartition& part, MatrixView<float> X, const CneOptions& o,
                         const DistKnnGraph* neighbors = nullptr);

} // namespace nembed::dist
