#pragma once
/// @file metric.hpp
/// Every input metric of the kNN search with its parameters, evaluated exactly in double on dense or sparse (CSR)
/// rows. Definitions are scipy.spatial.distance's (docs/dropin.md, "Metrics and kNN back-ends"); where scipy gives
/// NaN or differs for degenerate rows (all-zero or constant rows, equal supports) umap-learn's conventions apply, so
/// that d(x, x) = 0 always and no distance is NaN:
///  - cosine, correlation, hellinger: two degenerate rows (zero norm; constant for correlation) are at distance 0,
///    one degenerate row is at distance 1 from any other row;
///  - jaccard, dice, kulsinski, sokalsneath: 0 when neither row has a non-zero (or the rows agree everywhere);
///  - russellrao: 0 when both rows have the same non-zeros, else (n - n_tt) / n; yule: 0 when n_tf or n_ft is 0;
///  - braycurtis: 0 when sum |x + y| = 0.
///
///   MetricSpec spec = resolve_metric(Metric::minkowski, params, reference_rows);  // fills scipy's defaults
///   MetricEval eval(spec);
///   double d = eval(eval.row(X, i), eval.row(X, j));
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nembed/core/matrix.hpp"

namespace nembed {

/// The input metrics (scipy's names; parse_metric lists the aliases).
enum class Metric {
    euclidean, cosine, inner_product,  // the float32 GEMM / hnswlib paths (is_gemm_metric)
    sqeuclidean, manhattan, chebyshev, minkowski, wminkowski, seuclidean, mahalanobis, canberra, braycurtis,
    correlation, haversine, hellinger,
    hamming, matching, jaccard, dice, kulsinski, rogerstanimoto, russellrao, sokalmichener, sokalsneath, yule
};

/// Parses a metric name (case-insensitive): euclidean/l2, sqeuclidean, manhattan/cityblock/l1/taxicab,
/// chebyshev/linfinity/linfty/linf/infinity, minkowski, wminkowski/weighted_minkowski,
/// seuclidean/standardised_euclidean, mahalanobis, canberra, braycurtis, cosine, correlation, haversine, hellinger,
/// hamming, matching, jaccard, dice, kulsinski, rogerstanimoto, russellrao/russelrao, sokalmichener, sokalsneath,
/// yule, inner_product/ip/dot. Throws InvalidArgument naming the bad value and listing the known ones.
Metric parse_metric(const std::string& name);
/// The canonical name (the first of each group above).
std::string to_string(Metric m);

/// Parameters of the parametrised metrics (scipy's names; umap-learn's "sigma" and "vinv" are aliases of V and VI).
/// Unset/empty: the defaults resolve_metric documents. A parameter the metric does not take is an error.
struct MetricParams {
    std::optional<double> p;  ///< minkowski / wminkowski exponent (default 2; > 0; +inf = chebyshev)
    std::vector<double> w;    ///< minkowski / wminkowski weights, one per dimension, >= 0 (default all 1)
    std::vector<double> V;    ///< seuclidean variances, one per dimension, > 0 (default: the reference's, ddof 1)
    std::vector<double> VI;   ///< mahalanobis inverse covariance, dims x dims row-major (default: the reference's)
    bool empty() const { return !p && w.empty() && V.empty() && VI.empty(); }
};

/// Sets one parameter by name: "p" (one value), "w", "V" (alias "sigma"), "VI" (alias "vinv"; dims x dims values
/// row-major). Throws InvalidArgument for an unknown name or p not given as one value.
void set_metric_param(MetricParams& params, const std::string& name, const std::vector<double>& values);
/// Parses "NAME=v1,v2,..." (the CLI's --metric-param) into `params`; throws InvalidArgument naming the problem.
void parse_metric_param(MetricParams& params, const std::string& spec);

/// A sparse matrix in CSR form (float values, column indices strictly increasing within a row).
struct CsrView {
    std::size_t rows = 0, cols = 0;
    const std::int64_t* indptr = nullptr;  ///< rows + 1 offsets
    const std::int32_t* indices = nullptr;
    const float* values = nullptr;
    std::size_t nnz() const { return rows == 0 ? 0 : static_cast<std::size_t>(indptr[rows]); }
};

/// An owned CSR matrix.
struct CsrData {
    std::size_t rows = 0, cols = 0;
    std::vector<std::int64_t> indptr{0};
    std::vector<std::int32_t> indices;
    std::vector<float> values;
    CsrView view() const { return {rows, cols, indptr.data(), indices.data(), values.data()}; }
};

/// Copies `x`, checking it (non-empty, indptr monotone from 0, column indices in range and strictly increasing per
/// row, finite values); throws InvalidArgument naming `what` and the problem.
CsrData copy_csr(const CsrView& x, const std::string& what);
/// The non-zeros of a dense matrix as CSR.
CsrData dense_to_csr(MatrixView<float> x);
/// The dense form of a CSR matrix.
Matrix<float> csr_to_dense(const CsrView& x);

/// A set of rows, dense or sparse (exactly one of the two is in use).
struct RowSet {
    MatrixView<float> dense;
    CsrView csr;
    bool sparse = false;
    std::size_t rows() const { return sparse ? csr.rows : dense.rows; }
    std::size_t cols() const { return sparse ? csr.cols : dense.cols; }
};

/// One row: dense (`idx` null, `dense` holds cols values) or sparse (`nnz` entries at idx / val).
struct RowRef {
    const float* dense = nullptr;
    const std::int32_t* idx = nullptr;
    const float* val = nullptr;
    std::size_t nnz = 0;
};

/// A metric with its parameters resolved against the reference data.
struct MetricSpec {
    Metric kind = Metric::euclidean;
    std::size_t dim = 0;
    double p = 2.0;
    std::vector<double> w, V, VI;
};

/// Validates `params` for `kind` on `reference` and fills the defaults: minkowski p = 2, w = 1; seuclidean V = the
/// reference's column variances (ddof 1, as scipy's pdist); mahalanobis VI = the inverse of the reference's
/// covariance (ddof 1; needs more points than dimensions and a non-singular covariance). Throws InvalidArgument for
/// a parameter the metric does not take, wrong lengths, non-finite values, p <= 0, negative w, V <= 0, haversine on
/// other than 2 columns, and hellinger on negative data.
MetricSpec resolve_metric(Metric kind, const MetricParams& params, const RowSet& reference, int n_threads = 1);

/// Throws InvalidArgument if `rows` hold values `spec` cannot take (negative values for hellinger).
void check_metric_domain(const MetricSpec& spec, const RowSet& rows, const std::string& what);

/// Exact distances of one metric in double. Per-row quantities (norms, means) are computed once per row (`aux`).
class MetricEval {
public:
    struct Aux {
        double a = 0.0, b = 0.0;
    };
    MetricEval() = default;
    explicit MetricEval(MetricSpec spec);
    const MetricSpec& spec() const { return spec_; }
    RowRef row(const RowSet& s, std::size_t i) const;
    Aux aux(RowRef r) const;
    /// d(x, y); the two rows must be of the same kind (both dense or both sparse).
    double operator()(RowRef x, const Aux& ax, RowRef y, const Aux& ay) const;
    double operator()(RowRef x, RowRef y) const { return (*this)(x, aux(x), y, aux(y)); }

private:
    MetricSpec spec_;
};

/// The metrics nembed knows, by their canonical names (for error messages and docs).
std::string metric_names();

/// True where the metric is one of the three the float32 GEMM/hnswlib paths serve (euclidean, cosine, inner
/// product); every other metric takes the generic exact scan or the generic HNSW space.
inline bool is_gemm_metric(Metric m) {
    return m == Metric::euclidean || m == Metric::cosine || m == Metric::inner_product;
}

} // namespace nembed
