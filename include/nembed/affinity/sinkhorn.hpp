#pragma once
/// @file sinkhorn.hpp
/// TorchDR's SinkhornAffinity: the symmetric doubly stochastic matrix P_ij = exp(f_i + f_j − C_ij/ε) (rows and
/// columns sum to 1), then divided by N. C is the cost (cost.hpp), or log(1 + C) with the Student base kernel
/// (P then normalises (1 + C)^(−1/ε)). The dual f comes from the well-conditioned symmetric Sinkhorn iteration
/// (Feydy et al. 2019): r_i = −log Σ_j exp(log K_ij + f_j), f ← (f + r)/2, stopping when ‖f − r‖ < tol (f already
/// updated) or after max_iter steps, from f = 0 or a warm start.
///
/// The object keeps the dual of its last call (`dual()`), so a caller can warm-start the next one. The same object
/// serves the input side (`log_affinity` / operator(): log K stored, N × N) and TSNEkhorn's output side
/// (`fit_dual`: 5 Student iterations on the embedding per step from the previous dual; log K evaluated row by row
/// on the fly, O(N) memory, its Student sums in the kernel domain: no exp per pair). With zero_diag the diagonal
/// follows TorchDR, which adds 1e12 to C_ii: with the Gaussian kernel exp(−1e12/ε) = 0, so the pair is left out
/// exactly (log P_ii = −∞); with the Student kernel K_ii = (1 + 1e12)^(−1/ε) ≈ 1e−12 is kept, as TorchDR. Dense,
/// O(N²) per iteration; bit-identical for any thread count (each f_i is one row's sum).
#include <span>
#include <string>
#include <vector>

#include "nembed/affinity/cost.hpp"
#include "nembed/core/matrix.hpp"

namespace nembed {

enum class SinkhornBaseKernel { gaussian, student };
/// Parses "gaussian" or "student"; throws InvalidArgument naming base_kernel otherwise.
SinkhornBaseKernel parse_sinkhorn_base_kernel(const std::string& name);

struct SinkhornAffinityOptions {
    double eps = 1.0;       ///< entropic regularisation ε > 0
    double tol = 1e-5;
    int max_iter = 1000;
    SinkhornBaseKernel base_kernel = SinkhornBaseKernel::gaussian;
    CostMetric metric = CostMetric::sqeuclidean;
    bool zero_diag = true;
    int n_threads = 1;
};

class SinkhornAffinity {
public:
    explicit SinkhornAffinity(SinkhornAffinityOptions options = {});

    /// log P (N x N) of the rows of X; init_dual (size N) warm-starts the iteration, empty = zeros. −∞ on the
    /// diagonal with zero_diag.
    template <typename T>
    Matrix<double> log_affinity(MatrixView<T> X, std::span<const double> init_dual = {});
    /// The iterations only: updates dual() (and n_iter()) without forming the N × N matrix.
    template <typename T>
    void fit_dual(MatrixView<T> X, std::span<const double> init_dual = {});
    /// P = exp(log P).
    template <typename T>
    Matrix<double> operator()(MatrixView<T> X, std::span<const double> init_dual = {});

    const SinkhornAffinityOptions& options() const { return options_; }
    const std::vector<double>& dual() const { return dual_; }  ///< TorchDR's dual_ after the last call
    int n_iter() const { return n_iter_; }                     ///< TorchDR's n_iter_: the index of the last step

private:
    void start_dual(std::size_t n, std::span<const double> init_dual);
    SinkhornAffinityOptions options_;
    std::vector<double> dual_;
    int n_iter_ = 0;
};

} // namespace nembed
