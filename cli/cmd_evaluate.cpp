// nembed evaluate: quality metrics of an embedding; report_quality is shared with nembed tsne.
#include <cmath>
#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "common.hpp"
#include "outputs.hpp"
#include "quality.hpp"
#include "nembed/affinity/perplexity.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/timer.hpp"
#include "nembed/io/load.hpp"
#include "nembed/metrics/quality.hpp"
#include "nembed/neighbors/knn.hpp"

namespace nembed::cli {

namespace {
struct EvalSettings {
    std::size_t k = 10;
    std::size_t max_points = 10000;
    std::size_t n_pairs = 100000;
};
EvalSettings& settings() {
    static EvalSettings s;
    return s;
}
} // namespace

void report_quality(const CommonOptions& o, const QualityInputs& q, const std::string& json_path) {
    Timer t;
    QualityOptions opt;
    opt.k_recall = opt.k_accuracy = opt.k_trust = settings().k;
    opt.max_points = settings().max_points;
    opt.n_pairs = settings().n_pairs;
    opt.seed = o.seed;
    opt.n_threads = o.n_threads();
    QualityReport r = evaluate(q.X, q.Y, q.labels, q.P, opt);
    if (!o.quiet) {
        std::fprintf(stderr, "quality (%.1f s):\n%s\n", t.seconds(), r.to_string().c_str());
    }
    if (!json_path.empty()) {
        nlohmann::json j = {{"knn_recall", r.knn_recall},
                            {"trustworthiness", r.trustworthiness},
                            {"distance_spearman", r.distance_spearman},
                            {"k", settings().k}};
        if (r.knn_accuracy) j["knn_accuracy"] = *r.knn_accuracy;
        if (r.kl) j["kl_divergence"] = *r.kl;
        write_text(json_path, j.dump(2) + "\n");
    }
}

void register_evaluate(CLI::App& app) {
    auto o = std::make_shared<CommonOptions>();
    auto embedding = std::make_shared<std::string>();
    auto perplexity = std::make_shared<double>(0.0);
    auto* sub = app.add_subcommand(
        "evaluate", "Quality of an embedding: kNN recall, trustworthiness, kNN accuracy, distance Spearman, t-SNE KL");
    add_common_options(sub, *o, false);
    sub->get_option("-o")->description("Write the metrics as JSON to this file (.json)");
    sub->add_option("-e,--embedding", *embedding, "The embedding to score (N x d)")->required();
    sub->add_option("-k", settings().k, "Neighbourhood size of recall, trustworthiness and accuracy")
        ->capture_default_str();
    sub->add_option("--max-points", settings().max_points,
                    "Trustworthiness on a seeded subsample of this many points (0 = all)")
        ->capture_default_str();
    sub->add_option("--n-pairs", settings().n_pairs, "Sampled pairs for the distance Spearman correlation")
        ->capture_default_str();
    sub->add_option("--perplexity", *perplexity, "Also report the t-SNE KL under perplexity-based P (0 = off)")
        ->capture_default_str();
    sub->callback([o, embedding, perplexity] {
        configure_logging(*o);
        require(std::isfinite(*perplexity) && *perplexity >= 0,
                "--perplexity must be a positive number (or 0 for no KL), got " + CLI::detail::to_string(*perplexity));
        OutputSet out;
        out.add("-o", o->output, OutputKind::json);
        auto X = load_inputs(*o);
        auto Y = load_matrix<double>(*embedding);
        require(Y.rows() == X.rows(), "the embedding has " + std::to_string(Y.rows()) + " rows but the data has " +
                                          std::to_string(X.rows()));
        auto labels = load_label_files(*o, X.rows());
        CsrMatrix<double> P;
        if (*perplexity > 0) {
            double perp = clamp_perplexity(X.rows(), *perplexity);
            KnnOptions kopt;
            kopt.n_threads = o->n_threads();
            kopt.seed = o->seed;
            auto g = find_neighbors(X.view(), perplexity_neighbors(X.rows(), perp), kopt);
            PerplexityOptions popt;
            popt.perplexity = perp;
            popt.n_threads = o->n_threads();
            P = perplexity_affinities(g, popt);
        }
        QualityInputs q{X.view(), Y.view(), labels.empty() ? nullptr : &labels, *perplexity > 0 ? &P : nullptr};
        report_quality(*o, q, o->output.empty() ? "" : out.staged(o->output));
        out.commit();
    });
}

} // namespace nembed::cli
