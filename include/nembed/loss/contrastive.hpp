#pragma once
/// @file contrastive.hpp
/// cne's contrastive losses (contrastive.md §1.3) for one head point i with its positive partner j and m
/// negatives k, with the output similarity of kernel/contrastive_kernel.hpp:
///
///   umap        ℓ = −log q⁺ − Σ_k log(1 − q_k)
///   neg         e = q/(q + ξ) (Euclidean: 1/(1 + ξ(d² + eps))); ℓ = −log e⁺ − Σ_k log(1 − e_k)     ξ = spec
///   nce         e = (q/Z)/(q/Z + m) (Euclidean: 1/(1 + (d² + eps)·Z·m)); same cross-entropy; Z = exp(log_Z)
///   infonce     ℓ = −(τ/τ₀)·[log q⁺ − (1/ρ)·log(q⁺ + Σ_k q_k)]                                  ρ = spec
///   infonce_alt as infonce without q⁺ in the denominator (SimCLR)
///
/// Every argument of a log is clamped to [clamp_low, clamp_high] as in cne (the clamped value passes no gradient).
/// Gradients are exact for this piecewise-smooth loss; the tests check them against finite differences.
#include <cstddef>
#include <string>

#include "nembed/kernel/contrastive_kernel.hpp"

namespace nembed {

enum class ContrastiveMode { umap, neg, nce, infonce, infonce_alt };
/// Parses "umap", "neg" (also "neg_sample"), "nce", "infonce", "infonce_alt"; throws InvalidArgument otherwise.
ContrastiveMode parse_contrastive_mode(const std::string& name);
std::string to_string(ContrastiveMode m);

struct ContrastiveLossParams {
    ContrastiveMode mode = ContrastiveMode::infonce;
    ContrastiveMetric metric = ContrastiveMetric::euclidean;
    double eps = 1.0;               ///< Cauchy kernel offset
    double temperature = 0.5;       ///< cosine temperature; InfoNCE also scales its loss by temperature/base
    double base_temperature = 1.0;  ///< cne's τ₀
    double spec = 1.0;              ///< ξ (neg) or ρ (infonce, infonce_alt); unused by umap and nce
    double log_Z = 0.0;             ///< nce's learned normaliser
    double clamp_low = 1e-4;        ///< cne "auto": 1e-4 (Euclidean), −inf (cosine)
    double clamp_high = 1.0;        ///< cne "auto": 1 (Euclidean), +inf (cosine)
    std::size_t nce_m = 5;          ///< m in nce's estimator (the number of negatives actually drawn)
};

/// Throws InvalidArgument for a bad combination (non-positive spec, temperature or eps < 0, clamp_low > clamp_high).
void validate(const ContrastiveLossParams& p);

/// Loss of one head: y_i = head, others[0] = positive partner, others[1..n_others) = negatives (d-vectors).
/// When the gradient pointers are non-null, adds ∂ℓ/∂y_i to g_head, ∂ℓ/∂others[t] to g_others[t] (each a d-vector)
/// and ∂ℓ/∂log_Z to *g_log_Z (nce only). Accumulates: callers zero them.
double contrastive_head_loss(const ContrastiveLossParams& p, std::size_t d, const double* head,
                             const double* const* others, std::size_t n_others, double* g_head = nullptr,
                             double* const* g_others = nullptr, double* g_log_Z = nullptr);

} // namespace nembed
