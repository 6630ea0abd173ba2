#pragma once
/// @file multiscale.hpp
/// Affinities over several perplexities at once. Two flavours, as in openTSNE:
///  - mixture (openTSNE's MultiscaleMixture, TSNE's own class): p_j|i ∝ Σ_h √τ_h exp(−d_ij² τ_h / 2), normalised
///    once per row (Lee et al. 2015);
///  - average (openTSNE's Multiscale = FIt-SNE's perplexity_list): the mean of the separately normalised
///    single-scale rows.
/// Each scale is calibrated from a fresh bisection bracket. openTSNE resets the bracket once per point, so the
/// second scale can inherit the first one's τ (docs/tsne.md, "Multiscale affinities"); nembed does not repeat that.
#include <string>
#include <vector>

#include "nembed/affinity/perplexity.hpp"

namespace nembed {

enum class MultiscaleMode { mixture, average };

MultiscaleMode parse_multiscale_mode(const std::string& name);

struct MultiscaleOptions {
    std::vector<double> perplexities{30.0};  ///< at least one, each > 0
    MultiscaleMode mode = MultiscaleMode::mixture;
    bool symmetrize = true;  ///< joint (P + Pᵀ)/2N, or the row-normalised conditional P
    CalibrationOptions calibration;
    int n_threads = 1;
};

/// openTSNE's clean-up of a perplexity list: each value capped at (N − 1)/3 (with a warning), duplicates dropped,
/// order kept. Throws if the list is empty or a value is not positive.
std::vector<double> clean_perplexities(std::size_t n, const std::vector<double>& perplexities);

/// Neighbours needed: min(N − 1, ⌊3·max perplexity⌋).
std::size_t multiscale_neighbors(std::size_t n, const std::vector<double>& perplexities);

CsrMatrix<double> multiscale_affinities(const KnnGraph& graph, const MultiscaleOptions& options);

} // namespace nembed
