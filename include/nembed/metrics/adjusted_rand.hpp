#pragma once
/// @file adjusted_rand.hpp
/// The adjusted Rand index of two labelings (Hubert & Arabie 1985) in scikit-learn's form (`adjusted_rand_score`,
/// which TorchDR's `kmeans_ari` calls). From the contingency table n_ij, with n the number of samples,
/// a_i = sum_j n_ij, b_j = sum_i n_ij and S = sum n_ij^2, the pair-confusion counts are
///
///   tp = S - n,  fn = sum_ij n_ij a_i - S,  fp = sum_ij n_ij b_j - S,  tn = n^2 - tp - fp - fn - n
///
/// (ordered pairs), and ARI = 2 (tp tn - fn fp) / ((tp + fn)(fn + tn) + (tp + fp)(fp + tn)); 1 when fn = fp = 0
/// (identical partitions up to renaming, including the one-cluster and all-singletons cases).
/// The counts are exact 64-bit integers (n up to 2^31); the final products are taken in long double.
#include <cstdint>
#include <vector>

namespace nembed {

/// ARI of two labelings of the same samples (any integer label values). InvalidArgument when the sizes differ or
/// the labelings are empty.
double adjusted_rand_score(const std::vector<std::int64_t>& labels_true, const std::vector<std::int64_t>& labels_pred);

} // namespace nembed
