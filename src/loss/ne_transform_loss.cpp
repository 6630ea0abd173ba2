// LargeVis's and InfoTSNE's losses in TorchDR's non-parametric transform (loss/ne_transform_loss.hpp).
#include "nembed/loss/ne_transform_loss.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/loss/attraction.hpp"
#include "nembed/loss/ne_loss.hpp"
#include "nembed/repulsion/negative_sampling.hpp"

namespace nembed {

NeBipartiteSampledLoss::NeBipartiteSampledLoss(const CsrMatrix<double>& A, Matrix<double> reference,
                                               NeSampledRepulsion repulsion, const OutputKernel& kernel,
                                               std::size_t n_negatives, bool exclude_neighbors, std::uint64_t seed,
                                               int n_threads)
    : A_(A), reference_(std::move(reference)), kind_(repulsion), kernel_(kernel), m_(n_negatives),
      exclude_(exclude_neighbors), seed_(seed), n_threads_(n_threads) {
    A_.validate("transform: the bipartite affinity");
    require(A_.n_cols == reference_.rows(), "transform: the affinity has " + std::to_string(A_.n_cols) +
                                                " columns but the reference embedding " +
                                                std::to_string(reference_.rows()) + " rows");
    for (double v : A_.values)
        require_lazy(std::isfinite(v) && v >= 0.0,
                     [] { return std::string("transform: the affinity must be finite and non-negative"); });
    validate(kernel_);
    require(m_ >= 1, "n_negatives must be >= 1");
    require(m_ <= kMaxNegatives,
            "n_negatives must be <= " + std::to_string(kMaxNegatives) + ", got " + std::to_string(m_));
    require(n_threads_ >= 1, "n_threads must be >= 1");
    if (exclude_)
        for (std::size_t i = 0; i < A_.n_rows; ++i)
            require(static_cast<std::size_t>(A_.indptr[i + 1] - A_.indptr[i]) < A_.n_cols,
                    "exclude_neighbors_from_negative_sampling: new point " + std::to_string(i) +
                        " neighbours every training point, no negative is left to draw");
}

double NeBipartiteSampledLoss::operator()(MatrixView<double> Y, const NeStepInfo& info, double* grad,
                                          bool want_loss) {
    const std::size_t n = A_.n_rows, d = Y.cols, nr = reference_.rows();
    require(Y.rows == n, "transform loss: " + std::to_string(Y.rows) + " new points but the affinity has " +
                             std::to_string(n) + " rows");
    require(reference_.cols() == d, "transform loss: the reference embedding has " +
                                        std::to_string(reference_.cols()) + " columns, the new points " +
                                        std::to_string(d));
    const MatrixView<double> R = reference_.view();
    // Negatives: one stream per new point and step.
    neg_.resize(n * m_);
    parallel_for(n_threads_, n, [&](std::size_t i) {
        SplitMixStream rng(seed_, sampling_stream(SamplingFamily::torchdr_negatives,
                                                  static_cast<std::uint64_t>(info.step), i));
        const index_t* cb = A_.indices.data() + A_.indptr[i];
        const index_t* ce = A_.indices.data() + A_.indptr[i + 1];
        for (std::size_t s = 0; s < m_; ++s) {
            std::uint32_t k;
            do {
                k = static_cast<std::uint32_t>(rng.below(nr));
            } while (exclude_ && std::find(cb, ce, static_cast<index_t>(k)) != ce);
            neg_[i * m_ + s] = k;
        }
    });
    attractive_forces(A_, Y, R, kernel_, 2.0 * info.exaggeration, grad, n_threads_);
    const double scale = 2.0 * info.repulsion_strength / static_cast<double>(n);
    const bool log_sum = kind_ == NeSampledRepulsion::log_sum;
    rep_.resize(n);
    visit_kernel(kernel_, [&](const auto& K) {
        parallel_for(n_threads_, n, [&](std::size_t i) {
            const double* yi = Y.row(i);
            const std::uint32_t* neg = neg_.data() + i * m_;
            double s = 0.0;
            for (std::size_t t = 0; t < m_; ++t) {
                const double D = squared_distance(yi, R.row(neg[t]), d);
                s += log_sum ? K.w(D) : -std::log(1.0 - K.w(D));
            }
            rep_[i] = log_sum ? std::log(s) : s;
            double* g = grad + i * d;
            for (std::size_t t = 0; t < m_; ++t) {
                const double* rk = R.row(neg[t]);
                const double D = squared_distance(yi, rk, d);
                const double f = K.force_weight(D);
                const double c = log_sum ? -scale * f / s : -scale * f / (1.0 - K.w(D));
                for (std::size_t q = 0; q < d; ++q) g[q] += c * (yi[q] - rk[q]);
            }
        });
    });
    if (!want_loss) return std::numeric_limits<double>::quiet_NaN();
    double rep = 0.0;
    for (double v : rep_) rep += v;
    return -info.exaggeration * sum_p_log_w(A_, Y, R, kernel_, n_threads_) +
           info.repulsion_strength * rep / static_cast<double>(n);
}

} // namespace nembed
