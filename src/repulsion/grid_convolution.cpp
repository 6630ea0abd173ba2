// FFT-accelerated interpolation of general centrally symmetric 2-D kernels (grid_convolution.hpp).
#include "nembed/repulsion/grid_convolution.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"

namespace nembed {
namespace {

// The smallest even length >= m with no prime factor above 5 (fast transforms in either backend).
std::size_t smooth_even_length(std::size_t m) {
    std::size_t L = m + (m & 1);
    for (;; L += 2) {
        std::size_t r = L;
        for (std::size_t f = 2; f <= 5; ++f)
            while (r % f == 0) r /= f;
        if (r == 1) return L;
    }
}

constexpr std::size_t kMaxNodes = 8192;

} // namespace

GridConvolution2d::GridConvolution2d(MatrixView<double> Y, const FftOptions& options)
    : n_(Y.rows), p_(options.n_interpolation_points), threads_(options.n_threads) {
    require(Y.cols == 2, "grid convolution: Y must have 2 columns, got " + std::to_string(Y.cols));
    require(Y.rows >= 1, "grid convolution: Y has no points");
    require(p_ >= 1 && p_ <= 16, "grid convolution: n_interpolation_points must be in 1..16, got " + std::to_string(p_));
    require(options.min_num_intervals >= 1, "grid convolution: min_num_intervals must be >= 1");
    require(options.n_threads >= 1, "grid convolution: n_threads must be >= 1");
    require_finite(Y, "grid convolution: Y");
    double lo = Y.data[0], hi = Y.data[0];
    for (std::size_t q = 0; q < Y.size(); ++q) {
        lo = std::min(lo, Y.data[q]);
        hi = std::max(hi, Y.data[q]);
    }
    double span = hi - lo;
    const double min_span = 1e-9 * std::max({1.0, std::abs(lo), std::abs(hi)});
    if (!(span >= min_span)) {
        lo -= 0.5 * (min_span - span);
        span = min_span;
    }
    boxes_ = fft_box_count(span, options.min_num_intervals, options.ints_in_interval);
    nodes_ = boxes_ * p_;
    require(nodes_ <= kMaxNodes, "grid convolution: a grid of " + std::to_string(nodes_) +
                                     " nodes per dimension is too large; lower n_interpolation_points or raise "
                                     "ints_in_interval");
    L_ = smooth_even_length(2 * nodes_);
    nc_ = L_ / 2 + 1;
    lo_ = lo;
    bw_ = span / static_cast<double>(boxes_);
    h_ = bw_ / static_cast<double>(p_);
    lagrange_ = LagrangeNodes(p_);
    box_.resize(2 * n_);
    weights_.resize(2 * n_ * p_);
    parallel_for(threads_, n_, [&](std::size_t i) {
        locate(i, Y(i, 0), 0);
        locate(i, Y(i, 1), 1);
    });
    fft_.plan(L_, L_, threads_);
    grid_.resize(L_ * L_);
    out_spec_.resize(L_ * nc_);
}

void GridConvolution2d::locate(std::size_t i, double v, int k) {
    const std::size_t at = 2 * i + static_cast<std::size_t>(k);
    box_[at] = lagrange_.locate((v - lo_) / bw_, boxes_, &weights_[at * p_]);
}

std::size_t GridConvolution2d::add_kernel(const std::function<double(double, double)>& kernel) {
    // Offsets −(n − 1) .. n − 1 along each axis, wrapped onto the circulant lattice; the rest (never read by an
    // n-node block) stays 0, which keeps the array centrally symmetric.
    const std::size_t n = nodes_, L = L_;
    std::fill(grid_.begin(), grid_.end(), 0.0f);
    std::vector<double> sample((2 * n - 1) * (2 * n - 1));
    const auto in = static_cast<std::ptrdiff_t>(n);
    parallel_for(threads_, 2 * n - 1, [&](std::size_t ra) {
        const double dx = static_cast<double>(static_cast<std::ptrdiff_t>(ra) - in + 1) * h_;
        for (std::size_t rb = 0; rb < 2 * n - 1; ++rb) {
            const double dy = static_cast<double>(static_cast<std::ptrdiff_t>(rb) - in + 1) * h_;
            sample[ra * (2 * n - 1) + rb] = kernel(dx, dy);
        }
    });
    double kmax = 0.0, asym = 0.0;
    const std::size_t m = 2 * n - 1;
    for (std::size_t q = 0; q < sample.size(); ++q) {
        require(std::isfinite(sample[q]), "grid convolution: the kernel is not finite on the grid");
        kmax = std::max(kmax, std::abs(sample[q]));
        asym = std::max(asym, std::abs(sample[q] - sample[sample.size() - 1 - q]));  // K(d) vs K(−d)
    }
    (void)m;
    require(asym <= 1e-12 * std::max(kmax, 1e-300),
            "grid convolution: the kernel must satisfy K(-d) = K(d) (its spectrum is then real)");
    for (std::size_t ra = 0; ra < 2 * n - 1; ++ra) {
        const std::size_t a = (ra + L - (n - 1)) % L;
        for (std::size_t rb = 0; rb < 2 * n - 1; ++rb) {
            const std::size_t b = (rb + L - (n - 1)) % L;
            grid_[a * L + b] = static_cast<float>(sample[ra * (2 * n - 1) + rb]);
        }
    }
    fft_.forward(grid_.data(), out_spec_.data());
    std::vector<float> spec(L * nc_);
    const double norm = 1.0 / (static_cast<double>(L) * static_cast<double>(L));
    for (std::size_t q = 0; q < spec.size(); ++q) spec[q] = static_cast<float>(out_spec_[q].real() * norm);
    spectra_.push_back(std::move(spec));
    return spectra_.size() - 1;
}

void GridConvolution2d::convolve(const std::vector<const double*>& charges, const std::vector<Term>& terms,
                                 const std::vector<double*>& out, std::size_t charge_stride,
                                 std::size_t out_stride) {
    const std::size_t n = nodes_, L = L_, p = p_;
    for (const Term& t : terms)
        require(t.output < out.size() && t.kernel < spectra_.size() && t.charge < charges.size(),
                "grid convolution: a term names a missing output, kernel or charge");
    charge_spec_.resize(std::max(charge_spec_.size(), charges.size()));
    for (std::size_t s = 0; s < charges.size(); ++s) {
        // Scatter in point order (one worker per grid: bitwise the same for any thread count).
        std::fill(grid_.begin(), grid_.end(), 0.0f);
        const double* q = charges[s];
        for (std::size_t j = 0; j < n_; ++j) {
            const double c = q[j * charge_stride];
            if (c == 0.0) continue;
            const double* w0 = &weights_[2 * j * p];
            const double* w1 = w0 + p;
            const std::size_t r0 = static_cast<std::size_t>(box_[2 * j]) * p;
            const std::size_t c0 = static_cast<std::size_t>(box_[2 * j + 1]) * p;
            for (std::size_t a = 0; a < p; ++a) {
                float* row = grid_.data() + (r0 + a) * L + c0;
                const double wa = w0[a] * c;
                for (std::size_t b = 0; b < p; ++b) row[b] += static_cast<float>(wa * w1[b]);
            }
        }
        charge_spec_[s].resize(L * nc_);
        fft_.forward(grid_.data(), charge_spec_[s].data());
    }
    for (std::size_t o = 0; o < out.size(); ++o) {
        std::fill(out_spec_.begin(), out_spec_.end(), std::complex<float>(0.0f, 0.0f));
        bool any = false;
        for (const Term& t : terms) {
            if (t.output != o) continue;
            any = true;
            const float* k = spectra_[t.kernel].data();
            const std::complex<float>* cs = charge_spec_[t.charge].data();
            const float coef = static_cast<float>(t.coefficient);
            parallelize(threads_, L, [&](int, std::size_t rb, std::size_t re) {
                for (std::size_t q = rb * nc_; q < re * nc_; ++q) out_spec_[q] += (coef * k[q]) * cs[q];
            });
        }
        double* dst = out[o];
        if (!any) {
            for (std::size_t i = 0; i < n_; ++i) dst[i * out_stride] = 0.0;
            continue;
        }
        fft_.inverse(out_spec_.data(), grid_.data());
        parallel_for(threads_, n_, [&](std::size_t i) {
            const double* w0 = &weights_[2 * i * p];
            const double* w1 = w0 + p;
            const std::size_t r0 = static_cast<std::size_t>(box_[2 * i]) * p;
            const std::size_t c0 = static_cast<std::size_t>(box_[2 * i + 1]) * p;
            double acc = 0.0;
            for (std::size_t a = 0; a < p; ++a) {
                const float* row = grid_.data() + (r0 + a) * L + c0;
                double ra = 0.0;
                for (std::size_t b = 0; b < p; ++b) ra += w1[b] * static_cast<double>(row[b]);
                acc += w0[a] * ra;
            }
            dst[i * out_stride] = acc;
        });
    }
    (void)n;
}

} // namespace nembed
