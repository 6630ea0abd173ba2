#pragma once
/// @file fft.hpp
/// Real-input FFTs (float32), planned once per size and reused, plus the zero-padded circular convolution that
/// FFT-accelerated interpolation needs (tsne.md §7 step 6). This is the one interface to the FFT library: the
/// backend is FFTW (GPL, faster; planned with FFTW_ESTIMATE so results are reproducible) when the build finds it,
/// or KissFFT (BSD) with -DNEMBED_FFT_BACKEND=kissfft or when FFTW is absent. `fft_backend()` says which.
///
/// Conventions: forward is unnormalised, X[k] = Σ_x x[x] e^(−2πi k x / n); inverse is unnormalised too,
/// so inverse(forward(x)) = n·x. Sizes along the last (real) dimension must be even (kiss_fftr's requirement).
/// The 2-D transform is built from 1-D real and complex transforms so that rows and columns run in parallel and
/// the all-zero half of a zero-padded input is skipped.
/// An object is not safe to use from several threads at once (it keeps scratch buffers); it uses its own workers
/// internally (RealFft2d) and the results never depend on the thread count.
#include <complex>
#include <cstddef>
#include <memory>
#include <new>
#include <vector>
#include "nembed/core/aligned.hpp"

namespace nembed {

/// "fftw" or "kissfft": the backend this build uses.
const char* fft_backend();

namespace detail {
struct FftPlanFree {
    void operator()(void* p) const;
};
using FftPlan = std::unique_ptr<void, FftPlanFree>;

/// 64-byte aligned storage (core/aligned.hpp): FFTW's SIMD codelets need aligned arrays (plans are made for aligned
/// data).
using nembed::AlignedAllocator;
using nembed::AlignedVector;
} // namespace detail

/// 1-D real FFT of even length n.
class RealFft1d {
public:
    RealFft1d() = default;
    explicit RealFft1d(std::size_t n) { plan(n); }
    /// Plans for length n (even, >= 2); does nothing when already planned for n. Throws InvalidArgument otherwise.
    void plan(std::size_t n);
    std::size_t size() const { return n_; }
    std::size_t spectrum_size() const { return n_ / 2 + 1; }

    /// out[0 .. n/2] = DFT of in[0 .. n).
    void forward(const float* in, std::complex<float>* out);
    /// out[0 .. n) = n × inverse DFT of the half spectrum in[0 .. n/2].
    void inverse(const std::complex<float>* in, float* out);
    /// out[0 .. m) = the first m values of the circular convolution (length n) of in[0 .. m), zero-padded to n,
    /// with the even kernel whose (real) DFT is spectrum[0 .. n/2]. Normalised: a delta kernel returns the input.
    /// m <= n.
    void convolve(const float* spectrum, const float* in, std::size_t m, float* out);

private:
    std::size_t n_ = 0;
    detail::FftPlan fwd_, inv_;
    detail::AlignedVector<float> buf_;
    detail::AlignedVector<std::complex<float>> spec_;
};

/// 2-D real FFT of an n0 x n1 row-major array (n1 even), threaded over rows and columns.
class RealFft2d {
public:
    RealFft2d() = default;
    RealFft2d(std::size_t n0, std::size_t n1, int n_threads = 1) { plan(n0, n1, n_threads); }
    /// Plans for n0 x n1 (n0 >= 1, n1 even >= 2) and n_threads workers; re-plans only what changed.
    void plan(std::size_t n0, std::size_t n1, int n_threads = 1);
    std::size_t rows() const { return n0_; }
    std::size_t cols() const { return n1_; }
    /// Columns of the half spectrum: n1/2 + 1.
    std::size_t spectrum_cols() const { return nc_; }

    /// out (n0 x (n1/2+1), row-major) = DFT of in (n0 x n1).
    void forward(const float* in, std::complex<float>* out);
    /// out (n0 x n1) = n0·n1 × inverse DFT of the half spectrum in (n0 x (n1/2+1)).
    void inverse(const std::complex<float>* in, float* out);
    /// Zero-padded circular convolution with an even kernel given by its real DFT `spectrum`, stored column by
    /// column: value (k0, k1) at spectrum[k1 · n0 + k0] ((n1/2+1) columns of n0; e.g. even_spectrum(), or the
    /// transposed real part of forward() of an even array), so that the column pass reads it contiguously. `in` is an m0 x m1 block (row stride
    /// in_stride) of an otherwise zero n0 x n1 array; out (m0 x m1, row stride out_stride) receives the same block of
    /// the result. Normalised (a delta kernel returns the input). Only m0 of the n0 rows are transformed.
    void convolve(const float* spectrum, const float* in, std::size_t m0, std::size_t m1, std::size_t in_stride,
                  float* out, std::size_t out_stride);
    /// The real DFT spectrum of an array that is even along both axes, column by column as convolve() reads it
    /// (value (k0, k1) at spectrum[k1 · n0 + k0])
    /// (x[a][b] = x[(n0−a) % n0][b] = x[a][(n1−b) % n1]), e.g. a kernel on a circulant lattice. Reads only rows
    /// 0..n0/2 of `in` (n0 x n1); n0 must be even. About half the work of forward(): half the rows, and real
    /// transforms for the columns.
    void even_spectrum(const float* in, float* spectrum);

private:
    /// Rows (or columns) per block of the transposes between the row transforms and the column array (fft.cpp).
        static constexpr std::size_t kBlock = 8;  ///< 8 complex values: one cache line (16 measured slower: > L1)
    struct Worker {
        detail::FftPlan row_fwd, row_inv;
        detail::AlignedVector<float> row;
        detail::AlignedVector<std::complex<float>> rows;   ///< kBlock row spectra (stride sc_)
        detail::AlignedVector<std::complex<float>> cols;   ///< forward/inverse: kBlock column spectra (stride s0_)
        detail::AlignedVector<std::complex<float>> col_a;  ///< a column's spectrum
        detail::FftPlan col_r2c;  ///< even_spectrum: real column transform (length n0)
        detail::AlignedVector<float> col_real;
    };
    /// Row transforms of rows 0..m0 (m1 values each, zero-padded), stored transposed into t_.
    void rows_forward(const float* in, std::size_t m0, std::size_t m1, std::size_t in_stride);
    /// Inverse row transforms of rows 0..m0 from t_; the first m1 values of each go to out.
    void rows_inverse(std::size_t m0, std::size_t m1, float* out, std::size_t out_stride);

    std::size_t n0_ = 0, n1_ = 0, nc_ = 0;
    std::size_t s0_ = 0, sc_ = 0;  ///< padded strides of t_ (per column) and of a block's rows: aligned starts
    int n_threads_ = 1;
    detail::FftPlan col_fwd_, col_inv_;  ///< a column of t_ to a column of a worker's block, and back
    std::vector<Worker> workers_;
    detail::AlignedVector<std::complex<float>> t_;  ///< transposed row spectra: nc columns of n0 (stride s0_)
    detail::AlignedVector<float> tr_;  ///< even_spectrum: real row spectra, transposed (stride s0r_)
    std::size_t s0r_ = 0;
};

} // namespace nembed
