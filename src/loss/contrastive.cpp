// cne's contrastive losses with hand-written gradients (see loss/contrastive.hpp).
#include "nembed/loss/contrastive.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <vector>

#include "nembed/core/error.hpp"
#include "nembed/loss/bce.hpp"
#include "nembed/core/strings.hpp"

namespace nembed {

ContrastiveMetric parse_contrastive_metric(const std::string& name) {
    const std::string s = to_lower(name);
    if (s == "euclidean" || s == "cauchy") return ContrastiveMetric::euclidean;
    if (s == "cosine") return ContrastiveMetric::cosine;
    throw InvalidArgument("unknown contrastive metric '" + name + "' (expected euclidean or cosine)");
}
std::string to_string(ContrastiveMetric m) { return m == ContrastiveMetric::euclidean ? "euclidean" : "cosine"; }

ContrastiveMode parse_contrastive_mode(const std::string& name) {
    const std::string s = to_lower(name);
    if (s == "umap") return ContrastiveMode::umap;
    if (s == "neg" || s == "neg_sample") return ContrastiveMode::neg;
    if (s == "nce") return ContrastiveMode::nce;
    if (s == "infonce") return ContrastiveMode::infonce;
    if (s == "infonce_alt") return ContrastiveMode::infonce_alt;
    throw InvalidArgument("unknown loss mode '" + name + "' (expected umap, neg, nce, infonce or infonce_alt)");
}
std::string to_string(ContrastiveMode m) {
    switch (m) {
        case ContrastiveMode::umap: return "umap";
        case ContrastiveMode::neg: return "neg";
        case ContrastiveMode::nce: return "nce";
        case ContrastiveMode::infonce: return "infonce";
        case ContrastiveMode::infonce_alt: return "infonce_alt";
    }
    return "?";
}

void validate(const ContrastiveLossParams& p) {
    require(std::isfinite(p.eps) && p.eps >= 0, "eps must be finite and >= 0");
    require(std::isfinite(p.temperature) && p.temperature > 0, "temperature must be positive");
    require(std::isfinite(p.base_temperature) && p.base_temperature > 0, "base_temperature must be positive");
    require(std::isfinite(p.spec) && p.spec > 0, "the spectrum parameter (neg_spec / ince_spec) must be positive");
    require(std::isfinite(p.log_Z), "log_Z must be finite");
    require(!std::isnan(p.clamp_low) && !std::isnan(p.clamp_high) && p.clamp_low < p.clamp_high,
            "clamp_low must be below clamp_high");
    require(p.mode != ContrastiveMode::nce || p.nce_m >= 1, "nce needs at least one negative sample");
    require(std::isfinite(p.exaggeration) && p.exaggeration > 0, "exaggeration must be positive");
    require(std::isfinite(p.repulsion_strength) && p.repulsion_strength >= 0, "repulsion_strength must be >= 0");
    // cne computes log(1 − q) with q = exp(cos/τ) >= e^(−1/τ), which is NaN once q > 1: refuse instead
    require(p.mode != ContrastiveMode::umap || p.metric == ContrastiveMetric::euclidean,
            "loss_mode umap needs the euclidean (Cauchy) similarity: with cosine, q can exceed 1 and log(1 - q) "
            "is undefined");
}

double contrastive_head_loss(const ContrastiveLossParams& p, std::size_t d, const double* head,
                             const double* const* others, std::size_t n_others, double* g_head,
                             double* const* g_others, double* g_log_Z) {
    require(n_others >= 1, "contrastive loss: the positive partner is missing");
    const bool want_grad = g_head != nullptr && g_others != nullptr;
    const bool euclid = p.metric == ContrastiveMetric::euclidean;
    const double lo = p.clamp_low, hi = p.clamp_high;
    auto clamp_ok = [&](double v) { return v >= lo && v <= hi; };  // torch.clamp passes gradient inside [lo, hi]
    auto clamped = [&](double v) { return std::min(hi, std::max(lo, v)); };
    const CauchyKernel cauchy{p.eps};
    const CosineKernel cosine{p.temperature};

    // x_t: the variable the score is a function of (D = d² for Euclidean, q for cosine). Scratch is per thread:
    // this runs once per head in the training loop, so it must not allocate.
    thread_local std::vector<double> x, q, dx, dq;
    x.resize(n_others);
    q.resize(n_others);
    dx.assign(n_others, 0.0);
    for (std::size_t t = 0; t < n_others; ++t) {
        if (euclid) {
            x[t] = squared_distance(head, others[t], d);
            q[t] = cauchy.w(x[t]);
        } else {
            q[t] = x[t] = cosine.value(head, others[t], d);
        }
    }
    // dL/dx_t, filled per mode; then chained to the positions.
    double loss = 0.0;
    const double Z = std::exp(p.log_Z);
    const double Zm = Z * static_cast<double>(p.nce_m);

    if (p.mode == ContrastiveMode::infonce || p.mode == ContrastiveMode::infonce_alt) {
        const double scale = p.temperature / p.base_temperature;
        const std::size_t first = p.mode == ContrastiveMode::infonce ? 0 : 1;
        double S = 0;
        for (std::size_t t = first; t < n_others; ++t) S += clamped(q[t]);
        const double a = p.exaggeration, r = p.repulsion_strength;
        loss = -scale * (a * std::log(clamped(q[0])) - r * std::log(S) / p.spec);
        // dL/dq_t before the kernel derivative
        dq.assign(n_others, 0.0);
        if (clamp_ok(q[0])) dq[0] += -scale * a / q[0];
        for (std::size_t t = first; t < n_others; ++t)
            if (clamp_ok(q[t])) dq[t] += scale * r / (p.spec * S);
        // A clamped term passes no gradient, also where the kernel's derivative is infinite (eps = 0, d = 0).
        for (std::size_t t = 0; t < n_others; ++t)
            dx[t] = euclid && dq[t] != 0.0 ? dq[t] * cauchy.derivative(x[t]) : dq[t];
    } else if (p.mode == ContrastiveMode::umap) {
        // the BCE loss with the Cauchy kernel and cne's clamps
        require(euclid, "loss_mode umap needs the euclidean (Cauchy) similarity");
        const BceClamp clamp{lo, hi};
        for (std::size_t t = 0; t < n_others; ++t) {
            const BceTerm b = t == 0 ? bce_attraction(cauchy, x[t], clamp) : bce_repulsion(cauchy, x[t], 1.0, clamp);
            loss += b.loss;
            dx[t] = b.dD;
        }
    } else {
        double dlogZ = 0.0;
        for (std::size_t t = 0; t < n_others; ++t) {
            // e and de/dx, de/dlogZ
            double e = 0, de = 0, deZ = 0;
            switch (p.mode) {
                case ContrastiveMode::neg:
                    if (euclid) {
                        e = 1.0 / (1.0 + p.spec * cauchy.inv_w(x[t]));
                        de = -p.spec * e * e;
                    } else {
                        e = q[t] / (q[t] + p.spec);
                        de = p.spec / ((q[t] + p.spec) * (q[t] + p.spec));
                    }
                    break;
                case ContrastiveMode::nce:
                    if (euclid) {
                        e = 1.0 / (1.0 + cauchy.inv_w(x[t]) * Zm);
                        de = -Zm * e * e;
                        deZ = -cauchy.inv_w(x[t]) * Zm * e * e;
                    } else {
                        e = q[t] / (q[t] + Zm);
                        de = Zm / ((q[t] + Zm) * (q[t] + Zm));
                        deZ = -q[t] * Zm / ((q[t] + Zm) * (q[t] + Zm));
                    }
                    break;
                default: break;
            }
            double dLde;
            if (t == 0) {  // attraction, coefficient a
                loss -= p.exaggeration * std::log(clamped(e));
                dLde = clamp_ok(e) ? -p.exaggeration / e : 0.0;
            } else {  // repulsion, coefficient r
                loss -= p.repulsion_strength * std::log(clamped(1.0 - e));
                dLde = clamp_ok(1.0 - e) ? p.repulsion_strength / (1.0 - e) : 0.0;
            }
            if (dLde != 0.0) {  // a clamped term passes no gradient, also where de is infinite (eps = 0, d = 0)
                dx[t] = dLde * de;
                dlogZ += dLde * deZ;
            }
        }
        if (g_log_Z && p.mode == ContrastiveMode::nce) *g_log_Z += dlogZ;
    }
    if (!want_grad) return loss;
    for (std::size_t t = 0; t < n_others; ++t) {
        if (dx[t] == 0.0) continue;
        if (euclid) {
            const double c = 2.0 * dx[t];
            for (std::size_t k = 0; k < d; ++k) {
                const double g = c * (head[k] - others[t][k]);
                g_head[k] += g;
                g_others[t][k] -= g;
            }
        } else {
            cosine.value(head, others[t], d, dx[t], g_head, g_others[t]);
        }
    }
    return loss;
}

double contrastive_loss_sum(std::span<const WeightedContrastiveLoss> terms, std::size_t d, const double* head,
                            const double* const* others, std::size_t n_others, double* g_head,
                            double* const* g_others, double* g_log_Z) {
    require(!terms.empty(), "contrastive loss sum: no terms");
    const bool want_grad = g_head != nullptr && g_others != nullptr;
    // Each term into zeroed scratch, then scaled by its weight (per thread: no allocation per head).
    thread_local std::vector<double> gh, go;
    thread_local std::vector<double*> go_ptr;
    if (want_grad) {
        gh.resize(d);
        go.resize(n_others * d);
        go_ptr.resize(n_others);
        for (std::size_t t = 0; t < n_others; ++t) go_ptr[t] = go.data() + t * d;
    }
    double loss = 0.0;
    for (const auto& term : terms) {
        require(std::isfinite(term.weight), "contrastive loss sum: a weight is not finite");
        double dz = 0.0;
        if (want_grad) {
            std::fill(gh.begin(), gh.end(), 0.0);
            std::fill(go.begin(), go.end(), 0.0);
        }
        loss += term.weight * contrastive_head_loss(term.params, d, head, others, n_others,
                                                    want_grad ? gh.data() : nullptr,
                                                    want_grad ? go_ptr.data() : nullptr, g_log_Z ? &dz : nullptr);
        if (g_log_Z) *g_log_Z += term.weight * dz;
        if (!want_grad) continue;
        for (std::size_t k = 0; k < d; ++k) g_head[k] += term.weight * gh[k];
        for (std::size_t t = 0; t < n_others; ++t)
            for (std::size_t k = 0; k < d; ++k) g_others[t][k] += term.weight * go[t * d + k];
    }
    return loss;
}

} // namespace nembed
