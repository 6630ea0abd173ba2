// Sensitivity S = −(H + λI)⁺ J and the covariance products built on it (sensitivity.hpp).
#include "nembed/sensitivity/sensitivity.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <string>

#include "nembed/core/error.hpp"
#include "nembed/core/strings.hpp"
#include "nembed/core/log.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/core/random.hpp"

#include <Spectra/SymEigsSolver.h>

namespace nembed {
namespace {

using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

Eigen::MatrixXd unit_block(std::size_t n, std::size_t r0, std::size_t m) {
    Eigen::MatrixXd E = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(m));
    for (std::size_t c = 0; c < m; ++c) E(static_cast<Eigen::Index>(r0 + c), static_cast<Eigen::Index>(c)) = 1.0;
    return E;
}

// Rows of S per block: enough to keep Jacobian products busy, few enough to bound memory (m × N·D doubles).
std::size_t row_block(std::size_t nd) { return std::clamp<std::size_t>((std::size_t(64) << 20) / (8 * nd + 1), 2, 256) & ~std::size_t(1); }

// P⊥ H P⊥ as a Spectra operator (the gauge modes appear as exact zeros and are filtered out afterwards).
struct ProjectedHessianOp {
    using Scalar = double;
    const TsneDerivatives* der;
    const Eigen::MatrixXd* U;
    Eigen::Index rows() const { return U->rows(); }
    Eigen::Index cols() const { return U->rows(); }
    void perform_op(const double* x, double* y) const {
        Eigen::Map<const Eigen::VectorXd> xv(x, rows());
        Eigen::VectorXd v = xv - *U * (U->transpose() * xv);
        Eigen::VectorXd h = der->hessian_product(v);
        Eigen::Map<Eigen::VectorXd>(y, rows()) = h - *U * (U->transpose() * h);
    }
};

} // namespace

SensitivityOptions seed_compatible_options(double perplexity) {
    SensitivityOptions o;
    o.derivatives.perplexity = perplexity;
    o.derivatives.affinity = SensitivityAffinity::dense;
    o.derivatives.bandwidth = BandwidthMode::fixed;
    o.derivatives.seed_search = true;
    o.solve.damping = 1e-3;
    o.solve.project_gauge = false;
    o.solve.solver = HessianSolverKind::dense;
    o.solve.rcond = -1.0;  // marker: resolved to 10·2N·ε_float32 once N is known
    return o;
}

TsneSensitivity::TsneSensitivity(MatrixView<double> X, MatrixView<double> Y, const SensitivityOptions& options)
    : opt_(options), der_(X, Y, options.derivatives) {
    if (opt_.solve.rcond < 0.0)
        opt_.solve.rcond = 10.0 * static_cast<double>(2 * der_.n_points()) *
                           static_cast<double>(std::numeric_limits<float>::epsilon());
    require(opt_.refine_max_iter >= 0, "sensitivity: refine_max_iter must be >= 0");
    require(opt_.refine_tolerance > 0.0, "sensitivity: refine_tolerance must be > 0");
    require(opt_.stationarity_tolerance > 0.0, "sensitivity: stationarity_tolerance must be > 0");
    // Checked whichever solver runs (the matrix-free one uses it; "auto" may pick it at a larger N).
    require(opt_.covariance_samples >= 2, "sensitivity: covariance_samples (--samples) must be >= 2, got " +
                                              std::to_string(opt_.covariance_samples));
    if (opt_.refine) refine();
    const Eigen::VectorXd g = der_.gradient();
    diag_.gradient_max = g.cwiseAbs().maxCoeff();
    diag_.gradient_norm = g.norm();
    diag_.kl = der_.kl();
    if (diag_.gradient_max > opt_.stationarity_tolerance)
        warn("sensitivity: Y* is not a stationary point of the differentiated objective (max |gradient| = " +
             short_number(diag_.gradient_max, 3) + " > " + short_number(opt_.stationarity_tolerance, 3) +
             "); S assumes it is. Refine Y* (refine = true) with the perplexity and affinities that made it");
    solver_ = std::make_unique<HessianSolver>(der_, opt_.solve);
    if (!solver_->is_dense() && opt_.lanczos_eigenvalues > 0) {
        // Smallest algebraic eigenvalues by Lanczos; 3 extra for the gauge zeros, which are dropped by overlap.
        const Eigen::Index n2 = static_cast<Eigen::Index>(2 * n_points());
        const Eigen::Index nev = std::min<Eigen::Index>(static_cast<Eigen::Index>(opt_.lanczos_eigenvalues) + 3, n2 - 1);
        const Eigen::Index ncv = std::min<Eigen::Index>(std::max<Eigen::Index>(2 * nev + 1, 30), n2);
        ProjectedHessianOp op{&der_, &solver_->gauge()};
        Spectra::SymEigsSolver<ProjectedHessianOp> eigs(op, nev, ncv);
        Eigen::VectorXd v0(n2);
        Rng rng(0x5e45, 3);
        for (Eigen::Index q = 0; q < n2; ++q) v0[q] = rng.uniform(-1.0, 1.0);
        eigs.init(v0.data());
        eigs.compute(Spectra::SortRule::SmallestAlge, 2000, 1e-8, Spectra::SortRule::SmallestAlge);
        if (eigs.info() != Spectra::CompInfo::Successful) {
            warn("sensitivity: the Lanczos estimate of the smallest Hessian eigenvalues did not converge");
        } else {
            const Eigen::VectorXd ev = eigs.eigenvalues();
            const Eigen::MatrixXd V = eigs.eigenvectors();
            diag_.dense_spectrum = true;
            for (Eigen::Index k = 0; k < ev.size(); ++k) {
                if ((solver_->gauge().transpose() * V.col(k)).norm() > 0.5) continue;  // a gauge zero
                if (diag_.smallest_eigenvalues.size() < opt_.lanczos_eigenvalues) diag_.smallest_eigenvalues.push_back(ev[k]);
            }
            std::sort(diag_.smallest_eigenvalues.begin(), diag_.smallest_eigenvalues.end());
            const double scale = std::max(std::abs(ev.maxCoeff()), std::abs(ev.minCoeff()));
            for (double e : diag_.smallest_eigenvalues) diag_.n_negative += e < -1e-10 * scale ? 1 : 0;
            if (diag_.n_negative > 0)
                warn("sensitivity: the Hessian has negative eigenvalues (Lanczos: " + std::to_string(diag_.n_negative) +
                     " of the smallest " + std::to_string(diag_.smallest_eigenvalues.size()) + ", smallest " +
                     short_number(diag_.smallest_eigenvalues.front(), 3) + "): Y* is not a minimum");
        }
    }
    if (solver_->is_dense()) {
        diag_.dense_spectrum = true;
        const Eigen::VectorXd& ev = solver_->eigenvalues();
        const double emax = ev.cwiseAbs().maxCoeff();
        for (Eigen::Index k = 0; k < std::min<Eigen::Index>(ev.size(), 10); ++k) diag_.smallest_eigenvalues.push_back(ev[k]);
        for (Eigen::Index k = 0; k < ev.size(); ++k) diag_.n_negative += ev[k] < -1e-10 * emax ? 1 : 0;
        const Eigen::VectorXd rot = solver_->gauge().col(2);
        diag_.rotation_residual = der_.hessian_product(rot).norm() / std::max(emax, 1e-300);
        if (diag_.n_negative > 0)
            warn("sensitivity: the Hessian has " + std::to_string(diag_.n_negative) +
                 " negative eigenvalue(s) (smallest " + short_number(ev[0], 3) +
                 "): Y* is not a minimum; those modes are inverted with their sign");
    }
}

void TsneSensitivity::refine() {
    SolveOptions so;
    so.project_gauge = true;
    so.solver = HessianSolverKind::dense;
    require(2 * der_.n_points() <= opt_.solve.dense_limit || opt_.solve.solver == HessianSolverKind::dense,
            "sensitivity: refine needs the dense Hessian (2N <= dense_limit = " +
                std::to_string(opt_.solve.dense_limit) + "); raise dense_limit or refine Y* with the optimizer");
    Matrix<double> Y = der_.Y();
    const std::size_t n = der_.n_points();
    auto radius = [&](const Matrix<double>& M) {
        double s = 0.0;
        for (double v : M.storage()) s += v * v;
        return std::sqrt(s / static_cast<double>(n));
    };
    const double r0 = radius(Y);
    int it = 0;
    for (; it < opt_.refine_max_iter; ++it) {
        const Eigen::VectorXd g = der_.gradient();
        const double gmax = g.cwiseAbs().maxCoeff();
        if (gmax <= opt_.refine_tolerance) break;
        // Saddle-free Newton: |μ| with a floor, so negative-curvature directions are descended, not climbed.
        HessianSolver hs(der_, so);
        const Eigen::VectorXd& ev = hs.eigenvalues();
        const double floor = 1e-10 * ev.cwiseAbs().maxCoeff();
        const Eigen::VectorXd inv = (ev.cwiseAbs().array().max(floor)).inverse();
        const Eigen::VectorXd step = -(hs.eigenvectors() * (inv.asDiagonal() * (hs.eigenvectors().transpose() * g)));
        const double kl0 = der_.kl(), slope = g.dot(step), g0 = g.norm();
        Matrix<double> Ytry(n, 2);
        bool accepted = false;
        for (double t = 1.0; t > 1e-10; t *= 0.5) {
            for (std::size_t q = 0; q < 2 * n; ++q) Ytry.data()[q] = Y.data()[q] + t * step[static_cast<Eigen::Index>(q)];
            der_.set_embedding(Ytry.view());
            const double kl1 = der_.kl();
            // Near the optimum KL changes drown in rounding; a smaller gradient then decides.
            if (kl1 <= kl0 + 1e-4 * t * slope ||
                (kl1 <= kl0 + 1e-13 * std::abs(kl0) && der_.gradient().norm() < g0)) {
                accepted = true;
                break;
            }
        }
        if (!accepted) {
            der_.set_embedding(Y.view());
            break;
        }
        Y = Ytry;
    }
    diag_.refine_iterations = it;
    // The Student-t KL can keep falling as the map expands (Q tends to the scale-free 1/d² kernel), where every
    // gradient vanishes: a "stationary point" reached that way is not a finite optimum.
    if (radius(Y) > 100.0 * r0)
        warn("sensitivity: refining expanded the embedding " + short_number(radius(Y) / r0, 3) +
             "-fold: the objective seems to have no finite stationary point near Y* (try a larger perplexity)");
    const double gmax = der_.gradient().cwiseAbs().maxCoeff();
    if (gmax > opt_.refine_tolerance)
        warn("sensitivity: refinement stopped after " + std::to_string(it) + " iterations at max |gradient| = " +
             short_number(gmax, 3));
}

void TsneSensitivity::check_output(std::size_t entries, const char* what) const {
    const double bytes = 8.0 * static_cast<double>(entries);
    require(bytes <= static_cast<double>(opt_.max_output_bytes),
            std::string("sensitivity: ") + what + " needs " + std::to_string(bytes / (1 << 20)) +
                " MiB, above max_output_bytes (" + std::to_string(opt_.max_output_bytes >> 20) +
                " MiB); ask for per-point covariances or products instead");
}

Eigen::MatrixXd TsneSensitivity::apply(const Eigen::MatrixXd& U) const {
    return -solver_->solve(der_.jacobian_product(U));
}

Eigen::MatrixXd TsneSensitivity::apply_transpose(const Eigen::MatrixXd& V) const {
    // (H + λI)⁺ is symmetric (also with the gauge projection), so Sᵀ V = −Jᵀ (H + λI)⁺ V.
    return -der_.jacobian_transpose_product(solver_->solve(V));
}

Eigen::MatrixXd TsneSensitivity::unit_rows_transposed(std::size_t r0, std::size_t m) const {
    // Columns r0..r0+m of the inverse when the solver holds it (a product with unit vectors would cost 2N² per
    // column for nothing), else solves.
    if (solver_->has_inverse())
        return -der_.jacobian_transpose_product(
            solver_->inverse().middleCols(static_cast<Eigen::Index>(r0), static_cast<Eigen::Index>(m)));
    return apply_transpose(unit_block(2 * n_points(), r0, m));
}

Eigen::MatrixXd TsneSensitivity::rows(std::size_t r0, std::size_t m) const {
    require(r0 + m <= 2 * n_points(), "sensitivity: rows out of range");
    return unit_rows_transposed(r0, m).transpose();
}

Matrix<double> TsneSensitivity::jacobian() const {
    const std::size_t n2 = 2 * n_points(), nd = n_points() * n_features();
    check_output(n2 * nd, "the full sensitivity matrix S");
    Matrix<double> S(n2, nd);
    const std::size_t bs = row_block(nd);
    for (std::size_t r0 = 0; r0 < n2; r0 += bs) {
        const std::size_t m = std::min(bs, n2 - r0);
        const Eigen::MatrixXd T = unit_rows_transposed(r0, m);  // nd × m: rows of S as columns
        Eigen::Map<RowMajor>(S.row(r0), static_cast<Eigen::Index>(m), static_cast<Eigen::Index>(nd)) = T.transpose();
    }
    return S;
}

Matrix<double> TsneSensitivity::covariance(const InputCovariance& cov) const {
    const std::size_t n = n_points(), d = n_features(), n2 = 2 * n;
    cov.check(n, d);
    check_output(2 * n2 * n2, "the output covariance");
    // K = J Σ Jᵀ column block by column block, then Cov = (H + λI)⁺ K (H + λI)⁺: memory 2N × 2N, never S.
    Eigen::MatrixXd K(static_cast<Eigen::Index>(n2), static_cast<Eigen::Index>(n2));
    const std::size_t bs = row_block(n * d);
    for (std::size_t r0 = 0; r0 < n2; r0 += bs) {
        const std::size_t m = std::min(bs, n2 - r0);
        const Eigen::MatrixXd T = der_.jacobian_transpose_product(unit_block(n2, r0, m));
        K.middleCols(static_cast<Eigen::Index>(r0), static_cast<Eigen::Index>(m)) =
            der_.jacobian_product(cov.apply(T, n, d));
    }
    const Eigen::MatrixXd M = solver_->solve(K);
    Eigen::MatrixXd C = solver_->solve(M.transpose());
    C = 0.5 * (C + C.transpose());
    Matrix<double> out(n2, n2);
    Eigen::Map<RowMajor>(out.data(), static_cast<Eigen::Index>(n2), static_cast<Eigen::Index>(n2)) = C;
    return out;
}

Matrix<double> TsneSensitivity::point_covariances_sampled(const InputCovariance& cov, std::size_t samples,
                                                          std::uint64_t seed) const {
    const std::size_t n = n_points(), d = n_features();
    cov.check(n, d);
    require(samples >= 2, "sensitivity: covariance_samples must be >= 2, got " + std::to_string(samples));
    const std::size_t dim = cov.factor_cols(n, d);
    const int threads = resolve_threads(der_.options().n_threads);
    Eigen::MatrixXd acc = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(n), 3);
    // A block of samples shares every Hessian product of its solve (the solver's block size); its right-hand sides
    // J B z are made in chunks whose N·D draws stay near 64 MiB. Every column is computed on its own, so the bits do
    // not depend on either size.
    const std::size_t bs = std::max<std::size_t>(opt_.solve.block_size, 1);
    const std::size_t chunk = std::clamp<std::size_t>((std::size_t(64) << 20) / (8 * std::max(dim, n * d) + 1), 1, bs);
    for (std::size_t s0 = 0; s0 < samples; s0 += bs) {
        const std::size_t m = std::min(bs, samples - s0);
        Eigen::MatrixXd R(static_cast<Eigen::Index>(2 * n), static_cast<Eigen::Index>(m));
        for (std::size_t c0 = 0; c0 < m; c0 += chunk) {
            const std::size_t w = std::min(chunk, m - c0);
            Eigen::MatrixXd Z(static_cast<Eigen::Index>(dim), static_cast<Eigen::Index>(w));
            parallel_for(threads, w, [&](std::size_t c) {
                Rng rng(seed, s0 + c0 + c);
                for (std::size_t q = 0; q < dim; ++q)
                    Z(static_cast<Eigen::Index>(q), static_cast<Eigen::Index>(c)) = rng.normal();
            });
            R.middleCols(static_cast<Eigen::Index>(c0), static_cast<Eigen::Index>(w)) =
                der_.jacobian_product(cov.apply_factor(Z, n, d));
        }
        const Eigen::MatrixXd DY = -solver_->solve(R);  // 2N × m samples of δY (as apply())
        // Per point, samples added in index order: independent of the thread count.
        parallel_for(threads, n, [&](std::size_t i) {
            const auto r = static_cast<Eigen::Index>(i);
            for (std::size_t c = 0; c < m; ++c) {
                const double a = DY(2 * r, static_cast<Eigen::Index>(c)), b = DY(2 * r + 1, static_cast<Eigen::Index>(c));
                acc(r, 0) += a * a;
                acc(r, 1) += a * b;
                acc(r, 2) += b * b;
            }
        });
    }
    Matrix<double> out(n, 4);
    const double inv = 1.0 / static_cast<double>(samples);
    for (std::size_t i = 0; i < n; ++i) {
        const auto r = static_cast<Eigen::Index>(i);
        out(i, 0) = acc(r, 0) * inv;
        out(i, 1) = out(i, 2) = acc(r, 1) * inv;
        out(i, 3) = acc(r, 2) * inv;
    }
    return out;
}

Matrix<double> TsneSensitivity::point_covariances(const InputCovariance& cov) const {
    const std::size_t n = n_points(), d = n_features(), n2 = 2 * n;
    cov.check(n, d);
    if (solver_->is_matrix_free()) return point_covariances_sampled(cov, opt_.covariance_samples, opt_.covariance_seed);
    if (solver_->has_inverse() && der_.knn_layout() &&
        (cov.kind() == InputCovariance::Kind::scalar || cov.kind() == InputCovariance::Kind::diagonal)) {
        // Columns of (H + λI)⁺ straight into the per-point forms: neither S nor Jᵀ·V is formed. S = −Jᵀ(…), the
        // sign cancels in the quadratic forms.
        const std::vector<double> var = cov.variances(n, d);
        Matrix<double> out(n, 4);
        constexpr std::size_t bs = 256;
        for (std::size_t r0 = 0; r0 < n2; r0 += bs) {
            const std::size_t m = std::min(bs, n2 - r0);
            const Eigen::MatrixXd F = der_.jacobian_transpose_pair_forms(
                solver_->inverse().middleCols(static_cast<Eigen::Index>(r0), static_cast<Eigen::Index>(m)), var);
            for (std::size_t c = 0; c < m; c += 2) {
                const std::size_t i = (r0 + c) / 2;
                const auto r = static_cast<Eigen::Index>(c / 2);
                out(i, 0) = F(r, 0);
                out(i, 1) = out(i, 2) = F(r, 1);
                out(i, 3) = F(r, 2);
            }
        }
        return out;
    }
    Matrix<double> out(n, 4);
    // Blocks of 32 rows of S when memory allows (the blocked kNN Jacobian product works on 32 columns at once).
    const std::size_t bs = std::max<std::size_t>(row_block(n * d), std::min<std::size_t>(32, row_block(n * d) * 4));
    for (std::size_t r0 = 0; r0 < n2; r0 += bs) {
        const std::size_t m = std::min(bs, n2 - r0);  // even: whole points
        const Eigen::MatrixXd T = unit_rows_transposed(r0, m);  // rows of S as columns
        const Eigen::MatrixXd ST = cov.apply(T, n, d);
        for (std::size_t c = 0; c < m; c += 2) {
            const std::size_t i = (r0 + c) / 2;
            const auto C = static_cast<Eigen::Index>(c);
            out(i, 0) = T.col(C).dot(ST.col(C));
            out(i, 1) = 0.5 * (T.col(C).dot(ST.col(C + 1)) + T.col(C + 1).dot(ST.col(C)));
            out(i, 2) = out(i, 1);
            out(i, 3) = T.col(C + 1).dot(ST.col(C + 1));
        }
    }
    return out;
}

HypotheticalOutcomes TsneSensitivity::hypothetical_outcomes(const InputCovariance& cov, std::size_t n_frames,
                                                            std::uint64_t seed) const {
    const std::size_t n = n_points(), d = n_features();
    require(n_frames >= 1, "sensitivity: n_frames must be >= 1");
    cov.check(n, d);
    const std::size_t dim = cov.factor_cols(n, d);
    require(dim >= 2, "sensitivity: hypothetical outcomes need at least 2 noise dimensions");
    Rng rng(seed, 0);
    Eigen::MatrixXd Z(static_cast<Eigen::Index>(dim), 2);
    for (Eigen::Index q = 0; q < Z.rows(); ++q) Z(q, 0) = rng.normal();
    for (Eigen::Index q = 0; q < Z.rows(); ++q) Z(q, 1) = rng.normal();
    const double r = Z.col(0).norm();
    require(r > 0.0, "sensitivity: degenerate random draw");
    Z.col(0) /= r;
    Z.col(1) -= Z.col(0).dot(Z.col(1)) * Z.col(0);
    Z.col(1) /= Z.col(1).norm();
    const Eigen::MatrixXd AB = r * apply(cov.apply_factor(Z, n, d));  // the orbit's two axes in Y
    HypotheticalOutcomes h;
    h.a = Matrix<double>(n, 2);
    h.b = Matrix<double>(n, 2);
    for (std::size_t q = 0; q < 2 * n; ++q) {
        h.a.data()[q] = AB(static_cast<Eigen::Index>(q), 0);
        h.b.data()[q] = AB(static_cast<Eigen::Index>(q), 1);
    }
    for (std::size_t k = 0; k < n_frames; ++k) {
        const double s = 2.0 * std::numbers::pi * static_cast<double>(k) / static_cast<double>(n_frames);
        Matrix<double> F = der_.Y();
        for (std::size_t q = 0; q < 2 * n; ++q) F.data()[q] += std::cos(s) * h.a.data()[q] + std::sin(s) * h.b.data()[q];
        h.frames.push_back(std::move(F));
    }
    return h;
}

SensitivityImportance TsneSensitivity::importance() const {
    const std::size_t n = n_points(), d = n_features(), n2 = 2 * n;
    SensitivityImportance imp;
    imp.per_point.assign(n, 0.0);
    imp.per_feature.assign(d, 0.0);
    imp.summed_abs = Matrix<double>(n, d);
    const std::size_t bs = row_block(n * d);
    for (std::size_t r0 = 0; r0 < n2; r0 += bs) {
        const std::size_t m = std::min(bs, n2 - r0);
        const Eigen::MatrixXd T = apply_transpose(unit_block(n2, r0, m));
        for (Eigen::Index c = 0; c < T.cols(); ++c)
            for (std::size_t j = 0; j < n; ++j)
                for (std::size_t f = 0; f < d; ++f) {
                    const double v = T(static_cast<Eigen::Index>(j * d + f), c);
                    imp.per_point[j] += v * v;
                    imp.per_feature[f] += v * v;
                    imp.summed_abs(j, f) += std::abs(v);
                }
    }
    return imp;
}

VarianceSpectrum TsneSensitivity::variance_spectrum(const InputCovariance& cov, std::size_t n_soft,
                                                    const std::vector<double>& lambdas) const {
    require(solver_->is_dense(), "sensitivity: the variance spectrum needs the dense solver");
    require(n_soft >= 1, "sensitivity: n_soft must be >= 1");
    const std::size_t n = n_points(), d = n_features();
    cov.check(n, d);
    const Eigen::MatrixXd& V = solver_->eigenvectors();
    const Eigen::VectorXd& mu = solver_->eigenvalues();
    // q_k = v_kᵀ J Σ Jᵀ v_k; trace Cov(Y) = Σ_k q_k / (μ_k + λ)² (H⁺ = V diag(1/(μ + λ)) Vᵀ).
    Eigen::VectorXd q(V.cols());
    const std::size_t bs = row_block(n * d);
    for (Eigen::Index k0 = 0; k0 < V.cols(); k0 += static_cast<Eigen::Index>(bs)) {
        const Eigen::Index m = std::min<Eigen::Index>(static_cast<Eigen::Index>(bs), V.cols() - k0);
        const Eigen::MatrixXd T = der_.jacobian_transpose_product(V.middleCols(k0, m));
        const Eigen::MatrixXd ST = cov.apply(T, n, d);
        for (Eigen::Index c = 0; c < m; ++c) q[k0 + c] = T.col(c).dot(ST.col(c));
    }
    const double rcond = opt_.solve.rcond > 0.0 ? opt_.solve.rcond : 1e-12;
    auto mode_var = [&](double lam) {
        Eigen::VectorXd s = mu.array() + lam;
        const double smax = s.cwiseAbs().maxCoeff();
        Eigen::VectorXd out(s.size());
        for (Eigen::Index k = 0; k < s.size(); ++k)
            out[k] = std::abs(s[k]) <= rcond * smax ? 0.0 : q[k] / (s[k] * s[k]);
        return out;
    };
    VarianceSpectrum vs;
    const Eigen::VectorXd mv = mode_var(opt_.solve.damping);
    vs.mode_variance.assign(mv.data(), mv.data() + mv.size());
    std::vector<Eigen::Index> order(static_cast<std::size_t>(mu.size()));
    for (Eigen::Index k = 0; k < mu.size(); ++k) order[static_cast<std::size_t>(k)] = k;
    std::sort(order.begin(), order.end(), [&](Eigen::Index a, Eigen::Index b) {
        return std::abs(mu[a] + opt_.solve.damping) < std::abs(mu[b] + opt_.solve.damping);
    });
    double soft = 0.0;
    for (std::size_t k = 0; k < std::min<std::size_t>(n_soft, order.size()); ++k) soft += mv[order[k]];
    vs.soft_share = mv.sum() > 0.0 ? soft / mv.sum() : 0.0;
    vs.lambdas = lambdas;
    for (double lam : lambdas) {
        require(std::isfinite(lam) && lam >= 0.0, "sensitivity: lambdas must be finite and >= 0");
        vs.trace_cov.push_back(mode_var(lam).sum());
    }
    return vs;
}

} // namespace nembed
