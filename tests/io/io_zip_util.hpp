#pragma once
// Compressed files built in the io tests: ZIP archives from the shared writer (tests/common/zip_writer.hpp) and
// gzip files.
#include <gtest/gtest.h>
#include <zlib.h>

#include <string>
#include <vector>

#include "../common/zip_writer.hpp"

namespace io_test {
using zip_writer::deflate_raw;
using zip_writer::make_zip;
using zip_writer::Member;
using zip_writer::put;

inline void write_gz(const std::string& path, const std::vector<unsigned char>& b) {
    gzFile f = gzopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(gzwrite(f, b.data(), static_cast<unsigned>(b.size())), static_cast<int>(b.size()));
    gzclose(f);
}
} // namespace io_test
