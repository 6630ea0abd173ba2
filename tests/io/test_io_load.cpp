// The dispatcher: spec parsing, format detection by extension and by magic bytes, atomic saving.
#include <gtest/gtest.h>

#include <filesystem>

#include "io_test_util.hpp"
#include "nembed/io/load.hpp"

using namespace nembed;
using namespace io_test;

TEST(IoLoad, ParseSpec) {
    auto s = parse_spec("dir/data.npz:X_train");
    EXPECT_EQ(s.path, "dir/data.npz");
    EXPECT_EQ(s.member, "X_train");
    s = parse_spec("DATA.NPZ:a.npy");
    EXPECT_EQ(s.path, "DATA.NPZ");
    EXPECT_EQ(s.member, "a.npy");
    s = parse_spec("c:/x/y.npy");
    EXPECT_EQ(s.path, "c:/x/y.npy");
    EXPECT_EQ(s.member, "");
    s = parse_spec("plain.npz");
    EXPECT_EQ(s.member, "");
}

TEST(IoLoad, DetectFormatByExtensionThenMagic) {
    TempDir d;
    Matrix<double> m(2, 2, 1.5);
    save_matrix(d.file("a.npy"), m.view());
    std::filesystem::copy_file(d.file("a.npy"), d.file("a_noext"));
    EXPECT_EQ(detect_format(d.file("a.npy")), FileFormat::npy);
    EXPECT_EQ(detect_format(d.file("a_noext")), FileFormat::npy);
    EXPECT_EQ(load_matrix<double>(d.file("a_noext"))(1, 1), 1.5);
    std::filesystem::copy_file(std::string(NEMBED_TEST_DATA_DIR) + "/io_small.npz", d.file("arch.bin"));
    EXPECT_EQ(detect_format(d.file("arch.bin")), FileFormat::npz);
    EXPECT_EQ(load_labels(d.file("arch.bin") + ":labels"), (std::vector<std::int64_t>{3, 1, 4, 1, 5, 9}));
    EXPECT_EQ(parse_spec(d.file("arch.bin") + ":labels").member, "labels");
    EXPECT_EQ(parse_spec(d.file("missing.bin") + ":labels").member, "");
}

TEST(IoLoad, IdxWithoutExtensionAndTextFallback) {
    TempDir d;
    write_bytes(d.file("labels-idx1-ubyte"), {0, 0, 8, 1, 0, 0, 0, 3, 2, 0, 1});
    EXPECT_EQ(detect_format(d.file("labels-idx1-ubyte")), FileFormat::idx);
    EXPECT_EQ(load_labels(d.file("labels-idx1-ubyte")), (std::vector<std::int64_t>{2, 0, 1}));
    write_text(d.file("numbers"), "1 2\n3 4\n");
    EXPECT_EQ(detect_format(d.file("numbers")), FileFormat::text);
    EXPECT_EQ(load_matrix<float>(d.file("numbers"))(1, 0), 3.0f);
    EXPECT_IO_ERROR(load_array(d.file("numbers")), "numbers", "text file");
}

TEST(IoLoad, SaveIsAtomicAndReplaces) {
    TempDir d;
    const std::string f = d.file("emb.npy");
    write_text(f, "old content");
    Matrix<double> m(3, 2, 0.25);
    save_matrix(f, m.view());
    EXPECT_EQ(load_matrix<double>(f)(2, 1), 0.25);
    std::size_t n_files = 0;
    for (const auto& e : std::filesystem::directory_iterator(std::filesystem::path(f).parent_path())) {
        (void)e;
        ++n_files;
    }
    EXPECT_EQ(n_files, 1u) << "no temporary file may be left behind";
    EXPECT_IO_ERROR(save_matrix(d.file("no/such/dir/emb.npy"), m.view()), "no/such/dir/emb.npy", "cannot open for writing");
    EXPECT_IO_ERROR(save_matrix(d.file("emb.png"), m.view()), "emb.png", "'.png'", ".npy, .csv or .tsv");
}

TEST(IoLoad, MemberOfANonArchiveAndDirectories) {
    TempDir d;
    Matrix<double> m(1, 1, 2.0);
    // "x.npz:a" where x.npz is really a .npy: the archive reader reports the wrong magic.
    save_matrix(d.file("x.npy"), m.view());
    std::filesystem::copy_file(d.file("x.npy"), d.file("x.npz"));
    EXPECT_IO_ERROR(load_matrix<float>(d.file("x.npz") + ":a"), "x.npz", "not an .npz/ZIP file");
    std::filesystem::create_directories(d.file("dir.npy"));
    EXPECT_IO_ERROR(load_matrix<float>(d.file("dir.npy")), "dir.npy", "is a directory");
    EXPECT_THROW(load_matrix<float>(""), InvalidArgument);
}

// scipy.sparse.save_npz files (tests/data/make_sparse_fixtures.py): CSR (compressed), CSC (stored) and COO with a
// duplicate entry all load as the same CSR matrix.
TEST(LoadSparse, CsrCscAndCooFromScipy) {
    const double want[4][5] = {{0, 1.5, 0, 0, 2}, {0, 0, 0, 0, 0}, {3, 0, 0, -1, 0}, {0, 0, 4.25, 0, 0}};
    for (const char* f : {"sparse_csr.npz", "sparse_csc.npz", "sparse_coo.npz"}) {
        const nembed::CsrMatrix<double> m = nembed::load_sparse(std::string(NEMBED_TEST_DATA_DIR) + "/" + f);
        ASSERT_EQ(m.n_rows, 4u) << f;
        ASSERT_EQ(m.n_cols, 5u) << f;
        EXPECT_EQ(m.nnz(), 5u) << f;
        for (std::size_t i = 0; i < 4; ++i)
            for (std::size_t j = 0; j < 5; ++j) EXPECT_EQ(m.at(i, static_cast<nembed::index_t>(j)), want[i][j]) << f;
    }
}

TEST(LoadSparse, RefusesDenseArraysAndOtherFiles) {
    EXPECT_THROW(nembed::load_sparse(std::string(NEMBED_TEST_DATA_DIR) + "/io_small.npz"), nembed::IoError);  // dense
    // not an archive
    EXPECT_THROW(nembed::load_sparse(std::string(NEMBED_TEST_DATA_DIR) + "/fmnist_4000_labels.npy"), nembed::IoError);
    EXPECT_THROW(nembed::load_sparse(std::string(NEMBED_TEST_DATA_DIR) + "/no_such_file.npz"), nembed::IoError);
}
