// nembed's own bf16 products (parametric/gemm_own.hpp): the backend choice, the VNNI packing and the transpose that
// both backends read; the kernels are in gemm_amx.cpp and gemm_avx512_bf16.cpp.
#include "nembed/parametric/gemm_own.hpp"

#include <atomic>

#include "nembed/core/error.hpp"
#include "nembed/parametric/gemm.hpp"
#include "gemm_own_kernels.hpp"
#include "gemm_own_simd.hpp"

namespace nembed::own {

namespace {

bool avx512_bf16_usable() {
#ifdef NEMBED_OWN_GEMM_BUILD
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
#else
    return false;
#endif
}

std::atomic<Backend>& chosen() {
    static std::atomic<Backend> b{best()};
    return b;
}

} // namespace

std::string to_string(Backend b) {
    switch (b) {
        case Backend::amx: return "amx";
        case Backend::avx512_bf16: return "avx512_bf16";
        default: return "onednn";
    }
}

bool available(Backend b) {
    static const bool amx = detail::amx_usable(), avx512 = avx512_bf16_usable();
    switch (b) {
        case Backend::amx: return amx;
        case Backend::avx512_bf16: return avx512;
        default: return bf16_gemm_available();
    }
}

Backend best() {
    if (available(Backend::amx)) return Backend::amx;
    if (available(Backend::avx512_bf16)) return Backend::avx512_bf16;
    return Backend::onednn;
}

Backend backend() { return chosen().load(std::memory_order_relaxed); }

void set_backend(Backend b) {
    require(available(b), "bf16 products: backend " + to_string(b) + " is not available on this CPU or build");
    chosen().store(b, std::memory_order_relaxed);
}

#ifdef NEMBED_OWN_GEMM_BUILD

NEMBED_AVX512BW void pack_vnni(std::size_t k, std::size_t n, const std::uint16_t* B, std::size_t ldb,
                               std::uint16_t* out) {
    const std::size_t np = padded_n(n);
    for (std::size_t p = 0; p < padded_k(k) / 2; ++p) {
        const std::uint16_t* r0 = 2 * p < k ? B + 2 * p * ldb : nullptr;
        const std::uint16_t* r1 = 2 * p + 1 < k ? r0 + ldb : nullptr;
        for (std::size_t j = 0; j < np; j += 16) {
            const std::size_t w = j < n ? std::min<std::size_t>(16, n - j) : 0;
            _mm512_storeu_si512(out + (p * np + j) * 2,
                                simd::interleave_pair(r0 ? r0 + j : nullptr, r1 ? r1 + j : nullptr,
                                                      static_cast<__mmask16>((1u << w) - 1u)));
        }
    }
}

// A 16-bit transpose as a 32-bit one: two rows interleaved are a row of pairs (A[2p][c], A[2p+1][c]); those pair
// rows transposed (16 × 16 dwords at a time) are the rows of Aᵀ, 32 of A's rows at a time.
NEMBED_AVX512BW void transpose(std::size_t m, std::size_t k, const std::uint16_t* A, std::size_t lda,
                               std::uint16_t* At) {
    const std::size_t ldt = padded_k(m);
    __m512i r[16];
    // 32 rows of A at a time (in L1 while their columns are written), 16 columns of them at a time.
    for (std::size_t r0 = 0; r0 < ldt; r0 += 32)
        for (std::size_t c0 = 0; c0 < k; c0 += 16) {
            const std::size_t w = std::min<std::size_t>(16, k - c0);
            const __mmask16 cols = static_cast<__mmask16>((1u << w) - 1u);
            for (std::size_t p = 0; p < 16; ++p) {
                const std::size_t row = r0 + 2 * p;
                r[p] = simd::interleave_pair(row < m ? A + row * lda + c0 : nullptr,
                                             row + 1 < m ? A + (row + 1) * lda + c0 : nullptr, cols);
            }
            simd::transpose16(r);
            for (std::size_t j = 0; j < w; ++j) _mm512_storeu_si512(At + (c0 + j) * ldt + r0, r[j]);
        }
}

#else

void pack_vnni(std::size_t, std::size_t, const std::uint16_t*, std::size_t, std::uint16_t*) {
    detail::not_built("own::pack_vnni");
}
void transpose(std::size_t, std::size_t, const std::uint16_t*, std::size_t, std::uint16_t*) {
    detail::not_built("own::transpose");
}

#endif

void matmul(std::size_t m, std::size_t n, std::size_t k, const std::uint16_t* A, std::size_t lda,
            const std::uint16_t* Bv, const Output& out) {
    if (backend() == Backend::amx) detail::matmul_amx(m, n, k, A, lda, Bv, out);
    else detail::matmul_avx512_bf16(m, n, k, A, lda, 2, Bv, out);
}

bool packed_a_available() { return backend() == Backend::avx512_bf16; }

void matmul_packed_a(std::size_t m, std::size_t n, std::size_t k, const std::uint16_t* Av, const std::uint16_t* Bv,
                     const Output& out) {
    // Row i of A is column i of the packing (its pairs 2·padded_n(m) apart); both operands' pairs past k are zero.
    detail::matmul_avx512_bf16(m, n, (k + 1) / 2 * 2, Av, 2, 2 * padded_n(m), Bv, out);
}

} // namespace nembed::own
