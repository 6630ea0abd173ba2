#pragma once
/// @file idx.hpp
/// MNIST-style IDX files (the format of MNIST and Fashion-MNIST), plain or gzip-compressed. Compression is
/// detected from the gzip magic bytes (1f 8b), not from the file name. Layout: two zero bytes, a type byte
/// (0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64), the number of dimensions, one big-endian
/// 32-bit size per dimension, then the big-endian data.
#include <string>

#include "nembed/io/npy.hpp"

namespace nembed {

/// True if these leading bytes (at least 4) look like an uncompressed IDX header.
bool looks_like_idx(const unsigned char* bytes, std::size_t n);

/// Reads an IDX file into an array with the file's shape (e.g. 10000 x 28 x 28 for MNIST images).
/// Truncated files, bad magic and trailing data raise IoError naming the file and the byte offset.
NdArray read_idx(const std::string& path);

} // namespace nembed
