#pragma once
/// @file losses.hpp
/// paraDime's losses (docs/parametric.md, "paraDime"), named as in paraDime. Each loss gives its value on a batch and
/// its gradient with respect to the embedded batch; the model's backward pass takes it from there.
///  - RelationLoss: the global relations of the batch (standard sampling: the batch block, renormalised to sum 1
///    when normalize_sub; negative-edge sampling: 1 for the sampled edge, 0 for its negatives) against the batch
///    relations, by `kullback_leibler_div` Σ p(log(p + ε) − log(q + ε)) or `cross_entropy_loss`
///    −p log(clamp(q)) − (1 − p) log(clamp(1 − q)) (clamp to [ε, 1]; a clamped term passes no gradient), both summed
///    over the square form (diagonal excluded) or the pairs and divided by its row count or the pair count;
///  - PositionLoss: mean squared error to given positions (paraDime's initialisation phases);
///  - ClassificationLoss, ReconstructionLoss: need a model with a classify or decode head (a PyTorch module through
///    the Python plug-in); the built-in network refuses them with a message naming the loss;
///  - CompoundLoss: a weighted sum, with each part's history;
///  - custom: a loss the model evaluates itself (a user's PyTorch loss), identified by its name.
#include <string>
#include <vector>

namespace nembed::paradime {

enum class LossKind { relation, position, classification, reconstruction, compound, custom };
enum class RelationLossFunction { kullback_leibler_div, cross_entropy_loss };

/// "RelationLoss", "PositionLoss", "ClassificationLoss", "ReconstructionLoss", "CompoundLoss" (or snake case);
/// throws InvalidArgument naming the unknown loss.
LossKind parse_loss(const std::string& name);
std::string to_string(LossKind kind);
/// "kullback_leibler_div" (also "kl"), "cross_entropy_loss" (also "cross_entropy", "ce").
RelationLossFunction parse_relation_loss_function(const std::string& name);
std::string to_string(RelationLossFunction f);

struct Loss {
    LossKind kind = LossKind::relation;
    std::string name;                        ///< for histories; empty: "<prefix>_<position>"
    // RelationLoss
    RelationLossFunction loss_function = RelationLossFunction::kullback_leibler_div;
    std::string global_relation_key = "rel";
    std::string batch_relation_key = "rel";
    bool normalize_sub = true;
    double epsilon = 1e-7;
    /// Early exaggeration (not in paraDime, whose P × c is undone by normalize_sub and by the normalised Q): the
    /// attraction of the loss is multiplied by it, the repulsion through Q's normalising sum is not (KL:
    /// −α Σ p log w + log Σ w, openTSNE's exaggerated gradient). 1: paraDime's loss. > 0.
    double exaggeration = 1.0;
    // PositionLoss
    std::string position_key = "pos";
    // ClassificationLoss
    std::string label_key = "labels";
    // CompoundLoss
    std::vector<Loss> losses;
    std::vector<double> weights;             ///< empty: all 1

    static Loss RelationLoss(RelationLossFunction f = RelationLossFunction::kullback_leibler_div,
                             std::string global_key = "rel", std::string batch_key = "rel", bool normalize_sub = true);
    static Loss PositionLoss(std::string position_key = "pos");
    static Loss ClassificationLoss(std::string label_key = "labels");
    static Loss ReconstructionLoss();
    static Loss CompoundLoss(std::vector<Loss> losses, std::vector<double> weights = {});
    static Loss Custom(std::string name);
};

/// Throws InvalidArgument naming the loss and the bad field (weights of the wrong length, nested emptiness, ...).
void validate(const Loss& loss);

/// The loss function on a flat list of pairs: p, q per pair, `mult` copies of each pair in the square form
/// (triangular batch relations: 2), divided by `len`. Writes dL/dq into dq (overwritten) and returns L.
/// `p_t` (optional, triangular only) is the transposed value p_ji of each pair, for relations that are not
/// symmetric: then the pair contributes the terms of p_ij and p_ji with the one q.
double relation_loss_value(RelationLossFunction f, const std::vector<double>& p, const std::vector<double>* p_t,
                           const std::vector<double>& q, double len, double epsilon, std::vector<double>& dq);

} // namespace nembed::paradime
