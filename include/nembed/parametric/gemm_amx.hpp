#pragma once
/// @file gemm_amx.hpp
/// nembed's own bf16 products on Intel AMX (parametric/gemm.hpp's bf16 products use them where they run): bf16
/// operands, float32 accumulation in the tiles, the bias, ReLU and the bf16 rounding applied as the tiles are
/// stored. Designed for the network's chunk shapes (512 rows, widths 2–100): one tile configuration a call, the
/// weights packed once a step in the VNNI layout, no per-call oneDNN dispatch.
///
/// Run-time dispatch: available() only when the CPU has AMX-BF16 and AVX-512 (F, BW) *and* the kernel granted this
/// process the tile data (arch_prctl ARCH_REQ_XCOMP_PERM, asked once); elsewhere the callers keep oneDNN's products.
/// The kernels are compiled for AMX with target attributes on their functions only: nothing else in the library
/// changes, and no AMX instruction runs unless available().
///
/// Determinism: the accumulation order is fixed by the kernel (k blocks of 32 in order; within a block the
/// instruction's own order), a row's result depends only on its own row: the same bits for any thread count.
#include <cstddef>
#include <cstdint>

namespace nembed::amx {

/// True when the own AMX kernels can run here (see above); asked once per process.
bool available();
/// available() and not switched off by set_enabled(false) (tests and benches compare them with oneDNN's products).
bool enabled();
void set_enabled(bool on);

/// n rounded up to the tile width (16 columns).
constexpr std::size_t padded_n(std::size_t n) { return (n + 15) / 16 * 16; }
/// k rounded up to a tile's depth (32).
constexpr std::size_t padded_k(std::size_t k) { return (k + 31) / 32 * 32; }
/// Elements of B (k×n) in the VNNI layout: padded_k(k)/2 rows of padded_n(n) pairs.
constexpr std::size_t vnni_size(std::size_t k, std::size_t n) { return padded_k(k) / 2 * padded_n(n) * 2; }
/// B (k×n, row-major bf16, row stride ldb ≥ n) in the VNNI layout the tiles read: out[(p·padded_n(n) + j)·2 + i]
/// = B[2p + i][j], zero where 2p + i ≥ k or j ≥ n. Needs available().
void pack_vnni(std::size_t k, std::size_t n, const std::uint16_t* B, std::size_t ldb, std::uint16_t* out);

/// What a product writes: C (m×n, row stride ldc) in float32 (c32) or rounded to bf16 (c16, nearest even), after
/// adding bias (n floats, when given) and then ReLU (max(0, ·)). With mask16 (m×n bf16, row stride ldc: a ReLU
/// layer's output) an entry is kept only where mask16's entry has a nonzero magnitude (ReLU's derivative), else 0,
/// and db (n floats, written) gets the kept values' column sums, in float32 row after row (the backward's fused
/// mask pass: dL/dZ of the layer below and its bias gradient).
struct Output {
    float* c32 = nullptr;
    std::uint16_t* c16 = nullptr;
    std::size_t ldc = 0;
    const float* bias = nullptr;
    bool relu = false;
    const std::uint16_t* mask16 = nullptr;
    float* db = nullptr;
};

/// C = A (m×k, row-major bf16, row stride lda ≥ k) · B (k×n, packed by pack_vnni), written as `out` says. Rows are
/// taken 32 at a time; a block of fewer rows, or any block when k is not a multiple of 32, is copied first (zero
/// padded). Needs available().
void matmul(std::size_t m, std::size_t n, std::size_t k, const std::uint16_t* A, std::size_t lda,
            const std::uint16_t* Bv, const Output& out);

/// At (k × padded_k(m), row-major) = the transpose of A (m×k, row-major, row stride lda), zero in columns m..:
/// dW's Gᵀ operand (its rows a multiple of 32: never copied by matmul). Needs available().
void transpose(std::size_t m, std::size_t k, const std::uint16_t* A, std::size_t lda, std::uint16_t* At);

} // namespace nembed::amx
