// .npz archives: numpy-made fixtures (np.savez, np.savez_compressed), archives built here with zlib (stored
// and deflated members), member selection, and malformed archives.
#include <gtest/gtest.h>
#include <zlib.h>

#include "io_test_util.hpp"
#include "io_zip_util.hpp"
#include "nembed/io/load.hpp"
#include "nembed/io/npz.hpp"

using namespace nembed;
using namespace io_test;

namespace {

const std::string kData = NEMBED_TEST_DATA_DIR;

std::vector<unsigned char> matrix_npy(std::size_t rows, std::size_t cols, double offset) {
    std::vector<double> v(rows * cols);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = offset + double(i) * 0.5;
    return npy_image("{'descr': '<f8', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                         std::to_string(cols) + "), }",
                     raw(v));
}

} // namespace

TEST(IoNpz, NumpyFixturesStoredAndCompressed) {
    for (const std::string& f : {kData + "/io_small.npz", kData + "/io_small_compressed.npz"}) {
        EXPECT_EQ(npz_members(f), (std::vector<std::string>{"a.npy", "labels.npy", "fort.npy"})) << f;
        Matrix<float> a = load_matrix<float>(f + ":a");
        ASSERT_EQ(a.rows(), 3u);
        ASSERT_EQ(a.cols(), 4u);
        for (std::size_t i = 0; i < 12; ++i) EXPECT_EQ(a.data()[i], float(i) / 4.0f);
        EXPECT_EQ(load_labels(f + ":labels"), (std::vector<std::int64_t>{3, 1, 4, 1, 5, 9}));
        EXPECT_EQ(load_labels(f + ":labels.npy"), (std::vector<std::int64_t>{3, 1, 4, 1, 5, 9}));
        // Big-endian float64 in Fortran order, written by numpy.
        Matrix<double> fo = load_matrix<double>(f + ":fort");
        ASSERT_EQ(fo.rows(), 2u);
        for (std::size_t i = 0; i < 6; ++i) EXPECT_EQ(fo.data()[i], double(i));
    }
}

TEST(IoNpz, HandBuiltStoredAndDeflatedMembers) {
    TempDir d;
    const std::string f = d.file("x.npz");
    const auto big = matrix_npy(200, 30, 1.0);  // compressible
    write_bytes(f, make_zip({{"stored.npy", matrix_npy(2, 3, 10.0), 0}, {"deflated.npy", big, 8}}));
    Matrix<double> s = load_matrix<double>(f + ":stored");
    ASSERT_EQ(s.rows(), 2u);
    EXPECT_EQ(s(1, 2), 10.0 + 5 * 0.5);
    Matrix<double> m = load_matrix<double>(f + ":deflated");
    ASSERT_EQ(m.rows(), 200u);
    ASSERT_EQ(m.cols(), 30u);
    for (std::size_t i = 0; i < m.size(); ++i) ASSERT_EQ(m.data()[i], 1.0 + double(i) * 0.5);
    // The only member is chosen without a name, also through the magic-byte sniffing of an odd extension.
    const std::string g = d.file("single.data");
    write_bytes(g, make_zip({{"only.npy", matrix_npy(4, 2, 0.0), 8}}));
    EXPECT_EQ(load_matrix<double>(g).rows(), 4u);
    EXPECT_EQ(read_npz(g).shape, (std::vector<std::size_t>{4, 2}));
}

TEST(IoNpzErrors, MemberSelection) {
    TempDir d;
    const std::string f = d.file("x.npz");
    write_bytes(f, make_zip({{"a.npy", matrix_npy(2, 2, 0), 0}, {"b.npy", matrix_npy(2, 2, 0), 8}}));
    EXPECT_IO_ERROR(load_matrix<float>(f + ":c"), "x.npz", "no member named 'c'", "available: a, b");
    EXPECT_IO_ERROR(load_matrix<float>(f), "x.npz", "has 2 members (a, b)", "x.npz:<member>");
    write_text(d.file("t.csv"), "1,2\n");
    // A member name on a file that is not an archive.
    EXPECT_IO_ERROR(load_matrix<float>(d.file("t.csv") + ".npz:a"), "no such file");
}

TEST(IoNpzErrors, MalformedArchives) {
    TempDir d;
    const std::string f = d.file("bad.npz");
    write_text(f, "");
    EXPECT_IO_ERROR(load_matrix<float>(f), "bad.npz", "empty file");
    write_text(f, "hello, this is not a zip file at all");
    EXPECT_IO_ERROR(load_matrix<float>(f), "bad.npz", "wrong magic", "byte offset 0");
    EXPECT_IO_ERROR(load_matrix<float>(d.file("missing.npz") + ":x"), "missing.npz: no such file");

    const auto good = make_zip({{"a.npy", matrix_npy(50, 10, 0), 8}});
    // Truncated: the end-of-central-directory record is gone.
    auto t = good;
    t.resize(t.size() / 2);
    write_bytes(f, t);
    EXPECT_IO_ERROR(load_matrix<float>(f), "bad.npz", "truncated ZIP archive", "byte offset " + std::to_string(t.size()));
    // Corrupted compressed data: flip bytes in the middle of the deflate stream.
    auto c = good;
    for (std::size_t i = 60; i < 80; ++i) c[i] ^= 0x5A;
    write_bytes(f, c);
    EXPECT_IO_ERROR(load_matrix<float>(f), "bad.npz", "a.npy", "byte offset");
    // Wrong CRC on a stored member.
    auto s = make_zip({{"a.npy", matrix_npy(2, 2, 0), 0}});
    s[14] ^= 0xFF;  // CRC field of the local header (unused) ...
    const std::size_t cd = s.size() - 22 - (46 + 5);
    s[cd + 16] ^= 0xFF;  // ... and of the central directory (checked)
    write_bytes(f, s);
    EXPECT_IO_ERROR(load_matrix<float>(f), "bad.npz", "CRC-32 mismatch", "'a.npy'");
    // Unsupported compression method (bzip2 = 12).
    write_bytes(f, make_zip({{"a.npy", matrix_npy(2, 2, 0), 12}}));
    EXPECT_IO_ERROR(load_matrix<float>(f), "bad.npz", "unsupported compression method 12");
    // A member that is not a valid .npy.
    write_bytes(f, make_zip({{"a.npy", std::vector<unsigned char>(20, 'x'), 0}}));
    EXPECT_IO_ERROR(load_matrix<float>(f), "bad.npz:a", "wrong magic");
    // ZIP64 end record (0xFFFF members) is detected and explained.
    auto z = good;
    z[z.size() - 22 + 8] = 0xFF; z[z.size() - 22 + 9] = 0xFF;
    z[z.size() - 22 + 10] = 0xFF; z[z.size() - 22 + 11] = 0xFF;
    write_bytes(f, z);
    EXPECT_IO_ERROR(load_matrix<float>(f), "bad.npz", "ZIP64", "not supported");
    // An archive with no members.
    write_bytes(f, make_zip({}));
    EXPECT_IO_ERROR(load_matrix<float>(f), "bad.npz", "no members");
}
