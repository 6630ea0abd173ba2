#include "nembed/neighbors/knn.hpp"

#include <algorithm>
#include <cctype>

#include "nembed/core/error.hpp"
#include "nembed/neighbors/distance.hpp"
#include "nembed/neighbors/exact.hpp"
#include "nembed/neighbors/hnsw.hpp"
#include "nembed/core/strings.hpp"

namespace nembed {
Metric parse_metric(const std::string& name) {
    const std::string n = to_lower(name);
    if (n == "euclidean" || n == "l2") return Metric::euclidean;
    if (n == "cosine") return Metric::cosine;
    if (n == "ip" || n == "inner_product" || n == "dot") return Metric::inner_product;
    throw InvalidArgument("unknown metric '" + name + "' (expected euclidean, cosine or inner_product)");
}

std::string to_string(Metric m) {
    switch (m) {
    case Metric::euclidean: return "euclidean";
    case Metric::cosine: return "cosine";
    case Metric::inner_product: return "inner_product";
    }
    return "unknown";
}

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

KnnMethod resolve_knn_method(KnnMethod method, std::size_t n_points, std::size_t dims) {
    if (method != KnnMethod::auto_) return method;
    const double n = static_cast<double>(n_points), work = n * n * static_cast<double>(dims);
    return n_points < 1000 || work <= auto_exact_knn_work ? KnnMethod::exact : KnnMethod::hnsw;
}

std::unique_ptr<KnnIndex> build_knn_index(MatrixView<float> data, const KnnOptions& options) {
    const KnnMethod m = resolve_knn_method(options.method, data.rows, data.cols);
    if (m == KnnMethod::exact) return make_exact_index(data, options.metric, options.n_threads);
    return make_hnsw_index(data, options);
}

KnnGraph find_neighbors(MatrixView<float> data, std::size_t k, const KnnOptions& options) {
    // Check k before paying for an index build; data problems are reported first.
    require(data.rows > 0, "find_neighbors: the data has no points (0 rows)");
    detail::check_self_k(k, data.rows);
    return build_knn_index(data, options)->self_neighbors(k);
}

} // namespace nembed
