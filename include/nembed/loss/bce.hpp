#pragma once
/// @file bce.hpp
/// The binary cross-entropy (UMAP) loss written against an output kernel w(D) (docs/core.md §2.2). For a positive
/// pair (i, j) and negatives k of the head i, with D = ‖y_i − y_·‖²:
///
///   ℓ = −log w(D_ij) − γ·Σ_k log(1 − w(D_ik))
///
/// γ is the repulsion strength (UMAP's repulsion_strength, a Phase's repulsion_strength). The kernel must satisfy
/// w ≤ 1 (validate_bce_kernel). Two forms share these terms:
///
///  - per-pair SGD coefficients (umap-learn's update, the edge-epoch plan's hot path): with ∂D/∂y_i = 2(y_i − y_j),
///      ∂ℓ⁺/∂y_i =  c⁺·(y_i − y_j),  c⁺ = −2·dlog_w(D)
///      ∂ℓ⁻/∂y_i = −c⁻·(y_i − y_k),  c⁻ = −2γ·w·dlog_w(D)/(1 − w(D))
///    `Bce<K>` gives them for any kernel; `Bce<UmapCurve>` is umap-learn's exact regularised form (float pow, the
///    0.001 added to D in the repulsion so coincident points stay finite, c⁺ = 0 at D = 0): c⁻ of the UMAP curve is
///    2γb/(D(1 + aD^b)) exactly, umap-learn's uses 0.001 + D.
///  - clamped terms (cne's loss_mode umap, contrastive_head_loss): the arguments w and 1 − w of the logs are clamped
///    to [low, high] as torch.clamp does, and a clamped term passes no gradient. ∂ℓ/∂D is chained through w as
///    autograd does, (−1/w)·dw/dD and (γ/(1 − w))·dw/dD with dw/dD = w·dlog_w, so the Cauchy kernel's values are
///    bitwise cne's.
#include <algorithm>
#include <cmath>

#include "nembed/kernel/kernel.hpp"
#include "nembed/kernel/pow_poly.hpp"

namespace nembed {

/// Per-pair BCE coefficients and losses for kernel K (the generic form; see the file comment).
template <typename K>
struct Bce {
    /// c⁺: ∂(−log w)/∂y_i = c⁺·(y_i − y_j).
    static double attraction_coeff(const K& k, double D) { return -2.0 * k.dlog_w(D); }
    /// c⁻: ∂(−γ·log(1 − w))/∂y_i = −c⁻·(y_i − y_k). Infinite at w = 1 (the edge plan skips D = 0).
    static double repulsion_coeff(const K& k, double D, double gamma) {
        const double w = k.w(D);
        return -2.0 * gamma * w * k.dlog_w(D) / (1.0 - w);
    }
    /// −log w(D).
    static double attraction_loss(const K& k, double D) { return -k.log_w(D); }
    /// −γ·log(1 − w(D)), the argument floored at 1e-300 so coincident points give a large finite loss.
    static double repulsion_loss(const K& k, double D, double gamma) {
        return -gamma * std::log(std::max(1.0 - k.w(D), 1e-300));
    }
};

/// umap-learn's optimize_layout_euclidean's coefficients in float32, as umap-learn computes them (docs/core.md §6.1):
/// D is rounded to float (capped at 1e30 first), D^b by pow_poly_f (kernel/pow_poly.hpp), one float division per
/// pair; the result is returned as a double (exact) and the positions move in double. The edge-epoch plan evaluates
/// them lane by lane in 16-float vectors (pair_coeff below) and per pair in its scalar path, with the same bits. The
/// 0.001 in the repulsion is umap-learn's; c⁺ = 0 at D = 0. Relative error against the double form: ≤ 4e-6 over
/// the D of the epochs (tested).
template <>
struct Bce<UmapCurve> {
    /// D as the coefficients see it: capped at 1e30 (NaN too), rounded to float.
    static float to_f(double D) { return static_cast<float>(D < 1e30 ? D : 1e30); }
    /// 2ab·D^(b−1)/(1 + a·D^b), written 2ab·p/(D(1 + a·p)) with p = D^b (capped at 1e30: D(1 + a·p) may overflow to
    /// inf, giving 0, never NaN).
    static double attraction_coeff(const UmapCurve& c, double D) {
        return pair_coeff<std::uint32_t>(true, static_cast<float>(c.a), static_cast<float>(c.b),
                                         static_cast<float>(2.0 * c.a * c.b), 0.0f, to_f(D));
    }
    /// 2γb/((0.001 + D)(1 + a·D^b)).
    static double repulsion_coeff(const UmapCurve& c, double D, double gamma) {
        return pair_coeff<std::uint32_t>(false, static_cast<float>(c.a), static_cast<float>(c.b), 0.0f,
                                         static_cast<float>(2.0 * gamma * c.b), to_f(D));
    }
    /// Both coefficients at once, lane by lane (T: float, a GCC vector of floats or a Pack of them, M its
    /// comparison mask, U its unsigned 32-bit integers): the attraction where `attract` is set, the repulsion
    /// elsewhere, in the same operations per lane as the scalar functions (which call it with T = float), so each
    /// lane gives their bits. a, b, two_ab = 2·a·b, two_gb = 2·γ·b: the double values rounded to float.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"  // always inlined: no call passes the vectors (pow_poly.hpp)
    template <typename U, typename T, typename M>
    [[gnu::always_inline]] static T pair_coeff(M attract, float a, float b, float two_ab, float two_gb, T D) {
        const T p = pow_poly_f<U>(D, b);
        const T q = 1.0f + a * p;
        using pow_poly_detail::select;
        const T num = select(attract, two_ab * p, T{} + two_gb);
        const T den = select(attract, D * q, (0.001f + D) * q);
        const T c = num / den;
        const T c_att = select(D > 0.0f, c, T{});
        return select(attract, c_att, c);
    }
#pragma GCC diagnostic pop
    /// The two coefficients from p = D^b already computed (T = float: TorchDR-UMAP's vectorised step, loss/umap_ne).
    /// Branch-free (D = 0 goes through D = 1 and is then zeroed), so that loops over them vectorise.
    template <typename T>
    static T attraction_coeff_pow(T a, T b, T D, T p) {
        const T Ds = D > T(0) ? D : T(1);
        const T c = T(2) * a * b / (Ds * (T(1) / p + a));
        return D > T(0) ? c : T(0);
    }
    template <typename T>
    static T repulsion_coeff_pow(T a, T b, T D, T p, T gamma) {
        return T(2) * gamma * b / ((T(0.001) + D) * (T(1) + a * p));
    }
    /// −log w = log(1 + a·D^b).
    static double attraction_loss(const UmapCurve& c, double D) { return std::log1p(c.a * std::pow(D, c.b)); }
    /// −γ·log(1 − w) = −γ·log(u/(1 + u)), u = a·D^b, floored at 1e-300.
    static double repulsion_loss(const UmapCurve& c, double D, double gamma) {
        const double u = c.a * std::pow(D, c.b);
        return -gamma * std::log(std::max(u / (1.0 + u), 1e-300));
    }
};

/// torch.clamp's range for the arguments of the logs (cne's "auto" for the Cauchy kernel: [1e-4, 1]).
struct BceClamp {
    double low = 1e-4;
    double high = 1.0;
    bool inside(double v) const { return v >= low && v <= high; }
    double operator()(double v) const { return std::min(high, std::max(low, v)); }
};

/// One term ℓ and its derivative ∂ℓ/∂D.
struct BceTerm {
    double loss = 0.0;
    double dD = 0.0;
};

/// ℓ = −log(clamp(w(D))); ∂ℓ/∂D = (−1/w)·w·dlog_w inside the clamp, else 0 (also where dw/dD is infinite).
template <typename K>
BceTerm bce_attraction(const K& k, double D, const BceClamp& clamp) {
    const double w = k.w(D);
    BceTerm t;
    t.loss = -std::log(clamp(w));
    if (clamp.inside(w)) t.dD = (-1.0 / w) * (w * k.dlog_w(D));
    return t;
}

/// ℓ = −γ·log(clamp(1 − w(D))); ∂ℓ/∂D = γ·(1/(1 − w))·w·dlog_w inside the clamp, else 0.
template <typename K>
BceTerm bce_repulsion(const K& k, double D, double gamma, const BceClamp& clamp) {
    const double w = k.w(D);
    BceTerm t;
    t.loss = gamma * -std::log(clamp(1.0 - w));
    if (clamp.inside(1.0 - w)) t.dD = gamma * ((1.0 / (1.0 - w)) * (w * k.dlog_w(D)));
    return t;
}

/// Throws InvalidArgument unless the kernel is valid and w ≤ 1 everywhere, so that log(1 − w) exists: the cosine
/// kernel (w up to e^(1/τ)) and the Cauchy kernel with ε < 1 are refused.
void validate_bce_kernel(const OutputKernel& kernel);

} // namespace nembed
