#pragma once
// Shared by the libFuzzer harnesses: the readers take paths, so each input is written to a private temporary file
// and read back through the public API (the path a user's file takes). A reader may reject an input only with
// nembed::IoError or nembed::InvalidArgument; any other exception escapes and libFuzzer reports it as a crash,
// as it does every sanitizer finding and any allocation above -malloc_limit_mb.
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "../common/zip_writer.hpp"
#include "nembed/core/error.hpp"

namespace fuzz {

/// A file in a per-process directory (in /dev/shm when there is one: no disk writes per execution).
inline std::string temp_path(const std::string& name) {
    static const std::string dir = [] {
        std::error_code ec;
        std::filesystem::path base = std::filesystem::is_directory("/dev/shm", ec) ? std::filesystem::path("/dev/shm")
                                                                                   : std::filesystem::temp_directory_path();
        auto d = base / ("nembed_fuzz_" + std::to_string(::getpid()));
        std::filesystem::create_directories(d);
        return d.string();
    }();
    return dir + "/" + name;
}

inline std::string write_temp(const std::string& name, const std::uint8_t* data, std::size_t size) {
    const std::string path = temp_path(name);
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) std::abort();
    if (size && std::fwrite(data, 1, size, f) != size) std::abort();
    std::fclose(f);
    return path;
}

/// Runs `fn`, accepting the documented rejections.
template <typename F>
void expect_clean(F&& fn) {
    try {
        fn();
    } catch (const nembed::IoError&) {
    } catch (const nembed::InvalidArgument&) {
    }
}

using zip_writer::make_zip;
using zip_writer::Member;

/// Decodes a fuzz input into archive members: records of [flags: bit 0 = deflate][name length][name]
/// [data length, 2 bytes little-endian][data]; a record cut short ends the list. tests/fuzz/make_corpus.py writes
/// seeds in this form.
inline std::vector<Member> decode_members(const std::uint8_t* p, std::size_t n) {
    std::vector<Member> out;
    std::size_t i = 0;
    while (i + 2 <= n && out.size() < 16) {
        Member m;
        m.method = (p[i] & 1) ? 8 : 0;
        const std::size_t nl = p[i + 1];
        i += 2;
        if (i + nl + 2 > n) break;
        m.name.assign(reinterpret_cast<const char*>(p + i), nl);
        i += nl;
        const std::size_t dl = p[i] | (std::size_t(p[i + 1]) << 8);
        i += 2;
        const std::size_t take = std::min(dl, n - i);
        m.data.assign(p + i, p + i + take);
        i += take;
        out.push_back(std::move(m));
    }
    return out;
}

} // namespace fuzz
