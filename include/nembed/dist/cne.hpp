#pragma once
/// @file cne.hpp
/// Distributed CNE (docs/mpi.md §5): `mpirun -n R nembed cne`. The ring exact kNN (dist/knn.hpp) of the owned rows,
/// all-gathered so that every rank builds cne's binary symmetric graph (the edge plan shuffles the whole edge list
/// each epoch, so every rank holds it anyway), the pca start by chained sums (as t-SNE's) or random / user, and the
/// edge mini-batch plan with its batches shared over the ranks (EdgeBatchShare: each rank runs its chunks, the
/// fixed-point gradients are summed by Comm::allreduce_sum). Every rank holds all of Y. R = 1, 2, 3 ranks and any
/// thread count give the bits of the single-process run with exact neighbours.
#include "nembed/core/matrix.hpp"
#include "nembed/dist/comm.hpp"
#include "nembed/dist/knn.hpp"
#include "nembed/dist/rows.hpp"
#include "nembed/methods/cne.hpp"

namespace nembed::dist {

/// Everything CNE::prepare does, distributed. Refused (InvalidArgument on every rank): approximate kNN, input
/// metrics other than euclidean, cosine and inner product, and parametric runs. `comm` must outlive the result
/// (its batches call it). `neighbors`, when given, are this rank's rows of a precomputed kNN with k = o.k
/// (read_knn_block, dist/io.hpp), used instead of the search.
CneEmbedding prepare_cne(Comm& comm, const RowPartition& part, MatrixView<float> X, const CneOptions& o,
                         const DistKnnGraph* neighbors = nullptr);

} // namespace nembed::dist
