#pragma once
/// @file transform_consistency.hpp
/// A transform-consistency penalty for a network's map between its training points (#17; in neither TorchDR nor
/// paraDime; docs/parametric.md, "Transform consistency"). t-SNE's transform puts a new point next to the image of
/// its nearest training point; a network trained on the training points alone bends between them and puts it
/// several map spacings away. Each training pass draws m points near training points, x̃ = x_i + size · d_i · ĝ (i uniform;
/// d_i: i's nearest-neighbour distance; ĝ: the unit vector of Σ_c g_c (x_c − x_i) over i's k nearest c, g_c ~
/// N(0, 1): a direction in which the data vary there, as a held-out point's offset from its nearest training point
/// does; all from the counter stream (seed, pass, sample)), and pulls the network's f(x̃) toward its candidates'
/// images y_c, c ∈ {i} ∪ kNN(i), by t-SNE's transform's objective for one new point against the training map:
///     L_c = λ / m Σ_s KL(w_s ‖ q_s) + const = λ / m Σ_s [Σ_c w_sc log(1 + ‖f(x̃_s) − y_c‖²) + log Z_s],
///     Z_s = Σ_j (1 + ‖f(x̃_s) − y_j‖²)⁻¹ over every training image j (exact: m · n kernel terms),
/// w_s: x̃_s's Gaussian affinities to its candidates calibrated to `perplexity` (openTSNE's transform: 5). The
/// heavy tail lets a candidate in another cluster of the map barely pull; the repulsion keeps the attraction from
/// shrinking the map (bench/RESULTS.md, h33: a squared distance to the weighted mean of the images, and the
/// attraction alone, were tried first). The images y are constants (stop_gradient) or not (pulled too).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/core/types.hpp"

namespace nembed {

struct TransformConsistencyOptions {
    double weight = 0.0;           ///< λ >= 0; 0: off
    std::size_t samples = 0;       ///< m points per pass; 0: as many as training points
    std::size_t n_neighbors = 15;  ///< k: the candidates are i and its k nearest (exact)
    double size = 1.0;             ///< |x̃ − x_i| in i's nearest-neighbour distances, >= 0
    double perplexity = 5.0;       ///< of x̃'s affinities to its k + 1 candidates, < k + 1
    bool stop_gradient = true;     ///< the target t is a constant
};
/// Throws InvalidArgument naming the bad field.
void validate(const TransformConsistencyOptions& options);

class TransformConsistency {
public:
    /// X: the training rows (n × D); the kNN lists are found once (exact: the same for any thread count). Throws
    /// InvalidArgument for bad options or fewer than k + 1 rows.
    TransformConsistency(std::shared_ptr<const Matrix<float>> X, const TransformConsistencyOptions& options,
                         std::uint64_t seed, int n_threads);

    std::size_t samples() const { return m_; }
    std::size_t n_points() const { return X_->rows(); }
    const TransformConsistencyOptions& options() const { return o_; }

    /// Draws pass `pass`'s m points: their rows into Xt (m × D, float32), their candidates and weights kept for
    /// evaluate. Each sample from its own stream: independent of the thread count.
    void draw(std::uint64_t pass, float* Xt, int n_threads);
    /// L_c of the last draw, given F = f(x̃) (m × d) and Y = the training points' images by row index (n × d);
    /// writes ∂L_c/∂F into gF (m × d, overwritten) and, unless stop_gradient, adds ∂L_c/∂Y into gY (n × d; may be
    /// null with stop_gradient). Sums in sample order: the same bits for any thread count.
    double evaluate(MatrixView<double> F, MatrixView<double> Y, double* gF, double* gY, int n_threads = 1) const;

private:
    std::shared_ptr<const Matrix<float>> X_;
    TransformConsistencyOptions o_;
    std::uint64_t seed_;
    std::size_t m_, k_;
    std::vector<index_t> knn_;        // n × k
    std::vector<double> nn_dist_;     // n: the distance to the nearest
    std::vector<index_t> cand_;       // m × (k + 1), the last draw's candidates
    std::vector<double> w_;           // m × (k + 1), their weights (rows sum to 1)
};

} // namespace nembed
