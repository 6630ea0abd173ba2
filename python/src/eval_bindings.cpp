// TorchDR's evaluation functions (nembed.torchdr.eval): silhouette, k-NN label accuracy, neighbourhood
// preservation, k-means + adjusted Rand index. Thin wrappers over include/nembed/metrics/.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <optional>
#include <string>
#include <vector>

#include "common.hpp"
#include "nembed/metrics/adjusted_rand.hpp"
#include "nembed/metrics/kmeans.hpp"
#include "nembed/metrics/knn_labels.hpp"
#include "nembed/metrics/neighborhood_preservation.hpp"
#include "nembed/metrics/silhouette.hpp"

namespace nb = nanobind;
using namespace nb::literals;
using namespace nembed_py;

namespace {

std::vector<std::int64_t> to_vector(const I64Vec& v) { return {v.data(), v.data() + v.shape(0)}; }

} // namespace

void bind_eval(nb::module_& m) {
    m.def(
        "silhouette_samples",
        [](F64Mat X, I64Vec labels, std::optional<F64Vec> weights, const std::string& metric, int n_threads) {
            const auto l = to_vector(labels);
            std::optional<std::vector<double>> w;
            if (weights) w.emplace(weights->data(), weights->data() + weights->shape(0));
            const auto met = nembed::parse_silhouette_metric(metric);
            auto s = run_long(false, [&] {
                return nembed::silhouette_samples(view(X), l, w ? &*w : nullptr, met, n_threads);
            });
            const std::size_t n = s.size();
            return to_numpy(std::move(s), {n});
        },
        "X"_a, "labels"_a, "weights"_a.none(), "metric"_a = "euclidean", "n_threads"_a = 1);
    m.def(
        "silhouette_score",
        [](F64Mat X, I64Vec labels, std::optional<F64Vec> weights, const std::string& metric, std::size_t sample_size,
           std::uint64_t seed, int n_threads) {
            const auto l = to_vector(labels);
            std::optional<std::vector<double>> w;
            if (weights) w.emplace(weights->data(), weights->data() + weights->shape(0));
            const auto met = nembed::parse_silhouette_metric(metric);
            return run_long(false, [&] {
                return nembed::silhouette_score(view(X), l, w ? &*w : nullptr, met, sample_size, seed, n_threads);
            });
        },
        "X"_a, "labels"_a, "weights"_a.none(), "metric"_a = "euclidean", "sample_size"_a = 0, "seed"_a = 0,
        "n_threads"_a = 1);
    m.def(
        "knn_label_accuracy",
        [](F64Mat X, I64Vec labels, std::size_t k, bool exclude_self, int n_threads) {
            const auto l = to_vector(labels);
            auto s = run_long(false, [&] {
                return nembed::knn_label_accuracy_per_sample(view(X), l, k, exclude_self, n_threads);
            });
            const std::size_t n = s.size();
            return to_numpy(std::move(s), {n});
        },
        "X"_a, "labels"_a, "k"_a = 10, "exclude_self"_a = true, "n_threads"_a = 1,
        "Per-sample fractions; the mean is their sum / N.");
    m.def(
        "neighborhood_preservation",
        [](F32Mat X, F64Mat Z, std::size_t K, int n_threads) {
            auto s = run_long(false, [&] {
                return nembed::neighborhood_preservation_per_sample(view(X), view(Z), K, n_threads);
            });
            const std::size_t n = s.size();
            return to_numpy(std::move(s), {n});
        },
        "X"_a, "Z"_a, "K"_a, "n_threads"_a = 1);
    m.def(
        "kmeans_ari",
        [](F64Mat X, I64Vec labels, std::size_t n_clusters, std::size_t niter, std::size_t nredo, std::uint64_t seed,
           int n_threads) {
            const auto l = to_vector(labels);
            nembed::KMeansOptions o;
            o.n_clusters = n_clusters;
            o.niter = niter;
            o.nredo = nredo;
            o.seed = seed;
            o.n_threads = n_threads;
            auto r = run_long(false, [&] { return nembed::kmeans_ari(view(X), l, o); });
            const std::size_t n = r.predicted.size();
            return nb::make_tuple(r.ari, to_numpy(std::move(r.predicted), {n}));
        },
        "X"_a, "labels"_a, "n_clusters"_a = 0, "niter"_a = 20, "nredo"_a = 1, "seed"_a = 0, "n_threads"_a = 1);
    m.def(
        "adjusted_rand_score",
        [](I64Vec a, I64Vec b) { return nembed::adjusted_rand_score(to_vector(a), to_vector(b)); },
        "labels_true"_a, "labels_pred"_a);
}
