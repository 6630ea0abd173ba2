#include "nembed/fft/fft.hpp"

#include <algorithm>
#include <cstdlib>
#include <string>

#include <kiss_fft.h>
#include <kiss_fftr.h>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"

namespace nembed {

namespace detail {
void KissFree::operator()(void* p) const { kiss_fft_free(p); }
} // namespace detail

namespace {

kiss_fft_cpx* kc(std::complex<float>* p) { return reinterpret_cast<kiss_fft_cpx*>(p); }
const kiss_fft_cpx* kc(const std::complex<float>* p) { return reinterpret_cast<const kiss_fft_cpx*>(p); }

detail::KissPlan real_plan(std::size_t n, bool inverse) {
    void* p = kiss_fftr_alloc(static_cast<int>(n), inverse ? 1 : 0, nullptr, nullptr);
    if (!p) throw InvalidArgument("FFT: could not plan a real transform of length " + std::to_string(n));
    return detail::KissPlan(p);
}
detail::KissPlan complex_plan(std::size_t n, bool inverse) {
    void* p = kiss_fft_alloc(static_cast<int>(n), inverse ? 1 : 0, nullptr, nullptr);
    if (!p) throw InvalidArgument("FFT: could not plan a complex transform of length " + std::to_string(n));
    return detail::KissPlan(p);
}
kiss_fftr_cfg rcfg(const detail::KissPlan& p) { return static_cast<kiss_fftr_cfg>(p.get()); }
kiss_fft_cfg ccfg(const detail::KissPlan& p) { return static_cast<kiss_fft_cfg>(p.get()); }

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
    kiss_fftr(rcfg(fwd_), in, kc(out));
}

void RealFft1d::inverse(const std::complex<float>* in, float* out) {
    require(n_ > 0, "RealFft1d: not planned");
    kiss_fftri(rcfg(inv_), kc(in), out);
}

void RealFft1d::convolve(const float* spectrum, const float* in, std::size_t m, float* out) {
    require(n_ > 0, "RealFft1d: not planned");
    require(m <= n_, "RealFft1d::convolve: block longer than the transform");
    std::copy(in, in + m, buf_.begin());
    std::fill(buf_.begin() + static_cast<std::ptrdiff_t>(m), buf_.end(), 0.0f);
    kiss_fftr(rcfg(fwd_), buf_.data(), kc(spec_.data()));
    const float scale = 1.0f / static_cast<float>(n_);
    for (std::size_t k = 0; k < spec_.size(); ++k) spec_[k] *= spectrum[k] * scale;
    kiss_fftri(rcfg(inv_), kc(spec_.data()), buf_.data());
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
    const std::size_t old = workers_.size();
    workers_.resize(static_cast<std::size_t>(n_threads));
    for (std::size_t w = 0; w < workers_.size(); ++w) {
        Worker& wk = workers_[w];
        if (w >= old || new_cols) {
            wk.row_fwd = real_plan(n1, false);
            wk.row_inv = real_plan(n1, true);
        }
        wk.row.assign(n1, 0.0f);
        wk.row_spec.assign(nc_, {});
        wk.col_a.assign(n0, {});
        wk.col_b.assign(n0, {});
    }
    t_.resize(nc_ * n0);
    m_.resize(n0 * nc_);
}

void RealFft2d::forward(const float* in, std::complex<float>* out) {
    require(n0_ > 0, "RealFft2d: not planned");
    const std::size_t n0 = n0_, nc = nc_;
    parallelize(n_threads_, n0, [&](int w, std::size_t b, std::size_t e) {
        Worker& wk = workers_[static_cast<std::size_t>(w)];
        for (std::size_t r = b; r < e; ++r) {
            kiss_fftr(rcfg(wk.row_fwd), in + r * n1_, kc(wk.row_spec.data()));
            for (std::size_t c = 0; c < nc; ++c) t_[c * n0 + r] = wk.row_spec[c];
        }
    });
    parallelize(n_threads_, nc, [&](int w, std::size_t b, std::size_t e) {
        Worker& wk = workers_[static_cast<std::size_t>(w)];
        for (std::size_t c = b; c < e; ++c) {
            kiss_fft(ccfg(col_fwd_), kc(t_.data() + c * n0), kc(wk.col_a.data()));
            for (std::size_t r = 0; r < n0; ++r) out[r * nc + c] = wk.col_a[r];
        }
    });
}

void RealFft2d::inverse(const std::complex<float>* in, float* out) {
    require(n0_ > 0, "RealFft2d: not planned");
    const std::size_t n0 = n0_, nc = nc_;
    parallelize(n_threads_, nc, [&](int w, std::size_t b, std::size_t e) {
        Worker& wk = workers_[static_cast<std::size_t>(w)];
        for (std::size_t c = b; c < e; ++c) {
            for (std::size_t r = 0; r < n0; ++r) wk.col_a[r] = in[r * nc + c];
            kiss_fft(ccfg(col_inv_), kc(wk.col_a.data()), kc(wk.col_b.data()));
            for (std::size_t r = 0; r < n0; ++r) m_[r * nc + c] = wk.col_b[r];
        }
    });
    parallelize(n_threads_, n0, [&](int w, std::size_t b, std::size_t e) {
        Worker& wk = workers_[static_cast<std::size_t>(w)];
        for (std::size_t r = b; r < e; ++r) kiss_fftri(rcfg(wk.row_inv), kc(m_.data() + r * nc), out + r * n1_);
    });
}

void RealFft2d::convolve(const float* spectrum, const float* in, std::size_t m0, std::size_t m1,
                         std::size_t in_stride, float* out, std::size_t out_stride) {
    require(n0_ > 0, "RealFft2d: not planned");
    require(m0 <= n0_ && m1 <= n1_, "RealFft2d::convolve: block larger than the transform");
    const std::size_t n0 = n0_, nc = nc_;
    // Rows: only the m0 non-zero rows; their spectra are stored transposed (column c at t_[c * n0]).
    parallelize(n_threads_, m0, [&](int w, std::size_t b, std::size_t e) {
        Worker& wk = workers_[static_cast<std::size_t>(w)];
        for (std::size_t r = b; r < e; ++r) {
            std::copy(in + r * in_stride, in + r * in_stride + m1, wk.row.begin());
            std::fill(wk.row.begin() + static_cast<std::ptrdiff_t>(m1), wk.row.end(), 0.0f);
            kiss_fftr(rcfg(wk.row_fwd), wk.row.data(), kc(wk.row_spec.data()));
            for (std::size_t c = 0; c < nc; ++c) t_[c * n0 + r] = wk.row_spec[c];
        }
    });
    // Columns: forward, multiply by the (real) kernel spectrum, inverse; keep the first m0 rows.
    const float scale = 1.0f / (static_cast<float>(n0) * static_cast<float>(n1_));
    parallelize(n_threads_, nc, [&](int w, std::size_t b, std::size_t e) {
        Worker& wk = workers_[static_cast<std::size_t>(w)];
        for (std::size_t c = b; c < e; ++c) {
            std::complex<float>* col = t_.data() + c * n0;
            std::fill(col + m0, col + n0, std::complex<float>(0.0f, 0.0f));
            kiss_fft(ccfg(col_fwd_), kc(col), kc(wk.col_a.data()));
            for (std::size_t r = 0; r < n0; ++r) wk.col_a[r] *= spectrum[r * nc + c] * scale;
            kiss_fft(ccfg(col_inv_), kc(wk.col_a.data()), kc(wk.col_b.data()));
            for (std::size_t r = 0; r < m0; ++r) m_[r * nc + c] = wk.col_b[r];
        }
    });
    // Rows back: only the m0 rows that are kept.
    parallelize(n_threads_, m0, [&](int w, std::size_t b, std::size_t e) {
        Worker& wk = workers_[static_cast<std::size_t>(w)];
        for (std::size_t r = b; r < e; ++r) {
            kiss_fftri(rcfg(wk.row_inv), kc(m_.data() + r * nc), wk.row.data());
            std::copy(wk.row.begin(), wk.row.begin() + static_cast<std::ptrdiff_t>(m1), out + r * out_stride);
        }
    });
}

} // namespace nembed
