#include "nembed/core/locality_order.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"

namespace nembed {
namespace {

constexpr unsigned kBits = 16;  ///< cells per side 2^16: finer than any map needs, keys fit 32 bits

/// Position of cell (x, y) along the Hilbert curve of a 2^kBits square (the classic rotate-and-flip walk).
std::uint32_t hilbert_key(std::uint32_t x, std::uint32_t y) {
    std::uint32_t d = 0;
    for (std::uint32_t s = 1u << (kBits - 1); s > 0; s >>= 1) {
        const std::uint32_t rx = (x & s) ? 1u : 0u, ry = (y & s) ? 1u : 0u;
        d += s * s * ((3u * rx) ^ ry);
        if (ry == 0) {  // rotate the quadrant so the sub-curve joins its neighbours
            if (rx == 1) {
                x = s - 1 - (x & (s - 1));
                y = s - 1 - (y & (s - 1));
            }
            std::swap(x, y);
        }
        x &= s - 1;
        y &= s - 1;
    }
    return d;
}

/// Cell of v in [lo, lo + span] quantised to 2^kBits cells.
std::uint32_t cell(double v, double lo, double scale) {
    const double t = (v - lo) * scale;
    const double top = static_cast<double>((1u << kBits) - 1);
    return static_cast<std::uint32_t>(std::clamp(t, 0.0, top));
}

} // namespace

std::vector<index_t> hilbert_order(MatrixView<double> Y) {
    const std::size_t n = Y.rows, d = Y.cols;
    require(n >= 1 && d >= 1, "hilbert_order: empty embedding");
    require(n < (std::size_t{1} << 31), "hilbert_order: more than 2^31 - 1 points");
    const std::size_t dims = std::min<std::size_t>(d, 2);
    double lo[2] = {0, 0}, scale[2] = {0, 0};
    for (std::size_t k = 0; k < dims; ++k) {
        double a = Y.data[k], b = a;
        for (std::size_t i = 0; i < n; ++i) {
            const double v = Y.data[i * d + k];
            require_lazy(std::isfinite(v), [] { return std::string("hilbert_order: non-finite coordinate"); });
            a = std::min(a, v);
            b = std::max(b, v);
        }
        lo[k] = a;
        scale[k] = b > a ? static_cast<double>(1u << kBits) / (b - a) : 0.0;
    }
    // (key, index) pairs sorted: ties keep index order, so the order is a function of Y alone.
    std::vector<std::uint64_t> keyed(n);
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint32_t x = cell(Y.data[i * d], lo[0], scale[0]);
        const std::uint32_t key = dims == 1 ? x : hilbert_key(x, cell(Y.data[i * d + 1], lo[1], scale[1]));
        keyed[i] = (static_cast<std::uint64_t>(key) << 32) | static_cast<std::uint64_t>(i);
    }
    std::sort(keyed.begin(), keyed.end());
    std::vector<index_t> order(n);
    for (std::size_t r = 0; r < n; ++r) order[r] = static_cast<index_t>(keyed[r] & 0xffffffffu);
    return order;
}

std::vector<index_t> inverse_permutation(const std::vector<index_t>& order) {
    const std::size_t n = order.size();
    std::vector<index_t> inv(n, -1);
    for (std::size_t r = 0; r < n; ++r) {
        const index_t o = order[r];
        require_lazy(o >= 0 && static_cast<std::size_t>(o) < n && inv[static_cast<std::size_t>(o)] < 0,
                     [] { return std::string("inverse_permutation: not a permutation"); });
        inv[static_cast<std::size_t>(o)] = static_cast<index_t>(r);
    }
    return inv;
}

template <typename T>
CsrMatrix<T> permute_symmetric(const CsrMatrix<T>& P, const std::vector<index_t>& order, int n_threads) {
    require(P.n_rows == P.n_cols, "permute_symmetric: the matrix must be square");
    require(order.size() == P.n_rows, "permute_symmetric: the order has " + std::to_string(order.size()) +
                                          " entries for " + std::to_string(P.n_rows) + " rows");
    const std::vector<index_t> inv = inverse_permutation(order);
    const std::size_t n = P.n_rows;
    CsrMatrix<T> Q;
    Q.n_rows = Q.n_cols = n;
    Q.indptr.assign(n + 1, 0);
    for (std::size_t r = 0; r < n; ++r) {
        const auto o = static_cast<std::size_t>(order[r]);
        Q.indptr[r + 1] = Q.indptr[r] + (P.indptr[o + 1] - P.indptr[o]);
    }
    Q.indices.resize(P.nnz());
    Q.values.resize(P.nnz());
    parallelize(n_threads, n, [&](int, std::size_t b, std::size_t e) {
        std::vector<std::pair<index_t, T>> row;
        for (std::size_t r = b; r < e; ++r) {
            const auto o = static_cast<std::size_t>(order[r]);
            row.clear();
            for (offset_t p = P.indptr[o]; p < P.indptr[o + 1]; ++p)
                row.emplace_back(inv[static_cast<std::size_t>(P.indices[p])], P.values[p]);
            std::sort(row.begin(), row.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
            offset_t q = Q.indptr[r];
            for (const auto& [j, v] : row) {
                Q.indices[q] = j;
                Q.values[q] = v;
                ++q;
            }
        }
    });
    return Q;
}

template CsrMatrix<double> permute_symmetric(const CsrMatrix<double>&, const std::vector<index_t>&, int);
template CsrMatrix<float> permute_symmetric(const CsrMatrix<float>&, const std::vector<index_t>&, int);

void gather_rows(const double* in, const std::vector<index_t>& order, std::size_t d, double* out, int n_threads) {
    parallelize(n_threads, order.size(), [&](int, std::size_t b, std::size_t e) {
        for (std::size_t r = b; r < e; ++r) {
            const double* src = in + static_cast<std::size_t>(order[r]) * d;
            for (std::size_t k = 0; k < d; ++k) out[r * d + k] = src[k];
        }
    });
}

void scatter_rows(const double* in, const std::vector<index_t>& order, std::size_t d, double* out, int n_threads) {
    parallelize(n_threads, order.size(), [&](int, std::size_t b, std::size_t e) {
        for (std::size_t r = b; r < e; ++r) {
            double* dst = out + static_cast<std::size_t>(order[r]) * d;
            for (std::size_t k = 0; k < d; ++k) dst[k] = in[r * d + k];
        }
    });
}

} // namespace nembed
