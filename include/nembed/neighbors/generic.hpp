#pragma once
/// @file generic.hpp
/// The kNN search for every metric of metric.hpp and for sparse (CSR) data: an exact scan in double (each row
/// against every reference row, a bounded heap ordered by (distance, index): bit-identical for any thread count)
/// and, in hnsw.cpp, an hnswlib space whose stored items are row handles evaluated with the same MetricEval. The
/// float32 GEMM paths (exact.hpp) and hnswlib's own L2 / inner-product spaces stay the ones for dense euclidean,
/// cosine and inner-product data.
#include <memory>
#include <utility>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/neighbors/knn.hpp"
#include "nembed/neighbors/metric.hpp"

namespace nembed {

namespace detail {

/// Owned rows (dense or CSR) with a metric and each row's MetricEval::Aux: what the generic indexes search.
class MetricRows {
public:
    MetricRows(MatrixView<float> dense, const MetricSpec& spec, int n_threads);
    MetricRows(CsrData csr, const MetricSpec& spec, int n_threads);
    MetricRows(const MetricRows&) = delete;
    MetricRows& operator=(const MetricRows&) = delete;

    std::size_t rows() const { return set_.rows(); }
    std::size_t cols() const { return set_.cols(); }
    bool sparse() const { return set_.sparse; }
    const RowSet& set() const { return set_; }
    const MetricEval& eval() const { return eval_; }
    RowRef row(std::size_t i) const { return eval_.row(set_, i); }
    const MetricEval::Aux& aux(std::size_t i) const { return aux_[i]; }
    /// d(this row i, other row j); `other` must be of the same kind (dense / sparse) and metric.
    double distance(std::size_t i, const MetricRows& other, std::size_t j) const {
        return eval_(row(i), aux_[i], other.row(j), other.aux_[j]);
    }
    /// Queries in this set's storage kind (dense queries become CSR for a sparse set, and the reverse), checked
    /// for the dimension and the metric's domain.
    std::unique_ptr<MetricRows> queries(MatrixView<float> q, int n_threads) const;
    std::unique_ptr<MetricRows> queries(const CsrView& q, int n_threads) const;

private:
    void init(int n_threads);
    Matrix<float> dense_;
    CsrData csr_;
    RowSet set_;
    MetricEval eval_;
    std::vector<MetricEval::Aux> aux_;
};

/// The metric of `options` resolved against `data` (defaults filled, parameters checked).
MetricSpec resolve_options_metric(const KnnOptions& options, const RowSet& data);

/// The rows of dense / CSR `data` (copied and checked) with the metric of `options`; `what` names the index in
/// error messages ("exact kNN", "HNSW kNN").
std::unique_ptr<MetricRows> metric_rows(MatrixView<float> data, const KnnOptions& options, const char* what);
std::unique_ptr<MetricRows> metric_rows(const CsrView& data, const KnnOptions& options, const char* what);

/// A reference row's candidate: (distance, index), ordered by distance then index (a total order, so a row's k
/// nearest do not depend on how they were found).
using DistCand = std::pair<double, index_t>;

/// The KnnIndex part the generic exact and HNSW indexes share: owned rows, the checks of k and the queries'
/// conversion to the rows' storage kind; a subclass supplies search().
class MetricRowsIndex : public KnnIndex {
public:
    std::size_t n_points() const override { return rows_->rows(); }
    std::size_t n_dims() const override { return rows_->cols(); }
    /// The metric as given (resolve_metric may evaluate it as another kind, e.g. minkowski with p = inf as
    /// chebyshev): with metric_params() it rebuilds the same index.
    Metric metric() const override { return metric_; }
    MetricParams metric_params() const override { return params_; }
    KnnGraph self_neighbors(std::size_t k) const override;
    KnnGraph query(MatrixView<float> queries, std::size_t k) const override;
    KnnGraph query(const CsrView& queries, std::size_t k) const override;

protected:
    MetricRowsIndex(std::unique_ptr<MetricRows> rows, const KnnOptions& options)
        : rows_(std::move(rows)), n_threads_(options.n_threads), metric_(options.metric),
          params_(options.metric_params) {}
    /// The k nearest reference rows of every row of `q` (`self`: q is the reference set, each row skips itself).
    virtual KnnGraph search(const MetricRows& q, std::size_t k, bool self) const = 0;
    /// Query row i's k nearest reference rows by a scan of all of them, sorted, into `heap` (resized to k).
    void exact_row(const MetricRows& q, std::size_t i, std::size_t k, bool self, std::vector<DistCand>& heap) const;
    /// Writes the first k candidates, sorted, as row i of `g`.
    static void store_row(KnnGraph& g, std::size_t i, std::size_t k, const std::vector<DistCand>& cand);

    std::unique_ptr<MetricRows> rows_;
    int n_threads_;
    Metric metric_;
    MetricParams params_;
};

} // namespace detail

/// Exact kNN for any metric over dense data (copied). Throws InvalidArgument for empty or non-finite data, bad
/// metric parameters or n_threads < 1.
std::unique_ptr<KnnIndex> make_generic_exact_index(MatrixView<float> data, const KnnOptions& options);
/// The same over CSR data (copied and checked).
std::unique_ptr<KnnIndex> make_generic_exact_index(const CsrView& data, const KnnOptions& options);

/// HNSW for any metric over dense or CSR data (hnsw.cpp); options as make_hnsw_index.
std::unique_ptr<KnnIndex> make_generic_hnsw_index(MatrixView<float> data, const KnnOptions& options);
std::unique_ptr<KnnIndex> make_generic_hnsw_index(const CsrView& data, const KnnOptions& options);

} // namespace nembed
