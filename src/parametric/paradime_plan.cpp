// The batch plan of paraDime's training phases (parametric/paradime_plan.hpp).
#include "nembed/parametric/paradime_plan.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "nembed/core/cumulative_search.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/log.hpp"
#include "nembed/core/random.hpp"
#include "nembed/optim/optimizer.hpp"
#include "nembed/parametric/tsne_batch_loss.hpp"
#include "nembed/train/parametrization.hpp"
#include "nembed/train/phase.hpp"

namespace nembed::paradime {

struct ParadimePlan::Batch {
    std::vector<index_t> idx;  // the batch's points, each once
    Matrix<double> Y;          // their positions
    std::vector<double> dY;    // dL/dY
    bool edges = false;        // negative-edge sampling: pairs with labels
    std::vector<std::int32_t> from, to;
    std::vector<double> label;
    std::map<std::string, BatchRelationData> rel;  // kept across batches: its buffers are reused
    std::vector<std::string> rel_done;              // keys whose relations this batch has computed
    std::map<std::string, std::vector<TransformParams>> dparams;
    std::vector<double> sub, p, p_t, dq;  // scratch
    TsneBatchScratch tsne;                 // the fused t-SNE loss's buffers
    int n_threads = 1;
};

ParadimePlan::ParadimePlan(const std::vector<TrainingPhase>& phases,
                           const std::map<std::string, GlobalRelationData>& global,
                           const std::map<std::string, BatchRelations>& batch,
                           std::map<std::string, std::vector<TransformParams>>& params, const Dataset& dataset,
                           std::size_t n_points, std::uint64_t seed)
    : phases_(phases), global_(global), batch_rel_(batch), params_(params), dataset_(dataset), n_(n_points),
      seed_(seed), pos_(n_points, -1) {}

ParadimePlan::~ParadimePlan() = default;

double embedding_radius(MatrixView<double> Y) {
    if (Y.rows == 0) return 0.0;
    std::vector<double> c(Y.cols, 0.0);
    for (std::size_t i = 0; i < Y.rows; ++i)
        for (std::size_t k = 0; k < Y.cols; ++k) c[k] += Y(i, k);
    for (double& v : c) v /= static_cast<double>(Y.rows);
    double s = 0.0;
    for (std::size_t i = 0; i < Y.rows; ++i)
        for (std::size_t k = 0; k < Y.cols; ++k) s += (Y(i, k) - c[k]) * (Y(i, k) - c[k]);
    return std::sqrt(s / static_cast<double>(Y.rows));
}

namespace {

// The learnable parameters of all batch relations, in key and transform order.
std::vector<double> pack_learnable(const std::map<std::string, BatchRelations>& rels,
                                   const std::map<std::string, std::vector<TransformParams>>& params) {
    std::vector<double> out;
    for (const auto& [key, rel] : rels)
        for (std::size_t t = 0; t < rel.transform.size(); ++t) {
            if (!rel.transform[t].learnable) continue;
            const TransformParams& p = params.at(key)[t];
            if (rel.transform[t].kind == TransformKind::student_t) {
                out.push_back(p.alpha);
            } else {
                out.push_back(p.a);
                out.push_back(p.b);
            }
        }
    return out;
}

void unpack_learnable(const std::map<std::string, BatchRelations>& rels, const std::vector<double>& v,
                      std::map<std::string, std::vector<TransformParams>>& params) {
    std::size_t k = 0;
    for (const auto& [key, rel] : rels)
        for (std::size_t t = 0; t < rel.transform.size(); ++t) {
            if (!rel.transform[t].learnable) continue;
            TransformParams& p = params.at(key)[t];
            if (rel.transform[t].kind == TransformKind::student_t) {
                p.alpha = v[k++];
            } else {
                p.a = v[k++];
                p.b = v[k++];
            }
        }
}

} // namespace

double ParadimePlan::evaluate(const Loss& loss, Batch& batch, const TrainingPhase& phase, double weight,
                              std::map<std::string, double>& sums) {
    const std::size_t b = batch.idx.size(), d = batch.Y.cols();
    double value = 0.0;
    switch (loss.kind) {
    case LossKind::compound:
        for (std::size_t k = 0; k < loss.losses.size(); ++k) {
            const double w = loss.weights.empty() ? 1.0 : loss.weights[k];
            value += w * evaluate(loss.losses[k], batch, phase, weight * w, sums);
        }
        break;
    case LossKind::position: {
        const Matrix<double>& pos = dataset_.positions.at(loss.position_key);
        const double scale = 1.0 / static_cast<double>(b * d);
        for (std::size_t a = 0; a < b; ++a) {
            const double* t = pos.row(static_cast<std::size_t>(batch.idx[a]));
            for (std::size_t k = 0; k < d; ++k) {
                const double r = batch.Y(a, k) - t[k];
                value += r * r * scale;
                batch.dY[a * d + k] += weight * 2.0 * r * scale;
            }
        }
        break;
    }
    case LossKind::relation: {
        const BatchRelations& br = batch_rel_.at(loss.batch_relation_key);
        const bool from_to = br.kind == BatchRelationKind::dists_from_to;
        if (!from_to && b >= 2) {
            // ParametricTSNE's loss in two fused passes, without the pair vectors (tsne_batch_loss.hpp). It leaves
            // batch.rel alone: another loss on the same relations computes them itself.
            const auto git = global_.find(loss.global_relation_key);
            const std::vector<TransformParams>& tp = params_.at(loss.batch_relation_key);
            if (git != global_.end() && fused_tsne_batch_applies(loss, br, tp, git->second, d)) {
                value = fused_tsne_batch_kl(loss, git->second.sparse, batch.idx, batch.Y.view(), weight,
                                            batch.dY.data(), batch.n_threads, batch.tsne);
                batch.dparams[loss.batch_relation_key].resize(br.transform.size(), TransformParams{0.0, 0.0, 0.0});
                break;
            }
        }
        auto it = batch.rel.try_emplace(loss.batch_relation_key).first;
        if (std::find(batch.rel_done.begin(), batch.rel_done.end(), loss.batch_relation_key) == batch.rel_done.end()) {
            batch.rel_done.push_back(loss.batch_relation_key);
            compute_batch_relations(br, batch.Y.view(), params_.at(loss.batch_relation_key), it->second,
                                    batch.edges ? &batch.from : nullptr, batch.edges ? &batch.to : nullptr);
        }
        const BatchRelationData& data = it->second;
        double len;
        const std::vector<double>* pt = nullptr;
        if (from_to) {
            // negative_edge: paraDime's simplified relations, 1 for the sampled edge and 0 for its negatives.
            batch.p = batch.label;
            len = static_cast<double>(data.n_pairs());
        } else if (data.triangular && !global_.at(loss.global_relation_key).lazy_pdist) {
            // The pairs' relations straight from the sparse rows (the bits of the block below, without it).
            global_.at(loss.global_relation_key).triangular_pairs(batch.idx, pos_, loss.normalize_sub, batch.p, batch.p_t);
            pt = &batch.p_t;
            len = static_cast<double>(b);
        } else {
            global_.at(loss.global_relation_key).sub(batch.idx, pos_, batch.sub);
            double s = 1.0;
            if (loss.normalize_sub) {
                s = 0.0;
                for (double x : batch.sub) s += x;
                if (s <= 0.0) s = 1.0;  // no relation inside the batch: p = 0
            }
            const std::size_t m = data.n_pairs();
            batch.p.resize(m);
            batch.p_t.resize(m);
            for (std::size_t k = 0; k < m; ++k) {
                const auto i = static_cast<std::size_t>(data.from[k]), j = static_cast<std::size_t>(data.to[k]);
                batch.p[k] = batch.sub[i * b + j] / s;
                batch.p_t[k] = batch.sub[j * b + i] / s;
            }
            pt = &batch.p_t;
            len = static_cast<double>(b);
        }
        value = relation_loss_value(loss.loss_function, batch.p, pt, data.values(), len, loss.epsilon, batch.dq);
        for (double& g : batch.dq) g *= weight;
        batch_relations_backward_in_place(br, batch.Y.view(), data, batch.dq, batch.dY.data(),
                                 batch.dparams[loss.batch_relation_key], loss.exaggeration);
        break;
    }
    case LossKind::classification:
    case LossKind::reconstruction:
    case LossKind::custom:
        if (external_) {
            value = external_(loss, batch.idx, weight);
            break;
        }
        throw InvalidArgument(to_string(loss.kind) +
                              " needs a model with a classify or decode head; the built-in network only embeds "
                              "(use a PyTorch module through nembed.paradime)");
    }
    sums[loss.name] += value;
    return value;
}

double ParadimePlan::run_batch(Parametrization& model, const TrainingPhase& phase, Batch& batch, double lr,
                               int n_threads, std::map<std::string, double>& sums) {
    const std::size_t b = batch.idx.size(), d = model.n_components();
    batch.Y = Matrix<double>(b, d);
    model.forward(batch.idx, batch.Y.data());
    batch.dY.assign(b * d, 0.0);
    batch.rel_done.clear();
    batch.dparams.clear();
    batch.n_threads = n_threads;
    const double value = evaluate(phase.loss, batch, phase, 1.0, sums);
    // paraDime (torch) would go on with NaN parameters and return a NaN map; stop at the first such batch instead.
    require_lazy(std::isfinite(value), [&] {
        std::ostringstream os;
        os << "paraDime: phase '" << phase.name << "': the loss is not finite at epoch " << epoch_
           << " (a batch of " << b << " points): the network's outputs or the relations overflowed. Rows of large "
           << "values overflow the network's float32 products when the input map is off (normalize_inputs); "
           << "rescale the data, keep the map on, or lower the learning rate";
        return os.str();
    });
    model.backward(batch.idx, batch.dY.data());
    model.step(*optimizer_, lr, n_threads);
    std::vector<double> theta = pack_learnable(batch_rel_, params_);
    if (!theta.empty()) {
        std::map<std::string, std::vector<TransformParams>> grads;
        for (const auto& [key, rel] : batch_rel_) {
            auto it = batch.dparams.find(key);
            grads[key] = it != batch.dparams.end() ? it->second
                                                   : std::vector<TransformParams>(rel.transform.size(), {0, 0, 0});
            grads[key].resize(rel.transform.size(), {0, 0, 0});
        }
        const std::vector<double> g = pack_learnable(batch_rel_, grads);
        param_optimizer_->step(theta.data(), g.data(), theta.size(), lr, 1);
        unpack_learnable(batch_rel_, theta, params_);
    }
    return value;
}

double ParadimePlan::step(Parametrization& model, Optimizer&, const StepContext& ctx) {
    if (ctx.phase_step == 0) {
        // paraDime creates the optimizer of every phase anew.
        ++current_;
        require(current_ < static_cast<int>(phases_.size()), "paraDime plan: more Trainer phases than training phases");
        OptimizerOptions oo = phases_[static_cast<std::size_t>(current_)].optimizer;
        optimizer_ = make_optimizer(oo);
        param_optimizer_ = make_optimizer(oo);
        histories_.push_back({phases_[static_cast<std::size_t>(current_)].name, {}});
        epoch_ = 0;
        if (phase_start_) phase_start_(current_);
    }
    const TrainingPhase& phase = phases_[static_cast<std::size_t>(current_)];
    const std::size_t bs = static_cast<std::size_t>(phase.batch_size);
    Rng rng(seed_, (static_cast<std::uint64_t>(current_) << 40) | static_cast<std::uint64_t>(epoch_));
    std::map<std::string, double> sums;
    Batch batch;
    double total = 0.0;
    if (phase.sampling == Sampling::standard) {
        std::vector<index_t> perm(n_);
        for (std::size_t i = 0; i < n_; ++i) perm[i] = static_cast<index_t>(i);
        for (std::size_t i = n_; i > 1; --i) std::swap(perm[i - 1], perm[rng.below(i)]);
        std::size_t nb = (n_ + bs - 1) / bs;
        if (phase.batches_per_epoch > 0) nb = std::min(nb, static_cast<std::size_t>(phase.batches_per_epoch));
        for (std::size_t k = 0; k < nb; ++k) {
            const std::size_t lo = k * bs, hi = std::min(n_, lo + bs);
            batch.idx.assign(perm.begin() + static_cast<std::ptrdiff_t>(lo), perm.begin() + static_cast<std::ptrdiff_t>(hi));
            total += run_batch(model, phase, batch, ctx.learning_rate, ctx.n_threads, sums);
        }
    } else {
        const GlobalRelationData& g = global_.at(phase.edge_rel_key);
        require(!g.lazy_pdist, "training phase '" + phase.name +
                                   "': negative_edge sampling needs sparse global relations (not PDist)");
        CumulativeSearch& cum = cumulative_[phase.edge_rel_key];
        std::vector<std::pair<index_t, index_t>>& edges = edges_[phase.edge_rel_key];
        if (cum.empty()) {
            std::vector<double> c(g.sparse.nnz());
            double s = 0.0;
            for (std::size_t p = 0; p < c.size(); ++p) c[p] = (s += std::max(0.0, g.sparse.values[p]));
            require(!c.empty() && s > 0, "training phase '" + phase.name + "': the global relations have no edge");
            cum = CumulativeSearch(std::move(c));
            // Each stored edge's two ends side by side: one cache line per drawn edge.
            edges.resize(g.sparse.nnz());
            for (std::size_t i = 0; i < g.sparse.n_rows; ++i)
                for (offset_t p = g.sparse.indptr[i]; p < g.sparse.indptr[i + 1]; ++p)
                    edges[static_cast<std::size_t>(p)] = {static_cast<index_t>(i), g.sparse.indices[static_cast<std::size_t>(p)]};
        }
        const double cum_total = cum.values().back();
        const std::size_t n_stored = cum.values().size();
        const std::size_t r = static_cast<std::size_t>(phase.neg_sampling_rate);
        const std::size_t n_edges =
            phase.batches_per_epoch == -1
                ? std::max(bs, static_cast<std::size_t>(std::ceil(static_cast<double>(n_) / static_cast<double>(r + 1))))
                : bs * static_cast<std::size_t>(phase.batches_per_epoch);
        batch.edges = true;
        std::vector<index_t> ends, negatives;
        std::vector<double> draws;
        for (std::size_t lo = 0; lo < n_edges; lo += bs) {
            const std::size_t hi = std::min(n_edges, lo + bs);
            // An edge ∝ its relation, with replacement; its nsr negatives uniform over all points. The stream's draws
            // first, in their order, then the edges: the lookups of different edges overlap.
            draws.clear();
            negatives.clear();
            for (std::size_t e = lo; e < hi; ++e) {
                draws.push_back(rng.uniform() * cum_total);
                for (std::size_t k = 0; k < r; ++k) negatives.push_back(static_cast<index_t>(rng.below(n_)));
            }
            ends.clear();
            batch.label.clear();
            for (std::size_t e = 0; e < draws.size(); ++e) {
                const std::size_t p = std::min(cum.upper_bound(draws[e]), n_stored - 1);
                const index_t i = edges[p].first;
                ends.push_back(i);
                ends.push_back(edges[p].second);
                batch.label.push_back(1.0);
                for (std::size_t k = 0; k < r; ++k) {
                    ends.push_back(i);
                    ends.push_back(negatives[e * r + k]);
                    batch.label.push_back(0.0);
                }
            }
            // The batch's points in increasing order, each once (sort + unique): marked, then one scan of the n
            // points, which costs less than sorting the 2·(1 + rate) ends of every edge.
            for (index_t e : ends) pos_[static_cast<std::size_t>(e)] = 0;
            batch.idx.clear();
            for (std::size_t i = 0; i < n_; ++i)
                if (pos_[i] >= 0) {
                    pos_[i] = static_cast<std::int64_t>(batch.idx.size());
                    batch.idx.push_back(static_cast<index_t>(i));
                }
            batch.from.resize(ends.size() / 2);
            batch.to.resize(ends.size() / 2);
            for (std::size_t k = 0; k < ends.size() / 2; ++k) {
                batch.from[k] = static_cast<std::int32_t>(pos_[static_cast<std::size_t>(ends[2 * k])]);
                batch.to[k] = static_cast<std::int32_t>(pos_[static_cast<std::size_t>(ends[2 * k + 1])]);
            }
            for (index_t i : batch.idx) pos_[static_cast<std::size_t>(i)] = -1;
            total += run_batch(model, phase, batch, ctx.learning_rate, ctx.n_threads, sums);
        }
    }
    PhaseHistory& h = histories_.back();
    for (const auto& [name, v] : sums) h.losses[name].push_back(v);
    // The collapse check's radius: one inference pass over every point at the end of the phase.
    if (epoch_ + 1 == phase.epochs) h.radius = embedding_radius(model.embedding().view());
    if (verbose_ && epoch_ % phase.report_interval == 0) {
        std::ostringstream os;
        os << "paraDime: phase '" << phase.name << "': loss after epoch " << epoch_ << ": " << total;
        info(os.str());
    }
    ++epoch_;
    return ctx.want_loss ? total : std::numeric_limits<double>::quiet_NaN();
}

} // namespace nembed::paradime
