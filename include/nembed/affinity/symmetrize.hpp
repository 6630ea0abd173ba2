#pragma once
/// @file symmetrize.hpp
/// Combining a directed affinity matrix A with its transpose, and normalisation. Every joint affinity in nembed
/// (t-SNE's (P + Pᵀ)/2, openTSNE's Uniform "max", UMAP's fuzzy union) is one of these element-wise rules applied
/// to a_ij and a_ji, with a missing entry read as 0.
#include <string>

#include "nembed/core/sparse.hpp"

namespace nembed {

enum class Symmetrization {
    none,          ///< A as is
    mean,          ///< (A + Aᵀ)/2 (t-SNE, openTSNE's Uniform "mean")
    max,           ///< max(a_ij, a_ji) (openTSNE's Uniform "max"/True: the binary union on a 0/1 graph)
    fuzzy_union,   ///< a + b − ab (UMAP, set_op_mix_ratio = 1)
    fuzzy_intersection,  ///< ab (UMAP, set_op_mix_ratio = 0)
};

/// Parses "none", "mean", "max" (also "true"), "union", "intersection"; throws InvalidArgument otherwise.
Symmetrization parse_symmetrization(const std::string& name);
std::string to_string(Symmetrization s);

/// C = rule(A, Aᵀ) for a square A with sorted rows. Exact zeros produced by the rule are dropped.
CsrMatrix<double> symmetrize(const CsrMatrix<double>& A, Symmetrization rule, int n_threads = 1);
/// The same for some rows of A: T_rows holds the same rows of Aᵀ (a distributed run's own rows, dist/tsne.hpp);
/// both with sorted rows, same shape. Row by row bitwise the rows of symmetrize(A, rule).
CsrMatrix<double> symmetrize_rows(const CsrMatrix<double>& A_rows, const CsrMatrix<double>& T_rows,
                                  Symmetrization rule, int n_threads = 1);

/// UMAP's combination mix·(A + Aᵀ − A∘Aᵀ) + (1 − mix)·A∘Aᵀ, mix = set_op_mix_ratio in [0, 1].
CsrMatrix<double> fuzzy_combine(const CsrMatrix<double>& A, double set_op_mix_ratio, int n_threads = 1);
/// The same for some rows of A, T_rows holding the same rows of Aᵀ (as symmetrize_rows): row by row bitwise the
/// rows of fuzzy_combine(A, set_op_mix_ratio).
CsrMatrix<double> fuzzy_combine_rows(const CsrMatrix<double>& A_rows, const CsrMatrix<double>& T_rows,
                                     double set_op_mix_ratio, int n_threads = 1);

/// Divides every value by the sum of all values (accumulated in double). Throws if the sum is not positive.
void normalize_total(CsrMatrix<double>& A, const char* what = "affinities");

/// Divides every row by its sum (rows that sum to 0 are left as they are).
void normalize_rows(CsrMatrix<double>& A, int n_threads = 1);

} // namespace nembed
