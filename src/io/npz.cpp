#include "nembed/io/npz.hpp"

#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>

#include "nembed/io/file.hpp"

namespace nembed {

namespace {

struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
};

struct Entry {
    std::string name;
    std::uint16_t method = 0;
    std::uint32_t crc = 0;
    std::uint64_t compressed = 0, uncompressed = 0, local_offset = 0;
    std::uint64_t cd_offset = 0;  // where its central directory record is, for messages
};

std::uint64_t le(const unsigned char* p, int n) {
    std::uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

class Zip {
public:
    explicit Zip(const std::string& path) : path_(path) {
        // Existence and the "no such file" message come from read_file_prefix.
        read_file_prefix(path, 0);
        f_.reset(std::fopen(path.c_str(), "rb"));
        if (!f_) throw_io_error(path, "cannot open for reading");
        if (std::fseek(f_.get(), 0, SEEK_END) != 0) throw_io_error(path, "cannot seek");
        size_ = static_cast<std::uint64_t>(std::ftell(f_.get()));
        if (size_ == 0) throw_io_error(path, "empty file");
        unsigned char magic[4];
        read_at(0, magic, std::min<std::uint64_t>(4, size_), "file header");
        if (size_ < 4 || std::memcmp(magic, "PK\x03\x04", 4) != 0) {
            if (size_ >= 4 && std::memcmp(magic, "PK\x05\x06", 4) == 0) throw_io_error(path, "empty .npz archive (no members)");
            throw_io_error_at(path, 0, "not an .npz/ZIP file (wrong magic; expected PK\\x03\\x04)");
        }
        read_directory();
    }

    const std::vector<Entry>& entries() const { return entries_; }

    std::vector<unsigned char> extract(const Entry& e) {
        unsigned char lh[30];
        read_at(e.local_offset, lh, 30, "local header of member '" + e.name + "'");
        if (le(lh, 4) != 0x04034b50) throw_io_error_at(path_, e.local_offset, "bad local header signature for member '" + e.name + "'");
        const std::uint64_t data_offset = e.local_offset + 30 + le(lh + 26, 2) + le(lh + 28, 2);
        if (data_offset > size_ || e.compressed > size_ - data_offset)
            throw_io_error_at(path_, size_, "truncated: member '" + e.name + "' needs " + std::to_string(e.compressed) +
                                                " bytes from offset " + std::to_string(data_offset));
        // Sizes from the directory are checked against the file before anything is allocated: a stored member holds
        // exactly its bytes, and deflate expands at most 1032:1 (zlib's documented limit).
        if (e.method != 0 && e.method != 8)
            throw_io_error_at(path_, e.cd_offset, "member '" + e.name + "' uses unsupported compression method " +
                                                       std::to_string(e.method) + " (only stored and deflate are supported)");
        if (e.method == 0 && e.compressed != e.uncompressed)
            throw_io_error_at(path_, e.cd_offset, "stored member '" + e.name + "' has different compressed and uncompressed sizes");
        if (e.method == 8 && e.uncompressed / kMaxDeflateRatio > e.compressed)
            throw_io_error_at(path_, e.cd_offset, "member '" + e.name + "' declares " + std::to_string(e.uncompressed) +
                                                       " bytes, more than its " + std::to_string(e.compressed) +
                                                       " compressed bytes can hold (corrupt archive)");
        std::vector<unsigned char> out;
        resize_for(out, static_cast<std::size_t>(e.uncompressed), path_, "member '" + e.name + "'");
        if (e.method == 0) {
            read_at(data_offset, out.data(), out.size(), "member '" + e.name + "'");
        } else {
            std::vector<unsigned char> in;
            resize_for(in, static_cast<std::size_t>(e.compressed), path_, "member '" + e.name + "'");
            read_at(data_offset, in.data(), in.size(), "member '" + e.name + "'");
            inflate_raw(e, in, out, data_offset);
        }
        std::uint64_t crc = 0;
        std::size_t done = 0;
        crc = ::crc32(0L, Z_NULL, 0);
        while (done < out.size()) {
            const uInt chunk = static_cast<uInt>(std::min<std::size_t>(out.size() - done, 1u << 30));
            crc = ::crc32(static_cast<uLong>(crc), out.data() + done, chunk);
            done += chunk;
        }
        if (crc != e.crc) throw_io_error_at(path_, data_offset, "CRC-32 mismatch in member '" + e.name + "' (corrupted file)");
        return out;
    }

private:
    void read_at(std::uint64_t offset, void* dst, std::size_t n, const std::string& what) {
        if (offset > size_ || n > size_ - offset)
            throw_io_error_at(path_, size_, "truncated: " + what + " extends past the end of the file");
        if (n == 0) return;
        if (std::fseek(f_.get(), static_cast<long>(offset), SEEK_SET) != 0 || std::fread(dst, 1, n, f_.get()) != n)
            throw_io_error_at(path_, offset, "read error in " + what);
    }

    void inflate_raw(const Entry& e, std::vector<unsigned char>& in, std::vector<unsigned char>& out, std::uint64_t offset) {
        z_stream zs{};
        if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) throw_io_error(path_, "zlib initialisation failed");
        std::size_t in_done = 0, out_done = 0;
        int rc = Z_OK;
        unsigned char dummy;
        while (rc == Z_OK) {
            const std::size_t in_chunk = std::min<std::size_t>(in.size() - in_done, 1u << 30);
            const std::size_t out_chunk = std::min<std::size_t>(out.size() - out_done, 1u << 30);
            zs.next_in = in.data() + in_done;
            zs.avail_in = static_cast<uInt>(in_chunk);
            // With no room left, give zlib a 1-byte scratch so that extra data is detected.
            zs.next_out = out_chunk ? out.data() + out_done : &dummy;
            zs.avail_out = out_chunk ? static_cast<uInt>(out_chunk) : 1;
            rc = inflate(&zs, Z_NO_FLUSH);
            in_done += in_chunk - zs.avail_in;
            if (out_chunk) out_done += out_chunk - zs.avail_out;
            else if (zs.avail_out == 0) { rc = Z_DATA_ERROR; break; }
            if (rc == Z_OK && in_chunk == 0 && zs.avail_in == 0) { rc = Z_BUF_ERROR; break; }
            if (rc == Z_BUF_ERROR && in_done < in.size()) rc = Z_OK;
        }
        inflateEnd(&zs);
        if (rc != Z_STREAM_END || out_done != out.size())
            throw_io_error_at(path_, offset + in_done, "corrupt or truncated deflate data in member '" + e.name + "'" +
                                                           (zs.msg ? std::string(": ") + zs.msg : std::string()));
    }

    void read_directory() {
        // The end-of-central-directory record is in the last 22 + 65535 bytes.
        const std::uint64_t tail = std::min<std::uint64_t>(size_, 22 + 65535);
        std::vector<unsigned char> buf(static_cast<std::size_t>(tail));
        read_at(size_ - tail, buf.data(), buf.size(), "end of archive");
        std::size_t eocd = std::string::npos;
        for (std::size_t i = buf.size() >= 22 ? buf.size() - 22 + 1 : 0; i-- > 0;) {
            if (le(buf.data() + i, 4) == 0x06054b50) {
                eocd = i;
                break;
            }
        }
        if (eocd == std::string::npos)
            throw_io_error_at(path_, size_, "truncated ZIP archive: end-of-central-directory record not found");
        const unsigned char* r = buf.data() + eocd;
        const std::uint64_t eocd_pos = size_ - tail + eocd;
        const std::uint64_t count = le(r + 10, 2), cd_size = le(r + 12, 4), cd_offset = le(r + 16, 4);
        if (count == 0xFFFF || cd_size == 0xFFFFFFFF || cd_offset == 0xFFFFFFFF ||
            (eocd >= 20 && le(r - 20, 4) == 0x07064b50))
            throw_io_error_at(path_, eocd_pos, "ZIP64 archives (more than 65535 members or over 4 GiB) are not supported; "
                                               "save the array as .npy instead");
        if (cd_offset > eocd_pos || cd_size > eocd_pos - cd_offset)
            throw_io_error_at(path_, eocd_pos, "corrupt ZIP archive: central directory outside the file");
        std::vector<unsigned char> cd(static_cast<std::size_t>(cd_size));
        read_at(cd_offset, cd.data(), cd.size(), "central directory");
        std::size_t p = 0;
        for (std::uint64_t k = 0; k < count; ++k) {
            const std::uint64_t at = cd_offset + p;
            if (p + 46 > cd.size() || le(cd.data() + p, 4) != 0x02014b50)
                throw_io_error_at(path_, at, "corrupt ZIP central directory entry");
            const unsigned char* c = cd.data() + p;
            Entry e;
            e.cd_offset = at;
            e.method = static_cast<std::uint16_t>(le(c + 10, 2));
            e.crc = static_cast<std::uint32_t>(le(c + 16, 4));
            e.compressed = le(c + 20, 4);
            e.uncompressed = le(c + 24, 4);
            const std::size_t nlen = le(c + 28, 2), xlen = le(c + 30, 2), clen = le(c + 32, 2);
            e.local_offset = le(c + 42, 4);
            if (p + 46 + nlen + xlen + clen > cd.size()) throw_io_error_at(path_, at, "corrupt ZIP central directory entry");
            if (le(c + 8, 2) & 1) throw_io_error_at(path_, at, "encrypted ZIP members are not supported");
            e.name.assign(reinterpret_cast<const char*>(c + 46), nlen);
            // ZIP64 extended information: the 8-byte values that are 0xFFFFFFFF above, in this order.
            const unsigned char* x = c + 46 + nlen;
            for (std::size_t q = 0; q + 4 <= xlen;) {
                const std::size_t id = le(x + q, 2), len = le(x + q + 2, 2);
                if (q + 4 + len > xlen) break;
                if (id == 0x0001) {
                    std::size_t o = q + 4;
                    auto take = [&](std::uint64_t& field) {
                        if (field != 0xFFFFFFFF) return;
                        if (o + 8 > q + 4 + len) throw_io_error_at(path_, at, "corrupt ZIP64 extra field");
                        field = le(x + o, 8);
                        o += 8;
                    };
                    take(e.uncompressed);
                    take(e.compressed);
                    take(e.local_offset);
                }
                q += 4 + len;
            }
            if (e.compressed == 0xFFFFFFFF || e.uncompressed == 0xFFFFFFFF || e.local_offset == 0xFFFFFFFF)
                throw_io_error_at(path_, at, "ZIP64 member without its size information");
            entries_.push_back(std::move(e));
            p += 46 + nlen + xlen + clen;
        }
        if (entries_.empty()) throw_io_error(path_, "empty .npz archive (no members)");
    }

    std::string path_;
    std::unique_ptr<std::FILE, FileCloser> f_;
    std::uint64_t size_ = 0;
    std::vector<Entry> entries_;
};

std::string strip_npy(const std::string& s) {
    return s.size() > 4 && s.compare(s.size() - 4, 4, ".npy") == 0 ? s.substr(0, s.size() - 4) : s;
}

} // namespace

std::vector<std::string> npz_members(const std::string& path) {
    return guard_allocation(path, [&] {
        Zip z(path);
        std::vector<std::string> out;
        for (const auto& e : z.entries()) out.push_back(e.name);
        return out;
    });
}

namespace {
// The member's .npy image, inflated and checked.
std::vector<unsigned char> member_image(const std::string& path, const std::string& member, std::string& name) {
    Zip z(path);
    const auto& es = z.entries();
    auto list = [&] {
        std::string s;
        for (const auto& e : es) s += (s.empty() ? "" : ", ") + strip_npy(e.name);
        return s;
    };
    const Entry* found = nullptr;
    if (member.empty()) {
        if (es.size() != 1)
            throw_io_error(path, "has " + std::to_string(es.size()) + " members (" + list() +
                                     "); choose one with " + path + ":<member>");
        found = &es.front();
    } else {
        for (const auto& e : es)
            if (e.name == member || strip_npy(e.name) == member) found = &e;
        if (!found) throw_io_error(path, "no member named '" + member + "'; available: " + list());
    }
    name = path + ":" + strip_npy(found->name);
    return z.extract(*found);
}
} // namespace

NdArray read_npz(const std::string& path, const std::string& member) {
    return guard_allocation(path, [&] {
        std::string name;
        auto image = member_image(path, member, name);
        return parse_npy(std::move(image), name);
    });
}

std::vector<unsigned char> read_npz_image(const std::string& path, const std::string& member) {
    return guard_allocation(path, [&] {
        std::string name;
        return member_image(path, member, name);
    });
}

} // namespace nembed
