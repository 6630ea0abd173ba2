#pragma once
// Options shared by every subcommand (input, output, labels, threads, seed, verbosity) and the helpers that
// act on them: loading and concatenating inputs, optional PCA, progress on a terminal, timings.
#include <CLI/CLI.hpp>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <exception>
#include <string>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/io/model.hpp"

namespace nembed::cli {

/// The scatter plot's options besides its path (add_method_outputs registers them; write_plot uses them).
struct PlotStyle {
    std::string title;        ///< --plot-title (empty: the command's default title)
    std::string label_names;  ///< --label-names: a text file, line c names label code c
    std::string color_by;     ///< --color-by: one number per point (any input format), drawn with a colour bar
};

/// Ends a command with exit code 1 and no message: a distributed run's ranks other than 0 once rank 0 reports an
/// error every rank agreed on.
struct QuietFailure : std::runtime_error {
    QuietFailure() : std::runtime_error("") {}
};

struct CommonOptions {
    std::vector<std::string> inputs;  ///< data files, concatenated by rows (e.g. train + test idx files)
    std::string output;               ///< output file (.npy or .csv)
    std::vector<std::string> labels;  ///< label files, concatenated like the inputs
    int threads = 1;                  ///< n_jobs convention: -1 = all cores
    std::uint64_t seed = 0;
    std::size_t pca = 0;              ///< PCA preprocessing to this many components (0 = none)
    double scale = 1.0;               ///< divide the input by this (e.g. 255 for pixel data)
    bool verbose = false;
    bool quiet = false;
    PlotStyle plot;                   ///< registered by add_method_outputs only

    int n_threads() const;            ///< resolved thread count (>= 1)
    bool progress() const;            ///< draw progress bars: stderr is a terminal and not --quiet
};

/// Adds the shared options. `output_required` makes -o mandatory; `with_pca` adds --pca/--scale.
void add_common_options(CLI::App* app, CommonOptions& o, bool output_required, bool with_pca = true);
/// The outputs every embedding method offers besides the embedding: --plot (PNG, SVG or PDF) with its style options
/// (add_plot_style), --metrics JSON, --timings JSON.
void add_method_outputs(CLI::App* app, std::string& plot, std::string& metrics_json, std::string& timings_json,
                        PlotStyle& style);
/// --label-names and --color-by, and the title option named `title_flag` ("--plot-title", or "--title" for
/// `nembed plot`).
void add_plot_style(CLI::App* app, PlotStyle& style, const std::string& title_flag);
/// Writes the scatter plot of Y to `path` (PNG, SVG or PDF by extension; usually a staged output). Colours: the
/// --color-by values with a colour bar; else `labels` with a legend named by --label-names or by the label files'
/// strings (string labels that are all numbers are drawn as values); `labels` empty: one colour. Title: --plot-title,
/// else `default_title`. The drawing order is seeded by --seed. `size`: the plot area's width and height in pixels.
void write_plot(const std::string& path, MatrixView<double> Y, const std::vector<std::int64_t>& labels,
                const CommonOptions& o, const std::string& default_title, int size = 1000);
/// Adds value checks by type to every option of every subcommand (call after all are registered): unsigned options
/// refuse negative and too large values (CLI11 would wrap "-1" to 2^64 - 1), floating-point options refuse NaN and
/// infinities.
void add_value_checks(CLI::App& app);
/// The floating-point check of add_value_checks, for options that take a number among words (e.g. "auto"): an empty
/// string for anything but a number out of the range of a double or not finite, else the message.
std::string check_finite(const std::string& value);
/// --metric for commands that build affinities: euclidean or cosine (the inner product is for `nembed knn` only).
void require_affinity_metric(const std::string& metric);
/// Routes library messages: --quiet silences info, warnings still go to stderr as one line each.
void configure_logging(const CommonOptions& o);
/// Loads, concatenates, scales and (optionally) PCA-reduces the inputs; logs the time of each step.
/// When `preprocessing` is given it receives the scale and the PCA that were applied (for a saved model).
Matrix<float> load_inputs(const CommonOptions& o, Preprocessing* preprocessing = nullptr);
/// -o data.h5ad:obsm/KEY adds to an existing file: it must have one observation per point (checked before the work;
/// load_inputs calls it).
void check_h5ad_output_rows(const std::string& output, std::size_t n_points);
/// Loads and concatenates input files without scaling or PCA.
Matrix<float> load_raw(const std::vector<std::string>& specs);
/// Loads and concatenates the label files (empty if none given); checks the count against n_points. String labels (a text column of strings, an .h5ad categorical obs column)
/// are coded in order of first appearance across all the files (the same string has the same code in each);
/// `names`, when given, receives the strings (names[c] for code c; empty for integer labels).
std::vector<std::int64_t> load_label_files(const CommonOptions& o, std::size_t n_points,
                                           std::vector<std::string>* names = nullptr);
/// Prints a message to stderr unless --quiet.
void say(const CommonOptions& o, const std::string& message);

/// The one-line text of an error that ends a command. An allocation the system refused (std::bad_alloc, whose own
/// what() is only "std::bad_alloc") says that memory ran out and what lowers the need.
std::string error_text(const std::exception& e);

/// A one-line progress bar redrawn on stderr when enabled.
class ProgressBar {
public:
    ProgressBar(bool enabled, std::string label, std::size_t total);
    ~ProgressBar();
    void update(std::size_t done, const std::string& suffix = "");
    void finish();

private:
    bool enabled_;
    bool finished_ = false;
    std::string label_;
    std::size_t total_;
};

} // namespace nembed::cli
