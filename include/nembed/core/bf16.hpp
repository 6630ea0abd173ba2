#pragma once
/// @file bf16.hpp
/// bfloat16 rounding, shared by the bf16 network (parametric/gemm.hpp) and the exact kNN's bf16 screen.
#include <bit>
#include <cstdint>

namespace nembed {

/// x rounded to bfloat16, nearest even: add 0x7FFF plus the lowest kept bit, keep the high half; a NaN keeps its
/// sign and top payload bits with the quiet bit set (the addition could carry it into infinity). Inline so that
/// element-wise passes can write it fused (Mlp's bias + ReLU).
inline std::uint16_t round_bf16(float x) {
    const std::uint32_t u = std::bit_cast<std::uint32_t>(x);
    const std::uint32_t rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16, nan = (u >> 16) | 0x40u;
    return static_cast<std::uint16_t>((u & 0x7FFFFFFFu) > 0x7F800000u ? nan : rounded);  // a select: vectorises
}

} // namespace nembed
