#pragma once
/// @file file.hpp
/// Small file helpers shared by the readers and writers: whole-file reads, error messages in one format, and
/// writes that go to a temporary file first and are renamed into place, so an output is never half-written.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "nembed/core/error.hpp"

namespace nembed {

/// "<file>: <problem>".
[[noreturn]] void throw_io_error(const std::string& file, const std::string& problem);
/// "<file>: <problem> (at byte offset N)".
[[noreturn]] void throw_io_error_at(const std::string& file, std::uint64_t offset, const std::string& problem);
/// "<file>:<line>:<column>: <problem>" (1-based line and column).
[[noreturn]] void throw_io_error_line(const std::string& file, std::size_t line, std::size_t column,
                                      const std::string& problem);

/// The whole file as bytes. Throws IoError "<file>: no such file" if it is missing, and names read errors.
std::vector<unsigned char> read_file_bytes(const std::string& path);

/// Up to `n` bytes from the start of the file (fewer if it is shorter); used to sniff magic numbers.
std::vector<unsigned char> read_file_prefix(const std::string& path, std::size_t n);

/// Writes `size` bytes to `path` atomically: to "<path>.tmp<pid>" first, then renamed over `path`.
void write_file_atomic(const std::string& path, const void* data, std::size_t size);

/// Lower-case extension including the dot (".npy"), or "" when there is none. ".gz" is reported as such.
std::string file_extension(const std::string& path);

} // namespace nembed
