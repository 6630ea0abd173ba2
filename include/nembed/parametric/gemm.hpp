#pragma once
/// @file gemm.hpp
/// The network's matrix products (parametric/mlp.hpp), row-major, in one of two precisions:
///
/// - float32: OpenBLAS's cblas_sgemm where CMake found OpenBLAS, else Eigen's products.
/// - bf16: operands in bfloat16 (rounded to nearest even from float32 by to_bf16), products accumulated and written
///   in float32 — the usual mixed precision (the caller keeps float32 master weights and optimizer state). Through
///   nembed's own kernels where they run (parametric/gemm_own.hpp: AMX, else AVX512-BF16; own::enabled()), else
///   oneDNN's matmul; available only when nembed was built with oneDNN
///   on a CPU with bfloat16 products (bf16_gemm_available()), otherwise InvalidArgument "precision bf16 is not
///   available: <why>". The paths round the same way; their
///   accumulation orders agree in the cases checked (AMX: k blocks of 32 in order; AVX512-BF16: k pairs in order)
///   but are not guaranteed to: their bits may differ. Each is the same for any thread count.
///
/// Every product runs on the calling thread only (the network's chunks are the parallelism): OpenBLAS is kept serial
/// by the caller (Mlp), oneDNN (an OpenMP build) gets one OpenMP thread for the call, the caller's setting restored
/// after. A product never splits its inner dimension across threads, so results do not depend on the thread count.
/// oneDNN's primitives are created once per shape and cached for the process (the network's chunk shapes are fixed).
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nembed/core/aligned.hpp"
#include "nembed/core/bf16.hpp"

namespace nembed {

/// The precision of the network's products (MlpOptions::precision); the weights are float32 in both.
enum class Precision { float32, bf16 };
/// "float32"/"fp32"/"float", "bf16"/"bfloat16" (any case); throws InvalidArgument naming the value.
Precision parse_precision(const std::string& name);
std::string to_string(Precision p);

/// True when the bf16 products run here: nembed was built with oneDNN and this CPU has bfloat16 products (nembed's
/// own kernels' AMX or AVX512-BF16, or oneDNN's, which need AVX-512; an AVX2-only CPU has none). Probed once.
bool bf16_gemm_available();
/// Why not (empty when bf16_gemm_available()): "nembed was built without oneDNN (…)" or "this CPU has no bfloat16
/// products (…)".
const std::string& bf16_unavailable_reason();
/// Throws InvalidArgument ("<what>: precision bf16 is not available: <reason>; use float32") unless
/// bf16_gemm_available().
void require_bf16_gemm(const std::string& what);

/// y[i] = round_bf16(x[i]), nearest even (NaN stays a quiet NaN). The same bits on every CPU: an integer
/// rounding that the compiler vectorises (AVX-512's VCVTNEPS2BF16 would flush subnormals to zero).
void to_bf16(const float* x, std::uint16_t* y, std::size_t n);
/// The float32 value of a bfloat16.
float bf16_to_float(std::uint16_t v);

namespace gemm {

// float32: OpenBLAS (Eigen where nembed was built without OpenBLAS), and for the backward's products (dW, dIn)
// oneDNN's float32 matmul when chosen (opt-in, where nembed was built with oneDNN): on AMD Zen 3 (AVX2) its kernels ran the 100-wide
// shapes as fast as cblas_sgemm to 25 % faster, the 2-wide ones 1.5–2.6× faster (bench/RESULTS.md, #17). The two
// libraries' sums differ in their last bits (their blocking); each is the same for any thread count. The forward
// stays on blas: oneDNN's float32 sum of a row depends on the row's position in the product and on the row count
// (its row blocking and tails) at every width, and a point's output should not depend on its batch (OpenBLAS's does
// not at small widths; at 784 inputs it does for some row counts).
/// Who computes the backward's float32 products.
enum class F32Backend { blas, onednn };
std::string to_string(F32Backend b);
/// blas always; onednn where nembed was built with oneDNN.
bool available(F32Backend b);
/// The backend a network built now uses (Mlp keeps the one it was built with): set_f32_backend's choice, else the
/// environment's NEMBED_F32_GEMM=blas|onednn (read once), else blas (onednn is opt-in: bench/RESULTS.md, #17).
F32Backend f32_backend();
/// Throws InvalidArgument when b is not available here (tests and benches compare the two).
void set_f32_backend(F32Backend b);
/// Z (m×o) += H (m×a) · Wᵀ (W: o×a) by blas; the caller clears Z (OpenBLAS's β = 0 would clear it row by row).
void h_wt_add(std::size_t m, std::size_t o, std::size_t a, const float* H, const float* W, float* Z);
/// dW (o×a) = Gᵀ · H (G: m×o, H: m×a), by `backend`.
void gt_h(std::size_t m, std::size_t o, std::size_t a, const float* G, const float* H, float* dW,
          F32Backend backend = F32Backend::blas);
/// dIn (m×a) = G (m×o) · W (o×a), by `backend`.
void g_w(std::size_t m, std::size_t o, std::size_t a, const float* G, const float* W, float* dIn,
         F32Backend backend = F32Backend::blas);

/// A product's B operand (the weights: Wᵀ for the forward, W for dIn) in bf16, pre-packed once in the blocked
/// layout oneDNN's kernels read, so that the many products of a step (one a chunk) do not each repack it (pack_b).
/// A product given one uses it when its kernel wants exactly that layout (the descriptors compared: the chunks' row
/// counts, padded or not, want the same here), else the plain operand: the same kernels either way, the same bits.
/// Where nembed's own kernels run (parametric/gemm_own.hpp), B is packed in their VNNI layout instead.
struct PackedB {
    std::size_t n = 0, k = 0;            // B is k×n
    AlignedVector<std::uint8_t> bytes;   // 64-byte aligned: B's pair rows within cache lines
    std::shared_ptr<const void> layout;  // oneDNN's descriptor of bytes (empty: nothing packed)
    bool vnni = false;                   // bytes hold own::pack_vnni's layout (layout is empty then)
};
/// Packs B (k×n, row-major bf16) for products on m rows (padded as the products pad them) into out, reusing its
/// storage. Throws InvalidArgument without oneDNN.
void pack_b(std::size_t m, std::size_t n, std::size_t k, const std::uint16_t* B, PackedB& out);

// bf16 operands, float32 results (written, not added). Throws InvalidArgument without oneDNN. `packed`: B pre-packed
// by pack_b (optional; the plain operand is still required).
/// Z (m×o) = H (m×a) · Wᵀ (+ b on every row, when b is given) (then max(·, 0) when relu), given Wᵀ itself (a×o,
/// row-major): the caller keeps a transposed bf16 copy of the weights, as oneDNN's kernels repack a transposed
/// operand at every call, at twice the cost of the product here. The bias and ReLU run in the kernel (a separate
/// pass over Z cost as much as the product); ReLU writes −0 for negative sums.
void h_wt(std::size_t m, std::size_t o, std::size_t a, const std::uint16_t* H, const std::uint16_t* Wt, float* Z,
          const float* b = nullptr, bool relu = false, const PackedB* packed = nullptr);
/// The same with Z written in bf16 (oneDNN's rounding, to nearest even): a hidden ReLU layer's output, which in bf16
/// precision is needed only as the next layer's operand and for ReLU's mask.
void h_wt(std::size_t m, std::size_t o, std::size_t a, const std::uint16_t* H, const std::uint16_t* Wt,
          std::uint16_t* Z16, const float* b = nullptr, bool relu = false, const PackedB* packed = nullptr);
/// dW (o×a) = Gᵀ · H.
void gt_h(std::size_t m, std::size_t o, std::size_t a, const std::uint16_t* G, const std::uint16_t* H, float* dW);
/// dIn (m×a) = G · W.
void g_w(std::size_t m, std::size_t o, std::size_t a, const std::uint16_t* G, const std::uint16_t* W, float* dIn,
         const PackedB* packed = nullptr);
/// dIn = G · W through ReLU's derivative in one pass, where the own kernels run: G16out (m×a) = dIn where H16
/// (the ReLU layer's bf16 output, m×a) has a nonzero magnitude, else 0, rounded to bf16; db (a) = its column sums,
/// float32, row after row. Returns false, doing nothing, elsewhere (the caller runs g_w and its own mask pass: the
/// same definition, so only dIn's bits differ).
bool g_w_relu_mask(std::size_t m, std::size_t o, std::size_t a, const std::uint16_t* G, const std::uint16_t* W,
                   const std::uint16_t* H16, std::uint16_t* G16out, float* db, const PackedB* packed = nullptr);

} // namespace gemm
} // namespace nembed
