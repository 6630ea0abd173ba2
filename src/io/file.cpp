#include "nembed/io/file.hpp"

#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include "nembed/core/strings.hpp"

namespace nembed {

void throw_io_error(const std::string& file, const std::string& problem) { throw IoError(file + ": " + problem); }

void throw_io_error_at(const std::string& file, std::uint64_t offset, const std::string& problem) {
    throw IoError(file + ": " + problem + " (at byte offset " + std::to_string(offset) + ")");
}

void throw_io_error_line(const std::string& file, std::size_t line, std::size_t column, const std::string& problem) {
    throw IoError(file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + problem);
}

void throw_allocation_error(const std::string& file, std::uint64_t bytes, const std::string& what) {
    throw IoError(file + ": cannot allocate " + std::to_string(bytes) + " bytes for " + what + " (out of memory)");
}

namespace {
struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

FilePtr open_for_reading(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) throw_io_error(path, "no such file");
    if (std::filesystem::is_directory(path, ec)) throw_io_error(path, "is a directory, not a file");
    FilePtr f(std::fopen(path.c_str(), "rb"));
    if (!f) throw_io_error(path, std::string("cannot open for reading: ") + std::strerror(errno));
    return f;
}
} // namespace

std::vector<unsigned char> read_file_bytes(const std::string& path) {
    FilePtr f = open_for_reading(path);
    std::vector<unsigned char> out;
    if (std::fseek(f.get(), 0, SEEK_END) == 0) {
        long size = std::ftell(f.get());
        if (size > 0) out.reserve(static_cast<std::size_t>(size));
        std::rewind(f.get());
    }
    unsigned char buf[1 << 16];
    for (;;) {
        std::size_t got = std::fread(buf, 1, sizeof buf, f.get());
        out.insert(out.end(), buf, buf + got);
        if (got < sizeof buf) break;
    }
    if (std::ferror(f.get())) throw_io_error_at(path, out.size(), "read error");
    return out;
}

std::vector<unsigned char> read_file_prefix(const std::string& path, std::size_t n) {
    FilePtr f = open_for_reading(path);
    std::vector<unsigned char> out(n);
    std::size_t got = std::fread(out.data(), 1, n, f.get());
    if (std::ferror(f.get())) throw_io_error(path, "read error");
    out.resize(got);
    return out;
}

void write_file_atomic(const std::string& path, const void* data, std::size_t size) {
    const std::string tmp = path + ".tmp" + std::to_string(static_cast<long>(::getpid()));
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) throw_io_error(path, std::string("cannot open for writing: ") + std::strerror(errno));
    bool ok = size == 0 || std::fwrite(data, 1, size, f) == size;
    ok = (std::fclose(f) == 0) && ok;
    if (!ok) {
        std::remove(tmp.c_str());
        throw_io_error(path, "write failed (disk full?)");
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        int err = errno;
        std::remove(tmp.c_str());
        throw_io_error(path, std::string("cannot rename the temporary file into place: ") + std::strerror(err));
    }
}

std::string file_extension(const std::string& path) {
    const auto slash = path.find_last_of('/');
    const auto dot = path.find_last_of('.');
    if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
    const std::string ext = to_lower(path.substr(dot));
    return ext;
}

} // namespace nembed
