#pragma once
/// @file umap.hpp
/// Distributed UMAP (docs/mpi.md §5): `mpirun -n R nembed umap` and the library API with a communicator. The
/// single-process UMAP with its data split by rows: the ring exact kNN (dist/knn.hpp), umap-learn's σ/ρ
/// calibration of the owned rows (affinity/fuzzy.hpp; the σ floor's global mean distance chained over the same
/// 1024-entry blocks as one process sums), the fuzzy union with the transposed entries from their owners
/// (dist/affinity.hpp), the pruning cut from the global largest weight, the initialisation, and the epochs of the
/// one edge-epoch plan (train/edge_epoch_plan.hpp) over the owned rows, with Y all-gathered after each epoch.
/// R = 1, 2, 3, 4 ranks and any thread count give the bits of the single-process run with exact neighbours.
///
///   auto comm = dist::make_world_comm();
///   std::size_t D;
///   dist::RowPartition part = dist::npy_partition(*comm, "X.npy", &D);
///   Matrix<float> X = dist::read_npy_block(*comm, part, "X.npy");        // this rank's rows only
///   UmapEmbedding emb = dist::prepare_umap(*comm, part, X.view(), opt);  // kNN ring, fuzzy rows, init
///   emb.optimize();                                                      // collective
///   dist::write_npy_block(*comm, part, "Y.npy", dist::own_rows(*comm, part, emb.embedding()), 2);
///
/// Small fits: below 4 096 points umap-learn's serial edge order runs (EdgeOrder::automatic; always with
/// EdgeOrder::edges). It moves both ends of every edge in place, so rows are not independent: the pruned graph is
/// gathered to every rank and every rank runs the single-process epochs (the same bits; the graph of a fit that
/// small is a few MB). The spectral initialisation gathers the pruned graph too (only while it runs).
#include <string>
#include <vector>

#include "nembed/affinity/fuzzy.hpp"
#include "nembed/core/matrix.hpp"
#include "nembed/dist/comm.hpp"
#include "nembed/dist/rows.hpp"
#include "nembed/methods/umap.hpp"
#include "nembed/train/plan.hpp"

namespace nembed::dist {

/// Everything UMAP::prepare does, distributed: kNN (exact, ring; neighbors auto means exact here), the fuzzy graph's
/// rows, pruning, initialisation (spectral on the gathered graph, pca by chained sums, random, user:
/// options.initial_embedding, N x d on every rank) and the training state. Refused (InvalidArgument on every
/// rank): approximate kNN, metrics other than euclidean, cosine and inner product, supervised targets, densMAP
/// and output_dens and non-Euclidean output metrics. A spectral start of more than 2·n_components components
/// places them by the data's centroids, their sums chained over the ranks in row order (an ordered fold).
/// Collective.
UmapEmbedding prepare_umap(Comm& comm, const RowPartition& part, MatrixView<float> X_mine, const UmapOptions& options);

/// umap-learn's σ/ρ of this rank's rows (`rows`: the owned rows of the self kNN graph, as dist::exact_self_knn
/// gives them), bitwise the single-process smooth_knn_distances' rows: every row is calibrated on its own except
/// the σ floor's mean distance over all N·k distances, chained here over the same 1024-entry blocks as one process
/// sums (a rank starts at row 2048·m, entry 2048·m·k, on a block boundary). options.self_in_count must be true (a
/// fit). Collective.
FuzzyCalibration umap_calibration(Comm& comm, const RowPartition& part, const KnnGraph& rows, FuzzyOptions options);

/// A plan that runs `inner` on this rank's rows of the embedding table (an EdgeEpochPlan with its row range set)
/// and then all-gathers the rows every rank moved, so that all ranks hold the same table after every step. The
/// step's loss is not reported (NaN): the inner plan's loss covers this rank's rows only.
class RowsAllGatherPlan final : public BatchPlan {
public:
    RowsAllGatherPlan(BatchPlan& inner, Comm& comm, const RowPartition& part) : inner_(inner), comm_(comm), part_(part) {}
    std::string unit() const override { return inner_.unit(); }
    double step(Parametrization& params, Optimizer& optimizer, const StepContext& ctx) override;

private:
    BatchPlan& inner_;
    Comm& comm_;
    RowPartition part_;
    std::vector<double> own_;
};

} // namespace nembed::dist
