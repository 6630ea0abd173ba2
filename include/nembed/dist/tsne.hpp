#pragma once
/// @file tsne.hpp
/// Distributed t-SNE (docs/mpi.md): `mpirun -n R nembed tsne` and the library API with a communicator. It is the
/// single-process t-SNE with its data split by rows, not a second implementation: the same kNN kernels, perplexity
/// calibration, PCA, attraction, FFT repulsion, gains optimizer, phases and Trainer (TsneEmbedding::run), with the
/// row-dependent parts restricted to this rank's rows and every cross-row sum chained in block order
/// (dist/comm.hpp ordered_fold, dist/rows.hpp), so R = 1, 2, 3, 4 ranks and any thread count give the bits of the
/// single-process run with exact neighbours.
///
///   auto comm = dist::make_world_comm();
///   std::size_t D;
///   dist::RowPartition part = dist::npy_partition(*comm, "X.npy", &D);
///   Matrix<float> X = dist::read_npy_block(*comm, part, "X.npy");       // this rank's rows only
///   TsneEmbedding emb = dist::prepare_tsne(*comm, part, X.view(), opt); // kNN ring, P rows, init
///   TSNE(opt).run(emb);                                                 // the one trainer loop
///   dist::write_npy_block(*comm, part, "Y.npy", dist::own_rows(*comm, part, emb.embedding()), 2);
///
/// Per rank: X, the kNN rows and P are ~1/R; Y (N x d), its gradient, gains and momentum are held in full by every
/// rank (N x d is small: 2 doubles per point each) and updated redundantly, which keeps the optimizer's bits
/// independent of R at the cost of one all-gather of the gradient rows per iteration.
#include <cstddef>
#include <memory>

#include "nembed/core/matrix.hpp"
#include "nembed/core/row_share.hpp"
#include "nembed/core/sparse.hpp"
#include "nembed/dist/comm.hpp"
#include "nembed/dist/knn.hpp"
#include "nembed/dist/rows.hpp"
#include "nembed/kernel/kernel.hpp"
#include "nembed/methods/tsne.hpp"
#include "nembed/repulsion/repulsion.hpp"

namespace nembed::dist {

/// The RowShare of this rank (rows of `part`, fold = ordered_fold over `comm`).
RowShare row_share(Comm& comm, const RowPartition& part);

/// kNN (exact, ring), perplexity affinities of this rank's rows symmetrised with the owners of the transposed
/// entries (alltoallv) and normalised by the chained total, and the initialisation (pca: chained scatter matrix;
/// random; user: options.initial_embedding, N x d on every rank), as TSNE::prepare_initial does on one process.
/// Spectral initialisation is refused (InvalidArgument), and so are kNN methods other than exact/auto (auto is
/// exact here) and metrics other than euclidean, cosine and inner product. Collective. `neighbors`, when given, are
/// this rank's rows of a precomputed kNN (read_knn_block, dist/io.hpp; k = multiscale_neighbors(N, perplexities)),
/// used instead of the search (options.neighbors, knn_shards and metric are then not used for the kNN).
TsneEmbedding prepare_tsne(Comm& comm, const RowPartition& part, MatrixView<float> X_mine, const TsneOptions& options,
                           const DistKnnGraph* neighbors = nullptr);

/// The joint P = (P_cond + P_condᵀ) / Σ of a distributed conditional P: `cond` holds this rank's rows
/// (part.count(rank) x N, global column indices); the result holds the same rows of the symmetric, normalised P,
/// bitwise the rows of the single-process symmetrize(mean) + normalize_total. Collective.
CsrMatrix<double> symmetrize_joint(Comm& comm, const RowPartition& part, const CsrMatrix<double>& cond,
                                   int n_threads);

/// The t-SNE gradient of this rank's rows of P over the full embedding (GradientFunction of FullBatchPlan):
/// the attraction of the owned rows, the repulsion (FFT: distributed by rows; Barnes-Hut and exact: computed in
/// full on every rank), then one all-gather of the gradient rows, so every rank holds the full gradient. The KL
/// (want_kl) chains Σ p log w over block partials. Bitwise TsneObjective's value and gradient.
class TsneRowsObjective {
public:
    TsneRowsObjective(Comm& comm, const CsrMatrix<double>& P_rows, const TsneGradientParams& params,
                      std::size_t n_points, std::size_t n_components);
    double operator()(MatrixView<double> Y, double exaggeration, double* grad, bool want_kl);

private:
    Comm& comm_;
    RowPartition part_;
    const CsrMatrix<double>& P_;
    std::unique_ptr<Repulsion> repulsion_;
    OutputKernel kernel_;
    int n_threads_;
    double sum_p_log_p_ = 0.0, sum_p_ = 0.0;
    std::vector<double> forces_, own_;
    std::vector<float> p_f32_;  ///< P's values in float32, as TsneObjective's attraction reads them
};

/// This rank's rows of a full N x d matrix (a view, no copy).
MatrixView<double> own_rows(Comm& comm, const RowPartition& part, const Matrix<double>& full);

} // namespace nembed::dist
