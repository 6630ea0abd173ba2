#pragma once
/// @file load.hpp
/// One entry point for every input format: .npy, .npz members, CSV/TSV/text, MNIST idx (plain or gzip) and AnnData
/// .h5ad elements (io/h5ad.hpp). Specs are a path, "archive.npz:member" or "data.h5ad:key" (obsm/X_pca,
/// layers/counts, obs/<column>; the bare file means X). The format comes from the extension (.npy, .npz, .csv, .tsv,
/// .tab, .txt, .h5ad); anything else is sniffed from its magic bytes (\x93NUMPY, PK\x03\x04, gzip 1f 8b, idx, the
/// HDF5 signature) and otherwise read as delimited text. All file problems raise IoError naming the file and the place.
#include <cstdint>
#include <string>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/core/sparse.hpp"
#include "nembed/io/csv.hpp"
#include "nembed/io/npy.hpp"

namespace nembed {

enum class FileFormat { npy, npz, text, idx, h5ad };

/// A parsed spec: `member` is non-empty only for "archive.npz:member" and "data.h5ad:key".
struct FileSpec {
    std::string path;
    std::string member;
};

/// Splits "x.npz:member" and "x.h5ad:key" (any case). "other:member" is also split when "other" is an existing file and the whole
/// spec is not (an archive with another extension). Everything else is a plain path.
FileSpec parse_spec(const std::string& spec);

/// The format of a file, by extension and then by magic bytes (reads at most 8 bytes).
FileFormat detect_format(const std::string& path);

/// Reads a binary array (npy, npz member, idx) as it is stored; text files are an error here.
NdArray load_array(const std::string& spec);

/// Loads an N x D matrix converted to T (float or double). 1-D arrays become N x 1; idx arrays with more than
/// two dimensions (images) are flattened to one row per item; .npy arrays with more than two dimensions are
/// rejected. Empty data and NaN/infinite values (with row and column) raise IoError.
template <typename T>
Matrix<T> load_matrix(const std::string& spec);

/// Loads integer labels from a 1-D or N x 1 array (integer types, bool, or integer-valued floats) or a
/// one-column text file (integers as they are; strings coded 0, 1, ... in order of first appearance).
std::vector<std::int64_t> load_labels(const std::string& spec);

/// Like load_labels, and also returns the label strings of a text file (names is empty for numeric labels).
LabelColumn load_labels_named(const std::string& spec);

/// Loads a sparse matrix saved by scipy.sparse.save_npz (CSR, CSC or COO members: data, indices/indptr or row/col,
/// shape) as CSR with float64 values; duplicates are summed. Errors name the file and the problem.
CsrMatrix<double> load_sparse(const std::string& path);

/// Saves a matrix (an embedding): ".npy" as float64, ".csv" / ".tsv" / ".txt" as text with the shortest exact
/// representation of each double. Written to a temporary file and renamed, so it is never half-written.
/// "data.h5ad:obsm/<name>" writes into that file in place (write_h5ad_embedding; the CLI stages a copy).
void save_matrix(const std::string& path, MatrixView<double> m);

/// Builds a CSR matrix from compressed arrays (scipy's and AnnData's csr / csc layout) with load_sparse's checks
/// (pointers monotone from 0 to nnz, indices inside the shape, finite values, a shape the stored arrays back);
/// duplicates are summed. Errors (IoError) name `name`.
CsrMatrix<double> csr_from_compressed(const std::string& name, std::size_t n_rows, std::size_t n_cols,
                                      const std::vector<std::int64_t>& indptr,
                                      const std::vector<std::int64_t>& indices, const std::vector<double>& data,
                                      bool csc);

/// Saves labels as a 1-D int64 ".npy", or one per line for ".csv" / ".tsv" / ".txt".
void save_labels(const std::string& path, const std::vector<std::int64_t>& labels);

} // namespace nembed
