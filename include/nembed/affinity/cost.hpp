#pragma once
/// @file cost.hpp
/// The input cost C of TorchDR's affinities (its `metric` parameter), dense or on the k nearest neighbours.
///
///   sqeuclidean  C_ij = Σ_d (x_id − x_jd)²     (TorchDR's default)
///   euclidean    C_ij = √(Σ_d (x_id − x_jd)²)
///   manhattan    C_ij = Σ_d |x_id − x_jd|
///   angular      C_ij = −⟨x_i, x_j⟩            (TorchDR: the negative inner product of the raw rows, not normalised;
///                                              it can be negative, and C_ii is not the row's smallest cost)
///
/// Costs are computed in double from the differences x_id − x_jd (exact for float32 inputs), never from
/// |x|² + |y|² − 2⟨x, y⟩, so an offset of the data (1e6) does not cost precision. `zero_diag` (TorchDR's default)
/// leaves the pair (i, i) out: TorchDR adds 1e12 to the diagonal, so its affinity there underflows to 0; here the
/// diagonal is marked +∞ in a dense cost and never listed in a sparse one.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/core/types.hpp"
#include "nembed/neighbors/knn.hpp"

namespace nembed {

enum class CostMetric { sqeuclidean, euclidean, manhattan, angular };

/// Parses TorchDR's metric names "sqeuclidean", "euclidean", "manhattan", "angular" (case-insensitive); throws
/// InvalidArgument "metric: unknown ..." otherwise.
CostMetric parse_cost_metric(const std::string& name);
std::string to_string(CostMetric m);

/// C between two rows of `dim` values, accumulated in double.
template <typename T>
double pair_cost(const T* a, const T* b, std::size_t dim, CostMetric m);

/// Batched float form of sqeuclidean for hot loops that only compare costs (PACMAP's mid-near candidates, every
/// step): out[t] = Σ_d (a_d − X_{rows[t], d})² over rows of `stride` floats, stride a multiple of kSqeuclideanPad
/// (rows zero-padded past the features: the padding adds 0). Summed in float over kSqeuclideanPad lanes, then the
/// lanes in a fixed tree, so every CPU variant (the function has AVX-512/AVX2/SSE2 clones) gives the same bits.
/// From the differences, so an offset of the data costs no precision beyond float's.
inline constexpr std::size_t kSqeuclideanPad = 16;
void sqeuclidean_rows_f32(const float* a, const float* X, std::size_t stride, const index_t* rows, std::size_t count,
                          float* out);

/// The N x N cost of the rows of X; the diagonal is +∞ when zero_diag. Rows are computed in parallel, each by a
/// fixed sequence of operations (bit-identical for any thread count). X must be finite with N >= 2.
template <typename T>
Matrix<double> dense_cost(MatrixView<T> X, CostMetric m, bool zero_diag = true, int n_threads = 1);

/// Each row's k smallest costs, ascending (ties by the smaller index), with their columns.
struct SparseCost {
    std::size_t n = 0;             ///< rows (points)
    std::size_t k = 0;             ///< entries per row
    std::vector<index_t> indices;  ///< n * k, row-major
    std::vector<double> costs;     ///< n * k, row-major, ascending within a row
    const index_t* row_indices(std::size_t i) const { return indices.data() + i * k; }
    const double* row_costs(std::size_t i) const { return costs.data() + i * k; }
};

/// How the neighbours of a sparse cost are found: sqeuclidean and euclidean use nembed's kNN index (`method`, exact
/// by default as TorchDR's torch backend) and then recompute the costs in double; manhattan, angular and
/// zero_diag = false scan every pair in double (O(N² D), as TorchDR's torch backend does).
struct CostKnnOptions {
    bool zero_diag = true;                 ///< false: the point itself is a candidate (TorchDR's zero_diag = False)
    KnnMethod method = KnnMethod::exact;   ///< the index for (sq)euclidean; auto/hnsw for large N
    std::uint64_t seed = 0;                ///< HNSW's level generator
    std::size_t hnsw_shards = 0;           ///< HNSW over this many shards (KnnOptions::hnsw_shards); 0 = one index
    int n_threads = 1;
};

/// The k smallest costs of every row of X. Requires 1 <= k <= N − 1 (k <= N when zero_diag is false).
SparseCost knn_cost(MatrixView<float> X, std::size_t k, CostMetric m, const CostKnnOptions& options = {});

} // namespace nembed
