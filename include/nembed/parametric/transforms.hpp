#pragma once
/// @file transforms.hpp
/// paraDime's relation transforms (docs/parametric.md, "paraDime"), named as in paraDime. A transform acts either on
/// global relation data (sparse rows: each point's relations to its listed neighbours, computed once) or on batch
/// relations (a flat list of pair values, differentiated back to the embedded batch).
///  - global only: PerplexityBasedRescale, ConnectivityBasedRescale, Symmetrize, NormalizeRows;
///  - batch only: StudentTTransform, ModifiedCauchyTransform (their derivatives, and those of learnable α, a, b);
///  - both: Normalize, ZeroDiagonal.
#include <optional>
#include <string>
#include <vector>

#include "nembed/core/sparse.hpp"

namespace nembed::paradime {

enum class TransformKind {
    perplexity_based_rescale,
    connectivity_based_rescale,
    symmetrize,
    normalize,
    normalize_rows,
    zero_diagonal,
    student_t,
    modified_cauchy,
};

/// paraDime's class names ("PerplexityBasedRescale", ...) or snake case ("perplexity_based_rescale"); throws
/// InvalidArgument naming the unknown transform and listing the known ones.
TransformKind parse_transform(const std::string& name);
/// paraDime's class name.
std::string to_string(TransformKind kind);

struct Transform {
    TransformKind kind = TransformKind::normalize;
    double perplexity = 30.0;       ///< PerplexityBasedRescale (> 0)
    double n_neighbors = 15.0;      ///< ConnectivityBasedRescale (> 1)
    bool subtract_product = false;  ///< Symmetrize: M + Mᵀ − M∘Mᵀ (UMAP) instead of (M + Mᵀ)/2
    double alpha = 1.0;             ///< StudentTTransform (> 0)
    double min_dist = 0.1;          ///< ModifiedCauchyTransform: (a, b) fitted to min_dist and spread unless given
    double spread = 1.0;
    std::optional<double> a, b;
    /// StudentTTransform: α is trained with the model; ModifiedCauchyTransform: a and b are.
    bool learnable = false;

    static Transform PerplexityBasedRescale(double perplexity = 30.0);
    static Transform ConnectivityBasedRescale(double n_neighbors = 15.0);
    static Transform Symmetrize(bool subtract_product = false);
    static Transform Normalize();
    static Transform NormalizeRows();
    static Transform ZeroDiagonal();
    static Transform StudentTTransform(double alpha = 1.0, bool learnable = false);
    static Transform ModifiedCauchyTransform(double min_dist = 0.1, double spread = 1.0,
                                             std::optional<double> a = std::nullopt,
                                             std::optional<double> b = std::nullopt, bool learnable = false);
};

/// Throws InvalidArgument naming the transform and the bad field.
void validate(const Transform& t);

/// True for the transforms of global relation data.
bool acts_on_global(TransformKind kind);
/// True for the transforms of batch relations.
bool acts_on_batch(TransformKind kind);

/// Applies a global transform to relation data whose rows hold each point's relations (self excluded), in place.
/// The rescales read the values as distances: PerplexityBasedRescale gives row-normalised exp(−β d²) with the
/// entropy (bits) equal to log2(perplexity) (affinity/perplexity's calibration, unbracketed); ConnectivityBasedRescale
/// gives exp(−(d − d_min)/σ) with Σ = log2(n_neighbors) (affinity/fuzzy's calibration, every row the same length).
void apply_global(const Transform& t, CsrMatrix<double>& rel, int n_threads = 1);

/// The parameters of an elementwise batch transform: α, or (a, b).
struct TransformParams {
    double alpha = 1.0;
    double a = 1.0, b = 1.0;
};
/// Initial parameters: α, or (a, b) given or fitted by umap-learn's find_ab_params(spread, min_dist).
TransformParams initial_params(const Transform& t);

/// Elementwise value of StudentTTransform (1 + x²/α)^(−(α+1)/2) or ModifiedCauchyTransform 1/(1 + a·x^(2b)) at x.
double elementwise_value(TransformKind kind, const TransformParams& p, double x);
/// Its derivatives: d/dx, and d/dα (Student-t) or d/da, d/db (modified Cauchy); 0 where x = 0 makes them singular.
struct ElementwiseDerivatives {
    double dx = 0.0;
    double dp0 = 0.0;  ///< d/dα or d/da
    double dp1 = 0.0;  ///< d/db
};
/// `w` is the value at x (elementwise_value): the derivatives are written in it, without a second power. The
/// parameter derivatives are computed only when `want_params`.
ElementwiseDerivatives elementwise_derivatives(TransformKind kind, const TransformParams& p, double x, double w,
                                               bool want_params = true);

} // namespace nembed::paradime
