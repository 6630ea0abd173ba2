#pragma once
/// @file tsne_objective.hpp
/// The t-SNE gradient assembled from its two parts, the attraction (attraction.hpp) and any Repulsion estimator:
///   grad_i = ex · Σ_j p_ij (1 + d_ij²/α)^−1 (y_i − y_j) − F_i / Z        (openTSNE's gradient: no factor 4)
/// and, on request, the KL divergence of the un-exaggerated P (tsne.md §5, §9). Both classes are callable as a
/// nembed::GradientFunction. They keep references to P and the repulsion: keep those alive while in use.
#include <cstddef>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/core/sparse.hpp"

namespace nembed {

class Repulsion;

/// Full objective over all N points (fit, optimize).
class TsneObjective {
public:
    /// P: N x N, symmetric, non-negative (normally summing to 1). dof > 0. Throws InvalidArgument otherwise.
    TsneObjective(const CsrMatrix<double>& P, Repulsion& repulsion, double dof, int n_threads);
    /// Writes the gradient at Y into grad (N x d); returns KL(P ‖ Q) when want_kl, else NaN.
    double operator()(MatrixView<double> Y, double exaggeration, double* grad, bool want_kl);
    /// Z of the last evaluation.
    double last_z() const { return last_z_; }

private:
    const CsrMatrix<double>& P_;
    Repulsion& repulsion_;
    double dof_;
    int n_threads_;
    double sum_p_log_p_;
    double sum_p_;
    double last_z_ = 0.0;
    std::vector<double> forces_;
};

/// Objective for new points against a fixed reference (transform): P is N_new x N_ref (rows normally summing to 1),
/// there are no new-new interactions, and each new point is normalised by its own z_i = Σ_j w(q_i, r_j):
///   grad_i = ex · Σ_j p_ij (1 + d²/α)^−1 (q_i − r_j) − F_i / z_i,
///   KL = Σ_i Σ_j p_ij log(p_ij z_i / w_ij)   (the sum of the per-point KL divergences).
/// The reference is only read, never modified.
class PartialTsneObjective {
public:
    PartialTsneObjective(const CsrMatrix<double>& P, MatrixView<double> reference, Repulsion& repulsion, double dof,
                         int n_threads);
    double operator()(MatrixView<double> Y_new, double exaggeration, double* grad, bool want_kl);

private:
    const CsrMatrix<double>& P_;
    MatrixView<double> reference_;
    Repulsion& repulsion_;
    double dof_;
    int n_threads_;
    double sum_p_log_p_;
    std::vector<double> row_sums_;
    std::vector<double> forces_;
    std::vector<double> z_;
};

} // namespace nembed
