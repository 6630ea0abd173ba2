#pragma once
// ZIP archives built by the tests and the fuzz harnesses (stored and deflated members, correct CRCs), as np.savez /
// np.savez_compressed write them. No GoogleTest here: the libFuzzer harnesses include it too.
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

namespace zip_writer {

inline void put(std::vector<unsigned char>& out, std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out.push_back(static_cast<unsigned char>((v >> (8 * i)) & 0xFF));
}

inline std::vector<unsigned char> deflate_raw(const std::vector<unsigned char>& in) {
    z_stream zs{};
    if (deflateInit2(&zs, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) std::abort();
    std::vector<unsigned char> out(deflateBound(&zs, static_cast<uLong>(in.size())));
    zs.next_in = const_cast<unsigned char*>(in.data());
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = out.data();
    zs.avail_out = static_cast<uInt>(out.size());
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END) std::abort();
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
}

struct Member {
    std::string name;
    std::vector<unsigned char> data;
    int method;  // 0 stored, 8 deflate, anything else written as stored bytes with that method number
};

// A minimal ZIP archive (what Python's zipfile writes for small files, without the ZIP64 extras).
inline std::vector<unsigned char> make_zip(const std::vector<Member>& members) {
    std::vector<unsigned char> out, cd;
    for (const auto& m : members) {
        const auto body = m.method == 8 ? deflate_raw(m.data) : m.data;
        const std::uint32_t crc = static_cast<std::uint32_t>(crc32(0, m.data.data(), static_cast<uInt>(m.data.size())));
        const std::size_t offset = out.size();
        put(out, 0x04034b50, 4); put(out, 20, 2); put(out, 0, 2); put(out, static_cast<std::uint64_t>(m.method), 2);
        put(out, 0, 4); put(out, crc, 4); put(out, body.size(), 4); put(out, m.data.size(), 4);
        put(out, m.name.size(), 2); put(out, 0, 2);
        out.insert(out.end(), m.name.begin(), m.name.end());
        out.insert(out.end(), body.begin(), body.end());
        put(cd, 0x02014b50, 4); put(cd, 20, 2); put(cd, 20, 2); put(cd, 0, 2); put(cd, static_cast<std::uint64_t>(m.method), 2);
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

} // namespace zip_writer
