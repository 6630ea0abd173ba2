#include "nembed/neighbors/knn.hpp"

#include <algorithm>
#include <cctype>

#include "nembed/core/error.hpp"
#include "nembed/neighbors/distance.hpp"
#include "nembed/neighbors/exact.hpp"
#include "nembed/neighbors/generic.hpp"
#include "nembed/neighbors/hnsw.hpp"
#include "nembed/neighbors/sharded.hpp"
#include "nembed/core/strings.hpp"

namespace nembed {
KnnMethod parse_knn_method(const std::string& name) {
    const std::string n = to_lower(name);
    if (n == "auto") return KnnMethod::auto_;
    if (n == "exact") return KnnMethod::exact;
    if (n == "hnsw" || n == "approx") return KnnMethod::hnsw;
    throw InvalidArgument("unknown kNN method '" + name + "' (expected auto, exact or hnsw)");
}

std::string to_string(KnnMethod m) {
    switch (m) {
    case KnnMethod::auto_: return "auto";
    case KnnMethod::exact: return "exact";
    case KnnMethod::hnsw: return "hnsw";
    }
    return "unknown";
}

KnnMethod resolve_knn_method(KnnMethod method, std::size_t n_points, std::size_t dims, bool tiled) {
    if (method != KnnMethod::auto_) return method;
    const double n = static_cast<double>(n_points), work = n * n * static_cast<double>(dims);
    const double limit = tiled ? auto_exact_knn_work_tiled : auto_exact_knn_work;
    // The tiled limit was measured up to 300 000 points: past the cap, low-dimensional data goes to HNSW too.
    const bool capped = tiled && n_points > auto_exact_knn_points_tiled;
    return n_points < 1000 || (work <= limit && !capped) ? KnnMethod::exact : KnnMethod::hnsw;
}

KnnGraph KnnIndex::query(const CsrView& queries, std::size_t k) const {
    // Indexes over dense data answer sparse queries densified.
    require(queries.cols == n_dims(), "query dimension mismatch: queries have " + std::to_string(queries.cols) +
                                          " columns but the index was built on " + std::to_string(n_dims()));
    if (queries.rows == 0) return query(MatrixView<float>{nullptr, 0, n_dims()}, k);
    const Matrix<float> dense = csr_to_dense(copy_csr(queries, "kNN query").view());
    return query(dense.view(), k);
}

std::unique_ptr<KnnIndex> build_knn_index(MatrixView<float> data, const KnnOptions& options) {
    // The float32 GEMM / hnswlib-space paths serve euclidean, cosine and inner product (unchanged); every other
    // metric, and any metric parameters, take the generic paths (generic.hpp).
    const bool generic = !is_gemm_metric(options.metric) || !options.metric_params.empty();
    const KnnMethod m = resolve_knn_method(options.method, data.rows, data.cols, !generic);
    if (m == KnnMethod::exact)
        return generic ? make_generic_exact_index(data, options) : make_exact_index(data, options.metric, options.n_threads);
    if (options.hnsw_shards > 0) return make_sharded_hnsw_index(data, options);
    return generic ? make_generic_hnsw_index(data, options) : make_hnsw_index(data, options);
}

std::unique_ptr<KnnIndex> build_knn_index(const CsrView& data, const KnnOptions& options) {
    require(data.rows > 0, "kNN: the data has no points (0 rows)");
    // auto: the dense rule with the mean number of non-zeros per row as the dimension
    const std::size_t nnz_per_row = std::max<std::size_t>(1, (data.nnz() + data.rows - 1) / data.rows);
    const KnnMethod m = resolve_knn_method(options.method, data.rows, nnz_per_row);
    return m == KnnMethod::exact ? make_generic_exact_index(data, options) : make_generic_hnsw_index(data, options);
}

KnnGraph find_neighbors(const CsrView& data, std::size_t k, const KnnOptions& options) {
    require(data.rows > 0, "find_neighbors: the data has no points (0 rows)");
    detail::check_self_k(k, data.rows);
    return build_knn_index(data, options)->self_neighbors(k);
}

KnnGraph find_neighbors(MatrixView<float> data, std::size_t k, const KnnOptions& options) {
    // Check k before paying for an index build; data problems are reported first.
    require(data.rows > 0, "find_neighbors: the data has no points (0 rows)");
    detail::check_self_k(k, data.rows);
    return build_knn_index(data, options)->self_neighbors(k);
}

} // namespace nembed
