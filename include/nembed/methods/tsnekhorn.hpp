#pragma once
/// @file tsnekhorn.hpp
/// TorchDR 0.5's TSNEkhorn as a configuration of the core (docs/torchdr.md "COSNE and TSNEkhorn"): the input
/// affinity P of X (affinity/symmetric_entropic.hpp's SymmetricEntropicAffinity with TorchDR's TSNEkhorn arguments:
/// perplexity, lr = lr_affinity_in, eps_square = eps_square_affinity_in, tol = tol_affinity_in, max_iter =
/// max_iter_affinity_in, metric, zero_diag = false: dense, diagonal kept; with symmetric_affinity = false
/// EntropicAffinity(perplexity, metric, max_iter = max_iter_affinity_in), sparse), or a given P; the TSNEkhorn objective with the
/// output-side Sinkhorn (loss/tsnekhorn.hpp), SGD (torch's momentum buffer) and the full-batch plan without
/// centring on the one Trainer: one phase "main" of max_iter iterations at lr max(N/4, 50) ("auto") with momentum
/// 0.8 ("auto" for SGD). TorchDR's min_grad_norm stop and its lr schedulers are the NeighborEmbedding driver's part.
///
///   TsnekhornOptions opt;                          // TorchDR's defaults
///   TsnekhornEmbedding emb = TSNEkhorn(opt).fit(X);     // P from X
///   TsnekhornEmbedding emb2 = TSNEkhorn(opt).fit(X, P); // a given P (the affinity options unused)
#include <cstdint>
#include <memory>
#include <optional>

#include "nembed/affinity/cost.hpp"
#include "nembed/core/matrix.hpp"
#include "nembed/core/sparse.hpp"
#include "nembed/loss/tsnekhorn.hpp"
#include "nembed/optim/optimizer.hpp"
#include "nembed/train/trainer.hpp"

namespace nembed {

enum class TsnekhornInit { pca, normal };
/// Parses "pca", "normal"/"random"; throws InvalidArgument naming the bad value.
TsnekhornInit parse_tsnekhorn_init(const std::string& name);

/// TorchDR's TSNEkhorn parameters (names and defaults as TorchDR's).
struct TsnekhornOptions {
    double perplexity = 30.0;  ///< < N; in (1, N − 1) for the symmetric affinity
    /// The input affinity (fit(X) only).
    double lr_affinity_in = 0.1;          ///< SymmetricEntropicAffinity's dual-ascent rate
    bool eps_square_affinity_in = true;   ///< optimise on ε² (more stable)
    double tol_affinity_in = 1e-3;        ///< its stopping threshold on the dual gradients
    int max_iter_affinity_in = 100;       ///< its steps (EntropicAffinity's root-search steps when not symmetric)
    CostMetric metric = CostMetric::sqeuclidean;
    /// false: EntropicAffinity (sparse, the 3·perplexity nearest neighbours, not symmetrised) instead. TorchDR 0.5
    /// then fails (its dense log Q meets the N × k sparse P); here the loss −Σ P log Q + Σ Q is taken over P's
    /// entries, which is what the dense P with zeros elsewhere would give.
    bool symmetric_affinity = true;
    std::size_t n_components = 2;
    std::optional<double> lr;  ///< none = "auto": max(N/4, 50)
    OptimizerOptions::Kind optimizer = OptimizerOptions::Kind::sgd;  ///< "SGD" or "Adam" (torch's)
    std::optional<double> momentum;  ///< optimizer_kwargs; none = "auto": 0.8 for SGD
    TsnekhornInit init = TsnekhornInit::pca;
    /// TorchDR's tensor init when not empty (N × n_components), scaled like the others.
    Matrix<double> init_embedding;
    double init_scaling = 1e-4;  ///< the init is init_scaling · Y / std(Y[:, 0]) (torch's unbiased std)
    int max_iter = 2000;
    bool unrolling = false;      ///< only false (the gap objective) is implemented
    int n_jobs = 1;
    std::optional<std::uint64_t> random_state;  ///< none = 0
    TrainCallback callback;      ///< every check_interval iterations; true stops
    int check_interval = 50;
    bool verbose = false;
    TrainProgress progress;
};
/// Throws InvalidArgument naming the bad field.
void validate(const TsnekhornOptions& options, std::size_t n_points = 0);

class TsnekhornEmbedding {
public:
    TsnekhornEmbedding(TsnekhornEmbedding&&) noexcept;
    TsnekhornEmbedding& operator=(TsnekhornEmbedding&&) noexcept;
    ~TsnekhornEmbedding();
    /// Runs up to n more iterations (all remaining when n < 0); resumable (the duals are kept).
    RunReport optimize(std::int64_t n = -1);
    const Matrix<double>& embedding() const;
    std::int64_t iterations() const;
    const TsnekhornObjective& objective() const;

private:
    friend class TSNEkhorn;
    struct State;
    explicit TsnekhornEmbedding(std::unique_ptr<State> s);
    std::unique_ptr<State> s_;
};

class TSNEkhorn {
public:
    explicit TSNEkhorn(TsnekhornOptions options = {}) : options_(std::move(options)) {}
    /// P from X with the affinity options (above), the init. No iteration run yet.
    TsnekhornEmbedding prepare(MatrixView<float> X) const;
    TsnekhornEmbedding fit(MatrixView<float> X) const;
    /// The input affinity fit(X) uses (N × N CSR; dense with the symmetric affinity).
    CsrMatrix<double> input_affinity(MatrixView<float> X) const;
    /// X (N × D) for the PCA init, P the N × N input affinity. No iteration run yet.
    TsnekhornEmbedding prepare(MatrixView<float> X, CsrMatrix<double> P) const;
    TsnekhornEmbedding fit(MatrixView<float> X, CsrMatrix<double> P) const;

private:
    TsnekhornOptions options_;
};

} // namespace nembed
