#pragma once
/// @file pacmap.hpp
/// TorchDR's PACMAP (docs/torchdr.md, "PACMAP") on the shared core (docs/core.md): PACMAPAffinity's neighbour
/// pairs (affinity/pacmap.hpp), PaCMAP's loss with its mid-near and further pairs re-drawn every step and TorchDR's
/// weight schedule (loss/pacmap.hpp), the full-batch plan (every point every step, one optimizer step on the
/// embedding table; train/full_batch_plan.hpp, no centring), Adam (optim/adam.hpp) and the resumable Trainer.
///
///   PacmapOptions opt;                        // TorchDR's defaults: n_neighbors 10, MN_ratio 0.5, FP_ratio 2,
///   opt.random_state = 0;                     // Adam lr 1, 450 iterations, pca init scaled to 1e-4
///   PacmapEmbedding emb = PACMAP(opt).fit(X);
///
/// The three phases of the schedule (by the weights the steps use; TorchDR updates them after each step):
/// "phase_1" (iter_per_phase + 1 steps, w_MN decaying), "phase_2" (iter_per_phase steps), "phase_3" (the rest).
/// TorchDR's stopping rule: after every step s with s % check_interval == 0 (0-based), the run stops when the
/// norm of that step's gradient is below min_grad_norm.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "nembed/affinity/pacmap.hpp"
#include "nembed/core/matrix.hpp"
#include "nembed/loss/pacmap.hpp"
#include "nembed/neighbors/knn.hpp"
#include "nembed/optim/optimizer.hpp"
#include "nembed/train/trainer.hpp"

namespace nembed {

enum class PacmapInit { pca, normal, random = normal, user };  // random: TorchDR's alias of normal
/// Parses "pca", "normal" or "random" (TorchDR's alias); throws InvalidArgument otherwise.
PacmapInit parse_pacmap_init(const std::string& name);
std::string to_string(PacmapInit i);

struct PacmapTimings {
    double knn = 0, init = 0, optimize = 0;
};

/// TorchDR's PACMAP(...) parameters with its defaults (names as TorchDR's).
struct PacmapOptions {
    std::size_t n_neighbors = 10;      ///< neighbour pairs per point; < N − 1 with exclusion, < N otherwise
    std::size_t n_components = 2;      ///< >= 1
    std::optional<double> lr = 1.0;    ///< none: TorchDR's "auto", max(N / 4, 50)
    /// torch.optim by name: Adam (TorchDR's default; betas 0.9, 0.999, eps 1e-8) or SGD (no momentum, as TorchDR
    /// passes no optimizer_kwargs).
    OptimizerOptions::Kind optimizer = OptimizerOptions::Kind::adam;
    PacmapInit init = PacmapInit::pca;
    Matrix<double> initial_embedding;  ///< N × n_components when init == user
    double init_scaling = 1e-4;        ///< the start's first column has (unbiased) standard deviation init_scaling
    double min_grad_norm = 1e-7;       ///< >= 0
    int max_iter = 450;                ///< >= 0
    PacmapMetric metric = PacmapMetric::sqeuclidean;
    double MN_ratio = 0.5;             ///< n_mid_near = ⌊MN_ratio · n_neighbors⌋; >= 0
    double FP_ratio = 2.0;             ///< n_further = ⌊FP_ratio · n_neighbors⌋; >= 0
    int check_interval = 50;           ///< >= 1
    int iter_per_phase = 100;          ///< >= 1
    bool exclude_neighbors_from_negative_sampling = true;
    std::optional<std::uint64_t> random_state;  ///< none: seeded from std::random_device
    int n_jobs = 1;                    ///< threads (resolved: >= 1)
    KnnMethod neighbors = KnnMethod::auto_;  ///< the kNN search (TorchDR: FAISS, exact)
    /// Called every `callbacks_every_iters` iterations (event.step = iterations done, event.loss = the loss of
    /// the next step's pairs at the new embedding, event.embedding); returning true stops the run.
    TrainCallback callback;
    int callbacks_every_iters = 0;     ///< 0 = never
    /// After every iteration (event.step = iterations done, event.phase_steps = the phase's length).
    TrainProgress progress;
    bool verbose = false;
};
/// Throws InvalidArgument naming the bad parameter (n_points: the data size; 0 skips the size checks).
void validate(const PacmapOptions& options, std::size_t n_points = 0);
/// ⌊MN_ratio · n_neighbors⌋ and ⌊FP_ratio · n_neighbors⌋ (TorchDR's int()).
std::size_t pacmap_n_mid_near(const PacmapOptions& options);
std::size_t pacmap_n_further(const PacmapOptions& options);
/// The phases of a run (see the file comment), all at learning rate `lr`.
std::vector<Phase> pacmap_phases(int max_iter, int iter_per_phase, double lr);
/// TorchDR's initialisation: the start Y0 (PCA scores or N(0, 1) draws) times init_scaling / std(Y0[:, 0]) with
/// the unbiased (N − 1) standard deviation, as torch's std. Throws for a constant first column.
Matrix<double> pacmap_scale_init(Matrix<double> Y0, double init_scaling);

/// A PACMAP layout in training: the embedding table, the objective, the full-batch plan, the optimizer and the
/// Trainer with the three phases. Move-only; `optimize(100)` twice equals `optimize(200)` bitwise.
class PacmapEmbedding {
public:
    PacmapEmbedding(Matrix<double> Y, PacmapObjective objective, const PacmapOptions& options, int n_threads);
    PacmapEmbedding(PacmapEmbedding&&) noexcept;
    PacmapEmbedding& operator=(PacmapEmbedding&&) noexcept;
    ~PacmapEmbedding();
    /// Runs up to `n_more` further iterations (all remaining when < 0) and returns the number run; stops early, for
    /// good, at TorchDR's min_grad_norm test. The callback runs every `every` iterations (never when <= 0;
    /// returning true stops), the progress hook after every iteration. Throws Interrupted on request_interrupt().
    int optimize(int n_more = -1, const TrainCallback& callback = {}, int every = 0,
                 const TrainProgress& progress = {});
    const Matrix<double>& embedding() const;
    int iterations_done() const;
    int max_iter() const { return max_iter_; }
    /// The min_grad_norm test stopped the run.
    bool converged() const { return converged_; }
    /// The gradient norm of the last iteration (NaN before any).
    double gradient_norm() const;
    const PacmapObjective& objective() const;
    const PacmapTimings& timings() const { return timings_; }
    PacmapTimings& timings() { return timings_; }

private:
    struct Training;
    std::unique_ptr<Training> train_;
    int max_iter_ = 0, check_interval_ = 50;
    double min_grad_norm_ = 1e-7;
    bool converged_ = false;
    bool verbose_ = false;
    PacmapTimings timings_;
};

class PACMAP {
public:
    explicit PACMAP(PacmapOptions options = {}) : options_(std::move(options)) {}
    /// kNN -> PACMAPAffinity -> init -> max_iter iterations (or until converged).
    PacmapEmbedding fit(MatrixView<float> X) const;
    /// Everything but the optimisation.
    PacmapEmbedding prepare(MatrixView<float> X) const;
    const PacmapOptions& options() const { return options_; }

private:
    PacmapOptions options_;
};

} // namespace nembed
