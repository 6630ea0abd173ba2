#pragma once
/// @file cosne.hpp
/// TorchDR 0.5's COSNE (hyperbolic SNE) as a configuration of the core (docs/torchdr.md "COSNE and TSNEkhorn"):
/// the input affinity P (affinity/entropic.hpp's EntropicAffinity with TorchDR's COSNE arguments: perplexity,
/// metric, max_iter = max_iter_affinity, sparsity; conditional rows over the k = 3·perplexity nearest neighbours,
/// entropy log(perplexity), rows summing to 1/N, not symmetrised), the COSNE objective (loss/cosne.hpp), RiemannianAdam (optim/riemannian_adam.hpp) and
/// the full-batch plan without centring on the one Trainer. Points never leave the Poincaré ball: RiemannianAdam's
/// retraction projects them.
///
///   CosneOptions opt;                      // TorchDR's defaults
///   opt.random_state = 0;
///   CosneEmbedding emb = COSNE(opt).fit(X); // 2000 iterations
///   emb.optimize(100);                      // 100 more, the same optimizer state
///
/// Schedule (TorchDR's NeighborEmbedding): with early_exaggeration_coeff > 1, an "early_exaggeration" phase of
/// early_exaggeration_iter + 1 iterations (TorchDR ends it after the iteration whose 0-based index equals
/// early_exaggeration_iter) at lr max(N/coeff/4, 50), then "main" at max(N/4, 50) ("auto"; or lr throughout), for
/// max_iter iterations in all. TorchDR re-creates its optimizer when the exaggeration ends: the RiemannianAdam state
/// is reset there. TorchDR's min_grad_norm stop and its lr schedulers are the NeighborEmbedding driver's part.
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "nembed/affinity/cost.hpp"
#include "nembed/core/matrix.hpp"
#include "nembed/loss/cosne.hpp"
#include "nembed/neighbors/knn.hpp"
#include "nembed/optim/optimizer.hpp"
#include "nembed/train/full_batch_plan.hpp"
#include "nembed/train/parametrization.hpp"
#include "nembed/train/trainer.hpp"

namespace nembed {

/// TorchDR's COSNE parameters (names and defaults as TorchDR's).
struct CosneOptions {
    double perplexity = 30.0;               ///< < N (TorchDR refuses N <= perplexity)
    double learning_rate_for_h_loss = 1.0;  ///< λ of the norm-matching term; >= 0
    double gamma = 2.0;                     ///< Q = γ/(D_H + γ²); > 0
    std::size_t n_components = 2;
    std::optional<double> lr;               ///< none = "auto": max(N / exaggeration / 4, 50) per phase
    /// optimizer_kwargs of RiemannianAdam (torch.optim.Adam's defaults).
    double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
    /// init "hyperbolic" (init/hyperbolic.hpp) when empty; else TorchDR's tensor init: N × n_components, scaled to
    /// init_scaling / std(first column) and optimised on the Euclidean manifold (TorchDR wraps only its hyperbolic
    /// init in a ManifoldParameter), so it must stay inside the ball.
    Matrix<double> init;
    double init_scaling = 0.5;
    int max_iter = 2000;
    std::optional<double> early_exaggeration_coeff;  ///< none = 1 (no early exaggeration)
    std::optional<int> early_exaggeration_iter;      ///< none = 0
    double repulsion_strength = 1.0;
    int max_iter_affinity = 100;            ///< EntropicAffinity's max_iter (root-search steps per row)
    CostMetric metric = CostMetric::sqeuclidean;  ///< EntropicAffinity's metric (cost.hpp)
    bool sparsity = true;                   ///< EntropicAffinity's sparsity: the 3·perplexity nearest only
    KnnMethod neighbors = KnnMethod::auto_; ///< the index for the (sq)euclidean neighbours with sparsity
    int n_jobs = 1;
    std::optional<std::uint64_t> random_state;  ///< none = 0
    TrainCallback callback;                 ///< every check_interval iterations; true stops
    int check_interval = 50;
    bool verbose = false;
    TrainProgress progress;
};
/// Throws InvalidArgument naming the bad field (n_points: the data size, 0 when unknown).
void validate(const CosneOptions& options, std::size_t n_points = 0);

/// The resumable state: the table in the ball, the objective, the plan, RiemannianAdam and the Trainer.
class CosneEmbedding {
public:
    CosneEmbedding(CosneEmbedding&&) noexcept;
    CosneEmbedding& operator=(CosneEmbedding&&) noexcept;
    ~CosneEmbedding();
    /// Runs up to n more iterations (all remaining when n < 0) of the queued schedule, then stops; more calls
    /// continue it (two optimize(50) take the bits of one optimize(100)).
    RunReport optimize(std::int64_t n = -1);
    const Matrix<double>& embedding() const;
    std::int64_t iterations() const;
    const CosneObjective& objective() const;

private:
    friend class COSNE;
    struct State;
    explicit CosneEmbedding(std::unique_ptr<State> s);
    std::unique_ptr<State> s_;
};

class COSNE {
public:
    explicit COSNE(CosneOptions options = {}) : options_(std::move(options)) {}
    /// P (EntropicAffinity), init and the queued schedule, no iteration run yet.
    CosneEmbedding prepare(MatrixView<float> X) const;
    /// prepare + optimize().
    CosneEmbedding fit(MatrixView<float> X) const;
    /// With a given input affinity P (N × N) and the squared input norms ‖x_i‖² (no kNN).
    CosneEmbedding prepare(CsrMatrix<double> P, std::vector<double> x_sqnorm) const;

private:
    CosneOptions options_;
};

} // namespace nembed
