#include "nembed/io/npy.hpp"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>

#include "nembed/io/file.hpp"

namespace nembed {

std::size_t dtype_size(DType t) {
    switch (t) {
    case DType::u8: case DType::i8: case DType::boolean: return 1;
    case DType::u16: case DType::i16: return 2;
    case DType::u32: case DType::i32: case DType::f32: return 4;
    case DType::u64: case DType::i64: case DType::f64: return 8;
    }
    return 1;
}

const char* dtype_name(DType t) {
    switch (t) {
    case DType::u8: return "uint8";
    case DType::i8: return "int8";
    case DType::u16: return "uint16";
    case DType::i16: return "int16";
    case DType::u32: return "uint32";
    case DType::i32: return "int32";
    case DType::u64: return "uint64";
    case DType::i64: return "int64";
    case DType::f32: return "float32";
    case DType::f64: return "float64";
    case DType::boolean: return "bool";
    }
    return "?";
}

std::size_t NdArray::size() const {
    std::size_t n = 1;
    for (auto s : shape) n *= s;
    return n;
}

std::string NdArray::shape_string() const {
    std::string s = "(";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (i) s += ", ";
        s += std::to_string(shape[i]);
    }
    if (shape.size() == 1) s += ",";
    return s + ")";
}

namespace {
template <typename S, typename T>
void convert_from(const unsigned char* src, std::size_t n, T* out) {
    for (std::size_t i = 0; i < n; ++i) {
        S v;
        std::memcpy(&v, src + i * sizeof(S), sizeof(S));
        out[i] = static_cast<T>(v);
    }
}

template <typename T>
void convert_any(DType t, const unsigned char* src, std::size_t n, T* out) {
    switch (t) {
    case DType::u8: return convert_from<std::uint8_t>(src, n, out);
    case DType::i8: return convert_from<std::int8_t>(src, n, out);
    case DType::boolean:
        for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<T>(src[i] != 0);
        return;
    case DType::u16: return convert_from<std::uint16_t>(src, n, out);
    case DType::i16: return convert_from<std::int16_t>(src, n, out);
    case DType::u32: return convert_from<std::uint32_t>(src, n, out);
    case DType::i32: return convert_from<std::int32_t>(src, n, out);
    case DType::u64: return convert_from<std::uint64_t>(src, n, out);
    case DType::i64: return convert_from<std::int64_t>(src, n, out);
    case DType::f32: return convert_from<float>(src, n, out);
    case DType::f64: return convert_from<double>(src, n, out);
    }
}
} // namespace

double NdArray::value(std::size_t i) const {
    double v = 0;
    convert_any(dtype, bytes.data() + i * dtype_size(dtype), 1, &v);
    return v;
}

template <typename T>
void NdArray::copy_to(T* out) const {
    convert_any(dtype, bytes.data(), size(), out);
}

template void NdArray::copy_to<float>(float*) const;
template void NdArray::copy_to<double>(double*) const;
template void NdArray::copy_to<std::int64_t>(std::int64_t*) const;
template void NdArray::copy_to<std::int32_t>(std::int32_t*) const;

// ---------------------------------------------------------------------------------------------------------------
// Header parsing: the header is a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
namespace {

struct HeaderParser {
    const std::string& text;
    const std::string& name;
    std::uint64_t base;  // byte offset of the header text in the file
    std::size_t pos = 0;

    [[noreturn]] void fail(const std::string& problem) const {
        throw_io_error_at(name, base + pos, "malformed .npy header: " + problem);
    }
    void skip_ws() {
        while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\n' || text[pos] == '\r'))
            ++pos;
    }
    bool eat(char c) {
        skip_ws();
        if (pos < text.size() && text[pos] == c) {
            ++pos;
            return true;
        }
        return false;
    }
    void expect(char c) {
        if (!eat(c)) fail(std::string("expected '") + c + "'");
    }
    std::string string_literal() {
        skip_ws();
        if (pos >= text.size() || (text[pos] != '\'' && text[pos] != '"')) fail("expected a quoted string");
        const char q = text[pos++];
        std::string out;
        while (pos < text.size() && text[pos] != q) out += text[pos++];
        if (pos >= text.size()) fail("unterminated string");
        ++pos;
        return out;
    }
    std::size_t integer() {
        skip_ws();
        std::size_t start = pos;
        std::uint64_t v = 0;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
            if (v > (std::numeric_limits<std::uint64_t>::max() - 9) / 10) fail("dimension too large");
            v = v * 10 + static_cast<std::uint64_t>(text[pos++] - '0');
        }
        if (pos == start) fail("expected a non-negative integer in the shape");
        if (pos < text.size() && text[pos] == 'L') ++pos;  // Python 2 long suffix
        return static_cast<std::size_t>(v);
    }
};

struct Descr {
    DType dtype;
    bool swap;
};

Descr parse_descr(const std::string& d, const std::string& name, std::uint64_t offset) {
    auto bad = [&](const std::string& why) -> Descr {
        throw_io_error_at(name, offset, "unsupported dtype '" + d + "'" + (why.empty() ? "" : " (" + why + ")"));
    };
    if (d.size() < 2) return bad("");
    char order = d[0];
    std::string rest = d.substr(1);
    if (order != '<' && order != '>' && order != '|' && order != '=') {
        order = '=';
        rest = d;
    }
    const char kind = rest[0];
    const std::string sz = rest.substr(1);
    if (kind == 'O') return bad("Python objects are not supported");
    if (kind == 'U' || kind == 'S' || kind == 'a') return bad("strings are not supported; use a CSV/text file for string labels");
    if (kind == 'c') return bad("complex numbers are not supported");
    if (kind == 'V') return bad("raw/structured data is not supported");
    if (kind == 'M' || kind == 'm') return bad("dates and time deltas are not supported");
    int size = 0;
    for (char c : sz) {
        if (c < '0' || c > '9' || size > 1000) return bad("");
        size = size * 10 + (c - '0');
    }
    std::optional<DType> t;
    if (kind == 'f') {
        if (size == 4) t = DType::f32;
        else if (size == 8) t = DType::f64;
        else return bad(size == 2 ? "float16 is not supported; convert to float32" : "unsupported float size");
    } else if (kind == 'i') {
        if (size == 1) t = DType::i8;
        else if (size == 2) t = DType::i16;
        else if (size == 4) t = DType::i32;
        else if (size == 8) t = DType::i64;
    } else if (kind == 'u') {
        if (size == 1) t = DType::u8;
        else if (size == 2) t = DType::u16;
        else if (size == 4) t = DType::u32;
        else if (size == 8) t = DType::u64;
    } else if (kind == 'b') {
        if (size == 1) t = DType::boolean;
    }
    if (!t) return bad("");
    const bool little = std::endian::native == std::endian::little;
    bool swap = size > 1 && ((order == '<' && !little) || (order == '>' && little));
    return {*t, swap};
}

void byte_swap(unsigned char* data, std::size_t n, std::size_t width) {
    for (std::size_t i = 0; i < n; ++i) std::reverse(data + i * width, data + (i + 1) * width);
}

// Fortran (column-major) storage to C order, for any number of dimensions.
void fortran_to_c(NdArray& a) {
    const std::size_t nd = a.ndim(), n = a.size(), w = dtype_size(a.dtype);
    if (nd < 2 || n == 0) return;
    std::vector<std::size_t> fstride(nd);
    fstride[0] = 1;
    for (std::size_t k = 1; k < nd; ++k) fstride[k] = fstride[k - 1] * a.shape[k - 1];
    std::vector<unsigned char> out(a.bytes.size());
    std::vector<std::size_t> idx(nd, 0);
    std::size_t src = 0;  // F offset of idx
    for (std::size_t c = 0; c < n; ++c) {
        std::memcpy(out.data() + c * w, a.bytes.data() + src * w, w);
        // increment the C-order multi-index (last dimension fastest)
        for (std::size_t k = nd; k-- > 0;) {
            if (++idx[k] < a.shape[k]) {
                src += fstride[k];
                break;
            }
            src -= (a.shape[k] - 1) * fstride[k];
            idx[k] = 0;
        }
    }
    a.bytes.swap(out);
}

std::uint32_t read_le(const unsigned char* p, int n) {
    std::uint32_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

} // namespace

namespace {
/// The parsed header of an .npy image whose first `size` bytes are at `buf` (size >= the header's length).
struct ParsedHeader {
    NdArray meta;  ///< dtype and shape, no bytes
    bool fortran = false, swap = false;
    std::size_t data_start = 0, n = 0;
};

ParsedHeader parse_header(const unsigned char* bufp, std::size_t size, const std::string& name) {
    struct View {
        const unsigned char* p;
        std::size_t n;
        std::size_t size() const { return n; }
        const unsigned char* data() const { return p; }
        bool empty() const { return n == 0; }
        unsigned char operator[](std::size_t i) const { return p[i]; }
    } buf{bufp, size};
    static const unsigned char magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
    if (buf.empty()) throw_io_error(name, "empty file");
    if (buf.size() < 6 || std::memcmp(buf.data(), magic, 6) != 0)
        throw_io_error_at(name, 0, "not a .npy file (wrong magic; expected \\x93NUMPY)");
    if (buf.size() < 10) throw_io_error_at(name, buf.size(), "truncated .npy header");
    const int major = buf[6];
    std::size_t hlen_pos = 8, hlen_bytes;
    if (major == 1) hlen_bytes = 2;
    else if (major == 2 || major == 3) hlen_bytes = 4;
    else throw_io_error_at(name, 6, "unsupported .npy format version " + std::to_string(major) + "." + std::to_string(buf[7]));
    if (buf.size() < hlen_pos + hlen_bytes) throw_io_error_at(name, buf.size(), "truncated .npy header");
    const std::size_t hlen = read_le(buf.data() + hlen_pos, static_cast<int>(hlen_bytes));
    const std::size_t data_start = hlen_pos + hlen_bytes + hlen;
    if (buf.size() < data_start)
        throw_io_error_at(name, buf.size(), "truncated .npy header: expected " + std::to_string(hlen) +
                                                " header bytes, file ends early");
    const std::string text(reinterpret_cast<const char*>(buf.data() + hlen_pos + hlen_bytes), hlen);

    HeaderParser p{text, name, hlen_pos + hlen_bytes};
    std::optional<std::string> descr;
    std::optional<bool> fortran;
    std::optional<std::vector<std::size_t>> shape;
    std::uint64_t descr_offset = 0;
    p.expect('{');
    while (!p.eat('}')) {
        const std::string key = p.string_literal();
        p.expect(':');
        if (key == "descr") {
            p.skip_ws();
            if (p.pos < text.size() && text[p.pos] == '[')
                throw_io_error_at(name, p.base + p.pos, "unsupported dtype: structured arrays are not supported");
            descr_offset = p.base + p.pos;
            descr = p.string_literal();
        } else if (key == "fortran_order") {
            p.skip_ws();
            if (text.compare(p.pos, 4, "True") == 0) {
                fortran = true;
                p.pos += 4;
            } else if (text.compare(p.pos, 5, "False") == 0) {
                fortran = false;
                p.pos += 5;
            } else {
                p.fail("fortran_order must be True or False");
            }
        } else if (key == "shape") {
            p.expect('(');
            std::vector<std::size_t> s;
            while (!p.eat(')')) {
                s.push_back(p.integer());
                if (!p.eat(',')) {
                    p.expect(')');
                    break;
                }
            }
            shape = std::move(s);
        } else {
            p.fail("unexpected key '" + key + "'");
        }
        if (!p.eat(',')) {
            p.expect('}');
            break;
        }
    }
    if (!descr) p.fail("missing 'descr'");
    if (!fortran) p.fail("missing 'fortran_order'");
    if (!shape) p.fail("missing 'shape'");

    const Descr d = parse_descr(*descr, name, descr_offset);
    ParsedHeader h;
    NdArray& a = h.meta;
    a.dtype = d.dtype;
    a.shape = std::move(*shape);
    const std::size_t w = dtype_size(a.dtype);
    std::size_t n = 1;
    for (auto s : a.shape) {
        if (s != 0 && n > std::numeric_limits<std::size_t>::max() / w / s)
            throw_io_error_at(name, hlen_pos, "array shape " + a.shape_string() + " is too large");
        n *= s;
    }
    h.fortran = *fortran;
    h.swap = d.swap;
    h.data_start = data_start;
    h.n = n;
    return h;
}
} // namespace

NdArray parse_npy(std::vector<unsigned char>&& buf, const std::string& name) {
    ParsedHeader h = parse_header(buf.data(), buf.size(), name);
    NdArray a = std::move(h.meta);
    const std::size_t w = dtype_size(a.dtype), n = h.n, data_start = h.data_start;
    const std::size_t need = n * w, have = buf.size() - data_start;
    if (have < need)
        throw_io_error_at(name, buf.size(), "truncated data: shape " + a.shape_string() + " of " + dtype_name(a.dtype) +
                                                " needs " + std::to_string(need) + " bytes after the header at offset " +
                                                std::to_string(data_start) + ", found " + std::to_string(have));
    if (have > need)
        throw_io_error_at(name, data_start + need, std::to_string(have - need) +
                                                       " unexpected trailing bytes after the array data");
    // Reuse the buffer as storage: move the data to the front.
    std::memmove(buf.data(), buf.data() + data_start, need);
    buf.resize(need);
    buf.shrink_to_fit();
    a.bytes = std::move(buf);
    if (h.swap) byte_swap(a.bytes.data(), n, w);
    if (h.fortran) fortran_to_c(a);
    return a;
}

NdArray read_npy(const std::string& path) {
    return guard_allocation(path, [&] { return parse_npy(read_file_bytes(path), path); });
}

// ---------------------------------------------------------------------------------------------------------------
std::vector<unsigned char> npy_header_bytes(DType dtype, const std::vector<std::size_t>& shape) {
    static_assert(std::endian::native == std::endian::little, "the .npy writer assumes a little-endian host");
    std::string descr;
    switch (dtype) {
    case DType::u8: descr = "|u1"; break;
    case DType::i8: descr = "|i1"; break;
    case DType::boolean: descr = "|b1"; break;
    case DType::u16: descr = "<u2"; break;
    case DType::i16: descr = "<i2"; break;
    case DType::u32: descr = "<u4"; break;
    case DType::i32: descr = "<i4"; break;
    case DType::u64: descr = "<u8"; break;
    case DType::i64: descr = "<i8"; break;
    case DType::f32: descr = "<f4"; break;
    case DType::f64: descr = "<f8"; break;
    }
    NdArray meta;
    meta.shape = shape;
    std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + meta.shape_string() + ", }";
    // Pad with spaces so that magic + version + length + header is a multiple of 64, ending in '\n'.
    std::size_t prefix = 10;
    if (header.size() + 1 + prefix > 65535) prefix = 12;
    const std::size_t total = (prefix + header.size() + 1 + 63) / 64 * 64;
    header.append(total - prefix - header.size() - 1, ' ');
    header += '\n';
    std::vector<unsigned char> out(total);
    const unsigned char magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
    std::memcpy(out.data(), magic, 6);
    out[6] = prefix == 10 ? 1 : 2;
    out[7] = 0;
    const std::size_t hl = header.size();
    for (std::size_t i = 0; i < prefix - 8; ++i) out[8 + i] = static_cast<unsigned char>((hl >> (8 * i)) & 0xFF);
    std::memcpy(out.data() + prefix, header.data(), hl);
    return out;
}

std::vector<unsigned char> encode_npy(const NdArray& a) {
    std::vector<unsigned char> out = npy_header_bytes(a.dtype, a.shape);
    out.insert(out.end(), a.bytes.begin(), a.bytes.end());
    return out;
}

// ------------------------------------------------------------------------------------------------ row blocks

namespace {
struct HeaderRead {
    ParsedHeader h;
    std::uint64_t file_size = 0;
};

HeaderRead read_header(const std::string& path, std::FILE* f) {
    HeaderRead r;
    if (std::fseek(f, 0, SEEK_END) != 0) throw_io_error(path, "cannot seek");
    const long end = std::ftell(f);
    if (end < 0) throw_io_error(path, "cannot tell the file size");
    r.file_size = static_cast<std::uint64_t>(end);
    std::rewind(f);
    std::vector<unsigned char> head(std::min<std::uint64_t>(12, r.file_size));
    if (!head.empty() && std::fread(head.data(), 1, head.size(), f) != head.size()) throw_io_error(path, "read error");
    std::size_t want = head.size();
    if (head.size() >= 12) {
        const std::size_t hb = head[6] == 1 ? 2 : 4;
        std::size_t hlen = 0;
        for (std::size_t i = 0; i < hb; ++i) hlen |= static_cast<std::size_t>(head[8 + i]) << (8 * i);
        want = std::min<std::uint64_t>(r.file_size, 8 + hb + hlen);
    }
    head.resize(want);
    std::rewind(f);
    if (!head.empty() && std::fread(head.data(), 1, head.size(), f) != head.size()) throw_io_error(path, "read error");
    r.h = parse_header(head.data(), head.size(), path);
    return r;
}

struct File {
    std::FILE* f;
    ~File() {
        if (f) std::fclose(f);
    }
};
} // namespace

NpyHeader read_npy_header(const std::string& path) {
    File f{std::fopen(path.c_str(), "rb")};
    if (!f.f) throw_io_error(path, "cannot open for reading");
    const HeaderRead r = read_header(path, f.f);
    NpyHeader out;
    out.dtype = r.h.meta.dtype;
    out.shape = r.h.meta.shape;
    out.fortran_order = r.h.fortran;
    out.data_offset = r.h.data_start;
    out.file_size = r.file_size;
    return out;
}

NdArray read_npy_rows(const std::string& path, std::size_t begin, std::size_t end) {
    File f{std::fopen(path.c_str(), "rb")};
    if (!f.f) throw_io_error(path, "cannot open for reading");
    HeaderRead r = read_header(path, f.f);
    NdArray a = std::move(r.h.meta);
    if (a.ndim() < 1) throw_io_error(path, "a 0-d array has no rows");
    if (r.h.fortran && a.ndim() > 1)
        throw_io_error(path, "reading a block of rows needs a C-order array; this one is Fortran-ordered");
    const std::size_t rows = a.shape[0];
    if (begin > end || end > rows)
        throw_io_error(path, "rows [" + std::to_string(begin) + ", " + std::to_string(end) + ") out of range: the array has " +
                                 std::to_string(rows) + " rows");
    const std::size_t w = dtype_size(a.dtype);
    const std::size_t row_elems = rows == 0 ? 0 : r.h.n / rows;
    const std::uint64_t need_end = r.h.data_start + static_cast<std::uint64_t>(end) * row_elems * w;
    if (r.file_size < need_end)
        throw_io_error_at(path, r.file_size, "truncated data: rows [" + std::to_string(begin) + ", " + std::to_string(end) +
                                                 ") of shape " + a.shape_string() + " need bytes up to offset " +
                                                 std::to_string(need_end) + ", the file has " +
                                                 std::to_string(r.file_size));
    a.shape[0] = end - begin;
    a.bytes.resize((end - begin) * row_elems * w);
    const std::uint64_t at = r.h.data_start + static_cast<std::uint64_t>(begin) * row_elems * w;
    if (!a.bytes.empty()) {
        if (std::fseek(f.f, static_cast<long>(at), SEEK_SET) != 0) throw_io_error_at(path, at, "cannot seek");
        if (std::fread(a.bytes.data(), 1, a.bytes.size(), f.f) != a.bytes.size())
            throw_io_error_at(path, at, "read error");
    }
    if (r.h.swap) byte_swap(a.bytes.data(), a.bytes.size() / w, w);
    return a;
}

namespace {
template <typename T>
void write_matrix(const std::string& path, MatrixView<T> m, DType t) {
    NdArray a;
    a.dtype = t;
    a.shape = {m.rows, m.cols};
    a.bytes.resize(m.size() * sizeof(T));
    if (m.size()) std::memcpy(a.bytes.data(), m.data, a.bytes.size());
    const auto img = encode_npy(a);
    write_file_atomic(path, img.data(), img.size());
}
} // namespace

void write_npy(const std::string& path, MatrixView<double> m) { write_matrix(path, m, DType::f64); }
void write_npy(const std::string& path, MatrixView<float> m) { write_matrix(path, m, DType::f32); }
void write_npy(const std::string& path, const std::vector<std::int64_t>& v) {
    NdArray a;
    a.dtype = DType::i64;
    a.shape = {v.size()};
    a.bytes.resize(v.size() * 8);
    if (!v.empty()) std::memcpy(a.bytes.data(), v.data(), a.bytes.size());
    const auto img = encode_npy(a);
    write_file_atomic(path, img.data(), img.size());
}

void write_npy(const std::string& path, const std::vector<double>& v) {
    NdArray a;
    a.dtype = DType::f64;
    a.shape = {v.size()};
    a.bytes.resize(v.size() * 8);
    if (!v.empty()) std::memcpy(a.bytes.data(), v.data(), a.bytes.size());
    const auto img = encode_npy(a);
    write_file_atomic(path, img.data(), img.size());
}

} // namespace nembed
