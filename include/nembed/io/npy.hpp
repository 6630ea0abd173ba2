#pragma once
/// @file npy.hpp
/// NumPy .npy files (format versions 1.0, 2.0 and 3.0), read into an `NdArray` and written from matrices.
/// Reading keeps the raw element type (no conversion): a 70000 x 784 uint8 array stays 55 MB until it is
/// converted once into the caller's matrix. Data is always returned in native byte order and C (row-major) order.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "nembed/core/matrix.hpp"

namespace nembed {

/// The element types we read. Object, string, complex, float16 and structured dtypes are rejected.
enum class DType { u8, i8, u16, i16, u32, i32, u64, i64, f32, f64, boolean };

/// Bytes per element.
std::size_t dtype_size(DType t);
/// NumPy's name for the type ("float32", "uint8", ...), used in messages.
const char* dtype_name(DType t);
/// True for f32 and f64.
inline bool dtype_is_float(DType t) { return t == DType::f32 || t == DType::f64; }

/// An n-dimensional array in native byte order and C order, with its elements stored untyped.
struct NdArray {
    std::vector<std::size_t> shape;   ///< empty for a 0-d (scalar) array
    DType dtype = DType::f64;
    std::vector<unsigned char> bytes; ///< size() * dtype_size(dtype) bytes

    std::size_t ndim() const { return shape.size(); }
    /// Number of elements (1 for a 0-d array).
    std::size_t size() const;
    /// Element i converted to double.
    double value(std::size_t i) const;
    /// Converts all elements to T into `out` (size() elements). Instantiated for float, double, int32 and int64.
    template <typename T>
    void copy_to(T* out) const;
    /// "(3, 4)"-style shape string for messages.
    std::string shape_string() const;
};

/// Reads a .npy file. Errors (IoError) name the file, the problem and, for malformed data, the byte offset.
NdArray read_npy(const std::string& path);

/// Parses an in-memory .npy image (e.g. an .npz member); `name` is used in messages. The buffer is reused as
/// the array's storage, so no copy of the data is made.
NdArray parse_npy(std::vector<unsigned char>&& buffer, const std::string& name);

/// Encodes an array as a .npy image (version 1.0, or 2.0 when the header needs it), little-endian, C order.
std::vector<unsigned char> encode_npy(const NdArray& a);

/// The header of an .npy file and where its data starts (reads only the header).
struct NpyHeader {
    DType dtype = DType::f64;
    std::vector<std::size_t> shape;
    bool fortran_order = false;
    std::uint64_t data_offset = 0;  ///< bytes before the first element
    std::uint64_t file_size = 0;
};
/// Reads and checks the header only. Errors (IoError) as read_npy.
NpyHeader read_npy_header(const std::string& path);
/// Rows [begin, end) of an .npy array (first axis), reading only those bytes: a distributed run's block of X
/// (dist/). The array must be C-ordered (or 1-D). The result has shape (end - begin, ...). Throws IoError naming the
/// file for a bad range and for a file that ends before the requested rows do ("truncated data").
NdArray read_npy_rows(const std::string& path, std::size_t begin, std::size_t end);
/// The header bytes (magic, version, length, dict, padding to 64) of a C-order little-endian array: a writer of
/// row blocks puts the rows right after it.
std::vector<unsigned char> npy_header_bytes(DType dtype, const std::vector<std::size_t>& shape);

/// Writes a float64 matrix (N x D, C order), atomically.
void write_npy(const std::string& path, MatrixView<double> m);
/// Writes a float32 matrix (N x D, C order), atomically.
void write_npy(const std::string& path, MatrixView<float> m);
/// Writes a 1-D int64 array (labels), atomically.
void write_npy(const std::string& path, const std::vector<std::int64_t>& v);
/// Writes a 1-D float64 array, atomically.
void write_npy(const std::string& path, const std::vector<double>& v);

} // namespace nembed
