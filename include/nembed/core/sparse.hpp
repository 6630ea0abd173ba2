#pragma once
/// @file sparse.hpp
/// Compressed sparse row matrix with 64-bit row offsets (N*k can pass 2^31) and 32-bit column indices.
#include <algorithm>
#include <cstddef>
#include <numeric>
#include <vector>

#include "nembed/core/error.hpp"
#include "nembed/core/types.hpp"

namespace nembed {

template <typename T>
struct CsrMatrix {
    std::size_t n_rows = 0;
    std::size_t n_cols = 0;
    std::vector<offset_t> indptr;   ///< size n_rows + 1
    std::vector<index_t> indices;   ///< column of each entry, sorted within a row
    std::vector<T> values;

    std::size_t nnz() const { return indices.size(); }
    offset_t row_begin(std::size_t i) const { return indptr[i]; }
    offset_t row_end(std::size_t i) const { return indptr[i + 1]; }

    /// Sum of all values, accumulated in double.
    double sum() const {
        double s = 0;
        for (const T& v : values) s += static_cast<double>(v);
        return s;
    }

    /// Value at (i, j) by binary search in row i; 0 if absent.
    T at(std::size_t i, index_t j) const {
        auto b = indices.begin() + indptr[i], e = indices.begin() + indptr[i + 1];
        auto it = std::lower_bound(b, e, j);
        return (it != e && *it == j) ? values[static_cast<std::size_t>(it - indices.begin())] : T(0);
    }

    /// Checks the structural invariants; throws InvalidArgument naming `what` on failure.
    void validate(const char* what = "sparse matrix") const {
        const std::string w(what);
        require(indptr.size() == n_rows + 1, w + ": indptr must have n_rows + 1 entries");
        require(indptr.front() == 0, w + ": indptr must start at 0");
        require(static_cast<std::size_t>(indptr.back()) == indices.size() && indices.size() == values.size(),
                w + ": indptr, indices and values disagree in length");
        for (std::size_t i = 0; i < n_rows; ++i) {
            require_lazy(indptr[i] <= indptr[i + 1], [&] { return w + ": indptr must be non-decreasing"; });
            for (offset_t p = indptr[i]; p < indptr[i + 1]; ++p) {
                require_lazy(indices[p] >= 0 && static_cast<std::size_t>(indices[p]) < n_cols, [&] { return
                        w + ": column index out of range in row " + std::to_string(i); });
                require_lazy(p == indptr[i] || indices[p - 1] < indices[p], [&] { return
                        w + ": column indices must be strictly increasing within row " + std::to_string(i); });
            }
        }
    }
};

/// One (row, column, value) triplet.
template <typename T>
struct Triplet {
    index_t row;
    index_t col;
    T value;
};

/// Builds a CSR matrix from triplets; duplicate (row, col) entries are summed.
template <typename T>
CsrMatrix<T> csr_from_triplets(std::size_t n_rows, std::size_t n_cols, std::vector<Triplet<T>> t) {
    std::sort(t.begin(), t.end(), [](const Triplet<T>& a, const Triplet<T>& b) {
        return a.row != b.row ? a.row < b.row : a.col < b.col;
    });
    CsrMatrix<T> m;
    m.n_rows = n_rows;
    m.n_cols = n_cols;
    m.indptr.assign(n_rows + 1, 0);
    m.indices.reserve(t.size());
    m.values.reserve(t.size());
    for (std::size_t p = 0; p < t.size(); ++p) {
        require_lazy(t[p].row >= 0 && static_cast<std::size_t>(t[p].row) < n_rows && t[p].col >= 0 &&
                    static_cast<std::size_t>(t[p].col) < n_cols, [&] { return
                "csr_from_triplets: index out of range"; });
        if (!m.indices.empty() && p > 0 && t[p].row == t[p - 1].row && t[p].col == t[p - 1].col) {
            m.values.back() += t[p].value;
            continue;
        }
        m.indices.push_back(t[p].col);
        m.values.push_back(t[p].value);
        m.indptr[static_cast<std::size_t>(t[p].row) + 1]++;
    }
    std::partial_sum(m.indptr.begin(), m.indptr.end(), m.indptr.begin());
    return m;
}

/// Transpose of a CSR matrix (columns stay sorted).
template <typename T>
CsrMatrix<T> transpose(const CsrMatrix<T>& a) {
    CsrMatrix<T> t;
    t.n_rows = a.n_cols;
    t.n_cols = a.n_rows;
    t.indptr.assign(a.n_cols + 1, 0);
    for (index_t j : a.indices) t.indptr[static_cast<std::size_t>(j) + 1]++;
    std::partial_sum(t.indptr.begin(), t.indptr.end(), t.indptr.begin());
    t.indices.resize(a.nnz());
    t.values.resize(a.nnz());
    std::vector<offset_t> next(t.indptr.begin(), t.indptr.end() - 1);
    for (std::size_t i = 0; i < a.n_rows; ++i) {
        for (offset_t p = a.indptr[i]; p < a.indptr[i + 1]; ++p) {
            offset_t q = next[static_cast<std::size_t>(a.indices[p])]++;
            t.indices[q] = static_cast<index_t>(i);
            t.values[q] = a.values[p];
        }
    }
    return t;
}

} // namespace nembed
