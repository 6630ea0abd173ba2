#pragma once
/// @file relations.hpp
/// paraDime's relations (docs/parametric.md, "paraDime"), named as in paraDime.
///  - Global relations, computed once for the whole data set, kept sparse: `NeighborBasedPDist` (distances to the k
///    nearest neighbours, nembed's kNN; k by paraDime's rule), `Precomputed` (a given sparse matrix), `PDist` (all
///    pairwise distances: never stored; only the elementwise transforms and Normalize are allowed on it, and batches
///    read the distances they need).
///  - Batch relations of the embedded batch, differentiable: `DifferentiablePDist` (every pair of a batch, each pair
///    once, read as the symmetric square form with a zero diagonal) and `DistsFromTo` (explicit pairs, for negative
///    edge sampling). Both are Euclidean distances, then their transforms.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/core/sparse.hpp"
#include "nembed/core/types.hpp"
#include "nembed/neighbors/knn.hpp"
#include "nembed/parametric/transforms.hpp"

namespace nembed::paradime {

enum class GlobalRelationKind { pdist, neighbor_based_pdist, precomputed };
enum class BatchRelationKind { differentiable_pdist, dists_from_to };

/// "PDist", "NeighborBasedPDist", "Precomputed" (or snake case); throws InvalidArgument naming the unknown name.
GlobalRelationKind parse_global_relation(const std::string& name);
/// "DifferentiablePDist", "DistsFromTo" (or snake case).
BatchRelationKind parse_batch_relation(const std::string& name);
std::string to_string(GlobalRelationKind kind);
std::string to_string(BatchRelationKind kind);

struct GlobalRelations {
    GlobalRelationKind kind = GlobalRelationKind::neighbor_based_pdist;
    std::vector<Transform> transform;
    /// NeighborBasedPDist: 0 = paraDime's rule min(n − 1, max(⌊3·perplexity⌋, n_neighbors)) over the attached
    /// rescale transforms, else 5 % of n (at least 1).
    std::size_t n_neighbors = 0;
    KnnOptions knn;                      ///< NeighborBasedPDist's search (metric, method, seed, threads)
    CsrMatrix<double> relations;         ///< Precomputed: n x n relation values (rows: a point's relations)
};

struct BatchRelations {
    BatchRelationKind kind = BatchRelationKind::differentiable_pdist;
    std::vector<Transform> transform;
};

/// Throws InvalidArgument for a transform that does not act on this kind of relation or bad settings.
void validate(const GlobalRelations& rel);
void validate(const BatchRelations& rel);

/// The neighbour count NeighborBasedPDist uses for n points.
std::size_t neighbor_count(const GlobalRelations& rel, std::size_t n);

/// Global relation data: sparse rows, or the lazy all-pairs form of PDist.
struct GlobalRelationData {
    bool lazy_pdist = false;
    CsrMatrix<double> sparse;                ///< when !lazy_pdist
    // PDist: value(i, j) = scale · f(‖x_i − x_j‖) with the elementwise transforms f, diagonal 0.
    MatrixView<float> data;                  ///< the points (held by the caller)
    std::vector<Transform> elementwise;
    std::vector<TransformParams> params;
    double scale = 1.0;

    std::size_t n_points() const { return lazy_pdist ? data.rows : sparse.n_rows; }
    /// The block of the batch: out[a·b + c] = rel(batch[a], batch[c]) (b = batch.size()); `pos` is scratch of n
    /// entries, all −1 on entry and on return.
    void sub(std::span<const index_t> batch, std::vector<std::int64_t>& pos, std::vector<double>& out) const;
    /// The block of the batch (sparse relations) as the pairs a < c of a triangular batch relation, in its order:
    /// p = rel(batch[a], batch[c]) / s and p_t = rel(batch[c], batch[a]) / s, s the block's sum when `normalize` (1 if
    /// it is 0), else 1 — the bits of sub() read at the pairs, without the b × b block.
    void triangular_pairs(std::span<const index_t> batch, std::vector<std::int64_t>& pos, bool normalize,
                          std::vector<double>& p, std::vector<double>& p_t) const;
};

/// NeighborBasedPDist's matrix: row i holds the distances to its k neighbours, by column — csr_from_triplets of the
/// graph's (i, j, d) triplets (repeats of a point in a row summed), built row by row in parallel instead of one serial
/// sort of the n·k triplets.
CsrMatrix<double> knn_distance_rows(const KnnGraph& g, int n_threads = 1);
/// Computes global relations of X (n x D) with their transforms.
GlobalRelationData compute_global_relations(const GlobalRelations& rel, MatrixView<float> X, int n_threads = 1);

/// The batch relations of an embedded batch and what their backward pass needs.
struct BatchRelationData {
    bool triangular = true;        ///< DifferentiablePDist: the pairs (i < j) of `n_items` items
    std::size_t n_items = 0;       ///< rows of the square form (triangular) or number of pairs (from-to)
    std::vector<std::int32_t> from, to;  ///< local row indices into the embedded batch, one entry per pair
    std::vector<std::vector<double>> stages;  ///< stages[0]: distances; stages[s + 1]: after transform s
    std::vector<TransformParams> params;      ///< per transform
    const std::vector<double>& values() const { return stages.back(); }
    std::size_t n_pairs() const { return from.size(); }
};

/// Forward: distances of the pairs (triangular: all i < j of the Yb rows; from-to: the given pairs), then the
/// transforms with `params` (one per transform).
void compute_batch_relations(const BatchRelations& rel, MatrixView<double> Yb, const std::vector<TransformParams>& params,
                             BatchRelationData& out, const std::vector<std::int32_t>* from = nullptr,
                             const std::vector<std::int32_t>* to = nullptr);

/// Backward: from dL/d(values) to dL/dYb (accumulated, Yb's layout) and dL/d(parameters) of the learnable
/// transforms (accumulated into dparams, one TransformParams per transform).
/// `attraction` (early exaggeration, docs/parametric.md): at the last Normalize, the part of the gradient that flows
/// through each value itself is multiplied by it and the part through the normalising sum is not — for KL,
/// −α Σ p log w + log Σ w, openTSNE's exaggerated gradient 4 Σ (α p_ij − q_ij) w_ij (y_i − y_j). Without a
/// Normalize the whole gradient is multiplied.
void batch_relations_backward(const BatchRelations& rel, MatrixView<double> Yb, const BatchRelationData& data,
                              std::vector<double> grad_values, double* dYb, std::vector<TransformParams>& dparams,
                              double attraction = 1.0);
/// The same, with grad_values used as scratch (overwritten): no copy of the per-pair gradient per batch.
void batch_relations_backward_in_place(const BatchRelations& rel, MatrixView<double> Yb, const BatchRelationData& data,
                                       std::vector<double>& grad_values, double* dYb,
                                       std::vector<TransformParams>& dparams, double attraction = 1.0);

} // namespace nembed::paradime
