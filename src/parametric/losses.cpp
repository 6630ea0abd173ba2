// paraDime's losses and training phases (parametric/losses.hpp, parametric/training_phase.hpp).
#include "nembed/parametric/losses.hpp"

#include <algorithm>
#include <cmath>

#include "nembed/core/error.hpp"
#include "nembed/parametric/training_phase.hpp"

namespace nembed::paradime {

LossKind parse_loss(const std::string& name) {
    if (name == "RelationLoss" || name == "relation") return LossKind::relation;
    if (name == "PositionLoss" || name == "position") return LossKind::position;
    if (name == "ClassificationLoss" || name == "classification") return LossKind::classification;
    if (name == "ReconstructionLoss" || name == "reconstruction") return LossKind::reconstruction;
    if (name == "CompoundLoss" || name == "compound") return LossKind::compound;
    if (name == "custom") return LossKind::custom;
    throw InvalidArgument("unknown loss '" + name +
                          "' (known: RelationLoss, PositionLoss, ClassificationLoss, ReconstructionLoss, CompoundLoss)");
}

std::string to_string(LossKind kind) {
    switch (kind) {
    case LossKind::relation: return "RelationLoss";
    case LossKind::position: return "PositionLoss";
    case LossKind::classification: return "ClassificationLoss";
    case LossKind::reconstruction: return "ReconstructionLoss";
    case LossKind::compound: return "CompoundLoss";
    case LossKind::custom: return "custom";
    }
    return "?";
}

RelationLossFunction parse_relation_loss_function(const std::string& name) {
    if (name == "kullback_leibler_div" || name == "kl") return RelationLossFunction::kullback_leibler_div;
    if (name == "cross_entropy_loss" || name == "cross_entropy" || name == "ce")
        return RelationLossFunction::cross_entropy_loss;
    throw InvalidArgument("unknown relation loss function '" + name +
                          "' (known: kullback_leibler_div, cross_entropy_loss)");
}

std::string to_string(RelationLossFunction f) {
    return f == RelationLossFunction::kullback_leibler_div ? "kullback_leibler_div" : "cross_entropy_loss";
}

Loss Loss::RelationLoss(RelationLossFunction f, std::string global_key, std::string batch_key, bool normalize_sub) {
    Loss l;
    l.kind = LossKind::relation;
    l.loss_function = f;
    l.global_relation_key = std::move(global_key);
    l.batch_relation_key = std::move(batch_key);
    l.normalize_sub = normalize_sub;
    return l;
}
Loss Loss::PositionLoss(std::string position_key) {
    Loss l;
    l.kind = LossKind::position;
    l.position_key = std::move(position_key);
    return l;
}
Loss Loss::ClassificationLoss(std::string label_key) {
    Loss l;
    l.kind = LossKind::classification;
    l.label_key = std::move(label_key);
    return l;
}
Loss Loss::ReconstructionLoss() {
    Loss l;
    l.kind = LossKind::reconstruction;
    return l;
}
Loss Loss::CompoundLoss(std::vector<Loss> losses, std::vector<double> weights) {
    Loss l;
    l.kind = LossKind::compound;
    l.losses = std::move(losses);
    l.weights = std::move(weights);
    return l;
}

Loss Loss::Custom(std::string name) {
    Loss l;
    l.kind = LossKind::custom;
    l.name = std::move(name);
    return l;
}

void validate(const Loss& loss) {
    const std::string who = to_string(loss.kind) + (loss.name.empty() ? "" : " '" + loss.name + "'") + ": ";
    if (loss.kind == LossKind::relation) {
        require(std::isfinite(loss.epsilon) && loss.epsilon > 0 && loss.epsilon < 1, who + "epsilon must lie in (0, 1)");
        require(std::isfinite(loss.exaggeration) && loss.exaggeration > 0, who + "exaggeration must be positive");
    }
    if (loss.kind == LossKind::custom) require(!loss.name.empty(), "a custom loss needs a name");
    if (loss.kind == LossKind::compound) {
        require(!loss.losses.empty(), who + "needs at least one loss");
        require(loss.weights.empty() || loss.weights.size() == loss.losses.size(),
                who + "size mismatch between losses (" + std::to_string(loss.losses.size()) + ") and weights (" +
                    std::to_string(loss.weights.size()) + ")");
        for (double w : loss.weights) require(std::isfinite(w), who + "weights must be finite");
        for (const Loss& l : loss.losses) validate(l);
    }
}

double relation_loss_value(RelationLossFunction f, const std::vector<double>& p, const std::vector<double>* p_t,
                           const std::vector<double>& q, double len, double eps, std::vector<double>& dq) {
    const std::size_t m = q.size();
    dq.assign(m, 0.0);
    double L = 0.0;
    const int copies = p_t ? 2 : 1;
    for (int c = 0; c < copies; ++c) {
        const std::vector<double>& pp = c == 0 ? p : *p_t;
        for (std::size_t k = 0; k < m; ++k) {
            const double pk = pp[k], qk = q[k];
            if (f == RelationLossFunction::kullback_leibler_div) {
                if (pk == 0.0) continue;
                L += pk * (std::log(pk + eps) - std::log(qk + eps));
                dq[k] -= pk / (qk + eps);
            } else {
                // −p log(clamp(q, ε, 1)) − (1 − p) log(clamp(1 − q, ε, 1)); a clamped argument passes no gradient.
                const double qc = std::clamp(qk, eps, 1.0), rc = std::clamp(1.0 - qk, eps, 1.0);
                L -= pk * std::log(qc) + (1.0 - pk) * std::log(rc);
                if (qk >= eps && qk <= 1.0) dq[k] -= pk / qk;
                if (1.0 - qk >= eps && 1.0 - qk <= 1.0) dq[k] += (1.0 - pk) / (1.0 - qk);
            }
        }
    }
    for (double& g : dq) g /= len;
    return L / len;
}

Sampling parse_sampling(const std::string& name) {
    if (name == "standard") return Sampling::standard;
    if (name == "negative_edge") return Sampling::negative_edge;
    throw InvalidArgument("sampling must be 'standard' or 'negative_edge', got '" + name + "'");
}

std::string to_string(Sampling s) { return s == Sampling::standard ? "standard" : "negative_edge"; }

namespace {
bool has_relation_loss(const Loss& l) {
    if (l.kind == LossKind::relation) return true;
    return std::any_of(l.losses.begin(), l.losses.end(), has_relation_loss);
}
} // namespace

void validate(const TrainingPhase& p) {
    const std::string who = "training phase '" + p.name + "': ";
    require(p.epochs >= 1, who + "epochs must be >= 1, got " + std::to_string(p.epochs));
    require(p.batch_size >= 1, who + "batch_size must be >= 1, got " + std::to_string(p.batch_size));
    // A batch of points holds relations between pairs only: batches of one point would leave the loss 0 throughout.
    require(p.batch_size >= 2 || p.sampling != Sampling::standard || !has_relation_loss(p.loss),
            who + "batch_size must be >= 2 for a relation loss on batches of points (a batch of 1 point has no "
                  "pairs), got " + std::to_string(p.batch_size));
    require(p.batches_per_epoch == -1 || p.batches_per_epoch >= 1,
            who + "batches_per_epoch must be -1 or >= 1, got " + std::to_string(p.batches_per_epoch));
    require(p.neg_sampling_rate >= 1, who + "neg_sampling_rate must be >= 1, got " + std::to_string(p.neg_sampling_rate));
    require(std::isfinite(p.learning_rate) && p.learning_rate > 0, who + "learning_rate must be positive");
    require(p.report_interval >= 1, who + "report_interval must be >= 1");
    require(p.lr_anneal == LrAnneal::none || p.lr_anneal == LrAnneal::linear || p.lr_anneal == LrAnneal::cosine,
            who + "lr_anneal must be none, linear or cosine");
    require(p.optimizer.kind == OptimizerOptions::Kind::adam || p.optimizer.kind == OptimizerOptions::Kind::sgd,
            who + "optimizer must be Adam or SGD");
    validate(p.optimizer);
    try {
        validate(p.loss);
    } catch (const InvalidArgument& e) {
        throw InvalidArgument(who + e.what());
    }
}

} // namespace nembed::paradime
