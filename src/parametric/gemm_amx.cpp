// nembed's own bf16 products on AMX (parametric/gemm_own.hpp, backend amx).
#include "nembed/core/aligned.hpp"
#include "gemm_own_kernels.hpp"
#include "gemm_own_simd.hpp"

#include <algorithm>
#include <cstring>

#ifdef NEMBED_OWN_GEMM_BUILD
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace nembed::own::detail {

#ifdef NEMBED_OWN_GEMM_BUILD

// Only these functions are compiled for AMX and AVX-512 (the rest of the library stays baseline).
#define NEMBED_AMX __attribute__((target("amx-tile,amx-bf16,avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))

namespace {
bool probe() {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("amx-tile") || !__builtin_cpu_supports("amx-bf16") ||
        !__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
        !__builtin_cpu_supports("avx512vl"))
        return false;
    // Linux ≥ 5.16 hands out the tile data state only on request; without it the first tile instruction faults.
    constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}

// Every tile 16 rows of 64 bytes: C0..C3 (tmm0–3) a 2 × 2 block of C (rows r0 and r0 + 16, columns j0 and j0 + 16),
// A0, A1 (tmm4, 5) the two row blocks' next 32 k, B0, B1 (tmm6, 7) the two column blocks' next 16 k pairs. Four
// independent accumulators keep the multiply unit busy (one chain waits out the instruction's latency). k is padded
// to a multiple of 32 (zero A columns, zero B pairs): one configuration for every product. (GCC's tile intrinsics
// paste their argument into the instruction: the kernel names the tiles by number.)
struct alignas(64) TileConfig {
    std::uint8_t palette = 1, start_row = 0, reserved[14] = {};
    std::uint16_t colsb[16] = {64, 64, 64, 64, 64, 64, 64, 64};
    std::uint8_t rows[16] = {16, 16, 16, 16, 16, 16, 16, 16};
};
// A constant in memory: GCC 12's _tile_loadconfig tells the compiler it reads only the first 8 bytes, so the stores
// of a local configuration's other fields could be dropped.
const TileConfig kTileConfig{};

NEMBED_AMX void configure() { _tile_loadconfig(&kTileConfig); }

// GCC's tile loads and stores are asm statements without a memory clobber: the compiler may move plain loads and
// stores of the same memory across them. A barrier after a block's staging copy and after the tile stores.
inline void memory_barrier() { asm volatile("" ::: "memory"); }

// A stored tile (rows r0.. of C, 16 columns from j0) through the shared epilogue into C. db's sums go on from the
// rows above (the row blocks are stored in order, a column's tiles top to bottom).
NEMBED_AMX inline void store_tile(const float* tile, std::size_t rows, std::size_t r0, std::size_t j0, std::size_t n,
                                  const Output& out) {
    if (j0 >= n) return;
    simd::Epilogue e(out, j0, n);
    for (std::size_t i = 0; i < rows; ++i) e.row(_mm512_load_ps(tile + i * 16), r0 + i);
    e.end();
}

} // namespace

bool amx_usable() { return probe(); }

NEMBED_AMX void matmul_amx(std::size_t m, std::size_t n, std::size_t k, const std::uint16_t* A, std::size_t lda,
                           const std::uint16_t* Bv, const Output& out) {
    const std::size_t np = padded_n(n), kp = padded_k(k);
    if (out.db) std::fill(out.db, out.db + n, 0.0f);
    configure();
    alignas(64) float tiles[4][16 * 16];
    // A row block is used as it is when it has 32 rows and k is a multiple of 32; else its rows are copied with
    // zero columns up to kp, so that no tile reads past A. The stage's rows after them are left as they are: a row
    // of C depends only on its own row of A, and those rows' results are not stored.
    thread_local AlignedVector<std::uint16_t> stage;
    if (stage.size() < 32 * kp) stage.resize(32 * kp);
    const std::size_t bstride = np * 4;  // bytes between k pairs in Bv
    for (std::size_t r0 = 0; r0 < m; r0 += 32) {
        const std::size_t rows = std::min<std::size_t>(32, m - r0);
        const std::uint16_t* a = A + r0 * lda;
        std::size_t sa = lda;
        if (rows < 32 || kp != k) {
            // 32 columns at a time, masked at the row's end (zero after it); a libc call per row cost more than the
            // products at k = 2.
            for (std::size_t i = 0; i < rows; ++i)
                for (std::size_t c = 0; c < kp; c += 32) {
                    const std::size_t w = c < k ? std::min<std::size_t>(32, k - c) : 0;
                    const __mmask32 mask = static_cast<__mmask32>(w == 32 ? ~0u : (1u << w) - 1u);
                    _mm512_store_si512(stage.data() + i * kp + c, _mm512_maskz_loadu_epi16(mask, a + i * lda + c));
                }
            a = stage.data();
            sa = kp;
            memory_barrier();
        }
        const std::uint16_t* a1 = a + 16 * sa;
        const std::size_t rows0 = std::min<std::size_t>(16, rows), rows1 = rows - rows0;
        std::size_t j0 = 0;
        for (; j0 + 32 <= np; j0 += 32) {
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
            const std::uint16_t* b = Bv + j0 * 2;
            if (rows1) {
                for (std::size_t k0 = 0; k0 < kp; k0 += 32) {
                    _tile_loadd(4, a + k0, sa * 2);
                    _tile_loadd(6, b + k0 * np, bstride);
                    _tile_loadd(7, b + k0 * np + 32, bstride);
                    _tile_dpbf16ps(0, 4, 6);
                    _tile_dpbf16ps(1, 4, 7);
                    _tile_loadd(5, a1 + k0, sa * 2);
                    _tile_dpbf16ps(2, 5, 6);
                    _tile_dpbf16ps(3, 5, 7);
                }
            } else {  // a last block of at most 16 rows: its second half not computed
                for (std::size_t k0 = 0; k0 < kp; k0 += 32) {
                    _tile_loadd(4, a + k0, sa * 2);
                    _tile_loadd(6, b + k0 * np, bstride);
                    _tile_loadd(7, b + k0 * np + 32, bstride);
                    _tile_dpbf16ps(0, 4, 6);
                    _tile_dpbf16ps(1, 4, 7);
                }
            }
            _tile_stored(0, tiles[0], 64);
            _tile_stored(1, tiles[1], 64);
            if (rows1) {
                _tile_stored(2, tiles[2], 64);
                _tile_stored(3, tiles[3], 64);
            }
            memory_barrier();
            store_tile(tiles[0], rows0, r0, j0, n, out);
            store_tile(tiles[1], rows0, r0, j0 + 16, n, out);
            if (rows1) {
                store_tile(tiles[2], rows1, r0 + 16, j0, n, out);
                store_tile(tiles[3], rows1, r0 + 16, j0 + 16, n, out);
            }
        }
        if (j0 < np) {  // the last single column block
            _tile_zero(0);
            _tile_zero(2);
            const std::uint16_t* b = Bv + j0 * 2;
            for (std::size_t k0 = 0; k0 < kp; k0 += 32) {
                _tile_loadd(4, a + k0, sa * 2);
                _tile_loadd(6, b + k0 * np, bstride);
                _tile_dpbf16ps(0, 4, 6);
                if (rows1) {
                    _tile_loadd(5, a1 + k0, sa * 2);
                    _tile_dpbf16ps(2, 5, 6);
                }
            }
            _tile_stored(0, tiles[0], 64);
            if (rows1) _tile_stored(2, tiles[2], 64);
            memory_barrier();
            store_tile(tiles[0], rows0, r0, j0, n, out);
            if (rows1) store_tile(tiles[2], rows1, r0 + 16, j0, n, out);
        }
    }
}

#else

bool amx_usable() { return false; }
void matmul_amx(std::size_t, std::size_t, std::size_t, const std::uint16_t*, std::size_t, const std::uint16_t*,
                const Output&) {
    not_built("own::matmul (amx)");
}

#endif

} // namespace nembed::own::detail
