#pragma once
/// @file csv.hpp
/// Delimited text: CSV, TSV and whitespace-separated .txt, with an optional header row and comment lines.
/// Errors name the place as "<file>:<line>:<column>: <problem>" (1-based, columns counted in bytes).
#include <cstdint>
#include <string>
#include <vector>

#include "nembed/core/matrix.hpp"

namespace nembed {

struct CsvOptions {
    /// Field separator. 0 = infer: ',' for .csv, '\t' for .tsv, runs of spaces/tabs for .txt, and for other names
    /// whatever the first data line uses (',' then '\t' then whitespace). ' ' means runs of whitespace.
    char delimiter = 0;
    /// -1 = auto-detect (a header is a first row with a non-numeric cell; for label files, only when the second
    /// row is numeric, since string labels look like a header); 0 = no header; 1 = the first row is a header.
    int header = -1;
    /// Lines starting with this character (after leading blanks) are skipped, as is anything after it on a line
    /// outside quotes. 0 disables comments. '#' is numpy.loadtxt's default.
    char comment = '#';
};

/// Reads a numeric table as an N x D matrix. Ragged rows, non-numeric or empty cells, NaN/infinity (and values
/// that overflow T) and files without data rows raise IoError with file, line and column.
template <typename T>
Matrix<T> read_csv(const std::string& path, const CsvOptions& options = {});

/// Labels read from a one-column text file.
struct LabelColumn {
    /// One code per row. Integer labels are kept as they are; otherwise codes number the distinct strings
    /// 0, 1, 2, ... in order of first appearance.
    std::vector<std::int64_t> codes;
    /// names[c] is the string for code c; empty when the labels were integers.
    std::vector<std::string> names;
};

/// Reads labels (one column; integers or arbitrary strings, optionally double-quoted).
LabelColumn read_csv_labels(const std::string& path, const CsvOptions& options = {});

/// Writes a matrix as delimited text with the shortest representation that reads back to the same double
/// (std::to_chars), atomically. `header`, when non-empty, must have one name per column.
void write_csv(const std::string& path, MatrixView<double> m, char delimiter = ',',
               const std::vector<std::string>& header = {});

} // namespace nembed
