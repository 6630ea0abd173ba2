#pragma once
/// @file tsnekhorn.hpp
/// TorchDR 0.5's TSNEkhorn objective (docs/torchdr.md "COSNE and TSNEkhorn"), with unrolling = false (TorchDR's
/// default, the "gap" objective). Q is the symmetric Sinkhorn normalisation of the Student kernel on Z:
///
///   K_ij = 1/(1 + D_ij), D_ij = ‖z_i − z_j‖²,   log Q_ij = f_i + f_j + log K_ij − log N,
///
/// with the duals f from affinity/sinkhorn.hpp's SinkhornAffinity::fit_dual (5 iterations per evaluation,
/// warm-started from the previous evaluation's duals, treated as constants in the gradient: TorchDR runs them
/// under no_grad). The Sinkhorn iteration leaves the self-pairs out exactly; the loss value keeps TorchDR's
/// D_ii = 1e12 (its exclusion of self-pairs) in its diagonal terms, which do not depend on Z. The loss is
///
///   L = −Σ_ij P_ij log Q_ij + Σ_ij Q_ij,    ∂L/∂z_i = Σ_{j≠i} 2(P_ij + P_ji − 2Q_ij)·K_ij·(z_i − z_j),
///
/// P the input affinity as given (TorchDR: the symmetric entropic affinity, dense, its diagonal kept). TorchDR's
/// TSNEkhorn overrides the exaggerated loss of its base class, so the exaggeration argument is ignored here too.
/// The objective keeps the duals between evaluations (state): each evaluation advances them, as each of TorchDR's
/// loss evaluations does. Rows are independent and sums go in row order: the same bits for any thread count.
#include <cstddef>
#include <vector>

#include "nembed/affinity/sinkhorn.hpp"
#include "nembed/core/matrix.hpp"
#include "nembed/core/sparse.hpp"

namespace nembed {

/// TorchDR's SinkhornAffinity as TSNEkhorn creates it for Q: base_kernel "student", eps 1, max_iter 5 (iterations
/// per evaluation), tol 1e-5, metric sqeuclidean, zero_diag.
SinkhornAffinityOptions tsnekhorn_output_sinkhorn();

struct TsnekhornLossOptions {
    SinkhornAffinityOptions sinkhorn = tsnekhorn_output_sinkhorn();  ///< its n_threads is overridden
    bool unrolling = false;  ///< TorchDR's unrolling; only false (the gap objective) is implemented
    int n_threads = 1;       ///< overrides sinkhorn.n_threads
};
/// Throws InvalidArgument naming the bad field (unrolling = true is refused).
void validate(const TsnekhornLossOptions& options);

class TsnekhornObjective {
public:
    /// P: N × N non-negative (validated). Throws InvalidArgument for bad options or P.
    TsnekhornObjective(CsrMatrix<double> P, TsnekhornLossOptions options = {});
    /// Callable as a GradientFunction: runs the Sinkhorn iterations from the kept duals, then writes ∂L/∂Z into
    /// grad (N × d) and returns L (always computed). Not const: it advances the duals.
    double operator()(MatrixView<double> Z, double exaggeration, double* grad, bool want_loss);
    /// The current duals f (empty before the first evaluation).
    const std::vector<double>& duals() const { return dual_; }
    /// Sets the duals (a resumed run, or a test); size N.
    void set_duals(std::vector<double> f);
    /// Iterations run by the last Sinkhorn call.
    int last_sinkhorn_iterations() const { return last_iter_; }
    std::size_t n_points() const { return P_.n_rows; }

private:
    static bool dense_symmetric(const CsrMatrix<double>& P);  // every entry stored, in order, P = Pᵀ exactly
    CsrMatrix<double> P_;
    CsrMatrix<double> W_;  // P + Pᵀ; empty when P is dense and symmetric (then 2P)
    TsnekhornLossOptions options_;
    SinkhornAffinity sinkhorn_;
    std::vector<double> dual_;
    int last_iter_ = 0;
};

} // namespace nembed
