#include "common.hpp"

#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include "nembed/core/error.hpp"
#include "nembed/core/log.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/core/timer.hpp"
#include "nembed/init/pca.hpp"
#include "nembed/io/file.hpp"
#include "nembed/io/h5ad.hpp"
#include "nembed/io/load.hpp"

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

void add_method_outputs(CLI::App* app, std::string& plot, std::string& metrics_json, std::string& timings_json) {
    app->add_option("--plot", plot, "Write a PNG scatter plot (coloured by --labels)");
    app->add_option("--metrics", metrics_json, "Write the quality metrics as JSON");
    app->add_option("--timings", timings_json, "Write per-phase timings as JSON");
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

std::vector<std::int64_t> load_label_files(const CommonOptions& o, std::size_t n_points,
                                           std::vector<std::string>* names) {
    std::vector<std::int64_t> labels;
    std::vector<LabelColumn> parts;
    bool named = !o.labels.empty();
    for (const auto& spec : o.labels) {
        parts.push_back(load_labels_named(spec));
        named = named && !parts.back().names.empty();
    }
    if (names) names->clear();
    if (named && parts.size() > 1) {  // each file numbers its own names: one code per name across the files
        std::map<std::string, std::int64_t> code;
        for (auto& part : parts)
            for (auto& c : part.codes) {
                const std::string& name = part.names[static_cast<std::size_t>(c)];
                auto [it, added] = code.emplace(name, static_cast<std::int64_t>(code.size()));
                if (added && names) names->push_back(name);
                c = it->second;
            }
    } else if (named && names) {
        *names = parts.front().names;
    }
    for (const auto& part : parts) labels.insert(labels.end(), part.codes.begin(), part.codes.end());
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

} // namespace nembed::cli
