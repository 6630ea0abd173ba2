#pragma once
// Binders from CLI options straight onto the fields of the library's option structs (TsneOptions, UmapOptions,
// CneOptions and the parts' structs inside them), so that each default is declared once, in the library header, and
// the help shows it. Plain fields (numbers, counts, vectors, bools) are bound with CLI11's add_option/add_flag and
// capture_default_str; the binders here cover what needs parsing: enums (through the library's parse_* / to_string),
// std::optional numbers ("auto"/"none" or a number) and the initialisations (a method name or an array file).
// A binder's parse runs when the option is given; its InvalidArgument is reported as "nembed: error: <message>".
#include <CLI/CLI.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <utility>

#include "nembed/core/error.hpp"
#include "nembed/core/log.hpp"
#include "nembed/core/matrix.hpp"
#include "nembed/io/load.hpp"
#include "nembed/methods/tsne.hpp"
#include "nembed/neighbors/knn.hpp"

namespace nembed::cli {

/// Binds an enum field: the value goes through `parse` (the library's parse_*, whose InvalidArgument names the
/// accepted values) and the help shows to_string of the field's default.
template <class Enum, class Parse>
CLI::Option* add_enum(CLI::App* sub, const std::string& name, Enum& field, Parse parse, const std::string& help) {
    return sub
        ->add_option_function<std::string>(
            name, [&field, parse](const std::string& value) { field = parse(value); }, help)
        ->type_name("TEXT")
        ->default_str(to_string(field));
}

/// Binds an optional number: "auto", "none" (or an empty value) leave it unset, anything else must be a finite
/// number. The help shows the default's value, or `unset_word` (auto or none, as the option's help calls it).
CLI::Option* add_optional(CLI::App* sub, const std::string& name, std::optional<double>& field,
                          const std::string& help, const std::string& unset_word);
/// The same for a count of epochs: a non-negative integer up to 1e8, or auto/none.
CLI::Option* add_optional(CLI::App* sub, const std::string& name, std::optional<int>& field, const std::string& help,
                          const std::string& unset_word);

/// --metric of the commands that build affinities (euclidean or cosine, see require_affinity_metric).
CLI::Option* add_affinity_metric(CLI::App* sub, Metric& field);
/// --metric-param NAME=VALUE[,VALUE...] (repeatable): the input metric's parameters (metric.hpp).
CLI::Option* add_metric_params(CLI::App* sub, MetricParams& field);
/// --neighbors: the kNN method.
CLI::Option* add_knn_method(CLI::App* sub, KnnMethod& field);
/// --knn-shards M: HNSW over M shards (neighbors/sharded.hpp; 0 = one index, under mpirun ceil(N/131072)).
CLI::Option* add_knn_shards(CLI::App* sub, std::size_t& field);
/// --knn-input PREFIX (tsne, cne): precomputed neighbours read by rows (dist::read_knn_block); the command then runs
/// its distributed path, on one process too (the serial communicator).
CLI::Option* add_knn_input(CLI::App* sub, std::string& field);
/// --theta, --method / --negative-gradient-method and the FFT grid: the one mapping of RepulsionOptions to CLI
/// options (io/model.cpp maps it to model.json).
void add_repulsion_options(CLI::App* sub, RepulsionOptions& r);

/// Binds --init of a method whose initialisation enum has pca, random and user: a method name sets the enum through
/// `parse`; anything else is an array file, named in `file`, with the enum set to user (loaded by resolve_init).
template <class Init, class Parse>
CLI::Option* add_init(CLI::App* sub, Init& field, std::string& file, Parse parse, const std::string& help) {
    return sub
        ->add_option_function<std::string>(
            "--init",
            [&field, &file, parse](const std::string& value) {
                try {
                    field = parse(value);
                    file.clear();
                } catch (const InvalidArgument&) {
                    field = Init::user;
                    file = value;
                }
            },
            help)
        ->type_name("TEXT")
        ->default_str(to_string(field));
}

/// Completes an initialisation bound by add_init once the data is loaded: PCA on data with fewer columns than
/// n_components falls back to random with a warning (1-D data), and an array file is loaded.
template <class Init>
void resolve_init(Init& init, Matrix<double>& initial_embedding, const std::string& file, std::size_t n_columns,
                  std::size_t n_components) {
    if (init == Init::pca && n_columns < n_components) {
        warn("--init pca needs at least " + std::to_string(n_components) + " input columns, the input has " +
             std::to_string(n_columns) + "; using --init random");
        init = Init::random;
    } else if (init == Init::user) {
        initial_embedding = load_matrix<double>(file);
    }
}

} // namespace nembed::cli
