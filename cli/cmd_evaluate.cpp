// nembed evaluate: quality metrics of an embedding; report_quality is shared with nembed tsne.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <optional>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "common.hpp"
#include "outputs.hpp"
#include "quality.hpp"
#include "nembed/affinity/perplexity.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/timer.hpp"
#include "nembed/io/load.hpp"
#include "nembed/metrics/kmeans.hpp"
#include "nembed/metrics/knn_labels.hpp"
#include "nembed/metrics/neighborhood_preservation.hpp"
#include "nembed/metrics/quality.hpp"
#include "nembed/metrics/reference_quality.hpp"
#include "nembed/metrics/silhouette.hpp"
#include "nembed/neighbors/knn.hpp"

namespace nembed::cli {

namespace {
struct EvalSettings {
    std::size_t k = 10;
    std::size_t max_points = 10000;
    std::size_t n_pairs = 100000;
    // TorchDR's evaluation scores (evaluate only; off by default, so nembed tsne's report is unchanged)
    bool silhouette = false;
    std::string silhouette_metric = "euclidean";
    std::size_t silhouette_sample_size = 0;
    bool kmeans_ari = false;
    std::size_t kmeans_niter = 20, kmeans_nredo = 1;
    bool knn_label_accuracy = false;
    std::size_t neighborhood_preservation = 0;  // K; 0 = off
    // Held-out points against a reference map (evaluate only): the reference's data, embedding and labels, and
    // the scores once computed (reported with the rest).
    std::string reference, reference_embedding, reference_labels;
    std::optional<ReferenceQuality> reference_quality;
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
    const EvalSettings& s = settings();
    const bool needs_labels = s.silhouette || s.kmeans_ari || s.knn_label_accuracy;
    require(!needs_labels || q.labels != nullptr,
            "--silhouette, --kmeans-ari and --knn-label-accuracy need --labels");
    const SilhouetteMetric sil_metric = parse_silhouette_metric(s.silhouette_metric);
    require(sil_metric != SilhouetteMetric::precomputed,
            "--silhouette-metric: 'precomputed' is not available here (the embedding is a point set)");
    QualityReport r = evaluate(q.X, q.Y, q.labels, q.P, opt);
    // TorchDR's scores, computed on the embedding (neighbourhood preservation: data against embedding).
    nlohmann::json extra = nlohmann::json::object();
    std::string lines;
    auto add = [&](const char* name, double v) {
        extra[name] = v;
        char buf[96];
        std::snprintf(buf, sizeof buf, "\n%s: %.4f", name, v);
        lines += buf;
    };
    if (s.silhouette)
        add("silhouette", silhouette_score(q.Y, *q.labels, nullptr, sil_metric, s.silhouette_sample_size, o.seed,
                                           o.n_threads()));
    if (s.kmeans_ari) {
        KMeansOptions ko;
        ko.niter = s.kmeans_niter;
        ko.nredo = s.kmeans_nredo;
        ko.seed = o.seed;
        ko.n_threads = o.n_threads();
        add("kmeans_ari", kmeans_ari(q.Y, *q.labels, ko).ari);
    }
    if (s.knn_label_accuracy)
        add("knn_label_accuracy", knn_label_accuracy(q.Y, *q.labels, s.k, true, o.n_threads()));
    if (s.neighborhood_preservation > 0)
        add("neighborhood_preservation", neighborhood_preservation(q.X, q.Y, s.neighborhood_preservation,
                                                                   o.n_threads()));
    if (s.reference_quality) {
        add("reference_knn_recall", s.reference_quality->knn_recall);
        if (s.reference_quality->knn_accuracy) add("reference_knn_accuracy", *s.reference_quality->knn_accuracy);
    }
    if (!o.quiet) {
        std::fprintf(stderr, "quality (%.1f s):\n%s%s\n", t.seconds(), r.to_string().c_str(), lines.c_str());
    }
    if (!json_path.empty()) {
        nlohmann::json j = {{"knn_recall", r.knn_recall},
                            {"trustworthiness", r.trustworthiness},
                            {"distance_spearman", r.distance_spearman},
                            {"k", settings().k}};
        if (r.knn_accuracy) j["knn_accuracy"] = *r.knn_accuracy;
        if (r.kl) j["kl_divergence"] = *r.kl;
        if (s.neighborhood_preservation > 0) j["neighborhood_preservation_K"] = s.neighborhood_preservation;
        j.update(extra);
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
    sub->add_flag("--silhouette", settings().silhouette,
                  "Also report TorchDR's silhouette_score of the embedding against --labels");
    sub->add_option("--silhouette-metric", settings().silhouette_metric,
                    "Distance of the silhouette: euclidean, manhattan, hyperbolic")
        ->capture_default_str();
    sub->add_option("--silhouette-sample-size", settings().silhouette_sample_size,
                    "Silhouette on a seeded subsample of this many points (0 = all; O(N^2))")
        ->capture_default_str();
    sub->add_flag("--kmeans-ari", settings().kmeans_ari,
                  "Also report TorchDR's kmeans_ari: k-means (k = number of labels) against --labels");
    sub->add_option("--niter", settings().kmeans_niter, "Lloyd iterations of --kmeans-ari")->capture_default_str();
    sub->add_option("--nredo", settings().kmeans_nredo, "k-means restarts of --kmeans-ari (the best is kept)")
        ->capture_default_str();
    sub->add_flag("--knn-label-accuracy", settings().knn_label_accuracy,
                  "Also report TorchDR's knn_label_accuracy (fraction of the k neighbours sharing the label)");
    sub->add_option("--neighborhood-preservation", settings().neighborhood_preservation,
                    "Also report TorchDR's neighborhood_preservation with this K, on all points (0 = off)")
        ->capture_default_str();
    sub->add_option("--reference", settings().reference,
                    "Also score the points against a reference map (held-out points against the training map): the "
                    "reference data; reference_knn_recall = overlap of each point's k nearest reference points in the "
                    "data and in the embedding")
        ->check(CLI::ExistingFile);
    sub->add_option("--reference-embedding", settings().reference_embedding,
                    "The reference points' embedding (with --reference)")
        ->check(CLI::ExistingFile);
    sub->add_option("--reference-labels", settings().reference_labels,
                    "The reference points' labels (with --reference and --labels): reference_knn_accuracy = the "
                    "reference embedding's k-NN classifier predicting the points' labels")
        ->check(CLI::ExistingFile);
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
        EvalSettings& es = settings();
        require(es.reference.empty() == es.reference_embedding.empty(),
                "--reference and --reference-embedding go together");
        require(es.reference_labels.empty() || !es.reference.empty(), "--reference-labels needs --reference");
        require(es.reference_labels.empty() == labels.empty() || es.reference.empty(),
                "with --reference, --labels and --reference-labels go together");
        es.reference_quality.reset();
        if (!es.reference.empty()) {
            const auto Xr = load_matrix<float>(es.reference);
            const auto Yr = load_matrix<double>(es.reference_embedding);
            std::vector<std::int64_t> lr;
            if (!es.reference_labels.empty()) lr = load_labels(es.reference_labels);
            es.reference_quality = evaluate_against_reference(Xr.view(), Yr.view(), X.view(), Y.view(), es.k,
                                                              lr.empty() ? nullptr : &lr,
                                                              labels.empty() ? nullptr : &labels, o->n_threads());
        }
        QualityInputs q{X.view(), Y.view(), labels.empty() ? nullptr : &labels, *perplexity > 0 ? &P : nullptr};
        report_quality(*o, q, o->output.empty() ? "" : out.staged(o->output));
        out.commit();
    });
}

} // namespace nembed::cli
