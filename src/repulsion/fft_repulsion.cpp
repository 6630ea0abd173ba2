// FFT-accelerated interpolation (FIt-SNE scheme as ported by openTSNE; tsne.md §7), 1-D and 2-D, threaded.
//
// Grid: n_boxes per dimension (fft_box_count), p cell-centred nodes per box, so n = n_boxes·p equally spaced nodes
// per dimension with spacing h = box width / p. Each point spreads its charges onto the p (1-D) or p x p (2-D)
// nodes of its box with Lagrange weights; each charge grid is convolved with the kernel sampled on the node
// lattice (zero-padded circulant embedding of length L >= 2n - 1, FFT); the potentials are read back with the same weights.
//
// Charges (G = d + 2 grids), relative to the grid centre c (the sums are translation invariant), for an output
// kernel w(D) with K1 = force_weight = −dw/dD (kernel/kernel.hpp):
//   grids 0..d : [1, y−c] convolved with K1                  ->  F_i = (y_i−c)·φ0 − φ_{1..d}
//   grid d+1   : Student-t α = 1 (K1 = w², w = (1 + D)·K1): |y−c|² with K1
//                                                          ->  z_i = (1 + |y_i−c|²)φ0 − 2(y_i−c)·φ_{1..d} + φ_{d+1}
//                any other kernel: 1 with K2 = w           ->  z_i = φ_{d+1}
// and Z = Σ z_i − N·w(0) (the self terms). When only the total Z is needed (compute(), α = 1) the |y−c|² grid
// is skipped: K is symmetric, so Σ_i φ_{d+1,i} = Σ_i Σ_j K_ij |y_j−c|² = Σ_j |y_j−c|² φ0_j, and
// Z = Σ_i [(1 + 2|y_i−c|²)φ0_i − 2(y_i−c)·φ_{1..d,i}] − N. One convolution in four saved.
//
// Threading and determinism: the scatter partitions points by their box index along dimension 0, so each worker
// owns whole node rows and every node sums its points in index order (bitwise identical for any thread count);
// FFT rows/columns are independent transforms; the gather is per point; Z uses fixed blocks.
#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/core/types.hpp"
#include "nembed/fft/fft.hpp"
#include "nembed/repulsion/exact_sums.hpp"
#include "nembed/repulsion/lagrange.hpp"
#include "nembed/repulsion/repulsion.hpp"

namespace nembed {

// ------------------------------------------------------------------------------------------------ grid rules

namespace {
const std::vector<std::size_t>& friendly_sizes() {
    static const std::vector<std::size_t> sizes = [] {
        std::vector<std::size_t> v;
        for (std::size_t a = 1; a <= 1000; a *= 2)
            for (std::size_t b = a; b <= 1000; b *= 3)
                for (std::size_t c = b; c <= 1000; c *= 5)
                    for (std::size_t d = c; d <= 1000; d *= 7)
                        for (std::size_t m : {1, 11, 13})
                            if (d * m >= 20 && d * m <= 1000) v.push_back(d * m);
        std::sort(v.begin(), v.end());
        v.erase(std::unique(v.begin(), v.end()), v.end());
        return v;
    }();
    return sizes;
}
constexpr std::size_t kMaxBoxes = 1000;
} // namespace

std::size_t fft_friendly_size(std::size_t n) {
    const auto& s = friendly_sizes();
    auto it = std::lower_bound(s.begin(), s.end(), n);
    return it == s.end() ? kMaxBoxes : *it;
}

std::size_t fft_box_count(double span, std::size_t min_num_intervals, double ints_in_interval) {
    require(std::isfinite(ints_in_interval) && ints_in_interval > 0,
            "FFT repulsion: ints_in_interval must be positive, got " + std::to_string(ints_in_interval));
    require(std::isfinite(span) && span >= 0, "FFT repulsion: the grid span must be finite and >= 0");
    const double raw = std::ceil(span / ints_in_interval);
    const std::size_t boxes = raw >= static_cast<double>(kMaxBoxes) ? kMaxBoxes
                                                                     : std::max(min_num_intervals, static_cast<std::size_t>(raw));
    return fft_friendly_size(boxes);
}

namespace {

/// The smallest even length >= m whose factors are 2, 3 and 5 only: kissfft has fast butterflies for these and a
/// slow generic one (with a heap allocation per call) for 7, 11 and 13. The circulant embedding only needs a length
/// >= 2n − 1, so the transform is padded to such a length; the grid itself follows openTSNE's rules unchanged.
std::size_t fast_fft_length(std::size_t m) {
    for (std::size_t L = m + (m % 2);; L += 2) {
        std::size_t r = L;
        for (std::size_t f : {2u, 3u, 5u})
            while (r % f == 0) r /= f;
        if (r == 1) return L;
    }
}

constexpr std::size_t kMaxNodes2d = 8192;   ///< nodes per dimension in 2-D (FFT 16384²: about 1 GiB per buffer)
constexpr std::size_t kMaxNodes1d = 1 << 22;

/// The geometry of one interpolation grid.
struct Grid {
    int d = 2;
    std::size_t nb = 0;  ///< boxes per dimension
    std::size_t p = 3;   ///< nodes per box
    std::size_t n = 0;   ///< nodes per dimension
    std::size_t L = 0;   ///< FFT length per dimension (>= 2n − 1, see fast_fft_length)
    double lo[2] = {0, 0};
    double bw = 1;       ///< box width
    double h = 1;        ///< node spacing
    double centre[2] = {0, 0};
    bool contains(const double* y) const {
        for (int k = 0; k < d; ++k) {
            const double t = (y[k] - lo[k]) / bw;
            if (!(t >= 0.0 && t <= static_cast<double>(nb))) return false;
        }
        return true;
    }
};

/// Everything one grid computation needs, kept between calls.
struct Workspace {
    Grid grid;
    std::size_t first = 0;            ///< the first row located (the share's begin; 0 for a single process)
    std::vector<std::int32_t> box;    ///< n_own x d box indices (row i at i − first)
    std::vector<double> weights;      ///< n_own x d x p Lagrange weights
    std::vector<index_t> order;       ///< own points sorted (stably) by box index along dimension 0 (global rows)
    std::vector<std::size_t> bucket;  ///< nb + 1 offsets into order
    std::size_t G = 0;                ///< number of charge grids (d + 1 or d + 2)
    std::vector<float> grids;         ///< G x n^d charges, then potentials (in place)
    std::vector<float> kernel;        ///< L^d kernel samples
    std::vector<std::complex<float>> kernel_spec;
    std::vector<float> spec1, spec2;  ///< real kernel spectra (K1, K2)
    std::vector<double> z;            ///< per-point z (partial path)
    RealFft2d fft2;
    std::vector<RealFft1d> fft1;      ///< one per grid (run in parallel) and one for the kernels
};

class FftRepulsion final : public Repulsion {
public:
    FftRepulsion(const FftOptions& o, RowShare share) : opt_(o), share_(std::move(share)) {
        require(o.n_interpolation_points >= 1 && o.n_interpolation_points <= 16,
                "FFT repulsion: n_interpolation_points must be in 1..16, got " + std::to_string(o.n_interpolation_points));
        require(o.min_num_intervals >= 1, "FFT repulsion: min_num_intervals must be >= 1");
        require(std::isfinite(o.ints_in_interval) && o.ints_in_interval > 0,
                "FFT repulsion: ints_in_interval must be positive, got " + std::to_string(o.ints_in_interval));
        require(o.n_threads >= 1, "FFT repulsion: n_threads must be >= 1, got " + std::to_string(o.n_threads));
        const std::size_t p = o.n_interpolation_points;
        lagrange_ = LagrangeNodes(p);
    }

    std::string name() const override { return "FFT repulsion"; }

    std::string unsupported_reason(const OutputKernel& kernel, std::size_t d) const override {
        if (std::string why = detail::euclidean_kernel_reason(kernel); !why.empty()) return why;
        if (d != 1 && d != 2) return "FFT repulsion supports 1 or 2 output dimensions";
        if (const auto* c = std::get_if<CauchyKernel>(&kernel); c && c->eps == 0.0)
            return "the kernel 1/D is unbounded at D = 0 and cannot be interpolated on a grid; use eps > 0, the "
                   "exact or the Barnes-Hut estimator";
        if (const auto* u = std::get_if<UmapCurve>(&kernel); u && u->b != std::floor(u->b))
            return std::string(u->b < 1.0 ? "with b < 1 the kernel has a cusp at D = 0 and its force weight ~ D^(b-1) "
                                            "is unbounded"
                                          : "with a non-integer b the force weight ~ D^(b-1) is not smooth at D = 0 "
                                            "(about 30 % force error at the default grid for b = 1.2)") +
                   ", which grid interpolation cannot follow; use the exact or the Barnes-Hut estimator";
        return "";
    }

    double compute(MatrixView<double> Y, const OutputKernel& kernel, double* forces) override {
        detail::check_repulsion_input("FFT repulsion", Y, kernel, forces);
        check_dim(Y.cols);
        detail::require_supported(*this, kernel, Y.cols);
        return visit_kernel(kernel, [&](const auto& k) { return compute_impl(Y, k, forces); });
    }

    void compute_partial(MatrixView<double> reference, MatrixView<double> queries, const OutputKernel& kernel,
                         double* forces, double* z) override {
        detail::check_partial_input("FFT repulsion", reference, queries, kernel, forces, z);
        check_dim(queries.cols);
        detail::require_supported(*this, kernel, queries.cols);
        visit_kernel(kernel, [&](const auto& k) { partial_impl(reference, queries, kernel, k, forces, z); });
    }

private:
    /// Student-t α = 1: the one-spectrum path (see the file comment).
    template <typename K>
    static constexpr bool kOneSpectrum = std::is_same_v<K, StudentT1Kernel>;

    template <typename K>
    double compute_impl(MatrixView<double> Y, const K& kernel, double* forces) {
        const std::size_t N = Y.rows, d = Y.cols;
        if (N == 0) return 0.0;
        if (N == 1) {
            std::fill(forces, forces + d, 0.0);
            return 0.0;
        }
        Workspace& ws = full_;
        // Square box from the joint min/max of all coordinates (openTSNE), each bound scanned on its own (bug #3).
        double lo = Y.data[0], hi = Y.data[0];
        double lo_k[2] = {Y.data[0], d > 1 ? Y.data[1] : 0.0}, hi_k[2] = {lo_k[0], lo_k[1]};
        for (std::size_t i = 0; i < N; ++i)
            for (std::size_t k = 0; k < d; ++k) {
                const double v = Y.data[i * d + k];
                lo_k[k] = std::min(lo_k[k], v);
                hi_k[k] = std::max(hi_k[k], v);
            }
        for (std::size_t k = 0; k < d; ++k) {
            lo = std::min(lo, lo_k[k]);
            hi = std::max(hi, hi_k[k]);
        }
        double span = hi - lo;
        const double min_span = 1e-9 * std::max(1.0, std::max(std::abs(lo), std::abs(hi)));
        if (!(span >= min_span)) {
            lo -= 0.5 * (min_span - span);
            span = min_span;
        }
        Grid g;
        g.d = static_cast<int>(d);
        for (std::size_t k = 0; k < d; ++k) {
            g.lo[k] = lo;
            g.centre[k] = 0.5 * (lo_k[k] + hi_k[k]);
        }
        set_grid(g, span);

        constexpr bool one_spectrum = kOneSpectrum<K>;
        const RowShare share = share_.fold ? share_ : RowShare::all(N);
        require(share.end <= N && share.begin <= share.end && share.begin % kZBlock == 0,
                "FFT repulsion: the owned rows do not fit the embedding");
        prepare(ws, g, Y, one_spectrum, true, share);
        convolve_all<one_spectrum>(ws, kernel);

        // Gather: forces and z_i per own point; Z from fixed blocks of global rows, added in block order (chained
        // over processes: the same bits for any split on block boundaries).
        const std::size_t n_own = share.count(), n_blocks = (n_own + kZBlock - 1) / kZBlock;
        std::vector<double> partial(n_blocks, 0.0);
        parallel_for(opt_.n_threads, n_blocks, [&](std::size_t blk) {
            const std::size_t b = share.begin + blk * kZBlock, e = std::min(share.end, b + kZBlock);
            double s = 0.0;
            double phi[4];
            for (std::size_t i = b; i < e; ++i) {
                gather_stored(ws, i, phi);
                s += finish_point(Y.row(i), g, phi, ws.G, one_spectrum, forces + i * d);
            }
            partial[blk] = s;
        });
        double zsum = 0.0;
        share.run_fold(&zsum, sizeof zsum, [&](bool) {
            for (double p : partial) zsum += p;
        });
        // The self terms: w(0) = 1 for Student-t, 1/ε for Cauchy.
        return zsum - static_cast<double>(N) * kernel.w(0.0);
    }

    template <typename K>
    void partial_impl(MatrixView<double> reference, MatrixView<double> queries, const OutputKernel& key,
                      const K& kernel, double* forces, double* z) {
        const std::size_t d = queries.cols;
        if (queries.rows == 0) return;
        if (reference.rows == 0) {
            std::fill(forces, forces + queries.rows * d, 0.0);
            std::fill(z, z + queries.rows, 0.0);
            return;
        }
        Workspace& ws = partial_;
        const std::uint64_t hash = content_hash(reference);
        if (!(cache_valid_ && cache_data_ == reference.data && cache_rows_ == reference.rows &&
              cache_cols_ == reference.cols && cache_hash_ == hash && same_kernel(cache_kernel_, key))) {
            cache_valid_ = false;
            // Square grid centred on the reference's bounding box, half width padded by 25 %.
            double lo_k[2] = {reference.data[0], d > 1 ? reference.data[1] : 0.0}, hi_k[2] = {lo_k[0], lo_k[1]};
            for (std::size_t i = 0; i < reference.rows; ++i)
                for (std::size_t k = 0; k < d; ++k) {
                    const double v = reference.data[i * d + k];
                    lo_k[k] = std::min(lo_k[k], v);
                    hi_k[k] = std::max(hi_k[k], v);
                }
            double half = 0.0, scale = 1.0;
            for (std::size_t k = 0; k < d; ++k) {
                half = std::max(half, 0.5 * (hi_k[k] - lo_k[k]));
                scale = std::max({scale, std::abs(lo_k[k]), std::abs(hi_k[k])});
            }
            half = std::max(1.25 * half, 1e-9 * scale);
            Grid g;
            g.d = static_cast<int>(d);
            for (std::size_t k = 0; k < d; ++k) {
                g.centre[k] = 0.5 * (lo_k[k] + hi_k[k]);
                g.lo[k] = g.centre[k] - half;
            }
            set_grid(g, 2.0 * half);
            prepare(ws, g, reference, kOneSpectrum<K>, false, RowShare::all(reference.rows));
            convolve_all<kOneSpectrum<K>>(ws, kernel);
            cache_valid_ = true;
            cache_data_ = reference.data;
            cache_rows_ = reference.rows;
            cache_cols_ = reference.cols;
            cache_hash_ = hash;
            cache_kernel_ = key;
        }
        const Grid& g = ws.grid;
        parallel_for(opt_.n_threads, queries.rows, [&](std::size_t i) {
            const double* q = queries.row(i);
            if (!g.contains(q)) {
                z[i] = detail::exact_point_sum(q, reference, reference.rows, kernel, forces + i * d);
                return;
            }
            double phi[4];
            gather_at(ws, q, phi);
            z[i] = finish_point(q, g, phi, ws.G, kOneSpectrum<K>, forces + i * d);
        });
    }

private:
    /// Equal type and parameters (the partial cache key).
    static bool same_kernel(const OutputKernel& a, const OutputKernel& b) {
        if (a.index() != b.index()) return false;
        return std::visit(
            [&](const auto& ka) {
                using K = std::decay_t<decltype(ka)>;
                const K& kb = std::get<K>(b);
                if constexpr (std::is_same_v<K, StudentTKernel>) return ka.dof() == kb.dof();
                else if constexpr (std::is_same_v<K, CauchyKernel>) return ka.eps == kb.eps;
                else if constexpr (std::is_same_v<K, UmapCurve>) return ka.a == kb.a && ka.b == kb.b;
                else if constexpr (std::is_same_v<K, GaussianKernel>) return ka.bandwidth == kb.bandwidth;
                else return ka.temperature == kb.temperature;
            },
            a);
    }

    static void check_dim(std::size_t d) {
        require(d == 1 || d == 2, "FFT repulsion supports 1 or 2 output dimensions, got " + std::to_string(d));
    }

    void set_grid(Grid& g, double span) const {
        g.p = opt_.n_interpolation_points;
        g.nb = fft_box_count(span, opt_.min_num_intervals, opt_.ints_in_interval);
        g.n = g.nb * g.p;
        g.L = fast_fft_length(2 * g.n);
        require(g.n <= (g.d == 2 ? kMaxNodes2d : kMaxNodes1d),
                "FFT repulsion: a grid of " + std::to_string(g.n) + " nodes per dimension is too large; lower "
                "n_interpolation_points or raise ints_in_interval");
        g.bw = span / static_cast<double>(g.nb);
        g.h = g.bw / static_cast<double>(g.p);
    }

    static std::uint64_t content_hash(MatrixView<double> m) {
        std::uint64_t h = 1469598103934665603ull;
        for (std::size_t i = 0; i < m.size(); ++i) {
            std::uint64_t bits;
            std::memcpy(&bits, m.data + i, sizeof bits);
            h = (h ^ bits) * 1099511628211ull;
            h ^= h >> 29;
        }
        return h;
    }

    /// Box index and local Lagrange weights of coordinate v along dimension k.
    void locate(const Grid& g, int k, double v, std::int32_t& box, double* w) const {
        box = lagrange_.locate((v - g.lo[k]) / g.bw, g.nb, w);
    }

    /// Locates every point, buckets them by box along dimension 0, scatters the charges and plans the FFTs.
    /// last_norm: the one-spectrum charges (Student-t α = 1); total_z_only (α = 1, compute()): skip the |y−c|² grid (see the file comment).
    /// share: the rows this process locates and scatters (the charge grids are chained over processes in rank
    /// order, so every node adds the points in global index order whatever the split).
    void prepare(Workspace& ws, const Grid& g, MatrixView<double> Y, bool last_norm, bool total_z_only,
                 const RowShare& share) {
        ws.grid = g;
        const std::size_t N = share.count(), f0 = share.begin, d = static_cast<std::size_t>(g.d), p = g.p, n = g.n;
        ws.first = f0;
        const std::size_t G = (last_norm && total_z_only) ? d + 1 : d + 2;
        ws.G = G;
        const int T = opt_.n_threads;
        ws.box.resize(N * d);
        ws.weights.resize(N * d * p);
        parallel_for(T, N, [&](std::size_t i) {
            for (std::size_t k = 0; k < d; ++k)
                locate(g, static_cast<int>(k), Y.data[(f0 + i) * d + k], ws.box[i * d + k],
                       &ws.weights[(i * d + k) * p]);
        });
        // Stable counting sort by box along dimension 0.
        ws.bucket.assign(g.nb + 1, 0);
        for (std::size_t i = 0; i < N; ++i) ws.bucket[static_cast<std::size_t>(ws.box[i * d]) + 1]++;
        for (std::size_t b = 0; b < g.nb; ++b) ws.bucket[b + 1] += ws.bucket[b];
        ws.order.resize(N);
        cursor_.assign(ws.bucket.begin(), ws.bucket.end() - 1);
        for (std::size_t i = 0; i < N; ++i)
            ws.order[cursor_[static_cast<std::size_t>(ws.box[i * d])]++] = static_cast<index_t>(f0 + i);
        // Charge grids.
        const std::size_t cells = d == 2 ? n * n : n;
        ws.grids.resize(G * cells);
        share.run_fold(ws.grids.data(), ws.grids.size() * sizeof(float),
                       [&](bool first) { scatter(ws, Y, last_norm, first); });
        // FFT plans (re-planned only when the size changes).
        if (d == 2) {
            ws.fft2.plan(g.L, g.L, T);
        } else {
            ws.fft1.resize(G + 1);
            for (auto& f : ws.fft1) f.plan(g.L);
        }
    }

    /// Charges per point: [1, y−c (d values), last], last = |y−c|² (last_norm: Student-t α = 1) or 1.
    /// zero: start the grids from zero (else add to the charges already there: a later process of the chain).
    void scatter(Workspace& ws, MatrixView<double> Y, bool last_norm, bool zero) {
        const Grid& g = ws.grid;
        const std::size_t d = static_cast<std::size_t>(g.d), p = g.p, n = g.n, G = ws.G;
        const std::size_t cells = d == 2 ? n * n : n;
        float* grids = ws.grids.data();
        const int T = opt_.n_threads;
        const std::size_t N = ws.order.size();
        // Split box rows among workers with about equal numbers of points; each worker zeroes and fills its rows.
        const std::size_t workers = static_cast<std::size_t>(std::max(1, std::min<int>(T, static_cast<int>(g.nb))));
        split_.assign(workers + 1, g.nb);
        split_[0] = 0;
        {
            std::size_t b = 0;
            for (std::size_t w = 1; w < workers; ++w) {
                const std::size_t target = N * w / workers;
                while (b < g.nb && ws.bucket[b] < target) ++b;
                split_[w] = std::max(split_[w - 1], b);
            }
        }
        parallelize(static_cast<int>(workers), workers, [&](int, std::size_t wb, std::size_t we) {
            for (std::size_t w = wb; w < we; ++w) {
                const std::size_t b0 = split_[w], b1 = split_[w + 1];
                const std::size_t row_len = d == 2 ? n : 1;  // floats per node row
                if (zero)
                    for (std::size_t gi = 0; gi < G; ++gi)
                        std::fill(grids + gi * cells + b0 * p * row_len, grids + gi * cells + b1 * p * row_len, 0.0f);
                for (std::size_t s = ws.bucket[b0]; s < ws.bucket[b1]; ++s) {
                    const std::size_t i = static_cast<std::size_t>(ws.order[s]);
                    const double* y = Y.data + i * d;
                    double q[4];
                    q[0] = 1.0;
                    double r2 = 0.0;
                    for (std::size_t k = 0; k < d; ++k) {
                        q[1 + k] = y[k] - g.centre[k];
                        r2 += q[1 + k] * q[1 + k];
                    }
                    if (G == d + 2) q[d + 1] = last_norm ? r2 : 1.0;
                    // Box and weights recomputed from y (the same function of the same value as prepare's, so
                    // the same bits) rather than read back: this loop visits points by box row, i.e. in a jumping
                    // index order, and the stored weights (48 B a point) were its cache misses (bench/RESULTS.md,
                    // t26); y is read here anyway.
                    double wl[2 * 16];
                    std::int32_t bx[2] = {0, 0};
                    for (std::size_t k = 0; k < d; ++k) locate(g, static_cast<int>(k), y[k], bx[k], wl + k * p);
                    const double* w0 = wl;
                    const std::size_t r0 = static_cast<std::size_t>(bx[0]) * p;
                    if (d == 1) {
                        for (std::size_t a = 0; a < p; ++a)
                            for (std::size_t gi = 0; gi < G; ++gi)
                                grids[gi * cells + r0 + a] += static_cast<float>(w0[a] * q[gi]);
                    } else {
                        const double* w1 = wl + p;
                        const std::size_t c0 = static_cast<std::size_t>(bx[1]) * p;
                        // The p x p weight products once per point, not once per grid: (w0·w1)·q is the order
                        // the expression w0[a] * w1[b] * q always had, and q[0] = 1 multiplies exactly, so the
                        // bits are unchanged. One grid at a time (its p x p block is p short contiguous runs);
                        // each node still gets the same additions in the same order.
                        double w01[16 * 16];
                        for (std::size_t a = 0; a < p; ++a)
                            for (std::size_t bb = 0; bb < p; ++bb) w01[a * p + bb] = w0[a] * w1[bb];
                        for (std::size_t a = 0; a < p; ++a) {
                            float* row = grids + (r0 + a) * n + c0;
                            for (std::size_t bb = 0; bb < p; ++bb) row[bb] += static_cast<float>(w01[a * p + bb]);
                        }
                        for (std::size_t gi = 1; gi < G; ++gi) {
                            float* grid = grids + gi * cells;
                            const double qg = q[gi];
                            for (std::size_t a = 0; a < p; ++a) {
                                float* row = grid + (r0 + a) * n + c0;
                                for (std::size_t bb = 0; bb < p; ++bb)
                                    row[bb] += static_cast<float>(w01[a * p + bb] * qg);
                            }
                        }
                    }
                }
            }
        });
    }

    /// Real DFT of the kernel f(d²) sampled on the circulant L^d lattice, into spec.
    template <typename F>
    void kernel_spectrum(Workspace& ws, F&& f, std::vector<float>& spec) {
        const Grid& g = ws.grid;
        // Circulant embedding: sample at lattice offset min(a, L − a), even in every axis. Offsets up to n − 1 are
        // the ones the n-node block uses; the rest only keep the kernel even (so its spectrum is real).
        const std::size_t m = g.L, half = m / 2;
        const double h2 = g.h * g.h;
        if (g.d == 1) {
            ws.kernel.resize(m);
            for (std::size_t a = 0; a < m; ++a) {
                const double o = static_cast<double>(std::min(a, m - a));
                ws.kernel[a] = static_cast<float>(f(o * o * h2));
            }
            ws.kernel_spec.resize(half + 1);
            ws.fft1.back().forward(ws.kernel.data(), ws.kernel_spec.data());
            spec.resize(half + 1);
            for (std::size_t k = 0; k <= half; ++k) spec[k] = ws.kernel_spec[k].real();
            return;
        }
        // Evaluate rows 0..L/2 (each mirrored along its own axis): the kernel is even in both axes, so
        // even_spectrum needs no more.
        ws.kernel.resize((half + 1) * m);
        parallel_for(opt_.n_threads, half + 1, [&](std::size_t a) {
            float* row = ws.kernel.data() + a * m;
            const double da2 = static_cast<double>(a * a) * h2;
            for (std::size_t b = 0; b <= half; ++b) row[b] = static_cast<float>(f(da2 + static_cast<double>(b * b) * h2));
            for (std::size_t b = half + 1; b < m; ++b) row[b] = row[m - b];
        });
        const std::size_t nc = half + 1;
        spec.resize(m * nc);
        ws.fft2.even_spectrum(ws.kernel.data(), spec.data());
    }

    /// Builds the kernel spectra and turns every charge grid into its potential grid (in place).
    /// one_spectrum: every grid uses K1 (Student-t α = 1); otherwise the last grid uses K2 = w.
    template <bool one_spectrum, typename K>
    void convolve_all(Workspace& ws, const K& kernel) {
        const Grid& g = ws.grid;
        const std::size_t d = static_cast<std::size_t>(g.d), n = g.n, G = ws.G;
        const std::size_t cells = d == 2 ? n * n : n;
        kernel_spectrum(ws, [&](double d2) { return kernel.force_weight(d2); }, ws.spec1);
        if (!one_spectrum) kernel_spectrum(ws, [&](double d2) { return kernel.w(d2); }, ws.spec2);
        auto spec_of = [&](std::size_t gi) {
            return (gi == G - 1 && !one_spectrum) ? ws.spec2.data() : ws.spec1.data();
        };
        if (d == 2) {
            for (std::size_t gi = 0; gi < G; ++gi) {
                float* grid = ws.grids.data() + gi * cells;
                ws.fft2.convolve(spec_of(gi), grid, n, n, n, grid, n);
            }
        } else {
            parallel_for(opt_.n_threads, G, [&](std::size_t gi) {
                float* grid = ws.grids.data() + gi * cells;
                ws.fft1[gi].convolve(spec_of(gi), grid, n, grid);
            });
        }
    }

    /// Potentials at a located point: phi[gi] = Σ weights × grid values.
    static void gather_from(const Workspace& ws, const std::int32_t* box, const double* w, double* phi) {
        const Grid& g = ws.grid;
        const std::size_t d = static_cast<std::size_t>(g.d), p = g.p, n = g.n, G = ws.G;
        const std::size_t cells = d == 2 ? n * n : n;
        const float* grids = ws.grids.data();
        for (std::size_t gi = 0; gi < G; ++gi) phi[gi] = 0.0;
        const std::size_t r0 = static_cast<std::size_t>(box[0]) * p;
        if (d == 1) {
            for (std::size_t a = 0; a < p; ++a)
                for (std::size_t gi = 0; gi < G; ++gi) phi[gi] += w[a] * static_cast<double>(grids[gi * cells + r0 + a]);
            return;
        }
        const std::size_t c0 = static_cast<std::size_t>(box[1]) * p;
        const double* w1 = w + p;
        double w01[16 * 16];  // the weight products once for all grids; (w0·w1)·v as before, the same bits
        for (std::size_t a = 0; a < p; ++a)
            for (std::size_t b = 0; b < p; ++b) w01[a * p + b] = w[a] * w1[b];
        for (std::size_t gi = 0; gi < G; ++gi) {  // grid by grid; each phi sums in the same (a, b) order
            const float* grid = grids + gi * cells;
            double acc = 0.0;
            for (std::size_t a = 0; a < p; ++a) {
                const float* row = grid + (r0 + a) * n + c0;
                for (std::size_t b = 0; b < p; ++b) acc += w01[a * p + b] * static_cast<double>(row[b]);
            }
            phi[gi] = acc;
        }
    }

    void gather_stored(const Workspace& ws, std::size_t i, double* phi) const {
        const std::size_t d = static_cast<std::size_t>(ws.grid.d), p = ws.grid.p, li = i - ws.first;
        gather_from(ws, &ws.box[li * d], &ws.weights[li * d * p], phi);
    }

    void gather_at(const Workspace& ws, const double* q, double* phi) const {
        const Grid& g = ws.grid;
        std::int32_t box[2] = {0, 0};
        double w[2 * 16] = {};
        for (int k = 0; k < g.d; ++k) locate(g, k, q[k], box[k], w + static_cast<std::size_t>(k) * g.p);
        gather_from(ws, box, w, phi);
    }

    /// Forces and z of one point from its potentials.
    /// Writes the point's force and returns its z_i, or, with G = d + 1 grids (α = 1, total Z only), its share
    /// (1 + 2|y−c|²)φ0 − 2(y−c)·φ of Σ z_i (see the file comment).
    static double finish_point(const double* y, const Grid& g, const double* phi, std::size_t G, bool one_spectrum,
                               double* f) {
        const std::size_t d = static_cast<std::size_t>(g.d);
        double r2 = 0.0, dot = 0.0;
        for (std::size_t k = 0; k < d; ++k) {
            const double yc = y[k] - g.centre[k];
            f[k] = yc * phi[0] - phi[1 + k];
            r2 += yc * yc;
            dot += yc * phi[1 + k];
        }
        if (!one_spectrum) return phi[d + 1];
        if (G == d + 1) return (1.0 + 2.0 * r2) * phi[0] - 2.0 * dot;
        return (1.0 + r2) * phi[0] - 2.0 * dot + phi[d + 1];
    }

    static constexpr std::size_t kZBlock = 1024;  ///< rows per partial sum of Z (fixed: independent of threads)
    FftOptions opt_;
    RowShare share_;  ///< empty fold: a single process owning every row
    LagrangeNodes lagrange_;
    std::vector<std::size_t> cursor_, split_;
    Workspace full_, partial_;
    // compute_partial cache key
    bool cache_valid_ = false;
    const double* cache_data_ = nullptr;
    std::size_t cache_rows_ = 0, cache_cols_ = 0;
    std::uint64_t cache_hash_ = 0;
    OutputKernel cache_kernel_;
};

} // namespace

std::unique_ptr<Repulsion> make_fft_repulsion(const FftOptions& options) {
    return std::make_unique<FftRepulsion>(options, RowShare{});
}

std::unique_ptr<Repulsion> make_fft_repulsion(const FftOptions& options, RowShare share) {
    require(static_cast<bool>(share.fold), "make_fft_repulsion: a row share needs its fold");
    return std::make_unique<FftRepulsion>(options, std::move(share));
}

} // namespace nembed
