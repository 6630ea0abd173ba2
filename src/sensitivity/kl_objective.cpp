// The normalised KL objective in Y for any Euclidean output kernel (kl_objective.hpp, docs/sensitivity.md §2).
#include "nembed/sensitivity/kl_objective.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>
#include <variant>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "kernel_terms.hpp"

namespace nembed {
namespace {

using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// The 2 x 2 block of the pair (i, j) in the Hessian without its rank-one Z term: M = α I + β d dᵀ, d = y_i − y_j,
// α = 4 P_ij a − (4/Z) f, β = (8/Z) w (ℓ'² + ℓ'') − 8 P_ij ℓ'' (sensitivity.md §2). `q` walks row i of P as j
// ascends.
struct PairBlock {
    double m00, m01, m11;
};
template <class K>
inline PairBlock pair_block(const K& k, const Matrix<double>& Y, const CsrMatrix<double>& P, std::size_t i,
                            std::size_t j, offset_t& q, offset_t qe, double iz) {
    const double d0 = Y(i, 0) - Y(j, 0), d1 = Y(i, 1) - Y(j, 1);
    const sensitivity_detail::PairTerms t = sensitivity_detail::terms(k, d0, d1);
    double a = -4.0 * iz * t.f, bb = 8.0 * iz * t.g;
    while (q < qe && static_cast<std::size_t>(P.indices[q]) < j) ++q;
    if (q < qe && static_cast<std::size_t>(P.indices[q]) == j) {
        const double p = P.values[q];
        a += 4.0 * p * t.a;
        bb -= 8.0 * p * t.l2;
    }
    return {a + bb * d0 * d0, bb * d0 * d1, a + bb * d1 * d1};
}

} // namespace

KlObjective::KlObjective(CsrMatrix<double> P, MatrixView<double> Y, const OutputKernel& kernel, int n_threads)
    : kernel_(kernel), threads_(resolve_threads(n_threads)), n_(Y.rows), P_(std::move(P)) {
    validate(kernel_);
    require(!std::holds_alternative<CosineKernel>(kernel_),
            "sensitivity: the cosine kernel reads distances on the unit sphere; the KL objective here needs a "
            "Euclidean kernel (student_t, cauchy, umap, gaussian)");
    require(Y.cols == 2, "sensitivity: Y must have 2 columns, got " + std::to_string(Y.cols));
    require(P_.n_rows == n_ && P_.n_cols == n_, "sensitivity: P must be N x N = " + std::to_string(n_) + " x " +
                                                   std::to_string(n_) + ", got " + std::to_string(P_.n_rows) +
                                                   " x " + std::to_string(P_.n_cols));
    require_finite(Y, "sensitivity: Y");
    Y_ = Matrix<double>(n_, 2, std::vector<double>(Y.data, Y.data + Y.size()));
    refresh();
}

void KlObjective::set_embedding(MatrixView<double> Y) {
    require(Y.rows == n_ && Y.cols == 2, "sensitivity: set_embedding needs an N x 2 array");
    require_finite(Y, "sensitivity: Y");
    std::copy(Y.data, Y.data + Y.size(), Y_.data());
    refresh();
}

void KlObjective::refresh() {
    F_.assign(2 * n_, 0.0);
    std::vector<double> zrow(n_);
    visit_kernel(kernel_, [&](const auto& k) {
        parallelize(threads_, n_, [&](int, std::size_t b, std::size_t e) {
            for (std::size_t i = b; i < e; ++i) {
                const double yi0 = Y_(i, 0), yi1 = Y_(i, 1);
                double z = 0.0, f0 = 0.0, f1 = 0.0;
                for (std::size_t j = 0; j < n_; ++j) {
                    if (j == i) continue;
                    const double d0 = yi0 - Y_(j, 0), d1 = yi1 - Y_(j, 1);
                    const auto t = sensitivity_detail::terms(k, d0, d1);
                    z += t.w;
                    f0 += t.f * d0;
                    f1 += t.f * d1;
                }
                zrow[i] = z;
                F_[2 * i] = f0;
                F_[2 * i + 1] = f1;
            }
        });
    });
    z_ = 0.0;
    for (double z : zrow) z_ += z;
}

void KlObjective::pair_attraction(const std::vector<std::size_t>& ptr, const std::vector<std::size_t>& col,
                                  std::vector<double>& out) const {
    require(ptr.size() == n_ + 1, "pair_attraction: ptr must have N + 1 entries");
    out.resize(2 * ptr[n_]);
    visit_kernel(kernel_, [&](const auto& k) {
        parallelize(threads_, n_, [&](int, std::size_t b, std::size_t e) {
            for (std::size_t i = b; i < e; ++i)
                for (std::size_t q = ptr[i]; q < ptr[i + 1]; ++q) {
                    const double d0 = Y_(i, 0) - Y_(col[q], 0), d1 = Y_(i, 1) - Y_(col[q], 1);
                    const double a = sensitivity_detail::terms(k, d0, d1).a;
                    out[2 * q] = a * d0;
                    out[2 * q + 1] = a * d1;
                }
        });
    });
}

double KlObjective::kl() const {
    double plogp = 0.0, plogw = 0.0, psum = 0.0;
    visit_kernel(kernel_, [&](const auto& k) {
        for (std::size_t i = 0; i < n_; ++i)
            for (offset_t q = P_.indptr[i]; q < P_.indptr[i + 1]; ++q) {
                const double p = P_.values[q];
                if (p <= 0.0) continue;
                const std::size_t j = static_cast<std::size_t>(P_.indices[q]);
                const double d0 = Y_(i, 0) - Y_(j, 0), d1 = Y_(i, 1) - Y_(j, 1);
                plogp += p * std::log(p);
                plogw += p * sensitivity_detail::log_w(k, d0, d1);
                psum += p;
            }
    });
    return plogp - plogw + psum * std::log(z_);
}

Eigen::VectorXd KlObjective::gradient() const {
    Eigen::VectorXd g(2 * n_);
    visit_kernel(kernel_, [&](const auto& k) {
        parallelize(threads_, n_, [&](int, std::size_t b, std::size_t e) {
            for (std::size_t i = b; i < e; ++i) {
                double a0 = 0.0, a1 = 0.0;
                for (offset_t q = P_.indptr[i]; q < P_.indptr[i + 1]; ++q) {
                    const std::size_t j = static_cast<std::size_t>(P_.indices[q]);
                    const double d0 = Y_(i, 0) - Y_(j, 0), d1 = Y_(i, 1) - Y_(j, 1);
                    const double pa = P_.values[q] * sensitivity_detail::terms(k, d0, d1).a;
                    a0 += pa * d0;
                    a1 += pa * d1;
                }
                g[2 * i] = 4.0 * a0 - 4.0 / z_ * F_[2 * i];
                g[2 * i + 1] = 4.0 * a1 - 4.0 / z_ * F_[2 * i + 1];
            }
        });
    });
    return g;
}

Eigen::MatrixXd KlObjective::hessian_product(const Eigen::MatrixXd& V) const {
    require(static_cast<std::size_t>(V.rows()) == 2 * n_, "hessian_product: V must have 2N rows");
    const std::size_t m = static_cast<std::size_t>(V.cols());
    // Point-major copy (point i's 2m values contiguous) so the pair loop streams over right-hand sides.
    RowMajor Vr = V;
    RowMajor out = RowMajor::Zero(2 * n_, static_cast<Eigen::Index>(m));
    std::vector<double> Fv(m, 0.0);
    for (std::size_t c = 0; c < m; ++c)
        for (std::size_t i = 0; i < 2 * n_; ++i)
            Fv[c] += F_[i] * Vr(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(c));
    const double iz = 1.0 / z_, fz = 16.0 / (z_ * z_);
    visit_kernel(kernel_, [&](const auto& k) {
        parallelize(threads_, n_, [&](int, std::size_t b, std::size_t e) {
            for (std::size_t i = b; i < e; ++i) {
                double* o0 = out.row(static_cast<Eigen::Index>(2 * i)).data();
                double* o1 = out.row(static_cast<Eigen::Index>(2 * i + 1)).data();
                const double* vi0 = Vr.row(static_cast<Eigen::Index>(2 * i)).data();
                const double* vi1 = Vr.row(static_cast<Eigen::Index>(2 * i + 1)).data();
                offset_t q = P_.indptr[i];
                const offset_t qe = P_.indptr[i + 1];
                for (std::size_t j = 0; j < n_; ++j) {
                    if (j == i) continue;
                    const auto [m00, m01, m11] = pair_block(k, Y_, P_, i, j, q, qe, iz);  // applied to v_i − v_j
                    const double* vj0 = Vr.row(static_cast<Eigen::Index>(2 * j)).data();
                    const double* vj1 = Vr.row(static_cast<Eigen::Index>(2 * j + 1)).data();
                    for (std::size_t c = 0; c < m; ++c) {
                        const double x0 = vi0[c] - vj0[c], x1 = vi1[c] - vj1[c];
                        o0[c] += m00 * x0 + m01 * x1;
                        o1[c] += m01 * x0 + m11 * x1;
                    }
                }
                for (std::size_t c = 0; c < m; ++c) {
                    o0[c] -= fz * F_[2 * i] * Fv[c];
                    o1[c] -= fz * F_[2 * i + 1] * Fv[c];
                }
            }
        });
    });
    return out;
}

Eigen::MatrixXd KlObjective::hessian() const {
    const Eigen::Index n2 = static_cast<Eigen::Index>(2 * n_);
    Eigen::MatrixXd H(n2, n2);
    const double iz = 1.0 / z_, fz = 16.0 / (z_ * z_);
    // Point i fills columns 2i and 2i + 1 (contiguous in column-major storage; H is symmetric, so these are also
    // its rows): at 2N = 20 000 row-wise writes would touch a new cache line for every entry.
    visit_kernel(kernel_, [&](const auto& k) {
        parallelize(threads_, n_, [&](int, std::size_t b, std::size_t e) {
            for (std::size_t i = b; i < e; ++i) {
                const Eigen::Index r = static_cast<Eigen::Index>(2 * i);
                double* h0 = H.col(r).data();
                double* h1 = H.col(r + 1).data();
                offset_t q = P_.indptr[i];
                const offset_t qe = P_.indptr[i + 1];
                double s00 = 0.0, s01 = 0.0, s11 = 0.0;
                const double fz0 = fz * F_[2 * i], fz1 = fz * F_[2 * i + 1];
                for (std::size_t j = 0; j < n_; ++j) {
                    if (j == i) continue;
                    const auto [m00, m01, m11] = pair_block(k, Y_, P_, i, j, q, qe, iz);
                    h0[2 * j] = -m00 - fz0 * F_[2 * j];
                    h0[2 * j + 1] = -m01 - fz0 * F_[2 * j + 1];
                    h1[2 * j] = -m01 - fz1 * F_[2 * j];
                    h1[2 * j + 1] = -m11 - fz1 * F_[2 * j + 1];
                    s00 += m00;
                    s01 += m01;
                    s11 += m11;
                }
                h0[2 * i] = s00 - fz0 * F_[2 * i];
                h0[2 * i + 1] = s01 - fz0 * F_[2 * i + 1];
                h1[2 * i] = s01 - fz1 * F_[2 * i];
                h1[2 * i + 1] = s11 - fz1 * F_[2 * i + 1];
            }
        });
    });
    return H;
}

} // namespace nembed
