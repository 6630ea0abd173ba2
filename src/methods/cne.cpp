// Contrastive neighbour embeddings (methods/cne.hpp).
#include "nembed/methods/cne.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <numeric>

#include "nembed/core/error.hpp"
#include "nembed/core/interrupt.hpp"
#include "nembed/core/log.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/core/timer.hpp"
#include "nembed/init/pca.hpp"
#include "nembed/init/rescale.hpp"
#include "nembed/optim/adam.hpp"
#include "nembed/optim/sgd.hpp"
#include "nembed/repulsion/negative_sampling.hpp"

namespace nembed {

CneOptimizer parse_cne_optimizer(const std::string& name) {
    std::string s = name;
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (s == "sgd") return CneOptimizer::sgd;
    if (s == "adam") return CneOptimizer::adam;
    throw InvalidArgument("unknown optimizer '" + name + "' (expected sgd or adam)");
}
std::string to_string(CneOptimizer o) { return o == CneOptimizer::sgd ? "sgd" : "adam"; }

void validate(const CneOptions& o, std::size_t n) {
    require(o.k >= 1, "k must be >= 1");
    require(n == 0 || o.k < n, "k (" + std::to_string(o.k) + ") must be smaller than the number of points (" +
                                   std::to_string(n) + ")");
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
    validate(o, n);
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
    const std::size_t n_batches = std::max<std::size_t>(1, n_edges / B);  // cne drops the last partial batch
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

    std::vector<std::size_t> perm(n_edges);
    std::vector<double> G(n * d), contrib(B * (m + 1) * d + B * d), head_loss(B), head_dlogz(B);
    std::vector<std::uint32_t> negs(B * m);
    const double clip = 4.0;

    if (o.callback && o.save_freq > 0 && o.callback(-1, std::numeric_limits<double>::quiet_NaN(), Y.view())) {
        res.embedding = std::move(Y);
        res.log_Z = lp.log_Z;
        return res;
    }
    for (int epoch = 0; epoch < o.n_epochs; ++epoch) {
        if (interrupt_requested()) throw Interrupted("CNE interrupted at epoch " + std::to_string(epoch));
        lp.spec = epoch < res.spectrum.early_epochs ? res.spectrum.spec_early : res.spectrum.spec;
        const double lr = sched.at(epoch);
        // this epoch's shuffle (Fisher–Yates from one counter-based stream)
        std::iota(perm.begin(), perm.end(), std::size_t(0));
        Rng shuffle(o.seed, sampling_stream(SamplingFamily::cne_shuffle, static_cast<std::uint64_t>(epoch), 0));
        for (std::size_t i = n_edges; i > 1; --i) std::swap(perm[i - 1], perm[shuffle.below(i)]);
        double epoch_loss = 0;
        for (std::size_t bi = 0; bi < n_batches; ++bi) {
            const std::size_t* be = perm.data() + bi * B;
            auto slot_point = [&](std::size_t s) -> std::size_t {
                return static_cast<std::size_t>(s < B ? heads[be[s]] : tails[be[s - B]]);
            };
            // per head: loss and gradient contributions [head, partner, negatives...] (read-only Y)
            parallelize(n_threads, B, [&](int, std::size_t hb, std::size_t he) {
                std::vector<const double*> others(m + 1);
                std::vector<double*> gout(m + 1);
                for (std::size_t h = hb; h < he; ++h) {
                    double* c = contrib.data() + h * (m + 2) * d;
                    std::fill(c, c + (m + 2) * d, 0.0);
                    others[0] = Y.row(slot_point(B + h));
                    std::uint32_t* ng = negs.data() + h * m;
                    if (full_batch) {
                        std::size_t t2 = 0;
                        for (std::size_t s = 0; s < two_b; ++s)
                            if (s != h && s != B + h) ng[t2++] = static_cast<std::uint32_t>(s);
                    } else {
                        Rng rng(o.seed, sampling_stream(SamplingFamily::cne_negatives, static_cast<std::uint64_t>(epoch),
                                                        bi * B + h));
                        for (std::size_t t2 = 0; t2 < m; ++t2)
                            ng[t2] = static_cast<std::uint32_t>(draw_in_batch(rng, h, two_b));
                    }
                    for (std::size_t t2 = 0; t2 < m; ++t2) others[t2 + 1] = Y.row(slot_point(ng[t2]));
                    for (std::size_t t2 = 0; t2 <= m; ++t2) gout[t2] = c + (t2 + 1) * d;
                    double dz = 0;
                    head_loss[h] = contrastive_head_loss(lp, d, Y.row(slot_point(h)), others.data(), m + 1, c,
                                                         gout.data(), &dz);
                    head_dlogz[h] = dz;
                }
            });
            // gradient of the summed batch loss, added in a fixed (head, sample) order
            std::fill(G.begin(), G.end(), 0.0);
            double dlogz = 0;
            for (std::size_t h = 0; h < B; ++h) {
                const double* c = contrib.data() + h * (m + 2) * d;
                auto add = [&](std::size_t point, const double* g) {
                    double* dst = G.data() + point * d;
                    for (std::size_t k = 0; k < d; ++k) dst[k] += g[k];
                };
                add(slot_point(h), c);
                add(slot_point(B + h), c + d);
                for (std::size_t t2 = 0; t2 < m; ++t2) add(slot_point(negs[h * m + t2]), c + (t2 + 2) * d);
                epoch_loss += head_loss[h];
                dlogz += head_dlogz[h];
            }
            if (o.clip_grad) {
                for (double& g : G) g = std::clamp(g, -clip, clip);
                dlogz = std::clamp(dlogz, -clip, clip);
            }
            if (o.optimizer == CneOptimizer::sgd) {
                sgd.step(Y.data(), G.data(), G.size(), lr, n_threads);
                if (o.loss_mode == ContrastiveMode::nce) sgd_z.step(&lp.log_Z, &dlogz, 1, 0.001, 1);
            } else {
                adam.step(Y.data(), G.data(), G.size(), lr, n_threads);
                if (o.loss_mode == ContrastiveMode::nce) adam_z.step(&lp.log_Z, &dlogz, 1, 0.001, 1);
            }
        }
        const double mean_loss = epoch_loss / static_cast<double>(n_batches * B);
        res.epoch_losses.push_back(mean_loss);
        res.epochs_run = epoch + 1;
        require(std::isfinite(mean_loss), "CNE: the loss became non-finite at epoch " + std::to_string(epoch) +
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
