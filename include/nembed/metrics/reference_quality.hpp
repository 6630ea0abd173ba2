#pragma once
/// @file reference_quality.hpp
/// Held-out points judged against a reference (training) map — how points embedded by a transform are usually
/// scored (openTSNE's transform; a k-NN classifier fitted on the reference embedding), rather than among
/// themselves:
///
/// - knn_recall: for each held-out point, |its k nearest reference points in the data ∩ its k nearest reference
///   points in the embedding| / k, averaged over the held-out points;
/// - knn_accuracy: the k-NN classifier of the reference embedding (the majority label of the k nearest reference
///   points, a tie to the tied label that occurs nearest — knn_accuracy's rule, quality.hpp) predicting each
///   held-out point's label; the fraction right.
///
/// Neighbours are exact and Euclidean, ties to the smaller reference index: in the data from the exact kNN index
/// (neighbors/exact.hpp: the float64 answer), in the embedding by an exact double scan. The same for any n_threads.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "nembed/core/matrix.hpp"

namespace nembed {

struct ReferenceQuality {
    double knn_recall = 0.0;
    std::optional<double> knn_accuracy;  ///< set when both label sets were given
    std::size_t n_points = 0;            ///< held-out points
    std::size_t n_reference = 0;         ///< reference points
    std::size_t k = 0;
};

/// X_ref (n × D) and Y_ref (n × d) the reference data and embedding, X (m × D) and Y (m × d) the held-out points;
/// labels (m) and ref_labels (n) may both be null (no accuracy), not only one. 1 <= k <= n. InvalidArgument naming
/// the mismatch otherwise.
ReferenceQuality evaluate_against_reference(MatrixView<float> X_ref, MatrixView<double> Y_ref, MatrixView<float> X,
                                            MatrixView<double> Y, std::size_t k,
                                            const std::vector<std::int64_t>* ref_labels,
                                            const std::vector<std::int64_t>* labels, int n_threads = 1);

} // namespace nembed
