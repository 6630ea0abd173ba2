#pragma once
/// @file gemm_own.hpp
/// nembed's own bf16 products (parametric/gemm.hpp's bf16 products use them where they run): bf16 operands, float32
/// accumulation, the bias, ReLU and the bf16 rounding applied as C is stored. Designed for the network's chunk shapes
/// (512 rows, widths 2–100): the weights packed once a step in the VNNI pair layout, no per-call oneDNN dispatch.
/// Two backends read the same layout and share the epilogue:
///
/// - amx: Intel AMX tiles (2 × 2 tile blocks of 16 × 16, k padded to 32), where the CPU has AMX-BF16 and AVX-512
///   (F, BW, VL) *and* the kernel granted this process the tile data (arch_prctl ARCH_REQ_XCOMP_PERM, asked once).
/// - avx512_bf16: AVX512-BF16's VDPBF16PS (per float32 lane acc += a[2i]·b[2i] + a[2i+1]·b[2i+1], the VNNI pair),
///   register blocks of up to 12 rows × 64 columns (A's pairs broadcast, B's packed pairs loaded), where the CPU has
///   AVX512-BF16 and AVX-512 (F, BW, VL) but no usable AMX (AMD Zen 4, Intel Cooper Lake).
///
/// Elsewhere (or with the onednn backend chosen) the callers keep oneDNN's products. The kernels are compiled with
/// target attributes on their functions only: nothing else in the library changes, and no such instruction runs
/// unless available() says the CPU has it.
///
/// Determinism: each backend's accumulation order is fixed (amx: k blocks of 32 in order, within a block the
/// instruction's own order; avx512_bf16: k pairs in order), and a row's result depends only on its own row: the
/// same bits for any thread count. The two backends' bits may differ (and both may differ from oneDNN's).
#include <cstddef>
#include <cstdint>
#include <string>

namespace nembed::own {

/// Who computes the bf16 products: oneDNN's matmul, or one of the own kernels.
enum class Backend { onednn, avx512_bf16, amx };
std::string to_string(Backend b);

/// Whether b can run here (onednn: nembed was built with oneDNN; the own kernels: the CPU and kernel, see above;
/// asked once per process).
bool available(Backend b);
/// The fastest available here: amx, else avx512_bf16, else onednn.
Backend best();
/// The backend in use: best(), unless set_backend chose another (tests and benches compare them).
Backend backend();
/// Throws InvalidArgument when b is not available here.
void set_backend(Backend b);
/// backend() is an own kernel (pack_vnni, transpose and matmul may be called).
inline bool enabled() { return backend() != Backend::onednn; }

/// n rounded up to a column block (16 float32 lanes; an AMX tile's width).
constexpr std::size_t padded_n(std::size_t n) { return (n + 15) / 16 * 16; }
/// k rounded up to 32 (an AMX tile's depth).
constexpr std::size_t padded_k(std::size_t k) { return (k + 31) / 32 * 32; }
/// Elements of B (k×n) in the VNNI layout: padded_k(k)/2 rows of padded_n(n) pairs.
constexpr std::size_t vnni_size(std::size_t k, std::size_t n) { return padded_k(k) / 2 * padded_n(n) * 2; }
/// B (k×n, row-major bf16, row stride ldb ≥ n) in the VNNI layout both backends read: out[(p·padded_n(n) + j)·2 + i]
/// = B[2p + i][j], zero where 2p + i ≥ k or j ≥ n (out 64-byte aligned). Needs enabled().
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

/// C = A (m×k, row-major bf16, row stride lda ≥ k) · B (k×n, packed by pack_vnni), written as `out` says, by
/// backend(). Needs enabled().
void matmul(std::size_t m, std::size_t n, std::size_t k, const std::uint16_t* A, std::size_t lda,
            const std::uint16_t* Bv, const Output& out);

/// Whether matmul_packed_a runs here (the avx512_bf16 backend; AMX reads A's rows as tiles: transpose instead).
bool packed_a_available();
/// C (m×n) = Aᵀ·B with A (k×m) given as its VNNI packing (pack_vnni(k, m, …)) and B (k×n) packed by pack_vnni:
/// dW = Gᵀ·H with both operands packed, the same interleave for each (no transpose of G). Needs packed_a_available().
void matmul_packed_a(std::size_t m, std::size_t n, std::size_t k, const std::uint16_t* Av, const std::uint16_t* Bv,
                     const Output& out);

/// At (k × padded_k(m), row-major) = the transpose of A (m×k, row-major, row stride lda), zero in columns m..:
/// dW's Gᵀ operand (its rows a multiple of 32: never copied by the AMX kernel). Needs enabled().
void transpose(std::size_t m, std::size_t k, const std::uint16_t* A, std::size_t lda, std::uint16_t* At);

} // namespace nembed::own
