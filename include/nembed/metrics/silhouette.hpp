#pragma once
/// @file silhouette.hpp
/// Silhouette coefficients (Rousseeuw 1987) with TorchDR's conventions (`torchdr.eval.silhouette_samples` /
/// `silhouette_score`). For a point i of cluster c with weight w_i (1 without weights), W_c the total weight of c:
///
///   a_i = sum_{j in c} w_j d(i, j) / (W_c - w_i)          (mean distance to its own cluster)
///   b_i = min_{c' != c} sum_{j in c'} w_j d(i, j) / W_c'   (mean distance to the nearest other cluster)
///   s_i = (b_i - a_i) / max(a_i, b_i),  then NaN -> 0, +-inf -> +-largest double (torch.nan_to_num)
///
/// TorchDR's edge cases are kept: a point alone in its cluster gets a_i = 0, so s_i = 1 (scikit-learn gives 0).
/// Unlike TorchDR (which returns 0 everywhere), a single cluster is refused: the score is undefined.
/// The sums run over every j of the cluster in index order (d(i, i) included: 0 except for a precomputed matrix
/// with a non-zero diagonal, which TorchDR also sums), in double, one row at a time: O(N^2 D) time, O(N + C)
/// memory, no N x N matrix. Rows are independent, so the results are the same bits for any thread count.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "nembed/core/matrix.hpp"

namespace nembed {

/// TorchDR's `admissible_LIST_METRICS`. hyperbolic is the Poincaré-ball geodesic distance
/// arccosh(1 + 2|x - y|^2 / ((1 - |x|^2)(1 - |y|^2))) (rows inside the unit ball); TorchDR 0.5 lists the name but
/// its dense backend rejects it. precomputed reads X as an N x N distance matrix.
enum class SilhouetteMetric { euclidean, manhattan, hyperbolic, precomputed };

/// Parses TorchDR's names ("euclidean", "manhattan", "hyperbolic", "precomputed"); InvalidArgument naming `metric`.
SilhouetteMetric parse_silhouette_metric(const std::string& name);
std::string to_string(SilhouetteMetric metric);

/// The per-point coefficients s_i (see the file comment). labels.size() == N with at least two distinct labels;
/// weights null (uniform) or N finite non-negative values. Throws InvalidArgument naming the bad parameter.
std::vector<double> silhouette_samples(MatrixView<double> X, const std::vector<std::int64_t>& labels,
                                       const std::vector<double>* weights = nullptr,
                                       SilhouetteMetric metric = SilhouetteMetric::euclidean, int n_threads = 1);

/// Mean of silhouette_samples. sample_size > 0 scores a seeded uniform subset of that many points (without
/// replacement, drawn with nembed's counter-based generator: the subset differs from TorchDR's, which uses Python's
/// `random.sample`; nembed's Python `silhouette_score` draws TorchDR's subset). sample_size must be <= N.
double silhouette_score(MatrixView<double> X, const std::vector<std::int64_t>& labels,
                        const std::vector<double>* weights = nullptr,
                        SilhouetteMetric metric = SilhouetteMetric::euclidean, std::size_t sample_size = 0,
                        std::uint64_t random_state = 0, int n_threads = 1);

} // namespace nembed
