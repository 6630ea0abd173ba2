// FFT interpolation repulsion: grid rules, the kissfft wrappers against naive DFTs, accuracy against the exact
// sums (1-D and 2-D, dof 1 / 0.5 / 3, synthetic and Fashion-MNIST layouts), transform (partial) sums, thread-count
// and repeat determinism, degenerate and bad input.
#include <cmath>
#include <complex>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <vector>

#include <Eigen/Dense>
#include <gtest/gtest.h>

#include "nembed/core/error.hpp"
#include "nembed/core/random.hpp"
#include "nembed/fft/fft.hpp"
#include "nembed/io/load.hpp"
#include "nembed/repulsion/repulsion.hpp"
#include "repulsion_test_util.hpp"

using namespace nembed;
using nembed::testing::clustered_layout;
using nembed::testing::rel_error;

namespace {

double run(Repulsion& r, const Matrix<double>& Y, double dof, std::vector<double>& F) {
    F.assign(Y.size(), std::numeric_limits<double>::quiet_NaN());
    return r.compute(Y.view(), StudentTKernel(dof), F.data());
}

FftOptions opts(int threads) {
    FftOptions o;
    o.n_threads = threads;
    return o;
}

/// Four boxes per embedding unit (and at least 200): the interpolation error falls as (box width)^3, so this
/// checks the machinery to near float precision, while the defaults check openTSNE's operating point.
FftOptions fine_opts(int threads) {
    FftOptions o = opts(threads);
    o.ints_in_interval = 0.25;
    o.min_num_intervals = 200;
    return o;
}

struct Tol {
    double force, z;
};

/// FFT vs exact on Y; returns {force error, Z error} and checks them against tol.
Tol check_against_exact(const Matrix<double>& Y, double dof, const FftOptions& o, Tol tol, const char* what) {
    std::vector<double> Fe, Ff;
    auto ex = make_exact_repulsion(2);
    auto ff = make_fft_repulsion(o);
    const double Ze = run(*ex, Y, dof, Fe), Zf = run(*ff, Y, dof, Ff);
    const Tol err{rel_error(Ff, Fe), std::abs(Zf - Ze) / Ze};
    EXPECT_LT(err.force, tol.force) << what << " d=" << Y.cols() << " dof=" << dof;
    EXPECT_LT(err.z, tol.z) << what << " d=" << Y.cols() << " dof=" << dof;
    std::printf("FFT %s d=%zu dof=%.1f ints_in_interval=%.2f: force rel err %.2e, Z rel err %.2e\n", what, Y.cols(),
                dof, o.ints_in_interval, err.force, err.z);
    return err;
}

/// PCA-2 of the Fashion-MNIST subset, scaled so the layout spans about 50 units.
Matrix<double> fmnist_pca2() {
    Matrix<float> X = load_matrix<float>(std::string(NEMBED_TEST_DATA_DIR) + "/fmnist_4000_pca50.npy");
    Eigen::MatrixXd A(X.rows(), X.cols());
    for (std::size_t i = 0; i < X.rows(); ++i)
        for (std::size_t j = 0; j < X.cols(); ++j) A(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = X(i, j);
    A.rowwise() -= A.colwise().mean();
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(A.transpose() * A);
    Eigen::MatrixXd S = A * es.eigenvectors().rightCols(2);
    const double span = S.maxCoeff() - S.minCoeff();
    Matrix<double> Y(X.rows(), 2);
    for (std::size_t i = 0; i < X.rows(); ++i)
        for (std::size_t k = 0; k < 2; ++k) Y(i, k) = S(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(k)) * 50.0 / span;
    return Y;
}

} // namespace

// ------------------------------------------------------------------------------------------------ grid rules

TEST(FftGrid, FriendlySizes) {
    EXPECT_EQ(fft_friendly_size(0), 20u);
    EXPECT_EQ(fft_friendly_size(1), 20u);
    EXPECT_EQ(fft_friendly_size(20), 20u);
    EXPECT_EQ(fft_friendly_size(23), 24u);
    EXPECT_EQ(fft_friendly_size(50), 50u);
    EXPECT_EQ(fft_friendly_size(51), 52u);   // 4 * 13
    EXPECT_EQ(fft_friendly_size(53), 54u);   // 2 * 27
    EXPECT_EQ(fft_friendly_size(101), 104u); // 8 * 13
    EXPECT_EQ(fft_friendly_size(131), 132u); // 4 * 3 * 11
    EXPECT_EQ(fft_friendly_size(997), 1000u);
    EXPECT_EQ(fft_friendly_size(1000), 1000u);
    EXPECT_EQ(fft_friendly_size(1001), 1000u);
    EXPECT_EQ(fft_friendly_size(100000), 1000u);
    // The list: every value 20..1000 of the form 2^a 3^b 5^c 7^d (x 11 or x 13), 206 entries.
    std::size_t count = 0;
    for (std::size_t n = 20; n <= 1000; ++n) {
        std::size_t m = n;
        for (std::size_t f : {2u, 3u, 5u, 7u})
            while (m % f == 0) m /= f;
        const bool friendly = m == 1 || m == 11 || m == 13;
        count += friendly;
        EXPECT_EQ(fft_friendly_size(n) == n, friendly) << n;
    }
    EXPECT_EQ(count, 206u);
}

TEST(FftGrid, BoxCount) {
    EXPECT_EQ(fft_box_count(0.0, 50, 1.0), 50u);
    EXPECT_EQ(fft_box_count(1e-4, 50, 1.0), 50u);
    EXPECT_EQ(fft_box_count(50.0, 50, 1.0), 50u);
    EXPECT_EQ(fft_box_count(50.5, 50, 1.0), 52u);   // ceil -> 51 -> 52
    EXPECT_EQ(fft_box_count(100.2, 50, 1.0), 104u); // 101 -> 104
    EXPECT_EQ(fft_box_count(100.0, 50, 2.0), 50u);
    EXPECT_EQ(fft_box_count(300.0, 50, 0.5), 600u);
    EXPECT_EQ(fft_box_count(5000.0, 50, 1.0), 1000u);
    EXPECT_EQ(fft_box_count(1e300, 50, 1.0), 1000u);
    EXPECT_EQ(fft_box_count(3.0, 10, 1.0), 20u);    // below the list: 20
    EXPECT_THROW(fft_box_count(10.0, 50, 0.0), InvalidArgument);
    EXPECT_THROW(fft_box_count(10.0, 50, -1.0), InvalidArgument);
    EXPECT_THROW(fft_box_count(std::nan(""), 50, 1.0), InvalidArgument);
}

// ------------------------------------------------------------------------------------------------ accuracy

TEST(FftRepulsion, AccuracyAgainstExact) {
    // N = 2000 points in 10 Gaussian clusters (span ~100, so ~100 boxes of width ~1). Measured with openTSNE's
    // defaults (3 nodes per box, box width 1): force error 2.3e-2 .. 2.9e-2 (2-D), 2.9e-2 .. 5.3e-2 (1-D); Z error
    // 6e-3 (2-D, dof 1: the |y|² charge trick cancels), <= 6e-4 otherwise. This is the interpolation error of the
    // scheme itself (it falls 8-12x per halving of the box width, below). With 4 boxes per unit: force error
    // <= 3.5e-4, Z error <= 1.5e-4.
    for (std::size_t d : {2u, 1u}) {
        for (double dof : {1.0, 0.5, 3.0}) {
            Matrix<double> Y = clustered_layout(2000, d, 41 + d);
            check_against_exact(Y, dof, opts(2), {d == 2 ? 4e-2 : 7e-2, 1e-2}, "default");
            check_against_exact(Y, dof, fine_opts(2), {1e-3, 3e-4}, "fine");
        }
    }
}

TEST(FftRepulsion, ThirdOrderConvergence) {
    Matrix<double> Y = clustered_layout(2000, 2, 43);
    FftOptions a = opts(2), b = opts(2);
    b.ints_in_interval = 0.5;
    b.min_num_intervals = 100;
    const Tol ea = check_against_exact(Y, 1.0, a, {4e-2, 1e-2}, "width 1");
    const Tol eb = check_against_exact(Y, 1.0, b, {5e-3, 2e-3}, "width 1/2");
    EXPECT_GT(ea.force / eb.force, 5.0);  // measured 8.5 (third order: 8)
}

TEST(FftRepulsion, AccuracyOnFashionMnistLayout) {
    // PCA-2 of 4000 Fashion-MNIST images scaled to span 50 (50 boxes). Measured with the defaults: force error
    // 1.8e-2 .. 1.9e-2 (2-D), 1.7e-2 .. 2.3e-2 (1-D, first PC); Z error <= 1.1e-3.
    Matrix<double> Y = fmnist_pca2();
    Matrix<double> Y1(Y.rows(), 1);
    for (std::size_t i = 0; i < Y.rows(); ++i) Y1(i, 0) = Y(i, 0);
    for (double dof : {1.0, 0.5}) {
        check_against_exact(Y, dof, opts(2), {3e-2, 2e-3}, "fmnist default");
        check_against_exact(Y, dof, fine_opts(2), {1e-3, 3e-4}, "fmnist fine");
        check_against_exact(Y1, dof, opts(2), {3e-2, 2e-3}, "fmnist default");
        check_against_exact(Y1, dof, fine_opts(2), {1e-3, 3e-4}, "fmnist fine");
    }
}

TEST(FftRepulsion, MoreNodesPerBoxAndFinerBoxesAreMoreAccurate) {
    Matrix<double> Y = clustered_layout(1500, 2, 5);
    std::vector<double> Fe, F3, F5;
    auto ex = make_exact_repulsion(2);
    run(*ex, Y, 1.0, Fe);
    FftOptions o3 = opts(2), o5 = opts(2);
    o5.n_interpolation_points = 5;
    auto f3 = make_fft_repulsion(o3), f5 = make_fft_repulsion(o5);
    run(*f3, Y, 1.0, F3);
    run(*f5, Y, 1.0, F5);
    EXPECT_LT(rel_error(F5, Fe), rel_error(F3, Fe));
    FftOptions coarse = opts(2);
    coarse.ints_in_interval = 4.0;
    coarse.min_num_intervals = 20;
    std::vector<double> Fc;
    auto fc = make_fft_repulsion(coarse);
    run(*fc, Y, 1.0, Fc);
    EXPECT_LT(rel_error(F3, Fe), rel_error(Fc, Fe));
}

// t-SNE renumbers its points (PointOrder::hilbert), so the sums must not depend on the order the points come in,
// and each force must go back to its own point. Only the float32 grids see the order (a node adds its points in
// another order): measured 1.2e-5 (2-D) and 3.3e-5 (1-D) relative, with up to thousands of points per node here
// (5000 points on the minimum 50 boxes); the bound 1e-4 is 200x below the scheme's own error against the exact
// sums (2-3e-2 at these settings), while a point given another's force would be off by O(1).
TEST(FftRepulsion, ShuffledPointsGiveTheSameSums) {
    for (std::size_t d : {2u, 1u}) {
        const Matrix<double> Y = clustered_layout(5000, d, 31);
        std::vector<std::size_t> perm(Y.rows());
        for (std::size_t i = 0; i < perm.size(); ++i) perm[i] = (i * 7919) % perm.size();  // 7919 is prime
        Matrix<double> Ys(Y.rows(), d);
        for (std::size_t i = 0; i < perm.size(); ++i)
            for (std::size_t k = 0; k < d; ++k) Ys(i, k) = Y(perm[i], k);
        auto f = make_fft_repulsion(opts(2));
        std::vector<double> F, Fs;
        const double Z = run(*f, Y, 1.0, F), Zs = run(*f, Ys, 1.0, Fs);
        std::vector<double> back(F.size());
        for (std::size_t i = 0; i < perm.size(); ++i)
            for (std::size_t k = 0; k < d; ++k) back[perm[i] * d + k] = Fs[i * d + k];
        EXPECT_LT(rel_error(back, F), 1e-4) << "d=" << d;
        EXPECT_NEAR(Zs, Z, 1e-4 * Z) << "d=" << d;
    }
}

TEST(FftRepulsion, ThreadsAndRepeatsAgree) {
    for (std::size_t d : {2u, 1u}) {
        for (double dof : {1.0, 0.7}) {
            Matrix<double> Y = clustered_layout(5000, d, 77);
            auto f1 = make_fft_repulsion(opts(1)), f2 = make_fft_repulsion(opts(2)), f3 = make_fft_repulsion(opts(3));
            std::vector<double> F1, F2, F3, F2b;
            const double Z1 = run(*f1, Y, dof, F1), Z2 = run(*f2, Y, dof, F2), Z3 = run(*f3, Y, dof, F3);
            // The grids are bitwise identical for any thread count and every FFT row/column is one independent
            // transform, so results agree exactly (the contract promises 1e-6 relative).
            EXPECT_NEAR(Z1, Z2, 1e-6 * Z1);
            EXPECT_LT(rel_error(F2, F1), 1e-6);
            EXPECT_EQ(Z1, Z2);
            EXPECT_EQ(F1, F2);
            EXPECT_EQ(F1, F3);
            EXPECT_EQ(Z1, Z3);
            // Repeated calls (cached plans and buffers) give identical results, also after a different grid size.
            Matrix<double> big = Y;
            for (auto& v : big.storage()) v *= 3.0;
            std::vector<double> Fbig;
            run(*f2, big, dof, Fbig);
            const double Z2b = run(*f2, Y, dof, F2b);
            EXPECT_EQ(Z2, Z2b);
            EXPECT_EQ(F2, F2b);
        }
    }
}

TEST(FftRepulsion, DegenerateLayouts) {
    auto ff = make_fft_repulsion(opts(2));
    std::vector<double> F;
    // All points coincident (zero span): every pair has w = 1, forces vanish.
    Matrix<double> same(40, 2, -2.5);
    const double Z = run(*ff, same, 1.0, F);
    EXPECT_NEAR(Z, 40.0 * 39.0, 1e-3 * 40 * 39);
    for (double f : F) EXPECT_NEAR(f, 0.0, 1e-6);
    // A t-SNE start: std 1e-4.
    Matrix<double> tiny = clustered_layout(500, 2, 3);
    for (auto& v : tiny.storage()) v *= 1e-5;
    std::vector<double> Fe;
    auto ex = make_exact_repulsion(1);
    const double Zt = run(*ff, tiny, 1.0, F), Zte = run(*ex, tiny, 1.0, Fe);
    EXPECT_NEAR(Zt, Zte, 1e-3 * Zte);
    for (double f : F) EXPECT_TRUE(std::isfinite(f));
    // One point, no points, 1-D two points.
    Matrix<double> one(1, 2, 7.0);
    EXPECT_EQ(run(*ff, one, 1.0, F), 0.0);
    EXPECT_EQ(F, std::vector<double>(2, 0.0));
    Matrix<double> none(0, 2);
    EXPECT_EQ(ff->compute(none.view(), StudentTKernel(1.0), nullptr), 0.0);
    Matrix<double> two(2, 1, std::vector<double>{0.0, 1.0});
    EXPECT_NEAR(run(*ff, two, 1.0, F), 1.0, 1e-3);  // w = 1/2 each way
    EXPECT_NEAR(F[0], -0.25, 1e-3);
    EXPECT_NEAR(F[1], 0.25, 1e-3);
    // Very wide layout: the box count is capped at 1000 (coarse but finite).
    Matrix<double> wide = clustered_layout(300, 2, 8);
    for (auto& v : wide.storage()) v *= 40.0;
    const double Zw = run(*ff, wide, 1.0, F);
    EXPECT_TRUE(std::isfinite(Zw));
}

TEST(FftRepulsion, PartialAgainstExact) {
    Matrix<double> ref = fmnist_pca2();
    Matrix<double> q = clustered_layout(300, 2, 12);
    for (auto& v : q.storage()) v *= 0.25;  // inside the reference's padded grid
    // A few queries far outside the grid take the exact path.
    for (std::size_t k = 0; k < 2; ++k) {
        q(0, k) = 500.0;
        q(1, k) = -80.0;
    }
    // Measured with the defaults: force error 1.2e-2 .. 2.4e-2, z error <= 2.7e-3; 4 boxes per unit: < 1e-3.
    for (double dof : {1.0, 0.5, 3.0}) for (bool fine : {false, true}) {
        const Tol tol = fine ? Tol{1e-3, 3e-4} : Tol{3.5e-2, 5e-3};
        std::vector<double> Fe(q.size()), ze(q.rows()), Ff(q.size()), zf(q.rows());
        auto ex = make_exact_repulsion(2);
        ex->compute_partial(ref.view(), q.view(), StudentTKernel(dof), Fe.data(), ze.data());
        auto ff = make_fft_repulsion(fine ? fine_opts(2) : opts(2));
        ff->compute_partial(ref.view(), q.view(), StudentTKernel(dof), Ff.data(), zf.data());
        const double ferr = rel_error(Ff, Fe), zerr = rel_error(zf, ze);
        EXPECT_LT(ferr, tol.force) << "dof=" << dof << " fine=" << fine;
        EXPECT_LT(zerr, tol.z) << "dof=" << dof << " fine=" << fine;
        std::printf("FFT partial dof=%.1f fine=%d: force rel err %.2e, z rel err %.2e\n", dof, int(fine), ferr, zerr);
        for (std::size_t k = 0; k < 2; ++k) EXPECT_NEAR(Ff[k], Fe[k], 1e-12 * std::abs(Fe[k]) + 1e-300);
        EXPECT_NEAR(zf[0], ze[0], 1e-12 * ze[0]);
        // Cached grid: same results; a modified reference at the same address is detected.
        std::vector<double> F2(q.size()), z2(q.rows());
        ff->compute_partial(ref.view(), q.view(), StudentTKernel(dof), F2.data(), z2.data());
        EXPECT_EQ(F2, Ff);
        EXPECT_EQ(z2, zf);
        Matrix<double> moved = ref;
        Matrix<double>& r2 = moved;
        ff->compute_partial(r2.view(), q.view(), StudentTKernel(dof), F2.data(), z2.data());
        EXPECT_EQ(z2, zf);
        for (auto& v : r2.storage()) v *= 1.1;
        ff->compute_partial(r2.view(), q.view(), StudentTKernel(dof), F2.data(), z2.data());
        std::vector<double> F3(q.size()), z3(q.rows());
        ex->compute_partial(r2.view(), q.view(), StudentTKernel(dof), F3.data(), z3.data());
        EXPECT_LT(rel_error(z2, z3), tol.z);
        EXPECT_LT(rel_error(F2, F3), tol.force);
    }
    // 1-D.
    Matrix<double> r1(ref.rows(), 1), q1(q.rows(), 1);
    for (std::size_t i = 0; i < ref.rows(); ++i) r1(i, 0) = ref(i, 0);
    for (std::size_t i = 0; i < q.rows(); ++i) q1(i, 0) = q(i, 0);
    std::vector<double> Fe(q1.size()), ze(q1.rows()), Ff(q1.size()), zf(q1.rows());
    make_exact_repulsion(1)->compute_partial(r1.view(), q1.view(), StudentTKernel(1.0), Fe.data(), ze.data());
    make_fft_repulsion(fine_opts(1))->compute_partial(r1.view(), q1.view(), StudentTKernel(1.0), Ff.data(), zf.data());
    EXPECT_LT(rel_error(Ff, Fe), 1e-3);
    EXPECT_LT(rel_error(zf, ze), 3e-4);
}

TEST(FftRepulsion, BadInput) {
    FftOptions o;
    o.n_interpolation_points = 0;
    EXPECT_THROW(make_fft_repulsion(o), InvalidArgument);
    o = {};
    o.min_num_intervals = 0;
    EXPECT_THROW(make_fft_repulsion(o), InvalidArgument);
    o = {};
    o.ints_in_interval = 0.0;
    EXPECT_THROW(make_fft_repulsion(o), InvalidArgument);
    o = {};
    o.ints_in_interval = std::nan("");
    EXPECT_THROW(make_fft_repulsion(o), InvalidArgument);
    o = {};
    o.n_threads = 0;
    EXPECT_THROW(make_fft_repulsion(o), InvalidArgument);
    auto ff = make_fft_repulsion(opts(1));
    Matrix<double> Y3 = clustered_layout(10, 3, 1);
    std::vector<double> F(Y3.size()), z(Y3.rows());
    try {
        ff->compute(Y3.view(), StudentTKernel(1.0), F.data());
        ADD_FAILURE() << "3-D FFT did not throw";
    } catch (const InvalidArgument& e) {
        EXPECT_STREQ(e.what(), "FFT repulsion supports 1 or 2 output dimensions, got 3");
    }
    EXPECT_THROW(ff->compute_partial(Y3.view(), Y3.view(), StudentTKernel(1.0), F.data(), z.data()), InvalidArgument);
    Matrix<double> Y = clustered_layout(10, 2, 1);
    EXPECT_THROW(ff->compute(Y.view(), StudentTKernel(0.0), F.data()), InvalidArgument);
    EXPECT_THROW(ff->compute(Y.view(), StudentTKernel(-2.0), F.data()), InvalidArgument);
    EXPECT_THROW(ff->compute(Y.view(), StudentTKernel(1.0), nullptr), InvalidArgument);
    Y(2, 0) = std::numeric_limits<double>::infinity();
    EXPECT_THROW(ff->compute(Y.view(), StudentTKernel(1.0), F.data()), InvalidArgument);
    Y(2, 0) = std::nan("");
    EXPECT_THROW(ff->compute(Y.view(), StudentTKernel(1.0), F.data()), InvalidArgument);
    EXPECT_THROW(ff->compute_partial(Y.view(), clustered_layout(3, 2, 2).view(), StudentTKernel(1.0), F.data(), z.data()),
                 InvalidArgument);  // non-finite reference
    Matrix<double> good = clustered_layout(10, 2, 1), q1(3, 1, 0.0);
    EXPECT_THROW(ff->compute_partial(good.view(), q1.view(), StudentTKernel(1.0), F.data(), z.data()), InvalidArgument);
    EXPECT_THROW(ff->compute_partial(good.view(), good.view(), StudentTKernel(1.0), F.data(), nullptr), InvalidArgument);
}
