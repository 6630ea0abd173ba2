#pragma once
/// @file tsne_batch_loss.hpp
/// ParametricTSNE's batch loss in fused passes (issue #17): KL(P_b ‖ Q_b) / b of a batch of b rows in 2-D, Q_b the
/// Student-t kernel (α = 1) over every pair i < j normalised over the square form (DifferentiablePDist with
/// [StudentTTransform(1), Normalize()]), P_b the batch's block of the sparse global relations (divided by its sum with
/// normalize_sub), and dL/dY.
///
/// The general path (compute_batch_relations → triangular_pairs → relation_loss_value →
/// batch_relations_backward_in_place) makes seven passes over the b(b − 1)/2 pairs on one core with two dense P
/// vectors. Here, per pair, w = 1 / (1 + ‖y_i − y_j‖²) (no square root: the kernel needs the squared distance), and
///   dL/dy_i = Σ_j (R w_ij² + A_ij) (y_i − y_j),  R = −4 Σ e q / (2S),  A_ij = 2 a e_ij w_ij² / (2S),
/// with S = Σ w, e = −dL/dq of an entry of P_b (the KL's, times the loss weight) and a the exaggeration: the general
/// path's algebra (Normalize's backward, the kernel's derivative −2 w² d, ÷ d) with the dense part apart from the
/// sparse one. R's factor is known only after Σ w, but Σ_j w² (y_i − y_j) is not: one pass over the pairs gives Σ w
/// and those sums; a second, over P_b's entries only, the value, Σ e q and the attraction. Both run over 16 row blocks
/// of equal pair counts (fixed by b), their partial sums added in block order, with 8 fixed lanes inside a block: the
/// bits do not depend on the thread count or the ISA clone. They differ from the general path's in the last places
/// (tests/parametric/test_paradime.cpp, ParadimeRelations.FusedTsneBatchLossEqualsGeneralPath).
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/core/sparse.hpp"
#include "nembed/core/types.hpp"
#include "nembed/parametric/losses.hpp"
#include "nembed/parametric/relations.hpp"

namespace nembed::paradime {

/// Buffers of fused_tsne_batch_kl, kept across batches.
struct TsneBatchScratch {
    struct Block {
        std::vector<std::int32_t> from, to;  // the block's entries of P_b: local rows
        std::vector<offset_t> at;            // their offsets in P
        std::vector<double> value;
        std::size_t n = 0;                   // entries in use
        double sp = 0, sw = 0, L = 0, eq = 0;  // partial sums
    };
    std::vector<double> x, y, rep, att;
    std::vector<std::int32_t> loc;  // the batch's local row of each point, −1 outside
    std::vector<std::size_t> rows;  // row block boundaries
    std::vector<Block> blocks;
};

/// Whether fused_tsne_batch_kl computes this relation loss: KL on DifferentiablePDist batch relations with exactly
/// [StudentTTransform(α = 1, not learnable), Normalize()], sparse global relations and 2-D positions.
bool fused_tsne_batch_applies(const Loss& loss, const BatchRelations& rel, const std::vector<TransformParams>& params,
                              const GlobalRelationData& global, std::size_t dims);

/// The loss's value (KL / b) for the batch's rows `batch` of P with positions Y (b x 2); adds weight · dL/dY to dY.
double fused_tsne_batch_kl(const Loss& loss, const CsrMatrix<double>& P, std::span<const index_t> batch,
                           MatrixView<double> Y, double weight, double* dY,
                           int n_threads, TsneBatchScratch& scratch);

} // namespace nembed::paradime
