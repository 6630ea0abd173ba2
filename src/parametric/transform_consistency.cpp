// The transform-consistency penalty (parametric/transform_consistency.hpp).
#include "nembed/parametric/transform_consistency.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "nembed/affinity/perplexity.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/core/random.hpp"
#include "nembed/neighbors/knn.hpp"
#include "nembed/repulsion/negative_sampling.hpp"

namespace nembed {

void validate(const TransformConsistencyOptions& o) {
    require(std::isfinite(o.weight) && o.weight >= 0,
            "transform consistency: weight must be >= 0, got " + std::to_string(o.weight));
    require(std::isfinite(o.size) && o.size >= 0, "transform consistency: size must be >= 0, got " +
                                                       std::to_string(o.size));
    require(o.n_neighbors >= 1, "transform consistency: n_neighbors must be >= 1");
    require(std::isfinite(o.perplexity) && o.perplexity > 0 && o.perplexity < double(o.n_neighbors + 1),
            "transform consistency: perplexity must be in (0, n_neighbors + 1), got " + std::to_string(o.perplexity));
}

TransformConsistency::TransformConsistency(std::shared_ptr<const Matrix<float>> X,
                                           const TransformConsistencyOptions& o, std::uint64_t seed, int n_threads)
    : X_(std::move(X)), o_(o), seed_(seed) {
    validate(o_);
    require(X_ && X_->rows() > o_.n_neighbors, "transform consistency: needs more than n_neighbors (" +
                                                   std::to_string(o_.n_neighbors) + ") training points");
    k_ = o_.n_neighbors;
    m_ = o_.samples > 0 ? o_.samples : X_->rows();
    KnnOptions ko;
    ko.method = KnnMethod::exact;
    ko.n_threads = n_threads;
    const KnnGraph g = find_neighbors(X_->view(), k_, ko);
    knn_ = g.indices;
    nn_dist_.resize(g.n_points);
    for (std::size_t i = 0; i < g.n_points; ++i) nn_dist_[i] = g.dists(i)[0];
    cand_.resize(m_ * (k_ + 1));
    w_.resize(m_ * (k_ + 1));
}

void TransformConsistency::draw(std::uint64_t pass, float* Xt, int n_threads) {
    const std::size_t n = X_->rows(), D = X_->cols(), kc = k_ + 1;
    parallel_for(n_threads, m_, [&](std::size_t s) {
        Rng rng(seed_, sampling_stream(SamplingFamily::encoder_transform_consistency, pass, s));
        // x̃ = x_i + an offset in the span of i's neighbour differences (where held-out points differ from their
        // nearest training point; isotropic noise in D dimensions mostly leaves the data's directions), of length
        // size · (i's nearest-neighbour distance).
        const std::size_t i = rng.below(n);
        const float* xi = X_->data() + i * D;
        std::vector<double> offset(D, 0.0);
        double* off = offset.data();
        for (std::size_t c = 0; c < k_; ++c) {
            const double g = rng.normal();
            const float* xc = X_->data() + static_cast<std::size_t>(knn_[i * k_ + c]) * D;
            for (std::size_t e = 0; e < D; ++e) off[e] += g * (double(xc[e]) - xi[e]);
        }
        double len = 0;
        for (std::size_t e = 0; e < D; ++e) len += off[e] * off[e];
        const double f = len > 0 ? o_.size * nn_dist_[i] / std::sqrt(len) : 0.0;
        float* x = Xt + s * D;
        for (std::size_t e = 0; e < D; ++e) x[e] = static_cast<float>(xi[e] + f * off[e]);
        index_t* cand = cand_.data() + s * kc;
        double* w = w_.data() + s * kc;
        cand[0] = static_cast<index_t>(i);
        for (std::size_t c = 0; c < k_; ++c) cand[c + 1] = knn_[i * k_ + c];
        // x̃'s squared distances to its candidates, then the transform's calibrated Gaussian weights.
        for (std::size_t c = 0; c < kc; ++c) {
            const float* y = X_->data() + static_cast<std::size_t>(cand[c]) * D;
            double d2 = 0;
            for (std::size_t e = 0; e < D; ++e) {
                const double t = double(x[e]) - y[e];
                d2 += t * t;
            }
            w[c] = d2;
        }
        double dmin = w[0];
        for (std::size_t c = 1; c < kc; ++c) dmin = std::min(dmin, w[c]);
        for (std::size_t c = 0; c < kc; ++c) w[c] -= dmin;  // shifted: the same weights, no underflow
        const double tau = calibrate_precision(std::span<const double>(w, kc), o_.perplexity);
        double z = 0;
        for (std::size_t c = 0; c < kc; ++c) z += (w[c] = std::exp(-0.5 * tau * w[c]));
        for (std::size_t c = 0; c < kc; ++c) w[c] /= z;
    });
}

double TransformConsistency::evaluate(MatrixView<double> F, MatrixView<double> Y, double* gF, double* gY,
                                      int n_threads) const {
    require(F.rows == m_ && Y.rows == X_->rows() && F.cols == Y.cols,
            "transform consistency: F must be m x d and Y n x d");
    require(o_.stop_gradient || gY != nullptr, "transform consistency: gY is needed without stop_gradient");
    const std::size_t n = Y.rows, d = F.cols, kc = k_ + 1;
    const double a = o_.weight / static_cast<double>(m_);
    auto sq = [&](std::size_t s, std::size_t j) {
        double d2 = 0;
        for (std::size_t e = 0; e < d; ++e) d2 += (F(s, e) - Y(j, e)) * (F(s, e) - Y(j, e));
        return d2;
    };
    // Each sample's KL and its gradient on f(x̃_s), one sample per task, sums in a fixed order.
    std::vector<double> Ls(m_), Z(m_);
    parallel_for(n_threads, m_, [&](std::size_t s) {
        const index_t* cand = cand_.data() + s * kc;
        const double* w = w_.data() + s * kc;
        double* g = gF + s * d;
        std::fill_n(g, d, 0.0);
        double attraction = 0;
        for (std::size_t c = 0; c < kc; ++c) {
            const auto j = static_cast<std::size_t>(cand[c]);
            const double d2 = sq(s, j);
            attraction += w[c] * std::log1p(d2);
            for (std::size_t e = 0; e < d; ++e) g[e] += 2 * a * w[c] / (1 + d2) * (F(s, e) - Y(j, e));
        }
        // The repulsion: log Z_s over every training image.
        double z = 0;
        std::vector<double> rep(d, 0.0);
        for (std::size_t j = 0; j < n; ++j) {
            const double k = 1 / (1 + sq(s, j));
            z += k;
            for (std::size_t e = 0; e < d; ++e) rep[e] += k * k * (F(s, e) - Y(j, e));
        }
        for (std::size_t e = 0; e < d; ++e) g[e] -= 2 * a * rep[e] / z;
        Z[s] = z;
        Ls[s] = attraction + std::log(z);
    });
    if (!o_.stop_gradient) {
        // The images' gradient: the attraction in sample order, then each image's repulsion summed over the
        // samples in order (one image per task).
        for (std::size_t s = 0; s < m_; ++s)
            for (std::size_t c = 0; c < kc; ++c) {
                const auto j = static_cast<std::size_t>(cand_[s * kc + c]);
                const double q = 2 * a * w_[s * kc + c] / (1 + sq(s, j));
                for (std::size_t e = 0; e < d; ++e) gY[j * d + e] -= q * (F(s, e) - Y(j, e));
            }
        parallel_for(n_threads, n, [&](std::size_t j) {
            for (std::size_t s = 0; s < m_; ++s) {
                const double k = 1 / (1 + sq(s, j));
                for (std::size_t e = 0; e < d; ++e) gY[j * d + e] += 2 * a * k * k / Z[s] * (F(s, e) - Y(j, e));
            }
        });
    }
    double L = 0;
    for (std::size_t s = 0; s < m_; ++s) L += Ls[s];
    return a * L;
}

} // namespace nembed
