#pragma once
/// @file contrastive_kernel.hpp
/// cne's output similarities (contrastive.md §1.2): the Cauchy kernel q = 1/(eps + ‖y_i − y_j‖²) on Euclidean
/// distances (eps = 1: t-SNE's kernel; eps = 0: UMAP's implicit 1/d²), and the cosine similarity
/// q = exp(cos(y_i, y_j)/τ) (SimCLR). Both with their derivatives, for the losses in loss/contrastive.hpp.
#include <string>

#include "nembed/kernel/kernel.hpp"

namespace nembed {

/// Which output similarity a contrastive loss uses.
enum class ContrastiveMetric {
    euclidean,  ///< Cauchy kernel 1/(eps + d²) (cne's default)
    cosine      ///< exp(cos/temperature)
};
/// Parses "euclidean" (also "cauchy") or "cosine"; throws InvalidArgument naming the bad value.
ContrastiveMetric parse_contrastive_metric(const std::string& name);
std::string to_string(ContrastiveMetric m);

} // namespace nembed
