#pragma once
/// @file quality.hpp
/// Embedding quality metrics, all exact (no approximate neighbours), reported by every benchmark:
///
/// - knn_recall: fraction of each point's k nearest high-dimensional neighbours that are among its k nearest
///   embedding neighbours, averaged over points.
/// - trustworthiness: scikit-learn's definition (Venna & Kaski),
///   T(k) = 1 - 2 / (n k (2n - 3k - 1)) * sum_i sum_{j in N_k^Y(i) \ N_k^X(i)} (r(i, j) - k),
///   r(i, j) = rank of j among i's high-dimensional neighbours (1 = nearest). When only m < n query points are
///   evaluated (max_points), the first n of the normaliser becomes m, so the value stays in [0, 1] and is an
///   unbiased estimate of the full one.
/// - knn_accuracy: leave-one-out k-nearest-neighbour classification accuracy in the embedding.
/// - distance_spearman: Spearman rank correlation between high- and low-dimensional distances of random pairs.
/// - kl_divergence_exact: the t-SNE objective KL(P || Q) with the full heavy-tailed kernel, O(N^2).
///
/// Neighbour and rank conventions: distances are Euclidean, computed in double from the inputs; ties are broken by
/// the smaller index (the convention of nembed's kNN graphs), so r(i, j) = 1 + #{l != i : d(i,l) < d(i,j) or
/// (d(i,l) = d(i,j) and l < j)} and j is one of i's k nearest neighbours exactly when r(i, j) <= k. High-dimensional
/// ranks come from blocked float GEMM distance screens; every comparison the float error bound cannot decide is
/// redone exactly in double, so ranks are exact without an N x N matrix (O(m N D) time, O(N) memory per thread).
/// Embedding neighbours come from an exact double brute force (O(N^2 d)).
///
/// All results are independent of n_threads.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/core/sparse.hpp"
#include "nembed/neighbors/knn_graph.hpp"

namespace nembed {

/// Recall against a precomputed exact high-dimensional self kNN graph (high.n_points == high.n_reference ==
/// Y.rows, high.k >= k; only the first k neighbours of each row are used). 1 <= k < N.
double knn_recall(const KnnGraph& high, MatrixView<double> Y, std::size_t k, int n_threads = 1);

/// Recall with exact high-dimensional ranks computed from X (see the file comment). max_points > 0 evaluates a
/// seeded random subset of that many query points (all points are still candidates as neighbours).
double knn_recall(MatrixView<float> X, MatrixView<double> Y, std::size_t k, int n_threads = 1,
                  std::size_t max_points = 0, std::uint64_t seed = 0);

/// scikit-learn's trustworthiness (see the file comment). Requires 1 <= k < N / 2 (as scikit-learn).
double trustworthiness(MatrixView<float> X, MatrixView<double> Y, std::size_t k, int n_threads = 1,
                       std::size_t max_points = 0, std::uint64_t seed = 0);

/// Leave-one-out kNN classification accuracy in the embedding: each point is predicted by the majority label of its
/// k nearest other points; a tie between labels goes to the tied label that occurs nearest (earliest in the
/// distance-sorted neighbour list). labels.size() must equal Y.rows; 1 <= k < N.
double knn_accuracy(MatrixView<double> Y, const std::vector<std::int64_t>& labels, std::size_t k = 10,
                    int n_threads = 1);

/// Spearman correlation (average ranks for ties) between |x_i - x_j| and |y_i - y_j| over n_pairs pairs i != j drawn
/// uniformly with replacement (seeded; one Rng stream per block of pairs). Throws when either distance set is
/// constant (correlation undefined) or N < 2.
double distance_spearman(MatrixView<float> X, MatrixView<double> Y, std::size_t n_pairs = 100000,
                         std::uint64_t seed = 0, int n_threads = 1);

/// KL(P || Q) = sum_ij p_ij log(p_ij / w_ij) + log Z with w_ij = (1 + |y_i - y_j|^2 / dof)^-dof and
/// Z = sum_{i != j} w_ij (tsne.md section 9). P (N x N, non-negative, zero diagonal) is normalised to sum 1 here, so
/// an exaggerated P gives the plain KL. O(N^2 d) time, O(1) extra memory.
double kl_divergence_exact(const CsrMatrix<double>& P, MatrixView<double> Y, double dof = 1.0, int n_threads = 1);

struct QualityOptions {
    std::size_t k_recall = 10;     ///< neighbourhood of kNN recall
    std::size_t k_accuracy = 10;   ///< neighbours voting in kNN accuracy
    std::size_t k_trust = 10;      ///< neighbourhood of trustworthiness
    std::size_t n_pairs = 100000;  ///< pairs for the distance Spearman correlation
    std::uint64_t seed = 0;        ///< subsample and pair seed
    int n_threads = 1;
    /// Query points for recall and trustworthiness (the O(m N D) parts); 0 = all. A seeded subsample keeps large
    /// data sets cheap: 10 000 queries of 70 000 x 50 take seconds.
    std::size_t max_points = 0;
    double dof = 1.0;              ///< kernel degrees of freedom for the KL
};

struct QualityReport {
    double knn_recall = 0.0;
    double trustworthiness = 0.0;
    double distance_spearman = 0.0;
    std::optional<double> knn_accuracy;  ///< set when labels were given
    std::optional<double> kl;            ///< set when P was given
    std::size_t n_points = 0;            ///< N
    std::size_t n_queries = 0;           ///< points evaluated for recall and trustworthiness
    std::size_t k_recall = 0, k_trust = 0, k_accuracy = 0;
    /// One "name: value" line per metric.
    std::string to_string() const;
};

/// All metrics at once (recall and trustworthiness share one rank pass when k_recall == k_trust). labels and P may
/// be null. Throws InvalidArgument for mismatched sizes or bad options.
QualityReport evaluate(MatrixView<float> X, MatrixView<double> Y, const std::vector<std::int64_t>* labels,
                       const CsrMatrix<double>* P, const QualityOptions& options);

} // namespace nembed
