#include "common.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <optional>
#include <filesystem>
#include <map>
#include <new>
#include <sstream>
#include <unordered_map>

#include "nembed/core/error.hpp"
#include "nembed/core/log.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/core/timer.hpp"
#include "nembed/init/pca.hpp"
#include "nembed/io/csv.hpp"
#include "nembed/io/file.hpp"
#include "nembed/io/h5ad.hpp"
#include "nembed/io/load.hpp"
#include "nembed/plot/scatter.hpp"

namespace nembed::cli {

int CommonOptions::n_threads() const { return resolve_threads(threads); }
bool CommonOptions::progress() const { return !quiet && isatty(fileno(stderr)); }

void add_common_options(CLI::App* app, CommonOptions& o, bool output_required, bool with_pca) {
    app->add_option("input", o.inputs, "Input data: .npy, .npz[:member], .csv/.tsv/.txt, idx[.gz], .h5ad[:obsm/KEY or layers/KEY] (X by default); several files are concatenated by rows")
        ->required();
    auto* out = app->add_option("-o,--output", o.output, "Output file (.npy or .csv), or data.h5ad:obsm/KEY to add the embedding to an AnnData file");
    if (output_required) out->required();
    app->add_option("-l,--labels", o.labels, "Label files (any input format; data.h5ad:obs/COLUMN for an AnnData column), concatenated like the inputs");
    app->add_option("-j,--threads", o.threads, "Threads; -1 = all cores (openTSNE's n_jobs)")->capture_default_str();
    app->add_option("--seed", o.seed, "Random seed")->capture_default_str();
    if (with_pca) {
        app->add_option("--pca", o.pca, "Reduce the input to this many principal components first (0 = off)")
            ->capture_default_str();
        app->add_option("--scale", o.scale, "Divide the input by this value (e.g. 255 for 8-bit images)")
            ->check(CLI::Validator(
                [](std::string& v) -> std::string {
                    double x = 0;
                    const auto r = std::from_chars(v.data(), v.data() + v.size(), x);
                    if (r.ec == std::errc() && r.ptr == v.data() + v.size() && !(x > 0))
                        return "must be a positive number, got " + v;
                    return "";
                },
                "POSITIVE"))
            ->capture_default_str();
    }
    app->add_flag("-v,--verbose", o.verbose, "More output");
    app->add_flag("-q,--quiet", o.quiet, "No output on stderr except errors");
}

namespace {
std::string check_unsigned(const std::string& v) {
    std::string_view s(v);
    if (!s.empty() && s.front() == '+') s.remove_prefix(1);
    std::uint64_t x = 0;
    const auto r = std::from_chars(s.data(), s.data() + s.size(), x);
    if (!s.empty() && s.front() == '-') return "must be a non-negative integer, got " + v;
    if (r.ec == std::errc::result_out_of_range) return "is too large: " + v;
    return "";  // anything else: CLI11's conversion names it
}

void add_checks(CLI::App* app) {
    for (CLI::Option* opt : app->get_options()) {
        const std::string type = opt->get_type_name();
        if (type.rfind("UINT", 0) == 0) {
            opt->check(CLI::Validator([](std::string& v) { return check_unsigned(v); }, ""));
        } else if (type.rfind("FLOAT", 0) == 0) {
            opt->check(CLI::Validator([](std::string& v) { return check_finite(v); }, ""));
        }
    }
    for (CLI::App* sub : app->get_subcommands([](CLI::App*) { return true; })) add_checks(sub);
}
} // namespace

void add_value_checks(CLI::App& app) { add_checks(&app); }

std::string check_finite(const std::string& v) {
    double x = 0;
    std::string_view s(v);
    if (!s.empty() && s.front() == '+') s.remove_prefix(1);
    const auto r = std::from_chars(s.data(), s.data() + s.size(), x);
    if (r.ec == std::errc::result_out_of_range) return "is out of the range of a double: " + v;
    if (r.ec == std::errc() && !std::isfinite(x)) return "must be a finite number, got " + v;
    return "";
}

void require_affinity_metric(const std::string& metric) {
    if (metric == "ip" || metric == "inner_product" || metric == "dot")
        throw InvalidArgument("--metric " + metric +
                              ": affinities need non-negative distances, which 1 - <x, y> is not; use cosine (the "
                              "inner product of normalised rows) or nembed knn --metric ip");
}

void configure_logging(const CommonOptions& o) {
    const bool quiet = o.quiet, verbose = o.verbose;
    set_log_sink([quiet, verbose](LogLevel level, const std::string& msg) {
        if (level == LogLevel::warning) {
            std::fprintf(stderr, "nembed: warning: %s\n", msg.c_str());
        } else if (!quiet && (level == LogLevel::info || verbose)) {
            std::fprintf(stderr, "%s\n", msg.c_str());
        }
    });
}

void add_method_outputs(CLI::App* app, std::string& plot, std::string& metrics_json, std::string& timings_json,
                        PlotStyle& style) {
    app->add_option("--plot", plot, "Write a scatter plot: .png, .svg or .pdf (coloured by --labels or --color-by)");
    add_plot_style(app, style, "--plot-title");
    app->add_option("--metrics", metrics_json, "Write the quality metrics as JSON");
    app->add_option("--timings", timings_json, "Write per-phase timings as JSON");
}

void add_plot_style(CLI::App* app, PlotStyle& style, const std::string& title_flag) {
    app->add_option(title_flag, style.title, "Title of the plot");
    app->add_option("--label-names", style.label_names,
                    "Legend names of the label codes: a text file, line c (from 0) names code c")
        ->check(CLI::ExistingFile);
    app->add_option("--color-by", style.color_by,
                    "Colour the plot by these values (one number per point, any input format) with a colour bar")
        ->check(CLI::ExistingFile);
}

namespace {
std::vector<std::int64_t> concatenated_labels(const CommonOptions& o, std::vector<std::string>* names);

std::vector<std::string> read_lines(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw IoError(path + ": cannot open");
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        lines.push_back(line);
    }
    if (in.bad()) throw IoError(path + ": read error");
    return lines;
}

// The value of a string label that is a number ("0.25"), or nullopt.
std::optional<double> number_in(const std::string& s) {
    double v = 0;
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
    return v;
}
} // namespace

void write_plot(const std::string& path, MatrixView<double> Y, const std::vector<std::int64_t>& labels,
                const CommonOptions& o, const std::string& default_title, int size) {
    ScatterOptions opt;
    opt.width = opt.height = size;
    opt.title = o.plot.title.empty() ? default_title : o.plot.title;
    opt.seed = o.seed;
    std::vector<std::int64_t> codes = labels;
    if (!o.plot.color_by.empty()) {
        const Matrix<double> v = load_matrix<double>(o.plot.color_by);
        require(v.cols() == 1 && v.rows() == Y.rows, "--color-by: " + o.plot.color_by + " must hold one number per " +
                                                         "point (" + std::to_string(Y.rows) + "), got " +
                                                         std::to_string(v.rows()) + " x " + std::to_string(v.cols()));
        opt.values.assign(v.data(), v.data() + v.size());
        codes.clear();
    } else if (!o.plot.label_names.empty()) {
        opt.label_names = read_lines(o.plot.label_names);
    } else if (!codes.empty()) {
        concatenated_labels(o, &opt.label_names);
        // String labels that are all numbers (non-integers, or integer labels would have been codes) are values
        // (unless the command added codes of its own, as transform's -1 for the reference).
        std::vector<double> by_code;
        for (const auto& name : opt.label_names) {
            const auto v = number_in(name);
            if (!v) break;
            by_code.push_back(*v);
        }
        const bool all_named = std::all_of(codes.begin(), codes.end(), [&](std::int64_t c) {
            return c >= 0 && static_cast<std::size_t>(c) < by_code.size();
        });
        if (!opt.label_names.empty() && by_code.size() == opt.label_names.size() && all_named) {
            for (std::int64_t c : codes) opt.values.push_back(by_code[static_cast<std::size_t>(c)]);
            opt.values_name = "label";
            opt.label_names.clear();
            codes.clear();
        }
    }
    write_scatter(path, Y, codes, opt);
}

void say(const CommonOptions& o, const std::string& message) {
    if (!o.quiet) std::fprintf(stderr, "%s\n", message.c_str());
}

static std::string fmt_seconds(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f s", s);
    return buf;
}

Matrix<float> load_raw(const std::vector<std::string>& specs) {
    std::vector<Matrix<float>> parts;
    std::size_t rows = 0, cols = 0;
    for (const auto& spec : specs) {
        parts.push_back(load_matrix<float>(spec));
        if (parts.size() > 1 && parts.back().cols() != cols)
            throw InvalidArgument(spec + ": has " + std::to_string(parts.back().cols()) + " columns but " +
                                  specs.front() + " has " + std::to_string(cols));
        cols = parts.back().cols();
        rows += parts.back().rows();
    }
    Matrix<float> X;
    if (parts.size() == 1) {
        X = std::move(parts.front());
    } else {
        X = Matrix<float>(rows, cols);
        std::size_t r = 0;
        for (auto& p : parts) {
            std::copy(p.data(), p.data() + p.size(), X.row(r));
            r += p.rows();
        }
    }
    return X;
}

void check_h5ad_output_rows(const std::string& output, std::size_t n_points) {
    const FileSpec s = parse_spec(output);
    std::error_code ec;
    if (output.empty() || file_extension(s.path) != ".h5ad" || !std::filesystem::exists(s.path, ec)) return;
    const std::int64_t n = h5ad_n_obs(s.path);
    if (n >= 0 && static_cast<std::size_t>(n) != n_points)
        throw InvalidArgument("-o " + output + ": " + s.path + " has " + std::to_string(n) +
                              " observations but the input has " + std::to_string(n_points) + " points");
}

Matrix<float> load_inputs(const CommonOptions& o, Preprocessing* preprocessing) {
    Timer t;
    Matrix<float> X = load_raw(o.inputs);
    if (preprocessing) preprocessing->scale = o.scale;
    if (o.scale != 1.0) {
        const float inv = static_cast<float>(1.0 / o.scale);
        for (auto& v : X.storage()) v *= inv;
    }
    say(o, "loaded " + std::to_string(X.rows()) + " x " + std::to_string(X.cols()) + " in " + fmt_seconds(t.seconds()));
    check_h5ad_output_rows(o.output, X.rows());
    if (o.pca > 0 && o.pca < X.cols()) {
        t.reset();
        auto res = pca(X.view(), o.pca, o.n_threads());
        X = std::move(res.scores);
        if (preprocessing) {
            preprocessing->pca_mean = std::move(res.mean);
            preprocessing->pca_components = std::move(res.components);
        }
        say(o, "PCA to " + std::to_string(o.pca) + " components in " + fmt_seconds(t.seconds()));
    } else if (o.pca >= X.cols() && o.pca > 0) {
        warn("--pca " + std::to_string(o.pca) + " is not below the input dimension " + std::to_string(X.cols()) +
             "; PCA skipped");
    }
    return X;
}

namespace {
// Every label file's codes, concatenated; string labels recoded across the files.
std::vector<std::int64_t> concatenated_labels(const CommonOptions& o, std::vector<std::string>* names) {
    std::vector<std::int64_t> labels;
    std::vector<std::string> all_names;
    std::unordered_map<std::string, std::int64_t> code_of;
    bool strings = false;
    for (std::size_t f = 0; f < o.labels.size(); ++f) {
        LabelColumn part = load_labels_named(o.labels[f]);
        require(f == 0 || strings == !part.names.empty(),
                "labels: " + o.labels[f] + " has " + (strings ? "integer" : "string") + " labels, " + o.labels[0] +
                    " has " + (strings ? "string" : "integer") + " labels");
        strings = !part.names.empty();
        if (strings) {  // recode: each file numbers its strings from 0
            for (auto& c : part.codes) {
                const std::string& name = part.names[static_cast<std::size_t>(c)];
                auto [it, inserted] = code_of.emplace(name, static_cast<std::int64_t>(all_names.size()));
                if (inserted) all_names.push_back(name);
                c = it->second;
            }
        }
        labels.insert(labels.end(), part.codes.begin(), part.codes.end());
    }
    if (names) *names = std::move(all_names);
    return labels;
}
} // namespace

std::vector<std::int64_t> load_label_files(const CommonOptions& o, std::size_t n_points,
                                           std::vector<std::string>* names) {
    std::vector<std::int64_t> labels = concatenated_labels(o, names);
    if (!o.labels.empty() && labels.size() != n_points)
        throw InvalidArgument("labels: " + std::to_string(labels.size()) + " labels for " + std::to_string(n_points) +
                              " points");
    return labels;
}

ProgressBar::ProgressBar(bool enabled, std::string label, std::size_t total)
    : enabled_(enabled), label_(std::move(label)), total_(total ? total : 1) {}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::update(std::size_t done, const std::string& suffix) {
    if (!enabled_ || finished_) return;
    const int width = 30;
    int filled = static_cast<int>(width * std::min(done, total_) / total_);
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(width, '.');
    std::fprintf(stderr, "\r%-22s [%s] %zu/%zu %s\033[K", label_.c_str(), bar.c_str(), done, total_, suffix.c_str());
    std::fflush(stderr);
}

void ProgressBar::finish() {
    if (enabled_ && !finished_) {
        std::fprintf(stderr, "\r\033[K");
        std::fflush(stderr);
    }
    finished_ = true;
}

std::string error_text(const std::exception& e) {
    if (dynamic_cast<const std::bad_alloc*>(&e) != nullptr)
        return "out of memory: the run needs more memory than this process may use (fewer points, a smaller "
               "--perplexity or --n-neighbors, or more ranks under mpirun lower the need)";
    return e.what();
}

} // namespace nembed::cli
