#pragma once
/// @file distance.hpp
/// Exact point-to-point distances in double precision, and the building blocks every kNN index shares: input
/// checks with the project's error messages, and the final "recompute exactly, sort, keep k" step.
///
/// Indexes select candidates with fast float arithmetic (GEMM, hnswlib) and then recompute the distances of the
/// candidates exactly in double from the original vectors, so a returned distance never carries the cancellation
/// error of ||x||^2 + ||y||^2 - 2 x.y, and never is a squared Euclidean distance.
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/core/types.hpp"
#include "nembed/neighbors/knn.hpp"
#include "nembed/neighbors/knn_graph.hpp"

namespace nembed {

/// Euclidean norm of a float vector, accumulated in double.
double vector_norm(const float* x, std::size_t dim);

/// Exact distance between `a` and `b` in double: Euclidean sqrt(sum (a-b)^2); cosine 1 - <a,b>/(|a||b|) clamped
/// to [0, 2] (umap-learn's convention: two zero vectors are at distance 0, a zero vector at distance 1 from any
/// other); inner product 1 - <a,b>. The other metrics are MetricEval's (metric.hpp); NaN here.
/// `norm_a`/`norm_b` are used by cosine only (pass vector_norm of each; ignored otherwise).
double point_distance(const float* a, const float* b, std::size_t dim, Metric metric, double norm_a = 0.0,
                      double norm_b = 0.0);

/// Copy of `x` with every row scaled to unit Euclidean norm (zero rows stay zero); used for cosine, where
/// nearest by 1 - cos equals nearest by inner product on normalised rows.
Matrix<float> normalize_rows(MatrixView<float> x, int n_threads);

/// The map an index applies to the vectors it searches with in float32, so that its candidates do not depend on
/// where the data sit or on their scale (the distances it reports are always recomputed from the original vectors):
///  - Euclidean: w = (x - mean) * s, the reference's column means (in double) and s a power of two that brings the
///    largest centred magnitude into [1, 2). Without the centring, |x|^2 + |y|^2 - 2 x.y cancels catastrophically
///    for data near 1e4 (float32 keeps 7 digits of |x|^2 ~ 5e9); without the scaling, squares overflow for data
///    near 1e20 and underflow for denormal data. Both are exact or within one rounding of the centred value.
///  - inner product: w = x * s (s as above, from max |x|): the order of <q, r> over r is unchanged by it.
///  - cosine: rows normalised to unit norm in double (the scale drops out).
/// Queries get the reference's map. A query row whose mapped values exceed far_limit in magnitude (far outside
/// the reference, where float32 keys could overflow) is flagged so that the index answers it by an exact scan.
/// Inputs are float32 already, so the whole float32 range (denormals to 3.4e38) is handled; a float64 file beyond
/// it is refused when loaded (load_matrix: "value overflows float32"). Differences below float32's resolution of
/// the values themselves (float64 data 1e8 + 1e-3 noise) are lost in that conversion, before any index sees them.
struct SearchTransform {
    static constexpr double far_limit = 0x1p50;
    Metric metric = Metric::euclidean;
    std::vector<double> shift;  ///< Euclidean: the reference's column means; empty otherwise
    double scale = 1.0;         ///< power of two (1 for cosine)

    SearchTransform() = default;
    SearchTransform(MatrixView<float> reference, Metric m);
    /// The map of a reference known by its global quantities: `shift` its column means (Euclidean; ignored
    /// otherwise) and `largest` its largest_offset. A distributed search (dist/knn.cpp) maps every block by the
    /// whole data's map, so the float keys do not depend on how the rows are split.
    SearchTransform(Metric m, std::vector<double> shift, double largest);
    /// The largest |x - shift| over the values of x (|x| when shift is empty): what the scale is chosen from.
    static double largest_offset(MatrixView<float> x, const std::vector<double>& shift);
    /// The mapped rows of `x`; `far` (if given) gets one flag per row (see above).
    Matrix<float> apply(MatrixView<float> x, int n_threads, std::vector<char>* far = nullptr) const;
};

namespace detail {

/// Throws InvalidArgument for empty, too large (> 2^31 - 1 points) or non-finite data.
void check_knn_data(MatrixView<float> data, const std::string& what);
/// Throws unless 1 <= k < n ("k = 91 must be less than the number of points (50)").
void check_self_k(std::size_t k, std::size_t n);
/// Throws unless 1 <= k <= n_reference and the query dimension matches; also checks the queries' values.
void check_query(MatrixView<float> queries, std::size_t k, std::size_t n_reference, std::size_t dim);

/// Reference vectors plus what `point_distance` needs (norms for cosine), for the exact recomputation.
struct ExactDistance {
    MatrixView<float> reference;
    Metric metric = Metric::euclidean;
    std::vector<double> norms;  ///< |r_j| for cosine, empty otherwise

    ExactDistance() = default;
    ExactDistance(MatrixView<float> ref, Metric m, int n_threads);
    double query_norm(const float* q) const {
        return metric == Metric::cosine ? vector_norm(q, reference.cols) : 0.0;
    }
    double operator()(const float* q, double q_norm, index_t j) const {
        return point_distance(q, reference.row(static_cast<std::size_t>(j)), reference.cols, metric, q_norm,
                              metric == Metric::cosine ? norms[static_cast<std::size_t>(j)] : 0.0);
    }
};

/// Recomputes the distance of every candidate index exactly, sorts by (distance, index) and writes the first k
/// into out_idx / out_dist. `candidates` must hold at least k distinct indices.
void finish_row(const ExactDistance& dist, const float* query, std::vector<index_t>& candidates, std::size_t k,
                index_t* out_idx, float* out_dist, std::vector<std::pair<double, index_t>>& scratch);

/// Exact k nearest reference points of `query` by a full scan in double (`exclude` is skipped; -1 for none).
/// Used as a fallback when an approximate index returns too few results for a row.
void brute_force_row(const ExactDistance& dist, const float* query, index_t exclude, std::size_t k,
                     index_t* out_idx, float* out_dist);

/// Warns (once per graph) when inner-product distances 1 - <x,y> came out negative: affinities need
/// non-negative distances, so such a graph is only usable after normalising the data (or with cosine).
void warn_negative_distances(const KnnGraph& g);

} // namespace detail
} // namespace nembed
