// The normalised KL loss written against the output kernel (loss/tsne_objective.hpp, docs/core.md §2): for each
// Euclidean kernel the objective's gradient is a quarter (full) or half (partial) of the central finite difference of
// L = Σ p log p − ex·Σ p log w + ρ·(Σp)·log Z, computed here by a brute double loop over w alone; exaggeration and
// repulsion strength scale exactly their own halves; the returned value is the KL of the un-exaggerated P.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "../common/numeric.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/random.hpp"
#include "nembed/core/sparse.hpp"
#include "nembed/loss/attraction.hpp"
#include "nembed/loss/tsne_objective.hpp"
#include "nembed/repulsion/repulsion.hpp"

using namespace nembed;

namespace {

using nembed::test::random_y;
using nembed::test::relative_gradient_error;

CsrMatrix<double> random_p(std::size_t rows, std::size_t cols, double density, bool symmetric, std::uint64_t seed) {
    Rng rng(seed);
    std::vector<Triplet<double>> t;
    for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = symmetric ? i + 1 : 0; j < cols; ++j)
            if (rng.uniform() < density) {
                const double v = rng.uniform(0.1, 1.0);
                t.push_back({static_cast<index_t>(i), static_cast<index_t>(j), v});
                if (symmetric) t.push_back({static_cast<index_t>(j), static_cast<index_t>(i), v});
            }
    CsrMatrix<double> P = csr_from_triplets(rows, cols, t);
    if (symmetric) {
        const double s = P.sum();
        for (double& v : P.values) v /= s;
    } else {
        for (std::size_t i = 0; i < rows; ++i) {
            double s = 0;
            for (offset_t p = P.indptr[i]; p < P.indptr[i + 1]; ++p) s += P.values[p];
            for (offset_t p = P.indptr[i]; p < P.indptr[i + 1]; ++p) P.values[p] /= s;
        }
    }
    return P;
}

double d2(const double* a, const double* b, std::size_t d) {
    double s = 0;
    for (std::size_t k = 0; k < d; ++k) s += (a[k] - b[k]) * (a[k] - b[k]);
    return s;
}

double w_of(const OutputKernel& k, double D) {
    return std::visit([D](const auto& kk) { return kk.w(D); }, k);
}

/// L = Σ p log p − ex Σ p log w + ρ (Σp) log Z by brute force, only through w.
double brute_loss(const CsrMatrix<double>& P, const Matrix<double>& Y, const OutputKernel& k, double ex, double rho) {
    const std::size_t n = Y.rows(), d = Y.cols();
    double Z = 0;
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j)
            if (i != j) Z += w_of(k, d2(Y.row(i), Y.row(j), d));
    double l = 0, sp = 0;
    for (std::size_t i = 0; i < n; ++i)
        for (offset_t p = P.indptr[i]; p < P.indptr[i + 1]; ++p) {
            const double v = P.values[p];
            sp += v;
            l += v * std::log(v) - ex * v * std::log(w_of(k, d2(Y.row(i), Y.row(P.indices[p]), d)));
        }
    return l + rho * sp * std::log(Z);
}

/// Σ_i [Σ_j p_ij log p_ij − ex Σ_j p_ij log w_ij + ρ r_i log z_i], each new point against the reference only.
double brute_partial_loss(const CsrMatrix<double>& P, const Matrix<double>& Q, const Matrix<double>& R,
                          const OutputKernel& k, double ex, double rho) {
    const std::size_t d = Q.cols();
    double l = 0;
    for (std::size_t i = 0; i < Q.rows(); ++i) {
        double z = 0, r = 0;
        for (std::size_t j = 0; j < R.rows(); ++j) z += w_of(k, d2(Q.row(i), R.row(j), d));
        for (offset_t p = P.indptr[i]; p < P.indptr[i + 1]; ++p) {
            const double v = P.values[p];
            r += v;
            l += v * std::log(v) - ex * v * std::log(w_of(k, d2(Q.row(i), R.row(P.indices[p]), d)));
        }
        l += rho * r * std::log(z);
    }
    return l;
}

struct NamedKernel {
    const char* name;
    OutputKernel kernel;
    double sd;  ///< layout spread suited to the kernel's scale
};

std::vector<NamedKernel> kernels() {
    return {{"student_t_0p5", StudentTKernel(0.5), 2.0},
            {"student_t_1", StudentTKernel(1.0), 2.0},
            {"student_t_2", StudentTKernel(2.0), 2.0},
            {"cauchy_0p5", CauchyKernel{0.5}, 2.0},
            {"gaussian_3", GaussianKernel{3.0}, 1.5},
            {"umap_b1p2", UmapCurve{1.0, 1.2}, 1.5},
            {"umap_default", UmapCurve{}, 1.5}};
}

} // namespace

class KlKernelGradient : public ::testing::TestWithParam<std::size_t> {};

// Tolerance 1e-6 relative: the central difference with h = 1e-5 has truncation error ~h² times the third derivative
// (about 1e-9 here) plus cancellation ~1e-16/h; measured errors are 1e-9 .. 1e-8.
TEST_P(KlKernelGradient, FullIsQuarterOfNumericalDerivative) {
    const NamedKernel nk = kernels()[GetParam()];
    for (std::size_t d : {1u, 2u, 3u}) {
        const std::size_t n = 30;
        CsrMatrix<double> P = random_p(n, n, 0.2, true, 11 + d);
        Matrix<double> Y = random_y(n, d, nk.sd, 5 + d);
        auto rep = make_exact_repulsion(1);
        for (auto [ex, rho] : {std::pair{1.0, 1.0}, std::pair{4.0, 1.0}, std::pair{1.0, 0.5}, std::pair{12.0, 2.0}}) {
            TsneObjective obj(P, *rep, nk.kernel, 1, rho);
            std::vector<double> g(Y.size());
            const double kl = obj(Y.view(), ex, g.data(), true);
            // The value is the KL of the un-exaggerated P, whatever ex and ρ.
            EXPECT_NEAR(kl, brute_loss(P, Y, nk.kernel, 1.0, 1.0), 1e-11 * std::abs(kl) + 1e-12)
                << nk.name << " d=" << d;
            EXPECT_LT(relative_gradient_error(Y, g, 4.0, [&] { return brute_loss(P, Y, nk.kernel, ex, rho); }), 1e-6)
                << nk.name << " d=" << d << " ex=" << ex << " rho=" << rho;
        }
    }
}

TEST_P(KlKernelGradient, PartialIsHalfOfNumericalDerivative) {
    const NamedKernel nk = kernels()[GetParam()];
    const std::size_t d = 2;
    Matrix<double> R = random_y(40, d, nk.sd, 3);
    Matrix<double> Q = random_y(8, d, nk.sd, 4);
    CsrMatrix<double> P = random_p(8, 40, 0.25, false, 9);
    auto rep = make_exact_repulsion(2);
    for (auto [ex, rho] : {std::pair{1.0, 1.0}, std::pair{3.0, 0.7}}) {
        PartialTsneObjective obj(P, R.view(), *rep, nk.kernel, 2, rho);
        std::vector<double> g(Q.size());
        const double kl = obj(Q.view(), ex, g.data(), true);
        EXPECT_NEAR(kl, brute_partial_loss(P, Q, R, nk.kernel, 1.0, 1.0), 1e-11 * std::abs(kl) + 1e-12) << nk.name;
        EXPECT_LT(relative_gradient_error(Q, g, 2.0, [&] { return brute_partial_loss(P, Q, R, nk.kernel, ex, rho); }),
                  1e-6)
            << nk.name << " ex=" << ex << " rho=" << rho;
    }
}

INSTANTIATE_TEST_SUITE_P(Kernels, KlKernelGradient, ::testing::Range<std::size_t>(0, 7),
                         [](const auto& info) { return std::string(kernels()[info.param].name); });

// Exaggeration scales exactly the attraction, ρ exactly the repulsion: grad(ex, ρ) = ex·A − ρ·R with A and R read
// from two evaluations, to rounding (1e-13 relative).
TEST(KlKernelCoefficients, ExaggerationAndRepulsionStrengthScaleTheirHalves) {
    const std::size_t n = 50, d = 2;
    CsrMatrix<double> P = random_p(n, n, 0.15, true, 21);
    Matrix<double> Y = random_y(n, d, 2.0, 22);
    auto rep = make_exact_repulsion(1);
    const OutputKernel k = CauchyKernel{0.5};
    std::vector<double> A(Y.size()), g11(Y.size()), g(Y.size());
    attractive_forces(P, Y.view(), k, 1.0, A.data(), 1);
    TsneObjective base(P, *rep, k, 1);
    base(Y.view(), 1.0, g11.data(), false);  // A − R
    TsneObjective strong(P, *rep, k, 1, 2.5);
    strong(Y.view(), 7.0, g.data(), false);
    double err = 0, norm = 0;
    for (std::size_t i = 0; i < g.size(); ++i) {
        const double R = A[i] - g11[i];
        const double expect = 7.0 * A[i] - 2.5 * R;
        err = std::max(err, std::abs(g[i] - expect));
        norm = std::max(norm, std::abs(expect));
    }
    EXPECT_LT(err, 1e-13 * norm);
    EXPECT_EQ(strong.repulsion_strength(), 2.5);
}

TEST(KlKernelBadInput, RefusalsNameTheProblem) {
    const std::size_t n = 10;
    CsrMatrix<double> P = random_p(n, n, 0.4, true, 1);
    Matrix<double> Y = random_y(n, 2, 1.0, 2);
    std::vector<double> out(Y.size());
    auto rep = make_exact_repulsion(1);
    auto message = [](auto&& f) {
        try {
            f();
        } catch (const InvalidArgument& e) {
            return std::string(e.what());
        }
        return std::string("no exception");
    };
    const std::string cos_attr = message([&] { attractive_forces(P, Y.view(), CosineKernel{}, 1.0, out.data()); });
    EXPECT_NE(cos_attr.find("attractive_forces"), std::string::npos) << cos_attr;
    EXPECT_NE(cos_attr.find("cosine kernel"), std::string::npos) << cos_attr;
    EXPECT_THROW(sum_p_log_w(P, Y.view(), CosineKernel{}), InvalidArgument);
    // The objective accepts the cosine kernel's parameters but the repulsion refuses it on evaluation.
    TsneObjective cos_obj(P, *rep, CosineKernel{}, 1);
    const std::string cos_rep = message([&] { cos_obj(Y.view(), 1.0, out.data(), false); });
    EXPECT_NE(cos_rep.find("exact repulsion does not support the cosine"), std::string::npos) << cos_rep;
    const std::string bad_eps = message([&] { TsneObjective(P, *rep, CauchyKernel{-1.0}, 1); });
    EXPECT_NE(bad_eps.find("t-SNE objective: Cauchy kernel: eps"), std::string::npos) << bad_eps;
    const std::string bad_h = message([&] { attractive_forces(P, Y.view(), GaussianKernel{0.0}, 1.0, out.data()); });
    EXPECT_NE(bad_h.find("Gaussian kernel: bandwidth"), std::string::npos) << bad_h;
    for (double rho : {0.0, -1.0, std::numeric_limits<double>::infinity()}) {
        const std::string bad_rho = message([&] { TsneObjective(P, *rep, StudentTKernel(1.0), 1, rho); });
        EXPECT_NE(bad_rho.find("repulsion strength"), std::string::npos) << bad_rho;
    }
}
