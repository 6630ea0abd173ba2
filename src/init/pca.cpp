// PCA by a blocked, thread-count independent scatter matrix and a dense symmetric eigensolver.
#ifndef EIGEN_DONT_PARALLELIZE
#define EIGEN_DONT_PARALLELIZE  // threads come only from nembed::parallelize
#endif
#include "nembed/init/pca.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include <Eigen/Dense>
#include <Spectra/SymEigsSolver.h>

#include "nembed/core/column_stats.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "../core/isa_clones.hpp"
#include "../core/lane_sum.hpp"

namespace nembed {

namespace {

using RowMatD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

constexpr std::size_t kBlockRows = 2048;  // rows per scatter block (fixed: results never depend on threads)

// Rows [b, e) of X minus the mean, in double.
RowMatD centred_block(MatrixView<float> X, const std::vector<double>& mean, std::size_t b, std::size_t e) {
    const std::size_t D = X.cols;
    RowMatD B(static_cast<Eigen::Index>(e - b), static_cast<Eigen::Index>(D));
    for (std::size_t i = b; i < e; ++i) {
        const float* x = X.row(i);
        double* out = B.data() + (i - b) * D;
        for (std::size_t c = 0; c < D; ++c) out[c] = static_cast<double>(x[c]) - mean[c];
    }
    return B;
}

// Lower triangle of (X - mean)^T (X - mean). Blocks are processed in rounds of `group` blocks (a number that
// depends only on D, bounding memory); each round's partial matrices are added in block order.
void add_scatter_matrix(MatrixView<float> X, const std::vector<double>& mean, int n_threads, Eigen::MatrixXd& C) {
    const std::size_t N = X.rows, D = X.cols;
    const auto Di = static_cast<Eigen::Index>(D);
    const std::size_t n_blocks = (N + kBlockRows - 1) / kBlockRows;
    const std::size_t bytes_per = D * D * sizeof(double);
    const std::size_t group = std::clamp<std::size_t>((std::size_t(256) << 20) / std::max<std::size_t>(1, bytes_per),
                                                      1, 8);
    std::vector<Eigen::MatrixXd> partial(std::min(group, n_blocks));
    for (std::size_t first = 0; first < n_blocks; first += group) {
        const std::size_t count = std::min(group, n_blocks - first);
        parallel_for(n_threads, count, [&](std::size_t g) {
            const std::size_t blk = first + g;
            RowMatD B = centred_block(X, mean, blk * kBlockRows, std::min(N, (blk + 1) * kBlockRows));
            partial[g].setZero(Di, Di);
            partial[g].selfadjointView<Eigen::Lower>().rankUpdate(B.transpose());
        });
        for (std::size_t g = 0; g < count; ++g) C.triangularView<Eigen::Lower>() += partial[g];
    }
}

// Largest |loading| positive (scikit-learn >= 1.5's svd_flip(u_based_decision=False); first index on exact ties).
void flip_sign(double* v, std::size_t D) {
    std::size_t arg = 0;
    double best = -1.0;
    for (std::size_t j = 0; j < D; ++j)
        if (std::abs(v[j]) > best) {
            best = std::abs(v[j]);
            arg = j;
        }
    if (v[arg] < 0)
        for (std::size_t j = 0; j < D; ++j) v[j] = -v[j];
}

// acc += Σ_i ((r_i·x − mx) (r_i − m)) over the rows [b, e) of X (D columns): the dot products in 8 fixed lanes, so
// that they vectorise (a serial sum in double waited on the adder's latency: 4 cycles a column, most of the routine's
// PCA on 784 pixel columns), with the same bits in every clone.
NEMBED_ISA_CLONES void covariance_rows(const float* X, std::size_t D, std::size_t b, std::size_t e,
                                       const double* __restrict x, const double* __restrict m, double mx,
                                       double* __restrict acc) {
    constexpr std::size_t L = kSumLanes;
    for (std::size_t i = b; i < e; ++i) {
        const float* __restrict r = X + i * D;
        double lane[L] = {};
        std::size_t c = 0;
        for (; c + L <= D; c += L)
            for (std::size_t l = 0; l < L; ++l) lane[l] += static_cast<double>(r[c + l]) * x[c + l];
        for (std::size_t l = 0; c + l < D; ++l) lane[l] += static_cast<double>(r[c + l]) * x[c + l];
        const double t = lane_sum(lane) - mx;
        for (std::size_t k = 0; k < D; ++k) acc[k] += t * (static_cast<double>(r[k]) - m[k]);
    }
}

constexpr std::size_t kOpRows = 256;  // rows per block of the implicit product: 20 blocks at 5 000 rows, both cores

// y = (X - mean)^T (X - mean) x / (N - 1), never forming the D x D matrix. Row blocks are fixed (kOpRows) and
// their partial vectors are added in block order: the product does not depend on the thread count.
struct ImplicitCovarianceOp {
    using Scalar = double;
    MatrixView<float> X;
    const std::vector<double>* mean;
    int n_threads;
    mutable std::vector<double> partial;  // n_blocks x D
    Eigen::Index rows() const { return static_cast<Eigen::Index>(X.cols); }
    Eigen::Index cols() const { return static_cast<Eigen::Index>(X.cols); }
    void perform_op(const double* x, double* y) const {
        const std::size_t N = X.rows, D = X.cols, n_blocks = (N + kOpRows - 1) / kOpRows;
        const double* m = mean->data();
        double mx = 0.0;  // (X - mean) x = X x - mean·x
        for (std::size_t c = 0; c < D; ++c) mx += m[c] * x[c];
        partial.assign(n_blocks * D, 0.0);
        parallel_for(n_threads, n_blocks, [&](std::size_t blk) {
            covariance_rows(X.data, D, blk * kOpRows, std::min(N, (blk + 1) * kOpRows), x, m, mx,
                            partial.data() + blk * D);
        });
        const double scale = 1.0 / static_cast<double>(N - 1);
        for (std::size_t c = 0; c < D; ++c) {
            double s = 0.0;
            for (std::size_t blk = 0; blk < n_blocks; ++blk) s += partial[blk * D + c];
            y[c] = s * scale;
        }
    }
};

} // namespace

PcaResult pca_leading(MatrixView<float> X, std::size_t n_components, int n_threads) {
    require(n_threads >= 1, "pca: n_threads must be >= 1");
    const std::size_t D = X.cols, N = X.rows;
    if (n_components < 1 || 2 * n_components >= D || N < 2 || N < D) return pca(X, n_components, n_threads);
    require(X.data != nullptr, "pca: null data");
    require_finite(X, "pca input");
    PcaResult res;
    res.mean.assign(D, 0.0);
    add_column_sums(X, res.mean, n_threads);
    for (double& m : res.mean) m /= static_cast<double>(N);
    // Exact trace: Σ_c Σ_i (x_ic − m_c)² / (N − 1), per column in row order.
    {
        std::vector<double> ss(D, 0.0);
        for (std::size_t i = 0; i < N; ++i) {
            const float* r = X.row(i);
            for (std::size_t c = 0; c < D; ++c) {
                const double t = static_cast<double>(r[c]) - res.mean[c];
                ss[c] += t * t;
            }
        }
        for (double v : ss) res.total_variance += v;
        res.total_variance /= static_cast<double>(N - 1);
    }
    ImplicitCovarianceOp op{X, &res.mean, n_threads, {}};
    const auto k = static_cast<Eigen::Index>(n_components);
    const auto ncv = static_cast<Eigen::Index>(std::min<std::size_t>(D, std::max<std::size_t>(2 * n_components + 1, 20)));
    Spectra::SymEigsSolver<ImplicitCovarianceOp> eigs(op, k, ncv);
    Eigen::VectorXd v0 = Eigen::VectorXd::Ones(static_cast<Eigen::Index>(D));  // fixed start: no RNG needed
    eigs.init(v0.data());
    // Lanczos fails by throwing on degenerate covariances (constant data: the operator is 0, Spectra's tridiagonal
    // solver then sees NaN): the dense solver handles those.
    try {
        eigs.compute(Spectra::SortRule::LargestAlge, 1000, 1e-10, Spectra::SortRule::LargestAlge);
    } catch (const std::runtime_error&) {
        return pca(X, n_components, n_threads);
    }
    if (eigs.info() != Spectra::CompInfo::Successful) return pca(X, n_components, n_threads);
    const Eigen::VectorXd lambda = eigs.eigenvalues();  // descending
    const Eigen::MatrixXd V = eigs.eigenvectors();
    res.components = Matrix<double>(n_components, D);
    res.explained_variance.resize(n_components);
    for (std::size_t c = 0; c < n_components; ++c) {
        res.explained_variance[c] = std::max(0.0, lambda(static_cast<Eigen::Index>(c)));
        double* row = &res.components(c, 0);
        for (std::size_t j = 0; j < D; ++j) row[j] = V(static_cast<Eigen::Index>(j), static_cast<Eigen::Index>(c));
        flip_sign(row, D);
    }
    res.scores = pca_transform(X, res.mean, res.components, n_threads);
    return res;
}

Matrix<float> pca_transform(MatrixView<float> X, const std::vector<double>& mean, const Matrix<double>& components,
                            int n_threads) {
    require(n_threads >= 1, "pca_transform: n_threads must be >= 1");
    const std::size_t D = mean.size(), n_comp = components.rows();
    require(components.cols() == D, "pca_transform: components have " + std::to_string(components.cols()) +
                                        " columns but the mean has " + std::to_string(D) + " entries");
    require(X.cols == D, "pca_transform: data has " + std::to_string(X.cols) + " columns, the PCA was fitted on " +
                             std::to_string(D));
    require(X.data != nullptr || X.rows == 0, "pca_transform: null data");
    require_finite(X, "pca_transform input");
    const std::size_t N = X.rows;
    Matrix<float> scores(N, n_comp);
    if (N == 0 || n_comp == 0) return scores;
    Eigen::Map<const RowMatD> W(components.data(), static_cast<Eigen::Index>(n_comp), static_cast<Eigen::Index>(D));
    const std::size_t n_blocks = (N + kBlockRows - 1) / kBlockRows;
    parallel_for(n_threads, n_blocks, [&](std::size_t blk) {
        const std::size_t b = blk * kBlockRows, e = std::min(N, b + kBlockRows);
        RowMatD B = centred_block(X, mean, b, e);
        RowMatD S = B * W.transpose();
        for (std::size_t i = b; i < e; ++i)
            for (std::size_t c = 0; c < n_comp; ++c)
                scores(i, c) = static_cast<float>(S(static_cast<Eigen::Index>(i - b), static_cast<Eigen::Index>(c)));
    });
    return scores;
}

Matrix<float> PcaResult::transform(MatrixView<float> X, int n_threads) const {
    return pca_transform(X, mean, components, n_threads);
}

PcaResult pca(MatrixView<float> X, std::size_t n_components, int n_threads) {
    return pca(X, X.rows, n_components, n_threads, RowShare::all(X.rows));
}

PcaResult pca(MatrixView<float> X, std::size_t n_rows_total, std::size_t n_components, int n_threads,
              const RowShare& share) {
    require(n_threads >= 1, "pca: n_threads must be >= 1");
    require(X.cols > 0 && n_rows_total > 0, "pca: the input is empty");
    require(X.rows == share.count() && (X.data != nullptr || X.rows == 0), "pca: the rows do not match the share");
    require(n_rows_total >= 2, "pca: need at least 2 points, got " + std::to_string(n_rows_total));
    require(n_components >= 1, "pca: n_components must be at least 1");
    require(n_components <= std::min(n_rows_total, X.cols),
            "pca: n_components = " + std::to_string(n_components) + " exceeds min(N, D) = " +
                std::to_string(std::min(n_rows_total, X.cols)) + " (N = " + std::to_string(n_rows_total) +
                ", D = " + std::to_string(X.cols) + ")");
    require_finite(X, "pca input");
    const std::size_t N = n_rows_total, D = X.cols;

    PcaResult res;
    res.mean.assign(D, 0.0);
    share.run_fold(res.mean.data(), D * sizeof(double), [&](bool) { add_column_sums(X, res.mean, n_threads); });
    for (double& m : res.mean) m /= static_cast<double>(N);
    const auto Di = static_cast<Eigen::Index>(D);
    Eigen::MatrixXd C = Eigen::MatrixXd::Zero(Di, Di);
    share.run_fold(C.data(), D * D * sizeof(double), [&](bool) { add_scatter_matrix(X, res.mean, n_threads, C); });
    C /= static_cast<double>(N - 1);
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(C);  // reads the lower triangle only
    if (eig.info() != Eigen::Success) throw InvalidArgument("pca: the eigendecomposition of the covariance failed");
    const Eigen::VectorXd& lambda = eig.eigenvalues();       // ascending
    const Eigen::MatrixXd& V = eig.eigenvectors();
    res.total_variance = C.diagonal().sum();
    res.components = Matrix<double>(n_components, D);
    res.explained_variance.resize(n_components);
    for (std::size_t c = 0; c < n_components; ++c) {
        const auto col = static_cast<Eigen::Index>(D - 1 - c);
        res.explained_variance[c] = std::max(0.0, lambda(col));
        double* row = &res.components(c, 0);
        for (std::size_t j = 0; j < D; ++j) row[j] = V(static_cast<Eigen::Index>(j), col);
        flip_sign(row, D);
    }
    res.scores = pca_transform(X, res.mean, res.components, n_threads);
    return res;
}

} // namespace nembed
