#include "nembed/io/h5ad.hpp"

#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <mutex>
#include <optional>

#include "nembed/core/error.hpp"
#include "nembed/io/file.hpp"
#include "nembed/io/load.hpp"

namespace nembed {

bool is_hdf5_signature(const unsigned char* b, std::size_t n) {
    return n >= 8 && std::memcmp(b, "\x89HDF\r\n\x1a\n", 8) == 0;
}

namespace {

// Debian's HDF5 is built without its thread-safety option: every call goes through this lock.
std::mutex& hdf5_mutex() {
    static std::mutex m;
    return m;
}

// Holds the lock, switches HDF5's error printing off for this thread's calls and starts with an empty error stack.
struct Hdf5Session {
    std::lock_guard<std::mutex> lock{hdf5_mutex()};
    Hdf5Session() {
        H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
        H5Eclear2(H5E_DEFAULT);
    }
    ~Hdf5Session() { H5Eclear2(H5E_DEFAULT); }
};

// The innermost message of HDF5's error stack ("" if none), then the stack is cleared.
std::string hdf5_error() {
    std::string msg;
    H5Ewalk2(
        H5E_DEFAULT, H5E_WALK_UPWARD,
        [](unsigned n, const H5E_error2_t* e, void* data) -> herr_t {
            auto* out = static_cast<std::string*>(data);
            if (n == 0 && e->desc) *out = e->desc;
            return 0;
        },
        &msg);
    H5Eclear2(H5E_DEFAULT);
    return msg;
}

// One HDF5 identifier, closed with the function matching its kind.
class Hid {
public:
    Hid() = default;
    explicit Hid(hid_t id) : id_(id) {}
    Hid(const Hid&) = delete;
    Hid& operator=(const Hid&) = delete;
    Hid(Hid&& o) noexcept : id_(o.id_) { o.id_ = H5I_INVALID_HID; }
    Hid& operator=(Hid&& o) noexcept {
        std::swap(id_, o.id_);
        return *this;
    }
    ~Hid() {
        if (id_ < 0) return;
        switch (H5Iget_type(id_)) {
        case H5I_FILE: H5Fclose(id_); break;
        case H5I_GROUP: H5Gclose(id_); break;
        case H5I_DATASET: H5Dclose(id_); break;
        case H5I_DATATYPE: H5Tclose(id_); break;
        case H5I_DATASPACE: H5Sclose(id_); break;
        case H5I_ATTR: H5Aclose(id_); break;
        case H5I_GENPROP_LST: H5Pclose(id_); break;
        default: break;
        }
    }
    hid_t get() const { return id_; }
    bool valid() const { return id_ >= 0; }

private:
    hid_t id_ = H5I_INVALID_HID;
};

// Where an error happened: "<file>:<key>".
struct Where {
    std::string file;
    std::string key;
    std::string name() const { return key.empty() ? file : file + ":" + key; }
    [[noreturn]] void fail(const std::string& problem) const { throw_io_error(name(), problem); }
    // A failed HDF5 call: what we tried and HDF5's reason, as one line.
    [[noreturn]] void fail_hdf5(const std::string& what) const {
        const std::string why = hdf5_error();
        fail(what + (why.empty() ? "" : " (HDF5: " + why + ")") + "; the file may be corrupt");
    }
    hid_t check(hid_t id, const std::string& what) const {
        if (id < 0) fail_hdf5(what);
        return id;
    }
    void ok(herr_t r, const char* what) const {
        if (r < 0) fail_hdf5(what);
    }
};

Hid open_file(const std::string& path, bool write) {
    const Where w{path, ""};
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) w.fail("no such file");
    if (!std::filesystem::is_regular_file(path, ec)) w.fail("is not a regular file");
    const htri_t is = H5Fis_hdf5(path.c_str());
    if (is <= 0) {
        hdf5_error();
        w.fail("is not an HDF5 file (an .h5ad file is HDF5; the file may be truncated or corrupt)");
    }
    const hid_t f = H5Fopen(path.c_str(), write ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) w.fail_hdf5(write ? "cannot open it for writing" : "cannot open it");
    return Hid(f);
}

std::uint64_t file_size(const std::string& path) {
    std::error_code ec;
    const auto s = std::filesystem::file_size(path, ec);
    return ec ? 0 : static_cast<std::uint64_t>(s);
}

// Splits "a/b/c" into its non-empty components.
std::vector<std::string> components(const std::string& key) {
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i <= key.size()) {
        const std::size_t j = std::min(key.find('/', i), key.size());
        if (j > i) out.push_back(key.substr(i, j - i));
        i = j + 1;
    }
    return out;
}

// Up to `most` member names of a group, for messages.
std::string list_members(hid_t group, std::size_t most = 20) {
    struct Acc {
        std::vector<std::string> names;
        std::size_t most;
    } acc{{}, most};
    hsize_t idx = 0;
    H5Literate(group, H5_INDEX_NAME, H5_ITER_NATIVE, &idx,
               [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
                   auto* a = static_cast<Acc*>(data);
                   a->names.emplace_back(name);
                   return a->names.size() > a->most ? 1 : 0;
               },
               &acc);
    hdf5_error();
    if (acc.names.empty()) return "it is empty";
    std::string s = "it has ";
    for (std::size_t i = 0; i < acc.names.size() && i < most; ++i) s += (i ? ", " : "") + acc.names[i];
    if (acc.names.size() > most) s += ", ...";
    return s;
}

// Opens the object at `key` (group or dataset), link by link, so that a missing key names its deepest existing group
// and what that group holds.
Hid open_object(hid_t file, const Where& w) {
    const auto parts = components(w.key);
    if (parts.empty()) w.fail("empty key");
    std::string path;
    Hid cur(w.check(H5Oopen(file, "/", H5P_DEFAULT), "cannot open the root group"));
    for (std::size_t i = 0; i < parts.size(); ++i) {
        if (H5Iget_type(cur.get()) != H5I_GROUP)
            w.fail("'" + path + "' is a dataset, not a group, so it has no member '" + parts[i] + "'");
        const htri_t ex = H5Lexists(cur.get(), parts[i].c_str(), H5P_DEFAULT);
        if (ex < 0) w.fail_hdf5("cannot look up '" + parts[i] + "'");
        const std::string where = path.empty() ? "the file" : "'" + path + "'";
        if (ex == 0) w.fail("no element '" + parts[i] + "' in " + where + " (" + list_members(cur.get()) + ")");
        const hid_t next = H5Oopen(cur.get(), parts[i].c_str(), H5P_DEFAULT);
        if (next < 0) w.fail_hdf5("cannot open '" + parts[i] + "' (a dangling or external link?)");
        cur = Hid(next);
        path += (path.empty() ? "" : "/") + parts[i];
    }
    return cur;
}

bool has_link(hid_t loc, const std::string& key) {
    std::string path;
    for (const auto& p : components(key)) {
        path += (path.empty() ? "" : "/") + p;
        if (H5Lexists(loc, path.c_str(), H5P_DEFAULT) <= 0) {
            hdf5_error();
            return false;
        }
    }
    return !path.empty();
}

// A string attribute (variable or fixed length, scalar or one element), or nothing if absent or not a string.
std::optional<std::string> string_attr(hid_t obj, const char* name, const Where& w) {
    const htri_t ex = H5Aexists(obj, name);
    if (ex <= 0) {
        hdf5_error();
        return std::nullopt;
    }
    Hid a(w.check(H5Aopen(obj, name, H5P_DEFAULT), std::string("cannot open the attribute ") + name));
    Hid t(w.check(H5Aget_type(a.get()), "cannot read an attribute's type"));
    if (H5Tget_class(t.get()) != H5T_STRING) return std::nullopt;
    Hid sp(w.check(H5Aget_space(a.get()), "cannot read an attribute's shape"));
    if (H5Sget_simple_extent_npoints(sp.get()) != 1) return std::nullopt;
    const htri_t var = H5Tis_variable_str(t.get());
    if (var < 0) w.fail_hdf5("cannot read an attribute's type");
    Hid mt(H5Tcopy(H5T_C_S1));
    if (var) {
        H5Tset_size(mt.get(), H5T_VARIABLE);
        H5Tset_cset(mt.get(), H5Tget_cset(t.get()));
        char* s = nullptr;
        w.ok(H5Aread(a.get(), mt.get(), &s), "cannot read a string attribute");
        std::string out = s ? s : "";
        H5Dvlen_reclaim(mt.get(), sp.get(), H5P_DEFAULT, &s);
        return out;
    }
    const std::size_t size = H5Tget_size(t.get());
    if (size == 0 || size > (1u << 16)) w.fail(std::string("attribute ") + name + " has an implausible string size");
    H5Tset_size(mt.get(), size);
    H5Tset_strpad(mt.get(), H5T_STR_NULLPAD);  // NULLTERM would drop the last character of a full-width string
    std::string buf(size, '\0');
    w.ok(H5Aread(a.get(), mt.get(), buf.data()), "cannot read a string attribute");
    buf.resize(std::strlen(buf.c_str()));
    return buf;
}

// An integer array attribute of at most `most` elements (a sparse matrix's shape).
std::vector<std::int64_t> int_attr(hid_t obj, const char* name, std::size_t most, const Where& w) {
    if (H5Aexists(obj, name) <= 0) {
        hdf5_error();
        w.fail(std::string("has no '") + name + "' attribute");
    }
    Hid a(w.check(H5Aopen(obj, name, H5P_DEFAULT), std::string("cannot open the attribute ") + name));
    Hid t(w.check(H5Aget_type(a.get()), "cannot read an attribute's type"));
    if (H5Tget_class(t.get()) != H5T_INTEGER) w.fail(std::string("attribute '") + name + "' is not integer");
    Hid sp(w.check(H5Aget_space(a.get()), "cannot read an attribute's shape"));
    const hssize_t n = H5Sget_simple_extent_npoints(sp.get());
    if (n < 0 || static_cast<std::size_t>(n) > most) w.fail(std::string("attribute '") + name + "' has a bad shape");
    std::vector<std::int64_t> v(static_cast<std::size_t>(n));
    if (n > 0) w.ok(H5Aread(a.get(), H5T_NATIVE_INT64, v.data()), "cannot read an integer attribute");
    return v;
}

// A dataset's shape, its element type and the checks that make reading it safe: at most `max_rank` dimensions, at
// least one element, and no more data than the bytes it stores could hold (compression included), so that a few
// bytes declaring a huge extent never become a huge allocation.
struct DatasetInfo {
    std::vector<std::size_t> dims;
    std::size_t count = 0;
    H5T_class_t cls = H5T_NO_CLASS;
};

DatasetInfo inspect(hid_t ds, Hid& type, const Where& w, int max_rank, const std::string& file) {
    type = Hid(w.check(H5Dget_type(ds), "cannot read the element type"));
    Hid sp(w.check(H5Dget_space(ds), "cannot read the shape"));
    const int rank = H5Sget_simple_extent_ndims(sp.get());
    if (rank < 0) w.fail_hdf5("cannot read the shape");
    if (rank == 0) w.fail("is a scalar; expected an array");
    if (rank > max_rank)
        w.fail("has " + std::to_string(rank) + " dimensions; expected at most " + std::to_string(max_rank));
    hsize_t d[2] = {0, 0};
    H5Sget_simple_extent_dims(sp.get(), d, nullptr);
    DatasetInfo info;
    info.cls = H5Tget_class(type.get());
    std::uint64_t count = 1;
    for (int i = 0; i < rank; ++i) {
        info.dims.push_back(static_cast<std::size_t>(d[i]));
        if (d[i] != 0 && count > std::numeric_limits<std::uint64_t>::max() / d[i]) w.fail("declares too many elements");
        count *= d[i];
    }
    if (count == 0) w.fail("is empty (shape with a zero dimension)");
    const std::size_t elem = H5Tget_size(type.get());
    if (elem == 0) w.fail_hdf5("has an element type of size 0");
    if (count > std::numeric_limits<std::uint64_t>::max() / elem) w.fail("declares too many elements");
    const std::uint64_t stored = std::min<std::uint64_t>(H5Dget_storage_size(ds), file_size(file));
    if (count * elem > stored * kMaxDeflateRatio + 64)
        w.fail("declares " + std::to_string(count) + " elements (" + std::to_string(count * elem) +
               " bytes) but stores only " + std::to_string(stored) + " bytes; the file is corrupt or truncated");
    info.count = static_cast<std::size_t>(count);
    return info;
}

Hid open_dataset(hid_t file, const Where& w) {
    Hid obj = open_object(file, w);
    if (H5Iget_type(obj.get()) != H5I_DATASET) w.fail("is a group, expected a dataset");
    return obj;
}

// A numeric dataset converted by HDF5 to `mem` (T's native type).
template <typename T>
std::vector<T> read_numeric(hid_t ds, hid_t mem, const Where& w, const std::string& file, int max_rank,
                            std::vector<std::size_t>* dims = nullptr) {
    Hid type;
    const DatasetInfo info = inspect(ds, type, w, max_rank, file);
    if (info.cls != H5T_INTEGER && info.cls != H5T_FLOAT)
        w.fail("holds non-numeric data (HDF5 type class " + std::to_string(static_cast<int>(info.cls)) + ")");
    std::vector<T> v;
    resize_for(v, info.count, w.name(), "the data");
    w.ok(H5Dread(ds, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), "cannot read the data");
    if (dims) *dims = info.dims;
    return v;
}

// A 1-D dataset of strings (variable or fixed length).
std::vector<std::string> read_strings(hid_t ds, const Where& w, const std::string& file) {
    Hid type;
    const DatasetInfo info = inspect(ds, type, w, 1, file);
    if (info.cls != H5T_STRING) w.fail("is not a string dataset");
    std::vector<std::string> out;
    resize_for(out, info.count, w.name(), "the strings");
    const htri_t var = H5Tis_variable_str(type.get());
    if (var < 0) w.fail_hdf5("cannot read the string type");
    Hid mt(H5Tcopy(H5T_C_S1));
    if (var) {
        H5Tset_size(mt.get(), H5T_VARIABLE);
        H5Tset_cset(mt.get(), H5Tget_cset(type.get()));
        std::vector<char*> p(info.count, nullptr);
        w.ok(H5Dread(ds, mt.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, p.data()), "cannot read the strings");
        for (std::size_t i = 0; i < p.size(); ++i) out[i] = p[i] ? p[i] : "";
        Hid sp(H5Dget_space(ds));
        H5Dvlen_reclaim(mt.get(), sp.get(), H5P_DEFAULT, p.data());
    } else {
        const std::size_t size = H5Tget_size(type.get());
        H5Tset_size(mt.get(), size);
        H5Tset_strpad(mt.get(), H5T_STR_NULLPAD);
        std::vector<char> buf;
        resize_for(buf, info.count * size, w.name(), "the strings");
        w.ok(H5Dread(ds, mt.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()), "cannot read the strings");
        for (std::size_t i = 0; i < info.count; ++i) {
            const char* s = buf.data() + i * size;
            out[i].assign(s, strnlen(s, size));
        }
    }
    return out;
}

// The attribute AnnData uses to tell what a group (or dataset) encodes: "encoding-type", or the older
// "h5sparse_format" of sparse groups ("csr" / "csc").
std::string encoding_of(hid_t obj, const Where& w) {
    if (auto e = string_attr(obj, "encoding-type", w)) return *e;
    if (auto f = string_attr(obj, "h5sparse_format", w)) return *f + "_matrix";
    return "";
}

Hid open_member(hid_t group, const char* name, const Where& parent) {
    const Where w{parent.file, parent.key + "/" + name};
    if (H5Lexists(group, name, H5P_DEFAULT) <= 0) {
        hdf5_error();
        parent.fail(std::string("has no '") + name + "' member (" + list_members(group) + ")");
    }
    const hid_t d = H5Dopen2(group, name, H5P_DEFAULT);
    if (d < 0) w.fail_hdf5("cannot open it as a dataset");
    return Hid(d);
}

// The elements this reader understands, for messages.
constexpr const char* kSupportedMatrix = "a dense array, or a csr_matrix / csc_matrix group";

// A sparse group as a dense row-major matrix.
template <typename T>
Matrix<T> read_sparse_dense(hid_t group, const std::string& encoding, const Where& w) {
    const bool csc = encoding == "csc_matrix";
    std::vector<std::int64_t> shape =
        H5Aexists(group, "shape") > 0 ? int_attr(group, "shape", 2, w) : int_attr(group, "h5sparse_shape", 2, w);
    hdf5_error();
    if (shape.size() != 2 || shape[0] < 0 || shape[1] < 0) w.fail("the shape attribute is not (rows, cols)");
    constexpr auto kMaxDim = static_cast<std::int64_t>(std::numeric_limits<index_t>::max());
    if (shape[0] > kMaxDim || shape[1] > kMaxDim) w.fail("the shape has a dimension above " + std::to_string(kMaxDim));
    if (shape[0] == 0 || shape[1] == 0) w.fail("is empty (shape with a zero dimension)");
    const auto n_rows = static_cast<std::size_t>(shape[0]), n_cols = static_cast<std::size_t>(shape[1]);
    // Densifying allocates rows x cols values whatever the file stores: bounded by what the file could plausibly
    // expand to (highly sparse data is better given reduced, e.g. as obsm/X_pca).
    const std::uint64_t limit = file_size(w.file) * kMaxDeflateRatio + (std::uint64_t{64} << 20);
    if (static_cast<double>(n_rows) * static_cast<double>(n_cols) * sizeof(T) > static_cast<double>(limit))
        w.fail("is a sparse " + std::to_string(n_rows) + " x " + std::to_string(n_cols) +
               " matrix, too large to make dense for this file's size; give a reduced representation such as "
               "obsm/X_pca (or reduce it first, e.g. with scanpy's pp.pca)");
    std::vector<double> data;
    std::vector<std::int64_t> indices, indptr;
    {
        Hid d = open_member(group, "data", w);
        data = read_numeric<double>(d.get(), H5T_NATIVE_DOUBLE, Where{w.file, w.key + "/data"}, w.file, 1);
    }
    {
        Hid d = open_member(group, "indices", w);
        const Where wi{w.file, w.key + "/indices"};
        Hid t(wi.check(H5Dget_type(d.get()), "cannot read the element type"));
        if (H5Tget_class(t.get()) != H5T_INTEGER) wi.fail("is not an integer dataset");
        indices = read_numeric<std::int64_t>(d.get(), H5T_NATIVE_INT64, wi, w.file, 1);
    }
    {
        Hid d = open_member(group, "indptr", w);
        const Where wp{w.file, w.key + "/indptr"};
        Hid t(wp.check(H5Dget_type(d.get()), "cannot read the element type"));
        if (H5Tget_class(t.get()) != H5T_INTEGER) wp.fail("is not an integer dataset");
        indptr = read_numeric<std::int64_t>(d.get(), H5T_NATIVE_INT64, wp, w.file, 1);
    }
    const CsrMatrix<double> csr = csr_from_compressed(w.name(), n_rows, n_cols, indptr, indices, data, csc);
    Matrix<T> m(n_rows, n_cols);
    for (std::size_t i = 0; i < n_rows; ++i)
        for (offset_t p = csr.indptr[i]; p < csr.indptr[i + 1]; ++p) {
            const T v = static_cast<T>(csr.values[static_cast<std::size_t>(p)]);
            if (!std::isfinite(static_cast<double>(v)))
                w.fail("value overflows float32 at row " + std::to_string(i) + " (0-based)");
            m(i, static_cast<std::size_t>(csr.indices[static_cast<std::size_t>(p)])) = v;
        }
    return m;
}

template <typename T>
hid_t native_type() {
    if constexpr (std::is_same_v<T, float>) return H5T_NATIVE_FLOAT;
    else return H5T_NATIVE_DOUBLE;
}

template <typename T>
Matrix<T> read_matrix_impl(const std::string& path, const std::string& key_in) {
    Hdf5Session session;
    const Where w{path, key_in.empty() ? kH5adDefaultMatrix : key_in};
    Hid file = open_file(path, false);
    Hid obj = open_object(file.get(), w);
    const std::string enc = encoding_of(obj.get(), w);
    if (H5Iget_type(obj.get()) == H5I_GROUP) {
        if (enc == "csr_matrix" || enc == "csc_matrix") return read_sparse_dense<T>(obj.get(), enc, w);
        w.fail("is a group" + (enc.empty() ? std::string() : " with encoding-type '" + enc + "'") +
               ", which nembed does not read as a matrix (supported: " + kSupportedMatrix + ")");
    }
    if (!enc.empty() && enc != "array")
        w.fail("has encoding-type '" + enc + "'; expected " + kSupportedMatrix);
    std::vector<std::size_t> dims;
    std::vector<T> v = read_numeric<T>(obj.get(), native_type<T>(), w, path, 2, &dims);
    const std::size_t rows = dims[0], cols = dims.size() == 2 ? dims[1] : 1;
    for (std::size_t i = 0; i < v.size(); ++i)
        if (!std::isfinite(static_cast<double>(v[i])))
            w.fail("non-finite value (NaN or infinity, or a float32 overflow) at row " + std::to_string(i / cols) +
                   ", column " + std::to_string(i % cols) + " (0-based)");
    Matrix<T> m(rows, cols);
    std::copy(v.begin(), v.end(), m.data());
    return m;
}

// Integer codes of any integer / enum (h5py's bool) / integer-valued float dataset.
std::vector<std::int64_t> read_codes(hid_t ds, const Where& w, const std::string& file) {
    Hid type(w.check(H5Dget_type(ds), "cannot read the element type"));
    const H5T_class_t cls = H5Tget_class(type.get());
    if (cls == H5T_INTEGER) return read_numeric<std::int64_t>(ds, H5T_NATIVE_INT64, w, file, 1);
    if (cls == H5T_FLOAT) {
        const auto v = read_numeric<double>(ds, H5T_NATIVE_DOUBLE, w, file, 1);
        std::vector<std::int64_t> out(v.size());
        for (std::size_t i = 0; i < v.size(); ++i) {
            if (!std::isfinite(v[i]) || v[i] != std::floor(v[i]) || std::fabs(v[i]) >= 9.2e18) {
                char buf[64];
                std::snprintf(buf, sizeof buf, "%.17g", v[i]);
                w.fail("label " + std::to_string(i) + " (0-based) is " + buf + ", not an integer");
            }
            out[i] = static_cast<std::int64_t>(v[i]);
        }
        return out;
    }
    if (cls == H5T_ENUM) {  // h5py stores numpy bools as an enum over int8 (FALSE = 0, TRUE = 1)
        Hid base(w.check(H5Tget_super(type.get()), "cannot read the enum's base type"));
        Hid tmp;
        const DatasetInfo info = inspect(ds, tmp, w, 1, file);
        Hid mem(w.check(H5Tget_native_type(type.get(), H5T_DIR_ASCEND), "cannot map the enum type"));
        const std::size_t size = H5Tget_size(mem.get());
        if (size != 1 || H5Tget_class(base.get()) != H5T_INTEGER) w.fail("is an enum other than numpy's bool");
        std::vector<std::int8_t> v(info.count);
        w.ok(H5Dread(ds, mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), "cannot read the data");
        return std::vector<std::int64_t>(v.begin(), v.end());
    }
    w.fail("holds neither integers, booleans, floats nor strings");
}

// Strings coded 0, 1, ... in order of first appearance.
LabelColumn code_strings(const std::vector<std::string>& s) {
    LabelColumn out;
    std::map<std::string, std::int64_t> code;
    out.codes.reserve(s.size());
    for (const auto& x : s) {
        auto [it, added] = code.emplace(x, static_cast<std::int64_t>(out.names.size()));
        if (added) out.names.push_back(x);
        out.codes.push_back(it->second);
    }
    return out;
}

// The category names of a categorical column (strings, or numbers written as text).
std::vector<std::string> read_categories(hid_t ds, const Where& w, const std::string& file) {
    Hid type(w.check(H5Dget_type(ds), "cannot read the element type"));
    const H5T_class_t cls = H5Tget_class(type.get());
    if (cls == H5T_STRING) return read_strings(ds, w, file);
    if (cls == H5T_INTEGER) {
        std::vector<std::string> out;
        for (auto v : read_numeric<std::int64_t>(ds, H5T_NATIVE_INT64, w, file, 1)) out.push_back(std::to_string(v));
        return out;
    }
    if (cls == H5T_FLOAT) {
        std::vector<std::string> out;
        for (double v : read_numeric<double>(ds, H5T_NATIVE_DOUBLE, w, file, 1)) {
            char buf[64];
            std::snprintf(buf, sizeof buf, "%.17g", v);
            out.emplace_back(buf);
        }
        return out;
    }
    w.fail("holds categories that are neither strings nor numbers");
}

// Codes into categories: checked, missing values (-1) refused, unused categories dropped (codes renumbered in
// category order), so that the codes are 0..K-1 with names[k] the k-th category present.
LabelColumn categorical(const std::vector<std::int64_t>& codes, const std::vector<std::string>& categories,
                        const Where& w) {
    const auto k = static_cast<std::int64_t>(categories.size());
    std::vector<std::int64_t> remap(categories.size(), -1);
    for (std::size_t i = 0; i < codes.size(); ++i) {
        if (codes[i] == -1)
            w.fail("row " + std::to_string(i) + " (0-based) has no category (a missing value); labels must be "
                                                "complete (fill or drop the missing rows first)");
        if (codes[i] < 0 || codes[i] >= k)
            w.fail("code " + std::to_string(codes[i]) + " at row " + std::to_string(i) + " is outside the " +
                   std::to_string(k) + " categories");
        remap[static_cast<std::size_t>(codes[i])] = 0;
    }
    LabelColumn out;
    for (std::size_t c = 0; c < categories.size(); ++c)
        if (remap[c] == 0) {
            remap[c] = static_cast<std::int64_t>(out.names.size());
            out.names.push_back(categories[c]);
        }
    out.codes.resize(codes.size());
    for (std::size_t i = 0; i < codes.size(); ++i) out.codes[i] = remap[static_cast<std::size_t>(codes[i])];
    return out;
}

LabelColumn read_labels_impl(const std::string& path, const std::string& key) {
    Hdf5Session session;
    const Where w{path, key};
    if (key.empty())
        throw_io_error(path, "name the label column: " + path + ":obs/<column> (e.g. obs/cell_type)");
    Hid file = open_file(path, false);
    Hid obj = open_object(file.get(), w);
    const std::string enc = encoding_of(obj.get(), w);
    if (H5Iget_type(obj.get()) == H5I_GROUP) {
        if (enc == "categorical") {
            Hid codes_ds = open_member(obj.get(), "codes", w);
            Hid cats_ds = open_member(obj.get(), "categories", w);
            const auto codes = read_codes(codes_ds.get(), Where{path, key + "/codes"}, path);
            const auto cats = read_categories(cats_ds.get(), Where{path, key + "/categories"}, path);
            return categorical(codes, cats, w);
        }
        if (enc == "nullable-integer" || enc == "nullable-boolean") {
            Hid values = open_member(obj.get(), "values", w);
            Hid mask = open_member(obj.get(), "mask", w);
            LabelColumn out;
            out.codes = read_codes(values.get(), Where{path, key + "/values"}, path);
            const auto m = read_codes(mask.get(), Where{path, key + "/mask"}, path);
            if (m.size() != out.codes.size()) w.fail("values and mask differ in length");
            for (std::size_t i = 0; i < m.size(); ++i)
                if (m[i]) w.fail("row " + std::to_string(i) + " (0-based) is a missing value; labels must be complete");
            return out;
        }
        w.fail("is a group" + (enc.empty() ? std::string() : " with encoding-type '" + enc + "'") +
               ", which nembed does not read as labels (supported: categorical, nullable-integer, "
               "nullable-boolean groups and 1-D datasets)");
    }
    // anndata before 0.8: a categorical column is a dataset of codes with its categories in
    // <parent>/__categories/<column>.
    const auto parts = components(key);
    std::string parent;
    for (std::size_t i = 0; i + 1 < parts.size(); ++i) parent += parts[i] + "/";
    const std::string old_cats = parent + "__categories/" + parts.back();
    if (has_link(file.get(), old_cats)) {
        const Where wc{path, old_cats};
        Hid cats_ds = open_dataset(file.get(), wc);
        const auto cats = read_categories(cats_ds.get(), wc, path);
        return categorical(read_codes(obj.get(), w, path), cats, w);
    }
    Hid type(w.check(H5Dget_type(obj.get()), "cannot read the element type"));
    if (H5Tget_class(type.get()) == H5T_STRING) return code_strings(read_strings(obj.get(), w, path));
    LabelColumn out;
    out.codes = read_codes(obj.get(), w, path);
    return out;
}

// ---- writing ----

void set_string_attr(hid_t obj, const char* name, const std::string& value, const Where& w) {
    if (H5Aexists(obj, name) > 0) H5Adelete(obj, name);
    hdf5_error();
    Hid t(H5Tcopy(H5T_C_S1));
    H5Tset_size(t.get(), H5T_VARIABLE);
    H5Tset_cset(t.get(), H5T_CSET_UTF8);
    Hid sp(H5Screate(H5S_SCALAR));
    Hid a(w.check(H5Acreate2(obj, name, t.get(), sp.get(), H5P_DEFAULT, H5P_DEFAULT),
                  std::string("cannot write the attribute ") + name));
    const char* p = value.c_str();
    w.ok(H5Awrite(a.get(), t.get(), &p), "cannot write an attribute");
}

void set_encoding(hid_t obj, const std::string& type, const std::string& version, const Where& w) {
    set_string_attr(obj, "encoding-type", type, w);
    set_string_attr(obj, "encoding-version", version, w);
}

// The group `name` under `parent`, created as an AnnData dict when absent.
Hid child_group(hid_t parent, const std::string& name, const Where& w) {
    const htri_t ex = H5Lexists(parent, name.c_str(), H5P_DEFAULT);
    if (ex < 0) w.fail_hdf5("cannot look up '" + name + "'");
    if (ex > 0) {
        const hid_t g = H5Gopen2(parent, name.c_str(), H5P_DEFAULT);
        if (g < 0) w.fail_hdf5("'" + name + "' exists but is not a group");
        return Hid(g);
    }
    Hid g(w.check(H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                  "cannot create the group '" + name + "'"));
    set_encoding(g.get(), "dict", "0.1.0", w);
    return g;
}

void write_strings(hid_t parent, const char* name, const std::vector<std::string>& s, const Where& w) {
    Hid t(H5Tcopy(H5T_C_S1));
    H5Tset_size(t.get(), H5T_VARIABLE);
    H5Tset_cset(t.get(), H5T_CSET_UTF8);
    const hsize_t n = s.size();
    Hid sp(H5Screate_simple(1, &n, nullptr));
    Hid d(w.check(H5Dcreate2(parent, name, t.get(), sp.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                  std::string("cannot create ") + name));
    std::vector<const char*> p;
    for (const auto& x : s) p.push_back(x.c_str());
    if (n) w.ok(H5Dwrite(d.get(), t.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, p.data()), "cannot write strings");
    set_encoding(d.get(), "string-array", "0.2.0", w);
}

// An empty dataframe (AnnData's obs / var layout) with `n` rows named "0".."n-1".
void write_dataframe(hid_t file, const char* name, std::size_t n, const Where& w) {
    Hid g(w.check(H5Gcreate2(file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                  std::string("cannot create the group ") + name));
    set_encoding(g.get(), "dataframe", "0.2.0", w);
    set_string_attr(g.get(), "_index", "_index", w);
    const hsize_t zero = 0;
    Hid sp(H5Screate_simple(1, &zero, nullptr));
    Hid a(w.check(H5Acreate2(g.get(), "column-order", H5T_NATIVE_DOUBLE, sp.get(), H5P_DEFAULT, H5P_DEFAULT),
                  "cannot write column-order"));
    std::vector<std::string> index(n);
    for (std::size_t i = 0; i < n; ++i) index[i] = std::to_string(i);
    write_strings(g.get(), "_index", index, w);
}

// The number of observations of an AnnData file: the length of obs's index (or of X when obs has none).
std::optional<std::size_t> n_obs(hid_t file, const Where& w) {
    if (has_link(file, "obs")) {
        Hid obs(H5Oopen(file, "obs", H5P_DEFAULT));
        if (obs.valid() && H5Iget_type(obs.get()) == H5I_GROUP) {
            const std::string idx = string_attr(obs.get(), "_index", w).value_or("_index");
            if (has_link(obs.get(), idx)) {
                Hid d(H5Dopen2(obs.get(), idx.c_str(), H5P_DEFAULT));
                if (d.valid()) {
                    Hid sp(H5Dget_space(d.get()));
                    hsize_t dims[1] = {0};
                    if (H5Sget_simple_extent_ndims(sp.get()) == 1) {
                        H5Sget_simple_extent_dims(sp.get(), dims, nullptr);
                        return static_cast<std::size_t>(dims[0]);
                    }
                }
            }
        }
    }
    hdf5_error();
    return std::nullopt;
}

void write_scalar(hid_t group, const std::string& name, const H5adValue& v, const Where& w) {
    Hid sp(H5Screate(H5S_SCALAR));
    if (const auto* s = std::get_if<std::string>(&v)) {
        Hid t(H5Tcopy(H5T_C_S1));
        H5Tset_size(t.get(), H5T_VARIABLE);
        H5Tset_cset(t.get(), H5T_CSET_UTF8);
        Hid d(w.check(H5Dcreate2(group, name.c_str(), t.get(), sp.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                      "cannot create uns parameter " + name));
        const char* p = s->c_str();
        w.ok(H5Dwrite(d.get(), t.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &p), "cannot write a parameter");
        set_encoding(d.get(), "string", "0.2.0", w);
        return;
    }
    const bool is_int = std::holds_alternative<std::int64_t>(v);
    const hid_t t = is_int ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE;
    Hid d(w.check(H5Dcreate2(group, name.c_str(), t, sp.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                  "cannot create uns parameter " + name));
    const std::int64_t i = is_int ? std::get<std::int64_t>(v) : 0;
    const double x = is_int ? 0.0 : std::get<double>(v);
    w.ok(H5Dwrite(d.get(), t, H5S_ALL, H5S_ALL, H5P_DEFAULT, is_int ? static_cast<const void*>(&i) : &x),
            "cannot write a parameter");
    set_encoding(d.get(), "numeric-scalar", "0.2.0", w);
}

void delete_if_present(hid_t group, const std::string& name, const Where& w) {
    const htri_t ex = H5Lexists(group, name.c_str(), H5P_DEFAULT);
    if (ex < 0) w.fail_hdf5("cannot look up '" + name + "'");
    if (ex > 0 && H5Ldelete(group, name.c_str(), H5P_DEFAULT) < 0) w.fail_hdf5("cannot replace '" + name + "'");
}

void write_embedding_impl(const std::string& path, const std::string& key, MatrixView<double> Y,
                          const std::string& uns_key, const H5adParams& params) {
    check_h5ad_output_key(key);
    if (Y.rows == 0 || Y.cols == 0) throw InvalidArgument("write_h5ad_embedding: the embedding is empty");
    Hdf5Session session;
    const Where w{path, key};
    std::error_code ec;
    Hid file;
    if (std::filesystem::exists(path, ec)) {
        file = open_file(path, true);
        const auto n = n_obs(file.get(), w);
        if (n && *n != Y.rows)
            w.fail("the file has " + std::to_string(*n) + " observations but the embedding has " +
                   std::to_string(Y.rows) + " rows");
    } else {
        file = Hid(H5Fcreate(path.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT));
        if (!file.valid()) w.fail_hdf5("cannot create the file");
        Hid root(H5Gopen2(file.get(), "/", H5P_DEFAULT));
        set_encoding(root.get(), "anndata", "0.1.0", w);
        write_dataframe(file.get(), "obs", Y.rows, w);
        write_dataframe(file.get(), "var", 0, w);
        for (const char* g : {"layers", "obsp", "uns", "varm", "varp"}) child_group(file.get(), g, w);
    }
    const auto parts = components(key);
    Hid group = child_group(file.get(), parts[0], w);
    delete_if_present(group.get(), parts[1], w);
    const hsize_t dims[2] = {Y.rows, Y.cols};
    Hid sp(H5Screate_simple(2, dims, nullptr));
    Hid d(w.check(H5Dcreate2(group.get(), parts[1].c_str(), H5T_IEEE_F64LE, sp.get(), H5P_DEFAULT, H5P_DEFAULT,
                             H5P_DEFAULT),
                  "cannot create the dataset"));
    w.ok(H5Dwrite(d.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, Y.data), "cannot write the data");
    set_encoding(d.get(), "array", "0.2.0", w);
    if (!params.empty() && !uns_key.empty()) {
        Hid uns = child_group(file.get(), "uns", w);
        Hid g = child_group(uns.get(), uns_key, w);
        delete_if_present(g.get(), "params", w);
        Hid p = child_group(g.get(), "params", w);
        for (const auto& [name, value] : params) write_scalar(p.get(), name, value, w);
    }
    w.ok(H5Fflush(file.get(), H5F_SCOPE_GLOBAL), "cannot write the file");
}

} // namespace

void check_h5ad_output_key(const std::string& key) {
    const auto parts = components(key);
    if (key.empty())
        throw InvalidArgument("an .h5ad output needs the key to write, e.g. data.h5ad:obsm/X_tsne");
    if (parts.size() != 2 || parts[0] != "obsm" || key.find("//") != std::string::npos || key.back() == '/')
        throw InvalidArgument("an .h5ad output writes an embedding to obsm/<name> (e.g. obsm/X_tsne); '" + key +
                              "' is not such a key");
}

std::int64_t h5ad_n_obs(const std::string& path) {
    return guard_allocation(path, [&] {
        Hdf5Session session;
        Hid file = open_file(path, false);
        const auto n = n_obs(file.get(), Where{path, "obs"});
        return n ? static_cast<std::int64_t>(*n) : std::int64_t{-1};
    });
}

template <typename T>
Matrix<T> read_h5ad_matrix(const std::string& path, const std::string& key) {
    return guard_allocation(path, [&] { return read_matrix_impl<T>(path, key); });
}

template Matrix<float> read_h5ad_matrix<float>(const std::string&, const std::string&);
template Matrix<double> read_h5ad_matrix<double>(const std::string&, const std::string&);

LabelColumn read_h5ad_labels(const std::string& path, const std::string& key) {
    return guard_allocation(path, [&] { return read_labels_impl(path, key); });
}

void write_h5ad_embedding(const std::string& path, const std::string& key, MatrixView<double> Y,
                          const std::string& uns_key, const H5adParams& params) {
    write_embedding_impl(path, key, Y, uns_key, params);
}

} // namespace nembed
