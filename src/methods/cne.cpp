// Contrastive neighbour embeddings (methods/cne.hpp).
#include "nembed/methods/cne.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <limits>

#include "nembed/core/error.hpp"
#include "nembed/core/interrupt.hpp"
#include "nembed/core/log.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/core/timer.hpp"
#include "nembed/init/pca.hpp"
#include "nembed/init/rescale.hpp"
#include "nembed/init/user.hpp"
#include "nembed/optim/adam.hpp"
#include "nembed/optim/sgd.hpp"
#include "nembed/repulsion/negative_sampling.hpp"
#include "../loss/contrastive_fused.hpp"
#include "bucket_shuffle.hpp"
#include "fixed_point.hpp"

namespace nembed {

CneOptimizer parse_cne_optimizer(const std::string& name) {
    std::string s = name;
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (s == "sgd") return CneOptimizer::sgd;
    if (s == "adam") return CneOptimizer::adam;
    throw InvalidArgument("unknown optimizer '" + name + "' (expected sgd or adam)");
}
std::string to_string(CneOptimizer o) { return o == CneOptimizer::sgd ? "sgd" : "adam"; }

void validate(const CneOptions& o, std::size_t n, bool knn_graph) {
    require(o.k >= 1, "k must be >= 1");
    require(n == 0 || !knn_graph || o.k < n,
            "k (" + std::to_string(o.k) + ") must be smaller than the number of points (" + std::to_string(n) + ")");
    require(o.n_components >= 1, "embd_dim / n_components must be >= 1");
    require(!o.s || std::isfinite(*o.s), "s must be finite");
    require(!o.Z_bar || (std::isfinite(*o.Z_bar) && *o.Z_bar > 0), "Z_bar must be positive");
    require(!o.neg_spec || (std::isfinite(*o.neg_spec) && *o.neg_spec > 0), "neg_spec must be positive");
    require(!o.ince_spec || (std::isfinite(*o.ince_spec) && *o.ince_spec > 0), "ince_spec must be positive");
    require(o.negative_samples == -1 || o.negative_samples >= 1,
            "negative_samples must be >= 1, or -1 for full-batch repulsion");
    require(o.batch_size >= 1, "batch_size must be >= 1");
    require(o.n_epochs >= 0, "n_epochs must be >= 0");
    require(!o.learning_rate || (std::isfinite(*o.learning_rate) && *o.learning_rate > 0),
            "learning_rate must be positive");
    require(std::isfinite(o.lr_min_factor) && o.lr_min_factor >= 0, "lr_min_factor must be >= 0");
    require(o.warmup_epochs >= 0 && (o.n_epochs == 0 || o.warmup_epochs < o.n_epochs),
            "warmup_epochs must be in [0, n_epochs)");
    require(std::isfinite(o.warmup_lr) && o.warmup_lr >= 0, "warmup_lr must be >= 0");
    require(std::isfinite(o.momentum) && o.momentum >= 0 && o.momentum < 1, "momentum must be in [0, 1)");
    require(std::isfinite(o.weight_decay) && o.weight_decay >= 0, "weight_decay must be >= 0");
    require(std::isfinite(o.temperature) && o.temperature > 0, "temperature must be positive");
    require(std::isfinite(o.eps) && o.eps >= 0, "eps must be >= 0");
    require(std::isfinite(o.Z) && o.Z > 0, "Z must be positive");
    require(o.save_freq >= 0, "save_freq must be >= 0");
    require(o.n_jobs != 0, "n_jobs must be a positive integer or negative (-1 = all cores), got 0");
    if (o.init == CneInit::user) {
        require(o.initial_embedding.cols() == o.n_components, "the initial embedding has " +
                                                                  std::to_string(o.initial_embedding.cols()) +
                                                                  " columns, n_components is " +
                                                                  std::to_string(o.n_components));
        require(n == 0 || o.initial_embedding.rows() == n, "the initial embedding has " +
                                                               std::to_string(o.initial_embedding.rows()) +
                                                               " rows, the data " + std::to_string(n));
        require_finite(o.initial_embedding.view(), "initial embedding");
        check_init_spread(o.initial_embedding.view(), "the initial embedding");
    }
}

CneSpectrum resolve_spectrum(const CneOptions& o, std::size_t n_points, std::size_t m) {
    CneSpectrum r;
    const double n = static_cast<double>(n_points), md = static_cast<double>(m);
    std::optional<double> s = o.s;
    if (o.loss_mode == ContrastiveMode::neg) {
        auto xi_of = [&](double sv) {
            const double z_tsne = 100.0 * n, z_umap = n * n / md;
            const double zbar = z_tsne * std::exp(sv * (std::log(z_umap) - std::log(z_tsne)));
            return md * zbar / (n * n);
        };
        if (s) {
            r.spec = xi_of(*s);
        } else if (o.Z_bar) {
            r.spec = md * *o.Z_bar / (n * n);
        } else if (o.neg_spec) {
            r.spec = *o.neg_spec;
        } else {
            r.spec = 1.0;
        }
        r.spec_early = r.spec;
        if (s && o.early_exaggeration) {
            r.spec_early = xi_of(std::max(*s, 1.0));
            r.early_epochs = o.n_epochs / 3;
        }
    } else if (o.loss_mode == ContrastiveMode::infonce || o.loss_mode == ContrastiveMode::infonce_alt) {
        if (!s && !o.ince_spec) s = 0.0;  // cne's default InfoNCE: s = 0 (ρ = 1), exaggerated start
        r.spec = s ? std::pow(4.0, *s) : *o.ince_spec;
        r.spec_early = r.spec;
        if (s && o.early_exaggeration && o.loss_mode == ContrastiveMode::infonce) {
            r.spec_early = std::pow(4.0, std::max(*s, 1.0));
            r.early_epochs = o.n_epochs / 3;
        }
    }
    return r;
}

CsrMatrix<double> binary_symmetric_graph(const KnnGraph& knn) {
    std::vector<Triplet<double>> t;
    t.reserve(2 * knn.n_points * knn.k);
    for (std::size_t i = 0; i < knn.n_points; ++i)
        for (std::size_t j = 0; j < knn.k; ++j) {
            const index_t nb = knn.neighbors(i)[j];
            if (static_cast<std::size_t>(nb) == i) continue;
            t.push_back({static_cast<index_t>(i), nb, 1.0});
            t.push_back({nb, static_cast<index_t>(i), 1.0});
        }
    CsrMatrix<double> g = csr_from_triplets(knn.n_points, knn.n_points, std::move(t));
    for (double& v : g.values) v = 1.0;  // duplicates were summed
    return g;
}

namespace {
using detail::FusedChunkFn;
using detail::FusedParams;
using detail::HeadLoss;
using detail::fused_chunk;

Matrix<double> cne_init(const CneOptions& o, MatrixView<float> X, std::size_t n, int n_threads) {
    if (o.init == CneInit::user) return o.initial_embedding;
    if (o.init == CneInit::random) {
        Matrix<double> Y(n, o.n_components);
        for (std::size_t i = 0; i < n; ++i) {
            Rng rng(o.seed, sampling_stream(SamplingFamily::cne_shuffle, ~0ull, i));
            for (std::size_t k = 0; k < o.n_components; ++k) Y(i, k) = rng.normal();
        }
        return Y;
    }
    require(X.rows == n, "CNE: PCA initialisation needs the data (or pass an initial embedding)");
    require(o.n_components <= X.cols, "CNE: PCA initialisation needs n_components <= number of features");
    auto r = pca(X, o.n_components, n_threads);
    Matrix<double> Y = convert<double>(r.scores.view());
    rescale(Y, 1.0);  // cne: divide by the std of PC1
    return Y;
}

// ---- the batch step ----
// A batch's heads are cut into chunks of a fixed size that depends on the problem only, never on the thread count.
// Per chunk (in parallel) every head draws its negatives from the chunk's own counter-based stream, and its m + 2
// gradient contributions [head, partner, negatives...] are added, in 64-bit fixed point (fixed_point.hpp), to the
// point accumulator of the worker that runs the chunk. Integer sums do not depend on their order, so the batch
// gradient is the same bits however the chunks were spread over threads, and each worker's additions stay in its
// own cache. Then the workers' accumulators are summed per point (and cleared), clipped and, for SGD, stepped.

// Compiled for AVX-512, AVX2 and the baseline and picked at run time: the loops below vectorise, and the per-point
// pass runs once per batch over every point. Integer sums, exact scaling and the same operations in each lane:
// every variant gives the same bits.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define NEMBED_CNE_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NEMBED_CNE_CLONES
#endif

// Coordinates [i0, i1): the workers' accumulators summed and cleared, converted from fixed point, clipped to
// [-clip, clip] (clip = inf: no clipping), then either stepped (y -= lr * g; y non-null) or added to G.
NEMBED_CNE_CLONES void finish_coordinates(std::int64_t* const* acc, std::size_t n_acc, std::size_t i0, std::size_t i1,
                                          const detail::FixedPoint& fx, double clip, double lr, double* y, double* G) {
    auto grad = [&](std::int64_t sum) { return std::clamp(fx.to_double(sum), -clip, clip); };
    if (n_acc == 2) {  // the common case (two threads): two streams, no pointer loop
        std::int64_t* a0 = acc[0];
        std::int64_t* a1 = acc[1];
        if (y) {
            for (std::size_t i = i0; i < i1; ++i) {
                const double g = grad(a0[i] + a1[i]);
                a0[i] = 0;
                a1[i] = 0;
                y[i] -= lr * g;
            }
        } else {
            for (std::size_t i = i0; i < i1; ++i) {
                G[i] += grad(a0[i] + a1[i]);
                a0[i] = 0;
                a1[i] = 0;
            }
        }
        return;
    }
    for (std::size_t i = i0; i < i1; ++i) {
        std::int64_t sum = 0;
        for (std::size_t w = 0; w < n_acc; ++w) {
            sum += acc[w][i];
            acc[w][i] = 0;
        }
        const double g = grad(sum);
        if (y) {
            y[i] -= lr * g;
        } else {
            G[i] += g;
        }
    }
}

// One worker's scratch (reused across batches: the loop must not allocate).
struct ChunkScratch {
    std::vector<double> kernel, g;  // kernel: the fused kernels' scratch
    std::vector<const double*> others;
    std::vector<double*> gout;
    std::vector<std::uint32_t> pts;  // per head of the chunk: its m + 2 points
};
} // namespace

CneResult CNE::fit(MatrixView<float> X) const {
    const auto& o = options_;
    validate(o, X.rows);
    require(X.rows >= 2 && X.cols >= 1, "CNE needs at least 2 points with at least 1 feature");
    require_finite(X, "input data");
    Timer t;
    KnnOptions ko;
    ko.method = o.neighbors;
    ko.metric = o.input_metric;
    ko.n_threads = resolve_threads(o.n_jobs);
    ko.seed = o.seed;
    KnnGraph knn = find_neighbors(X, o.k, ko);
    const double t_knn = t.seconds();
    t.reset();
    CsrMatrix<double> g = binary_symmetric_graph(knn);
    const double t_graph = t.seconds();
    CneResult r = fit(g, X);
    r.timings.knn = t_knn;
    r.timings.graph = t_graph;
    return r;
}

CneResult CNE::fit(const CsrMatrix<double>& graph_in, MatrixView<float> X) const {
    const auto& o = options_;
    const std::size_t n = graph_in.n_rows;
    graph_in.validate("CNE graph");
    require(graph_in.n_rows == graph_in.n_cols, "CNE graph must be square");
    validate(o, n, false);
    require(n >= 2, "CNE needs at least 2 points");
    const int n_threads = resolve_threads(o.n_jobs);
    const std::size_t d = o.n_components;

    // The directed edges: the graph's non-zeros off the diagonal.
    std::vector<index_t> heads, tails;
    for (std::size_t i = 0; i < n; ++i)
        for (offset_t p = graph_in.indptr[i]; p < graph_in.indptr[i + 1]; ++p) {
            require_lazy(graph_in.values[p] >= 0, [] { return std::string("CNE graph: negative weight"); });
            if (graph_in.values[p] == 0 || static_cast<std::size_t>(graph_in.indices[p]) == i) continue;
            heads.push_back(static_cast<index_t>(i));
            tails.push_back(graph_in.indices[p]);
        }
    const std::size_t n_edges = heads.size();
    require(n_edges >= 1, "CNE graph has no edges");

    CneResult res;
    res.graph = graph_in;
    Timer t;
    Matrix<double> Y = cne_init(o, X, n, n_threads);
    require(Y.rows() == n && Y.cols() == d, "CNE: initial embedding has the wrong shape");
    res.timings.init = t.seconds();
    t.reset();

    const std::size_t B = std::min(o.batch_size, n_edges);
    // cne keeps the last partial batch (its loader's drop_last is False): B_last edges, at most m negatives per head
    const std::size_t n_batches = (n_edges + B - 1) / B, B_last = n_edges - (n_batches - 1) * B;
    const std::size_t two_b = 2 * B;
    require(two_b < (std::size_t(1) << 32), "CNE: batch_size must be below 2^31 (slots are 32-bit)");
    const bool full_batch = o.negative_samples < 0 || static_cast<std::size_t>(o.negative_samples) + 2 >= two_b;
    const std::size_t m = full_batch ? (two_b >= 2 ? two_b - 2 : 0) : static_cast<std::size_t>(o.negative_samples);
    require(m >= 1, "CNE: a batch of " + std::to_string(B) + " edges leaves no negative samples");
    require(static_cast<double>(B) * static_cast<double>(m + 2) * static_cast<double>(d) <= 4e8,
            "CNE: full-batch repulsion with batch_size " + std::to_string(B) +
                " needs too much memory; use fewer negative_samples or a smaller batch_size");
    res.spectrum = resolve_spectrum(o, n, std::max<std::size_t>(m, 1));

    ContrastiveLossParams lp;
    lp.mode = o.loss_mode;
    lp.metric = o.metric;
    lp.eps = o.eps;
    lp.temperature = o.temperature;
    lp.clamp_low = o.clamp_low.value_or(o.metric == ContrastiveMetric::euclidean ? 1e-4 : -INFINITY);
    lp.clamp_high = o.clamp_high.value_or(o.metric == ContrastiveMetric::euclidean ? 1.0 : INFINITY);
    lp.nce_m = std::max<std::size_t>(m, 1);
    lp.log_Z = std::log(o.Z);
    lp.spec = res.spectrum.spec;
    validate(lp);

    LrSchedule sched;
    sched.learning_rate = o.learning_rate.value_or(1.0);
    sched.anneal = o.anneal_lr;
    sched.min_factor = o.lr_min_factor;
    sched.warmup_epochs = o.warmup_epochs;
    sched.warmup_lr = o.warmup_lr;
    sched.total_epochs = std::max(1, o.n_epochs);
    sched.validate();
    Sgd sgd({o.momentum, o.weight_decay}), sgd_z({o.momentum, 0.0});
    Adam adam({0.9, 0.999, 1e-8, o.weight_decay}), adam_z({0.9, 0.999, 1e-8, 0.0});

    require(n <= 0xffffffffu, "CNE: at most 2^32 - 1 points (point indices in a batch are 32-bit)");
    // The edges packed as head·2^32 + tail: shuffling them directly gives the batches without a gather.
    std::vector<std::uint64_t> edges(n_edges), shuffled(n_edges);
    for (std::size_t e = 0; e < n_edges; ++e)
        edges[e] = (static_cast<std::uint64_t>(static_cast<std::uint32_t>(heads[e])) << 32) |
                   static_cast<std::uint32_t>(tails[e]);
    const double clip = 4.0;

    // Layout of a batch (see "the batch step" above): chunks of `per_chunk` heads. A full batch has B heads with m
    // negatives each; the last one B_last heads with min(m, 2·B_last − 2) (full-batch: 2·B_last − 2), as cne.
    struct Shape {
        std::size_t b, two_b, m, per_head, per_chunk, n_chunks;
        bool all;  // every other slot of the batch is a negative (full-batch, or a last batch too small for m)
        FusedChunkFn fused;
    };
    auto shape_of = [&](std::size_t b) {
        Shape sh;
        sh.b = b;
        sh.two_b = 2 * b;
        sh.m = full_batch ? sh.two_b - 2 : std::min(m, sh.two_b - 2);
        sh.all = sh.m == sh.two_b - 2;
        sh.per_head = sh.m + 2;  // contributions per head: head, partner, m negatives
        sh.per_chunk = std::clamp<std::size_t>(32768 / sh.per_head, 1, 512);
        sh.n_chunks = (b + sh.per_chunk - 1) / sh.per_chunk;
        sh.fused = fused_chunk(lp, d, sh.m + 1);
        return sh;
    };
    const Shape full_shape = shape_of(B), last_shape = shape_of(B_last);
    const detail::FixedPoint fx(static_cast<double>(B) * static_cast<double>(full_shape.per_head));
    const std::size_t n_workers = static_cast<std::size_t>(std::max(1, n_threads));
    std::vector<std::uint32_t> slots(n_batches * two_b);  // this epoch's batches: slot → point
    // Per worker, a point accumulator — at most 16, taking at most 256 MiB together; beyond that workers share them
    // (worker w uses w mod n_acc) and add atomically (integer sums: the same bits).
    const std::size_t acc_bytes = n * d * sizeof(std::int64_t);
    const std::size_t n_acc =
        std::clamp<std::size_t>((std::size_t(256) << 20) / acc_bytes, 1, std::min<std::size_t>(n_workers, 16));
    const bool shared_acc = n_acc < n_workers;
    std::vector<std::vector<std::int64_t>> acc(n_acc, std::vector<std::int64_t>(n * d, 0));
    std::vector<double> chunk_loss(full_shape.n_chunks), head_dlogz(o.loss_mode == ContrastiveMode::nce ? B : 0);
    std::vector<ChunkScratch> scratch(n_workers);
    // SGD without momentum and weight decay is p ← p − lr·g: applied per point right after its gradient is complete
    // (the same arithmetic as Sgd::step). Otherwise the optimizer steps over the dense gradient G afterwards.
    const bool fused_sgd = o.optimizer == CneOptimizer::sgd && o.momentum == 0.0 && o.weight_decay == 0.0;
    std::vector<double> G(fused_sgd ? 0 : n * d, 0.0);
    const std::uint64_t owner_mul = (static_cast<std::uint64_t>(n_workers) << 32) / n;
    auto owner = [owner_mul](std::uint32_t p) { return static_cast<std::size_t>((p * owner_mul) >> 32); };

    // Per chunk c of batch bi: every head's points (negatives drawn), loss and gradient contributions, added to the
    // worker's accumulator a.
    auto run_chunk = [&](ChunkScratch& sc, std::int64_t* a, std::size_t c, std::size_t bi, int epoch,
                         const std::uint32_t* sp, const Shape& sh) {
        const std::size_t B = sh.b, two_b = sh.two_b, m = sh.m, per_head = sh.per_head;
        const FusedChunkFn fused = sh.fused;
        const std::size_t h0 = c * sh.per_chunk, h1 = std::min(B, h0 + sh.per_chunk);
        const FusedParams fp = detail::fused_params(lp);
        sc.pts.resize((h1 - h0) * per_head);
        if (!fused) {
            sc.others.resize(m + 1);
            sc.gout.resize(m + 1);
        }
        std::uint32_t* chunk_pts = sc.pts.data();
        if (sh.all) {
            for (std::size_t h = h0; h < h1; ++h) {
                std::uint32_t* pts = chunk_pts + (h - h0) * per_head;
                pts[0] = sp[h];
                pts[1] = sp[B + h];
                std::size_t t2 = 2;
                for (std::size_t s = 0; s < two_b; ++s)
                    if (s != h && s != B + h) pts[t2++] = sp[s];
            }
        } else {
            // First every negative's slot (drawn from the chunk's stream, its slot entry prefetched), then slot →
            // point: the random reads of `slots` then overlap instead of stalling one after another.
            InBatchSampler sampler(o.seed,
                                   sampling_stream(SamplingFamily::cne_negatives, static_cast<std::uint64_t>(epoch),
                                                   bi * full_shape.n_chunks + c),
                                   two_b);
            for (std::size_t h = h0; h < h1; ++h) {
                std::uint32_t* pts = chunk_pts + (h - h0) * per_head;
                pts[0] = sp[h];
                pts[1] = sp[B + h];
                for (std::size_t t2 = 0; t2 < m; ++t2) {
                    const std::size_t s = sampler.draw(h);
                    __builtin_prefetch(sp + s);
                    pts[2 + t2] = static_cast<std::uint32_t>(s);
                }
            }
            for (std::size_t h = h0; h < h1; ++h) {
                std::uint32_t* pts = chunk_pts + (h - h0) * per_head;
                for (std::size_t t2 = 0; t2 < m; ++t2) pts[2 + t2] = sp[pts[2 + t2]];
            }
        }
        HeadLoss acc_loss;
        const std::size_t n_entries = (h1 - h0) * per_head;
        sc.g.resize(n_entries * d);
        if (fused) {
            double* dlogz = head_dlogz.empty() ? nullptr : head_dlogz.data() + h0;
            fused(fp, Y.data(), chunk_pts, h1 - h0, m + 1, sc.g.data(), dlogz, acc_loss, sc.kernel);
        } else {
            constexpr std::size_t ahead = 4;  // heads whose positions are prefetched
            for (std::size_t h = h0; h < h1; ++h) {
                const std::uint32_t* pts = chunk_pts + (h - h0) * per_head;
                double* g = sc.g.data() + (h - h0) * per_head * d;
                if (h + ahead < h1 && !sh.all)
                    for (std::size_t t2 = 0; t2 < per_head; ++t2)
                        __builtin_prefetch(Y.row(pts[ahead * per_head + t2]));
                double dz = 0;
                std::fill(g, g + per_head * d, 0.0);
                for (std::size_t t2 = 0; t2 <= m; ++t2) {
                    sc.others[t2] = Y.row(pts[1 + t2]);
                    sc.gout[t2] = g + (1 + t2) * d;
                }
                acc_loss.sum +=
                    contrastive_head_loss(lp, d, Y.row(pts[0]), sc.others.data(), m + 1, g, sc.gout.data(), &dz);
                if (!head_dlogz.empty()) head_dlogz[h] = dz;
            }
        }
        // The chunk's contributions into the worker's accumulator: independent random additions in one tight loop
        // (interleaved with the kernels they would wait on each other).
        const double* g = sc.g.data();
        constexpr std::size_t ahead_acc = 48;
        if (shared_acc) {
            for (std::size_t e = 0; e < n_entries; ++e) {
                std::int64_t* ap = a + std::size_t(chunk_pts[e]) * d;
                for (std::size_t k = 0; k < d; ++k)
                    std::atomic_ref<std::int64_t>(ap[k]).fetch_add(fx.to_fixed(g[e * d + k]),
                                                                   std::memory_order_relaxed);
            }
        } else if (d == 2) {
            for (std::size_t e = 0; e < n_entries; ++e) {
                if (e + ahead_acc < n_entries) __builtin_prefetch(a + std::size_t(chunk_pts[e + ahead_acc]) * 2, 1);
                fx.add_fixed2(a + std::size_t(chunk_pts[e]) * 2, g + 2 * e);
            }
        } else {
            for (std::size_t e = 0; e < n_entries; ++e) {
                std::int64_t* ap = a + std::size_t(chunk_pts[e]) * d;
                for (std::size_t k = 0; k < d; ++k) ap[k] += fx.to_fixed(g[e * d + k]);
            }
        }
        chunk_loss[c] = detail::head_loss_total(lp, acc_loss);
    };

    // Coordinates [i0, i1) (of points p·d + k): the workers' accumulators summed (and cleared), clipped by value,
    // then stepped (fused SGD) or stored in G. A point whose sum was already taken (it holds several slots of the
    // batch) gets a zero step.
    std::vector<std::int64_t*> acc_ptr(n_acc);
    for (std::size_t w = 0; w < n_acc; ++w) acc_ptr[w] = acc[w].data();
    const double clip_at = o.clip_grad ? clip : std::numeric_limits<double>::infinity();
    auto finish = [&](std::size_t i0, std::size_t i1, double lr) {
        finish_coordinates(acc_ptr.data(), n_acc, i0, i1, fx, clip_at, lr, fused_sgd ? Y.data() : nullptr, G.data());
    };

    // Epoch e's order: the edges shuffled (bucket_shuffle.hpp) by streams of its own. Epoch 0's is made up front;
    // epoch e + 1's is made in slices during epoch e's batches (each batch, the first worker free takes one slice and
    // then joins the chunks), since `shuffled` is only read when epoch e's slots are filled.
    auto streams_of = [](int epoch) {
        return [epoch](std::uint64_t item) {
            return sampling_stream(SamplingFamily::cne_shuffle, static_cast<std::uint64_t>(epoch), item);
        };
    };
    constexpr std::size_t all = std::numeric_limits<std::size_t>::max();
    detail::BucketShuffle next_order(edges, shuffled, o.seed, streams_of(0));
    next_order.run(all);
    const std::size_t slice = (3 * n_edges + n_batches - 1) / n_batches;  // work units per batch (3 per edge)

    if (o.callback && o.save_freq > 0 && o.callback(-1, std::numeric_limits<double>::quiet_NaN(), Y.view())) {
        res.embedding = std::move(Y);
        res.log_Z = lp.log_Z;
        return res;
    }
    for (int epoch = 0; epoch < o.n_epochs; ++epoch) {
        if (interrupt_requested()) throw Interrupted("CNE interrupted at epoch " + std::to_string(epoch));
        lp.spec = epoch < res.spectrum.early_epochs ? res.spectrum.spec_early : res.spectrum.spec;
        const double lr = sched.at(epoch);
        next_order.run(all);  // finishes this epoch's order if its slices did not (they normally do)
        // slot s of batch bi (b edges): the head (s < b) or the tail (s >= b) of its edge bi·B + s mod b
        parallelize(n_threads, n_batches, [&](int, std::size_t b0, std::size_t b1) {
            for (std::size_t bi = b0; bi < b1; ++bi) {
                const std::size_t b = bi + 1 == n_batches ? B_last : B;
                for (std::size_t s = 0; s < b; ++s) {
                    const std::uint64_t e = shuffled[bi * B + s];
                    slots[bi * two_b + s] = static_cast<std::uint32_t>(e >> 32);
                    slots[bi * two_b + b + s] = static_cast<std::uint32_t>(e);
                }
            }
        });
        const bool shuffle_next = epoch + 1 < o.n_epochs;
        double epoch_loss = 0;
        for (std::size_t bi = 0; bi < n_batches; ++bi) {
            const std::uint32_t* sp = slots.data() + bi * two_b;
            const Shape& sh = bi + 1 == n_batches ? last_shape : full_shape;
            lp.nce_m = std::max<std::size_t>(sh.m, 1);  // cne's nce uses the batch's negative count
            // per head: negatives, loss and gradient contributions (read-only Y)
            // Chunks are handed out one at a time: a chunk's output does not depend on which worker runs it, and
            // cores of a shared machine run at unequal speeds.
            std::atomic<std::size_t> next_chunk{0};
            std::atomic<bool> slice_taken{!shuffle_next};
            parallelize(n_threads, n_workers, [&](int w, std::size_t, std::size_t) {
                if (!slice_taken.exchange(true, std::memory_order_relaxed)) {  // a slice of the next epoch's order
                    if (bi == 0) next_order.restart(streams_of(epoch + 1));
                    next_order.run(slice);
                }
                auto& sc = scratch[static_cast<std::size_t>(w)];
                std::int64_t* a = acc[static_cast<std::size_t>(w) % n_acc].data();
                for (std::size_t c; (c = next_chunk.fetch_add(1, std::memory_order_relaxed)) < sh.n_chunks;)
                    run_chunk(sc, a, c, bi, epoch, sp, sh);
            });
            for (std::size_t c = 0; c < sh.n_chunks; ++c) epoch_loss += chunk_loss[c];
            // per point: the gradient of the summed batch loss, clipped by value, and (fused SGD) the step
            if (!fused_sgd) std::fill(G.begin(), G.end(), 0.0);
            // The per-point phase walks all n points (in sequence) while that is cheaper than finding the batch's
            // points among its 2b slots (random reads, each point once per owner).
            if (n <= 2 * sh.two_b) {
                parallelize(n_threads, n, [&](int, std::size_t p0, std::size_t p1) { finish(p0 * d, p1 * d, lr); });
            } else {
                parallelize(n_threads, n_workers, [&](int, std::size_t w0, std::size_t w1) {
                    for (std::size_t s = 0; s < sh.two_b; ++s)
                        if (const std::size_t ow = owner(sp[s]); ow >= w0 && ow < w1)
                            finish(sp[s] * d, sp[s] * d + d, lr);
                });
            }
            double dlogz = 0;
            for (std::size_t h = 0; h < sh.b && !head_dlogz.empty(); ++h) dlogz += head_dlogz[h];  // head order
            if (o.clip_grad) dlogz = std::clamp(dlogz, -clip, clip);
            if (o.optimizer == CneOptimizer::sgd) {
                if (!fused_sgd) sgd.step(Y.data(), G.data(), G.size(), lr, n_threads);
                if (o.loss_mode == ContrastiveMode::nce) sgd_z.step(&lp.log_Z, &dlogz, 1, 0.001, 1);
            } else {
                adam.step(Y.data(), G.data(), G.size(), lr, n_threads);
                if (o.loss_mode == ContrastiveMode::nce) adam_z.step(&lp.log_Z, &dlogz, 1, 0.001, 1);
            }
        }
        const double mean_loss = epoch_loss / static_cast<double>(n_edges);
        res.epoch_losses.push_back(mean_loss);
        res.epochs_run = epoch + 1;
        require(std::isfinite(mean_loss) && std::all_of(Y.storage().begin(), Y.storage().end(),
                                                        [](double v) { return std::isfinite(v); }),
                "CNE: the loss or the embedding became non-finite at epoch " + std::to_string(epoch) +
                    " (try a smaller learning rate)");
        if (o.progress) o.progress(epoch + 1, o.n_epochs, mean_loss, t.seconds());
        if (o.verbose && (epoch + 1) % std::max(1, o.n_epochs / 5) == 0)
            info("CNE: epoch " + std::to_string(epoch + 1) + "/" + std::to_string(o.n_epochs) + ", loss " +
                 std::to_string(mean_loss));
        if (o.callback && o.save_freq > 0 && epoch % o.save_freq == 0 && o.callback(epoch, mean_loss, Y.view())) break;
    }
    res.timings.optimize = t.seconds();
    res.embedding = std::move(Y);
    res.log_Z = lp.log_Z;
    return res;
}

} // namespace nembed
