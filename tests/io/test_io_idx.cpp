// MNIST-style idx files: each data type, plain and gzip (written here with zlib), detection by magic bytes
// rather than by name, the real Fashion-MNIST files when installed, and malformed files.
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>

#include "io_test_util.hpp"
#include "io_zip_util.hpp"
#include "nembed/io/idx.hpp"
#include "nembed/io/load.hpp"

using namespace nembed;
using namespace io_test;

namespace {

std::vector<unsigned char> idx_image(unsigned char type, const std::vector<std::uint32_t>& dims,
                                     const std::vector<unsigned char>& data_be) {
    std::vector<unsigned char> out = {0, 0, type, static_cast<unsigned char>(dims.size())};
    for (auto d : dims)
        for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<unsigned char>((d >> s) & 0xFF));
    out.insert(out.end(), data_be.begin(), data_be.end());
    return out;
}

const std::string kFashion = "/usr/share/datasets/fashion-mnist/";

} // namespace

TEST(IoIdx, ImagesPlainAndGzipFlattenToRows) {
    TempDir d;
    // 3 "images" of 2 x 4 pixels, values 0..23.
    std::vector<unsigned char> px(24);
    for (std::size_t i = 0; i < px.size(); ++i) px[i] = static_cast<unsigned char>(i * 10);
    const auto img = idx_image(0x08, {3, 2, 4}, px);
    write_bytes(d.file("images-idx3-ubyte"), img);
    write_gz(d.file("images-idx3-ubyte.gz"), img);
    write_gz(d.file("images.bin"), img);  // gzip detected from the magic, not the name
    for (const auto& name : {"images-idx3-ubyte", "images-idx3-ubyte.gz", "images.bin"}) {
        NdArray a = read_idx(d.file(name));
        EXPECT_EQ(a.shape, (std::vector<std::size_t>{3, 2, 4})) << name;
        EXPECT_EQ(a.dtype, DType::u8);
        Matrix<float> m = load_matrix<float>(d.file(name));
        ASSERT_EQ(m.rows(), 3u) << name;
        ASSERT_EQ(m.cols(), 8u) << name;
        for (std::size_t i = 0; i < 24; ++i) EXPECT_EQ(m.data()[i], float(i * 10));
    }
}

TEST(IoIdx, AllDataTypesAreBigEndian) {
    TempDir d;
    const std::string f = d.file("x.idx");
    write_bytes(f, idx_image(0x09, {3}, {0xFF, 0x80, 0x05}));
    EXPECT_EQ(load_labels(f), (std::vector<std::int64_t>{-1, -128, 5}));
    write_bytes(f, idx_image(0x0B, {2}, raw(std::vector<std::int16_t>{-300, 1234}, true)));
    EXPECT_EQ(load_labels(f), (std::vector<std::int64_t>{-300, 1234}));
    write_bytes(f, idx_image(0x0C, {2}, raw(std::vector<std::int32_t>{-70000, 123456789}, true)));
    EXPECT_EQ(load_labels(f), (std::vector<std::int64_t>{-70000, 123456789}));
    write_bytes(f, idx_image(0x0D, {1, 2}, raw(std::vector<float>{1.5f, -2.25f}, true)));
    Matrix<float> mf = load_matrix<float>(f);
    EXPECT_EQ(mf(0, 0), 1.5f);
    EXPECT_EQ(mf(0, 1), -2.25f);
    write_bytes(f, idx_image(0x0E, {2, 1}, raw(std::vector<double>{0.1, 1e-300}, true)));
    Matrix<double> md = load_matrix<double>(f);
    EXPECT_EQ(md(0, 0), 0.1);
    EXPECT_EQ(md(1, 0), 1e-300);
}

TEST(IoIdx, RealFashionMnistLabels) {
    const std::string f = kFashion + "t10k-labels-idx1-ubyte.gz";
    if (!std::filesystem::exists(f)) GTEST_SKIP() << f << " is not installed";
    auto y = load_labels(f);
    ASSERT_EQ(y.size(), 10000u);
    std::vector<int> counts(10, 0);
    for (auto v : y) {
        ASSERT_GE(v, 0);
        ASSERT_LE(v, 9);
        ++counts[static_cast<std::size_t>(v)];
    }
    for (int c : counts) EXPECT_EQ(c, 1000);  // the test set is balanced
    EXPECT_EQ(y[0], 9);                       // ankle boot
}

TEST(IoIdx, RealFashionMnistTestImages) {
    const std::string f = kFashion + "t10k-images-idx3-ubyte.gz";
    if (!std::filesystem::exists(f)) GTEST_SKIP() << f << " is not installed";
    Matrix<float> X = load_matrix<float>(f);
    ASSERT_EQ(X.rows(), 10000u);
    ASSERT_EQ(X.cols(), 784u);
    float lo = 1e9f, hi = -1e9f;
    for (float v : X.storage()) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
    }
    EXPECT_EQ(lo, 0.0f);
    EXPECT_EQ(hi, 255.0f);
}

TEST(IoIdxErrors, Malformed) {
    TempDir d;
    const std::string f = d.file("bad-idx1-ubyte");
    EXPECT_IO_ERROR(read_idx(f), "bad-idx1-ubyte: no such file");
    write_text(f, "");
    EXPECT_IO_ERROR(read_idx(f), "bad-idx1-ubyte", "empty file");
    write_bytes(f, {0, 0, 8});
    EXPECT_IO_ERROR(read_idx(f), "bad-idx1-ubyte", "truncated IDX header", "byte offset 3");
    write_bytes(f, {1, 2, 8, 1, 0, 0, 0, 1, 7});
    EXPECT_IO_ERROR(read_idx(f), "bad-idx1-ubyte", "not an IDX file", "wrong magic", "byte offset 0");
    write_bytes(f, {0, 0, 0x0A, 1, 0, 0, 0, 1, 7});
    EXPECT_IO_ERROR(read_idx(f), "bad-idx1-ubyte", "unsupported IDX data type 0x0A", "byte offset 2");
    write_bytes(f, {0, 0, 8, 3, 0, 0, 0, 2});
    EXPECT_IO_ERROR(read_idx(f), "bad-idx1-ubyte", "truncated IDX header", "3 dimension sizes");
    write_bytes(f, {0, 0, 8, 0});
    EXPECT_IO_ERROR(read_idx(f), "bad-idx1-ubyte", "zero dimensions");
    // Data shorter than the header says, and longer.
    write_bytes(f, idx_image(0x08, {10, 4}, std::vector<unsigned char>(39, 1)));
    EXPECT_IO_ERROR(read_idx(f), "bad-idx1-ubyte", "truncated", "needs 40 data bytes", "found 39", "byte offset 51");
    write_bytes(f, idx_image(0x08, {10}, std::vector<unsigned char>(11, 1)));
    EXPECT_IO_ERROR(read_idx(f), "bad-idx1-ubyte", "trailing data", "byte offset 18");
    // Empty array and non-finite floats are rejected by the matrix loader.
    write_bytes(f, idx_image(0x08, {0, 5}, {}));
    EXPECT_IO_ERROR(load_matrix<float>(f), "bad-idx1-ubyte", "is empty");
    write_bytes(f, idx_image(0x0D, {2, 2}, raw(std::vector<float>{1, 2, NAN, 4}, true)));
    EXPECT_IO_ERROR(load_matrix<float>(f), "bad-idx1-ubyte", "non-finite", "row 1, column 0");
}

TEST(IoIdxErrors, TruncatedAndCorruptGzip) {
    TempDir d;
    const std::string f = d.file("img-idx3-ubyte.gz");
    std::vector<unsigned char> px(5000);
    for (std::size_t i = 0; i < px.size(); ++i) px[i] = static_cast<unsigned char>((i * 7919) % 251);
    write_gz(f, idx_image(0x08, {50, 10, 10}, px));
    auto gz = read_bytes(f);
    ASSERT_NO_THROW(read_idx(f));
    // Cut the compressed stream in the middle of the data.
    auto cut = gz;
    cut.resize(gz.size() * 2 / 3);
    write_bytes(f, cut);
    EXPECT_IO_ERROR(read_idx(f), "img-idx3-ubyte.gz", "truncated", "byte offset");
    // Cut only the 8-byte gzip trailer (CRC and length): all data present but the stream is incomplete.
    cut = gz;
    cut.resize(gz.size() - 8);
    write_bytes(f, cut);
    EXPECT_IO_ERROR(read_idx(f), "img-idx3-ubyte.gz", "byte offset");
    // Garbage after a valid gzip header.
    auto bad = gz;
    for (std::size_t i = 20; i < bad.size() - 8; ++i) bad[i] = static_cast<unsigned char>(i * 31);
    write_bytes(f, bad);
    EXPECT_IO_ERROR(read_idx(f), "img-idx3-ubyte.gz");
    // A gzip file whose content is not idx.
    const std::string g = d.file("text.gz");
    const std::string s = "1,2,3\n";
    write_gz(g, std::vector<unsigned char>(s.begin(), s.end()));
    EXPECT_IO_ERROR(load_matrix<float>(g), "text.gz", "not an IDX file", "after gzip decompression");
}
