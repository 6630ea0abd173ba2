#pragma once
/// @file ne.hpp
/// The TorchDR methods' input affinity on distributed rows (docs/mpi.md §5, "The TorchDR affinities"): the first
/// piece of a distributed `nembed ne`. TorchDR's EntropicAffinity (SNE, TSNE, InfoTSNE, LargeVis) is a per-row
/// calibration on each point's 3·perplexity nearest costs, so a rank computes its own rows: the exact kNN ring,
/// the neighbours' rows fetched from their owners (the costs are recomputed in double from the vectors, as one
/// process does), and the row calibration shared with the single process (`entropic_rows`). Symmetrisation, where
/// a loss needs it, is the transpose exchange (`dist::transpose_rows`).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/core/sparse.hpp"
#include "nembed/dist/comm.hpp"
#include "nembed/dist/rows.hpp"
#include "nembed/methods/neighbor_embedding.hpp"
#include "nembed/methods/torchdr_umap.hpp"
#include "nembed/train/trainer.hpp"

namespace nembed::dist {

/// Rows of the distributed X fetched by global index from the ranks that own them.
struct FetchedRows {
    std::vector<std::int64_t> ids;  ///< the distinct requested indices, ascending
    Matrix<float> rows;             ///< ids.size() x D, in the order of ids
    /// The row of global index id (which must have been requested).
    const float* row(std::int64_t id) const;
};

/// The rows `wanted` (global indices in [0, N), any order, repeats allowed) of the distributed X (X_mine: this
/// rank's rows of `part`). One alltoallv of the distinct requests to their owners and one of the rows back (D·4 B
/// per distinct row). Collective.
FetchedRows fetch_rows(Comm& comm, const RowPartition& part, MatrixView<float> X_mine,
                       const std::vector<std::int64_t>& wanted);

/// This rank's rows of TorchDR's EntropicAffinity P of X (torchdr::entropic_affinity(options, X): rows of the
/// k = 3·perplexity nearest costs, each summing to 1/N, not symmetrised): part.count(rank) x N with global
/// columns, bitwise the single-process rows for any R and thread count. Distributed here: the sqeuclidean and
/// euclidean costs with sparsity (TorchDR's defaults) on exact neighbours (the ring) or the sharded HNSW search
/// (options.knn_method hnsw, options.knn_shards M: one process with the same M gives the same rows; auto as
/// dist::self_knn decides); anything else is refused on every rank (CollectiveError). Collective.
/// repeated (optional): set on every rank to whether any row of X has a repeat (a neighbour at cost 0).
CsrMatrix<double> entropic_affinity_rows(Comm& comm, const RowPartition& part, MatrixView<float> X_mine,
                                         const torchdr::EntropicOptions& options, bool* repeated = nullptr);

/// This rank's rows of TorchDR's UMAPAffinity (torchdr::UMAP's P: the n_neighbors − 1 nearest costs, ρ and σ per row,
/// the fuzzy union P + Pᵀ − P∘Pᵀ by the transpose exchange), part.count(rank) x N, bitwise the single-process rows.
/// The same conditions as entropic_affinity_rows. Collective.
CsrMatrix<double> torchdr_umap_affinity_rows(Comm& comm, const RowPartition& part, MatrixView<float> X_mine,
                                             const torchdr::UMAPOptions& options, bool* repeated = nullptr);

/// TorchDR's SNE, TSNE, InfoTSNE, LargeVis and UMAP on distributed rows (`mpirun -n R nembed ne --method M`): P by
/// entropic_affinity_rows or torchdr_umap_affinity_rows (their conditions), kept by rows (the KL losses' (P + Pᵀ)/2
/// by the transpose exchange), and the method's loss split by rows (loss/ne_loss.hpp NeRowSplit: the owned rows'
/// attraction and repulsion — TSNE's FFT split by rows, its exact and Barnes–Hut sums and SNE's dense repulsion
/// computed in full on every rank; InfoTSNE's and LargeVis's negatives drawn by the owned heads; UMAP's sources —
/// then the gradient rows all-gathered) in TorchDR's one driver (run_method: phases, optimizer, stop rule), every
/// rank stepping the same Y. Start: init pca by the distributed PCA (chained scatter matrix, scores all-gathered)
/// given as the array start, random as one process draws it, an array as given. The result is bitwise one
/// process's fit_transform(X) for any R (docs/mpi.md §5). process_duplicates (TorchDR's
/// default) is honoured when X has no repeated rows (then it changes nothing) and refused on every rank otherwise
/// (a repeated row is a neighbour at cost 0). The encoder is refused. Collective.
NeResult fit_ne(Comm& comm, const RowPartition& part, MatrixView<float> X_mine, const torchdr::SNEOptions& options,
                const TrainHooks& hooks = {});
NeResult fit_ne(Comm& comm, const RowPartition& part, MatrixView<float> X_mine, const torchdr::TSNEOptions& options,
                const TrainHooks& hooks = {});
NeResult fit_ne(Comm& comm, const RowPartition& part, MatrixView<float> X_mine,
                const torchdr::InfoTSNEOptions& options, const TrainHooks& hooks = {});
NeResult fit_ne(Comm& comm, const RowPartition& part, MatrixView<float> X_mine,
                const torchdr::LargeVisOptions& options, const TrainHooks& hooks = {});
NeResult fit_ne(Comm& comm, const RowPartition& part, MatrixView<float> X_mine, const torchdr::UMAPOptions& options,
                const TrainHooks& hooks = {});

} // namespace nembed::dist
