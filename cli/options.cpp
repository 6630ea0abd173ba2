#include "options.hpp"

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "common.hpp"

namespace nembed::cli {
namespace {

// "auto"/"none"/"" -> nullopt, else a number (with a clear error naming the option).
std::optional<double> optional_number(const std::string& value, const std::string& option) {
    if (value == "auto" || value == "none" || value.empty()) return std::nullopt;
    try {
        std::size_t used = 0;
        const double v = std::stod(value, &used);
        if (used != value.size()) throw std::invalid_argument(value);
        return v;
    } catch (const std::exception&) {
        throw InvalidArgument(option + ": expected a number or auto/none, got '" + value + "'");
    }
}

// NaN, infinities and numbers out of range are refused as add_value_checks refuses them for plain numbers.
CLI::Validator finite_or_word() {
    return CLI::Validator([](std::string& v) { return check_finite(v); }, "");
}

// The option's first long name ("--n-epochs" of "-e,--n-epochs"), as the messages name it.
std::string long_name(const std::string& names) {
    const auto at = names.find("--");
    const std::string from = at == std::string::npos ? names : names.substr(at);
    return from.substr(0, from.find(','));
}

} // namespace

CLI::Option* add_optional(CLI::App* sub, const std::string& name, std::optional<double>& field,
                          const std::string& help, const std::string& unset_word) {
    const std::string option = long_name(name);
    return sub
        ->add_option_function<std::string>(
            name, [&field, option](const std::string& value) { field = optional_number(value, option); }, help)
        ->check(finite_or_word())
        ->type_name("TEXT")
        ->default_str(field ? CLI::detail::to_string(*field) : unset_word);
}

CLI::Option* add_optional(CLI::App* sub, const std::string& name, std::optional<int>& field, const std::string& help,
                          const std::string& unset_word) {
    const std::string option = long_name(name);
    return sub
        ->add_option_function<std::string>(
            name,
            [&field, option](const std::string& value) {
                field.reset();
                if (auto e = optional_number(value, option)) {
                    require(*e >= 0 && *e == std::floor(*e),
                            option + " must be a non-negative integer or auto, got " + value);
                    require(*e <= 1e8, option + " " + value + " is too large (at most 100000000)");
                    field = static_cast<int>(*e);
                }
            },
            help)
        ->check(finite_or_word())
        ->type_name("TEXT")
        ->default_str(field ? std::to_string(*field) : unset_word);
}

CLI::Option* add_affinity_metric(CLI::App* sub, Metric& field) {
    return add_enum(
        sub, "--metric", field,
        [](const std::string& name) {
            require_affinity_metric(name);
            return parse_metric(name);
        },
        "Input metric: euclidean, cosine, manhattan, chebyshev, minkowski, seuclidean, mahalanobis, correlation, "
        "jaccard, ... (any kNN metric; parameters with --metric-param; docs/dropin.md)");
}

CLI::Option* add_metric_params(CLI::App* sub, MetricParams& field) {
    return sub
        ->add_option_function<std::vector<std::string>>(
            "--metric-param",
            [&field](const std::vector<std::string>& specs) {
                for (const auto& s : specs) parse_metric_param(field, s);
            },
            "Metric parameter NAME=VALUE[,VALUE...]: p (minkowski), w (weights), V (seuclidean), VI (mahalanobis, "
            "row-major); repeatable")
        ->type_name("TEXT")
        ->expected(1)
        ->take_all();
}

CLI::Option* add_knn_method(CLI::App* sub, KnnMethod& field) {
    return add_enum(sub, "--neighbors", field, parse_knn_method, "kNN method: auto, exact or hnsw");
}

CLI::Option* add_knn_shards(CLI::App* sub, std::size_t& field) {
    return sub->add_option("--knn-shards", field,
                           "HNSW over M shards, every query searched in each (the search mpirun distributes: the same "
                           "bits for any number of ranks); 0 = one index, under mpirun ceil(N/131072)")
        ->capture_default_str();
}

CLI::Option* add_knn_input(CLI::App* sub, std::string& field) {
    return sub->add_option("--knn-input", field,
                           "Precomputed neighbours PREFIX_indices.npy and PREFIX_distances.npy (`nembed knn -o PREFIX`; "
                           "N x K, nearest first, self excluded; the first k columns used), read by rows: skips the "
                           "search; the distributed path's outputs only (-o, --timings), on one process too");
}

void add_repulsion_options(CLI::App* sub, RepulsionOptions& r) {
    sub->add_option("--theta", r.theta, "Barnes-Hut accuracy")->capture_default_str();
    add_enum(sub, "--method,--negative-gradient-method", r.method, parse_gradient_method, "auto, exact, bh or fft");
    sub->add_option("--n-interpolation-points", r.fft.n_interpolation_points, "FFT nodes per box")
        ->capture_default_str();
    sub->add_option("--min-num-intervals", r.fft.min_num_intervals, "FFT minimum boxes")->capture_default_str();
    sub->add_option("--ints-in-interval", r.fft.ints_in_interval, "FFT box width")->capture_default_str();
}

} // namespace nembed::cli
