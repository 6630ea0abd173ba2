// The kNN functions for every metric, metric parameters and sparse (CSR) data: building a KnnIndex holder from
// dense or CSR data, querying it with CSR rows, and exact pairwise distances of a metric (for tests and callers
// that need the metric itself).
#include <nanobind/stl/map.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common.hpp"
#include "knn_holder.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/neighbors/knn.hpp"
#include "nembed/neighbors/metric.hpp"

namespace nb = nanobind;
using namespace nb::literals;
using namespace nembed_py;

namespace {

using F32Vec = nb::ndarray<const float, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
using Params = std::map<std::string, std::vector<double>>;

nembed::KnnOptions options(const std::string& method, const std::string& metric, const Params& params,
                           int n_threads, std::uint64_t seed, int hnsw_m, int hnsw_ef_construction, int hnsw_ef) {
    nembed::KnnOptions o;
    o.method = nembed::parse_knn_method(method);
    o.metric = nembed::parse_metric(metric);
    for (const auto& [name, values] : params) nembed::set_metric_param(o.metric_params, name, values);
    o.n_threads = n_threads;
    o.seed = seed;
    o.hnsw_m = hnsw_m;
    o.hnsw_ef_construction = hnsw_ef_construction;
    o.hnsw_ef = hnsw_ef;
    return o;
}

nembed::CsrView csr_view(const I64Vec& indptr, const I32Vec& indices, const F32Vec& values, std::size_t n_rows,
                         std::size_t n_cols) {
    nembed::require(indptr.shape(0) == n_rows + 1, "CSR: indptr must have n_rows + 1 entries");
    nembed::require(indices.shape(0) == values.shape(0), "CSR: indices and values must have the same length");
    nembed::require(n_rows == 0 || indptr.data()[n_rows] >= 0, "CSR: indptr must be non-negative");
    nembed::require(n_rows == 0 || static_cast<std::size_t>(indptr.data()[n_rows]) <= indices.shape(0),
                    "CSR: indptr[-1] exceeds the number of stored entries");
    return {n_rows, n_cols, indptr.data(), indices.data(), values.data()};
}

} // namespace

void bind_knn(nb::module_& m) {
    m.def(
        "knn_build_dense",
        [](F32Mat data, const std::string& method, const std::string& metric, const Params& params, int n_threads,
           std::uint64_t seed, int hnsw_m, int hnsw_ef_construction, int hnsw_ef, bool handle_sigint) {
            return build_holder(data, options(method, metric, params, n_threads, seed, hnsw_m, hnsw_ef_construction,
                                              hnsw_ef),
                                handle_sigint);
        },
        "data"_a, "method"_a = "auto", "metric"_a = "euclidean", "params"_a = Params{}, "n_threads"_a = 1,
        "seed"_a = 0, "hnsw_m"_a = 16, "hnsw_ef_construction"_a = 200, "hnsw_ef"_a = 0, "handle_sigint"_a = false,
        "A KnnIndex over dense float32 data for any metric (params: p, w, V, VI as lists of floats).");
    m.def(
        "knn_build_csr",
        [](I64Vec indptr, I32Vec indices, F32Vec values, std::size_t n_rows, std::size_t n_cols,
           const std::string& method, const std::string& metric, const Params& params, int n_threads,
           std::uint64_t seed, int hnsw_m, int hnsw_ef_construction, int hnsw_ef, bool handle_sigint) {
            const nembed::KnnOptions o =
                options(method, metric, params, n_threads, seed, hnsw_m, hnsw_ef_construction, hnsw_ef);
            const nembed::CsrView v = csr_view(indptr, indices, values, n_rows, n_cols);
            auto holder = std::make_shared<KnnHolder>();
            holder->options = o;
            holder->index = run_long(handle_sigint, [&] {
                return std::shared_ptr<const nembed::KnnIndex>(nembed::build_knn_index(v, o).release());
            });
            return holder;
        },
        "indptr"_a, "indices"_a, "values"_a, "n_rows"_a, "n_cols"_a, "method"_a = "auto", "metric"_a = "euclidean",
        "params"_a = Params{}, "n_threads"_a = 1, "seed"_a = 0, "hnsw_m"_a = 16, "hnsw_ef_construction"_a = 200,
        "hnsw_ef"_a = 0, "handle_sigint"_a = false,
        "A KnnIndex over CSR data (sorted, unique column indices per row) for any metric.");
    m.def(
        "knn_query_csr",
        [](const KnnHolder& h, I64Vec indptr, I32Vec indices, F32Vec values, std::size_t n_rows, std::size_t n_cols,
           std::size_t k, bool handle_sigint) {
            const nembed::CsrView v = csr_view(indptr, indices, values, n_rows, n_cols);
            return from_graph(run_long(handle_sigint, [&] { return h.index->query(v, k); }));
        },
        "index"_a, "indptr"_a, "indices"_a, "values"_a, "n_rows"_a, "n_cols"_a, "k"_a, "handle_sigint"_a = false);
    m.def(
        "metric_distances",
        [](F32Mat X, F32Mat Y, const std::string& metric, const Params& params) {
            nembed::MetricParams mp;
            for (const auto& [name, values] : params) nembed::set_metric_param(mp, name, values);
            nembed::require(X.shape(1) == Y.shape(1), "metric_distances: X and Y must have the same columns");
            nembed::require(Y.shape(0) > 0, "metric_distances: Y has no rows");
            nembed::require_finite(view(X), "metric_distances X");
            nembed::require_finite(view(Y), "metric_distances Y");
            nembed::RowSet ys, xs;
            ys.dense = view(Y);
            xs.dense = view(X);
            const nembed::MetricSpec spec = nembed::resolve_metric(nembed::parse_metric(metric), mp, ys);
            nembed::check_metric_domain(spec, xs, "metric_distances X");
            const nembed::MetricEval eval(spec);
            nembed::Matrix<double> D(X.shape(0), Y.shape(0));
            for (std::size_t i = 0; i < X.shape(0); ++i)
                for (std::size_t j = 0; j < Y.shape(0); ++j) D(i, j) = eval(eval.row(xs, i), eval.row(ys, j));
            return copy_to_numpy(D.view());
        },
        "X"_a, "Y"_a, "metric"_a, "params"_a = Params{},
        "Exact distances d(X_i, Y_j) of a metric (defaults of its parameters from Y).");
    m.def("metric_names", &nembed::metric_names, "The metric names nembed's kNN accepts.");
}
