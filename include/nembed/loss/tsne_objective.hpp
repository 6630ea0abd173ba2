#pragma once
/// @file tsne_objective.hpp
/// The normalised KL loss (t-SNE with the Student-t kernel, SNE with the Gaussian one, any Euclidean output kernel;
/// docs/core.md §2), its gradient assembled from two separate parts, the attraction (attraction.hpp) and any
/// Repulsion estimator, with an exaggeration ex on the attraction and a repulsion strength ρ on the repulsion
/// (TorchDR's form):
///   grad_i = ex · Σ_j p_ij (−dlog_w(D_ij)) (y_i − y_j) − ρ · F_i / Z,
/// F_i = Σ_j force_weight(D_ij)(y_i − y_j), Z = Σ_{k≠l} w(D_kl). This is openTSNE's convention: a quarter of the
/// gradient of L = −ex·Σ p_ij log w_ij + ρ·log Z, which is KL(P ‖ Q) up to a constant when ex = ρ = 1 and P is
/// symmetric and sums to 1 (the factor 4 is absorbed in the learning rate, N/ex by default). On request the
/// objective returns the KL divergence of the un-exaggerated P, KL = Σ p log p − Σ p log w + (Σp) log Z, whatever ex
/// and ρ (tsne.md §9). Both classes are callable as a nembed::GradientFunction (the exaggeration is its argument).
/// They keep references to P and the repulsion: keep those alive while in use.
#include <cstddef>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/core/sparse.hpp"
#include "nembed/kernel/kernel.hpp"

namespace nembed {

class Repulsion;

/// Full objective over all N points (fit, optimize).
class TsneObjective {
public:
    /// P: N x N, symmetric, non-negative (normally summing to 1). `kernel`: a Euclidean output kernel the repulsion
    /// supports in the embedding's dimension (checked on each call). repulsion_strength ρ > 0 and finite (1 = KL).
    /// Throws InvalidArgument otherwise. float32_p: the attraction reads P's values rounded to float32 (a copy kept
    /// here, 4 bytes per non-zero; attraction.hpp: each force within 2^-24 of its terms' sum), as t-SNE's optimisation
    /// does (TsneEmbedding, the distributed objective); the KL returned uses P as is either way.
    TsneObjective(const CsrMatrix<double>& P, Repulsion& repulsion, const OutputKernel& kernel, int n_threads,
                  double repulsion_strength = 1.0, bool float32_p = false);
    /// Writes the gradient at Y into grad (N x d), the attraction scaled by `exaggeration`; returns KL(P ‖ Q) when
    /// want_kl, else NaN.
    double operator()(MatrixView<double> Y, double exaggeration, double* grad, bool want_kl);
    /// Z of the last evaluation.
    double last_z() const { return last_z_; }
    const OutputKernel& kernel() const { return kernel_; }
    double repulsion_strength() const { return rho_; }

private:
    const CsrMatrix<double>& P_;
    Repulsion& repulsion_;
    OutputKernel kernel_;
    int n_threads_;
    double rho_;
    double sum_p_log_p_;
    double sum_p_;
    double last_z_ = 0.0;
    std::vector<double> forces_;
    std::vector<float> p_f32_;  ///< P's values in float32 for the attraction (memory-bound; docs/tsne.md)
};

/// Objective for new points against a fixed reference (transform): P is N_new x N_ref (rows normally summing to 1),
/// there are no new-new interactions, and each new point is normalised by its own z_i = Σ_j w(D(q_i, r_j)):
///   grad_i = ex · Σ_j p_ij (−dlog_w(D_ij)) (q_i − r_j) − ρ · F_i / z_i,
///   KL = Σ_i Σ_j p_ij log(p_ij z_i / w_ij)   (the sum of the per-point KL divergences).
/// Here the gradient is half that of Σ_i [−ex Σ_j p_ij log w_ij + ρ log z_i] (rows summing to 1; each pair is
/// counted once). The reference is only read, never modified.
class PartialTsneObjective {
public:
    PartialTsneObjective(const CsrMatrix<double>& P, MatrixView<double> reference, Repulsion& repulsion,
                         const OutputKernel& kernel, int n_threads, double repulsion_strength = 1.0);
    double operator()(MatrixView<double> Y_new, double exaggeration, double* grad, bool want_kl);

private:
    const CsrMatrix<double>& P_;
    MatrixView<double> reference_;
    Repulsion& repulsion_;
    OutputKernel kernel_;
    int n_threads_;
    double rho_;
    double sum_p_log_p_;
    std::vector<double> row_sums_;
    std::vector<double> forces_;
    std::vector<double> z_;
};

} // namespace nembed
