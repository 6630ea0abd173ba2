#pragma once
/// @file schedule.hpp
/// Learning-rate schedules per epoch, as cne's new_lr (contrastive.md §1.7) — umap-learn's linear decay
/// α_e = lr·(1 − e/E) is the linear schedule with min_factor 0 and no warm-up.
///   warm-up (e < W):  warmup_lr + (lr − warmup_lr)·e/W
///   then, with e' = e − W, E' = E − W:  none: lr;  linear: lr·max(min_factor, 1 − e'/E');
///   cosine: lr·(1 + cos(π·e'/E'))/2
#include <string>

namespace nembed {

enum class LrAnneal { none, linear, cosine };
/// Parses "none"/"constant", "linear", "cosine"; throws InvalidArgument otherwise.
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
