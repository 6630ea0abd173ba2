#pragma once
/// @file affinity_matcher.hpp
/// TorchDR 0.5's AffinityMatcher objective (docs/torchdr.md "AffinityMatcher"): L(P, Q(Z)) with P an input
/// affinity as given and Q a TorchDR output affinity of the embedding Z, computed densely (O(N²), as TorchDR):
///
///   affinity_out                  log Q_ij (a_ij = log-kernel of D_ij = ‖z_i − z_j‖²)
///   NormalizedGaussianAffinity    a_ij = −D_ij/σ, normalised along normalization_dim (affinity/normalized.hpp)
///   NormalizedStudentAffinity     a_ij = −(ν + 1)/2 · log(1 + D_ij/ν), normalised likewise
///   SinkhornAffinity              f_i + f_j + log K_ij − log N (affinity/sinkhorn.hpp, from f = 0 each call; f is
///                                 a constant of the gradient: TorchDR's with_grad = False, the only mode here)
///
///   loss_fn "square_loss"         L = Σ_ij (P_ij − Q_ij)²
///   loss_fn "cross_entropy_loss"  L = −Σ_ij P_ij log Q_ij (TorchDR's log domain, as every output here is a
///                                 LogAffinity; terms with P_ij = 0 are 0)
///
/// The gradient is analytic (docs/torchdr.md): with G = ∂L/∂log Q, H = ∂L/∂a (the normalisation's softmax
/// Jacobian applied to G) and a'(D) the log-kernel's derivative,
///   ∂L/∂z_i = Σ_{j≠i} 2(H_ij + H_ji)·a'(D_ij)·(z_i − z_j).
/// Rows (and, for normalization_dim 0, columns) are reduced in a fixed order: the same bits for any thread count.
#include <optional>
#include <string>

#include "nembed/affinity/normalized.hpp"
#include "nembed/affinity/sinkhorn.hpp"
#include "nembed/core/matrix.hpp"
#include "nembed/core/sparse.hpp"

namespace nembed {

/// TorchDR's loss_fn names.
enum class MatcherLossFn { square_loss, cross_entropy_loss };
/// Parses "square_loss" or "cross_entropy_loss"; throws InvalidArgument naming loss_fn otherwise.
MatcherLossFn parse_matcher_loss_fn(const std::string& name);
std::string to_string(MatcherLossFn f);

/// The TorchDR affinities usable as affinity_out (by TorchDR's class names).
enum class MatcherAffinityOut { normalized_gaussian, normalized_student, sinkhorn };
/// Parses "NormalizedGaussianAffinity", "NormalizedStudentAffinity", "SinkhornAffinity"; throws InvalidArgument
/// naming affinity_out otherwise.
MatcherAffinityOut parse_matcher_affinity_out(const std::string& name);
std::string to_string(MatcherAffinityOut a);

struct AffinityMatcherLossOptions {
    /// TorchDR's affinity_out; none (TorchDR's default None) is refused: the generic matcher needs one.
    std::optional<MatcherAffinityOut> affinity_out;
    NormalizedGaussianAffinityOptions gaussian;  ///< affinity_out = NormalizedGaussianAffinity (metric sqeuclidean)
    NormalizedStudentAffinityOptions student;    ///< affinity_out = NormalizedStudentAffinity (metric sqeuclidean)
    SinkhornAffinityOptions sinkhorn;            ///< affinity_out = SinkhornAffinity (metric sqeuclidean)
    MatcherLossFn loss_fn = MatcherLossFn::square_loss;  ///< TorchDR's default
    int n_threads = 1;                           ///< overrides the affinity options' n_threads
};
/// Throws InvalidArgument naming the bad field (a metric other than sqeuclidean on the output side among them).
void validate(const AffinityMatcherLossOptions& options);

class AffinityMatcherObjective {
public:
    /// P: N x N, non-negative, finite (stored densely). Throws InvalidArgument for bad options or P.
    AffinityMatcherObjective(const CsrMatrix<double>& P, AffinityMatcherLossOptions options);
    /// Writes ∂L/∂Z (N x d) into grad when non-null and returns L (always computed: it costs nothing more).
    double operator()(MatrixView<double> Z, double* grad) const;
    /// log Q of Z (N x N), as affinity_out(Z, log=True).
    Matrix<double> log_affinity_out(MatrixView<double> Z) const;
    std::size_t n_points() const { return n_; }

private:
    std::size_t n_;
    Matrix<double> P_;  // dense N x N
    AffinityMatcherLossOptions options_;
};

} // namespace nembed
