#pragma once
// The own bf16 backends' kernels (parametric/gemm_own.hpp), called through own::matmul's dispatch: each needs its
// CPU features (amx_usable(), and the AVX512-BF16 probe in gemm_own.cpp).
#include <stdexcept>
#include <string>

#include "nembed/parametric/gemm_own.hpp"

namespace nembed::own::detail {

/// Where the kernels are not compiled (not GCC on x86-64 Linux) available() is false and nothing calls them: a call
/// is a bug, reported rather than leaving the output unwritten.
[[noreturn]] inline void not_built(const char* what) {
    throw std::logic_error(std::string(what) + ": nembed's own bf16 kernels are not compiled into this build");
}

/// The CPU has AMX-BF16 and AVX-512 (F, BW, VL) and the kernel granted the tile data (asked on the first call).
bool amx_usable();
void matmul_amx(std::size_t m, std::size_t n, std::size_t k, const std::uint16_t* A, std::size_t lda,
                const std::uint16_t* Bv, const Output& out);
/// A's row i starts at A + i·lda and its k pairs are pair_stride elements apart (2: row-major; 2·padded_n(m): A is
/// the VNNI packing of Aᵀ, matmul_packed_a).
void matmul_avx512_bf16(std::size_t m, std::size_t n, std::size_t k, const std::uint16_t* A, std::size_t lda,
                        std::size_t pair_stride, const std::uint16_t* Bv, const Output& out);

} // namespace nembed::own::detail
