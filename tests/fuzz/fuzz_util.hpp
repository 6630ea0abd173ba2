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

inline void put(std::vector<std::uint8_t>& out, std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out.push_back(static_cast<std::uint8_t>((v >> (8 * i)) & 0xFF));
}

struct Member {
    std::string name;
    std::vector<std::uint8_t> data;
    bool deflate;
};

inline std::vector<std::uint8_t> deflate_raw(const std::vector<std::uint8_t>& in) {
    z_stream zs{};
    deflateInit2(&zs, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    std::vector<std::uint8_t> out(deflateBound(&zs, static_cast<uLong>(in.size())));
    zs.next_in = const_cast<std::uint8_t*>(in.data());
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = out.data();
    zs.avail_out = static_cast<uInt>(out.size());
    deflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
}

/// A ZIP archive with correct CRCs, so that mutations of the members' .npy bytes reach the .npy parser and the
/// readers above it instead of stopping at the CRC check.
inline std::vector<std::uint8_t> make_zip(const std::vector<Member>& members) {
    std::vector<std::uint8_t> out, cd;
    for (const auto& m : members) {
        const auto body = m.deflate ? deflate_raw(m.data) : m.data;
        const auto crc = static_cast<std::uint32_t>(crc32(0, m.data.data(), static_cast<uInt>(m.data.size())));
        const std::size_t offset = out.size();
        const int method = m.deflate ? 8 : 0;
        put(out, 0x04034b50, 4); put(out, 20, 2); put(out, 0, 2); put(out, method, 2);
        put(out, 0, 4); put(out, crc, 4); put(out, body.size(), 4); put(out, m.data.size(), 4);
        put(out, m.name.size(), 2); put(out, 0, 2);
        out.insert(out.end(), m.name.begin(), m.name.end());
        out.insert(out.end(), body.begin(), body.end());
        put(cd, 0x02014b50, 4); put(cd, 20, 2); put(cd, 20, 2); put(cd, 0, 2); put(cd, method, 2);
        put(cd, 0, 4); put(cd, crc, 4); put(cd, body.size(), 4); put(cd, m.data.size(), 4);
        put(cd, m.name.size(), 2); put(cd, 0, 2); put(cd, 0, 2); put(cd, 0, 2); put(cd, 0, 2); put(cd, 0, 4);
        put(cd, offset, 4);
        cd.insert(cd.end(), m.name.begin(), m.name.end());
    }
    const std::size_t cd_offset = out.size();
    out.insert(out.end(), cd.begin(), cd.end());
    put(out, 0x06054b50, 4); put(out, 0, 2); put(out, 0, 2); put(out, members.size(), 2); put(out, members.size(), 2);
    put(out, cd.size(), 4); put(out, cd_offset, 4); put(out, 0, 2);
    return out;
}

/// Decodes a fuzz input into archive members: records of [flags: bit 0 = deflate][name length][name]
/// [data length, 2 bytes little-endian][data]; a record cut short ends the list. tests/fuzz/make_corpus.py writes
/// seeds in this form.
inline std::vector<Member> decode_members(const std::uint8_t* p, std::size_t n) {
    std::vector<Member> out;
    std::size_t i = 0;
    while (i + 2 <= n && out.size() < 16) {
        Member m;
        m.deflate = p[i] & 1;
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
