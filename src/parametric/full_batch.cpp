#include "nembed/parametric/full_batch.hpp"

#include <cmath>
#include <memory>

#include "nembed/core/error.hpp"
#include "nembed/methods/neighbor_embedding.hpp"
#include "nembed/methods/torchdr_umap.hpp"

namespace nembed::paradime {

void validate(const FullBatchOptions& o) {
    if (o.iterations == 0) return;
    require(o.iterations > 0, "full_batch: iterations must be >= 0, got " + std::to_string(o.iterations));
    require(std::isfinite(o.learning_rate) && o.learning_rate > 0,
            "full_batch: learning_rate must be positive, got " + std::to_string(o.learning_rate));
    require(o.method == "tsne" || o.method == "umap",
            "full_batch: method must be 'tsne' or 'umap', got '" + o.method + "'");
    require(std::isfinite(o.input_noise) && o.input_noise >= 0,
            "full_batch: input_noise must be >= 0, got " + std::to_string(o.input_noise));
    validate(o.transform_consistency);
}

namespace {

// The encoder's settings shared by both methods: one batch of every point, Adam at the given rate, the start
// network continued.
void set_encoder(NeighborEmbeddingOptions& t, MatrixView<float> X, const Mlp& start, const FullBatchOptions& o,
                 std::uint64_t seed, int n_threads, bool verbose) {
    t.n_components = start.n_outputs();
    t.max_iter = o.iterations;
    t.random_state = seed;
    t.n_threads = n_threads;
    t.verbose = verbose;
    t.encoder.enabled = true;
    t.encoder.batch_size = X.rows;
    t.encoder.learning_rate = o.learning_rate;
    t.encoder.optimizer = "Adam";
    t.encoder.initial_network = std::make_shared<const Mlp>(start);
    t.encoder.input_noise = o.input_noise;
    t.encoder.transform_consistency = o.transform_consistency;
}

} // namespace

Mlp train_full_batch(MatrixView<float> X, const Mlp& start, const FullBatchOptions& o, std::uint64_t seed,
                     int n_threads, bool verbose) {
    validate(o);
    require(o.iterations > 0, "full_batch: iterations must be > 0");
    NeResult r;
    if (o.method == "tsne") {
        torchdr::TSNEOptions t;
        set_encoder(t, X, start, o, seed, n_threads, verbose);
        t.backend = NeBackend::fft;  // O(n) repulsion: the exact gradient's quality at every point
        t.perplexity = o.perplexity;
        t.early_exaggeration_coeff = o.early_exaggeration;
        t.early_exaggeration_iter = o.early_exaggeration_iter;
        r = torchdr::TSNE(t).fit_transform(X);
    } else {
        torchdr::UMAPOptions t;
        set_encoder(t, X, start, o, seed, n_threads, verbose);
        t.n_neighbors = o.n_neighbors;
        t.min_dist = o.min_dist;
        t.spread = o.spread;
        r = torchdr::UMAP(t).fit_transform(X);
    }
    return *r.network;
}

} // namespace nembed::paradime
