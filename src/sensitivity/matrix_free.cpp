// Matrix-free Hessian products with grid-interpolated repulsion, and preconditioned block MINRES (matrix_free.hpp).
#include "nembed/sensitivity/matrix_free.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "nembed/core/error.hpp"
#include "nembed/core/interrupt.hpp"
#include "nembed/core/parallel.hpp"
#include "kernel_terms.hpp"

namespace nembed {
namespace {
using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Near share of the split: χ(D) = 1 − S(D / r_c²), S(s) = s³(10 − 15s + 6s²) (C² at s = 1, where χ reaches 0). A
// polynomial in D, hence in (dx, dy): the far kernel (1 − χ) C is as smooth as C itself and flat near d = 0.
double near_share(double D, double rc2) {
    if (D >= rc2) return 0.0;
    const double s = D / rc2;
    return 1.0 - s * s * s * (10.0 + s * (-15.0 + 6.0 * s));
}

// o += M (v_i − v_j) over m columns, M = [[m00, m01], [m01, m11]]: one pair of the Hessian's Laplacian.
inline void add_pair(double* o0, double* o1, const double* vi0, const double* vi1, const double* vj0,
                     const double* vj1, double m00, double m01, double m11, std::size_t m) {
    for (std::size_t c = 0; c < m; ++c) {
        const double x0 = vi0[c] - vj0[c], x1 = vi1[c] - vj1[c];
        o0[c] += m00 * x0 + m01 * x1;
        o1[c] += m01 * x0 + m11 * x1;
    }
}
} // namespace

MatrixFreeHessian::MatrixFreeHessian(const TsneDerivatives& derivatives, const MatrixFreeOptions& options)
    : der_(derivatives), opt_(options), threads_(resolve_threads(derivatives.options().n_threads)) {
    const KlObjective& obj = der_.objective();
    require(std::isfinite(options.ints_in_interval) && options.ints_in_interval > 0.0,
            "sensitivity: matrix-free ints_in_interval must be > 0");
    {
        // The kernels the FFT repulsion can interpolate are the ones whose Hessian kernels are smooth too.
        const std::string why = make_fft_repulsion()->unsupported_reason(obj.kernel(), 2);
        require(why.empty(), "sensitivity: the matrix-free solver interpolates the repulsion on a grid, which does "
                             "not support this kernel: " + why);
    }
    require(std::isfinite(options.near_radius) && options.near_radius >= 0.0,
            "sensitivity: matrix-free near_radius must be >= 0");
    require(std::isfinite(options.far_width) && options.far_width >= 0.0,
            "sensitivity: matrix-free far_width must be >= 0");
    const bool split = options.near_radius > 0.0;
    const double rc2 = options.near_radius * options.near_radius;
    FftOptions fo;
    fo.ints_in_interval = !split ? options.ints_in_interval
                                 : options.far_width > 0.0 ? options.far_width : 0.5 * options.near_radius;
    fo.n_interpolation_points = options.n_interpolation_points;
    fo.min_num_intervals = options.min_num_intervals;
    fo.n_threads = threads_;
    const std::size_t n = der_.n_points();
    const Matrix<double>& Y = obj.Y();
    if (split) build_near_pairs(rc2);
    grid_ = std::make_unique<GridConvolution2d>(Y.view(), fo);
    visit_kernel(obj.kernel(), [&](const auto& k) {
        // The grid's share of C: all of it, or (1 − χ) C with the split.
        auto c = [&](double dx, double dy, int a, int b) {
            const sensitivity_detail::PairTerms t = sensitivity_detail::terms(k, dx, dy);
            const double da = a == 0 ? dx : dy, db = b == 0 ? dx : dy;
            const double far = split ? 1.0 - near_share(dx * dx + dy * dy, rc2) : 1.0;
            return far * ((a == b ? t.f : 0.0) - 2.0 * t.g * da * db);
        };
        k00_ = grid_->add_kernel([&](double dx, double dy) { return c(dx, dy, 0, 0); });
        k01_ = grid_->add_kernel([&](double dx, double dy) { return c(dx, dy, 0, 1); });
        k11_ = grid_->add_kernel([&](double dx, double dy) { return c(dx, dy, 1, 1); });
    });
    // A_i = Σ_j C(y_i − y_j): charge 1 against the three kernels.
    A_.resize(static_cast<Eigen::Index>(n), 3);
    RowMajor Ar(static_cast<Eigen::Index>(n), 3);
    const std::vector<double> ones(n, 1.0);
    grid_->convolve({ones.data()}, {{0, k00_, 0, 1.0}, {1, k01_, 0, 1.0}, {2, k11_, 0, 1.0}},
                    {Ar.data(), Ar.data() + 1, Ar.data() + 2}, 1, 3);
    A_ = Ar;
    // Diagonal blocks: exact attraction + grid repulsion without its self term C(0) = f(0) I + the Z term.
    const double iz = 1.0 / obj.z(), fz = 16.0 / (obj.z() * obj.z());
    const std::vector<double>& F = obj.forces();
    const CsrMatrix<double>& P = obj.P();
    diag_.resize(static_cast<Eigen::Index>(n), 3);
    visit_kernel(obj.kernel(), [&](const auto& k) {
        // The grid's self term C(0) = f(0) I is left out; with the split the grid's share of it is 0.
        const double f0 = split ? 0.0 : sensitivity_detail::terms(k, 0.0, 0.0).f;
        parallel_for(threads_, n, [&](std::size_t i) {
            double s00 = 0.0, s01 = 0.0, s11 = 0.0;
            for (std::size_t q = split ? near_ptr_[i] : 0; split && q < near_ptr_[i + 1]; ++q) {
                s00 -= 4.0 * iz * near_c_[3 * q];
                s01 -= 4.0 * iz * near_c_[3 * q + 1];
                s11 -= 4.0 * iz * near_c_[3 * q + 2];
            }
            for (offset_t q = P.indptr[i]; q < P.indptr[i + 1]; ++q) {
                const std::size_t j = static_cast<std::size_t>(P.indices[q]);
                const double d0 = Y(i, 0) - Y(j, 0), d1 = Y(i, 1) - Y(j, 1);
                const auto t = sensitivity_detail::terms(k, d0, d1);
                const double al = 4.0 * P.values[q] * t.a, be = -8.0 * P.values[q] * t.l2;
                s00 += al + be * d0 * d0;
                s01 += be * d0 * d1;
                s11 += al + be * d1 * d1;
            }
            const auto r = static_cast<Eigen::Index>(i);
            diag_(r, 0) = s00 - 4.0 * iz * (A_(r, 0) - f0) - fz * F[2 * i] * F[2 * i];
            diag_(r, 1) = s01 - 4.0 * iz * A_(r, 1) - fz * F[2 * i] * F[2 * i + 1];
            diag_(r, 2) = s11 - 4.0 * iz * (A_(r, 2) - f0) - fz * F[2 * i + 1] * F[2 * i + 1];
        });
    });
}

Eigen::MatrixXd MatrixFreeHessian::product(const Eigen::MatrixXd& V) const {
    const KlObjective& obj = der_.objective();
    const std::size_t n = der_.n_points();
    require(static_cast<std::size_t>(V.rows()) == 2 * n, "hessian product: V must have 2N rows");
    const std::size_t m = static_cast<std::size_t>(V.cols());
    const RowMajor Vr = V;
    RowMajor out = RowMajor::Zero(static_cast<Eigen::Index>(2 * n), static_cast<Eigen::Index>(m));
    const double iz = 1.0 / obj.z(), fz = 16.0 / (obj.z() * obj.z());
    const std::vector<double>& F = obj.forces();
    const CsrMatrix<double>& P = obj.P();
    const Matrix<double>& Y = obj.Y();
    // Attraction: exact over the non-zeros of P, M = 4p(a I − 2ℓ'' d dᵀ) applied to v_i − v_j.
    visit_kernel(obj.kernel(), [&](const auto& k) {
        parallel_for(threads_, n, [&](std::size_t i) {
            double* o0 = out.row(static_cast<Eigen::Index>(2 * i)).data();
            double* o1 = o0 + m;
            const double* vi0 = Vr.row(static_cast<Eigen::Index>(2 * i)).data();
            const double* vi1 = vi0 + m;
            for (offset_t q = P.indptr[i]; q < P.indptr[i + 1]; ++q) {
                const std::size_t j = static_cast<std::size_t>(P.indices[q]);
                const double d0 = Y(i, 0) - Y(j, 0), d1 = Y(i, 1) - Y(j, 1);
                const auto t = sensitivity_detail::terms(k, d0, d1);
                const double al = 4.0 * P.values[q] * t.a, be = -8.0 * P.values[q] * t.l2;
                const double* vj0 = Vr.row(static_cast<Eigen::Index>(2 * j)).data();
                add_pair(o0, o1, vi0, vi1, vj0, vj0 + m, al + be * d0 * d0, be * d0 * d1, al + be * d1 * d1, m);
            }
            // Near repulsion (split): −(4/Z) Σ_j χC_ij (v_i − v_j), exact over the kept pairs.
            for (std::size_t q = near_ptr_.empty() ? 0 : near_ptr_[i]; !near_ptr_.empty() && q < near_ptr_[i + 1];
                 ++q) {
                const double* vj0 = Vr.row(static_cast<Eigen::Index>(2 * std::size_t{near_idx_[q]})).data();
                add_pair(o0, o1, vi0, vi1, vj0, vj0 + m, -4.0 * iz * near_c_[3 * q], -4.0 * iz * near_c_[3 * q + 1],
                         -4.0 * iz * near_c_[3 * q + 2], m);
            }
        });
    });
    // Repulsion on the grid, one right-hand side at a time: φ = Σ_j C(y_i − y_j) v_j.
    std::vector<double> phi(2 * n);
    for (std::size_t c = 0; c < m; ++c) {
        const double* v0 = Vr.data() + c;
        grid_->convolve({v0, v0 + m}, {{0, k00_, 0, 1.0}, {0, k01_, 1, 1.0}, {1, k01_, 0, 1.0}, {1, k11_, 1, 1.0}},
                        {phi.data(), phi.data() + 1}, 2 * m, 2);
        double fv = 0.0;
        for (std::size_t q = 0; q < 2 * n; ++q) fv += F[q] * Vr(static_cast<Eigen::Index>(q), static_cast<Eigen::Index>(c));
        parallel_for(threads_, n, [&](std::size_t i) {
            const auto r = static_cast<Eigen::Index>(i);
            const double x0 = Vr(static_cast<Eigen::Index>(2 * i), static_cast<Eigen::Index>(c));
            const double x1 = Vr(static_cast<Eigen::Index>(2 * i + 1), static_cast<Eigen::Index>(c));
            const double r0 = A_(r, 0) * x0 + A_(r, 1) * x1 - phi[2 * i];
            const double r1 = A_(r, 1) * x0 + A_(r, 2) * x1 - phi[2 * i + 1];
            out(static_cast<Eigen::Index>(2 * i), static_cast<Eigen::Index>(c)) += -4.0 * iz * r0 - fz * F[2 * i] * fv;
            out(static_cast<Eigen::Index>(2 * i + 1), static_cast<Eigen::Index>(c)) +=
                -4.0 * iz * r1 - fz * F[2 * i + 1] * fv;
        });
    }
    return out;
}

void MatrixFreeHessian::build_near_pairs(double rc2) {
    const KlObjective& obj = der_.objective();
    const Matrix<double>& Y = obj.Y();
    const std::size_t n = der_.n_points();
    require(n < (std::size_t{1} << 32), "sensitivity: the near/far split indexes points with 32 bits");
    // Cell lists of side r_c: every pair closer than r_c lies in the same or an adjacent cell.
    const double rc = std::sqrt(rc2);
    double lo0 = Y(0, 0), hi0 = Y(0, 0), lo1 = Y(0, 1), hi1 = Y(0, 1);
    for (std::size_t i = 0; i < n; ++i) {
        lo0 = std::min(lo0, Y(i, 0));
        hi0 = std::max(hi0, Y(i, 0));
        lo1 = std::min(lo1, Y(i, 1));
        hi1 = std::max(hi1, Y(i, 1));
    }
    const double cells0 = std::floor((hi0 - lo0) / rc) + 1.0, cells1 = std::floor((hi1 - lo1) / rc) + 1.0;
    require(cells0 * cells1 <= 1e8, "sensitivity: near_radius is too small for the map's span (more than 1e8 cells)");
    const auto nc0 = static_cast<std::size_t>(cells0), nc1 = static_cast<std::size_t>(cells1);
    auto cell_of = [&](std::size_t i, std::size_t& a, std::size_t& b) {
        a = std::min(nc0 - 1, static_cast<std::size_t>((Y(i, 0) - lo0) / rc));
        b = std::min(nc1 - 1, static_cast<std::size_t>((Y(i, 1) - lo1) / rc));
    };
    std::vector<std::size_t> start(nc0 * nc1 + 1, 0), order(n);
    for (std::size_t i = 0; i < n; ++i) {
        std::size_t a, b;
        cell_of(i, a, b);
        ++start[a * nc1 + b + 1];
    }
    for (std::size_t c = 0; c < nc0 * nc1; ++c) start[c + 1] += start[c];
    {
        std::vector<std::size_t> fill(start.begin(), start.end() - 1);
        for (std::size_t i = 0; i < n; ++i) {  // point order within a cell: the pair lists do not depend on threads
            std::size_t a, b;
            cell_of(i, a, b);
            order[fill[a * nc1 + b]++] = i;
        }
    }
    // Two passes over the 3 × 3 cells around each point: count, then fill its own range of the CSR.
    auto visit = [&](std::size_t i, const auto& take) {
        std::size_t a, b;
        cell_of(i, a, b);
        for (std::size_t ca = a == 0 ? 0 : a - 1; ca <= std::min(nc0 - 1, a + 1); ++ca)
            for (std::size_t cb = b == 0 ? 0 : b - 1; cb <= std::min(nc1 - 1, b + 1); ++cb)
                for (std::size_t q = start[ca * nc1 + cb]; q < start[ca * nc1 + cb + 1]; ++q) {
                    const std::size_t j = order[q];
                    if (j == i) continue;
                    const double d0 = Y(i, 0) - Y(j, 0), d1 = Y(i, 1) - Y(j, 1);
                    const double D = d0 * d0 + d1 * d1;
                    if (D < rc2) take(j, d0, d1, D);
                }
    };
    near_ptr_.assign(n + 1, 0);
    parallel_for(threads_, n, [&](std::size_t i) {
        std::size_t cnt = 0;
        visit(i, [&](std::size_t, double, double, double) { ++cnt; });
        near_ptr_[i + 1] = cnt;
    });
    for (std::size_t i = 0; i < n; ++i) near_ptr_[i + 1] += near_ptr_[i];
    near_idx_.resize(near_ptr_[n]);
    near_c_.resize(3 * near_ptr_[n]);
    visit_kernel(obj.kernel(), [&](const auto& k) {
        parallel_for(threads_, n, [&](std::size_t i) {
            std::size_t q = near_ptr_[i];
            visit(i, [&](std::size_t j, double d0, double d1, double D) {
                const sensitivity_detail::PairTerms t = sensitivity_detail::terms(k, d0, d1);
                const double chi = near_share(D, rc2);
                near_idx_[q] = static_cast<std::uint32_t>(j);
                near_c_[3 * q] = chi * (t.f - 2.0 * t.g * d0 * d0);
                near_c_[3 * q + 1] = chi * (-2.0 * t.g * d0 * d1);
                near_c_[3 * q + 2] = chi * (t.f - 2.0 * t.g * d1 * d1);
                ++q;
            });
        });
    });
}

Eigen::MatrixXd preconditioned_minres(const std::function<Eigen::MatrixXd(const Eigen::MatrixXd&)>& A,
                                      const std::function<Eigen::MatrixXd(const Eigen::MatrixXd&)>& M_inverse,
                                      const Eigen::MatrixXd& B, double tolerance, int max_iter, double& residual,
                                      int& iterations) {
    const Eigen::Index n = B.rows(), m = B.cols();
    Eigen::MatrixXd X = Eigen::MatrixXd::Zero(n, m);
    Eigen::MatrixXd r1 = B, r2 = B, Y = M_inverse(B), W = Eigen::MatrixXd::Zero(n, m), W2 = W;
    std::vector<double> beta1(static_cast<std::size_t>(m)), beta(beta1), oldb(beta1), dbar(beta1), epsln(beta1),
        phibar(beta1), cs(beta1), sn(beta1);
    std::vector<char> active(static_cast<std::size_t>(m), 1);
    for (Eigen::Index j = 0; j < m; ++j) {
        const auto s = static_cast<std::size_t>(j);
        const double b2 = B.col(j).dot(Y.col(j));
        require(b2 >= 0.0 && std::isfinite(b2), "sensitivity: the MINRES preconditioner is not positive definite");
        beta1[s] = beta[s] = phibar[s] = std::sqrt(b2);
        oldb[s] = dbar[s] = epsln[s] = sn[s] = 0.0;
        cs[s] = -1.0;
        if (beta1[s] == 0.0) active[s] = 0;
    }
    int it = 0;
    for (; it < max_iter; ++it) {
        std::vector<Eigen::Index> cols;
        for (Eigen::Index j = 0; j < m; ++j)
            if (active[static_cast<std::size_t>(j)]) cols.push_back(j);
        if (cols.empty()) break;
        if (interrupt_requested())
            throw Interrupted("sensitivity: MINRES interrupted at iteration " + std::to_string(it));
        const auto w = static_cast<Eigen::Index>(cols.size());
        Eigen::MatrixXd Vb(n, w);
        for (Eigen::Index q = 0; q < w; ++q) {
            const Eigen::Index j = cols[static_cast<std::size_t>(q)];
            Vb.col(q) = Y.col(j) / beta[static_cast<std::size_t>(j)];
        }
        Eigen::MatrixXd Yb = A(Vb);
        std::vector<double> alfa(static_cast<std::size_t>(w));
        for (Eigen::Index q = 0; q < w; ++q) {
            const Eigen::Index j = cols[static_cast<std::size_t>(q)];
            const auto s = static_cast<std::size_t>(j);
            if (it >= 1) Yb.col(q) -= (beta[s] / oldb[s]) * r1.col(j);
            alfa[static_cast<std::size_t>(q)] = Vb.col(q).dot(Yb.col(q));
            Yb.col(q) -= (alfa[static_cast<std::size_t>(q)] / beta[s]) * r2.col(j);
            r1.col(j) = r2.col(j);
            r2.col(j) = Yb.col(q);
        }
        const Eigen::MatrixXd MY = M_inverse(Yb);
        for (Eigen::Index q = 0; q < w; ++q) {
            const Eigen::Index j = cols[static_cast<std::size_t>(q)];
            const auto s = static_cast<std::size_t>(j);
            Y.col(j) = MY.col(q);
            oldb[s] = beta[s];
            const double b2 = Yb.col(q).dot(MY.col(q));
            require(b2 >= 0.0 && std::isfinite(b2), "sensitivity: the MINRES preconditioner is not positive definite");
            beta[s] = std::sqrt(b2);
            const double oldeps = epsln[s];
            const double delta = cs[s] * dbar[s] + sn[s] * alfa[static_cast<std::size_t>(q)];
            const double gbar = sn[s] * dbar[s] - cs[s] * alfa[static_cast<std::size_t>(q)];
            epsln[s] = sn[s] * beta[s];
            dbar[s] = -cs[s] * beta[s];
            const double gamma = std::max(std::hypot(gbar, beta[s]), std::numeric_limits<double>::min());
            cs[s] = gbar / gamma;
            sn[s] = beta[s] / gamma;
            const double phi = cs[s] * phibar[s];
            phibar[s] = sn[s] * phibar[s];
            // w ← (v − ε_old w₁ − δ w₂)/γ with w₁, w₂ the two previous directions.
            Eigen::VectorXd wn = (Vb.col(q) - oldeps * W2.col(j) - delta * W.col(j)) / gamma;
            W2.col(j) = W.col(j);
            W.col(j) = wn;
            X.col(j) += phi * wn;
            if (phibar[s] <= tolerance * beta1[s] || beta[s] == 0.0) active[s] = 0;
        }
    }
    residual = 0.0;
    for (Eigen::Index j = 0; j < m; ++j) {
        const auto s = static_cast<std::size_t>(j);
        if (beta1[s] > 0.0) residual = std::max(residual, phibar[s] / beta1[s]);
    }
    iterations = it;
    return X;
}

} // namespace nembed
