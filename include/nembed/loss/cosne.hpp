#pragma once
/// @file cosne.hpp
/// TorchDR 0.5's COSNE objective (docs/torchdr.md "COSNE and TSNEkhorn"), exact O(N²) as TorchDR computes it.
/// With D_ij the squared hyperbolic distance of the Poincaré ball (kernel/hyperbolic.hpp, TorchDR's "sqhyperbolic",
/// the diagonal included with D_ii = arccosh(1 + 1e-8)²), Q_ij = γ/(D_ij + γ²), Z = Σ_{i,j} Q_ij (all N² pairs),
/// x_i the input rows and N the number of points:
///
///   L = ex·Σ_{(i,j) ∈ P} −P_ij log Q_ij  +  ρ·[ log Z + λ·(1/N)·Σ_i (‖x_i‖² − D(z_i, 0))² ]
///
/// ex the exaggeration (TorchDR's early_exaggeration_coeff, the call's argument), ρ TorchDR's repulsion_strength,
/// λ = learning_rate_for_h_loss (TorchDR puts the norm term in the repulsive loss, so ρ scales it too), P the input
/// affinity as given (TorchDR: the conditional entropic affinity over the kNN, rows summing to 1/N; any
/// non-negative sparse N × N matrix). The gradient is TorchDR's autograd gradient ∂L/∂z, unscaled:
///
///   ∂L/∂z_i = ex·Σ_j (P_ij + P_ji)/(D_ij + γ²)·∂D_ij/∂z_i − ρ·(2/Z)·Σ_{j≠i} Q_ij/(D_ij + γ²)·∂D_ij/∂z_i
///             + ρ·λ·(2/N)·(D(z_i, 0) − ‖x_i‖²)·∂D(z_i, 0)/∂z_i.
///
/// The returned loss is L at ex = 1 (the full-batch plan's convention: the loss does not depend on the
/// exaggeration). In 2-D the pair kernel runs in float32 with double sums, each unordered pair once (docs/torchdr.md
/// "COSNE: implementation"); other dimensions in double. Both give the same bits for any thread count.
#include <cstddef>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/core/sparse.hpp"

namespace nembed {

/// COSNE's loss parameters (TorchDR's names and defaults).
struct CosneLossOptions {
    double gamma = 2.0;                     ///< γ of Q = γ/(D + γ²); > 0
    double learning_rate_for_h_loss = 1.0;  ///< λ, weight of the norm-matching term; >= 0
    double repulsion_strength = 1.0;        ///< ρ on log Z and the norm term; >= 0
    int n_threads = 1;
};
/// Throws InvalidArgument naming the bad field.
void validate(const CosneLossOptions& options);

class CosneObjective {
public:
    /// P: N × N non-negative (validated); x_sqnorm: ‖x_i‖² of the N input rows. Throws InvalidArgument for bad
    /// options, shapes, negative or non-finite values.
    CosneObjective(CsrMatrix<double> P, std::vector<double> x_sqnorm, CosneLossOptions options = {});
    /// Callable as a GradientFunction: Z is N × d inside the unit ball (rows with ‖z‖ >= 1 are refused); grad
    /// (N × d) is overwritten with ∂L/∂Z at the exaggeration; returns L at ex = 1 when want_loss, else NaN.
    double operator()(MatrixView<double> Z, double exaggeration, double* grad, bool want_loss) const;
    std::size_t n_points() const { return P_.n_rows; }
    const CosneLossOptions& options() const { return options_; }

private:
    CsrMatrix<double> P_;   // as given (the loss value)
    CsrMatrix<double> W_;   // P + Pᵀ (the attraction gradient of both ends of an edge, row by row)
    std::vector<double> P_on_W_;    // P_ij at W's entries (0 where P has none): the 2-D path's loss
    std::vector<double> P_row_sum_;
    std::vector<double> x_sqnorm_;
    CosneLossOptions options_;

    void cosne_2d(MatrixView<double> Z, double ex, double* grad, bool want_loss, const std::vector<double>& norm,
                  std::vector<double>& row_z, std::vector<double>& row_att, std::vector<double>& S) const;
};

} // namespace nembed
