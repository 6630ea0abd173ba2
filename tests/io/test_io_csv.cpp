// Delimited text: delimiters (inferred and chosen), headers (auto, forced, none), comments, quoting, CRLF,
// string labels, exact round trips, and every malformed case with file:line:column.
#include <gtest/gtest.h>

#include <cmath>

#include "io_test_util.hpp"
#include "nembed/io/csv.hpp"
#include "nembed/io/load.hpp"

using namespace nembed;
using namespace io_test;

namespace {
void expect_matrix(const Matrix<double>& m, std::size_t rows, std::size_t cols, const std::vector<double>& v) {
    ASSERT_EQ(m.rows(), rows);
    ASSERT_EQ(m.cols(), cols);
    for (std::size_t i = 0; i < v.size(); ++i) EXPECT_EQ(m.data()[i], v[i]) << i;
}
} // namespace

TEST(IoCsv, DelimitersFromExtensionAndContent) {
    TempDir d;
    const std::vector<double> want = {1, 2.5, -3, 4e-3, 5, 6};
    write_text(d.file("a.csv"), "1,2.5,-3\n4e-3, 5 ,+6\n");
    expect_matrix(load_matrix<double>(d.file("a.csv")), 2, 3, want);
    write_text(d.file("a.tsv"), "1\t2.5\t-3\n4e-3\t5\t6\n");
    expect_matrix(load_matrix<double>(d.file("a.tsv")), 2, 3, want);
    write_text(d.file("a.txt"), "  1   2.5\t-3\n4e-3 5 6   \n");
    expect_matrix(load_matrix<double>(d.file("a.txt")), 2, 3, want);
    // No known extension: sniffed as text, delimiter from the first data line.
    write_text(d.file("a.dat"), "# a comment, with a comma\n1;2.5;-3\n4e-3;5;6\n");
    expect_matrix(load_matrix<double>(d.file("a.dat")), 2, 3, want);
    // A chosen delimiter.
    write_text(d.file("b.csv"), "1|2.5|-3\n4e-3|5|6\n");
    CsvOptions o;
    o.delimiter = '|';
    expect_matrix(read_csv<double>(d.file("b.csv"), o), 2, 3, want);
}

TEST(IoCsv, HeadersCommentsBlankLinesCrlfQuotes) {
    TempDir d;
    const std::string f = d.file("h.csv");
    write_text(f, "\xEF\xBB\xBF# exported by hand\r\nx,\"y\",z\r\n\r\n1,2,3 # trailing comment\r\n  # indented comment\r\n4,\"5\",6\r\n");
    expect_matrix(load_matrix<double>(f), 2, 3, {1, 2, 3, 4, 5, 6});
    // header = 0 makes the header row an error; header = 1 skips a numeric first row.
    CsvOptions o;
    o.header = 0;
    EXPECT_IO_ERROR(read_csv<double>(f, o), "h.csv:2:1: non-numeric cell 'x'");
    write_text(f, "10,20\n1,2\n");
    o.header = 1;
    expect_matrix(read_csv<double>(f, o), 1, 2, {1, 2});
    o.header = -1;
    expect_matrix(read_csv<double>(f, o), 2, 2, {10, 20, 1, 2});
    // Comments off: '#' is then an ordinary (non-numeric) character.
    write_text(f, "1,2\n#3,4\n");
    o.comment = 0;
    EXPECT_IO_ERROR(read_csv<double>(f, o), "h.csv:2:1: non-numeric cell '#3'");
    o.header = 2;
    EXPECT_THROW(read_csv<double>(f, o), InvalidArgument);
}

TEST(IoCsv, FloatAndDoubleAndExactRoundTrip) {
    TempDir d;
    Matrix<double> m(4, 3);
    for (std::size_t i = 0; i < m.size(); ++i) m.data()[i] = std::exp(double(i) * 1.37 - 7.0) * (i % 3 ? 1 : -1);
    m(3, 2) = 1e-310;  // subnormal
    for (const std::string ext : {".csv", ".tsv", ".txt"}) {
        const std::string f = d.file("emb" + ext);
        save_matrix(f, m.view());
        Matrix<double> back = load_matrix<double>(f);
        ASSERT_EQ(back.rows(), 4u) << ext;
        ASSERT_EQ(back.cols(), 3u) << ext;
        for (std::size_t i = 0; i < m.size(); ++i) EXPECT_EQ(back.data()[i], m.data()[i]) << ext << " " << i;
        Matrix<float> bf = load_matrix<float>(f);
        for (std::size_t i = 0; i < m.size(); ++i) EXPECT_EQ(bf.data()[i], static_cast<float>(m.data()[i]));
    }
    // With a header.
    const std::string f = d.file("hdr.csv");
    write_csv(f, m.view(), ',', {"a", "b", "c"});
    EXPECT_EQ(read_bytes(f)[0], 'a');
    EXPECT_EQ(load_matrix<double>(f).rows(), 4u);
    EXPECT_THROW(write_csv(f, m.view(), ',', {"a"}), InvalidArgument);
}

TEST(IoCsv, StringAndIntegerLabels) {
    TempDir d;
    const std::string f = d.file("labels.csv");
    write_text(f, "cat\ndog\n\"cat\"\nbird, with comma\n");
    // Unquoted commas split the cell: that is a two-column row.
    EXPECT_IO_ERROR(load_labels(f), "labels.csv:4:7: label files must have one column");
    write_text(f, "cat\ndog\n\"cat\"\n\"bird, \"\"the\"\" second\"\ndog\n");
    LabelColumn l = load_labels_named(f);
    EXPECT_EQ(l.codes, (std::vector<std::int64_t>{0, 1, 0, 2, 1}));
    EXPECT_EQ(l.names, (std::vector<std::string>{"cat", "dog", "bird, \"the\" second"}));
    // Integer labels keep their values; a header is detected when the second row is numeric.
    write_text(f, "label\n7\n3\n7.0\n-1\n");
    l = load_labels_named(f);
    EXPECT_EQ(l.codes, (std::vector<std::int64_t>{7, 3, 7, -1}));
    EXPECT_TRUE(l.names.empty());
    // Mixed numbers and words are all treated as names.
    write_text(f, "1\nx\n1\n");
    l = load_labels_named(f);
    EXPECT_EQ(l.codes, (std::vector<std::int64_t>{0, 1, 0}));
    EXPECT_EQ(l.names, (std::vector<std::string>{"1", "x"}));
    // Non-integer numbers are names too (they are categories, not values).
    write_text(f, "0.5\n1.5\n0.5\n");
    EXPECT_EQ(load_labels(f), (std::vector<std::int64_t>{0, 1, 0}));
    // Round trip through save_labels.
    const std::vector<std::int64_t> y = {4, 0, -2, 9};
    save_labels(d.file("y.txt"), y);
    EXPECT_EQ(load_labels(d.file("y.txt")), y);
    save_labels(d.file("y.npy"), y);
    EXPECT_EQ(load_labels(d.file("y.npy")), y);
    EXPECT_IO_ERROR(save_labels(d.file("y.xyz"), y), "y.xyz", "extension");
    EXPECT_IO_ERROR(save_matrix(d.file("y.xyz"), Matrix<double>(1, 1).view()), "y.xyz", "extension");
    write_text(f, "# only a comment\n\n");
    EXPECT_IO_ERROR(load_labels(f), "labels.csv", "no labels");
    write_text(f, "a\n\"\"\n");
    EXPECT_IO_ERROR(load_labels(f), "labels.csv:2:1: empty label");
}

TEST(IoCsvErrors, MalformedTables) {
    TempDir d;
    const std::string f = d.file("bad.csv");
    EXPECT_IO_ERROR(load_matrix<float>(f), "bad.csv: no such file");
    write_text(f, "");
    EXPECT_IO_ERROR(load_matrix<float>(f), "bad.csv", "empty file");
    write_text(f, "# nothing\n\n   \n");
    EXPECT_IO_ERROR(load_matrix<float>(f), "bad.csv", "no data rows");
    write_text(f, "a,b,c\n");
    EXPECT_IO_ERROR(load_matrix<float>(f), "bad.csv", "no data rows after the header");
    // Ragged rows: too few and too many fields.
    write_text(f, "1,2,3\n4,5,6\n7,8\n");
    EXPECT_IO_ERROR(load_matrix<float>(f), "bad.csv:3:4: ragged row: 2 fields, expected 3 (as on line 1)");
    write_text(f, "1,2,3\n4,5,6,7\n");
    EXPECT_IO_ERROR(load_matrix<float>(f), "bad.csv:2:7: ragged row: 4 fields, expected 3");
    write_text(f, "a,b,c\n1,2\n");
    EXPECT_IO_ERROR(load_matrix<float>(f), "bad.csv:2:1:", "header on line 1 has 3");
    // Non-numeric and empty cells.
    write_text(f, "1,2,3\n4,five,6\n");
    EXPECT_IO_ERROR(load_matrix<float>(f), "bad.csv:2:3: non-numeric cell 'five'");
    write_text(f, "1,2,3\n4,,6\n");
    EXPECT_IO_ERROR(load_matrix<float>(f), "bad.csv:2:3: empty cell");
    write_text(f, "1,2,3\n4,5,6,\n");
    EXPECT_IO_ERROR(load_matrix<float>(f), "bad.csv:2:7: ragged row");
    write_text(f, "1,2\n3,4e\n");
    EXPECT_IO_ERROR(load_matrix<float>(f), "bad.csv:2:3: non-numeric cell '4e'");
    write_text(f, "1,2\n3,\"4\n");
    EXPECT_IO_ERROR(load_matrix<float>(f), "bad.csv:2:3: unterminated quoted field");
    // NaN and infinity, in any spelling, and float32 overflow.
    for (const std::string bad : {"nan", "NaN", "inf", "-Infinity"}) {
        write_text(f, "1,2\n3," + bad + "\n");
        EXPECT_IO_ERROR(load_matrix<double>(f), "bad.csv:2:3: non-finite value '" + bad + "'");
    }
    write_text(f, "1,2\n3,1e300\n");
    EXPECT_IO_ERROR(load_matrix<float>(f), "bad.csv:2:3: value '1e300' overflows float32");
    EXPECT_NO_THROW(load_matrix<double>(f));
    // Binary junk in a text file.
    write_bytes(f, {'1', ',', 0, '2', '\n'});
    EXPECT_IO_ERROR(load_matrix<float>(f), "bad.csv", "binary data", "byte offset 2");
    // Whitespace-separated: line and column of the bad cell.
    const std::string t = d.file("bad.txt");
    write_text(t, "1 2 3\n\n  4  x  6\n");
    EXPECT_IO_ERROR(load_matrix<float>(t), "bad.txt:3:6: non-numeric cell 'x'");
}
