// Every repulsion estimator with every output kernel it supports (repulsion.hpp): exact against a naive double loop
// over w and −dw/dD, Barnes-Hut θ = 0 equal to exact, Barnes-Hut θ = 0.5 and FFT within their schemes' accuracy,
// partial (transform) sums, and the refusals with their messages.
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "nembed/core/error.hpp"
#include "nembed/kernel/kernel.hpp"
#include "nembed/repulsion/repulsion.hpp"
#include "repulsion_test_util.hpp"

using namespace nembed;
using nembed::testing::clustered_layout;
using nembed::testing::rel_error;

namespace {

struct Case {
    const char* name;
    OutputKernel kernel;
};

/// The Euclidean kernels, scaled to the clustered layouts (span ~100, clusters of std 2..10).
std::vector<Case> euclidean_kernels() {
    return {{"student_t(0.5)", StudentTKernel(0.5)}, {"student_t(1)", StudentTKernel(1.0)},
            {"student_t(2)", StudentTKernel(2.0)},   {"cauchy(0.5)", CauchyKernel{0.5}},
            {"cauchy(0)", CauchyKernel{0.0}},         {"umap(default)", UmapCurve{}},
            {"umap(b=1.2)", UmapCurve{1.0, 1.2}},     {"umap(b=0.5)", UmapCurve{1.0, 0.5}},
            {"gaussian(h=50)", GaussianKernel{50.0}}};
}

double w_of(const OutputKernel& k, double D) {
    return std::visit([D](const auto& kk) { return kk.w(D); }, k);
}

/// −dw/dD by a central difference of w (relative step 1e-5; D > 0), so the naive sums do not share the library's
/// force_weight.
double force_fd(const OutputKernel& k, double D) {
    const double h = 1e-5 * D;
    return -(w_of(k, D + h) - w_of(k, D - h)) / (2 * h);
}

/// The Repulsion contract by a double loop: Z = Σ w, F_i = Σ (−dw/dD)(y_i − y_j).
double naive(const Matrix<double>& Y, const OutputKernel& k, std::vector<double>& F) {
    const std::size_t n = Y.rows(), d = Y.cols();
    F.assign(n * d, 0.0);
    double Z = 0.0;
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j) {
            if (i == j) continue;
            double D = 0.0;
            for (std::size_t c = 0; c < d; ++c) D += (Y(i, c) - Y(j, c)) * (Y(i, c) - Y(j, c));
            Z += w_of(k, D);
            const double f = force_fd(k, D);
            for (std::size_t c = 0; c < d; ++c) F[i * d + c] += f * (Y(i, c) - Y(j, c));
        }
    return Z;
}

double run(Repulsion& r, const Matrix<double>& Y, const OutputKernel& k, std::vector<double>& F) {
    F.assign(Y.size(), std::numeric_limits<double>::quiet_NaN());
    return r.compute(Y.view(), k, F.data());
}

std::string message_of(Repulsion& r, const Matrix<double>& Y, const OutputKernel& k) {
    std::vector<double> F(Y.size());
    try {
        r.compute(Y.view(), k, F.data());
    } catch (const InvalidArgument& e) {
        return e.what();
    }
    return "no exception";
}

FftOptions fine_fft() {
    FftOptions o;
    o.ints_in_interval = 0.25;
    o.min_num_intervals = 200;
    o.n_threads = 2;
    return o;
}

} // namespace

// Exact against the naive loop: the only difference is the finite-difference force weight (relative error ~1e-10),
// so forces agree to 1e-8 and Z to 1e-13.
TEST(RepulsionKernels, ExactMatchesNaiveForEveryEuclideanKernel) {
    for (const Case& c : euclidean_kernels()) {
        for (std::size_t d : {1u, 2u, 4u}) {
            Matrix<double> Y = clustered_layout(200, d, 3 + d);
            std::vector<double> Fn, F;
            const double Zn = naive(Y, c.kernel, Fn);
            auto ex = make_exact_repulsion(2);
            const double Z = run(*ex, Y, c.kernel, F);
            EXPECT_NEAR(Z, Zn, 1e-13 * Zn) << c.name << " d=" << d;
            EXPECT_LT(rel_error(F, Fn), 1e-8) << c.name << " d=" << d;
        }
    }
}

// θ = 0 opens every cell down to the leaves: the same pairs as exact, summed in tree order (~1e-12 relative).
TEST(RepulsionKernels, BarnesHutThetaZeroEqualsExact) {
    for (const Case& c : euclidean_kernels()) {
        for (std::size_t d : {1u, 2u, 3u}) {
            Matrix<double> Y = clustered_layout(600, d, 13 + d);
            std::vector<double> Fe, Fb;
            auto ex = make_exact_repulsion(1);
            auto bh = make_barnes_hut_repulsion(0.0, 2);
            const double Ze = run(*ex, Y, c.kernel, Fe), Zb = run(*bh, Y, c.kernel, Fb);
            EXPECT_NEAR(Zb, Ze, 1e-12 * Ze) << c.name << " d=" << d;
            EXPECT_LT(rel_error(Fb, Fe), 1e-12) << c.name << " d=" << d;
        }
    }
}

// θ = 0.5: the monopole error of every kernel, singular ones included (θ < 1/√d keeps summarised cells away from
// the query). Bounds: the Student-t ones of test_repulsion_exact_bh (3e-2 force, 1.5e-2 Z); measured values printed.
TEST(RepulsionKernels, BarnesHutAccuracyForEveryEuclideanKernel) {
    for (const Case& c : euclidean_kernels()) {
        for (std::size_t d : {2u, 3u}) {
            Matrix<double> Y = clustered_layout(2000, d, 41 + d);
            std::vector<double> Fe, Fb;
            auto ex = make_exact_repulsion(2);
            auto bh = make_barnes_hut_repulsion(0.5, 2);
            const double Ze = run(*ex, Y, c.kernel, Fe), Zb = run(*bh, Y, c.kernel, Fb);
            const double ferr = rel_error(Fb, Fe), zerr = std::abs(Zb - Ze) / Ze;
            EXPECT_LT(ferr, 3e-2) << c.name << " d=" << d;
            EXPECT_LT(zerr, 1.5e-2) << c.name << " d=" << d;
            std::printf("BH theta=0.5 %-15s d=%zu: force rel err %.2e, Z rel err %.2e\n", c.name, d, ferr, zerr);
        }
    }
}

// FFT with the general two-spectrum path. On a fine grid (4 boxes per unit) the interpolation error is small for
// every smooth kernel; at the defaults (box width ~1) it is the scheme's (openTSNE's) accuracy for the kernels that
// vary on scales above the box width (Cauchy ε = 0.5 has width √ε ≈ 0.7 and is checked on the fine grid only).
// Measured (printed): defaults ≤ 3.7e-2 force, ≤ 6.4e-3 Z; fine ≤ 1.8e-3 force, ≤ 1e-4 Z. Bounds ~2-3x above.
TEST(RepulsionKernels, FftMatchesExactForSmoothKernels) {
    struct Smooth {
        Case c;
        bool at_defaults;
    };
    const std::vector<Smooth> smooth = {{{"student_t(0.5)", StudentTKernel(0.5)}, true},
                                        {{"student_t(1)", StudentTKernel(1.0)}, true},
                                        {{"student_t(3)", StudentTKernel(3.0)}, true},
                                        {{"cauchy(0.5)", CauchyKernel{0.5}}, false},
                                        {{"cauchy(2)", CauchyKernel{2.0}}, true},
                                        {{"umap(b=1)", UmapCurve{1.0, 1.0}}, true},
                                        {{"umap(a=0.1,b=2)", UmapCurve{0.1, 2.0}}, true},
                                        {{"gaussian(h=50)", GaussianKernel{50.0}}, true}};
    for (const Smooth& s : smooth) {
        const Case& c = s.c;
        for (std::size_t d : {1u, 2u}) {
            Matrix<double> Y = clustered_layout(2000, d, 51 + d);
            std::vector<double> Fe, Fd, Ff;
            auto ex = make_exact_repulsion(2);
            const double Ze = run(*ex, Y, c.kernel, Fe);
            auto ff = make_fft_repulsion(fine_fft());
            const double Zf = run(*ff, Y, c.kernel, Ff);
            const double ff_err = rel_error(Ff, Fe), zf_err = std::abs(Zf - Ze) / Ze;
            EXPECT_LT(ff_err, 5e-3) << c.name << " d=" << d;
            EXPECT_LT(zf_err, 3e-4) << c.name << " d=" << d;
            std::printf("FFT %-16s d=%zu: fine force %.2e Z %.2e", c.name, d, ff_err, zf_err);
            if (s.at_defaults) {
                FftOptions def;
                def.n_threads = 2;
                auto fd = make_fft_repulsion(def);
                const double Zd = run(*fd, Y, c.kernel, Fd);
                const double fd_err = rel_error(Fd, Fe), zd_err = std::abs(Zd - Ze) / Ze;
                std::printf(" | defaults force %.2e Z %.2e", fd_err, zd_err);
                EXPECT_LT(fd_err, 6e-2) << c.name << " d=" << d;
                EXPECT_LT(zd_err, 1.5e-2) << c.name << " d=" << d;
            }
            std::printf("\n");
        }
    }
}

// compute_partial with non-Student-t kernels: exact and BH(0) against the naive per-query sums, FFT on a fine grid
// within its accuracy, and the FFT cache keyed on the kernel (a second kernel on the same reference is recomputed).
TEST(RepulsionKernels, PartialSumsForOtherKernels) {
    Matrix<double> ref = clustered_layout(1200, 2, 61);
    Matrix<double> q = clustered_layout(150, 2, 62);
    for (const Case& c : {Case{"cauchy(0.5)", CauchyKernel{0.5}}, Case{"umap(b=1)", UmapCurve{1.0, 1.0}},
                          Case{"gaussian(h=50)", GaussianKernel{50.0}}}) {
        std::vector<double> Fn(q.size(), 0.0), zn(q.rows(), 0.0);
        for (std::size_t i = 0; i < q.rows(); ++i)
            for (std::size_t j = 0; j < ref.rows(); ++j) {
                const double dx = q(i, 0) - ref(j, 0), dy = q(i, 1) - ref(j, 1), D = dx * dx + dy * dy;
                zn[i] += w_of(c.kernel, D);
                Fn[2 * i] += force_fd(c.kernel, D) * dx;
                Fn[2 * i + 1] += force_fd(c.kernel, D) * dy;
            }
        std::vector<double> F(q.size()), z(q.rows());
        make_exact_repulsion(2)->compute_partial(ref.view(), q.view(), c.kernel, F.data(), z.data());
        EXPECT_LT(rel_error(F, Fn), 1e-8) << c.name;
        EXPECT_LT(rel_error(z, zn), 1e-13) << c.name;
        make_barnes_hut_repulsion(0.0, 2)->compute_partial(ref.view(), q.view(), c.kernel, F.data(), z.data());
        EXPECT_LT(rel_error(F, Fn), 1e-8) << c.name;
        EXPECT_LT(rel_error(z, zn), 1e-12) << c.name;
        auto ff = make_fft_repulsion(fine_fft());
        ff->compute_partial(ref.view(), q.view(), StudentTKernel(1.0), F.data(), z.data());  // fills the cache
        ff->compute_partial(ref.view(), q.view(), c.kernel, F.data(), z.data());
        EXPECT_LT(rel_error(F, Fn), 5e-3) << c.name;
        EXPECT_LT(rel_error(z, zn), 3e-4) << c.name;
    }
}

TEST(RepulsionKernels, RefusalsNameEstimatorKernelAndReason) {
    Matrix<double> Y2 = clustered_layout(20, 2, 1), Y1 = clustered_layout(20, 1, 1), Y3 = clustered_layout(20, 3, 1);
    auto ex = make_exact_repulsion(1);
    auto bh = make_barnes_hut_repulsion(0.5, 1);
    auto ff = make_fft_repulsion();
    auto has = [](const std::string& msg, const std::string& part) {
        return msg.find(part) != std::string::npos;
    };
    // Cosine: every estimator refuses it, naming itself, the kernel and the sphere.
    for (Repulsion* r : {ex.get(), bh.get(), ff.get()}) {
        const std::string m = message_of(*r, Y2, CosineKernel{0.5});
        EXPECT_TRUE(has(m, r->name() + " does not support the cosine(temperature=")) << m;
        EXPECT_TRUE(has(m, "unit sphere")) << m;
        EXPECT_FALSE(r->supports(CosineKernel{0.5}, 2));
        std::vector<double> F(Y2.size()), z(Y2.rows());
        EXPECT_THROW(r->compute_partial(Y2.view(), Y2.view(), CosineKernel{0.5}, F.data(), z.data()), InvalidArgument);
    }
    // FFT: the kernels not smooth at D = 0.
    {
        const std::string m = message_of(*ff, Y2, CauchyKernel{0.0});
        EXPECT_TRUE(has(m, "FFT repulsion does not support the cauchy(eps=0")) << m;
        EXPECT_TRUE(has(m, "unbounded at D = 0")) << m;
        const std::string u = message_of(*ff, Y2, UmapCurve{});
        EXPECT_TRUE(has(u, "FFT repulsion does not support the umap(")) << u;
        EXPECT_TRUE(has(u, "cusp")) << u;
        EXPECT_FALSE(ff->supports(UmapCurve{}, 2));
        const std::string u12 = message_of(*ff, Y2, UmapCurve{1.0, 1.2});
        EXPECT_TRUE(has(u12, "non-integer b")) << u12;
        EXPECT_TRUE(ff->supports(UmapCurve{1.0, 1.0}, 2));
        EXPECT_TRUE(ff->supports(UmapCurve{0.1, 2.0}, 1));
        EXPECT_TRUE(ff->supports(CauchyKernel{1e-3}, 1));
        EXPECT_TRUE(ff->supports(GaussianKernel{1.0}, 2));
        EXPECT_FALSE(ff->supports(StudentTKernel(1.0), 3));
    }
    // Barnes-Hut: singular kernels need θ < 1/√d (0.5 < 1/√3 passes in 1..3-D; 0.8 passes only in 1-D).
    {
        EXPECT_TRUE(bh->supports(CauchyKernel{0.0}, 3));
        EXPECT_TRUE(bh->supports(UmapCurve{}, 3));
        auto bh8 = make_barnes_hut_repulsion(0.8, 1);
        EXPECT_TRUE(bh8->supports(CauchyKernel{0.0}, 1));
        EXPECT_FALSE(bh8->supports(CauchyKernel{0.0}, 2));
        EXPECT_FALSE(bh8->supports(UmapCurve{1.0, 0.5}, 2));
        EXPECT_TRUE(bh8->supports(UmapCurve{1.0, 1.2}, 3));  // bounded force weight: any θ
        EXPECT_TRUE(bh8->supports(CauchyKernel{0.5}, 3));
        const std::string m = message_of(*bh8, Y2, CauchyKernel{0.0});
        EXPECT_TRUE(has(m, "Barnes-Hut repulsion does not support the cauchy(eps=0")) << m;
        EXPECT_TRUE(has(m, "in 2 dimensions")) << m;
        EXPECT_TRUE(has(m, "theta < 1/sqrt(d) = 0.707")) << m;
        std::vector<double> F(Y1.size());
        EXPECT_NO_THROW(bh8->compute(Y1.view(), CauchyKernel{0.0}, F.data()));
        auto bh6 = make_barnes_hut_repulsion(0.6, 1);
        EXPECT_TRUE(has(message_of(*bh6, Y3, UmapCurve{}), "theta < 1/sqrt(d) = 0.577")) << message_of(*bh6, Y3, UmapCurve{});
        EXPECT_FALSE(bh->supports(StudentTKernel(1.0), 4));
    }
    // Exact takes every Euclidean kernel in any dimension.
    for (const Case& c : euclidean_kernels()) EXPECT_TRUE(ex->supports(c.kernel, 7)) << c.name;
    // Kernel parameters out of range: the estimator and the parameter are named.
    const std::string m = message_of(*ex, Y2, GaussianKernel{-1.0});
    EXPECT_TRUE(has(m, "exact repulsion: Gaussian kernel: bandwidth must be positive")) << m;
    EXPECT_TRUE(has(message_of(*bh, Y2, UmapCurve{1.0, 0.0}), "Barnes-Hut repulsion: UMAP kernel: b")) << "b = 0";
    EXPECT_TRUE(has(message_of(*ff, Y2, CauchyKernel{std::nan("")}), "FFT repulsion: Cauchy kernel: eps")) << "eps nan";
}
