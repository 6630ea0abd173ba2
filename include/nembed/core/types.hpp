#pragma once
/// @file types.hpp
/// Index types shared by every module. Point indices fit 32 bits; anything counting N*k entries uses 64 bits.
#include <cstdint>

namespace nembed {
using index_t = std::int32_t;   ///< a point (row) index
using offset_t = std::int64_t;  ///< an offset into N*k-sized storage (CSR row pointers, edge lists)
} // namespace nembed
