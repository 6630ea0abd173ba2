// Crafted files (issue #19, items 1 and 6): sizes and pointers taken from a file are validated before they are
// used to allocate or index. Each reader must fail with an IoError naming the problem, without touching memory it
// does not own and without a large allocation first: the largest single allocation during the failing call is
// recorded by the replaced operator new below and must stay under 1 MiB.
#include <gtest/gtest.h>
#include <zlib.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "io_test_util.hpp"
#include "io_zip_util.hpp"
#include "nembed/io/file.hpp"
#include "nembed/io/idx.hpp"
#include "nembed/io/load.hpp"
#include "nembed/io/npy.hpp"
#include "nembed/io/npz.hpp"

namespace {
std::atomic<std::size_t> g_largest{0};
std::atomic<bool> g_recording{false};
} // namespace

// Records the largest request while a test asks for it; otherwise plain malloc/free. Not inlined, so that GCC does
// not pair the free() inside delete with a built-in new at each call site (-Wmismatched-new-delete).
[[gnu::noinline]] void* operator new(std::size_t n) {
    if (g_recording.load(std::memory_order_relaxed)) {
        std::size_t cur = g_largest.load(std::memory_order_relaxed);
        while (n > cur && !g_largest.compare_exchange_weak(cur, n)) {
        }
    }
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }

using namespace nembed;
using namespace io_test;

namespace {

constexpr std::size_t kSmall = std::size_t{1} << 20;

// The IoError message of fn, with the largest allocation it made.
template <typename F>
std::string failing(F&& fn, std::size_t& largest) {
    g_largest = 0;
    g_recording = true;
    std::string msg = io_error_of(fn);
    g_recording = false;
    largest = g_largest;
    return msg;
}

#define EXPECT_FAILS_SMALL(stmt, ...)                                                                             \
    do {                                                                                                          \
        std::size_t largest_ = 0;                                                                                 \
        const std::string msg_ = failing([&] { (void)(stmt); }, largest_);                                        \
        for (const std::string& frag_ : std::vector<std::string>{__VA_ARGS__})                                    \
            EXPECT_NE(msg_.find(frag_), std::string::npos) << "message: " << msg_ << "\nmissing: " << frag_;      \
        EXPECT_LT(largest_, kSmall) << "message: " << msg_;                                                       \
    } while (0)

std::vector<unsigned char> i64_npy(const std::vector<std::int64_t>& v) {
    return npy_image("{'descr': '<i8', 'fortran_order': False, 'shape': (" + std::to_string(v.size()) + ",), }",
                     raw(v));
}
std::vector<unsigned char> f64_npy(const std::vector<double>& v) {
    return npy_image("{'descr': '<f8', 'fortran_order': False, 'shape': (" + std::to_string(v.size()) + ",), }",
                     raw(v));
}

// A scipy-style CSR archive with the given members, stored uncompressed.
std::vector<unsigned char> csr_npz(const std::vector<std::int64_t>& indptr, const std::vector<std::int64_t>& indices,
                                   const std::vector<double>& data, std::int64_t rows, std::int64_t cols) {
    return make_zip({{"indices.npy", i64_npy(indices), 0},
                     {"indptr.npy", i64_npy(indptr), 0},
                     {"format.npy", npy_image("{'descr': '|S3', 'fortran_order': False, 'shape': (), }", {'c', 's', 'r'}), 0},
                     {"shape.npy", i64_npy({rows, cols}), 0},
                     {"data.npy", f64_npy(data), 8}});
}

std::vector<unsigned char> idx_header(unsigned char type, const std::vector<std::uint32_t>& dims) {
    std::vector<unsigned char> out = {0, 0, type, static_cast<unsigned char>(dims.size())};
    for (auto d : dims)
        for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<unsigned char>((d >> s) & 0xFF));
    return out;
}

} // namespace

// Item 1: indptr = [0, 1000000, 5, 5, ...] with 5 entries used to write a million entries past a 5-entry array.
TEST(HostileSparse, IndptrInconsistentWithIndicesIsRefusedBeforeUse) {
    TempDir d;
    const std::vector<std::int64_t> indices = {0, 1, 2, 3, 4};
    const std::vector<double> data = {1, 1, 1, 1, 1};
    const std::string f = d.file("g.npz");
    std::vector<std::int64_t> indptr(301, 5);
    indptr[0] = 0;
    indptr[1] = 1000000;
    write_bytes(f, csr_npz(indptr, indices, data, 300, 300));
    EXPECT_FAILS_SMALL(load_sparse(f), f, "indptr decreases at position 2 (1000000 then 5)");

    indptr.assign(301, 5);
    indptr[0] = 3;  // not starting at 0
    write_bytes(f, csr_npz(indptr, indices, data, 300, 300));
    EXPECT_FAILS_SMALL(load_sparse(f), "indptr starts at 3, not 0");

    indptr.assign(301, 5);
    indptr[0] = 0;
    indptr[300] = 4;  // not ending at nnz
    write_bytes(f, csr_npz(indptr, indices, data, 300, 300));
    EXPECT_FAILS_SMALL(load_sparse(f), "indptr ends at 4 but there are 5 entries");

    indptr.assign(301, 5);
    indptr[0] = 0;
    indptr[1] = -7;  // negative pointers
    write_bytes(f, csr_npz(indptr, indices, data, 300, 300));
    EXPECT_FAILS_SMALL(load_sparse(f), "indptr decreases at position 1");

    indptr.assign(200, 5);  // wrong length for 300 rows
    indptr[0] = 0;
    write_bytes(f, csr_npz(indptr, indices, data, 300, 300));
    EXPECT_FAILS_SMALL(load_sparse(f), "indptr has 200 entries", "needs 301");

    indptr.assign(301, 5);
    indptr[0] = 0;
    write_bytes(f, csr_npz(indptr, {0, 1, 2}, data, 300, 300));  // indices shorter than data
    EXPECT_FAILS_SMALL(load_sparse(f), "indices has 3 entries but data has 5");

    write_bytes(f, csr_npz(indptr, {0, 1, 2, 3, 300}, data, 300, 300));  // a column outside the shape
    EXPECT_FAILS_SMALL(load_sparse(f), "entry 4 at (0, 300) lies outside the shape (300, 300)");

    write_bytes(f, csr_npz(indptr, {0, 1, -2, 3, 4}, data, 300, 300));
    EXPECT_FAILS_SMALL(load_sparse(f), "entry 2 at (0, -2) lies outside the shape");

    // The same file made consistent loads.
    write_bytes(f, csr_npz(indptr, indices, data, 300, 300));
    const CsrMatrix<double> m = load_sparse(f);
    EXPECT_EQ(m.n_rows, 300u);
    EXPECT_EQ(m.nnz(), 5u);
    EXPECT_NO_THROW(m.validate());
}

TEST(HostileSparse, ShapesThatNoDataBacks) {
    TempDir d;
    const std::string f = d.file("g.npz");
    // Above what a 32-bit point index holds.
    write_bytes(f, csr_npz({0, 1}, {0}, {1.0}, 1, std::int64_t{1} << 40));
    EXPECT_FAILS_SMALL(load_sparse(f), "shape (1, 1099511627776) has a dimension above 2147483647");
    // COO declaring 2^31 - 1 rows for one entry: the row pointers alone would be 16 GiB.
    write_bytes(f, make_zip({{"row.npy", i64_npy({0}), 0},
                             {"col.npy", i64_npy({0}), 0},
                             {"shape.npy", i64_npy({2147483647, 2147483647}), 0},
                             {"data.npy", f64_npy({1.0}), 0}}));
    EXPECT_FAILS_SMALL(load_sparse(f), "shape (2147483647, 2147483647) is implausible for 1 stored entries");
    // COO with row and col of different lengths.
    write_bytes(f, make_zip({{"row.npy", i64_npy({0, 1}), 0},
                             {"col.npy", i64_npy({0}), 0},
                             {"shape.npy", i64_npy({3, 3}), 0},
                             {"data.npy", f64_npy({1.0, 2.0}), 0}}));
    EXPECT_FAILS_SMALL(load_sparse(f), "row, col and data have different lengths (2, 1 and 2)");
    // Index members must be integer vectors.
    write_bytes(f, make_zip({{"row.npy", f64_npy({0.5}), 0},
                             {"col.npy", i64_npy({0}), 0},
                             {"shape.npy", i64_npy({3, 3}), 0},
                             {"data.npy", f64_npy({1.0}), 0}}));
    EXPECT_FAILS_SMALL(load_sparse(f), "member row has dtype float64; expected integers");
    // uint64 values above 2^63 do not wrap around to pass as negatives.
    write_bytes(f, make_zip({{"row.npy", npy_image("{'descr': '<u8', 'fortran_order': False, 'shape': (1,), }",
                                                   raw(std::vector<std::uint64_t>{~std::uint64_t{0}})), 0},
                             {"col.npy", i64_npy({0}), 0},
                             {"shape.npy", i64_npy({3, 3}), 0},
                             {"data.npy", f64_npy({1.0}), 0}}));
    EXPECT_FAILS_SMALL(load_sparse(f), "member row holds 18446744073709551615, too large");
}

// Item 6: a 108-byte idx file declaring 46341 x 46341 used to allocate 2.1 GB before reporting truncation.
TEST(HostileIdx, DeclaredSizeIsCheckedAgainstTheFileBeforeAllocating) {
    TempDir d;
    const std::string f = d.file("big.idx");
    auto b = idx_header(0x08, {46341, 46341});
    b.resize(108, 7);
    write_bytes(f, b);
    EXPECT_FAILS_SMALL(read_idx(f), f, "needs 2147488281 data bytes from offset 12, found 96");
    EXPECT_FAILS_SMALL(load_matrix<float>(f), "needs 2147488281 data bytes");

    b = idx_header(0x0E, {60000, 60000});  // 28.8 GB of float64
    b.resize(108, 7);
    write_bytes(f, b);
    EXPECT_FAILS_SMALL(read_idx(f), "needs 28800000000 data bytes from offset 12, found 96");

    // The largest declaration the format allows (2^32 - 1 in every dimension) overflows size_t: "too large".
    write_bytes(f, idx_header(0x0E, {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}));
    EXPECT_FAILS_SMALL(read_idx(f), "is too large");

    // gzip: more than 1032 times the compressed size cannot be in the stream.
    const std::string g = d.file("big.idx.gz");
    b = idx_header(0x08, {60000, 60000});
    b.resize(108, 7);
    write_gz(g, b);
    EXPECT_FAILS_SMALL(read_idx(g), "declares 3600000000 data bytes, more than the", "compressed file can hold");
}

// Within the deflate bound, a gzip stream that ends early fails after reading what is there, not after allocating
// what the header declares: 1000 x 1000 x 10 bytes declared, 20 000 incompressible bytes present (so 10 MB is
// within 1032 times the compressed size and only the growing buffer keeps the allocation small).
TEST(HostileIdx, TruncatedGzipGrowsOnlyAsDataArrives) {
    TempDir d;
    const std::string g = d.file("short.idx.gz");
    std::vector<unsigned char> b = idx_header(0x08, {1000, 1000, 10});
    std::uint32_t x = 12345;
    for (int i = 0; i < 20000; ++i) {
        x = x * 1664525u + 1013904223u;
        b.push_back(static_cast<unsigned char>(x >> 24));
    }
    write_gz(g, b);
    std::size_t largest = 0;
    const std::string msg = failing([&] { (void)read_idx(g); }, largest);
    EXPECT_NE(msg.find("needs 10000000 data bytes"), std::string::npos) << msg;
    EXPECT_NE(msg.find("found 20000"), std::string::npos) << msg;
    EXPECT_LE(largest, std::size_t{2} << 20) << msg;  // the first 1 MiB chunk, not 10 MB
}

// Item 6 for .npz: a member whose directory entry declares far more than its compressed bytes can inflate to.
TEST(HostileNpz, MemberSizesAreCheckedBeforeAllocating) {
    TempDir d;
    const std::string f = d.file("a.npz");
    auto z = make_zip({{"x.npy", f64_npy({1, 2, 3}), 8}});
    // Central directory record: signature 0x02014b50, uncompressed size at +24.
    std::size_t cd = 0;
    for (std::size_t i = z.size() - 4; i-- > 0;)
        if (z[i] == 0x50 && z[i + 1] == 0x4b && z[i + 2] == 0x01 && z[i + 3] == 0x02) {
            cd = i;
            break;
        }
    ASSERT_GT(cd, 0u);
    for (int k = 0; k < 4; ++k) z[cd + 24 + k] = 0xF0;  // ~4 GB
    write_bytes(f, z);
    EXPECT_FAILS_SMALL(read_npz(f), "member 'x.npy' declares 4042322160 bytes, more than its", "compressed bytes can hold");

    // A stored member whose two sizes disagree fails before the allocation of either.
    z = make_zip({{"x.npy", f64_npy({1, 2, 3}), 0}});
    cd = 0;
    for (std::size_t i = z.size() - 4; i-- > 0;)
        if (z[i] == 0x50 && z[i + 1] == 0x4b && z[i + 2] == 0x01 && z[i + 3] == 0x02) {
            cd = i;
            break;
        }
    for (int k = 0; k < 4; ++k) z[cd + 24 + k] = 0xF0;
    write_bytes(f, z);
    EXPECT_FAILS_SMALL(read_npz(f), "has different compressed and uncompressed sizes");
}

TEST(HostileNpy, DeclaredShapeLargerThanTheFile) {
    TempDir d;
    const std::string f = d.file("a.npy");
    write_bytes(f, npy_image("{'descr': '<f8', 'fortran_order': False, 'shape': (46341, 46341), }", raw(std::vector<double>{1, 2})));
    EXPECT_FAILS_SMALL(read_npy(f), "truncated data", "needs 17179906248 bytes");
    EXPECT_FAILS_SMALL(load_matrix<double>(f), "truncated data");
    write_bytes(f, npy_image("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }", {}));
    EXPECT_FAILS_SMALL(read_npy(f), "is too large");
}

// No bare std::bad_alloc leaves a reader: it becomes an IoError naming the file.
TEST(HostileAlloc, BadAllocBecomesIoErrorNamingTheFile) {
    EXPECT_IO_ERROR(guard_allocation("x.npy", []() -> int { throw std::bad_alloc(); }), "x.npy: out of memory");
    std::vector<unsigned char> v;
    EXPECT_IO_ERROR(resize_for(v, v.max_size() + 1, "y.idx", "the IDX data"), "y.idx: cannot allocate",
                    "bytes for the IDX data");
}
