#pragma once
/// @file schedule.hpp
/// Learning-rate schedules per epoch, as cne's new_lr (contrastive.md §1.7), and umap-learn's decay.
///   warm-up (e < W):  warmup_lr + (lr − warmup_lr)·e/W
///   then, with e' = e − W, E' = E − W:  none: lr;  linear: lr·max(min_factor, 1 − e'/E');
///   cosine: lr·(1 + cos(π·e'/E'))/2;  umap: lr at e' = 0, then lr·(1 − (e' − 1)/E')
/// The umap mode is umap-learn's optimize_layout_euclidean: it sets α = lr·(1 − n/E) at the end of epoch n, so
/// epochs 0 and 1 both run at lr and epoch e ≥ 1 at lr·(1 − (e − 1)/E) (min_factor does not apply).
#include <string>

namespace nembed {

enum class LrAnneal { none, linear, cosine, umap };
/// Parses "none"/"constant", "linear", "cosine", "umap"; throws InvalidArgument otherwise.
LrAnneal parse_lr_anneal(const std::string& name);
std::string to_string(LrAnneal a);

struct LrSchedule {
    double learning_rate = 1.0;
    LrAnneal anneal = LrAnneal::linear;
    double min_factor = 0.0;   ///< floor of the linear schedule, as a fraction of learning_rate
    int warmup_epochs = 0;
    double warmup_lr = 0.0;
    int total_epochs = 1;      ///< E (> warmup_epochs)

    /// Throws InvalidArgument for a non-finite or negative rate, total_epochs < 1, warm-up not shorter than E.
    void validate() const;
    /// The rate of epoch e (0-based).
    double at(int epoch) const;
};

} // namespace nembed
