#pragma once
/// @file tsnekhorn.hpp
/// TorchDR 0.5's TSNEkhorn as a configuration of the core (docs/torchdr.md "COSNE and TSNEkhorn"): a given input
/// affinity P (TorchDR: the SymmetricEntropicAffinity of X, dense, diagonal kept), the TSNEkhorn objective with the
/// output-side Sinkhorn (loss/tsnekhorn.hpp), SGD (torch's momentum buffer) and the full-batch plan without
/// centring on the one Trainer: one phase "main" of max_iter iterations at lr max(N/4, 50) ("auto") with momentum
/// 0.8 ("auto" for SGD). TorchDR's min_grad_norm stop and its lr schedulers are the NeighborEmbedding driver's part.
///
///   TsnekhornOptions opt;                          // TorchDR's defaults
///   TsnekhornEmbedding emb = TSNEkhorn(opt).fit(X, P);
#include <cstdint>
#include <memory>
#include <optional>

#include "nembed/core/matrix.hpp"
#include "nembed/core/sparse.hpp"
#include "nembed/loss/tsnekhorn.hpp"
#include "nembed/optim/optimizer.hpp"
#include "nembed/train/trainer.hpp"

namespace nembed {

enum class TsnekhornInit { pca, normal };
/// Parses "pca", "normal"/"random"; throws InvalidArgument naming the bad value.
TsnekhornInit parse_tsnekhorn_init(const std::string& name);

/// TorchDR's TSNEkhorn parameters that act on the embedding (names and defaults as TorchDR's).
struct TsnekhornOptions {
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
    /// X (N × D) for the PCA init, P the N × N input affinity. No iteration run yet.
    TsnekhornEmbedding prepare(MatrixView<float> X, CsrMatrix<double> P) const;
    TsnekhornEmbedding fit(MatrixView<float> X, CsrMatrix<double> P) const;

private:
    TsnekhornOptions options_;
};

} // namespace nembed
