#pragma once
// Private to src/methods: openTSNE's perplexity-calibrated affinities for the t-SNE method.
#include <vector>

#include "nembed/core/sparse.hpp"
#include "nembed/neighbors/knn_graph.hpp"

namespace nembed::tsne_detail {
/// min(N − 1, ⌊3·perplexity⌋).
std::size_t neighbors_for(std::size_t n, double perplexity);
/// Caps the perplexity at (N − 1)/3 with a warning (openTSNE).
double clamp_perplexity(std::size_t n, double perplexity);
/// Symmetric P = (P_cond + P_condᵀ)/(2N) summing to 1; several perplexities give the multiscale mixture.
CsrMatrix<double> joint_affinities(const KnnGraph& knn, const std::vector<double>& perplexities, int n_threads);
/// Row-normalised N_new x N_ref conditional P (transform).
CsrMatrix<double> conditional_affinities(const KnnGraph& knn_new, double perplexity, int n_threads);
} // namespace nembed::tsne_detail
