#include "nembed/fft/fft.hpp"

#include <algorithm>
#include <cstdlib>
#include <string>

#if defined(NEMBED_FFT_FFTW)
#include <fftw3.h>

#include <mutex>
#else
#include <kiss_fft.h>
#include <kiss_fftr.h>
#endif

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"

namespace nembed {

// The backend: plans for 1-D real and complex transforms and out-of-place execution. c2r may overwrite its input
// (FFTW does); callers pass scratch there.
namespace {
using cpx = std::complex<float>;
}

#if defined(NEMBED_FFT_FFTW)
namespace {
// FFTW's planner is not thread-safe; execution with the new-array functions is.
std::mutex& planner_mutex() {
    static std::mutex m;
    return m;
}
// ESTIMATE: the same algorithm, so the same bits, on every run. Plans are made on 64-byte aligned arrays and every
// call passes 64-byte aligned arrays (detail::AlignedVector, padded strides), so FFTW may use its SIMD codelets.
constexpr unsigned kFlags = FFTW_ESTIMATE;

detail::FftPlan real_plan(std::size_t n, bool inverse) {
    std::lock_guard<std::mutex> lock(planner_mutex());
    float* r = fftwf_alloc_real(n);
    fftwf_complex* c = fftwf_alloc_complex(n / 2 + 1);
    fftwf_plan p = inverse ? fftwf_plan_dft_c2r_1d(static_cast<int>(n), c, r, kFlags)
                           : fftwf_plan_dft_r2c_1d(static_cast<int>(n), r, c, kFlags);
    fftwf_free(r);
    fftwf_free(c);
    if (!p) throw InvalidArgument("FFT: could not plan a real transform of length " + std::to_string(n));
    return detail::FftPlan(static_cast<void*>(p));
}
// Out of place: FFTW_ESTIMATE's in-place plans of these lengths measured ~25 % slower.
detail::FftPlan complex_plan(std::size_t n, bool inverse) {
    std::lock_guard<std::mutex> lock(planner_mutex());
    fftwf_complex* a = fftwf_alloc_complex(n);
    fftwf_complex* b = fftwf_alloc_complex(n);
    fftwf_plan p = fftwf_plan_dft_1d(static_cast<int>(n), a, b, inverse ? FFTW_BACKWARD : FFTW_FORWARD, kFlags);
    fftwf_free(a);
    fftwf_free(b);
    if (!p) throw InvalidArgument("FFT: could not plan a complex transform of length " + std::to_string(n));
    return detail::FftPlan(static_cast<void*>(p));
}
fftwf_plan fp(const detail::FftPlan& p) { return static_cast<fftwf_plan>(p.get()); }
void r2c(const detail::FftPlan& p, const float* in, cpx* out) {
    fftwf_execute_dft_r2c(fp(p), const_cast<float*>(in), reinterpret_cast<fftwf_complex*>(out));
}
void c2r(const detail::FftPlan& p, cpx* in, float* out) {
    fftwf_execute_dft_c2r(fp(p), reinterpret_cast<fftwf_complex*>(in), out);
}
void c2c(const detail::FftPlan& p, const cpx* in, cpx* out) {
    fftwf_execute_dft(fp(p), reinterpret_cast<fftwf_complex*>(const_cast<cpx*>(in)),
                      reinterpret_cast<fftwf_complex*>(out));
}
} // namespace

namespace detail {
void FftPlanFree::operator()(void* p) const {
    std::lock_guard<std::mutex> lock(planner_mutex());
    fftwf_destroy_plan(static_cast<fftwf_plan>(p));
}
} // namespace detail

const char* fft_backend() { return "fftw"; }


#else
namespace {
kiss_fft_cpx* kc(cpx* p) { return reinterpret_cast<kiss_fft_cpx*>(p); }

detail::FftPlan real_plan(std::size_t n, bool inverse) {
    void* p = kiss_fftr_alloc(static_cast<int>(n), inverse ? 1 : 0, nullptr, nullptr);
    if (!p) throw InvalidArgument("FFT: could not plan a real transform of length " + std::to_string(n));
    return detail::FftPlan(p);
}
detail::FftPlan complex_plan(std::size_t n, bool inverse) {
    void* p = kiss_fft_alloc(static_cast<int>(n), inverse ? 1 : 0, nullptr, nullptr);
    if (!p) throw InvalidArgument("FFT: could not plan a complex transform of length " + std::to_string(n));
    return detail::FftPlan(p);
}
void r2c(const detail::FftPlan& p, const float* in, cpx* out) {
    kiss_fftr(static_cast<kiss_fftr_cfg>(p.get()), in, kc(out));
}
void c2r(const detail::FftPlan& p, cpx* in, float* out) {
    kiss_fftri(static_cast<kiss_fftr_cfg>(p.get()), kc(in), out);
}
void c2c(const detail::FftPlan& p, const cpx* in, cpx* out) {
    kiss_fft(static_cast<kiss_fft_cfg>(p.get()), reinterpret_cast<const kiss_fft_cpx*>(in), kc(out));
}
} // namespace

namespace detail {
void FftPlanFree::operator()(void* p) const { kiss_fft_free(p); }
} // namespace detail

const char* fft_backend() { return "kissfft"; }
#endif

namespace {

constexpr std::size_t kMaxFftSize = std::size_t(1) << 28;

} // namespace

// ------------------------------------------------------------------------------------------------ 1-D

void RealFft1d::plan(std::size_t n) {
    if (n == n_ && fwd_) return;
    require(n >= 2 && n % 2 == 0, "RealFft1d: length must be even and >= 2, got " + std::to_string(n));
    require(n <= kMaxFftSize, "RealFft1d: length too large: " + std::to_string(n));
    fwd_ = real_plan(n, false);
    inv_ = real_plan(n, true);
    n_ = n;
    buf_.assign(n, 0.0f);
    spec_.assign(n / 2 + 1, {});
}

void RealFft1d::forward(const float* in, std::complex<float>* out) {
    require(n_ > 0, "RealFft1d: not planned");
    std::copy(in, in + n_, buf_.begin());  // callers' arrays need not be aligned
    r2c(fwd_, buf_.data(), spec_.data());
    std::copy(spec_.begin(), spec_.end(), out);
}

void RealFft1d::inverse(const std::complex<float>* in, float* out) {
    require(n_ > 0, "RealFft1d: not planned");
    std::copy(in, in + spec_.size(), spec_.begin());  // aligned, and the backend may overwrite a c2r input
    c2r(inv_, spec_.data(), buf_.data());
    std::copy(buf_.begin(), buf_.end(), out);
}

void RealFft1d::convolve(const float* spectrum, const float* in, std::size_t m, float* out) {
    require(n_ > 0, "RealFft1d: not planned");
    require(m <= n_, "RealFft1d::convolve: block longer than the transform");
    std::copy(in, in + m, buf_.begin());
    std::fill(buf_.begin() + static_cast<std::ptrdiff_t>(m), buf_.end(), 0.0f);
    r2c(fwd_, buf_.data(), spec_.data());
    const float scale = 1.0f / static_cast<float>(n_);
    for (std::size_t k = 0; k < spec_.size(); ++k) spec_[k] *= spectrum[k] * scale;
    c2r(inv_, spec_.data(), buf_.data());
    std::copy(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(m), out);
}

// ------------------------------------------------------------------------------------------------ 2-D

void RealFft2d::plan(std::size_t n0, std::size_t n1, int n_threads) {
    require(n0 >= 1, "RealFft2d: need at least one row");
    require(n1 >= 2 && n1 % 2 == 0, "RealFft2d: the number of columns must be even and >= 2, got " + std::to_string(n1));
    require(n0 <= kMaxFftSize / n1, "RealFft2d: transform too large: " + std::to_string(n0) + " x " + std::to_string(n1));
    n_threads = std::max(1, n_threads);
    if (n0 == n0_ && n1 == n1_ && n_threads == n_threads_ && col_fwd_ && !workers_.empty()) return;
    const bool new_rows = n0 != n0_ || !col_fwd_;
    const bool new_cols = n1 != n1_ || workers_.empty();
    if (new_rows) {
        col_fwd_ = complex_plan(n0, false);
        col_inv_ = complex_plan(n0, true);
    }
    if (new_cols) workers_.clear();
    n0_ = n0;
    n1_ = n1;
    nc_ = n1 / 2 + 1;
    n_threads_ = n_threads;
    s0_ = (n0 + 7) / 8 * 8;  // 8 complex floats = 64 bytes
    sc_ = (nc_ + 7) / 8 * 8;
    const std::size_t old = workers_.size();
    workers_.resize(static_cast<std::size_t>(n_threads));
    for (std::size_t w = 0; w < workers_.size(); ++w) {
        Worker& wk = workers_[w];
        if (w >= old || new_cols) {
            wk.row_fwd = real_plan(n1, false);
            wk.row_inv = real_plan(n1, true);
        }
        wk.row.assign(n1, 0.0f);
        wk.rows.assign(kBlock * sc_, {});
        wk.col_a.assign(n0, {});
        wk.cols.assign(kBlock * s0_, {});
        wk.col_r2c.reset();  // planned on first use by even_spectrum (n0 even)
        wk.col_real.assign(n0, 0.0f);
    }
    t_.resize(nc_ * s0_);
}

// The transposes between row-major rows and the transposed column array t_ go kBlock rows (or columns) at a time
// through a worker's small buffer, so that every cache line of t_ (and of the row-major side) is written or read whole
// (kBlock = 16 complex values = two lines) instead of one value per line; each transform itself is unchanged.

void RealFft2d::rows_forward(const float* in, std::size_t m0, std::size_t m1, std::size_t in_stride) {
    const std::size_t nc = nc_, s0 = s0_, sc = sc_, B = kBlock;
    parallelize(n_threads_, (m0 + B - 1) / B, [&](int w, std::size_t b0, std::size_t b1) {
        Worker& wk = workers_[static_cast<std::size_t>(w)];
        for (std::size_t blk = b0; blk < b1; ++blk) {
            const std::size_t r0 = blk * B, r1 = std::min(m0, r0 + B);
            for (std::size_t r = r0; r < r1; ++r) {
                std::copy(in + r * in_stride, in + r * in_stride + m1, wk.row.begin());  // aligned copy for the plan
                std::fill(wk.row.begin() + static_cast<std::ptrdiff_t>(m1), wk.row.end(), 0.0f);
                r2c(wk.row_fwd, wk.row.data(), wk.rows.data() + (r - r0) * sc);
            }
            for (std::size_t c = 0; c < nc; ++c)
                for (std::size_t r = r0; r < r1; ++r) t_[c * s0 + r] = wk.rows[(r - r0) * sc + c];
        }
    });
}

void RealFft2d::rows_inverse(std::size_t m0, std::size_t m1, float* out, std::size_t out_stride) {
    const std::size_t nc = nc_, s0 = s0_, sc = sc_, B = kBlock;
    parallelize(n_threads_, (m0 + B - 1) / B, [&](int w, std::size_t b0, std::size_t b1) {
        Worker& wk = workers_[static_cast<std::size_t>(w)];
        for (std::size_t blk = b0; blk < b1; ++blk) {
            const std::size_t r0 = blk * B, r1 = std::min(m0, r0 + B);
            for (std::size_t c = 0; c < nc; ++c)
                for (std::size_t r = r0; r < r1; ++r) wk.rows[(r - r0) * sc + c] = t_[c * s0 + r];
            for (std::size_t r = r0; r < r1; ++r) {
                c2r(wk.row_inv, wk.rows.data() + (r - r0) * sc, wk.row.data());
                std::copy(wk.row.begin(), wk.row.begin() + static_cast<std::ptrdiff_t>(m1), out + r * out_stride);
            }
        }
    });
}

void RealFft2d::forward(const float* in, std::complex<float>* out) {
    require(n0_ > 0, "RealFft2d: not planned");
    const std::size_t n0 = n0_, nc = nc_, s0 = s0_, B = kBlock;
    rows_forward(in, n0, n1_, n1_);
    parallelize(n_threads_, (nc + B - 1) / B, [&](int w, std::size_t b0, std::size_t b1) {
        Worker& wk = workers_[static_cast<std::size_t>(w)];
        for (std::size_t blk = b0; blk < b1; ++blk) {
            const std::size_t c0 = blk * B, c1 = std::min(nc, c0 + B);
            for (std::size_t c = c0; c < c1; ++c) c2c(col_fwd_, t_.data() + c * s0, wk.cols.data() + (c - c0) * s0);
            for (std::size_t r = 0; r < n0; ++r)
                for (std::size_t c = c0; c < c1; ++c) out[r * nc + c] = wk.cols[(c - c0) * s0 + r];
        }
    });
}

void RealFft2d::inverse(const std::complex<float>* in, float* out) {
    require(n0_ > 0, "RealFft2d: not planned");
    const std::size_t n0 = n0_, nc = nc_, s0 = s0_, B = kBlock;
    parallelize(n_threads_, (nc + B - 1) / B, [&](int w, std::size_t b0, std::size_t b1) {
        Worker& wk = workers_[static_cast<std::size_t>(w)];
        for (std::size_t blk = b0; blk < b1; ++blk) {
            const std::size_t c0 = blk * B, c1 = std::min(nc, c0 + B);
            for (std::size_t r = 0; r < n0; ++r)
                for (std::size_t c = c0; c < c1; ++c) wk.cols[(c - c0) * s0 + r] = in[r * nc + c];
            for (std::size_t c = c0; c < c1; ++c) c2c(col_inv_, wk.cols.data() + (c - c0) * s0, t_.data() + c * s0);
        }
    });
    rows_inverse(n0, n1_, out, n1_);
}

void RealFft2d::convolve(const float* spectrum, const float* in, std::size_t m0, std::size_t m1,
                         std::size_t in_stride, float* out, std::size_t out_stride) {
    require(n0_ > 0, "RealFft2d: not planned");
    require(m0 <= n0_ && m1 <= n1_, "RealFft2d::convolve: block larger than the transform");
    const std::size_t n0 = n0_, nc = nc_, s0 = s0_;
    // Rows: only the m0 non-zero rows; their spectra are stored transposed (column c at t_[c * s0]).
    rows_forward(in, m0, m1, in_stride);
    // Columns: forward, multiply by the (real) kernel spectrum, stored column by column so that this product reads
    // it contiguously, inverse back into t_.
    const float scale = 1.0f / (static_cast<float>(n0) * static_cast<float>(n1_));
    parallelize(n_threads_, nc, [&](int w, std::size_t b, std::size_t e) {
        Worker& wk = workers_[static_cast<std::size_t>(w)];
        for (std::size_t c = b; c < e; ++c) {
            std::complex<float>* col = t_.data() + c * s0;
            std::fill(col + m0, col + n0, std::complex<float>(0.0f, 0.0f));
            c2c(col_fwd_, col, wk.col_a.data());
            const float* k = spectrum + c * n0;
            for (std::size_t r = 0; r < n0; ++r) wk.col_a[r] *= k[r] * scale;
            c2c(col_inv_, wk.col_a.data(), col);
        }
    });
    // Rows back: only the m0 rows that are kept.
    rows_inverse(m0, m1, out, out_stride);
}

void RealFft2d::even_spectrum(const float* in, float* spectrum) {
    require(n0_ > 0, "RealFft2d: not planned");
    require(n0_ % 2 == 0, "RealFft2d::even_spectrum: the number of rows must be even");
    const std::size_t n0 = n0_, nc = nc_, h0 = n0 / 2, sc = sc_, B = kBlock;
    s0r_ = (n0 + 15) / 16 * 16;  // 16 floats = 64 bytes
    tr_.resize(nc * s0r_);
    for (auto& wk : workers_)
        if (!wk.col_r2c) wk.col_r2c = real_plan(n0, false);  // planning is serial
    // Rows 0..n0/2: an even real row has a real spectrum; rows beyond mirror them.
    parallelize(n_threads_, (h0 + 1 + B - 1) / B, [&](int w, std::size_t b0, std::size_t b1) {
        Worker& wk = workers_[static_cast<std::size_t>(w)];
        for (std::size_t blk = b0; blk < b1; ++blk) {
            const std::size_t r0 = blk * B, r1 = std::min(h0 + 1, r0 + B);
            for (std::size_t r = r0; r < r1; ++r) {
                std::copy(in + r * n1_, in + (r + 1) * n1_, wk.row.begin());
                r2c(wk.row_fwd, wk.row.data(), wk.rows.data() + (r - r0) * sc);
            }
            for (std::size_t c = 0; c < nc; ++c)
                for (std::size_t r = r0; r < r1; ++r) tr_[c * s0r_ + r] = wk.rows[(r - r0) * sc + c].real();
        }
    });
    // Columns: real and even, so a real transform with a real (even) result, written as column c of the spectrum.
    parallelize(n_threads_, nc, [&](int w, std::size_t b, std::size_t e) {
        Worker& wk = workers_[static_cast<std::size_t>(w)];
        for (std::size_t c = b; c < e; ++c) {
            float* col = wk.col_real.data();
            const float* t = tr_.data() + c * s0r_;
            for (std::size_t r = 0; r <= h0; ++r) col[r] = t[r];
            for (std::size_t r = h0 + 1; r < n0; ++r) col[r] = t[n0 - r];
            r2c(wk.col_r2c, col, wk.col_a.data());
            float* res = spectrum + c * n0;
            for (std::size_t k = 0; k <= h0; ++k) res[k] = wk.col_a[k].real();
            for (std::size_t k = h0 + 1; k < n0; ++k) res[k] = res[n0 - k];
        }
    });
}

} // namespace nembed
