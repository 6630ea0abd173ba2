// Gauge-projected, damped solves with the t-SNE Hessian: dense eigendecomposition or block MINRES.
#include "nembed/sensitivity/hessian_solver.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "nembed/core/error.hpp"
#include "nembed/core/strings.hpp"
#include "nembed/core/interrupt.hpp"
#include "nembed/core/log.hpp"
#include "nembed/core/parallel.hpp"
#include "block_kernels.hpp"

namespace nembed {

HessianSolverKind parse_solver_kind(const std::string& name) {
    if (name == "auto") return HessianSolverKind::automatic;
    if (name == "dense") return HessianSolverKind::dense;
    if (name == "inverse") return HessianSolverKind::inverse;
    if (name == "minres") return HessianSolverKind::minres;
    if (name == "matrix-free" || name == "matrix_free") return HessianSolverKind::matrix_free;
    throw InvalidArgument("solver must be 'auto', 'dense', 'inverse', 'minres' or 'matrix-free', got '" + name + "'");
}

Eigen::MatrixXd gauge_basis(MatrixView<double> Y) {
    const Eigen::Index n2 = static_cast<Eigen::Index>(2 * Y.rows);
    Eigen::MatrixXd U = Eigen::MatrixXd::Zero(n2, 3);
    for (std::size_t i = 0; i < Y.rows; ++i) {
        const auto r = static_cast<Eigen::Index>(2 * i);
        U(r, 0) = 1.0;
        U(r + 1, 1) = 1.0;
        U(r, 2) = -Y(i, 1);
        U(r + 1, 2) = Y(i, 0);
    }
    // Gram–Schmidt twice (the rotation column is orthogonalised against the translations).
    for (int c = 0; c < 3; ++c) {
        for (int pass = 0; pass < 2; ++pass)
            for (int p = 0; p < c; ++p) U.col(c) -= U.col(p).dot(U.col(c)) * U.col(p);
        const double nrm = U.col(c).norm();
        require(nrm > 1e-300, "sensitivity: the embedding is degenerate (all points coincide)");
        U.col(c) /= nrm;
    }
    return U;
}

HessianSolver::HessianSolver(const TsneDerivatives& derivatives, const SolveOptions& options)
    : der_(derivatives), opt_(options), threads_(resolve_threads(derivatives.options().n_threads)) {
    require(std::isfinite(options.damping) && options.damping >= 0.0,
            "sensitivity: damping (lambda) must be >= 0, got " + std::to_string(options.damping));
    require(options.rcond >= 0.0 && options.rcond < 1.0, "sensitivity: rcond must be in [0, 1)");
    require(options.tolerance > 0.0, "sensitivity: solver tolerance must be > 0");
    require(options.max_iter >= 0, "sensitivity: solver max_iter must be >= 0");
    require(options.block_size >= 1, "sensitivity: solver block_size must be >= 1");
    // The matrix-free settings are checked whichever solver runs: a bad value is an error even where "auto" picks
    // a dense solver at this N (it would otherwise be accepted here and fail only at a larger N).
    const MatrixFreeOptions& mfo = options.matrix_free;
    require(std::isfinite(options.matrix_free_tolerance) && options.matrix_free_tolerance > 0.0,
            "sensitivity: matrix_free_tolerance (--solver-tolerance) must be finite and > 0, got " +
                short_number(options.matrix_free_tolerance));
    require(std::isfinite(mfo.ints_in_interval) && mfo.ints_in_interval > 0.0,
            "sensitivity: matrix-free grid width (--grid-width) must be finite and > 0, got " +
                short_number(mfo.ints_in_interval));
    require(mfo.n_interpolation_points >= 1 && mfo.n_interpolation_points <= 16,
            "sensitivity: matrix-free grid points (--grid-points) must be in 1..16, got " +
                std::to_string(mfo.n_interpolation_points));
    require(std::isfinite(mfo.near_radius) && mfo.near_radius >= 0.0,
            "sensitivity: matrix-free near_radius (--near-radius) must be finite and >= 0, got " +
                short_number(mfo.near_radius));
    require(std::isfinite(mfo.far_width) && mfo.far_width >= 0.0,
            "sensitivity: matrix-free far_width (--far-width) must be finite and >= 0, got " + short_number(mfo.far_width));
    U_ = gauge_basis(der_.Y().view());
    const std::size_t n2 = 2 * der_.n_points();
    dense_ = options.solver == HessianSolverKind::dense ||
             (options.solver == HessianSolverKind::automatic && n2 <= options.dense_limit);
    inverse_ = options.solver == HessianSolverKind::inverse ||
               (options.solver == HessianSolverKind::automatic && !dense_ && n2 <= options.inverse_limit);
    if (inverse_) factor_inverse();
    if (options.solver == HessianSolverKind::matrix_free ||
        (options.solver == HessianSolverKind::automatic && !dense_ && !inverse_)) {
        require(options.matrix_free_tolerance > 0.0, "sensitivity: matrix_free_tolerance must be > 0");
        mf_ = std::make_unique<MatrixFreeHessian>(der_, options.matrix_free);
        // Block-Jacobi: |H_ii + λI|⁻¹ by the 2 × 2 eigendecomposition (absolute eigenvalues, floored): SPD.
        const Eigen::MatrixXd& D = mf_->diagonal_blocks();
        block_inverse_.resize(D.rows(), 3);
        double scale = 0.0;
        for (Eigen::Index i = 0; i < D.rows(); ++i) scale = std::max(scale, std::abs(D(i, 0)) + std::abs(D(i, 2)));
        for (Eigen::Index i = 0; i < D.rows(); ++i) {
            Eigen::Matrix2d b;
            b << D(i, 0) + options.damping, D(i, 1), D(i, 1), D(i, 2) + options.damping;
            Eigen::SelfAdjointEigenSolver<Eigen::Matrix2d> es(b);
            const Eigen::Vector2d ev = es.eigenvalues().cwiseAbs().cwiseMax(1e-12 * std::max(scale, 1e-300));
            const Eigen::Matrix2d inv = es.eigenvectors() * ev.cwiseInverse().asDiagonal() * es.eigenvectors().transpose();
            block_inverse_(i, 0) = inv(0, 0);
            block_inverse_(i, 1) = 0.5 * (inv(0, 1) + inv(1, 0));
            block_inverse_(i, 2) = inv(1, 1);
        }
        if (!opt_.matrix_free.precondition) {
            block_inverse_.setZero();
            block_inverse_.col(0).setOnes();
            block_inverse_.col(2).setOnes();
        } else if (opt_.matrix_free.coarse_points > 0) {
            build_coarse();
        }
    }
    if (!dense_) return;

    Eigen::MatrixXd H = der_.hessian();
    const double rcond = options.rcond > 0.0 ? options.rcond : 1e-12;
    if (options.project_gauge) {
        // P⊥HP⊥ + c·UUᵀ with c above the spectral radius: the gauge modes become the three largest eigenpairs
        // (exactly U, eigenvalue c) and are dropped, the rest is the spectrum on the complement. This keeps the
        // gauge zeros apart from genuinely soft modes (which can be ~1e-7).
        const Eigen::MatrixXd UtH = U_.transpose() * H;
        const Eigen::MatrixXd UtHU = UtH * U_;
        H -= U_ * UtH + UtH.transpose() * U_.transpose();
        H += U_ * UtHU * U_.transpose();
        // c just above the spectral radius (ρ(P⊥HP⊥) ≤ max row sum of |H|): a c far above the spectrum makes
        // Eigen's tridiagonal QR fail to converge on some Hessians, hence a few nearby values before giving up.
        const double rho = std::max(H.cwiseAbs().rowwise().sum().maxCoeff(), 1e-300);
        const Eigen::MatrixXd UUt = U_ * U_.transpose();
        bool ok = false;
        for (double factor : {2.0, 1.5, 3.0, 1.2}) {
            Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(H + factor * rho * UUt);
            if (es.info() != Eigen::Success) continue;
            const Eigen::Index m = static_cast<Eigen::Index>(n2) - 3;
            evals_ = es.eigenvalues().head(m);
            evecs_ = es.eigenvectors().leftCols(m);
            ok = true;
            break;
        }
        require(ok, "sensitivity: the Hessian eigendecomposition failed to converge");
    } else {
        Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(H);
        require(es.info() == Eigen::Success, "sensitivity: the Hessian eigendecomposition failed");
        evals_ = es.eigenvalues();
        evecs_ = es.eigenvectors();
    }
    const Eigen::VectorXd shifted = evals_.array() + options.damping;
    const double smax = shifted.cwiseAbs().maxCoeff();
    inv_.resize(shifted.size());
    for (Eigen::Index k = 0; k < shifted.size(); ++k) {
        // Negative shifted eigenvalues are inverted with their sign, as a Hermitian pseudo-inverse does.
        const bool cut = std::abs(shifted[k]) <= rcond * smax;
        inv_[k] = cut ? 0.0 : 1.0 / shifted[k];
        n_cut_ += cut ? 1 : 0;
    }
}

void HessianSolver::factor_inverse() {
    double c = 0.0;
    auto build = [&] {
        Eigen::MatrixXd A = der_.hessian();
        A.diagonal().array() += opt_.damping;
        if (opt_.project_gauge) {
            // P⊥AP⊥ + c·UUᵀ: the complement keeps its spectrum and the gauge modes get eigenvalue c, so
            // inv = (P⊥AP⊥)⁺ + UUᵀ/c and the projected inverse follows by removing UUᵀ/c exactly. c is the mean
            // diagonal, a value inside the spectrum's range that does not worsen the conditioning. Rank-3 updates
            // in place (noalias): no 2N × 2N temporaries next to a matrix that may take gigabytes.
            const Eigen::MatrixXd UtA = U_.transpose() * A;
            const Eigen::MatrixXd UtAU = UtA * U_;
            A.noalias() -= U_ * UtA;
            A.noalias() -= UtA.transpose() * U_.transpose();
            const Eigen::MatrixXd UUtAU = U_ * UtAU;
            A.noalias() += UUtAU * U_.transpose();
            c = std::max(A.diagonal().cwiseAbs().mean(), 1e-300);
            A.noalias() += (c * U_) * U_.transpose();
        }
        return A;
    };
    Eigen::MatrixXd A = build();
    const int threads = resolve_threads(der_.options().n_threads);
    const double scale = A.diagonal().cwiseAbs().mean();
    // Gershgorin: λ above the largest absolute row sum makes any symmetric A + λI definite, so the search ends.
    const double bound = opt_.damp_to_definite ? A.cwiseAbs().rowwise().sum().maxCoeff() : 0.0;
    definite_ = detail::spd_inverse(A, threads);
    if (!definite_ && opt_.damp_to_definite) {
        const double requested = opt_.damping;
        for (double lam = std::max(10.0 * requested, 1e-6 * scale);; lam *= 10.0) {
            opt_.damping = requested + std::min(lam, bound);
            A = build();
            definite_ = detail::spd_inverse(A, threads);
            if (definite_ || lam >= bound) break;
        }
        if (definite_)
            warn("sensitivity: H + lambda I was not positive definite on the gauge complement (Y* is not a local "
                 "minimum); damping raised from " + short_number(requested, 3) + " to " + short_number(opt_.damping, 3));
        else
            opt_.damping = requested;
    }
    if (!definite_) {
        // Negative curvature on the complement: Y* is not a local minimum. Bunch–Kaufman gives the same signed
        // inverse the eigendecomposition path uses (LAPACK only; much slower), else MINRES.
        A = build();
        if (!detail::indefinite_inverse(A)) {
            require(!detail::have_lapack(),
                    "sensitivity: the damped Hessian is singular on the gauge complement; use damping > 0");
            warn("sensitivity: the damped Hessian is not positive definite (Y* is not a local minimum) and this "
                 "build has no LAPACK for an indefinite factorisation; using MINRES (consider refine or damping)");
            inverse_ = false;
            return;
        }
        warn("sensitivity: the damped Hessian has negative eigenvalues on the gauge complement (Y* is not a local "
             "minimum of the differentiated objective); its signed inverse is used (consider refine or damping)");
    }
    if (opt_.project_gauge) A.noalias() -= (U_ / c) * U_.transpose();
    Q_ = std::move(A);
}

Eigen::MatrixXd HessianSolver::project(const Eigen::MatrixXd& B) const {
    if (!opt_.project_gauge) return B;
    return B - U_ * (U_.transpose() * B);
}

Eigen::MatrixXd HessianSolver::apply(const Eigen::MatrixXd& V) const {
    Eigen::MatrixXd out = der_.hessian_product(V);
    if (opt_.damping > 0.0) out += opt_.damping * V;
    return project(out);
}

Eigen::MatrixXd HessianSolver::solve(const Eigen::MatrixXd& B) const {
    require(static_cast<std::size_t>(B.rows()) == 2 * der_.n_points(), "sensitivity: solve needs 2N rows");
    if (dense_) return evecs_ * (inv_.asDiagonal() * (evecs_.transpose() * B));
    if (inverse_) return Q_ * B;  // Q U = 0 already: no projection needed
    if (mf_) {
        Eigen::MatrixXd X(B.rows(), B.cols());
        last_residual_ = 0.0;
        last_iterations_ = 0;
        const int max_iter = opt_.max_iter > 0 ? opt_.max_iter : static_cast<int>(std::min<std::size_t>(20 * B.rows(), 100000));
        const Eigen::Index bs = static_cast<Eigen::Index>(opt_.block_size);
        for (Eigen::Index c0 = 0; c0 < B.cols(); c0 += bs) {
            const Eigen::Index w = std::min(bs, B.cols() - c0);
            double res = 0.0;
            int its = 0;
            X.middleCols(c0, w) = preconditioned_minres([&](const Eigen::MatrixXd& V) { return apply_matrix_free(V); },
                                                        [&](const Eigen::MatrixXd& R) { return apply_preconditioner(R); },
                                                        project_columns(B.middleCols(c0, w)),
                                                        opt_.matrix_free_tolerance, max_iter, res, its, threads_);
            last_residual_ = std::max(last_residual_, res);
            last_iterations_ = std::max(last_iterations_, its);
            total_iterations_ += its;
            ++total_blocks_;
        }
        if (last_residual_ > opt_.matrix_free_tolerance)
            warn("sensitivity: matrix-free MINRES stopped at relative residual " + short_number(last_residual_, 3) + " after " +
                 std::to_string(last_iterations_) + " iterations (tolerance " + short_number(opt_.matrix_free_tolerance, 3) + ")");
        return X;
    }
    Eigen::MatrixXd X(B.rows(), B.cols());
    last_residual_ = 0.0;
    last_iterations_ = 0;
    const Eigen::Index bs = static_cast<Eigen::Index>(opt_.block_size);
    for (Eigen::Index c0 = 0; c0 < B.cols(); c0 += bs) {
        const Eigen::Index w = std::min(bs, B.cols() - c0);
        X.middleCols(c0, w) = minres(project(B.middleCols(c0, w)));
    }
    return X;
}

Eigen::MatrixXd HessianSolver::project_columns(Eigen::MatrixXd B) const {
    // Column by column on the workers (a column's bits do not depend on the block or the thread count).
    if (!opt_.project_gauge) return B;
    parallel_for(threads_, static_cast<std::size_t>(B.cols()), [&](std::size_t c) {
        auto col = B.col(static_cast<Eigen::Index>(c));
        const Eigen::Vector3d u = U_.transpose() * col;
        col.noalias() -= U_ * u;
    });
    return B;
}

Eigen::MatrixXd HessianSolver::apply_matrix_free(const Eigen::MatrixXd& V) const {
    Eigen::MatrixXd out = mf_->product(V);
    if (opt_.damping > 0.0) out += opt_.damping * V;
    return project_columns(std::move(out));
}

Eigen::MatrixXd HessianSolver::apply_preconditioner(const Eigen::MatrixXd& R) const {
    // P⊥ (D⁻¹ + Z B Zᵀ) P⊥ with D the block-Jacobi blocks and B = W|Hc|⁻¹Wᵀ the coarse level (when built): SPD on
    // the gauge complement, where every iterate lives.
    const Eigen::MatrixXd Rp = project_columns(R);
    Eigen::MatrixXd out(R.rows(), R.cols());
    const Eigen::Index n = block_inverse_.rows();
    const Eigen::Index nc = coarse_inv_.rows();
    parallel_for(threads_, static_cast<std::size_t>(R.cols()), [&](std::size_t sc) {
        const auto c = static_cast<Eigen::Index>(sc);
        for (Eigen::Index i = 0; i < n; ++i) {
            const double r0 = Rp(2 * i, c), r1 = Rp(2 * i + 1, c);
            out(2 * i, c) = block_inverse_(i, 0) * r0 + block_inverse_(i, 1) * r1;
            out(2 * i + 1, c) = block_inverse_(i, 1) * r0 + block_inverse_(i, 2) * r1;
        }
        if (nc == 0) return;
        const Eigen::VectorXd zr = coarse_restrict(Rp.col(c));
        const Eigen::VectorXd u = coarse_inv_ * zr;
        const std::size_t per = coarse_per_;
        for (Eigen::Index i = 0; i < n; ++i) {
            const std::size_t a = agg_[static_cast<std::size_t>(i)];
            const double x0 = der_.Y()(static_cast<std::size_t>(i), 0) - centroid_(static_cast<Eigen::Index>(a), 0);
            const double x1 = der_.Y()(static_cast<std::size_t>(i), 1) - centroid_(static_cast<Eigen::Index>(a), 1);
            for (std::size_t k = 0; k < per; ++k) {
                const Eigen::Vector2d z = coarse_motion(k, x0, x1);
                const double uk = u[static_cast<Eigen::Index>(per * a + k)];
                out(2 * i, c) += z[0] * uk;
                out(2 * i + 1, c) += z[1] * uk;
            }
        }
    });
    return project_columns(std::move(out));
}

Eigen::Vector2d HessianSolver::coarse_motion(std::size_t k, double x0, double x1) {
    // The motions of an aggregate at offset x from its centroid: translations, rotation, then (affine) dilation and
    // the two shears.
    switch (k) {
    case 0: return {1.0, 0.0};
    case 1: return {0.0, 1.0};
    case 2: return {-x1, x0};
    case 3: return {x0, x1};
    case 4: return {x0, -x1};
    default: return {x1, x0};
    }
}

Eigen::VectorXd HessianSolver::coarse_restrict(const Eigen::Ref<const Eigen::VectorXd>& r) const {
    // Zᵀ r, accumulated per aggregate in point order.
    const std::size_t n = der_.n_points(), per = coarse_per_;
    Eigen::VectorXd zr = Eigen::VectorXd::Zero(static_cast<Eigen::Index>(per * n_agg_));
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t a = agg_[i];
        const auto q = static_cast<Eigen::Index>(2 * i);
        const double r0 = r[q], r1 = r[q + 1];
        const double x0 = der_.Y()(i, 0) - centroid_(static_cast<Eigen::Index>(a), 0);
        const double x1 = der_.Y()(i, 1) - centroid_(static_cast<Eigen::Index>(a), 1);
        for (std::size_t k = 0; k < per; ++k) {
            const Eigen::Vector2d z = coarse_motion(k, x0, x1);
            zr[static_cast<Eigen::Index>(per * a + k)] += z[0] * r0 + z[1] * r1;
        }
    }
    return zr;
}

Eigen::MatrixXd HessianSolver::coarse_basis(std::size_t c0, std::size_t m) const {
    const std::size_t n = der_.n_points(), per = coarse_per_;
    Eigen::MatrixXd Z = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(2 * n), static_cast<Eigen::Index>(m));
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t a = agg_[i];
        const double x0 = der_.Y()(i, 0) - centroid_(static_cast<Eigen::Index>(a), 0);
        const double x1 = der_.Y()(i, 1) - centroid_(static_cast<Eigen::Index>(a), 1);
        for (std::size_t k = 0; k < per; ++k) {
            const std::size_t col = per * a + k;
            if (col < c0 || col >= c0 + m) continue;
            const Eigen::Vector2d z = coarse_motion(k, x0, x1);
            Z(static_cast<Eigen::Index>(2 * i), static_cast<Eigen::Index>(col - c0)) = z[0];
            Z(static_cast<Eigen::Index>(2 * i + 1), static_cast<Eigen::Index>(col - c0)) = z[1];
        }
    }
    return Z;
}

void HessianSolver::build_coarse() {
    // Galerkin coarse matrix K = Zᵀ P⊥(H + λI)P⊥ Z with the matrix-free operator itself (3 columns per aggregate,
    // in blocks), restricted to an orthonormal basis W of the coordinates that P⊥Z keeps (the gauge modes lie in
    // span Z and are dropped), then |·|⁻¹ by its eigendecomposition: SPD, as MINRES needs.
    const std::size_t n = der_.n_points();
    agg_ = mf_->aggregates(opt_.matrix_free.coarse_points, n_agg_);
    const auto na = static_cast<Eigen::Index>(n_agg_);
    centroid_ = Eigen::MatrixXd::Zero(na, 2);
    Eigen::VectorXd count = Eigen::VectorXd::Zero(na);
    for (std::size_t i = 0; i < n; ++i) {
        const auto a = static_cast<Eigen::Index>(agg_[i]);
        centroid_(a, 0) += der_.Y()(i, 0);
        centroid_(a, 1) += der_.Y()(i, 1);
        count[a] += 1.0;
    }
    for (Eigen::Index a = 0; a < na; ++a) centroid_.row(a) /= count[a];
    coarse_per_ = opt_.matrix_free.coarse_affine ? 6 : 3;
    const std::size_t nc = coarse_per_ * n_agg_;
    const auto ncx = static_cast<Eigen::Index>(nc);
    Eigen::MatrixXd K(ncx, ncx), S(ncx, ncx);
    const std::size_t bs = std::max<std::size_t>(opt_.block_size, 1);
    for (std::size_t c0 = 0; c0 < nc; c0 += bs) {
        const std::size_t m = std::min(bs, nc - c0);
        const Eigen::MatrixXd Zp = project_columns(coarse_basis(c0, m));
        const Eigen::MatrixXd AZ = apply_matrix_free(Zp);
        // Zᵀ x = Zpᵀ x for x in the complement (P⊥ symmetric).
        parallel_for(threads_, m, [&](std::size_t c) {
            const auto col = static_cast<Eigen::Index>(c0 + c);
            K.col(col) = coarse_restrict(AZ.col(static_cast<Eigen::Index>(c)));
            S.col(col) = coarse_restrict(Zp.col(static_cast<Eigen::Index>(c)));
        });
    }
    K = 0.5 * (K + K.transpose()).eval();
    S = 0.5 * (S + S.transpose()).eval();
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> gs(S);
    require(gs.info() == Eigen::Success, "sensitivity: coarse-level Gram eigendecomposition failed");
    const double smax = std::max(gs.eigenvalues().maxCoeff(), 1e-300);
    std::vector<Eigen::Index> keep;
    for (Eigen::Index k = 0; k < ncx; ++k)
        if (gs.eigenvalues()[k] > 1e-10 * smax) keep.push_back(k);
    Eigen::MatrixXd W(ncx, static_cast<Eigen::Index>(keep.size()));
    for (std::size_t q = 0; q < keep.size(); ++q)
        W.col(static_cast<Eigen::Index>(q)) =
            gs.eigenvectors().col(keep[q]) / std::sqrt(gs.eigenvalues()[keep[q]]);
    coarse_dim_ = keep.size();
    const Eigen::MatrixXd Hc = W.transpose() * K * W;
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(0.5 * (Hc + Hc.transpose()));
    require(es.info() == Eigen::Success, "sensitivity: coarse-level eigendecomposition failed");
    const double emax = std::max(es.eigenvalues().cwiseAbs().maxCoeff(), 1e-300);
    const Eigen::VectorXd inv = es.eigenvalues().cwiseAbs().cwiseMax(1e-12 * emax).cwiseInverse();
    const Eigen::MatrixXd WV = W * es.eigenvectors();
    coarse_inv_ = WV * inv.asDiagonal() * WV.transpose();
}

// Block MINRES (Elman–Silvester–Wathen, Alg. 2.4, unpreconditioned): every column runs its own Lanczos recurrence
// and Givens rotations; the Hessian product is shared by the whole block. Columns that have converged are frozen.
Eigen::MatrixXd HessianSolver::minres(const Eigen::MatrixXd& B) const {
    const Eigen::Index n = B.rows(), m = B.cols();
    const int max_iter = opt_.max_iter > 0 ? opt_.max_iter : static_cast<int>(20 * n);
    Eigen::MatrixXd X = Eigen::MatrixXd::Zero(n, m);
    Eigen::MatrixXd v_prev = Eigen::MatrixXd::Zero(n, m), v = B, w_prev = Eigen::MatrixXd::Zero(n, m),
                    w = Eigen::MatrixXd::Zero(n, m);
    std::vector<double> gamma(m), eta(m), c_prev(m, 1.0), c(m, 1.0), s_prev(m, 0.0), s(m, 0.0), bnorm(m);
    std::vector<char> active(m, 1);
    for (Eigen::Index j = 0; j < m; ++j) {
        bnorm[j] = B.col(j).norm();
        gamma[j] = bnorm[j];
        eta[j] = bnorm[j];
        if (bnorm[j] == 0.0) active[j] = 0;
        else v.col(j) /= gamma[j];
    }
    int it = 0;
    for (; it < max_iter; ++it) {
        if (std::none_of(active.begin(), active.end(), [](char a) { return a != 0; })) break;
        if (interrupt_requested())
            throw Interrupted("sensitivity: MINRES interrupted at iteration " + std::to_string(it));
        const Eigen::MatrixXd Av = apply(v);
        for (Eigen::Index j = 0; j < m; ++j) {
            if (!active[j]) continue;
            const double delta = v.col(j).dot(Av.col(j));
            Eigen::VectorXd vn = Av.col(j) - delta * v.col(j) - gamma[j] * v_prev.col(j);
            const double gnext = vn.norm();
            const double a0 = c[j] * delta - c_prev[j] * s[j] * gamma[j];
            const double a1 = std::hypot(a0, gnext);
            const double a2 = s[j] * delta + c_prev[j] * c[j] * gamma[j];
            const double a3 = s_prev[j] * gamma[j];
            if (a1 == 0.0) {  // exact breakdown: the Krylov space is invariant and singular; keep x
                active[j] = 0;
                continue;
            }
            const double cn = a0 / a1, sn = gnext / a1;
            Eigen::VectorXd wn = (v.col(j) - a3 * w_prev.col(j) - a2 * w.col(j)) / a1;
            X.col(j) += cn * eta[j] * wn;
            eta[j] = -sn * eta[j];
            w_prev.col(j) = w.col(j);
            w.col(j) = wn;
            c_prev[j] = c[j];
            c[j] = cn;
            s_prev[j] = s[j];
            s[j] = sn;
            v_prev.col(j) = v.col(j);
            gamma[j] = gnext;
            if (std::abs(eta[j]) <= opt_.tolerance * bnorm[j] || gnext == 0.0) {
                active[j] = 0;
                continue;
            }
            v.col(j) = vn / gnext;
        }
    }
    for (Eigen::Index j = 0; j < m; ++j)
        if (bnorm[j] > 0.0) last_residual_ = std::max(last_residual_, std::abs(eta[j]) / bnorm[j]);
    last_iterations_ = std::max(last_iterations_, it);
    return X;
}

} // namespace nembed
