// The Poincaré-ball geometry, COSNE's and TSNEkhorn's objectives and RiemannianAdam against direct formulas,
// central finite differences and TorchDR 0.5's own numbers (tests/data/torchdr/hyperbolic_fixture.npz, made by
// make_hyperbolic_fixture.py in that folder).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "nembed/core/error.hpp"
#include "nembed/core/random.hpp"
#include "nembed/core/sparse.hpp"
#include "nembed/init/hyperbolic.hpp"
#include "nembed/io/npy.hpp"
#include "nembed/io/npz.hpp"
#include "nembed/kernel/hyperbolic.hpp"
#include "nembed/loss/cosne.hpp"
#include "nembed/loss/tsnekhorn.hpp"
#include "nembed/optim/riemannian_adam.hpp"

using namespace nembed;
namespace hb = nembed::hyperbolic;

namespace {

const std::string kFixture = std::string(NEMBED_TEST_DATA_DIR) + "/torchdr/hyperbolic_fixture.npz";

std::vector<double> fixture(const std::string& name) {
    NdArray a = read_npz(kFixture, name);
    std::vector<double> v(a.size());
    a.copy_to(v.data());
    return v;
}
Matrix<double> fixture_matrix(const std::string& name) {
    NdArray a = read_npz(kFixture, name);
    Matrix<double> m(a.shape.at(0), a.size() / a.shape.at(0));
    a.copy_to(m.data());
    return m;
}

double max_rel(const std::vector<double>& a, const std::vector<double>& b) {
    double num = 0, den = 0;
    for (std::size_t k = 0; k < a.size(); ++k) {
        num = std::max(num, std::abs(a[k] - b[k]));
        den = std::max(den, std::abs(b[k]));
    }
    return num / den;
}

// A point of the ball at radius r in direction angle t (2-D).
std::vector<double> at(double r, double t) { return {r * std::cos(t), r * std::sin(t)}; }

// Textbook squared Poincaré distance with TorchDR's shift, with std::acosh.
double direct_sqdist(const std::vector<double>& a, const std::vector<double>& b) {
    double C = 0, na = 0, nb = 0;
    for (std::size_t k = 0; k < a.size(); ++k) {
        C += (a[k] - b[k]) * (a[k] - b[k]);
        na += a[k] * a[k];
        nb += b[k] * b[k];
    }
    const double ac = std::acosh(1 + 2 * C / ((1 - na) * (1 - nb)) + 1e-8);
    return ac * ac;
}

// geoopt's distance 2·artanh(‖−a ⊕ b‖) (no shift), squared.
double mobius_sqdist(const std::vector<double>& a, const std::vector<double>& b) {
    std::vector<double> ma = {-a[0], -a[1]}, s(2);
    hb::mobius_add(ma.data(), b.data(), 2, 1.0, s.data());
    const double t = 2 * std::atanh(std::sqrt(s[0] * s[0] + s[1] * s[1]));
    return t * t;
}

} // namespace

namespace {

CosneLossOptions cosne_opts(double gamma, double lam = 1.0, double rho = 1.0) {
    CosneLossOptions o;
    o.gamma = gamma;
    o.learning_rate_for_h_loss = lam;
    o.repulsion_strength = rho;
    return o;
}
TsnekhornLossOptions khorn_opts(int max_iter, bool unrolling = false) {
    TsnekhornLossOptions o;
    o.sinkhorn.max_iter = max_iter;
    o.unrolling = unrolling;
    return o;
}
SinkhornAffinityOptions sinkhorn_opts(int max_iter, double tol) {
    SinkhornAffinityOptions o = tsnekhorn_output_sinkhorn();
    o.max_iter = max_iter;
    o.tol = tol;
    return o;
}
RiemannianAdamOptions radam_opts(std::size_t row_size) {
    RiemannianAdamOptions o;
    o.row_size = row_size;
    return o;
}

} // namespace

TEST(Hyperbolic, SquaredDistanceMatchesDirectAndMobiusFormulas) {
    for (double ra : {0.0, 0.3, 0.9, 0.999, 0.99999}) {
        for (double rb : {0.1, 0.5, 0.99}) {
            const auto a = at(ra, 0.3), b = at(rb, 2.1);
            const double D = hb::sqdist(a.data(), b.data(), 2);
            EXPECT_NEAR(D, direct_sqdist(a, b), 1e-10 * D) << ra << " " << rb;
            // The shift 1e-8 inside arccosh changes D by about 2e-8·arccosh(u)/√(u² − 1).
            EXPECT_NEAR(D, mobius_sqdist(a, b), 1e-6 * D + 1e-7) << ra << " " << rb;
        }
    }
    // Coincident points: D = arccosh(1 + 1e-8)² ≈ 2e-8, TorchDR's diagonal.
    const auto a = at(0.4, 1.0);
    EXPECT_NEAR(hb::sqdist(a.data(), a.data(), 2), 2e-8, 1e-15);
}

TEST(Hyperbolic, SquaredDistanceGradientMatchesFiniteDifferences) {
    // Points near the boundary too: the step is scaled to the distance to the boundary.
    for (double ra : {0.2, 0.9, 0.999, 0.99995}) {
        for (double rb : {0.0, 0.6, 0.9995}) {
            std::vector<double> a = at(ra, 0.7), b = at(rb, -1.9), ga(2), gb(2);
            const double D = hb::sqdist_grad(a.data(), b.data(), 2, ga.data(), gb.data());
            EXPECT_DOUBLE_EQ(D, hb::sqdist(a.data(), b.data(), 2));
            for (int which = 0; which < 2; ++which) {
                std::vector<double>& p = which == 0 ? a : b;
                const std::vector<double>& g = which == 0 ? ga : gb;
                const double rp = std::sqrt(p[0] * p[0] + p[1] * p[1]);
                const double h = 1e-4 * (1 - rp) + (rp == 0 ? 1e-6 : 0);
                for (int k = 0; k < 2; ++k) {
                    const double o = p[k];
                    p[k] = o + h;
                    const double lp = hb::sqdist(a.data(), b.data(), 2);
                    p[k] = o - h;
                    const double lm = hb::sqdist(a.data(), b.data(), 2);
                    p[k] = o;
                    const double num = (lp - lm) / (2 * h);
                    EXPECT_NEAR(g[k], num, 1e-5 * (std::abs(g[0]) + std::abs(g[1])) + 1e-9)
                        << "ra " << ra << " rb " << rb << " which " << which << " k " << k;
                }
            }
        }
    }
}

TEST(Hyperbolic, ProjectionExpmapAndTransport) {
    // proj: beyond (1 − 1e-5) radially onto it; inside untouched.
    std::vector<double> x = at(0.999999, 0.4);
    EXPECT_TRUE(hb::project(x.data(), 2, 1.0));
    EXPECT_NEAR(std::hypot(x[0], x[1]), 1 - 1e-5, 1e-15);
    std::vector<double> y = at(0.5, 0.4), y0 = y;
    EXPECT_FALSE(hb::project(y.data(), 2, 1.0));
    EXPECT_EQ(y, y0);
    // exp_p(u) moves p by a geodesic distance λ_p‖u‖ (the Riemannian norm of u), so D(p, exp_p(u)) = (λ_p‖u‖)².
    const std::vector<double> p = at(0.7, 1.1), u = {0.01, -0.02};
    std::vector<double> q(2), tmp(2);
    hb::expmap(u.data(), p.data(), 2, 1.0, tmp.data(), q.data());
    const double geo = hb::lambda(p.data(), 2, 1.0) * std::hypot(u[0], u[1]);
    EXPECT_NEAR(hb::sqdist(p.data(), q.data(), 2), geo * geo, 1e-7 * geo * geo + 3e-8);
    // expmap0 = exp at the origin; transport keeps the Riemannian norm λ‖v‖.
    std::vector<double> z = {0.3, -0.4}, z0 = {0, 0}, e(2);
    hb::expmap(z.data(), z0.data(), 2, 1.0, tmp.data(), e.data());
    hb::expmap0(z.data(), 2, 1.0);  // exp_0(z) = tanh(‖z‖)z/‖z‖; exp_p at p = 0 has λ_0 = 2: the same tanh(‖u‖)
    const double n = 0.5;
    EXPECT_NEAR(z[0], std::tanh(n) * 0.3 / n, 1e-15);
    EXPECT_NEAR(e[0], std::tanh(2 * n / 2 * 1.0) * 0.3 / n, 1e-15);  // tanh(√c/2·λ_0·‖u‖) = tanh(‖u‖)
    std::vector<double> v = {0.2, 0.1};
    const double before = hb::lambda(p.data(), 2, 1.0) * std::hypot(v[0], v[1]);
    hb::transport(p.data(), q.data(), v.data(), 2, 1.0, tmp.data());
    EXPECT_NEAR(hb::lambda(q.data(), 2, 1.0) * std::hypot(v[0], v[1]), before, 1e-12 * before);
}

TEST(Hyperbolic, InitLiesInsideTheBallAndIsExpmap0OfGaussians) {
    const Matrix<double> Y = hyperbolic_init(500, 3, 7, 0.5);
    for (std::size_t i = 0; i < 500; ++i) {
        const double r = std::sqrt(hb::dot(Y.row(i), Y.row(i), 3));
        EXPECT_LT(r, 1.0);
        EXPECT_GT(r, 0.0);
    }
    EXPECT_THROW(hyperbolic_init(5, 2, 0, 0.0), InvalidArgument);
    EXPECT_THROW(hyperbolic_init(5, 2, 0, -1.0), InvalidArgument);
}

namespace {

CsrMatrix<double> cosne_fixture_P(std::size_t n) {
    const Matrix<double> nn = fixture_matrix("cosne_nn"), P = fixture_matrix("cosne_P");
    std::vector<Triplet<double>> t;
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t k = 0; k < nn.cols(); ++k)
            t.push_back({static_cast<index_t>(i), static_cast<index_t>(nn(i, k)), P(i, k)});
    return csr_from_triplets(n, n, std::move(t));
}
std::vector<double> cosne_fixture_xnorm() {
    const Matrix<double> X = fixture_matrix("cosne_X");
    std::vector<double> xn(X.rows());
    for (std::size_t i = 0; i < X.rows(); ++i) xn[i] = hb::dot(X.row(i), X.row(i), X.cols());
    return xn;
}

// TorchDR's COSNE loss recomputed densely: norm-expansion distances as its pairwise_distances, diagonal included.
double dense_cosne_loss(const CsrMatrix<double>& P, const std::vector<double>& xn, MatrixView<double> Z,
                        double gamma, double lam, double rho, double ex) {
    const std::size_t n = Z.rows, d = Z.cols;
    auto D = [&](std::size_t i, std::size_t j) {
        const double ni = hb::dot(Z.row(i), Z.row(i), d), nj = hb::dot(Z.row(j), Z.row(j), d);
        const double C = std::max(ni + nj - 2 * hb::dot(Z.row(i), Z.row(j), d), 0.0);
        const double ac = std::acosh(1 + 2 * (C / ((1 - ni) * (1 - nj))) + 1e-8);
        return ac * ac;
    };
    double att = 0;
    for (std::size_t i = 0; i < n; ++i)
        for (offset_t p = P.row_begin(i); p < P.row_end(i); ++p)
            att -= P.values[p] * std::log(gamma / (D(i, P.indices[p]) + gamma * gamma));
    double z = 0;
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j) z += gamma / (D(i, j) + gamma * gamma);
    double nt = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const double y = hb::dot(Z.row(i), Z.row(i), d);
        const double ac = std::acosh(1 + 2 * (y / (1 - y)) + 1e-8);
        nt += (xn[i] - ac * ac) * (xn[i] - ac * ac);
    }
    return ex * att + rho * (std::log(z) + lam * nt / static_cast<double>(n));
}

} // namespace

TEST(Cosne, LossAndGradientMatchTorchDR) {
    const std::size_t n = 12;
    Matrix<double> Z = fixture_matrix("cosne_Z");
    const CsrMatrix<double> P = cosne_fixture_P(n);
    const std::vector<double> xn = cosne_fixture_xnorm();
    CosneObjective obj(P, xn, cosne_opts(2.0, 0.7, 1.3));
    std::vector<double> g(n * 2);
    for (int ex : {1, 3}) {
        const double L = obj(Z.view(), ex, g.data(), true);
        // The loss is reported at ex = 1; TorchDR's own value at ex = 1 and the dense recomputation agree.
        EXPECT_NEAR(L, fixture("cosne_loss_ex1")[0], 1e-10 * std::abs(L));
        EXPECT_NEAR(L, dense_cosne_loss(P, xn, Z.view(), 2.0, 0.7, 1.3, 1.0), 1e-10 * std::abs(L));
        EXPECT_NEAR(dense_cosne_loss(P, xn, Z.view(), 2.0, 0.7, 1.3, ex),
                    fixture("cosne_loss_ex" + std::to_string(ex))[0], 1e-10 * std::abs(L));
        // TorchDR's autograd gradient (the point near the boundary included): its arccosh derivative
        // 1/√(u² − 1) at u = 1 + O(1e-8) loses about 1e-8 relative, hence the tolerance.
        EXPECT_LT(max_rel(g, fixture("cosne_grad_ex" + std::to_string(ex))), 1e-7) << "ex " << ex;
    }
}

TEST(Cosne, GradientMatchesFiniteDifferences) {
    // Random small problem, asymmetric P with a diagonal entry, exaggeration 2, ρ and λ not 1.
    const std::size_t n = 9, d = 3;
    Matrix<double> Z = hyperbolic_init(n, d, 3, 0.8);
    Rng rng(5, 0);
    std::vector<Triplet<double>> t;
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j)
            if (rng.uniform() < 0.4 || j == (i + 1) % n) t.push_back({index_t(i), index_t(j), rng.uniform()});
    t.push_back({2, 2, 0.3});
    const CsrMatrix<double> P = csr_from_triplets(n, n, t);
    std::vector<double> xn(n);
    for (double& v : xn) v = 3 * rng.uniform();
    CosneObjective obj(P, xn, cosne_opts(1.5, 0.4, 0.8));
    std::vector<double> g(n * d), scratch(n * d);
    obj(Z.view(), 2.0, g.data(), true);
    const double h = 1e-6;
    double err = 0, norm = 0;
    for (std::size_t k = 0; k < n * d; ++k) {
        const double o = Z.data()[k];
        Z.data()[k] = o + h;
        const double lp = dense_cosne_loss(P, xn, Z.view(), 1.5, 0.4, 0.8, 2.0);
        Z.data()[k] = o - h;
        const double lm = dense_cosne_loss(P, xn, Z.view(), 1.5, 0.4, 0.8, 2.0);
        Z.data()[k] = o;
        const double num = (lp - lm) / (2 * h);
        err = std::max(err, std::abs(num - g[k]));
        norm = std::max(norm, std::abs(num));
    }
    EXPECT_LT(err / norm, 1e-6);
}

// The 2-D path (float32 pair kernel, each unordered pair once in tiles of 256) against the general double path:
// the same points with a third coordinate 0 take the general path and must give the same loss and gradient up to
// float32 rounding. 700 points: three tiles, the last partial; points on TorchDR's projection radius (1 − 1e-5,
// where 1/(1 − ‖z‖²) ≈ 5e4), two coincident points, a pair 1e-9 apart. And the same bits for 1, 2 and 3 threads.
TEST(Cosne, TwoDimensionalPathMatchesTheGeneralPath) {
    const std::size_t n = 700;
    Matrix<double> Z = hyperbolic_init(n, 2, 11, 0.8);
    for (std::size_t i = 0; i < n; i += 7) {  // every 7th point onto the projection radius
        const double r = std::sqrt(hb::dot(Z.row(i), Z.row(i), 2));
        for (std::size_t k = 0; k < 2; ++k) Z(i, k) *= (1 - 1e-5) / r;
    }
    Z(3, 0) = Z(5, 0), Z(3, 1) = Z(5, 1);
    Z(9, 0) = Z(10, 0) + 1e-9, Z(9, 1) = Z(10, 1);
    Rng rng(8, 0);
    std::vector<Triplet<double>> t;
    for (std::size_t i = 0; i < n; ++i)
        for (int k = 0; k < 20; ++k)
            t.push_back({index_t(i), index_t(rng.uniform() * double(n - 1)), rng.uniform() / double(n)});
    t.push_back({4, 4, 0.01});
    t.push_back({3, 5, 0.01});
    t.push_back({9, 10, 0.01});
    const CsrMatrix<double> P = csr_from_triplets(n, n, t);
    std::vector<double> xn(n);
    for (double& v : xn) v = 150 * rng.uniform();
    Matrix<double> Z3(n, 3);
    for (std::size_t i = 0; i < n; ++i) Z3(i, 0) = Z(i, 0), Z3(i, 1) = Z(i, 1);
    for (double lam : {0.6, 0.0}) {  // λ = 0: the loss is the kernel's part alone (else the norm term dominates)
        CosneObjective obj(P, xn, cosne_opts(2.0, lam, 0.9));
        std::vector<double> g2(n * 2), g3(n * 3);
        const double L2 = obj(Z.view(), 1.5, g2.data(), true), L3 = obj(Z3.view(), 1.5, g3.data(), true);
        // float32 pair values (about 1e-7 relative each), summed in float over at most 256 terms per lane and tile.
        EXPECT_NEAR(L2, L3, 1e-6 * std::abs(L3)) << "lambda " << lam;
        double worst = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const double ref = std::hypot(g3[i * 3], g3[i * 3 + 1]);
            const double err = std::hypot(g2[i * 2] - g3[i * 3], g2[i * 2 + 1] - g3[i * 3 + 1]);
            worst = std::max(worst, err / ref);
            EXPECT_EQ(g3[i * 3 + 2], 0.0);
        }
        EXPECT_LT(worst, 1e-5) << "lambda " << lam;  // per point, relative to its own gradient (9 decades here)
        for (int threads : {2, 3}) {
            CosneLossOptions o = cosne_opts(2.0, lam, 0.9);
            o.n_threads = threads;
            std::vector<double> g(n * 2);
            const double L = CosneObjective(P, xn, o)(Z.view(), 1.5, g.data(), true);
            EXPECT_EQ(L, L2);
            EXPECT_EQ(g, g2) << threads << " threads";
        }
        // Without want_loss the gradient is the same (the loss may be NaN).
        std::vector<double> g(n * 2);
        obj(Z.view(), 1.5, g.data(), false);
        EXPECT_EQ(g, g2);
    }
}

TEST(Cosne, RefusesBadParameters) {
    const CsrMatrix<double> P = csr_from_triplets<double>(3, 3, {{0, 1, 0.5}, {1, 2, 0.5}});
    const std::vector<double> xn = {1, 1, 1};
    EXPECT_THROW(CosneObjective(P, xn, cosne_opts(0.0)), InvalidArgument);
    EXPECT_THROW(CosneObjective(P, xn, cosne_opts(-2.0)), InvalidArgument);
    EXPECT_THROW(CosneObjective(P, xn, cosne_opts(2.0, -1.0)), InvalidArgument);
    EXPECT_THROW(CosneObjective(P, {1, 1}, {}), InvalidArgument);
    try {
        CosneObjective(P, xn, cosne_opts(0.0));
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("gamma"), std::string::npos);
    }
    CosneObjective obj(P, xn, {});
    Matrix<double> Z(3, 2);
    Z(0, 0) = 1.0;  // on the boundary
    std::vector<double> g(6);
    EXPECT_THROW(obj(Z.view(), 1.0, g.data(), true), InvalidArgument);
}

namespace {

CsrMatrix<double> dense_to_csr(const Matrix<double>& A) {
    std::vector<Triplet<double>> t;
    for (std::size_t i = 0; i < A.rows(); ++i)
        for (std::size_t j = 0; j < A.cols(); ++j) t.push_back({index_t(i), index_t(j), A(i, j)});
    return csr_from_triplets(A.rows(), A.cols(), std::move(t));
}

// TorchDR's TSNEkhorn loss with the duals f held fixed, densely: log Q = f_i + f_j − log(1 + C) − log n with
// C_ii = 1e12.
double dense_tsnekhorn_loss(const Matrix<double>& P, MatrixView<double> Z, const std::vector<double>& f) {
    const std::size_t n = Z.rows;
    double L = 0;
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j) {
            const double C = i == j ? 1e12 : hb::sqdiff(Z.row(i), Z.row(j), Z.cols);
            const double lq = f[i] + f[j] - std::log(1 + C) - std::log(double(n));
            L += -P(i, j) * lq + std::exp(lq);
        }
    return L;
}

} // namespace

TEST(Tsnekhorn, LossGradientAndDualsMatchTorchDR) {
    const Matrix<double> P = fixture_matrix("tsnekhorn_P");
    Matrix<double> Z = fixture_matrix("tsnekhorn_Z");
    TsnekhornObjective obj(dense_to_csr(P));
    std::vector<double> g(Z.size());
    for (int t = 0; t < 2; ++t) {  // the second evaluation warm-starts from the first's duals
        const double L = obj(Z.view(), 1.0, g.data(), true);
        EXPECT_LT(max_rel(obj.duals(), fixture("tsnekhorn_dual" + std::to_string(t))), 1e-12) << t;
        EXPECT_NEAR(L, fixture("tsnekhorn_loss" + std::to_string(t))[0], 1e-12 * std::abs(L)) << t;
        EXPECT_LT(max_rel(g, fixture("tsnekhorn_grad" + std::to_string(t))), 1e-10) << t;
        EXPECT_NEAR(L, dense_tsnekhorn_loss(P, Z.view(), obj.duals()), 1e-12 * std::abs(L));
    }
}

TEST(Tsnekhorn, GradientMatchesFiniteDifferencesAtFixedDuals) {
    const std::size_t n = 11, d = 2;
    Rng rng(9, 0);
    Matrix<double> Z(n, d), P(n, n);
    for (double& v : Z.storage()) v = rng.normal();
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j) P(i, j) = rng.uniform() < 0.5 ? rng.uniform() / (n * n) : 0.0;
    TsnekhornObjective obj(dense_to_csr(P), khorn_opts(3));
    std::vector<double> g(n * d);
    obj(Z.view(), 1.0, g.data(), true);
    const std::vector<double> f = obj.duals();  // the duals this gradient used (constants in it, as TorchDR)
    const double h = 1e-6;
    double err = 0, norm = 0;
    for (std::size_t k = 0; k < n * d; ++k) {
        const double o = Z.data()[k];
        Z.data()[k] = o + h;
        const double lp = dense_tsnekhorn_loss(P, Z.view(), f);
        Z.data()[k] = o - h;
        const double lm = dense_tsnekhorn_loss(P, Z.view(), f);
        Z.data()[k] = o;
        const double num = (lp - lm) / (2 * h);
        err = std::max(err, std::abs(num - g[k]));
        norm = std::max(norm, std::abs(num));
    }
    EXPECT_LT(err / norm, 1e-6);
}

TEST(Tsnekhorn, SinkhornConvergesToADoublyStochasticQ) {
    const std::size_t n = 30;
    Rng rng(4, 0);
    Matrix<double> Z(n, 2);
    for (double& v : Z.storage()) v = rng.normal();
    SinkhornAffinity sk(sinkhorn_opts(1000, 1e-12));
    sk.fit_dual(Z.view());
    EXPECT_LT(sk.n_iter(), 999);
    const std::vector<double> f = sk.dual();
    for (std::size_t i = 0; i < n; ++i) {  // rows of N·Q sum to 1 (TorchDR's D_ii = 1e12 on the diagonal)
        double s = 0;
        for (std::size_t j = 0; j < n; ++j)
            s += std::exp(f[i] + f[j]) / (1 + (i == j ? 1e12 : hb::sqdiff(Z.row(i), Z.row(j), 2)));
        EXPECT_NEAR(s, 1.0, 1e-10);
    }
    // fit_dual (K on the fly, kernel-domain sums) and log_affinity (log K stored, row-max logsumexp) run the same
    // iteration: the same duals to rounding, cold and warm; fit_dual gives the same bits on 1 and 2 threads.
    SinkhornAffinityOptions o = sinkhorn_opts(7, 1e-5);
    SinkhornAffinity a(o), b(o);
    o.n_threads = 2;
    SinkhornAffinity c(o);
    a.fit_dual(Z.view());
    b.log_affinity(Z.view());
    c.fit_dual(Z.view());
    EXPECT_LT(max_rel(a.dual(), b.dual()), 1e-13);
    EXPECT_EQ(a.n_iter(), b.n_iter());
    EXPECT_EQ(a.dual(), c.dual());
    const std::vector<double> warm = a.dual();
    a.fit_dual(Z.view(), warm);
    b.log_affinity(Z.view(), warm);
    EXPECT_LT(max_rel(a.dual(), b.dual()), 1e-13);
    // The Gaussian kernel on the fly (log domain, per-row buffers) is log_affinity's reduction: the same bits.
    o = sinkhorn_opts(50, 1e-9);
    o.base_kernel = SinkhornBaseKernel::gaussian;
    o.eps = 0.5;
    SinkhornAffinity g1(o), g2(o);
    g1.fit_dual(Z.view());
    g2.log_affinity(Z.view());
    EXPECT_EQ(g1.dual(), g2.dual());
}

TEST(Tsnekhorn, RefusesUnrollingAndBadP) {
    const CsrMatrix<double> P = csr_from_triplets<double>(3, 3, {{0, 1, 0.5}, {1, 2, 0.5}});
    EXPECT_THROW(TsnekhornObjective(P, khorn_opts(5, true)), InvalidArgument);
    EXPECT_THROW(TsnekhornObjective(csr_from_triplets<double>(3, 3, {{0, 1, -0.5}}), {}), InvalidArgument);
    EXPECT_THROW(TsnekhornObjective(csr_from_triplets<double>(3, 2, {{0, 1, 0.5}}), {}), InvalidArgument);
}

TEST(RiemannianAdam, MatchesTorchDRTrajectory) {
    Matrix<double> Z = fixture_matrix("radam_Z0");
    const std::vector<double> G = fixture("radam_G"), traj = fixture("radam_traj");
    RiemannianAdam opt(radam_opts(2));
    const std::size_t m = Z.size();
    for (std::size_t s = 0; s < 3; ++s) {
        opt.step(Z.data(), G.data() + s * m, m, 0.05, 1);
        const std::vector<double> want(traj.begin() + s * m, traj.begin() + (s + 1) * m);
        EXPECT_LT(max_rel(Z.storage(), want), 1e-14) << "step " << s + 1;
    }
}

TEST(RiemannianAdam, FirstStepsByHand) {
    // One point, TorchDR's update written out: t = 1 then t = 3 (its count advances twice per step).
    const double lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8;
    std::vector<double> p = {0.3, -0.2}, g1 = {1.0, 2.0}, g2 = {-0.5, 0.25};
    RiemannianAdam opt(radam_opts(2));
    std::vector<double> z = p;
    opt.step(z.data(), g1.data(), 2, lr, 1);
    // by hand, step 1
    double lam = 2 / (1 - (0.09 + 0.04));
    std::vector<double> r = {g1[0] / (lam * lam), g1[1] / (lam * lam)};
    std::vector<double> mm = {(1 - b1) * r[0], (1 - b1) * r[1]};
    double v = (1 - b2) * lam * lam * (r[0] * r[0] + r[1] * r[1]);
    double s = lr * std::sqrt(1 - b2) / (1 - b1);
    std::vector<double> u = {-s * mm[0] / (std::sqrt(v) + eps), -s * mm[1] / (std::sqrt(v) + eps)}, q(2), tmp(2);
    hb::expmap(u.data(), p.data(), 2, 1.0, tmp.data(), q.data());
    hb::project(q.data(), 2, 1.0);
    EXPECT_NEAR(z[0], q[0], 1e-15);
    EXPECT_NEAR(z[1], q[1], 1e-15);
    hb::transport(p.data(), q.data(), mm.data(), 2, 1.0, tmp.data());
    // step 2 with t = 3
    p = q;
    opt.step(z.data(), g2.data(), 2, lr, 1);
    lam = 2 / (1 - (p[0] * p[0] + p[1] * p[1]));
    r = {g2[0] / (lam * lam), g2[1] / (lam * lam)};
    mm = {b1 * mm[0] + (1 - b1) * r[0], b1 * mm[1] + (1 - b1) * r[1]};
    v = b2 * v + (1 - b2) * lam * lam * (r[0] * r[0] + r[1] * r[1]);
    s = lr * std::sqrt(1 - std::pow(b2, 3)) / (1 - std::pow(b1, 3));
    u = {-s * mm[0] / (std::sqrt(v) + eps), -s * mm[1] / (std::sqrt(v) + eps)};
    hb::expmap(u.data(), p.data(), 2, 1.0, tmp.data(), q.data());
    hb::project(q.data(), 2, 1.0);
    EXPECT_NEAR(z[0], q[0], 1e-15);
    EXPECT_NEAR(z[1], q[1], 1e-15);
    EXPECT_EQ(opt.steps(), 2);
}

TEST(RiemannianAdam, HugeStepsStayInsideTheBall) {
    Matrix<double> Z = hyperbolic_init(200, 2, 1, 0.5);
    RiemannianAdam opt(radam_opts(2));
    Rng rng(2, 0);
    std::vector<double> g(Z.size());
    for (int s = 0; s < 50; ++s) {
        for (double& v : g) v = 100 * rng.normal();
        opt.step(Z.data(), g.data(), Z.size(), 1000.0, 2);
        for (std::size_t i = 0; i < Z.rows(); ++i) ASSERT_LE(std::sqrt(hb::dot(Z.row(i), Z.row(i), 2)), 1 - 1e-5 + 1e-15);
    }
}

TEST(RiemannianAdam, RegisteredAndValidated) {
    EXPECT_EQ(parse_optimizer_kind("RiemannianAdam"), OptimizerOptions::Kind::riemannian_adam);
    EXPECT_EQ(parse_optimizer_kind("riemannian_adam"), OptimizerOptions::Kind::riemannian_adam);
    EXPECT_EQ(parse_optimizer_kind(to_string(OptimizerOptions::Kind::riemannian_adam)),
              OptimizerOptions::Kind::riemannian_adam);
    OptimizerOptions o;
    o.kind = OptimizerOptions::Kind::riemannian_adam;
    EXPECT_THROW(make_optimizer(o), InvalidArgument);  // no row size
    o.row_size = 2;
    auto opt = make_optimizer(o);
    EXPECT_EQ(opt->name(), "riemannian_adam");
    o.curvature = 0.0;
    EXPECT_THROW(make_optimizer(o), InvalidArgument);
    EXPECT_THROW(RiemannianAdam(radam_opts(0)), InvalidArgument);
    RiemannianAdam r(radam_opts(2));
    std::vector<double> p(3), g(3);
    EXPECT_THROW(r.step(p.data(), g.data(), 3, 0.1, 1), InvalidArgument);
}

// A dense symmetric P takes the path without W = P + Pᵀ stored (2P read from P); the same P with its zero
// diagonal left out of the CSR takes the general one: the same loss, gradient and duals bit for bit, on 1 and 3
// threads.
TEST(Tsnekhorn, SymmetricDensePathEqualsGeneralPath) {
    const std::size_t n = 37, d = 2;
    Rng rng(11, 0);
    Matrix<double> Z(n, d), P(n, n);
    for (double& v : Z.storage()) v = rng.normal();
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < i; ++j) P(i, j) = P(j, i) = rng.uniform() / double(n * n);
    const CsrMatrix<double> dense = dense_to_csr(P);
    ASSERT_EQ(dense.values.size(), n * n);
    std::vector<Triplet<double>> t;
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j)
            if (i != j) t.push_back({index_t(i), index_t(j), P(i, j)});
    const CsrMatrix<double> sparse = csr_from_triplets<double>(n, n, std::move(t));
    for (int threads : {1, 3}) {
        TsnekhornLossOptions o = khorn_opts(5);
        o.n_threads = threads;
        TsnekhornObjective a(dense, o), b(sparse, khorn_opts(5));
        std::vector<double> ga(n * d), gb(n * d);
        for (int it = 0; it < 2; ++it) {
            const double la = a(Z.view(), 1.0, ga.data(), true), lb = b(Z.view(), 1.0, gb.data(), true);
            EXPECT_EQ(la, lb);
            EXPECT_EQ(ga, gb);
            EXPECT_EQ(a.duals(), b.duals());
        }
    }
}
