// .npy reading and writing: every supported dtype in both byte orders, C and Fortran order, 1-D/2-D/3-D,
// header versions 1-3, and each kind of malformed file.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "io_test_util.hpp"
#include "nembed/io/load.hpp"
#include "nembed/io/npy.hpp"

using namespace nembed;
using namespace io_test;

namespace {

std::string dict(const std::string& descr, const std::string& shape, bool fortran = false) {
    return "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") + ", 'shape': " + shape + ", }";
}

template <typename T>
void check_dtype(const std::string& code, DType expect) {
    TempDir d;
    const std::vector<T> vals = {T(0), T(1), T(7), T(100), std::numeric_limits<T>::max(), std::numeric_limits<T>::min()};
    for (bool big : {false, true}) {
        std::string descr = code;
        if (sizeof(T) > 1) descr[0] = big ? '>' : '<';
        const std::string f = d.file("x.npy");
        write_bytes(f, npy_image(dict(descr, "(2, 3)"), raw(vals, big)));
        NdArray a = read_npy(f);
        ASSERT_EQ(a.dtype, expect) << descr;
        ASSERT_EQ(a.shape, (std::vector<std::size_t>{2, 3}));
        for (std::size_t i = 0; i < vals.size(); ++i) EXPECT_EQ(a.value(i), static_cast<double>(vals[i])) << descr << " " << i;
        Matrix<double> m = load_matrix<double>(f);
        ASSERT_EQ(m.rows(), 2u);
        ASSERT_EQ(m.cols(), 3u);
        for (std::size_t i = 0; i < vals.size(); ++i) EXPECT_EQ(m.data()[i], static_cast<double>(vals[i]));
    }
}

} // namespace

TEST(IoNpy, IntegerDtypesBothByteOrders) {
    check_dtype<std::uint8_t>("|u1", DType::u8);
    check_dtype<std::int8_t>("|i1", DType::i8);
    check_dtype<std::int16_t>("<i2", DType::i16);
    check_dtype<std::uint16_t>("<u2", DType::u16);
    check_dtype<std::int32_t>("<i4", DType::i32);
    check_dtype<std::uint32_t>("<u4", DType::u32);
    check_dtype<std::int64_t>("<i8", DType::i64);
    check_dtype<std::uint64_t>("<u8", DType::u64);
}

TEST(IoNpy, FloatDtypesBothByteOrders) {
    TempDir d;
    const std::vector<float> vf = {0.5f, -1.25f, 3.0e-7f, 1.0e30f, -0.0f, 42.0f};
    const std::vector<double> vd = {0.1, -2.5e-300, 1.0e300, 3.141592653589793, 0.0, -7.0};
    for (bool big : {false, true}) {
        const std::string f = d.file("f.npy");
        write_bytes(f, npy_image(dict(big ? ">f4" : "<f4", "(3, 2)"), raw(vf, big)));
        Matrix<float> mf = load_matrix<float>(f);
        ASSERT_EQ(mf.rows(), 3u);
        for (std::size_t i = 0; i < vf.size(); ++i) EXPECT_EQ(mf.data()[i], vf[i]);
        write_bytes(f, npy_image(dict(big ? ">f8" : "<f8", "(3, 2)"), raw(vd, big)));
        Matrix<double> md = load_matrix<double>(f);
        for (std::size_t i = 0; i < vd.size(); ++i) EXPECT_EQ(md.data()[i], vd[i]);
    }
}

TEST(IoNpy, Bool) {
    TempDir d;
    const std::string f = d.file("b.npy");
    write_bytes(f, npy_image(dict("|b1", "(4,)"), {1, 0, 0, 1}));
    NdArray a = read_npy(f);
    EXPECT_EQ(a.dtype, DType::boolean);
    EXPECT_EQ(load_labels(f), (std::vector<std::int64_t>{1, 0, 0, 1}));
}

TEST(IoNpy, FortranOrderIsTransposedToRowMajor) {
    TempDir d;
    const std::string f = d.file("fort.npy");
    // The 2 x 3 matrix [[0, 1, 2], [3, 4, 5]] stored column by column.
    write_bytes(f, npy_image(dict("<f8", "(2, 3)", true), raw(std::vector<double>{0, 3, 1, 4, 2, 5})));
    Matrix<double> m = load_matrix<double>(f);
    ASSERT_EQ(m.rows(), 2u);
    ASSERT_EQ(m.cols(), 3u);
    for (std::size_t i = 0; i < 6; ++i) EXPECT_EQ(m.data()[i], double(i));
    // Big-endian and Fortran together, float32.
    write_bytes(f, npy_image(dict(">f4", "(2, 3)", true), raw(std::vector<float>{0, 3, 1, 4, 2, 5}, true)));
    Matrix<float> mf = load_matrix<float>(f);
    for (std::size_t i = 0; i < 6; ++i) EXPECT_EQ(mf.data()[i], float(i));
    // 3-D: element (i, j, k) of shape (2, 3, 4) has value 100 i + 10 j + k; F order stores i fastest.
    std::vector<std::int32_t> v;
    for (int k = 0; k < 4; ++k)
        for (int j = 0; j < 3; ++j)
            for (int i = 0; i < 2; ++i) v.push_back(100 * i + 10 * j + k);
    write_bytes(f, npy_image(dict("<i4", "(2, 3, 4)", true), raw(v)));
    NdArray a = read_npy(f);
    std::size_t c = 0;
    for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 3; ++j)
            for (int k = 0; k < 4; ++k) EXPECT_EQ(a.value(c++), 100 * i + 10 * j + k);
    // 1-D Fortran is the same as C.
    write_bytes(f, npy_image(dict("<i8", "(3,)", true), raw(std::vector<std::int64_t>{5, 6, 7})));
    EXPECT_EQ(load_labels(f), (std::vector<std::int64_t>{5, 6, 7}));
}

TEST(IoNpy, OneDimensionalIsAColumn) {
    TempDir d;
    const std::string f = d.file("v.npy");
    write_bytes(f, npy_image(dict("<f4", "(4,)"), raw(std::vector<float>{1, 2, 3, 4})));
    Matrix<float> m = load_matrix<float>(f);
    EXPECT_EQ(m.rows(), 4u);
    EXPECT_EQ(m.cols(), 1u);
    EXPECT_EQ(m(3, 0), 4.0f);
}

TEST(IoNpy, HeaderVersions2And3AndVariants) {
    TempDir d;
    const std::string f = d.file("v.npy");
    const auto data = raw(std::vector<double>{1, 2});
    for (int major : {2, 3}) {
        write_bytes(f, npy_image(dict("<f8", "(1, 2)"), data, major));
        Matrix<double> m = load_matrix<double>(f);
        EXPECT_EQ(m(0, 1), 2.0) << major;
    }
    // Key order, double quotes, no trailing comma, Python 2 long suffix.
    write_bytes(f, npy_image("{\"shape\": (1L, 2L), \"fortran_order\": False, \"descr\": \"<f8\"}", data));
    EXPECT_EQ(load_matrix<double>(f)(0, 0), 1.0);
}

TEST(IoNpy, WritersRoundTrip) {
    TempDir d;
    Matrix<double> md(3, 2);
    for (std::size_t i = 0; i < md.size(); ++i) md.data()[i] = std::sqrt(double(i) + 0.1) * (i % 2 ? -1 : 1);
    const std::string f = d.file("d.npy");
    write_npy(f, md.view());
    const auto bytes = read_bytes(f);
    const std::size_t hlen = bytes[8] | (bytes[9] << 8);
    EXPECT_EQ((10 + hlen) % 64, 0u) << "header must be padded to 64 bytes";
    EXPECT_EQ(bytes[10 + hlen - 1], '\n');
    NdArray a = read_npy(f);
    EXPECT_EQ(a.dtype, DType::f64);
    Matrix<double> back = load_matrix<double>(f);
    ASSERT_EQ(back.rows(), 3u);
    for (std::size_t i = 0; i < md.size(); ++i) EXPECT_EQ(back.data()[i], md.data()[i]);

    Matrix<float> mf(2, 5);
    for (std::size_t i = 0; i < mf.size(); ++i) mf.data()[i] = float(i) / 3.0f;
    write_npy(f, mf.view());
    EXPECT_EQ(read_npy(f).dtype, DType::f32);
    Matrix<float> bf = load_matrix<float>(f);
    for (std::size_t i = 0; i < mf.size(); ++i) EXPECT_EQ(bf.data()[i], mf.data()[i]);

    const std::vector<std::int64_t> labels = {0, -3, std::numeric_limits<std::int64_t>::max(), 9};
    write_npy(f, labels);
    EXPECT_EQ(read_npy(f).dtype, DType::i64);
    EXPECT_EQ(load_labels(f), labels);
}

TEST(IoNpy, ReadsTheFashionMnistSubset) {
    const std::string f = std::string(NEMBED_TEST_DATA_DIR) + "/fmnist_4000_pca50.npy";
    Matrix<float> X = load_matrix<float>(f);
    EXPECT_EQ(X.rows(), 4000u);
    EXPECT_EQ(X.cols(), 50u);
    auto y = load_labels(std::string(NEMBED_TEST_DATA_DIR) + "/fmnist_4000_labels.npy");
    ASSERT_EQ(y.size(), 4000u);
    for (auto v : y) {
        EXPECT_GE(v, 0);
        EXPECT_LE(v, 9);
    }
}

// ---- malformed files ------------------------------------------------------------------------------------------

TEST(IoNpyErrors, MissingAndEmpty) {
    TempDir d;
    EXPECT_IO_ERROR(read_npy(d.file("nope.npy")), d.file("nope.npy") + ": no such file");
    EXPECT_IO_ERROR(load_matrix<float>(d.file("nope.npy")), "nope.npy: no such file");
    write_text(d.file("empty.npy"), "");
    EXPECT_IO_ERROR(read_npy(d.file("empty.npy")), "empty.npy", "empty file");
}

TEST(IoNpyErrors, WrongMagicAndVersion) {
    TempDir d;
    const std::string f = d.file("bad.npy");
    write_text(f, "x,y\n1,2\n");
    EXPECT_IO_ERROR(load_matrix<float>(f), "bad.npy", "wrong magic", "byte offset 0");
    auto img = npy_image(dict("<f8", "(1,)"), raw(std::vector<double>{1}));
    img[6] = 4;
    write_bytes(f, img);
    EXPECT_IO_ERROR(read_npy(f), "bad.npy", "unsupported .npy format version 4", "byte offset 6");
}

TEST(IoNpyErrors, Truncated) {
    TempDir d;
    const std::string f = d.file("t.npy");
    auto img = npy_image(dict("<f4", "(10, 3)"), raw(std::vector<float>(30, 1.0f)));
    const std::size_t full = img.size();
    img.resize(full - 7);
    write_bytes(f, img);
    EXPECT_IO_ERROR(read_npy(f), "t.npy", "truncated data", "needs 120 bytes", "found 113",
                    "byte offset " + std::to_string(full - 7));
    img.resize(30);  // inside the header
    write_bytes(f, img);
    EXPECT_IO_ERROR(read_npy(f), "t.npy", "truncated .npy header", "byte offset 30");
    img.resize(8);
    write_bytes(f, img);
    EXPECT_IO_ERROR(read_npy(f), "t.npy", "truncated .npy header");
}

TEST(IoNpyErrors, TrailingBytes) {
    TempDir d;
    const std::string f = d.file("t.npy");
    auto img = npy_image(dict("<f4", "(2,)"), raw(std::vector<float>{1, 2, 3}));
    write_bytes(f, img);
    EXPECT_IO_ERROR(read_npy(f), "t.npy", "4 unexpected trailing bytes", "byte offset " + std::to_string(img.size() - 4));
}

TEST(IoNpyErrors, UnsupportedDtypes) {
    TempDir d;
    const std::string f = d.file("u.npy");
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"<c16", "complex"}, {"|O", "Python objects"}, {"<U5", "strings"}, {"|S3", "strings"},
        {"<f2", "float16"},  {"<M8[ns]", "dates"},     {"<i3", "unsupported dtype '<i3'"}};
    for (const auto& [descr, why] : cases) {
        write_bytes(f, npy_image(dict(descr, "(1,)"), std::vector<unsigned char>(16, 0)));
        EXPECT_IO_ERROR(read_npy(f), "u.npy", "unsupported dtype '" + descr + "'", why, "byte offset");
    }
    write_bytes(f, npy_image("{'descr': [('a', '<f4'), ('b', '<i4')], 'fortran_order': False, 'shape': (1,), }",
                             std::vector<unsigned char>(8, 0)));
    EXPECT_IO_ERROR(read_npy(f), "u.npy", "structured arrays are not supported");
}

TEST(IoNpyErrors, MalformedHeader) {
    TempDir d;
    const std::string f = d.file("h.npy");
    const auto data = raw(std::vector<double>{1});
    write_bytes(f, npy_image("{'descr': '<f8', 'shape': (1,), }", data));
    EXPECT_IO_ERROR(read_npy(f), "h.npy", "missing 'fortran_order'");
    write_bytes(f, npy_image("{'descr': '<f8', 'fortran_order': Maybe, 'shape': (1,), }", data));
    EXPECT_IO_ERROR(read_npy(f), "h.npy", "fortran_order must be True or False", "byte offset");
    write_bytes(f, npy_image("{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }", data));
    EXPECT_IO_ERROR(read_npy(f), "h.npy", "non-negative integer");
    write_bytes(f, npy_image("[1, 2]", data));
    EXPECT_IO_ERROR(read_npy(f), "h.npy", "malformed .npy header", "expected '{'", "byte offset 10");
    write_bytes(f, npy_image("{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999, 99999999999, 99999999999), }", data));
    EXPECT_IO_ERROR(read_npy(f), "h.npy", "too large");
}

TEST(IoNpyErrors, ShapesTheMatrixLoaderRejects) {
    TempDir d;
    const std::string f = d.file("s.npy");
    write_bytes(f, npy_image(dict("<f4", "(2, 2, 2)"), raw(std::vector<float>(8, 1.0f))));
    EXPECT_NO_THROW(read_npy(f));
    EXPECT_IO_ERROR(load_matrix<float>(f), "s.npy", "has 3 dimensions", "(2, 2, 2)");
    EXPECT_IO_ERROR(load_labels(f), "s.npy", "1-D or N x 1");
    write_bytes(f, npy_image(dict("<f4", "(0, 5)"), {}));
    EXPECT_IO_ERROR(load_matrix<float>(f), "s.npy", "is empty", "(0, 5)");
    write_bytes(f, npy_image(dict("<f4", "()"), raw(std::vector<float>{1})));
    EXPECT_IO_ERROR(load_matrix<float>(f), "s.npy", "0-d array");
    write_bytes(f, npy_image(dict("<i4", "(0,)"), {}));
    EXPECT_IO_ERROR(load_labels(f), "s.npy", "empty");
}

TEST(IoNpyErrors, NonFiniteValuesNameRowAndColumn) {
    TempDir d;
    const std::string f = d.file("n.npy");
    std::vector<float> v(12, 1.0f);
    v[7] = std::numeric_limits<float>::quiet_NaN();
    write_bytes(f, npy_image(dict("<f4", "(3, 4)"), raw(v)));
    EXPECT_IO_ERROR(load_matrix<float>(f), "n.npy", "non-finite", "row 1, column 3");
    v[7] = 1;
    v[10] = -std::numeric_limits<float>::infinity();
    write_bytes(f, npy_image(dict("<f4", "(3, 4)"), raw(v)));
    EXPECT_IO_ERROR(load_matrix<double>(f), "n.npy", "non-finite", "row 2, column 2");
    // A finite float64 too large for float32.
    write_bytes(f, npy_image(dict("<f8", "(1, 2)"), raw(std::vector<double>{1.0, 1e300})));
    EXPECT_IO_ERROR(load_matrix<float>(f), "n.npy", "overflows float32", "row 0, column 1");
    EXPECT_NO_THROW(load_matrix<double>(f));
}

TEST(IoNpyErrors, NonIntegerLabels) {
    TempDir d;
    const std::string f = d.file("l.npy");
    write_bytes(f, npy_image(dict("<f8", "(3,)"), raw(std::vector<double>{1.0, 2.5, 3.0})));
    EXPECT_IO_ERROR(load_labels(f), "l.npy", "label 1", "2.5", "not an integer");
    write_bytes(f, npy_image(dict("<f4", "(3, 1)"), raw(std::vector<float>{1.0f, 2.0f, 7.0f})));
    EXPECT_EQ(load_labels(f), (std::vector<std::int64_t>{1, 2, 7}));
    write_bytes(f, npy_image(dict("<u8", "(2,)"), raw(std::vector<std::uint64_t>{5, ~std::uint64_t{0}})));
    EXPECT_IO_ERROR(load_labels(f), "l.npy", "label 1", "too large for int64");
}
