// umap-learn's per-edge epochs as a batch plan (train/edge_epoch_plan.hpp): the row workers with lanes.
#include "nembed/train/edge_epoch_plan.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <type_traits>
#include <variant>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/loss/bce.hpp"
#include "nembed/optim/sgd.hpp"
#include "nembed/train/parametrization.hpp"
#include "nembed/train/phase.hpp"
#include "edge_epoch_lanes.hpp"

namespace nembed {

namespace {

// The arguments of one epoch (run_epoch below).
template <typename K>
struct EpochArgs {
    const CsrMatrix<double>* graph;
    UmapEdgeSchedule* schedule;
    K kernel;
    double alpha;         // the step's learning rate
    double gamma;         // repulsion strength
    double exaggeration;  // factor on the attraction
    std::int64_t epoch;
    std::uint64_t seed;
    SamplingFamily family;
    bool self_graph;  // heads and tails are the same points: mirror the attraction, skip self negatives
    const DensmapTerm* dens = nullptr;  // densMAP's term when active in this epoch (run_rows<..., true>)
    bool lanes = true;                  // 2-/3-D UMAP-curve rows without densMAP: the vector lanes (same bits)
    std::uint64_t edge_offset = 0;      // EdgeEpochOptions::edge_offset
    std::size_t row_begin = 0, row_end = static_cast<std::size_t>(-1);  // the rows visited (row order)
    const float* tails_f = nullptr;  // the tails in float (the fit's rounded snapshot; the lanes read it)
};

// The loss families whose attraction needs the edge (its weight): densMAP's term and the inverse rule.
template <typename K, bool Dens>
constexpr bool kNeedsEdge = Dens || std::is_same_v<K, UmapInverseLoss>;

// umap-learn's per-row SGD is one dependency chain: every pair's update reads y_i as the previous pair left it, so a
// row runs at the latency of a pow and a division per pair. Rows are independent (tails come from the snapshot T),
// and which pairs a row visits depends on the schedule and the negative draws only, never on positions. So a worker
// keeps `kLanes` rows in flight: it lists a row's pairs when the row enters a lane, then advances the lanes one pair
// each in turn, and the chains of different rows overlap. Every row sees the same pairs in the same order with the
// same arithmetic as a one-row loop: the result is bitwise the same.
constexpr std::size_t kLanes = 4;
// Below this many points a fit goes in umap-learn's edge order (EdgeOrder::automatic); umap-learn's own small-data
// threshold (its exact kNN below 4 096 points).
constexpr std::size_t kEdgeOrderThreshold = 4096;
constexpr std::uint32_t kAttract = detail::kEdgeAttract;

template <std::size_t D, typename K, bool Dens>  // D = 0: the dimension is H.cols() at run time
void run_rows(Matrix<double>& H, const Matrix<double>& T, const EpochArgs<K>& a, bool want_loss, std::size_t rb,
              std::size_t re, std::vector<double>& row_loss, std::vector<double>& row_pairs) {
    const auto& g = *a.graph;
    const std::size_t d = D ? D : H.cols(), n_tail = T.rows();
    struct Lane {
        std::size_t row = 0, next = 0, n = 0;  // the row, its next pair in `pairs` and their number
        std::vector<std::uint32_t> pairs;
        std::vector<offset_t> edges;  // the edge of each attraction pair (kNeedsEdge only)
        std::size_t next_edge = 0;
        double loss = 0, n_pairs = 0;
    };
    Lane lanes[kLanes];
    std::vector<double> ybuf(kLanes * d);
    // ∂d/∂y of an output metric, or of the inverse rule's data metric
    std::vector<double> gbuf(std::is_same_v<K, UmapOutputMetricLoss> || std::is_same_v<K, UmapInverseLoss> ? d : 0);
    // Lists row i's pairs (and advances its edges' schedule, as the one-row loop does).
    const detail::EdgePairSource src{a.graph, a.schedule, a.epoch, a.seed, a.family, a.self_graph, n_tail, a.edge_offset};
    auto list_pairs = [&](std::size_t i, std::vector<std::uint32_t>& out, std::vector<offset_t>& edges) {
        return detail::list_edge_pairs(src, i, out, kNeedsEdge<K, Dens> ? &edges : nullptr);
    };
    // A fit with float tails (the lanes' case) carries the row in float, as umap-learn holds every position: the
    // distance, the coefficient, the clip and the move in float, in the lanes' operations (edge_epoch_lanes.cpp).
    bool float_rows = false;
    if constexpr (std::is_same_v<K, UmapCurve> && !Dens) float_rows = a.tails_f != nullptr;
    // One pair's update of y (the row in a lane).
    auto step = [&](Lane& l, double* y) {
        const std::uint32_t pr = l.pairs[l.next++];
        if constexpr (std::is_same_v<K, UmapCurve> && !Dens) {
            if (float_rows) {
                const float* tf = a.tails_f + d * std::size_t(pr & ~kAttract);
                float dx[3], d2 = 0;
                for (std::size_t k = 0; k < d; ++k) {
                    dx[k] = static_cast<float>(y[k]) - tf[k];
                    d2 = k ? d2 + dx[k] * dx[k] : dx[k] * dx[k];
                }
                const bool attract = (pr & kAttract) != 0;
                if (!attract && d2 <= 0) return;  // umap-learn moves no coincident pair apart
                const float c = Bce<UmapCurve>::pair_coeff<std::uint32_t>(
                    attract, static_cast<float>(a.kernel.a), static_cast<float>(a.kernel.b),
                    static_cast<float>(2.0 * a.kernel.a * a.kernel.b), static_cast<float>(2.0 * a.gamma * a.kernel.b),
                    d2 < 1e30f ? d2 : 1e30f);
                const float coef = attract ? -(static_cast<float>(a.exaggeration) * c) : c;
                const auto alpha = static_cast<float>(a.alpha);
                for (std::size_t k = 0; k < d; ++k) {
                    const float g = coef * dx[k], hi = g > 4.0f ? 4.0f : g;
                    y[k] = static_cast<float>(y[k]) + (g < -4.0f ? -4.0f : hi) * alpha;
                }
                if (want_loss) {
                    l.loss += attract ? Bce<K>::attraction_loss(a.kernel, d2)
                                      : Bce<K>::repulsion_loss(a.kernel, d2, a.gamma);
                    l.n_pairs += 1;
                }
                return;
            }
        }
        const double* yt = T.row(pr & ~kAttract);
        const double d2 = squared_distance(y, yt, d);
        if constexpr (std::is_same_v<K, UmapInverseLoss>) {
            const std::size_t t = pr & ~kAttract;
            if (!a.kernel.metric.euclidean()) {
                double* gr = gbuf.data();
                const double dist = a.kernel.metric.distance_grad(y, yt, d, gr);
                const double c = (pr & kAttract) ? -a.kernel.attraction_scale(g.values[l.edges[l.next_edge++]], t)
                                                 : a.kernel.repulsion_scale(t, dist, a.gamma);
                for (std::size_t k = 0; k < d; ++k) y[k] += clip_value(c * gr[k]) * a.alpha;
                return;
            }
            if (pr & kAttract) {
                const double c = a.kernel.attraction_coeff(g.values[l.edges[l.next_edge++]], t, d2);
                for (std::size_t k = 0; k < d; ++k) y[k] += clip_value(-c * (y[k] - yt[k])) * a.alpha;
            } else if (d2 > 0) {
                const double c = a.kernel.repulsion_coeff(t, d2, a.gamma);
                for (std::size_t k = 0; k < d; ++k) y[k] += clip_value(c * (y[k] - yt[k])) * a.alpha;
            }
            return;
        } else if constexpr (std::is_same_v<K, UmapOutputMetricLoss>) {
            // umap-learn's optimize_layout_generic: the coefficients of the output distance times its gradient
            double* gr = gbuf.data();
            const double dist = a.kernel.metric.distance_grad(y, yt, d, gr);
            if (pr & kAttract) {
                const double c = a.exaggeration * a.kernel.attraction_coeff(dist);
                for (std::size_t k = 0; k < d; ++k) y[k] += clip_value(c * gr[k]) * a.alpha;
                if (want_loss) {
                    l.loss += a.kernel.attraction_loss(dist);
                    l.n_pairs += 1;
                }
            } else {
                const double c = a.kernel.repulsion_coeff(dist, a.gamma);
                for (std::size_t k = 0; k < d; ++k) y[k] += clip_value(c * gr[k]) * a.alpha;
                if (want_loss) {
                    l.loss += a.kernel.repulsion_loss(dist, a.gamma);
                    l.n_pairs += 1;
                }
            }
            return;
        } else if (pr & kAttract) {
            const double c = a.exaggeration * Bce<K>::attraction_coeff(a.kernel, d2);
            if constexpr (Dens) {
                // umap-learn adds the density move, clipped on its own, to the attraction's
                const offset_t p = l.edges[l.next_edge++];
                const double gd = 2.0 * a.dens->coefficient(l.row, pr & ~kAttract, g.values[p], d2);
                for (std::size_t k = 0; k < d; ++k)
                    y[k] += (clip_value(-c * (y[k] - yt[k])) + clip_value(gd * (y[k] - yt[k]))) * a.alpha;
            } else {
                for (std::size_t k = 0; k < d; ++k) y[k] += clip_value(-c * (y[k] - yt[k])) * a.alpha;
            }
            if (want_loss) {
                l.loss += Bce<K>::attraction_loss(a.kernel, d2);
                l.n_pairs += 1;
            }
        } else {
            if (d2 <= 0) return;  // umap-learn moves no coincident pair apart
            const double c = Bce<K>::repulsion_coeff(a.kernel, d2, a.gamma);
            for (std::size_t k = 0; k < d; ++k) y[k] += clip_value(c * (y[k] - yt[k])) * a.alpha;
            if (want_loss) {
                l.loss += Bce<K>::repulsion_loss(a.kernel, d2, a.gamma);
                l.n_pairs += 1;
            }
        }
    };
    auto finish = [&](Lane& l, const double* y) {
        std::copy(y, y + d, H.row(l.row));
        if (want_loss) {
            row_loss[l.row] = l.loss;
            row_pairs[l.row] = l.n_pairs;
        }
    };
    // Fills a lane with the next row that has pairs (rows without any are finished at once); false when none is left.
    std::size_t next_row = rb;
    auto fill = [&](Lane& l, double* y) {
        while (next_row < re) {
            l.row = next_row++;
            l.next = l.next_edge = 0;
            l.loss = l.n_pairs = 0;
            l.n = list_pairs(l.row, l.pairs, l.edges);
            for (std::size_t k = 0; k < d; ++k) y[k] = float_rows ? static_cast<float>(H(l.row, k)) : H(l.row, k);
            if (l.n > 0) return true;
            finish(l, y);
        }
        return false;
    };
    std::size_t active = 0;
    bool live[kLanes] = {};
    for (std::size_t r = 0; r < kLanes; ++r) active += live[r] = fill(lanes[r], ybuf.data() + r * d);
    while (active > 0) {
        for (std::size_t r = 0; r < kLanes; ++r) {
            if (!live[r]) continue;
            Lane& l = lanes[r];
            double* y = ybuf.data() + r * d;
            step(l, y);
            if (l.next == l.n) {
                finish(l, y);
                if (!fill(l, y)) {
                    live[r] = false;
                    --active;
                }
            }
        }
    }
}

// One epoch of a fit in umap-learn's own order (EdgeOrder::edges; layouts.py's single-epoch loops with
// move_other): every due edge (i, j) in CSR order moves y_i and y_j in place by the same clipped step (the output
// metric's reverse gradient for y_j, as optimize_layout_generic), then y_i alone by its negatives. One thread.
template <std::size_t D, typename K, bool Dens>
double run_edges(Matrix<double>& Y, const EpochArgs<K>& a, bool want_loss, double* n_pairs) {
    static_assert(!std::is_same_v<K, UmapInverseLoss>, "the inverse rule is a transform: it goes by rows");
    const auto& g = *a.graph;
    auto& s = *a.schedule;
    const std::size_t d = D ? D : Y.cols(), n_tail = Y.rows();
    const double n = static_cast<double>(a.epoch);
    std::vector<double> step_buf(d), gbuf(std::is_same_v<K, UmapOutputMetricLoss> ? 2 * d : 0);
    double* st = step_buf.data();
    double loss = 0, pairs = 0;
    for (std::size_t i = 0; i < g.n_rows; ++i) {
        double* y = Y.row(i);
        for (offset_t p = g.indptr[i]; p < g.indptr[i + 1]; ++p) {
            if (s.next_sample[p] > n) continue;
            const auto j = static_cast<std::size_t>(g.indices[p]);
            double* yo = Y.row(j);
            if constexpr (std::is_same_v<K, UmapOutputMetricLoss>) {
                double* gr = gbuf.data();
                double* rev = gr + d;
                const double dist = a.kernel.metric.distance_grad(y, yo, d, gr);
                a.kernel.metric.distance_grad(yo, y, d, rev);
                const double c = a.exaggeration * a.kernel.attraction_coeff(dist);
                for (std::size_t k = 0; k < d; ++k) {
                    y[k] += clip_value(c * gr[k]) * a.alpha;
                    if (j != i) yo[k] += clip_value(c * rev[k]) * a.alpha;
                }
                if (want_loss) {
                    loss += a.kernel.attraction_loss(dist);
                    pairs += 1;
                }
            } else {
                const double d2 = squared_distance(y, yo, d);
                const double c = a.exaggeration * Bce<K>::attraction_coeff(a.kernel, d2);
                for (std::size_t k = 0; k < d; ++k) st[k] = clip_value(-c * (y[k] - yo[k]));
                if constexpr (Dens) {
                    const double gd = 2.0 * a.dens->coefficient(i, j, g.values[p], d2);
                    for (std::size_t k = 0; k < d; ++k) st[k] += clip_value(gd * (y[k] - yo[k]));
                }
                for (std::size_t k = 0; k < d; ++k) {
                    y[k] += st[k] * a.alpha;
                    yo[k] -= st[k] * a.alpha;
                }
                if (want_loss) {
                    loss += Bce<K>::attraction_loss(a.kernel, d2);
                    pairs += 1;
                }
            }
            const long n_neg = s.take(static_cast<std::size_t>(p), n);
            if (n_neg > 0) {
                SplitMixStream rng(a.seed, sampling_stream(a.family, static_cast<std::uint64_t>(a.epoch),
                                                           a.edge_offset + static_cast<std::uint64_t>(p)));
                for (long t = 0; t < n_neg; ++t) {
                    const auto kk = static_cast<std::size_t>(rng.below(n_tail));
                    if (kk == i) continue;  // umap-learn skips a draw of the head itself
                    const double* yt = Y.row(kk);
                    if constexpr (std::is_same_v<K, UmapOutputMetricLoss>) {
                        double* gr = gbuf.data();
                        const double dist = a.kernel.metric.distance_grad(y, yt, d, gr);
                        const double c = a.kernel.repulsion_coeff(dist, a.gamma);
                        for (std::size_t k = 0; k < d; ++k) y[k] += clip_value(c * gr[k]) * a.alpha;
                        if (want_loss) {
                            loss += a.kernel.repulsion_loss(dist, a.gamma);
                            pairs += 1;
                        }
                    } else {
                        const double d2 = squared_distance(y, yt, d);
                        if (d2 <= 0) continue;  // umap-learn moves no coincident pair apart
                        const double c = Bce<K>::repulsion_coeff(a.kernel, d2, a.gamma);
                        for (std::size_t k = 0; k < d; ++k) y[k] += clip_value(c * (y[k] - yt[k])) * a.alpha;
                        if (want_loss) {
                            loss += Bce<K>::repulsion_loss(a.kernel, d2, a.gamma);
                            pairs += 1;
                        }
                    }
                }
            }
        }
    }
    if (n_pairs) *n_pairs = pairs;
    return loss;
}

// One epoch of umap-learn's per-edge SGD over the rows of `graph` (heads H, tails read from T).
// Returns the summed loss of the sampled pairs (and their count in *n_pairs) when want_loss.
template <typename K>
double run_epoch(Matrix<double>& H, const Matrix<double>& T, const EpochArgs<K>& a, int n_threads, bool want_loss,
                 double* n_pairs, bool by_edges = false) {
    if constexpr (!std::is_same_v<K, UmapInverseLoss>) {
        if (by_edges) {
            if constexpr (std::is_same_v<K, UmapCurve>) {
                if (a.dens) return H.cols() == 2 ? run_edges<2, K, true>(H, a, want_loss, n_pairs)
                                                 : run_edges<0, K, true>(H, a, want_loss, n_pairs);
            }
            return H.cols() == 2 ? run_edges<2, K, false>(H, a, want_loss, n_pairs)
                                 : run_edges<0, K, false>(H, a, want_loss, n_pairs);
        }
    }
    const auto& g = *a.graph;
    std::vector<double> row_loss(want_loss ? g.n_rows : 0, 0.0), row_pairs(want_loss ? g.n_rows : 0, 0.0);
    const std::size_t r0 = std::min(a.row_begin, g.n_rows), r1 = std::max(r0, std::min(a.row_end, g.n_rows));
    parallelize(n_threads, r1 - r0, [&](int, std::size_t lo, std::size_t hi) {
        const std::size_t rb = r0 + lo, re = r0 + hi;
        if constexpr (std::is_same_v<K, UmapCurve>) {
            if (!a.dens && a.lanes && (H.cols() == 2 || H.cols() == 3)) {
                const detail::UmapLanesArgs la{{a.graph, a.schedule, a.epoch, a.seed, a.family, a.self_graph, T.rows(), a.edge_offset},
                                               a.kernel.a, a.kernel.b, a.alpha, a.gamma, a.exaggeration};
                detail::umap_rows_lanes(H.cols(), H.data(), T.data(), a.tails_f, la, want_loss, rb, re,
                                        row_loss.data(), row_pairs.data());
                return;
            }
            if (a.dens) {
                if (H.cols() == 2)
                    run_rows<2, K, true>(H, T, a, want_loss, rb, re, row_loss, row_pairs);
                else
                    run_rows<0, K, true>(H, T, a, want_loss, rb, re, row_loss, row_pairs);
                return;
            }
        }
        if (H.cols() == 2)
            run_rows<2, K, false>(H, T, a, want_loss, rb, re, row_loss, row_pairs);
        else
            run_rows<0, K, false>(H, T, a, want_loss, rb, re, row_loss, row_pairs);
    });
    if (!want_loss) return 0.0;
    // summed in row order: independent of the thread count
    *n_pairs = std::accumulate(row_pairs.begin(), row_pairs.end(), 0.0);
    return std::accumulate(row_loss.begin(), row_loss.end(), 0.0);
}

void check_options(const EdgeEpochOptions& o) {
    require(o.n_epochs >= 1, "edge-epoch plan: n_epochs must be >= 1, got " + std::to_string(o.n_epochs));
    require(std::isfinite(o.negative_sample_rate) && o.negative_sample_rate > 0,
            "negative_sample_rate must be > 0, got " + std::to_string(o.negative_sample_rate));
    require(std::isfinite(o.weight_max) && o.weight_max >= 0, "edge-epoch plan: weight_max must be >= 0");
}

} // namespace

std::string to_string(EdgeOrder order) {
    switch (order) {
        case EdgeOrder::automatic: return "auto";
        case EdgeOrder::rows: return "rows";
        case EdgeOrder::edges: return "edges";
    }
    return "auto";
}

EdgeOrder parse_edge_order(const std::string& name) {
    for (EdgeOrder o : {EdgeOrder::automatic, EdgeOrder::rows, EdgeOrder::edges})
        if (name == to_string(o)) return o;
    throw InvalidArgument("edge order must be auto, rows or edges, got '" + name + "'");
}

UmapEdgeSchedule UmapEdgeSchedule::make(const CsrMatrix<double>& graph, int n_epochs, double rate, double weight_max) {
    UmapEdgeSchedule s;
    s.negative_sample_rate = rate;
    const std::size_t m = graph.nnz();
    s.epochs_per_sample.assign(m, -1.0);
    double wmax = weight_max;
    if (!(wmax > 0))
        for (double w : graph.values) wmax = std::max(wmax, w);
    for (std::size_t p = 0; p < m; ++p) {
        const double n_samples = n_epochs * (graph.values[p] / wmax);
        if (n_samples > 0) s.epochs_per_sample[p] = static_cast<double>(n_epochs) / n_samples;
    }
    s.next_sample = s.epochs_per_sample;
    s.epochs_per_negative.resize(m);
    s.negatives_per_epoch.resize(m);
    for (std::size_t p = 0; p < m; ++p) {
        s.epochs_per_negative[p] = s.epochs_per_sample[p] / rate;
        s.negatives_per_epoch[p] = 1.0 / s.epochs_per_negative[p];
    }
    s.next_negative = s.epochs_per_negative;
    return s;
}

EdgeEpochPlan::EdgeEpochPlan(CsrMatrix<double> graph, OutputKernel kernel, EdgeEpochOptions options)
    : graph_(std::move(graph)), kernel_(kernel), options_(options) {
    require(graph_.n_rows == graph_.n_cols, "edge-epoch plan: the graph must be square (N x N) for a fit, got " +
                                                std::to_string(graph_.n_rows) + " x " + std::to_string(graph_.n_cols));
    check_options(options_);
    validate_bce_kernel(kernel_);
    schedule_ = UmapEdgeSchedule::make(graph_, options_.n_epochs, options_.negative_sample_rate, options_.weight_max);
}

EdgeEpochPlan::EdgeEpochPlan(CsrMatrix<double> graph, OutputKernel kernel, EdgeEpochOptions options,
                             const Matrix<double>& reference)
    : graph_(std::move(graph)), kernel_(kernel), options_(options), reference_(&reference) {
    require(graph_.n_cols == reference.rows(), "edge-epoch plan: the graph has " + std::to_string(graph_.n_cols) +
                                                   " columns, the reference " + std::to_string(reference.rows()) +
                                                   " points");
    check_options(options_);
    validate_bce_kernel(kernel_);
    schedule_ = UmapEdgeSchedule::make(graph_, options_.n_epochs, options_.negative_sample_rate);
}

EdgeEpochPlan::EdgeEpochPlan(CsrMatrix<double> graph, UmapInverseLoss loss, EdgeEpochOptions options,
                             const Matrix<double>& reference)
    : graph_(std::move(graph)), kernel_(UmapCurve{}), options_(options), reference_(&reference), inverse_(loss) {
    require(graph_.n_cols == reference.rows(), "edge-epoch plan: the graph has " + std::to_string(graph_.n_cols) +
                                                   " columns, the reference " + std::to_string(reference.rows()) +
                                                   " points");
    require(loss.sigma && loss.rho && loss.sigma->size() == reference.rows() && loss.rho->size() == reference.rows(),
            "edge-epoch plan: the inverse rule needs sigma and rho for every reference point");
    check_options(options_);
    schedule_ = UmapEdgeSchedule::make(graph_, options_.n_epochs, options_.negative_sample_rate);
}

void EdgeEpochPlan::set_densmap(DensmapTerm term) {
    require(reference_ == nullptr && !inverse_, "densMAP's term applies to a fit, not to a transform");
    require(std::holds_alternative<UmapCurve>(kernel_), "densMAP's term needs the UMAP kernel");
    require(term.R().size() == graph_.n_rows, "densMAP's term was built for another graph");
    require(!output_metric_, "densMAP's term needs the Euclidean output metric (as in umap-learn)");
    densmap_ = std::move(term);
}

void EdgeEpochPlan::set_output_metric(const OutputMetric& metric, std::size_t n_components) {
    validate(metric, n_components);
    if (metric.euclidean()) {
        output_metric_.reset();
        return;
    }
    require(!inverse_ && !densmap_, "a non-Euclidean output metric applies to UMAP's layout, not to densMAP or the "
                                    "inverse transform");
    const auto* curve = std::get_if<UmapCurve>(&kernel_);
    require(curve != nullptr, "a non-Euclidean output metric needs the UMAP kernel");
    output_metric_ = UmapOutputMetricLoss{metric, curve->a, curve->b};
}

double EdgeEpochPlan::step(Parametrization& params, Optimizer& optimizer, const StepContext& ctx) {
    EmbeddingTable* table = params.table();
    require(table != nullptr,
            "the edge-epoch plan updates the embedding table in place (umap-learn's per-pair SGD); it cannot train "
            "another parametrisation");
    const auto* sgd = dynamic_cast<const Sgd*>(&optimizer);
    require(sgd != nullptr && sgd->options().momentum == 0.0 && sgd->options().weight_decay == 0.0,
            "the edge-epoch plan applies umap-learn's per-pair SGD itself and needs plain SGD (momentum 0, no "
            "weight decay), got " + optimizer.name());
    require(ctx.phase != nullptr, "edge-epoch plan: the step has no phase");
    Matrix<double>& Y = table->Y();
    require(Y.rows() == graph_.n_rows, "edge-epoch plan: the table has " + std::to_string(Y.rows()) +
                                           " points, the graph " + std::to_string(graph_.n_rows) + " rows");
    require(!reference_ || reference_->cols() == Y.cols(),
            "edge-epoch plan: the table and the reference differ in dimension");
    // EdgeOrder: a fit below umap-learn's small-data threshold goes in umap-learn's order, in place (no snapshot)
    const bool by_edges = !reference_ && !inverse_ &&
                          (options_.order == EdgeOrder::edges ||
                           (options_.order == EdgeOrder::automatic && graph_.n_rows < kEdgeOrderThreshold));
    require(!by_edges || (options_.row_begin == 0 && options_.row_end >= graph_.n_rows),
            "edge-epoch plan: umap-learn's edge order moves both ends of an edge in place and cannot run on a part "
            "of the rows (a distributed run needs the row order)");
    const Matrix<double>* tails = reference_;
    // A 2-/3-D UMAP-curve fit by rows (no densMAP, Euclidean output: the lanes' case, whether or not options_.lanes
    // runs them) reads its tails at float precision, as umap-learn holds every position: the snapshot is rounded to
    // float, and the lanes gather its float copy (8 bytes a 2-D tail; 560 KB for FMNIST's, in L2). Each row's own
    // point stays double.
    const bool float_tails = !reference_ && !inverse_ && !by_edges && !output_metric_ &&
                             std::holds_alternative<UmapCurve>(kernel_) &&
                             !(densmap_ && densmap_->active(ctx.step, options_.n_epochs)) &&
                             (Y.cols() == 2 || Y.cols() == 3);
    if (by_edges) {
        tails = &Y;
    } else if (!tails) {
        if (snapshot_.rows() != Y.rows() || snapshot_.cols() != Y.cols()) snapshot_ = Matrix<double>(Y.rows(), Y.cols());
        if (float_tails) {
            snapshot_f_.resize(Y.size());
            for (std::size_t k = 0; k < Y.size(); ++k) {
                snapshot_f_[k] = static_cast<float>(Y.data()[k]);
                snapshot_.data()[k] = snapshot_f_[k];
            }
        } else {
            std::copy(Y.data(), Y.data() + Y.size(), snapshot_.data());
        }
        tails = &snapshot_;
    }
    double pairs = 0.0;
    if (inverse_) {
        const EpochArgs<UmapInverseLoss> a{&graph_, &schedule_, *inverse_, ctx.learning_rate,
                                           ctx.phase->repulsion_strength, ctx.phase->exaggeration, ctx.step,
                                           options_.seed, options_.family, false};
        run_epoch(Y, *tails, a, ctx.n_threads, false, &pairs);
        return std::numeric_limits<double>::quiet_NaN();  // the rule has no loss of its own to report
    }
    if (output_metric_) {
        const EpochArgs<UmapOutputMetricLoss> a{&graph_, &schedule_, *output_metric_, ctx.learning_rate,
                                                ctx.phase->repulsion_strength, ctx.phase->exaggeration, ctx.step,
                                                options_.seed, options_.family, reference_ == nullptr,
                                                nullptr, true, options_.edge_offset, options_.row_begin,
                                                options_.row_end};
        const double loss = run_epoch(Y, *tails, a, ctx.n_threads, ctx.want_loss, &pairs, by_edges);
        if (!ctx.want_loss) return std::numeric_limits<double>::quiet_NaN();
        return pairs > 0 ? loss / pairs : 0.0;
    }
    const DensmapTerm* dens = nullptr;
    if (densmap_ && densmap_->active(ctx.step, options_.n_epochs)) {
        densmap_->begin_epoch(graph_, *tails, ctx.n_threads);  // the snapshot: the start of the epoch
        dens = &*densmap_;
    }
    const double loss = std::visit(
        [&](const auto& k) -> double {
            using K = std::decay_t<decltype(k)>;
            if constexpr (std::is_same_v<K, CosineKernel>) {
                throw InvalidArgument("the BCE loss cannot use the cosine kernel");  // refused by the constructor
            } else {
                const EpochArgs<K> a{&graph_,
                                     &schedule_,
                                     k,
                                     ctx.learning_rate,
                                     ctx.phase->repulsion_strength,
                                     ctx.phase->exaggeration,
                                     ctx.step,
                                     options_.seed,
                                     options_.family,
                                     reference_ == nullptr,
                                     dens,
                                     options_.lanes,
                                     options_.edge_offset,
                                     options_.row_begin,
                                     options_.row_end,
                                     float_tails ? snapshot_f_.data() : nullptr};
                return run_epoch(Y, *tails, a, ctx.n_threads, ctx.want_loss, &pairs, by_edges);
            }
        },
        kernel_);
    if (!ctx.want_loss) return std::numeric_limits<double>::quiet_NaN();
    return pairs > 0 ? loss / pairs : 0.0;
}

} // namespace nembed
