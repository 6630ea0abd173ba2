#pragma once
/// @file h5ad.hpp
/// AnnData files (.h5ad, HDF5) through the HDF5 C library: matrices (X, obsm/<key>, layers/<key>, any dense
/// dataset or csr_matrix / csc_matrix group), label columns (obs/<column>: categorical, string, integer, boolean,
/// nullable) and an embedding written into obsm/<key>. The layout read and written is AnnData's on-disk format
/// (docs/dropin.md, "AnnData and scanpy"). Every problem, including a corrupt file, is one IoError naming the file
/// and the key; HDF5's own error printing is switched off. Sizes a file declares are checked against the bytes it
/// stores before anything is allocated. HDF5 calls are serialised (Debian's HDF5 is not thread-safe).
#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/io/csv.hpp"

namespace nembed {

/// The HDF5 signature (at byte 0; AnnData files have no user block).
bool is_hdf5_signature(const unsigned char* bytes, std::size_t size);

/// The element a matrix is read from when the spec names none: "X".
inline constexpr const char* kH5adDefaultMatrix = "X";

/// Reads `key` ("" = X; "obsm/X_pca", "layers/counts", "X", ...) as an N x D matrix. A 1-D dataset becomes N x 1.
/// Sparse groups (encoding-type csr_matrix / csc_matrix, or the older h5sparse_format attribute) become dense, as
/// long as the dense matrix is at most kMaxDeflateRatio times the file's size plus 64 MiB (else an IoError that
/// suggests a reduced representation such as obsm/X_pca). Integer data is converted; NaN and infinities are refused
/// with their row and column.
template <typename T>
Matrix<T> read_h5ad_matrix(const std::string& path, const std::string& key);

/// Reads the label column `key` ("obs/<column>"; any 1-D dataset or encoded group is accepted). Categorical
/// columns (categories + codes, and the older obs/__categories/<column> layout) give codes 0..K-1 and their names,
/// unused categories removed; string columns are coded in order of first appearance with their names; integer,
/// boolean and integer-valued float columns are kept as they are (names empty). Missing values are refused.
LabelColumn read_h5ad_labels(const std::string& path, const std::string& key);

/// The number of observations of an AnnData file (the length of obs's index), or -1 when it has no obs index.
std::int64_t h5ad_n_obs(const std::string& path);

/// The keys an output spec may write: "obsm/<name>" (one level, name non-empty). Throws InvalidArgument otherwise.
void check_h5ad_output_key(const std::string& key);

/// A scalar parameter stored under uns (AnnData's numeric-scalar and string encodings).
using H5adValue = std::variant<std::int64_t, double, std::string>;
using H5adParams = std::vector<std::pair<std::string, H5adValue>>;

/// Writes Y (float64, N x D) into `key` ("obsm/<name>") of the file at `path`, replacing an element of that name.
/// An existing file is changed in place (the CLI stages a copy; see cli/outputs.cpp) and must have N observations;
/// a missing file is created as a minimal AnnData file (obs index "0".."N-1", no variables, no X). `params`, when
/// non-empty, go to uns/<uns_key>/params as scalars (scanpy's layout: uns["tsne"]["params"]).
void write_h5ad_embedding(const std::string& path, const std::string& key, MatrixView<double> Y,
                          const std::string& uns_key = "", const H5adParams& params = {});

} // namespace nembed
