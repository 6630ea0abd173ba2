#pragma once
/// @file parametrization.hpp
/// The parametrisation seam (docs/core.md §4): what maps point indices to embedding positions. Losses and batch
/// plans see only positions and dL/dY; where the positions come from is this interface's business:
///  - EmbeddingTable: Y itself is the parameter (t-SNE, UMAP, cne's non-parametric mode);
///  - a network (the parametric issue): forward on a batch of indices, backward with dL/dY of that batch.
/// Plans with a fused hot path (UMAP's row workers, cne's fused kernels, t-SNE's full-batch gradient) ask for the
/// table and update it directly; they refuse other parametrisations with a clear message.
#include <cstddef>
#include <span>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/core/types.hpp"

namespace nembed {

class Optimizer;
class EmbeddingTable;

class Parametrization {
public:
    virtual ~Parametrization() = default;
    virtual std::size_t n_points() const = 0;
    virtual std::size_t n_components() const = 0;
    /// Writes the positions of `batch` into out (batch.size() × n_components, row-major).
    virtual void forward(std::span<const index_t> batch, double* out) = 0;
    /// Accumulates dL/dθ from dL/dY of `batch` (same layout as forward's output).
    virtual void backward(std::span<const index_t> batch, const double* dY) = 0;
    /// One optimizer step with the accumulated gradient, which is then cleared.
    virtual void step(Optimizer& optimizer, double lr, int n_threads) = 0;
    /// All N positions (N × n_components): the table itself, or a forward pass over every point.
    virtual Matrix<double> embedding() = 0;
    /// The free table when this is one, else nullptr.
    virtual EmbeddingTable* table() { return nullptr; }
};

/// Y as the parameter.
class EmbeddingTable final : public Parametrization {
public:
    EmbeddingTable() = default;
    explicit EmbeddingTable(Matrix<double> Y) : Y_(std::move(Y)) {}
    std::size_t n_points() const override { return Y_.rows(); }
    std::size_t n_components() const override { return Y_.cols(); }
    void forward(std::span<const index_t> batch, double* out) override;
    void backward(std::span<const index_t> batch, const double* dY) override;
    void step(Optimizer& optimizer, double lr, int n_threads) override;
    Matrix<double> embedding() override { return Y_; }
    EmbeddingTable* table() override { return this; }

    Matrix<double>& Y() { return Y_; }
    const Matrix<double>& Y() const { return Y_; }
    /// The dense gradient accumulated by backward (N × n_components; allocated on first use).
    std::vector<double>& grad() { return grad_; }

private:
    Matrix<double> Y_;
    std::vector<double> grad_;
};

} // namespace nembed
