#pragma once
/// @file file.hpp
/// Small file helpers shared by the readers and writers: whole-file reads, error messages in one format, and
/// writes that go to a temporary file first and are renamed into place, so an output is never half-written.
#include <cstddef>
#include <cstdint>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "nembed/core/error.hpp"

namespace nembed {

/// The most a deflate stream can expand (RFC 1951: 258 bytes from a 2-bit code; zlib documents 1032:1). It bounds
/// what a compressed member or a gzip file can hold, so sizes they declare can be checked before allocating.
inline constexpr std::uint64_t kMaxDeflateRatio = 1032;

/// "<file>: <problem>".
[[noreturn]] void throw_io_error(const std::string& file, const std::string& problem);
/// "<file>: <problem> (at byte offset N)".
[[noreturn]] void throw_io_error_at(const std::string& file, std::uint64_t offset, const std::string& problem);
/// "<file>:<line>:<column>: <problem>" (1-based line and column).
[[noreturn]] void throw_io_error_line(const std::string& file, std::size_t line, std::size_t column,
                                      const std::string& problem);

/// "<file>: cannot allocate N bytes for <what>": for an allocation the file asked for that the system refused.
[[noreturn]] void throw_allocation_error(const std::string& file, std::uint64_t bytes, const std::string& what);

/// `v.resize(n)`, turning a refused allocation into IoError naming the file, the size and what it was for.
template <typename V>
void resize_for(V& v, std::size_t n, const std::string& file, const std::string& what) {
    try {
        v.resize(n);
    } catch (const std::bad_alloc&) {
        throw_allocation_error(file, static_cast<std::uint64_t>(n) * sizeof(typename V::value_type), what);
    } catch (const std::length_error&) {
        throw_allocation_error(file, static_cast<std::uint64_t>(n) * sizeof(typename V::value_type), what);
    }
}

/// Runs a reader; an allocation failure that escapes it (a bare std::bad_alloc) becomes an IoError naming the file,
/// so that no reader ends a program with an unexplained "std::bad_alloc".
template <typename F>
auto guard_allocation(const std::string& file, F&& read) -> decltype(read()) {
    try {
        return read();
    } catch (const std::bad_alloc&) {
        throw IoError(file + ": out of memory while reading it (the data it declares does not fit in memory)");
    } catch (const std::length_error&) {
        throw IoError(file + ": out of memory while reading it (the data it declares does not fit in memory)");
    }
}

/// The whole file as bytes. Throws IoError "<file>: no such file" if it is missing, and names read errors.
std::vector<unsigned char> read_file_bytes(const std::string& path);

/// Up to `n` bytes from the start of the file (fewer if it is shorter); used to sniff magic numbers.
std::vector<unsigned char> read_file_prefix(const std::string& path, std::size_t n);

/// Writes `size` bytes to `path` atomically: to "<path>.tmp<pid>" first, then renamed over `path`.
void write_file_atomic(const std::string& path, const void* data, std::size_t size);

/// Lower-case extension including the dot (".npy"), or "" when there is none. ".gz" is reported as such.
std::string file_extension(const std::string& path);

} // namespace nembed
