// AnnData (.h5ad) through io/h5ad.hpp and load.hpp's specs, on the fixtures of tests/data/make_h5ad_fixtures.py
// (anndata's own writer, and the layout of anndata < 0.8), hostile files, and a write / read-back round trip.
#include <gtest/gtest.h>

#include <filesystem>

#include "io_test_util.hpp"
#include "nembed/io/h5ad.hpp"
#include "nembed/io/load.hpp"

using namespace nembed;
using io_test::TempDir;

namespace {

const std::string kTiny = std::string(NEMBED_TEST_DATA_DIR) + "/h5ad_tiny.h5ad";
const std::string kOld = std::string(NEMBED_TEST_DATA_DIR) + "/h5ad_old.h5ad";

// The fixture's X (6 x 3), written by the script.
const double kX[6][3] = {{0, 1, 0}, {2, 0, 3}, {0, 0, 4}, {5, 6, 0}, {0, 7, 0}, {8, 0, 9}};

template <typename T>
void expect_x(const Matrix<T>& m, double scale, double shift, std::size_t cols = 3) {
    ASSERT_EQ(m.rows(), 6u);
    ASSERT_EQ(m.cols(), cols);
    for (std::size_t i = 0; i < 6; ++i)
        for (std::size_t j = 0; j < cols; ++j) EXPECT_EQ(static_cast<double>(m(i, j)), kX[i][j] * scale + shift);
}

} // namespace

TEST(H5ad, FormatBySignatureAndExtension) {
    EXPECT_EQ(detect_format(kTiny), FileFormat::h5ad);
    TempDir d;
    const std::string other = d.file("anndata.bin");
    std::filesystem::copy_file(kTiny, other);
    EXPECT_EQ(detect_format(other), FileFormat::h5ad);  // sniffed from the HDF5 signature
    const FileSpec s = parse_spec("dir/data.H5AD:obsm/X_pca");
    EXPECT_EQ(s.path, "dir/data.H5AD");
    EXPECT_EQ(s.member, "obsm/X_pca");
}

TEST(H5ad, SparseXDenseObsmAndLayers) {
    expect_x(load_matrix<float>(kTiny), 1, 0);                   // X: csr_matrix group
    expect_x(load_matrix<double>(kTiny + ":X"), 1, 0);
    expect_x(load_matrix<double>(kTiny + ":layers/dense"), 1, 0.25);  // dense float64
    expect_x(load_matrix<float>(kTiny + ":layers/csc"), 2, 0);   // csc_matrix group
    expect_x(load_matrix<double>(kTiny + ":obsm/X_pca"), 0.5, 0, 2);
    expect_x(load_matrix<double>(kOld), 1, 0);                   // h5sparse_format csr group
}

TEST(H5ad, CategoricalLabelsDropUnusedCategoriesInOrder) {
    // cell_type = a b a c b a with categories (c, a, b, unused): codes in category order, "unused" dropped.
    const LabelColumn l = load_labels_named(kTiny + ":obs/cell_type");
    EXPECT_EQ(l.codes, (std::vector<std::int64_t>{1, 2, 1, 0, 2, 1}));
    EXPECT_EQ(l.names, (std::vector<std::string>{"c", "a", "b"}));
    // anndata stores string columns as categoricals (categories sorted): x y x z y x.
    const LabelColumn n = load_labels_named(kTiny + ":obs/name");
    EXPECT_EQ(n.codes, (std::vector<std::int64_t>{0, 1, 0, 2, 1, 0}));
    EXPECT_EQ(n.names, (std::vector<std::string>{"x", "y", "z"}));
    // The older layout: codes with obs/__categories/louvain.
    const LabelColumn o = load_labels_named(kOld + ":obs/louvain");
    EXPECT_EQ(o.codes, (std::vector<std::int64_t>{1, 0, 1, 0, 0, 1}));
    EXPECT_EQ(o.names, (std::vector<std::string>{"first", "second"}));
}

TEST(H5ad, IntegerBoolStringAndNullableLabels) {
    EXPECT_EQ(load_labels(kTiny + ":obs/batch"), (std::vector<std::int64_t>{1, 2, 1, 2, 3, 3}));
    EXPECT_TRUE(load_labels_named(kTiny + ":obs/batch").names.empty());
    EXPECT_EQ(load_labels(kTiny + ":obs/flag"), (std::vector<std::int64_t>{1, 0, 1, 0, 1, 0}));
    const LabelColumn idx = load_labels_named(kTiny + ":obs/_index");  // a string-array dataset
    EXPECT_EQ(idx.codes, (std::vector<std::int64_t>{0, 1, 2, 3, 4, 5}));
    EXPECT_EQ(idx.names.at(5), "cell5");
    EXPECT_IO_ERROR(load_labels(kTiny + ":obs/nullable"), "h5ad_tiny.h5ad:obs/nullable", "row 2", "missing");
    EXPECT_IO_ERROR(load_labels(kTiny + ":obs/with_na"), "obs/with_na", "row 1", "missing");
    EXPECT_IO_ERROR(load_labels(kTiny + ":obs/score"), "obs/score", "label 1", "2.5", "not an integer");
}

TEST(H5ad, ErrorsNameTheFileAndTheKey) {
    EXPECT_IO_ERROR(load_matrix<float>(kTiny + ":obsm/X_umap"), "h5ad_tiny.h5ad:obsm/X_umap", "no element 'X_umap'",
                    "X_pca");
    EXPECT_IO_ERROR(load_matrix<float>(kTiny + ":nope/X"), "no element 'nope' in the file", "obsm");
    EXPECT_IO_ERROR(load_matrix<float>(kTiny + ":obs"), "obs", "encoding-type 'dataframe'");
    EXPECT_IO_ERROR(load_matrix<float>(kTiny + ":obs/cell_type"), "categorical", "as a matrix");
    EXPECT_IO_ERROR(load_matrix<float>(kTiny + ":obs/_index"), "obs/_index", "encoding-type 'string-array'");
    EXPECT_IO_ERROR(load_matrix<float>(kTiny + ":obsm/X_pca/deeper"), "'obsm/X_pca' is a dataset");
    EXPECT_IO_ERROR(load_labels(kTiny), "name the label column", "obs/<column>");
    EXPECT_IO_ERROR(load_labels(kTiny + ":obsm"), "obsm", "does not read as labels");
    EXPECT_IO_ERROR(load_matrix<float>("/nonexistent/x.h5ad"), "x.h5ad", "no such file");
    EXPECT_IO_ERROR(load_array(kTiny), "AnnData");
}

TEST(H5ad, HostileFilesAreOneLineErrors) {
    TempDir d;
    const auto bytes = io_test::read_bytes(kTiny);
    // Truncated at every 997th byte: HDF5's error becomes one IoError, never a crash.
    for (std::size_t cut = 0; cut < bytes.size(); cut += 997) {
        const std::string f = d.file("cut.h5ad");
        io_test::write_bytes(f, std::vector<unsigned char>(bytes.begin(), bytes.begin() + static_cast<long>(cut)));
        const std::string msg = io_test::io_error_of([&] { (void)load_matrix<float>(f); });
        EXPECT_NE(msg.find("cut.h5ad"), std::string::npos) << msg;
        EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
    const std::string f = d.file("text.h5ad");
    io_test::write_text(f, "not hdf5\n");
    EXPECT_IO_ERROR(load_matrix<float>(f), "text.h5ad", "not an HDF5 file");
}

TEST(H5ad, WriteIntoACopyAndReadBack) {
    TempDir d;
    const std::string f = d.file("copy.h5ad");
    std::filesystem::copy_file(kTiny, f);
    Matrix<double> Y(6, 2);
    for (std::size_t i = 0; i < 12; ++i) Y.data()[i] = 0.5 * static_cast<double>(i) - 1.0;
    write_h5ad_embedding(f, "obsm/X_tsne", Y.view(), "tsne", {{"perplexity", 30.0}, {"n_iter", std::int64_t{750}},
                                                              {"metric", std::string("euclidean")}});
    const Matrix<double> back = load_matrix<double>(f + ":obsm/X_tsne");
    ASSERT_EQ(back.rows(), 6u);
    ASSERT_EQ(back.cols(), 2u);
    for (std::size_t i = 0; i < 12; ++i) EXPECT_EQ(back.data()[i], Y.data()[i]);
    EXPECT_IO_ERROR(load_matrix<double>(f + ":uns/tsne/params/perplexity"), "numeric-scalar");  // written
    // Writing again replaces the element; what was there is kept.
    Y(0, 0) = 42.0;
    save_matrix(f + ":obsm/X_tsne", Y.view());
    EXPECT_EQ(load_matrix<double>(f + ":obsm/X_tsne")(0, 0), 42.0);
    expect_x(load_matrix<double>(f + ":obsm/X_pca"), 0.5, 0, 2);
    EXPECT_EQ(h5ad_n_obs(f), 6);
    // The row count must match the file's observations.
    Matrix<double> wrong(5, 2, 1.0);
    EXPECT_IO_ERROR(write_h5ad_embedding(f, "obsm/X_tsne", wrong.view()), "copy.h5ad:obsm/X_tsne", "6 observations",
                    "5 rows");
    EXPECT_THROW(write_h5ad_embedding(f, "X", Y.view()), InvalidArgument);
    EXPECT_THROW(write_h5ad_embedding(f, "obsm/a/b", Y.view()), InvalidArgument);
    EXPECT_THROW(write_h5ad_embedding(f, "", Y.view()), InvalidArgument);
}

TEST(H5ad, WriteCreatesAMinimalAnnData) {
    TempDir d;
    const std::string f = d.file("new.h5ad");
    Matrix<double> Y(4, 2);
    for (std::size_t i = 0; i < 8; ++i) Y.data()[i] = static_cast<double>(i);
    save_matrix(f + ":obsm/X_umap", Y.view());
    EXPECT_EQ(h5ad_n_obs(f), 4);
    const LabelColumn idx = load_labels_named(f + ":obs/_index");
    EXPECT_EQ(idx.names, (std::vector<std::string>{"0", "1", "2", "3"}));
    const Matrix<double> back = load_matrix<double>(f + ":obsm/X_umap");
    for (std::size_t i = 0; i < 8; ++i) EXPECT_EQ(back.data()[i], Y.data()[i]);
}
