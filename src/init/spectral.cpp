// Spectral initialisation: top eigenpairs of D^-1/2 A D^-1/2 with Spectra (Lanczos) or a dense solver.
#ifndef EIGEN_DONT_PARALLELIZE
#define EIGEN_DONT_PARALLELIZE
#endif
#include "nembed/init/spectral.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include <Eigen/Dense>
#include <Spectra/SymEigsSolver.h>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/core/random.hpp"
#include "nembed/init/rescale.hpp"

namespace nembed {

namespace {

constexpr std::uint64_t kStartVectorStream = std::uint64_t(3) << 40;

// y = D^-1/2 A D^-1/2 x, given s = D^-1/2.
struct NormalizedAdjacencyOp {
    using Scalar = double;
    const CsrMatrix<double>* A;
    const std::vector<double>* s;
    int n_threads;
    Eigen::Index rows() const { return static_cast<Eigen::Index>(A->n_rows); }
    Eigen::Index cols() const { return static_cast<Eigen::Index>(A->n_rows); }
    void perform_op(const double* x, double* y) const {
        const auto& sv = *s;
        parallel_for(n_threads, A->n_rows, [&](std::size_t i) {
            double acc = 0.0;
            for (offset_t p = A->indptr[i]; p < A->indptr[i + 1]; ++p) {
                const auto j = static_cast<std::size_t>(A->indices[static_cast<std::size_t>(p)]);
                acc += A->values[static_cast<std::size_t>(p)] * sv[j] * x[j];
            }
            y[i] = sv[i] * acc;
        });
    }
};

// The same product with the entries m_ij = s_i a_ij s_j formed once and rounded to float32
// (SpectralOptions::float_operator): 8 bytes and one gather per entry instead of 12 bytes and two, and four partial
// sums per row so that a row's additions do not wait on each other. Each row's sum has a fixed order: the same bits
// for any thread count. docs/core.md §6.1 bounds what the rounding moves.
struct FloatNormalizedAdjacencyOp {
    using Scalar = double;
    const CsrMatrix<double>* A;
    std::vector<float> m;
    int n_threads;
    FloatNormalizedAdjacencyOp(const CsrMatrix<double>& a, const std::vector<double>& s, int threads)
        : A(&a), m(a.nnz()), n_threads(threads) {
        parallel_for(n_threads, a.n_rows, [&](std::size_t i) {
            for (offset_t p = a.indptr[i]; p < a.indptr[i + 1]; ++p) {
                const auto q = static_cast<std::size_t>(p);
                m[q] = static_cast<float>(s[i] * a.values[q] * s[static_cast<std::size_t>(a.indices[q])]);
            }
        });
    }
    Eigen::Index rows() const { return static_cast<Eigen::Index>(A->n_rows); }
    Eigen::Index cols() const { return static_cast<Eigen::Index>(A->n_rows); }
    void perform_op(const double* x, double* y) const {
        const index_t* idx = A->indices.data();
        const float* mv = m.data();
        parallel_for(n_threads, A->n_rows, [&](std::size_t i) {
            const auto b = static_cast<std::size_t>(A->indptr[i]), e = static_cast<std::size_t>(A->indptr[i + 1]);
            double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;
            std::size_t p = b;
            for (; p + 4 <= e; p += 4) {
                a0 += static_cast<double>(mv[p]) * x[idx[p]];
                a1 += static_cast<double>(mv[p + 1]) * x[idx[p + 1]];
                a2 += static_cast<double>(mv[p + 2]) * x[idx[p + 2]];
                a3 += static_cast<double>(mv[p + 3]) * x[idx[p + 3]];
            }
            for (; p < e; ++p) a0 += static_cast<double>(mv[p]) * x[idx[p]];
            y[i] = (a0 + a1) + (a2 + a3);
        });
    }
};

// Spectra's Lanczos for the n_eigen largest eigenpairs of op from a start vector drawn uniform(-1, 1).
template <typename Op>
void lanczos(Op& op, std::size_t N, std::size_t n_eigen, const SpectralOptions& opt, Eigen::VectorXd& lambda,
             Eigen::MatrixXd& U, SpectralEigen& out) {
    std::size_t ncv = opt.ncv ? opt.ncv : std::max<std::size_t>(2 * n_eigen + 1, 20);
    ncv = std::min(std::max(ncv, n_eigen + 1), N);
    const auto Ni = static_cast<Eigen::Index>(N);
    Spectra::SymEigsSolver<Op> eigs(op, static_cast<Eigen::Index>(n_eigen), static_cast<Eigen::Index>(ncv));
    Eigen::VectorXd v0(Ni);
    Rng rng(opt.seed, kStartVectorStream);
    for (Eigen::Index i = 0; i < Ni; ++i) v0(i) = rng.uniform(-1.0, 1.0);
    eigs.init(v0.data());
    eigs.compute(Spectra::SortRule::LargestAlge, static_cast<Eigen::Index>(opt.max_iter), opt.tol,
                 Spectra::SortRule::LargestAlge);
    out.restarts = static_cast<std::size_t>(eigs.num_iterations());
    out.products = static_cast<std::size_t>(eigs.num_operations());
    if (eigs.info() != Spectra::CompInfo::Successful)
        throw std::runtime_error("spectral: the Lanczos eigensolver did not converge to tol " +
                                 std::to_string(opt.tol) + " within " + std::to_string(opt.max_iter) +
                                 " iterations (" + std::to_string(eigs.num_iterations()) +
                                 " done); raise max_iter/tol or use pca/random initialisation");
    lambda = eigs.eigenvalues();
    U = eigs.eigenvectors();
}

std::vector<double> check_and_degrees(const CsrMatrix<double>& A, std::size_t n_eigen, int n_threads) {
    require(A.n_rows == A.n_cols, "spectral: the affinity matrix must be square, got " + std::to_string(A.n_rows) +
                                      " x " + std::to_string(A.n_cols));
    require(A.n_rows >= 2, "spectral: need at least 2 points");
    A.validate("spectral: affinity matrix");
    require(n_eigen >= 1 && n_eigen < A.n_rows,
            "spectral: n_components + 1 = " + std::to_string(n_eigen) + " eigenvectors requested but the graph has " +
                std::to_string(A.n_rows) + " points (need fewer eigenvectors than points)");
    const std::size_t n = A.n_rows;
    // Per row (in parallel; each row's work and sum in a fixed order): its largest entry, whether all are finite and
    // non-negative, and its degree. The checks then read the rows in order, so the first bad entry is reported.
    std::vector<double> row_max(n, 0.0), deg(n, 0.0);
    std::vector<char> row_ok(n, 1);
    parallel_for(n_threads, n, [&](std::size_t i) {
        double mx = 0.0, d = 0.0;
        bool ok = true;
        for (offset_t p = A.indptr[i]; p < A.indptr[i + 1]; ++p) {
            const double v = A.values[static_cast<std::size_t>(p)];
            ok = ok && std::isfinite(v) && v >= 0.0;
            mx = std::max(mx, v);
            d += v;
        }
        row_max[i] = mx;
        deg[i] = d;
        row_ok[i] = ok ? 1 : 0;
    });
    require(std::find(row_ok.begin(), row_ok.end(), 0) == row_ok.end(),
            "spectral: affinities must be finite and non-negative");
    const double amax = *std::max_element(row_max.begin(), row_max.end());
    // Symmetry, first by half the look-ups: every entry above the diagonal finds its transpose within the tolerance,
    // and there are as many entries below the diagonal as above, so each of those is some upper entry's transpose
    // (the indices of a row are unique). Only if that fails does the full check below run, which names the entry.
    std::vector<std::size_t> upper(n, 0), matched(n, 0), lower(n, 0);
    parallel_for(n_threads, n, [&](std::size_t i) {
        for (offset_t p = A.indptr[i]; p < A.indptr[i + 1]; ++p) {
            const auto j = static_cast<std::size_t>(A.indices[static_cast<std::size_t>(p)]);
            if (j < i) {
                ++lower[i];
            } else if (j > i) {
                ++upper[i];
                const auto b = A.indices.begin() + A.indptr[j], e = A.indices.begin() + A.indptr[j + 1];
                const auto it = std::lower_bound(b, e, static_cast<index_t>(i));
                if (it != e && *it == static_cast<index_t>(i) &&
                    std::abs(A.values[static_cast<std::size_t>(p)] -
                             A.values[static_cast<std::size_t>(it - A.indices.begin())]) <= 1e-9 * amax)
                    ++matched[i];
            }
        }
    });
    std::size_t n_upper = 0, n_matched = 0, n_lower = 0;
    for (std::size_t i = 0; i < n; ++i) {
        n_upper += upper[i];
        n_matched += matched[i];
        n_lower += lower[i];
    }
    const bool symmetric = n_matched == n_upper && n_lower == n_upper;
    // The first column of each row whose entry differs from its transpose (-1: none).
    std::vector<index_t> asym(n, -1);
    if (!symmetric) parallel_for(n_threads, n, [&](std::size_t i) {
        for (offset_t p = A.indptr[i]; p < A.indptr[i + 1]; ++p) {
            const auto j = A.indices[static_cast<std::size_t>(p)];
            const double v = A.values[static_cast<std::size_t>(p)];
            if (std::abs(v - A.at(static_cast<std::size_t>(j), static_cast<index_t>(i))) > 1e-9 * amax) {
                asym[i] = j;
                return;
            }
        }
    });
    for (std::size_t i = 0; i < n; ++i)
        if (asym[i] >= 0)
            throw InvalidArgument("spectral: the affinity matrix is not symmetric (entry (" + std::to_string(i) +
                                  ", " + std::to_string(asym[i]) + ") differs from its transpose); symmetrise it first");
    std::size_t n_isolated = 0, first_isolated = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (!(deg[i] > 0.0)) {
            if (n_isolated++ == 0) first_isolated = i;
        }
    }
    if (n_isolated > 0)
        throw InvalidArgument("spectral: " + std::to_string(n_isolated) + " point(s) have no affinity to any other "
                              "point (isolated, zero degree; first: point " + std::to_string(first_isolated) +
                              "); spectral initialisation is undefined for them, use pca or random");
    return deg;
}

} // namespace

SpectralEigen spectral_eigenpairs(const CsrMatrix<double>& A, std::size_t n_eigen, const SpectralOptions& opt) {
    require(std::isfinite(opt.tol) && opt.tol > 0.0, "spectral: tol must be positive");
    require(opt.max_iter >= 1, "spectral: max_iter must be at least 1");
    require(opt.n_threads >= 1, "spectral: n_threads must be >= 1");
    const std::vector<double> deg = check_and_degrees(A, n_eigen, opt.n_threads);
    const std::size_t N = A.n_rows;
    std::vector<double> s(N);
    for (std::size_t i = 0; i < N; ++i) s[i] = 1.0 / std::sqrt(deg[i]);
    const auto Ni = static_cast<Eigen::Index>(N), ki = static_cast<Eigen::Index>(n_eigen);

    SpectralEigen out;
    Eigen::VectorXd lambda;
    Eigen::MatrixXd U;
    if (N <= opt.dense_threshold) {
        Eigen::MatrixXd M = Eigen::MatrixXd::Zero(Ni, Ni);
        for (std::size_t i = 0; i < N; ++i)
            for (offset_t p = A.indptr[i]; p < A.indptr[i + 1]; ++p) {
                const auto j = static_cast<std::size_t>(A.indices[static_cast<std::size_t>(p)]);
                M(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) =
                    s[i] * A.values[static_cast<std::size_t>(p)] * s[j];
            }
        Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(M);
        if (eig.info() != Eigen::Success) throw std::runtime_error("spectral: dense eigendecomposition failed");
        lambda = eig.eigenvalues().tail(ki).reverse();
        U = eig.eigenvectors().rightCols(ki).rowwise().reverse();
    } else {
        if (opt.float_operator) {
            FloatNormalizedAdjacencyOp op(A, s, opt.n_threads);
            lanczos(op, N, n_eigen, opt, lambda, U, out);
        } else {
            NormalizedAdjacencyOp op{&A, &s, opt.n_threads};
            lanczos(op, N, n_eigen, opt, lambda, U, out);
        }
    }

    out.eigenvalues.assign(lambda.data(), lambda.data() + lambda.size());
    out.eigenvectors = Matrix<double>(N, n_eigen);
    for (std::size_t c = 0; c < n_eigen; ++c) {
        const auto ci = static_cast<Eigen::Index>(c);
        std::size_t arg = 0;
        double best = -1.0;
        for (std::size_t i = 0; i < N; ++i) {
            const double a = std::abs(U(static_cast<Eigen::Index>(i), ci) * s[i]);
            if (a > best) {
                best = a;
                arg = i;
            }
        }
        const double sign = U(static_cast<Eigen::Index>(arg), ci) < 0 ? -1.0 : 1.0;
        for (std::size_t i = 0; i < N; ++i)
            out.eigenvectors(i, c) = sign * s[i] * U(static_cast<Eigen::Index>(i), ci);
    }
    return out;
}

Matrix<double> spectral_init(const CsrMatrix<double>& A, std::size_t n_components, const SpectralOptions& opt) {
    require(n_components >= 1, "spectral_init: n_components must be at least 1");
    SpectralEigen e = spectral_eigenpairs(A, n_components + 1, opt);
    const std::size_t N = A.n_rows;
    Matrix<double> Y(N, n_components);
    for (std::size_t i = 0; i < N; ++i)
        for (std::size_t c = 0; c < n_components; ++c) Y(i, c) = e.eigenvectors(i, c + 1) * e.eigenvalues[c + 1];
    if (column_std(Y.view(), 0) == 0.0)
        throw InvalidArgument("spectral_init: the first non-trivial eigenvector is constant (eigenvalue " +
                              std::to_string(e.eigenvalues[1]) + "); use pca or random initialisation");
    rescale(Y, opt.target_std);
    if (opt.add_jitter) jitter(Y, 0.01, opt.seed);
    return Y;
}

Matrix<double> spectral_init(const CsrMatrix<double>& A, std::size_t n_components, bool add_jitter,
                             std::uint64_t seed) {
    SpectralOptions opt;
    opt.add_jitter = add_jitter;
    opt.seed = seed;
    return spectral_init(A, n_components, opt);
}

} // namespace nembed
