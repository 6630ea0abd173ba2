#pragma once
/// @file ne_loss.hpp
/// TorchDR's neighbour-embedding losses L = λ·L_att + ρ·L_rep (docs/torchdr.md, "NeighborEmbedding and its
/// methods") with their TRUE gradients, the ones autograd gives TorchDR, as `NeGradient`s of the TorchDR plan
/// (train/ne_plan.hpp). P is TorchDR's input affinity as it is (an EntropicAffinity: rows normalised, divided by n,
/// not symmetrised). With w the output kernel, D_ij = ‖y_i − y_j‖², Ps = (P + Pᵀ)/2:
///
///   L_att = −Σ_ij P_ij log w_ij,   ∂L_att/∂y_i = 4·Σ_j Ps_ij (−dlog_w(D_ij))(y_i − y_j)
///
/// (both ends of every edge move, ∂D/∂y_i = 2(y_i − y_j)): four times `attractive_forces` on Ps, and four times
/// TsneObjective's gradient convention (loss/tsne_objective.hpp, openTSNE's quarter). The repulsions:
///
///   TSNE      log Σ_ij w_ij over ALL pairs, the diagonal included (TorchDR's logsumexp over the full matrix):
///             log(Z + n·w(0)), Z = Σ_{i≠j} w_ij from any Repulsion estimator (exact, Barnes–Hut, FFT);
///             ∂/∂y_i = −4·F_i/(Z + n·w(0)), F_i = Σ_j force_weight(D_ij)(y_i − y_j)
///   SNE       (1/n) Σ_i log z_i, z_i = Σ_j w_ij with j = i included (Gaussian w = exp(−D)), exact O(n²):
///             ∂/∂y_i = −(2/n) Σ_j force_weight(D_ij)(1/z_i + 1/z_j)(y_i − y_j)
///   InfoTSNE  (1/n) Σ_i log s_i, s_i = Σ_{k∈neg(i)} w_ik over the iteration's negatives (Student-t w)
///   LargeVis  −(1/n) Σ_i Σ_{k∈neg(i)} log(1 − w_ik), with LargeVis's w = q/(q + 1) = 1/(2 + D) (Cauchy ε = 2), the
///             same w in its attraction
///
/// For the sampled repulsions a pair (i, k) moves both points, as autograd moves every indexed row: with c the
/// pair's coefficient, ∂/∂y_i += c·(y_i − y_k) and ∂/∂y_k −= c·(y_i − y_k); InfoTSNE c = −(2ρ/n)·f_ik/s_i,
/// LargeVis c = −(2ρ/n)·f_ik/(1 − w_ik), f the kernel's force_weight.
/// The loss value returned is TorchDR's, with the step's λ and ρ (no constant dropped).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/core/sparse.hpp"
#include "nembed/dist/rows.hpp"
#include "nembed/kernel/kernel.hpp"
#include "nembed/train/ne_plan.hpp"

namespace nembed {

class Repulsion;
namespace dist {
class Comm;
}

/// The rows a loss evaluates under mpirun (dist/ne.hpp, docs/mpi.md §5). A loss built with one holds this rank's
/// rows of its P only (part.count(rank) x N, global columns; for the KL losses the symmetric part (P + Pᵀ)/2, which
/// the caller builds with the transpose exchange), computes the gradient of those rows against the full Y (N x d,
/// the same on every rank), all-gathers the gradient rows so that every rank holds the whole gradient, and returns
/// the whole loss (its sums chained over the ranks in row order: dist::ordered_fold). Every rank calls the loss at
/// every step (collective). With one rank, or R ranks and any thread count, the gradient and loss are bitwise those
/// of the single-process loss on the whole P.
struct NeRowSplit {
    dist::Comm* comm = nullptr;
    dist::RowPartition part;
    std::size_t begin() const;
    std::size_t end() const;
};

/// TorchDR's TSNE loss (any Euclidean kernel a Repulsion estimator supports; TorchDR's is Student-t, dof 1).
/// Keeps a reference to the repulsion; P is copied (symmetrised).
class NeTsneLoss {
public:
    /// P: n x n, non-negative, finite. Throws InvalidArgument otherwise.
    NeTsneLoss(const CsrMatrix<double>& P, Repulsion& repulsion, const OutputKernel& kernel, int n_threads);
    /// On this rank's rows (NeRowSplit): Ps_rows = this rank's rows of (P + Pᵀ)/2; the repulsion computes Z and
    /// at least this rank's rows of the forces (the FFT split by rows, or an estimator summing all points).
    NeTsneLoss(const NeRowSplit& rows, const CsrMatrix<double>& Ps_rows, Repulsion& repulsion,
               const OutputKernel& kernel, int n_threads);
    double operator()(MatrixView<double> Y, const NeStepInfo& info, double* grad, bool want_loss);

private:
    NeRowSplit rows_;
    CsrMatrix<double> Ps_;
    Repulsion& repulsion_;
    OutputKernel kernel_;
    int n_threads_;
    double w0_;
    std::vector<double> forces_, own_;
};

/// TorchDR's SNE loss: Gaussian kernel exp(−D), per-point normalisation, exact O(n²) (no estimator gives the
/// per-point weighted sums Σ_j f_ij (y_i − y_j)/z_j). Kernel values in float32 over symmetric tiles, sums across
/// tiles in double, the same bits for any thread count (docs/torchdr.md, "SNE and TSNE: implementation").
class NeSneLoss {
public:
    NeSneLoss(const CsrMatrix<double>& P, int n_threads);
    /// On this rank's rows (NeRowSplit; Ps_rows as NeTsneLoss's): the attraction of the owned rows; the dense
    /// repulsion (its z_i need every pair) is computed in full on every rank (redundant, docs/mpi.md §5).
    NeSneLoss(const NeRowSplit& rows, const CsrMatrix<double>& Ps_rows, int n_threads);
    double operator()(MatrixView<double> Y, const NeStepInfo& info, double* grad, bool want_loss);

private:
    NeRowSplit rows_;
    CsrMatrix<double> Ps_;
    int n_threads_;
    std::vector<double> z_, full_, own_;
    std::vector<float> scratch_;  // float coordinates and the tiles' partial sums (src/loss/sne_dense.hpp)
};

/// The two sampled repulsions.
enum class NeSampledRepulsion {
    log_sum,  ///< InfoTSNE: (1/n) Σ_i log Σ_{k∈neg(i)} w_ik
    binary    ///< LargeVis: −(1/n) Σ_i Σ_{k∈neg(i)} log(1 − w_ik)
};

/// TorchDR's negative sampling (NegativeSamplingNeighborEmbedding): at every iteration each point draws
/// n_negatives points uniformly with replacement among the others, optionally also never one of its kNN
/// (exclude_neighbors_from_negative_sampling). Draws come from counter-based streams of (seed, step, chunk of 256
/// points), so they do not depend on the thread count.
/// The most negatives per point: each step draws and evaluates n · n_negatives pairs and holds n_negatives indices per
/// thread, so a mistyped huge count would run out of memory or run for days instead of failing.
inline constexpr std::size_t kMaxNegatives = std::size_t(1) << 20;

struct NeNegatives {
    std::size_t n_negatives = 5;
    std::uint64_t seed = 0;
    /// Sorted excluded neighbours per point (CSR over points); empty: only the point itself is excluded.
    std::vector<std::int64_t> excluded_ptr;
    std::vector<std::uint32_t> excluded;
    /// The negatives' sides of the pairs are summed into at most this many n x d buffers, each a run of whole
    /// 256-head chunks, then added in block order: a function of n only, so the bits depend neither on the thread
    /// count nor on the ranks, but they do depend on this number. More blocks: more parallelism and memory (blocks ·
    /// n · d doubles). Distributed runs continue a block that spans ranks from rank to rank (docs/mpi.md §5); with
    /// 1 or 2 blocks every rank after the first continues one, which the tests use to reach that path at 2–3 ranks.
    std::size_t scatter_blocks = 8;
};

/// InfoTSNE's or LargeVis's loss: the attraction over P and a sampled repulsion, one kernel for both (Student-t
/// for InfoTSNE, Cauchy ε = 2 for LargeVis). Pairs are evaluated in float32 with double sums; each pair once, its
/// two sides going to the head's gradient and to its block's scatter buffer (docs/torchdr.md, "InfoTSNE and
/// LargeVis: implementation").
class NeSampledLoss {
public:
    /// Throws InvalidArgument for a bad P, n_negatives = 0, or a point whose exclusions leave no candidate.
    NeSampledLoss(const CsrMatrix<double>& P, NeSampledRepulsion repulsion, const OutputKernel& kernel,
                  NeNegatives negatives, int n_threads);
    /// On this rank's rows (NeRowSplit; Ps_rows as NeTsneLoss's; the exclusion lists, when given, over the owned
    /// rows): the owned heads draw and evaluate their pairs; the negatives' sides, summed per scatter block as one
    /// process does, pass from rank to rank where a block spans two ranks, and the complete blocks' rows go to the
    /// rows' owners, which add them in block order (docs/mpi.md §5).
    NeSampledLoss(const NeRowSplit& rows, const CsrMatrix<double>& Ps_rows, NeSampledRepulsion repulsion,
                  const OutputKernel& kernel, NeNegatives negatives, int n_threads);
    double operator()(MatrixView<double> Y, const NeStepInfo& info, double* grad, bool want_loss);
    /// The negatives operator() draws at `step` (n x n_negatives, row-major), drawn again: for tests (one process).
    std::vector<std::uint32_t> negatives(std::int64_t step) const;

private:
    void check_exclusions() const;
    void reduce_split_blocks(std::size_t n, std::size_t d, std::size_t n_blocks, std::size_t n_local, bool to_next,
                             double* grad);
    NeRowSplit rows_;
    CsrMatrix<double> Ps_;
    NeSampledRepulsion kind_;
    OutputKernel kernel_;
    NeNegatives negatives_;
    int n_threads_;
    std::size_t n_ = 0;
    std::vector<float> Yf_;          // the embedding in float32 (the pairs' differences and kernel values)
    std::vector<double> scatter_;    // per scatter block: the negatives' side of its pairs, n x d each
    std::vector<double> head_term_;  // per head: Σ_k w_ik (log_sum) or the head's repulsion loss (binary)
    std::vector<double> send_, recv_, own_;  // split: the complete blocks' rows going to / coming from their owners
};

} // namespace nembed
