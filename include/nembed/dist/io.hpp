#pragma once
/// @file io.hpp
/// Row-block input and output of a distributed run (docs/mpi.md): each rank reads only its rows of an .npy
/// (io/npy.hpp read_npy_rows, by offset) and writes only its rows of the output into one .npy: rank 0 writes the
/// header and sizes the file, every rank writes its rows at their offset, rank 0 renames the finished file into
/// place (so a failed run never leaves a partial output under the final name). No rank holds all of X.
#include <cstddef>
#include <string>

#include "nembed/core/matrix.hpp"
#include "nembed/dist/comm.hpp"
#include "nembed/dist/knn.hpp"
#include "nembed/dist/rows.hpp"

namespace nembed::dist {

/// The global shape of a 2-D .npy (N x D), read by rank 0 and broadcast; CollectiveError on every rank when the
/// file is missing, malformed or not 2-D.
RowPartition npy_partition(Comm& comm, const std::string& path, std::size_t* n_cols);

/// This rank's rows [part.begin(rank), part.end(rank)) of a 2-D numeric .npy as float. Collective: a bad block on
/// any rank (missing, truncated, non-finite values) is a CollectiveError on every rank naming the rank and file.
Matrix<float> read_npy_block(Comm& comm, const RowPartition& part, const std::string& path);

/// This rank's rows of precomputed neighbours: PREFIX_indices.npy and PREFIX_distances.npy (what `nembed knn -o
/// PREFIX` writes; any numeric dtype), both N x K with N = part.n, read by rows by offset; the first k <= K columns
/// of each row are kept. Each row must list k distinct global indices in [0, N) other than the row itself, with
/// finite, non-negative distances in ascending order (self excluded, nearest first: what the kNN search gives).
/// Collective: a bad file or row on any rank is a CollectiveError on every rank naming the file and the row.
DistKnnGraph read_knn_block(Comm& comm, const RowPartition& part, const std::string& prefix, std::size_t k);

/// Writes the N x d float64 matrix whose rows [part.begin(rank), part.end(rank)) are `mine` (C order) to `path`.
/// Collective; CollectiveError on every rank when any rank fails.
void write_npy_block(Comm& comm, const RowPartition& part, const std::string& path, MatrixView<double> mine,
                     std::size_t n_cols);

} // namespace nembed::dist
