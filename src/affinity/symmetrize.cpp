#include "nembed/affinity/symmetrize.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"

namespace nembed {
namespace {

// C = f(A, T) element-wise over the union of both patterns (missing = 0), row by row: T holds the same rows of Aᵀ
// (all of Aᵀ on one process; a rank's rows in a distributed run). Two passes (count, fill), each parallel over
// rows, so the cost is O(nnz) and the result does not depend on the thread count.
template <typename F>
CsrMatrix<double> combine_rows(const CsrMatrix<double>& A, const CsrMatrix<double>& T, F f, int n_threads) {
    const std::size_t n = A.n_rows;
    auto merge_row = [&](std::size_t i, auto&& emit) {
        offset_t p = A.indptr[i], pe = A.indptr[i + 1], q = T.indptr[i], qe = T.indptr[i + 1];
        while (p < pe || q < qe) {
            index_t ca = p < pe ? A.indices[p] : std::numeric_limits<index_t>::max();
            index_t cb = q < qe ? T.indices[q] : std::numeric_limits<index_t>::max();
            double a = 0.0, b = 0.0;
            index_t c = std::min(ca, cb);
            if (ca == c) a = A.values[p++];
            if (cb == c) b = T.values[q++];
            const double v = f(a, b);
            if (v != 0.0) emit(c, v);
        }
    };
    std::vector<offset_t> count(n + 1, 0);
    parallel_for(n_threads, n, [&](std::size_t i) {
        offset_t c = 0;
        merge_row(i, [&](index_t, double) { ++c; });
        count[i + 1] = c;
    });
    CsrMatrix<double> C;
    C.n_rows = n;
    C.n_cols = A.n_cols;
    C.indptr.assign(n + 1, 0);
    for (std::size_t i = 0; i < n; ++i) C.indptr[i + 1] = C.indptr[i] + count[i + 1];
    C.indices.resize(static_cast<std::size_t>(C.indptr[n]));
    C.values.resize(C.indices.size());
    parallel_for(n_threads, n, [&](std::size_t i) {
        std::size_t out = static_cast<std::size_t>(C.indptr[i]);
        merge_row(i, [&](index_t c, double v) {
            C.indices[out] = c;
            C.values[out++] = v;
        });
    });
    return C;
}

template <typename F>
CsrMatrix<double> combine_with_transpose(const CsrMatrix<double>& A, F f, int n_threads) {
    A.validate("affinity matrix");
    require(A.n_rows == A.n_cols, "symmetrisation needs a square matrix, got " + std::to_string(A.n_rows) + " x " +
                                      std::to_string(A.n_cols));
    return combine_rows(A, transpose(A), f, n_threads);
}

// UMAP's set operation on a_ij and a_ji: the fuzzy union weighted by mix, the intersection by 1 − mix.
auto fuzzy_rule(double mix) {
    require(std::isfinite(mix) && mix >= 0.0 && mix <= 1.0,
            "set_op_mix_ratio must lie in [0, 1], got " + std::to_string(mix));
    return [mix](double a, double b) { return mix * (a + b - a * b) + (1.0 - mix) * a * b; };
}

} // namespace

CsrMatrix<double> symmetrize_rows(const CsrMatrix<double>& A_rows, const CsrMatrix<double>& T_rows,
                                  Symmetrization rule, int n_threads) {
    A_rows.validate("affinity rows");
    T_rows.validate("transposed affinity rows");
    require(A_rows.n_rows == T_rows.n_rows && A_rows.n_cols == T_rows.n_cols,
            "symmetrize_rows: the rows of A and of its transpose differ in shape");
    switch (rule) {
        case Symmetrization::none: return A_rows;
        case Symmetrization::mean:
            return combine_rows(A_rows, T_rows, [](double a, double b) { return 0.5 * (a + b); }, n_threads);
        case Symmetrization::max:
            return combine_rows(A_rows, T_rows, [](double a, double b) { return std::max(a, b); }, n_threads);
        case Symmetrization::fuzzy_union:
        case Symmetrization::fuzzy_intersection: {
            const double mix = rule == Symmetrization::fuzzy_union ? 1.0 : 0.0;  // as fuzzy_combine
            return combine_rows(A_rows, T_rows, fuzzy_rule(mix), n_threads);
        }
    }
    throw InvalidArgument("unknown symmetrisation");
}

Symmetrization parse_symmetrization(const std::string& name) {
    if (name == "none" || name == "false") return Symmetrization::none;
    if (name == "mean") return Symmetrization::mean;
    if (name == "max" || name == "true") return Symmetrization::max;
    if (name == "union" || name == "fuzzy_union") return Symmetrization::fuzzy_union;
    if (name == "intersection" || name == "fuzzy_intersection") return Symmetrization::fuzzy_intersection;
    throw InvalidArgument("unknown symmetrisation '" + name + "' (expected none, mean, max, union or intersection)");
}

std::string to_string(Symmetrization s) {
    switch (s) {
        case Symmetrization::none: return "none";
        case Symmetrization::mean: return "mean";
        case Symmetrization::max: return "max";
        case Symmetrization::fuzzy_union: return "union";
        case Symmetrization::fuzzy_intersection: return "intersection";
    }
    return "?";
}

CsrMatrix<double> symmetrize(const CsrMatrix<double>& A, Symmetrization rule, int n_threads) {
    switch (rule) {
        case Symmetrization::none: A.validate("affinity matrix"); return A;
        case Symmetrization::mean:
            return combine_with_transpose(A, [](double a, double b) { return 0.5 * (a + b); }, n_threads);
        case Symmetrization::max:
            return combine_with_transpose(A, [](double a, double b) { return std::max(a, b); }, n_threads);
        case Symmetrization::fuzzy_union: return fuzzy_combine(A, 1.0, n_threads);
        case Symmetrization::fuzzy_intersection: return fuzzy_combine(A, 0.0, n_threads);
    }
    throw InvalidArgument("unknown symmetrisation");
}

CsrMatrix<double> fuzzy_combine(const CsrMatrix<double>& A, double mix, int n_threads) {
    return combine_with_transpose(A, fuzzy_rule(mix), n_threads);
}

CsrMatrix<double> fuzzy_combine_rows(const CsrMatrix<double>& A_rows, const CsrMatrix<double>& T_rows, double mix,
                                     int n_threads) {
    A_rows.validate("affinity rows");
    T_rows.validate("transposed affinity rows");
    require(A_rows.n_rows == T_rows.n_rows && A_rows.n_cols == T_rows.n_cols,
            "fuzzy_combine_rows: the rows of A and of its transpose differ in shape");
    return combine_rows(A_rows, T_rows, fuzzy_rule(mix), n_threads);
}

void normalize_total(CsrMatrix<double>& A, const char* what) {
    const double s = A.sum();
    require(std::isfinite(s) && s > 0.0, std::string(what) + ": the values sum to " + std::to_string(s) +
                                             "; they must have a positive, finite sum");
    for (double& v : A.values) v /= s;
}

void normalize_rows(CsrMatrix<double>& A, int n_threads) {
    parallel_for(n_threads, A.n_rows, [&](std::size_t i) {
        double s = 0.0;
        for (offset_t p = A.indptr[i]; p < A.indptr[i + 1]; ++p) s += A.values[p];
        if (s > 0.0)
            for (offset_t p = A.indptr[i]; p < A.indptr[i + 1]; ++p) A.values[p] /= s;
    });
}

} // namespace nembed
