#include "nembed/io/load.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>

#include "nembed/io/file.hpp"
#include "nembed/io/h5ad.hpp"
#include "nembed/io/idx.hpp"
#include "nembed/io/npz.hpp"
#include "nembed/core/strings.hpp"

namespace nembed {

FileSpec parse_spec(const std::string& spec) {
    const std::string lower = to_lower(spec);
    const auto at = lower.rfind(".npz:");
    if (at != std::string::npos) return {spec.substr(0, at + 4), spec.substr(at + 5)};
    const auto h5 = lower.rfind(".h5ad:");
    if (h5 != std::string::npos) return {spec.substr(0, h5 + 5), spec.substr(h5 + 6)};
    // "archive:member" for an archive with another name, when "archive" is an existing file and the whole spec is not.
    const auto colon = spec.rfind(':');
    std::error_code ec;
    if (colon != std::string::npos && colon > 0 && !std::filesystem::exists(spec, ec) &&
        std::filesystem::is_regular_file(spec.substr(0, colon), ec))
        return {spec.substr(0, colon), spec.substr(colon + 1)};
    return {spec, ""};
}

FileFormat detect_format(const std::string& path) {
    const std::string ext = file_extension(path);
    if (ext == ".npy") return FileFormat::npy;
    if (ext == ".npz") return FileFormat::npz;
    if (ext == ".csv" || ext == ".tsv" || ext == ".tab" || ext == ".txt") return FileFormat::text;
    if (ext == ".h5ad") return FileFormat::h5ad;
    const auto b = read_file_prefix(path, 8);
    if (is_hdf5_signature(b.data(), b.size())) return FileFormat::h5ad;
    if (b.size() >= 6 && std::memcmp(b.data(), "\x93NUMPY", 6) == 0) return FileFormat::npy;
    if (b.size() >= 4 && std::memcmp(b.data(), "PK\x03\x04", 4) == 0) return FileFormat::npz;
    if (b.size() >= 2 && b[0] == 0x1f && b[1] == 0x8b) return FileFormat::idx;  // gzip: idx.gz is what we read
    if (looks_like_idx(b.data(), b.size())) return FileFormat::idx;
    return FileFormat::text;
}

namespace {

// The array and the name to use in messages ("file" or "file.npz:member").
struct Loaded {
    NdArray a;
    std::string name;
    FileFormat format;
};

Loaded load_binary(const FileSpec& s, FileFormat f) {
    switch (f) {
    case FileFormat::npy: return {read_npy(s.path), s.path, f};
    case FileFormat::npz: {
        NdArray a = read_npz(s.path, s.member);
        return {std::move(a), s.member.empty() ? s.path : s.path + ":" + s.member, f};
    }
    case FileFormat::idx: return {read_idx(s.path), s.path, f};
    case FileFormat::h5ad: throw_io_error(s.path, "is an AnnData (.h5ad) file; read it as a matrix or as labels");
    case FileFormat::text: break;
    }
    throw_io_error(s.path, "is a text file, not a binary array");
}

FileSpec checked_spec(const std::string& spec, FileFormat& f) {
    FileSpec s = parse_spec(spec);
    if (s.path.empty()) throw InvalidArgument("empty file name");
    f = detect_format(s.path);
    if (!s.member.empty() && f != FileFormat::npz && f != FileFormat::h5ad)
        throw_io_error(s.path, "is not an .npz archive or an .h5ad file, so it has no members");
    return s;
}

} // namespace

NdArray load_array(const std::string& spec) {
    FileFormat f;
    FileSpec s = checked_spec(spec, f);
    return load_binary(s, f).a;
}

namespace {
template <typename T>
Matrix<T> load_matrix_impl(const std::string& spec) {
    FileFormat f;
    FileSpec s = checked_spec(spec, f);
    if (f == FileFormat::text) return read_csv<T>(s.path);
    if (f == FileFormat::h5ad) return read_h5ad_matrix<T>(s.path, s.member);
    Loaded l = load_binary(s, f);
    const NdArray& a = l.a;
    if (a.ndim() == 0) throw_io_error(l.name, "is a 0-d array (a scalar); expected a 1-D or 2-D array");
    if (a.ndim() > 2 && f != FileFormat::idx)
        throw_io_error(l.name, "has " + std::to_string(a.ndim()) + " dimensions, shape " + a.shape_string() +
                                   "; expected a 1-D or 2-D array (reshape it to N x D)");
    if (a.size() == 0) throw_io_error(l.name, "is empty (shape " + a.shape_string() + ")");
    const std::size_t rows = a.shape[0], cols = a.size() / rows;
    Matrix<T> m(rows, cols);
    a.copy_to(m.data());
    for (std::size_t i = 0; i < m.size(); ++i) {
        if (!std::isfinite(static_cast<double>(m.data()[i]))) {
            const bool src_finite = std::isfinite(a.value(i));
            throw_io_error(l.name, std::string(src_finite ? "value overflows float32" : "non-finite value (NaN or infinity)") +
                                       " at row " + std::to_string(i / cols) + ", column " + std::to_string(i % cols) +
                                       " (0-based)");
        }
    }
    return m;
}

LabelColumn load_labels_named_impl(const std::string& spec) {
    FileFormat f;
    FileSpec s = checked_spec(spec, f);
    if (f == FileFormat::text) return read_csv_labels(s.path);
    if (f == FileFormat::h5ad) return read_h5ad_labels(s.path, s.member);
    Loaded l = load_binary(s, f);
    const NdArray& a = l.a;
    if (!(a.ndim() == 1 || (a.ndim() == 2 && a.shape[1] == 1)))
        throw_io_error(l.name, "labels must be a 1-D or N x 1 array, got shape " + a.shape_string());
    if (a.size() == 0) throw_io_error(l.name, "is empty (no labels)");
    LabelColumn out;
    out.codes.resize(a.size());
    if (a.dtype == DType::u64) {  // exact: doubles lose precision above 2^53
        for (std::size_t i = 0; i < a.size(); ++i) {
            std::uint64_t u;
            std::memcpy(&u, a.bytes.data() + 8 * i, 8);
            if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
                throw_io_error(l.name, "label " + std::to_string(i) + " (0-based) is " + std::to_string(u) +
                                           ", too large for int64");
            out.codes[i] = static_cast<std::int64_t>(u);
        }
    } else if (dtype_is_float(a.dtype)) {
        for (std::size_t i = 0; i < a.size(); ++i) {
            const double v = a.value(i);
            if (!std::isfinite(v) || v != std::floor(v) || std::fabs(v) >= 9.2e18) {
                char buf[64];
                std::snprintf(buf, sizeof buf, "%.17g", v);
                throw_io_error(l.name, std::string("label ") + std::to_string(i) + " (0-based) is " + buf +
                                           ", not an integer");
            }
            out.codes[i] = static_cast<std::int64_t>(v);
        }
    } else {
        a.copy_to(out.codes.data());
    }
    return out;
}
} // namespace

template <typename T>
Matrix<T> load_matrix(const std::string& spec) {
    return guard_allocation(spec, [&] { return load_matrix_impl<T>(spec); });
}

template Matrix<float> load_matrix<float>(const std::string&);
template Matrix<double> load_matrix<double>(const std::string&);

LabelColumn load_labels_named(const std::string& spec) {
    return guard_allocation(spec, [&] { return load_labels_named_impl(spec); });
}

std::vector<std::int64_t> load_labels(const std::string& spec) { return load_labels_named(spec).codes; }

namespace {
char text_delimiter(const std::string& ext) {
    if (ext == ".csv") return ',';
    if (ext == ".tsv" || ext == ".tab") return '\t';
    if (ext == ".txt") return ' ';
    return 0;
}
} // namespace

void save_matrix(const std::string& path, MatrixView<double> m) {
    const FileSpec s = parse_spec(path);
    if (file_extension(s.path) == ".h5ad") return write_h5ad_embedding(s.path, s.member, m);
    const std::string ext = file_extension(path);
    if (ext == ".npy") return write_npy(path, m);
    if (char d = text_delimiter(ext)) return write_csv(path, m, d);
    throw_io_error(path, "cannot tell the output format from the extension '" + ext + "'; use .npy, .csv or .tsv");
}

void save_labels(const std::string& path, const std::vector<std::int64_t>& labels) {
    const std::string ext = file_extension(path);
    if (ext == ".npy") return write_npy(path, labels);
    if (text_delimiter(ext)) {
        std::string out;
        for (auto v : labels) out += std::to_string(v) + '\n';
        return write_file_atomic(path, out.data(), out.size());
    }
    throw_io_error(path, "cannot tell the output format from the extension '" + ext + "'; use .npy, .csv or .tsv");
}

namespace {

// A sparse matrix may have empty rows and columns beyond its stored entries, but a shape that no stored data backs
// would make the CSR row pointers (8 bytes a row) an allocation chosen by the file: a few bytes declaring 2^31 rows
// would ask for 16 GiB. Up to this many rows or columns beyond the entries and pointers stored is accepted.
constexpr std::uint64_t kSparseSlack = std::uint64_t{1} << 24;

// The entries at (rows[e], cols[e]) with values data[e] as CSR, each checked to lie inside the shape and be finite.
// `backed` is the largest dimension the stored arrays account for (see kSparseSlack).
CsrMatrix<double> sparse_from_triplets(const std::string& path, std::size_t n_rows, std::size_t n_cols,
                                       const std::vector<std::int64_t>& rows, const std::vector<std::int64_t>& cols,
                                       const std::vector<double>& data, std::size_t backed) {
    const std::size_t nnz = data.size();
    if (n_rows > backed + kSparseSlack || n_cols > backed + kSparseSlack)
        throw_io_error(path, "shape (" + std::to_string(n_rows) + ", " + std::to_string(n_cols) + ") is implausible for " +
                                 std::to_string(nnz) + " stored entries (more than " + std::to_string(kSparseSlack) +
                                 " empty rows or columns)");
    std::vector<Triplet<double>> t(nnz);
    for (std::size_t e = 0; e < nnz; ++e) {
        if (rows[e] < 0 || cols[e] < 0 || static_cast<std::size_t>(rows[e]) >= n_rows ||
            static_cast<std::size_t>(cols[e]) >= n_cols)
            throw_io_error(path, "entry " + std::to_string(e) + " at (" + std::to_string(rows[e]) + ", " +
                                     std::to_string(cols[e]) + ") lies outside the shape (" + std::to_string(n_rows) +
                                     ", " + std::to_string(n_cols) + ")");
        if (!std::isfinite(data[e])) throw_io_error(path, "entry " + std::to_string(e) + " is not finite");
        t[e] = {static_cast<index_t>(rows[e]), static_cast<index_t>(cols[e]), data[e]};
    }
    return csr_from_triplets(n_rows, n_cols, std::move(t));
}

} // namespace

CsrMatrix<double> csr_from_compressed(const std::string& path, std::size_t n_rows, std::size_t n_cols,
                                      const std::vector<std::int64_t>& indptr,
                                      const std::vector<std::int64_t>& indices, const std::vector<double>& data,
                                      bool csc) {
    const std::size_t nnz = data.size();
    const std::size_t n_major = csc ? n_cols : n_rows;
    const char* major_name = csc ? "columns" : "rows";
    // Every check on indptr comes before it is used to index anything (it was once trusted, and a crafted
    // indptr wrote far past the end of the expanded index array).
    if (indices.size() != nnz)
        throw_io_error(path, "indices has " + std::to_string(indices.size()) + " entries but data has " +
                                 std::to_string(nnz));
    if (indptr.size() != n_major + 1)
        throw_io_error(path, "indptr has " + std::to_string(indptr.size()) + " entries; the shape has " +
                                 std::to_string(n_major) + " " + major_name + ", so it needs " +
                                 std::to_string(n_major + 1));
    if (indptr.front() != 0) throw_io_error(path, "indptr starts at " + std::to_string(indptr.front()) + ", not 0");
    if (indptr.back() != static_cast<std::int64_t>(nnz))
        throw_io_error(path, "indptr ends at " + std::to_string(indptr.back()) + " but there are " +
                                 std::to_string(nnz) + " entries");
    for (std::size_t i = 0; i < n_major; ++i)
        if (indptr[i + 1] < indptr[i])
            throw_io_error(path, "indptr decreases at position " + std::to_string(i + 1) + " (" +
                                     std::to_string(indptr[i]) + " then " + std::to_string(indptr[i + 1]) + ")");
    // Monotone from 0 to nnz: every pointer lies in [0, nnz], so the expansion stays inside `major`.
    std::vector<std::int64_t> major(nnz);
    for (std::size_t i = 0; i < n_major; ++i)
        for (std::int64_t p = indptr[i]; p < indptr[i + 1]; ++p)
            major[static_cast<std::size_t>(p)] = static_cast<std::int64_t>(i);
    const std::vector<std::int64_t>& rows = csc ? indices : major;
    const std::vector<std::int64_t>& cols = csc ? major : indices;
    return sparse_from_triplets(path, n_rows, n_cols, rows, cols, data, std::max(nnz, n_major));
}

namespace {

CsrMatrix<double> load_sparse_impl(const std::string& path) {
    if (detect_format(path) != FileFormat::npz)
        throw_io_error(path, "is not an .npz archive (expected a sparse matrix from scipy.sparse.save_npz)");
    const auto members = npz_members(path);
    auto has = [&](const std::string& m) {
        return std::find(members.begin(), members.end(), m) != members.end() ||
               std::find(members.begin(), members.end(), m + ".npy") != members.end();
    };
    if (!has("data") || !has("shape") || !(has("indptr") || has("row")))
        throw_io_error(path, "is not a scipy.sparse.save_npz file (needs data, shape and indices/indptr or row/col)");
    // Index members are integer vectors; floats would be silently truncated by the conversion.
    auto ints = [&](const std::string& m) {
        const NdArray a = read_npz(path, m);
        if (a.ndim() != 1) throw_io_error(path, "member " + m + " is not 1-D (shape " + a.shape_string() + ")");
        if (dtype_is_float(a.dtype) || a.dtype == DType::boolean)
            throw_io_error(path, "member " + m + " has dtype " + dtype_name(a.dtype) + "; expected integers");
        std::vector<std::int64_t> v(a.size());
        if (a.dtype == DType::u64) {  // values above 2^63 would wrap to negatives and pass as such; refuse them
            for (std::size_t i = 0; i < v.size(); ++i) {
                std::uint64_t u;
                std::memcpy(&u, a.bytes.data() + 8 * i, 8);
                if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
                    throw_io_error(path, "member " + m + " holds " + std::to_string(u) + ", too large");
                v[i] = static_cast<std::int64_t>(u);
            }
        } else if (!v.empty()) {
            a.copy_to(v.data());
        }
        return v;
    };
    const std::vector<std::int64_t> shape = ints("shape");
    if (shape.size() != 2 || shape[0] < 0 || shape[1] < 0) throw_io_error(path, "member shape is not (rows, cols)");
    constexpr auto kMaxDim = static_cast<std::int64_t>(std::numeric_limits<index_t>::max());
    if (shape[0] > kMaxDim || shape[1] > kMaxDim)
        throw_io_error(path, "shape (" + std::to_string(shape[0]) + ", " + std::to_string(shape[1]) +
                                 ") has a dimension above " + std::to_string(kMaxDim) + ", the most nembed indexes");
    const NdArray data_a = read_npz(path, "data");
    if (data_a.ndim() != 1) throw_io_error(path, "member data is not 1-D (block formats are not supported)");
    std::vector<double> data(data_a.size());
    if (!data.empty()) data_a.copy_to(data.data());
    const auto n_rows = static_cast<std::size_t>(shape[0]), n_cols = static_cast<std::size_t>(shape[1]);
    const std::size_t nnz = data.size();
    std::vector<std::int64_t> rows, cols;
    if (has("row")) {
        if (!has("col")) throw_io_error(path, "has a row member but no col member (COO format needs both)");
        rows = ints("row");
        cols = ints("col");
        if (rows.size() != nnz || cols.size() != nnz)
            throw_io_error(path, "row, col and data have different lengths (" + std::to_string(rows.size()) + ", " +
                                     std::to_string(cols.size()) + " and " + std::to_string(nnz) + ")");
    } else {
        // CSR or CSC: the pointers along the compressed axis are expanded to one index per entry. scipy stores the
        // format as a 0-d string array, bytes '|S3' (recent versions) or UTF-32 '<U3': "csr" / "csc".
        bool csc = false;
        if (has("format")) {
            const auto img = read_npz_image(path, "format");
            auto holds = [&](const char* f) {
                const auto c = [&](int k) { return static_cast<unsigned char>(f[k]); };
                const unsigned char u[12] = {c(0), 0, 0, 0, c(1), 0, 0, 0, c(2), 0, 0, 0};
                return std::search(img.begin(), img.end(), u, u + 12) != img.end() ||
                       std::search(img.begin(), img.end(), f, f + 3) != img.end();
            };
            csc = holds("csc");
            if (!csc && !holds("csr")) throw_io_error(path, "holds a sparse format other than csr, csc or coo");
        }
        if (!has("indices")) throw_io_error(path, "has indptr but no indices member");
        const std::vector<std::int64_t> indptr = ints("indptr"), indices = ints("indices");
        return csr_from_compressed(path, n_rows, n_cols, indptr, indices, data, csc);
    }
    return sparse_from_triplets(path, n_rows, n_cols, rows, cols, data, nnz);
}

} // namespace

CsrMatrix<double> load_sparse(const std::string& path) {
    return guard_allocation(path, [&] { return load_sparse_impl(path); });
}

} // namespace nembed
