// SNE's exact repulsion (sne_dense.hpp): the whole O(n²) cost of an SNE step.
//
// Two passes over the pairs, each needing exp(−D_ij): z first (every 1/z_j enters the forces), then the forces. The
// points are cut into blocks of B and the pairs into tiles (I, J), I <= J; a tile computes exp(−D) once per unordered
// pair and feeds both its rows' sums (over j in J) and its columns' sums (over i in I), written to the tile's own
// slots part[J][i] and part[I][j]. So tiles run on any thread in any order; per point the partials are then added in
// block order, in double. The bits depend on n only, never on the thread count.
// Float32 inside a tile (coordinates, exp, the sums of at most B terms), as TorchDR computes in float32; double across
// tiles and in z. A tile row's pairs go 16 at a time through GCC vector types (lane l takes the pairs j ≡ l mod 16,
// the lanes summed in order at the row's end): the same IEEE operations per lane whatever the instruction set, and no
// FMA contraction (-ffp-contract=off), so the AVX-512, AVX2 and baseline clones give the same bits.
// exp is inlined into the pair loop (Cephes' expf: range reduction, degree-6 polynomial, about 1 ulp): vmath::exp
// would need each row's D stored and re-read, and is SSE2 in the default build.
#include "sne_dense.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <utility>

#include "nembed/core/parallel.hpp"
#include "../core/isa_clones.hpp"

namespace nembed::detail {
namespace {

// The helpers taking and returning VF are always inlined into the cloned kernels (GCC's -Wpsabi note never applies).
#pragma GCC diagnostic ignored "-Wpsabi"
constexpr std::size_t L = 16;
using VF = float __attribute__((vector_size(4 * L)));
using VU = std::uint32_t __attribute__((vector_size(4 * L)));
using VI = std::int32_t __attribute__((vector_size(4 * L)));

[[gnu::always_inline]] inline VF load(const float* p) {
    VF v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
[[gnu::always_inline]] inline void store(float* p, VF v) { std::memcpy(p, &v, sizeof v); }
[[gnu::always_inline]] inline VF splat(float x) { return VF{} + x; }

// exp(−D) for D >= 0, and 0 past D = 50: exp(−50) ≈ 2e-22 is far below a float ulp of any z_i (>= 1, its diagonal
// term), while the products of smaller values with 1/z and the coordinates would reach subnormals, which cost a
// microcode assist each. NaN stays NaN.
constexpr float kCut = 50.0f;
[[gnu::always_inline]] inline VF exp_neg(VF D) {
    const VF cut = splat(kCut);
    const VF x = -(cut < D ? cut : D);
    const VF magic = splat(12582912.0f);  // 1.5·2^23: adding it rounds to an integer n, kept in the low mantissa bits
    const VF t = x * 1.44269504088896341f + magic;
    const VF n = t - magic;
    VF r = x - n * 0.693359375f;  // x − n·ln 2 in two parts (n·0.693359375 is exact)
    r = r - n * -2.12194440e-4f;
    VF p = splat(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    VU bits;
    std::memcpy(&bits, &t, sizeof bits);
    bits = (bits + 127u) << 23;  // 2^n, n in [−73, 0]
    VF two_n;
    std::memcpy(&two_n, &bits, sizeof two_n);
    const VF e = p * two_n;
    return cut < D ? splat(0.0f) : e;
}

struct Tile {
    const float* c;  // coordinates [k][np]
    std::size_t np, d, i0, j0, B;
};

// (x_i − x_j) in coordinate k for the 16 columns from j.
[[gnu::always_inline]] inline VF diff(const Tile& t, std::size_t k, std::size_t i, std::size_t j) {
    return splat(t.c[k * t.np + i]) - load(t.c + k * t.np + j);
}

// exp(−D_ij) for the 16 columns from j; on the diagonal tile 0 where j <= i (its lower half and diagonal; the other
// tiles have j > i throughout). D = ((0 + d0²) + d1²) + … in coordinate order.
template <int DIM, bool DIAG>
[[gnu::always_inline]] inline VF pair_exp(const Tile& t, std::size_t i, std::size_t j, VI lane) {
    const std::size_t d = DIM > 0 ? DIM : t.d;
    VF a = diff(t, 0, i, j);
    VF D = a * a;
    for (std::size_t k = 1; k < d; ++k) {
        a = diff(t, k, i, j);
        D = D + a * a;
    }
    if constexpr (!DIAG) return exp_neg(D);
    const VI col = lane + static_cast<std::int32_t>(j);
    return col > static_cast<std::int32_t>(i) ? exp_neg(D) : splat(0.0f);
}

[[gnu::always_inline]] inline float lane_sum(VF v) {
    float s = v[0];
    for (std::size_t l = 1; l < L; ++l) s += v[l];
    return s;
}

// Pass 1 on a tile: rows[r] = Σ_{j∈J, j>i} exp(−D_ij) for i = i0 + r, cols[r] = Σ_{i∈I, i<j} exp(−D_ij) for j = j0 + r.
template <int DIM, bool DIAG>
[[gnu::always_inline]] inline void z_tile(const Tile& t, float* __restrict rows, float* __restrict cols) {
    VI lane;
    for (std::size_t l = 0; l < L; ++l) lane[l] = static_cast<std::int32_t>(l);
    std::fill(cols, cols + t.B, 0.0f);
    for (std::size_t r = 0; r < t.B; ++r) {
        const std::size_t i = t.i0 + r;
        VF acc = splat(0.0f);
        for (std::size_t jb = 0; jb < t.B; jb += L) {
            const VF e = pair_exp<DIM, DIAG>(t, i, t.j0 + jb, lane);
            acc = acc + e;
            store(cols + jb, load(cols + jb) + e);
        }
        rows[r] = lane_sum(acc);
    }
}

// Pass 2 on a tile, a = 1/z: with f_ij = exp(−D_ij)(a_i + a_j)(x_i − x_j), rows[k·B + r] = Σ_{j∈J, j>i} f_ij[k] and
// cols[k·B + r] = −Σ_{i∈I, i<j} f_ij[k] (the force on j). For DIM = 0 the d accumulators live in heap_acc (d·16
// floats), otherwise in registers.
template <int DIM, bool DIAG>
[[gnu::always_inline]] inline void force_tile(const Tile& t, const float* a, float* __restrict rows,
                                              float* __restrict cols, float* __restrict heap_acc) {
    const std::size_t d = DIM > 0 ? DIM : t.d;
    VI lane;
    for (std::size_t l = 0; l < L; ++l) lane[l] = static_cast<std::int32_t>(l);
    std::fill(cols, cols + d * t.B, 0.0f);
    VF local_acc[DIM > 0 ? DIM : 1];
    const auto get = [&](std::size_t k) __attribute__((always_inline)) {
        if constexpr (DIM > 0) return local_acc[k];
        else return load(heap_acc + k * L);
    };
    const auto put = [&](std::size_t k, VF v) __attribute__((always_inline)) {
        if constexpr (DIM > 0) local_acc[k] = v;
        else store(heap_acc + k * L, v);
    };
    for (std::size_t r = 0; r < t.B; ++r) {
        const std::size_t i = t.i0 + r;
        const VF ai = splat(a[i]);
        for (std::size_t k = 0; k < d; ++k) put(k, splat(0.0f));
        for (std::size_t jb = 0; jb < t.B; jb += L) {
            const std::size_t j = t.j0 + jb;
            const VF w = pair_exp<DIM, DIAG>(t, i, j, lane) * (ai + load(a + j));
            for (std::size_t k = 0; k < d; ++k) {
                const VF f = w * diff(t, k, i, j);
                put(k, get(k) + f);
                store(cols + k * t.B + jb, load(cols + k * t.B + jb) - f);
            }
        }
        for (std::size_t k = 0; k < d; ++k) rows[k * t.B + r] = lane_sum(get(k));
    }
}

// The cloned entry points: 2-D (TorchDR's default n_components) and any dimension.
NEMBED_ISA_CLONES void z_tile_2(const Tile& t, bool diag, float* rows, float* cols) {
    if (diag) z_tile<2, true>(t, rows, cols);
    else z_tile<2, false>(t, rows, cols);
}
NEMBED_ISA_CLONES void z_tile_any(const Tile& t, bool diag, float* rows, float* cols) {
    if (diag) z_tile<0, true>(t, rows, cols);
    else z_tile<0, false>(t, rows, cols);
}
NEMBED_ISA_CLONES void force_tile_2(const Tile& t, bool diag, const float* a, float* rows, float* cols, float* acc) {
    if (diag) force_tile<2, true>(t, a, rows, cols, acc);
    else force_tile<2, false>(t, a, rows, cols, acc);
}
NEMBED_ISA_CLONES void force_tile_any(const Tile& t, bool diag, const float* a, float* rows, float* cols, float* acc) {
    if (diag) force_tile<0, true>(t, a, rows, cols, acc);
    else force_tile<0, false>(t, a, rows, cols, acc);
}

// Block size B, a multiple of 16, from n only: 256 (a tile's columns, their 1/z and their sums stay in L1), smaller
// for small n, larger past 128 blocks so that the partials (d · n · n/B floats) stay bounded.
std::size_t block_size(std::size_t n) {
    const auto pad = [](std::size_t m) { return (m + L - 1) / L * L; };
    return std::max(std::min<std::size_t>(256, pad(n)), pad((n + 127) / 128));
}

} // namespace

void sne_repulsion(MatrixView<double> Y, double scale, double* grad, double* z, std::vector<float>& scratch,
                   int n_threads) {
    const std::size_t n = Y.rows, d = Y.cols;
    const std::size_t B = block_size(n), nb = (n + B - 1) / B, np = nb * B, dp = std::max<std::size_t>(d, 1);
    scratch.resize(d * np + np + dp * nb * np);
    float* c = scratch.data();
    float* inv_z = c + d * np;
    float* part = inv_z + np;

    // Float coordinates [k][np]; the padding points sit further than √50 from every point, so they add exact zeros.
    double far = 0.0;
    for (std::size_t q = 0; q < Y.size(); ++q) far = std::max(far, std::abs(Y.data[q]));
    const float pad = static_cast<float>(2.0 * far + 100.0);
    for (std::size_t k = 0; k < d; ++k) {
        for (std::size_t i = 0; i < n; ++i) c[k * np + i] = static_cast<float>(Y(i, k));
        std::fill(c + k * np + n, c + (k + 1) * np, pad);
    }

    std::vector<std::pair<std::uint32_t, std::uint32_t>> tiles;
    tiles.reserve(nb * (nb + 1) / 2);
    for (std::size_t I = 0; I < nb; ++I)
        for (std::size_t J = I; J < nb; ++J) tiles.emplace_back(static_cast<std::uint32_t>(I), static_cast<std::uint32_t>(J));

    // Runs fn(tile, rows, cols) over all tiles, then stores each tile's dims x B row and column partials in part.
    const auto over_tiles = [&](std::size_t dims, auto&& fn) {
        parallelize(n_threads, tiles.size(), [&](int, std::size_t b, std::size_t e) {
            std::vector<float> rows(dims * B), cols(dims * B);
            std::vector<float> acc(dims * L);
            for (std::size_t q = b; q < e; ++q) {
                const auto [I, J] = tiles[q];
                const Tile t{c, np, d, I * B, J * B, B};
                fn(t, rows.data(), cols.data(), acc.data());
                for (std::size_t k = 0; k < dims; ++k) {
                    float* to_rows = part + (k * nb + J) * np + I * B;  // sums over J of the rows of I
                    float* to_cols = part + (k * nb + I) * np + J * B;  // sums over I of the rows of J
                    for (std::size_t r = 0; r < B; ++r) {
                        if (I == J) {
                            to_rows[r] = rows[k * B + r] + cols[k * B + r];
                        } else {
                            to_rows[r] = rows[k * B + r];
                            to_cols[r] = cols[k * B + r];
                        }
                    }
                }
            }
        });
    };
    // Per point i < n: out(i, k, Σ_J part[k][J][i]), the partials added in block order in double.
    const auto reduce = [&](std::size_t dims, auto&& out) {
        parallelize(n_threads, n, [&](int, std::size_t b, std::size_t e) {
            std::vector<double> s(e - b);
            for (std::size_t k = 0; k < dims; ++k) {
                std::fill(s.begin(), s.end(), 0.0);
                for (std::size_t J = 0; J < nb; ++J) {
                    const float* p = part + (k * nb + J) * np;
                    for (std::size_t i = b; i < e; ++i) s[i - b] += static_cast<double>(p[i]);
                }
                for (std::size_t i = b; i < e; ++i) out(i, k, s[i - b]);
            }
        });
    };

    over_tiles(1, [&](const Tile& t, float* rows, float* cols, float*) {
        if (d == 2) z_tile_2(t, t.i0 == t.j0, rows, cols);
        else z_tile_any(t, t.i0 == t.j0, rows, cols);
    });
    reduce(1, [&](std::size_t i, std::size_t, double s) { z[i] = 1.0 + s; });  // 1: the j = i term
    for (std::size_t i = 0; i < np; ++i) inv_z[i] = i < n ? static_cast<float>(1.0 / z[i]) : 0.0f;

    over_tiles(d, [&](const Tile& t, float* rows, float* cols, float* acc) {
        if (d == 2) force_tile_2(t, t.i0 == t.j0, inv_z, rows, cols, acc);
        else force_tile_any(t, t.i0 == t.j0, inv_z, rows, cols, acc);
    });
    reduce(d, [&](std::size_t i, std::size_t k, double s) { grad[i * d + k] += scale * s; });
}

} // namespace nembed::detail
