#include "nembed/io/idx.hpp"

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>

#include "nembed/io/file.hpp"

namespace nembed {

namespace {

bool idx_type(unsigned char code, DType& t) {
    switch (code) {
    case 0x08: t = DType::u8; return true;
    case 0x09: t = DType::i8; return true;
    case 0x0B: t = DType::i16; return true;
    case 0x0C: t = DType::i32; return true;
    case 0x0D: t = DType::f32; return true;
    case 0x0E: t = DType::f64; return true;
    default: return false;
    }
}

struct GzCloser {
    void operator()(gzFile f) const { gzclose(f); }
};

// Reads through zlib's gz* functions, which also read uncompressed files transparently.
class GzReader {
public:
    GzReader(const std::string& path, bool gzipped) : path_(path), gzipped_(gzipped) {
        f_.reset(gzopen(path.c_str(), "rb"));
        if (!f_) throw_io_error(path, "cannot open for reading");
        gzbuffer(f_.get(), 1 << 17);
    }
    // Reads up to n bytes; returns how many were read. Throws on a gzip format error.
    std::size_t read(unsigned char* dst, std::size_t n) {
        std::size_t done = 0;
        while (done < n) {
            const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(n - done, 1u << 30));
            const int got = gzread(f_.get(), dst + done, chunk);
            if (got < 0) {
                int err = 0;
                std::string msg = gzerror(f_.get(), &err);
                if (msg.compare(0, path_.size() + 2, path_ + ": ") == 0) msg.erase(0, path_.size() + 2);  // zlib prefixes the path
                throw_io_error_at(path_, offset_ + done, std::string(gzipped_ ? "corrupt gzip data: " : "read error: ") + msg +
                                                             (gzipped_ ? " (offset in the decompressed data)" : ""));
            }
            if (got == 0) break;
            done += static_cast<std::size_t>(got);
        }
        offset_ += done;
        // A gzip stream cut short: zlib reports "unexpected end of file" via gzerror (Z_BUF_ERROR).
        if (done < n && gzipped_) {
            int err = 0;
            gzerror(f_.get(), &err);
            if (err == Z_BUF_ERROR) truncated_stream_ = true;
        }
        return done;
    }
    std::uint64_t offset() const { return offset_; }
    bool truncated_stream() const { return truncated_stream_; }
    std::string where() const { return gzipped_ ? " of the decompressed stream" : ""; }

private:
    std::string path_;
    bool gzipped_;
    std::unique_ptr<gzFile_s, GzCloser> f_;
    std::uint64_t offset_ = 0;
    bool truncated_stream_ = false;
};

} // namespace

bool looks_like_idx(const unsigned char* b, std::size_t n) {
    DType t;
    return n >= 4 && b[0] == 0 && b[1] == 0 && idx_type(b[2], t) && b[3] >= 1 && b[3] <= 8;
}

namespace {
NdArray read_idx_impl(const std::string& path) {
    const auto prefix = read_file_prefix(path, 2);  // also gives "no such file"
    if (prefix.empty()) throw_io_error(path, "empty file");
    const bool gz = prefix.size() == 2 && prefix[0] == 0x1f && prefix[1] == 0x8b;
    GzReader r(path, gz);
    const std::string in = gz ? " in the decompressed data" : "";
    unsigned char head[4];
    const std::size_t got = r.read(head, 4);
    if (got == 0) throw_io_error(path, gz ? "empty gzip stream" : "empty file");
    if (got < 4) throw_io_error_at(path, got, "truncated IDX header" + in);
    DType t;
    if (head[0] != 0 || head[1] != 0)
        throw_io_error_at(path, 0, "not an IDX file" + std::string(gz ? " (after gzip decompression)" : "") + " (wrong magic: expected two zero bytes, a type byte and a dimension count)");
    if (!idx_type(head[2], t)) {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02X", head[2]);
        throw_io_error_at(path, 2, std::string("unsupported IDX data type ") + hex + in);
    }
    const std::size_t nd = head[3];
    if (nd == 0) throw_io_error_at(path, 3, "IDX file with zero dimensions" + in);
    NdArray a;
    a.dtype = t;
    a.shape.resize(nd);
    std::vector<unsigned char> dims(4 * nd);
    if (r.read(dims.data(), dims.size()) < dims.size())
        throw_io_error_at(path, r.offset(), "truncated IDX header: expected " + std::to_string(nd) + " dimension sizes" + in);
    const std::size_t w = dtype_size(t);
    std::size_t n = 1;
    for (std::size_t k = 0; k < nd; ++k) {
        const unsigned char* p = dims.data() + 4 * k;
        a.shape[k] = (std::size_t(p[0]) << 24) | (std::size_t(p[1]) << 16) | (std::size_t(p[2]) << 8) | p[3];
        if (a.shape[k] != 0 && n > std::numeric_limits<std::size_t>::max() / w / a.shape[k])
            throw_io_error_at(path, 4, "IDX shape " + a.shape_string() + " is too large");
        n *= a.shape[k];
    }
    const std::uint64_t data_start = r.offset();
    const std::uint64_t need = static_cast<std::uint64_t>(n) * w;
    // The declared size is checked against what the file can hold before anything is allocated: a 108-byte file
    // declaring 46341 x 46341 must fail at once, not after allocating 2 GiB. A deflate stream expands at most
    // 1032:1, which bounds what a gzip file can hold; within that bound the buffer still grows only as data arrives.
    std::error_code ec;
    std::uint64_t file_size = std::filesystem::file_size(path, ec);
    if (ec) file_size = std::numeric_limits<std::uint64_t>::max();  // not a regular file: the growing buffer bounds it
    if (!gz && need > file_size - std::min(file_size, data_start))
        throw_io_error_at(path, file_size, "truncated: shape " + a.shape_string() + " of " + dtype_name(t) + " needs " +
                                               std::to_string(need) + " data bytes from offset " +
                                               std::to_string(data_start) + ", found " +
                                               std::to_string(file_size - std::min(file_size, data_start)));
    if (gz && need / kMaxDeflateRatio > file_size)
        throw_io_error(path, "truncated gzip stream: shape " + a.shape_string() + " of " + dtype_name(t) +
                                 " declares " + std::to_string(need) + " data bytes, more than the " +
                                 std::to_string(file_size) + "-byte compressed file can hold");
    std::size_t have = 0;
    for (std::size_t chunk = std::size_t{1} << 20;; chunk = std::min(2 * chunk, std::size_t{1} << 30)) {
        const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(need, have + chunk));
        resize_for(a.bytes, want, path, "the IDX data");
        const std::size_t got = r.read(a.bytes.data() + have, want - have);
        have += got;
        if (have == need || have < want) break;  // all of it, or the stream ended early
    }
    if (have < need)
        throw_io_error_at(path, r.offset(), std::string(r.truncated_stream() ? "truncated gzip stream: " : "truncated: ") +
                                                "shape " + a.shape_string() + " of " + dtype_name(t) + " needs " +
                                                std::to_string(need) + " data bytes from offset " +
                                                std::to_string(data_start) + ", found " + std::to_string(have) + in);
    unsigned char extra;
    if (r.read(&extra, 1) != 0) throw_io_error_at(path, r.offset() - 1, "unexpected trailing data after the IDX array" + in);
    if (r.truncated_stream())
        throw_io_error_at(path, r.offset(), "truncated gzip stream: the end of the compressed data (CRC and length) is missing");
    if (w > 1 && std::endian::native == std::endian::little)
        for (std::size_t i = 0; i < n; ++i) std::reverse(a.bytes.data() + i * w, a.bytes.data() + (i + 1) * w);
    return a;
}
} // namespace

NdArray read_idx(const std::string& path) {
    return guard_allocation(path, [&] { return read_idx_impl(path); });
}

} // namespace nembed
