// The FFT wrappers against a naive DFT. Built twice when the library uses FFTW: once against the library (FFTW)
// and once as nembed_test_fft_transforms_kissfft with src/fft/fft.cpp compiled for KissFFT, so both backends are
// tested on every build.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <string>
#include <vector>

#include "nembed/core/error.hpp"
#include "nembed/core/random.hpp"
#include "nembed/fft/fft.hpp"

using namespace nembed;

TEST(FftTransforms, Backend) {
    const std::string b = fft_backend();
    EXPECT_TRUE(b == "fftw" || b == "kissfft") << b;
#if defined(NEMBED_EXPECT_FFT_BACKEND)
    EXPECT_EQ(b, NEMBED_EXPECT_FFT_BACKEND);
#endif
}

// ------------------------------------------------------------------------------------------------ FFT wrappers

TEST(FftTransforms, OneDimensionalAgainstNaiveDft) {
    for (std::size_t n : {2u, 6u, 30u, 66u, 78u}) {
        std::vector<float> x(n);
        Rng rng(1, n);
        for (auto& v : x) v = static_cast<float>(rng.normal());
        RealFft1d f(n);
        std::vector<std::complex<float>> X(n / 2 + 1);
        f.forward(x.data(), X.data());
        for (std::size_t k = 0; k <= n / 2; ++k) {
            std::complex<double> s = 0;
            for (std::size_t t = 0; t < n; ++t) s += double(x[t]) * std::polar(1.0, -2 * M_PI * double(k * t) / double(n));
            EXPECT_NEAR(X[k].real(), s.real(), 1e-4);
            EXPECT_NEAR(X[k].imag(), s.imag(), 1e-4);
        }
        std::vector<float> back(n);
        f.inverse(X.data(), back.data());
        for (std::size_t t = 0; t < n; ++t) EXPECT_NEAR(back[t] / float(n), x[t], 1e-5);
        // Circular convolution of a zero-padded block with an even kernel.
        const std::size_t m = n / 2;
        std::vector<float> ker(n), spec(n / 2 + 1), out(m);
        for (std::size_t a = 0; a < n; ++a) {
            const double o = double(std::min(a, n - a));
            ker[a] = float(1.0 / (1.0 + o * o));
        }
        f.forward(ker.data(), X.data());
        for (std::size_t k = 0; k <= n / 2; ++k) spec[k] = X[k].real();
        f.convolve(spec.data(), x.data(), m, out.data());
        for (std::size_t i = 0; i < m; ++i) {
            double s = 0;
            for (std::size_t j = 0; j < m; ++j) s += double(ker[(i + n - j) % n]) * x[j];
            EXPECT_NEAR(out[i], s, 1e-4);
        }
    }
    EXPECT_THROW(RealFft1d(7), InvalidArgument);
    EXPECT_THROW(RealFft1d(0), InvalidArgument);
}

TEST(FftTransforms, TwoDimensionalAgainstNaiveDft) {
    for (int threads : {1, 2}) {
        const std::size_t n0 = 12, n1 = 10;
        std::vector<float> x(n0 * n1);
        Rng rng(2, 0);
        for (auto& v : x) v = static_cast<float>(rng.normal());
        RealFft2d f(n0, n1, threads);
        const std::size_t nc = n1 / 2 + 1;
        std::vector<std::complex<float>> X(n0 * nc);
        f.forward(x.data(), X.data());
        for (std::size_t k0 = 0; k0 < n0; ++k0)
            for (std::size_t k1 = 0; k1 < nc; ++k1) {
                std::complex<double> s = 0;
                for (std::size_t a = 0; a < n0; ++a)
                    for (std::size_t b = 0; b < n1; ++b)
                        s += double(x[a * n1 + b]) *
                             std::polar(1.0, -2 * M_PI * (double(k0 * a) / double(n0) + double(k1 * b) / double(n1)));
                EXPECT_NEAR(X[k0 * nc + k1].real(), s.real(), 1e-3);
                EXPECT_NEAR(X[k0 * nc + k1].imag(), s.imag(), 1e-3);
            }
        std::vector<float> back(n0 * n1);
        f.inverse(X.data(), back.data());
        for (std::size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(back[i] / float(n0 * n1), x[i], 1e-5);
        // Pruned convolution of a 6 x 5 block (stride 7) with an even kernel; output written in place.
        std::vector<float> ker(n0 * n1), spec(n0 * nc);
        for (std::size_t a = 0; a < n0; ++a)
            for (std::size_t b = 0; b < n1; ++b) {
                const double oa = double(std::min(a, n0 - a)), ob = double(std::min(b, n1 - b));
                ker[a * n1 + b] = float(1.0 / (1.0 + oa * oa + 0.5 * ob * ob));
            }
        f.forward(ker.data(), X.data());
        for (std::size_t k0 = 0; k0 < n0; ++k0)  // column by column, as convolve() reads it
            for (std::size_t k1 = 0; k1 < nc; ++k1) spec[k1 * n0 + k0] = X[k0 * nc + k1].real();
        const std::size_t m0 = 6, m1 = 5, stride = 7;
        std::vector<float> blk(m0 * stride, 0.0f);
        for (std::size_t a = 0; a < m0; ++a)
            for (std::size_t b = 0; b < m1; ++b) blk[a * stride + b] = x[a * n1 + b];
        const std::vector<float> in = blk;
        f.convolve(spec.data(), blk.data(), m0, m1, stride, blk.data(), stride);
        for (std::size_t a = 0; a < m0; ++a)
            for (std::size_t b = 0; b < m1; ++b) {
                double s = 0;
                for (std::size_t c = 0; c < m0; ++c)
                    for (std::size_t e = 0; e < m1; ++e)
                        s += double(ker[((a + n0 - c) % n0) * n1 + (b + n1 - e) % n1]) * in[c * stride + e];
                EXPECT_NEAR(blk[a * stride + b], s, 1e-4);
            }
    }
    EXPECT_THROW(RealFft2d(4, 5), InvalidArgument);
    EXPECT_THROW(RealFft2d(0, 4), InvalidArgument);
}


TEST(FftTransforms, EvenSpectrumEqualsForward) {
    for (int threads : {1, 2}) {
        for (auto [n0, n1] : {std::pair<std::size_t, std::size_t>{12, 12}, {10, 16}, {30, 30}}) {
            std::vector<float> x(n0 * n1);
            for (std::size_t a = 0; a < n0; ++a)
                for (std::size_t b = 0; b < n1; ++b) {
                    const double oa = double(std::min(a, n0 - a)), ob = double(std::min(b, n1 - b));
                    x[a * n1 + b] = float(1.0 / (1.0 + oa * oa + 0.3 * ob * ob));  // even in both axes
                }
            RealFft2d f(n0, n1, threads);
            const std::size_t nc = n1 / 2 + 1;
            std::vector<std::complex<float>> X(n0 * nc);
            f.forward(x.data(), X.data());
            std::vector<float> e(n0 * nc);
            f.even_spectrum(x.data(), e.data());
            for (std::size_t k = 0; k < e.size(); ++k) {
                const float ek = e[(k % nc) * n0 + k / nc];  // e is stored column by column
                EXPECT_NEAR(ek, X[k].real(), 1e-5 * (1 + std::abs(X[k].real()))) << n0 << "x" << n1 << " at " << k;
                EXPECT_NEAR(X[k].imag(), 0.0f, 1e-4);  // the spectrum of an even array is real
            }
        }
    }
    RealFft2d odd(7, 8);
    std::vector<float> x(56), s(7 * 5);
    EXPECT_THROW(odd.even_spectrum(x.data(), s.data()), InvalidArgument);
}
