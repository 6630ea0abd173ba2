#pragma once
/// @file contrastive.hpp
/// cne's contrastive losses (contrastive.md §1.3) for one head point i with its positive partner j and m
/// negatives k, with the output similarity of kernel/contrastive_kernel.hpp:
///
/// Each loss is an attraction term on the positive pair and a repulsion term on the negatives, with the
/// exaggeration a on the attraction and the repulsion strength r on the repulsion (TorchDR's
/// early_exaggeration_coeff and repulsion_strength; a = r = 1 is cne's loss):
///
///   umap        ℓ = −a·log q⁺ − r·Σ_k log(1 − q_k)
///   neg         e = q/(q + ξ) (Cauchy: 1/(1 + ξ/w) with 1/w = d² + eps); ℓ = −a·log e⁺ − r·Σ_k log(1 − e_k)  ξ = spec
///   nce         e = (q/Z)/(q/Z + m) (Cauchy: 1/(1 + Z·m/w)); the same cross-entropy; Z = exp(log_Z)
///   infonce     ℓ = −(τ/τ₀)·[a·log q⁺ − (r/ρ)·log(q⁺ + Σ_k q_k)]                              ρ = spec
///   infonce_alt as infonce without q⁺ in the denominator (SimCLR)
///
/// q is the kernel of kernel/kernel.hpp: CauchyKernel(eps) on squared Euclidean distances, CosineKernel(τ) on
/// the cosine (contrastive_kernel.hpp names the choice). Every argument of a log is clamped to
/// [clamp_low, clamp_high] as in cne (the clamped value passes no gradient). Gradients are exact for this
/// piecewise-smooth loss; the tests check them against finite differences. A weighted sum of such losses
/// (contrastive_loss_sum) mixes them on the same head, partner and negatives.
#include <cstddef>
#include <span>
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
    double exaggeration = 1.0;      ///< a: coefficient on the attraction term (> 0)
    double repulsion_strength = 1.0;  ///< r: coefficient on the repulsion term (>= 0)
};

/// Throws InvalidArgument for a bad combination (non-positive spec, temperature or exaggeration, eps or
/// repulsion_strength < 0, clamp_low >= clamp_high).
void validate(const ContrastiveLossParams& p);

/// Loss of one head: y_i = head, others[0] = positive partner, others[1..n_others) = negatives (d-vectors).
/// When the gradient pointers are non-null, adds ∂ℓ/∂y_i to g_head, ∂ℓ/∂others[t] to g_others[t] (each a d-vector)
/// and ∂ℓ/∂log_Z to *g_log_Z (nce only). Accumulates: callers zero them.
double contrastive_head_loss(const ContrastiveLossParams& p, std::size_t d, const double* head,
                             const double* const* others, std::size_t n_others, double* g_head = nullptr,
                             double* const* g_others = nullptr, double* g_log_Z = nullptr);

/// One term of a weighted sum of contrastive losses.
struct WeightedContrastiveLoss {
    double weight = 1.0;  ///< finite; may be negative only where that makes sense to the caller
    ContrastiveLossParams params;
};

/// Σ_i weight_i·ℓ_i for one head with the same partner and negatives (the arguments as contrastive_head_loss);
/// the gradients are accumulated likewise. Terms of mode nce share one log Z: *g_log_Z receives their weighted sum.
double contrastive_loss_sum(std::span<const WeightedContrastiveLoss> terms, std::size_t d, const double* head,
                            const double* const* others, std::size_t n_others, double* g_head = nullptr,
                            double* const* g_others = nullptr, double* g_log_Z = nullptr);

} // namespace nembed
