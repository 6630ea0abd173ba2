#pragma once
/// @file densmap.hpp
/// densMAP's density term (umap-learn's `densmap=True`; docs/dropin.md, "densMAP, inverse_transform, update"), a
/// term of the UMAP loss that the edge-epoch plan (train/edge_epoch_plan.hpp) adds to its attraction steps.
///
/// Local radius of point i over the graph edges (μ the edge weights, D the squared distance in the embedding, φ the
/// UMAP kernel 1/(1 + a·D^b)):
///
///     r_e(i) = log(1e-8 + Σ_j φ_ij D_ij / Σ_j φ_ij)          (embedding, recomputed at the start of every epoch)
///     r_o(i) = log(1e-8 + Σ_j μ_ij d_ij² / Σ_j μ_ij)         (data, d the input metric's distance; once)
///
/// The term rewards the correlation of r_e with R = standardised r_o: with m, s² = var(r_e) + var_shift and
/// c = Σ r_e R/(N − 1) the epoch's statistics, each sampled edge (i, j) with weight μ_p adds to the attraction of
/// y_i the move clip(2·g·(y_i − y_j)) (scaled by the learning rate), with
///
///     g = λ·μ_tot·(w_j·ρ_j + w_i·ρ_i)/(μ_p·s·N),  w_k = R_k − c·(r_e(k) − m)/s²,
///     ρ_k = (φ/Φ_k)·((1 − b(1 − φ))/exp(r_e(k)) + a b D^(b−1)/(1 + a D^b)),
///
/// Φ_k = Σ over the edges at k (both directions) of φ, μ_tot the sum of all entries — umap-learn's formulas. ρ_k
/// is ∂r_e(k)/∂D_ij per directed entry, w_k/(s·N) is (up to umap-learn's N in place of N − 1) ∂corr/∂r_e(k), and
/// μ_tot/μ_p undoes the sampling frequency of the edge, so over an epoch the term follows λ·∇corr(r_e, R).
/// It is active in the epochs e (0-based) with (e + 1)/E > 1 − frac, as umap-learn's.
#include <cstddef>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/core/sparse.hpp"
#include "nembed/kernel/umap_kernel.hpp"
#include "nembed/neighbors/knn.hpp"
#include "nembed/neighbors/knn_graph.hpp"

namespace nembed {

/// umap-learn's densMAP parameters, with its defaults.
struct DensmapOptions {
    double lambda = 2.0;     ///< dens_lambda: weight of the density term (>= 0; 0 switches it off)
    double frac = 0.3;       ///< dens_frac: the term is active in the last frac of the epochs ([0, 1])
    double var_shift = 0.1;  ///< dens_var_shift: added to var(r_e) (>= 0)
};

/// Throws InvalidArgument naming dens_lambda, dens_frac or dens_var_shift.
void validate(const DensmapOptions& options);

/// umap-learn's local radii log(1e-8 + Σ_j μ_ij v_ij / Σ_j μ_ij) per row of a symmetric graph μ, where `values`
/// holds v_ij for every entry of μ (same sparsity pattern). A row without entries gets log(1e-8).
std::vector<double> densmap_log_radii(const CsrMatrix<double>& graph, const std::vector<double>& values);

/// The data radii r_o of a fit: v_ij = d(x_i, x_j)² with the input metric and its parameters (umap-learn's kNN
/// distances, squared).
std::vector<double> densmap_data_radii(const CsrMatrix<double>& graph, MatrixView<float> X, Metric metric,
                                       int n_threads = 1, const MetricParams& params = {});

/// The same from the kNN graph the fuzzy set was built from: d_ij the larger of the listed distances i → j and
/// j → i (umap-learn's graph_dists_); for fits without the data.
std::vector<double> densmap_knn_radii(const CsrMatrix<double>& graph, const KnnGraph& knn);

/// The embedding radii umap-learn reports as `rad_emb_`: the fuzzy simplicial set of the embedding (n_neighbors
/// counting the point, Euclidean, exact kNN, umap-learn's defaults) and v_ij = d_ij, not squared (as umap-learn).
std::vector<double> densmap_embedding_radii(MatrixView<double> Y, std::size_t n_neighbors, int n_threads = 1);

/// The term's state: R, μ_tot and the per-epoch statistics of r_e.
class DensmapTerm {
public:
    /// `graph`: the symmetric graph of the layout (refused otherwise); `data_radii`: r_o per point.
    DensmapTerm(const CsrMatrix<double>& graph, const std::vector<double>& data_radii, UmapCurve curve,
                DensmapOptions options);

    /// Whether the term is active in epoch `epoch` (0-based) of `n_epochs`.
    bool active(std::int64_t epoch, int n_epochs) const;
    /// Computes r_e, Φ and the statistics from the positions `Y` (the start of the epoch).
    void begin_epoch(const CsrMatrix<double>& graph, const Matrix<double>& Y, int n_threads);
    /// g of a sampled edge p = (i, j) at squared distance D (0 for D <= 0).
    double coefficient(std::size_t i, std::size_t j, double mu_p, double D) const;

    /// The term's full gradient at Y (ascent direction), Σ_j 4·g_ij·(μ_ij/μ_tot)·(y_i − y_j) per row: an edge moves
    /// y_i by 2·g·(y_i − y_j) per sample, twice per due edge (as head and as the mirrored tail), and is due
    /// μ/μ_max of the epochs, so an epoch moves Y by about rate·(μ_tot/μ_max)·gradient. It is the gradient of
    /// λ·[corr(r_e, R) − Σ_i R_i r_e(i)/(N(N − 1)s)] with s held fixed (umap-learn's N for N − 1), where
    /// corr = (Σ r_e R/(N − 1))/s; tests/umap checks it by finite differences. Calls begin_epoch.
    Matrix<double> gradient(const CsrMatrix<double>& graph, const Matrix<double>& Y, int n_threads = 1);

    const std::vector<double>& R() const { return R_; }
    const std::vector<double>& embedding_radii() const { return re_; }
    double re_mean() const { return mean_; }
    double re_std() const { return std_; }
    double re_cov() const { return cov_; }
    const DensmapOptions& options() const { return options_; }

private:
    UmapCurve curve_;
    DensmapOptions options_;
    std::vector<double> R_;
    double mu_tot_ = 0;
    std::vector<double> re_, phi_sum_;
    double mean_ = 0, std_ = 1, cov_ = 0;
};

} // namespace nembed
