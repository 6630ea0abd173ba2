#pragma once
/// @file schedule.hpp
/// Learning-rate schedules per epoch, as cne's new_lr (contrastive.md §1.7), and umap-learn's decay.
///   warm-up (e < W):  warmup_lr + (lr − warmup_lr)·e/W
///   then, with e' = e − W, E' = E − W:  none: lr;  linear: lr·max(min_factor, 1 − e'/E');
///   cosine: lr·(1 + cos(π·e'/E'))/2;  umap: lr at e' = 0, then lr·(1 − (e' − 1)/E')
/// The umap mode is umap-learn's optimize_layout_euclidean: it sets α = lr·(1 − n/E) at the end of epoch n, so
/// epochs 0 and 1 both run at lr and epoch e ≥ 1 at lr·(1 − (e − 1)/E) (min_factor does not apply).
///
/// torch.optim.lr_scheduler's closed forms (TorchDR's `scheduler`; the warm-up does not apply, t = the step):
///   linear_lr (LinearLR):            lr·(s + (e − s)·min(t, T)/T), s = start_factor, e = end_factor, T = total_iters
///   cosine_annealing_lr (CosineAnnealingLR): η + (lr − η)·(1 + cos(π·t/T_max))/2, η = eta_min
///   exponential_lr (ExponentialLR):  lr·γ^t
/// Their defaults are torch's (LinearLR: 1/3, 1, 5); T_max and γ have none in torch and must be given.
#include <string>

namespace nembed {

enum class LrAnneal { none, linear, cosine, umap, linear_lr, cosine_annealing_lr, exponential_lr };
/// Parses "none"/"constant", "linear", "cosine", "umap"; throws InvalidArgument otherwise.
LrAnneal parse_lr_anneal(const std::string& name);
std::string to_string(LrAnneal a);
/// TorchDR's scheduler names (torch.optim.lr_scheduler's class names): "none"/"constant" (no scheduler),
/// "LinearLR", "CosineAnnealingLR", "ExponentialLR" (case-insensitive); throws InvalidArgument naming the value and
/// the supported ones otherwise.
LrAnneal parse_torch_scheduler(const std::string& name);

struct LrSchedule {
    double learning_rate = 1.0;
    LrAnneal anneal = LrAnneal::linear;
    double min_factor = 0.0;   ///< floor of the linear schedule, as a fraction of learning_rate
    int warmup_epochs = 0;
    double warmup_lr = 0.0;
    int total_epochs = 1;      ///< E (> warmup_epochs)
    double start_factor = 1.0 / 3.0;  ///< linear_lr: torch's default 1/3, in (0, 1]
    double end_factor = 1.0;          ///< linear_lr: torch's default 1, in [0, 1]
    int total_iters = 5;              ///< linear_lr: torch's default 5, >= 1
    int t_max = 0;                    ///< cosine_annealing_lr: T_max, >= 1 (no default in torch)
    double eta_min = 0.0;             ///< cosine_annealing_lr: the floor, >= 0
    double gamma = 0.0;               ///< exponential_lr: the factor per step, > 0 (no default in torch)

    /// Throws InvalidArgument for a non-finite or negative rate, total_epochs < 1, warm-up not shorter than E.
    void validate() const;
    /// The rate of epoch e (0-based).
    double at(int epoch) const;
};

} // namespace nembed
