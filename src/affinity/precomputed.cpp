#include "nembed/affinity/precomputed.hpp"

#include <cmath>
#include <string>

#include "nembed/core/error.hpp"

namespace nembed {

CsrMatrix<double> precomputed_affinities(const CsrMatrix<double>& P, const PrecomputedOptions& o) {
    P.validate("precomputed affinities");
    require(P.n_rows == P.n_cols, "precomputed affinities must be a square matrix, got " + std::to_string(P.n_rows) +
                                      " x " + std::to_string(P.n_cols));
    CsrMatrix<double> out;
    out.n_rows = out.n_cols = P.n_rows;
    out.indptr.assign(P.n_rows + 1, 0);
    out.indices.reserve(P.nnz());
    out.values.reserve(P.nnz());
    for (std::size_t i = 0; i < P.n_rows; ++i) {
        for (offset_t p = P.indptr[i]; p < P.indptr[i + 1]; ++p) {
            const double v = P.values[p];
            require_lazy(std::isfinite(v) && v >= 0.0, [&] { return std::string("precomputed affinities: entry (" + std::to_string(i) + ", " +
                                                      std::to_string(P.indices[p]) + ") is " + std::to_string(v) +
                                                      "; affinities must be finite and non-negative"); });
            if (static_cast<std::size_t>(P.indices[p]) == i || v == 0.0) continue;  // diagonal and zeros dropped
            out.indices.push_back(P.indices[p]);
            out.values.push_back(v);
        }
        out.indptr[i + 1] = static_cast<offset_t>(out.indices.size());
    }
    out = symmetrize(out, o.symmetrize, o.n_threads);
    if (o.normalize) normalize_total(out, "precomputed affinities");
    require(out.nnz() > 0, "precomputed affinities: no positive entry off the diagonal");
    return out;
}

CsrMatrix<double> precomputed_affinities(MatrixView<double> D, const PrecomputedOptions& o) {
    require(D.rows == D.cols, "precomputed affinities must be a square matrix, got " + std::to_string(D.rows) +
                                  " x " + std::to_string(D.cols));
    CsrMatrix<double> P;
    P.n_rows = P.n_cols = D.rows;
    P.indptr.assign(D.rows + 1, 0);
    for (std::size_t i = 0; i < D.rows; ++i) {
        for (std::size_t j = 0; j < D.cols; ++j) {
            const double v = D(i, j);
            if (v != 0.0) {  // NaN and negatives are kept here so that the CSR check reports them
                P.indices.push_back(static_cast<index_t>(j));
                P.values.push_back(v);
            }
        }
        P.indptr[i + 1] = static_cast<offset_t>(P.indices.size());
    }
    return precomputed_affinities(P, o);
}

} // namespace nembed
