// TorchDR's neighbour-embedding losses with their true gradients (loss/ne_loss.hpp).
#include "nembed/loss/ne_loss.hpp"

#include <cmath>
#include <limits>
#include <string>

#include "nembed/affinity/symmetrize.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/loss/attraction.hpp"
#include "nembed/repulsion/negative_sampling.hpp"
#include "nembed/repulsion/repulsion.hpp"
#include "sne_dense.hpp"

namespace nembed {
namespace {

// (P + Pᵀ)/2 of TorchDR's P after checking it: Σ P log w = Σ Ps log w, and the attraction gradient moves both ends.
CsrMatrix<double> symmetric_part(const CsrMatrix<double>& P, const char* who, int n_threads) {
    const std::string w(who);
    P.validate((w + ": P").c_str());
    require(P.n_rows == P.n_cols, w + ": P must be square, got " + std::to_string(P.n_rows) + " x " +
                                      std::to_string(P.n_cols));
    require(P.n_rows >= 2, w + ": needs at least 2 points");
    for (double v : P.values)
        require_lazy(std::isfinite(v) && v >= 0.0, [&] { return w + ": P must be finite and non-negative"; });
    return symmetrize(P, Symmetrization::mean, n_threads);
}

constexpr std::size_t sample_chunk = 256;  // heads per negative-sampling stream: fixed, so draws ignore threads

} // namespace

NeTsneLoss::NeTsneLoss(const CsrMatrix<double>& P, Repulsion& repulsion, const OutputKernel& kernel, int n_threads)
    : Ps_(symmetric_part(P, "TSNE loss", n_threads)), repulsion_(repulsion), kernel_(kernel), n_threads_(n_threads) {
    validate(kernel);
    w0_ = visit_kernel(kernel_, [](const auto& k) { return k.w(0.0); });
}

double NeTsneLoss::operator()(MatrixView<double> Y, const NeStepInfo& info, double* grad, bool want_loss) {
    require(Y.rows == Ps_.n_rows, "TSNE loss: the embedding has " + std::to_string(Y.rows) + " points but P has " +
                                      std::to_string(Ps_.n_rows));
    forces_.resize(Y.size());
    const double Z = repulsion_.compute(Y, kernel_, forces_.data());
    const double z_all = Z + static_cast<double>(Y.rows) * w0_;  // TorchDR sums the diagonal w(0) too
    require(std::isfinite(z_all) && z_all > 0.0, "TSNE loss: the normalisation Σ w is not positive");
    attractive_forces(Ps_, Y, kernel_, 4.0 * info.exaggeration, grad, n_threads_);
    const double c = 4.0 * info.repulsion_strength / z_all;
    const double* f = forces_.data();
    parallelize(n_threads_, Y.size(), [&](int, std::size_t b, std::size_t e) {
        for (std::size_t k = b; k < e; ++k) grad[k] -= c * f[k];
    });
    if (!want_loss) return std::numeric_limits<double>::quiet_NaN();
    return -info.exaggeration * sum_p_log_w(Ps_, Y, kernel_, n_threads_) + info.repulsion_strength * std::log(z_all);
}

NeSneLoss::NeSneLoss(const CsrMatrix<double>& P, int n_threads)
    : Ps_(symmetric_part(P, "SNE loss", n_threads)), n_threads_(n_threads) {}

double NeSneLoss::operator()(MatrixView<double> Y, const NeStepInfo& info, double* grad, bool want_loss) {
    const std::size_t n = Y.rows;
    require(n == Ps_.n_rows, "SNE loss: the embedding has " + std::to_string(n) + " points but P has " +
                                 std::to_string(Ps_.n_rows));
    require(Y.cols >= 1, "SNE loss: the embedding has no coordinates");
    const OutputKernel kernel = GaussianKernel{1.0};
    attractive_forces(Ps_, Y, kernel, 4.0 * info.exaggeration, grad, n_threads_);
    // z_i = Σ_j exp(−D_ij), j = i included; ∂/∂y_i −= (2ρ/n) Σ_j exp(−D_ij)(1/z_i + 1/z_j)(y_i − y_j) (force_weight = w).
    z_.resize(n);
    detail::sne_repulsion(Y, -2.0 * info.repulsion_strength / static_cast<double>(n), grad, z_.data(), scratch_,
                          n_threads_);
    if (!want_loss) return std::numeric_limits<double>::quiet_NaN();
    double sum_log_z = 0.0;
    for (std::size_t i = 0; i < n; ++i) sum_log_z += std::log(z_[i]);
    return -info.exaggeration * sum_p_log_w(Ps_, Y, kernel, n_threads_) +
           info.repulsion_strength * sum_log_z / static_cast<double>(n);
}

NeSampledLoss::NeSampledLoss(const CsrMatrix<double>& P, NeSampledRepulsion repulsion, const OutputKernel& kernel,
                             NeNegatives negatives, int n_threads)
    : Ps_(symmetric_part(P, "negative-sampling loss", n_threads)), kind_(repulsion), kernel_(kernel),
      negatives_(std::move(negatives)), n_threads_(n_threads), n_(P.n_rows) {
    validate(kernel);
    require(negatives_.n_negatives >= 1, "n_negatives must be >= 1");
    auto& ex = negatives_;
    if (!ex.excluded_ptr.empty()) {
        require(ex.excluded_ptr.size() == n_ + 1 &&
                    static_cast<std::size_t>(ex.excluded_ptr.back()) == ex.excluded.size(),
                "negative sampling: malformed exclusion lists");
        for (std::size_t i = 0; i < n_; ++i) {
            // Candidates left: the n − 1 others minus the excluded ones other than i itself.
            std::size_t excl = 0;
            for (auto p = ex.excluded_ptr[i]; p < ex.excluded_ptr[i + 1]; ++p) {
                const auto e = ex.excluded[static_cast<std::size_t>(p)];
                require_lazy(e < n_, [&] { return std::string("negative sampling: excluded index out of range"); });
                require_lazy(p == ex.excluded_ptr[i] || ex.excluded[static_cast<std::size_t>(p) - 1] < e,
                             [&] { return std::string("negative sampling: exclusion lists must be sorted, unique"); });
                if (e != i) ++excl;
            }
            require_lazy(excl + 1 < n_, [&] {
                return "exclude_neighbors_from_negative_sampling: point " + std::to_string(i) +
                       " neighbours every other point, no negative is left to draw";
            });
        }
    }
}

void NeSampledLoss::draw(std::int64_t step) {
    const std::size_t m = negatives_.n_negatives;
    neg_.resize(n_ * m);
    const std::size_t n_chunks = (n_ + sample_chunk - 1) / sample_chunk;
    const bool exclude = !negatives_.excluded_ptr.empty();
    parallel_for(n_threads_, n_chunks, [&](std::size_t c) {
        UniformSampler sampler(negatives_.seed,
                               sampling_stream(SamplingFamily::torchdr_negatives, static_cast<std::uint64_t>(step), c),
                               n_);
        const std::size_t end = std::min(n_, (c + 1) * sample_chunk);
        for (std::size_t i = c * sample_chunk; i < end; ++i) {
            std::span<const std::uint32_t> excl;
            if (exclude)
                excl = std::span<const std::uint32_t>(
                    negatives_.excluded.data() + negatives_.excluded_ptr[i],
                    static_cast<std::size_t>(negatives_.excluded_ptr[i + 1] - negatives_.excluded_ptr[i]));
            for (std::size_t s = 0; s < m; ++s) neg_[i * m + s] = static_cast<std::uint32_t>(sampler.draw(i, excl));
        }
    });
    // Reverse lists (which heads drew each point), by a stable counting sort: (head, slot) order, deterministic.
    rev_ptr_.assign(n_ + 1, 0);
    for (std::uint32_t k : neg_) ++rev_ptr_[k + 1];
    for (std::size_t k = 0; k < n_; ++k) rev_ptr_[k + 1] += rev_ptr_[k];
    rev_.resize(neg_.size());
    std::vector<std::int64_t> fill(rev_ptr_.begin(), rev_ptr_.end() - 1);
    for (std::size_t p = 0; p < neg_.size(); ++p) rev_[static_cast<std::size_t>(fill[neg_[p]]++)] =
        static_cast<std::uint32_t>(p / m);
}

double NeSampledLoss::operator()(MatrixView<double> Y, const NeStepInfo& info, double* grad, bool want_loss) {
    const std::size_t n = Y.rows, d = Y.cols, m = negatives_.n_negatives;
    require(n == n_, "negative-sampling loss: the embedding has " + std::to_string(n) + " points but P has " +
                         std::to_string(n_));
    draw(info.step);
    attractive_forces(Ps_, Y, kernel_, 4.0 * info.exaggeration, grad, n_threads_);
    const double scale = 2.0 * info.repulsion_strength / static_cast<double>(n);
    const bool log_sum = kind_ == NeSampledRepulsion::log_sum;
    s_.resize(n);
    visit_kernel(kernel_, [&](const auto& K) {
        // The pair coefficient c(i, k) (file comment); for log_sum it needs s_i, computed first.
        auto coeff = [&](double D, double s_i) {
            const double f = K.force_weight(D);
            return log_sum ? -scale * f / s_i : -scale * f / (1.0 - K.w(D));
        };
        // Heads: s_i (log_sum) or the head's loss (binary), then the head's side of its pairs.
        parallel_for(n_threads_, n, [&](std::size_t i) {
            const double* yi = Y.row(i);
            const std::uint32_t* neg = neg_.data() + i * m;
            double s = 0.0;
            for (std::size_t t = 0; t < m; ++t) {
                const double D = squared_distance(yi, Y.row(neg[t]), d);
                s += log_sum ? K.w(D) : -std::log(1.0 - K.w(D));
            }
            s_[i] = s;
            double* g = grad + i * d;
            for (std::size_t t = 0; t < m; ++t) {
                const double* yk = Y.row(neg[t]);
                const double c = coeff(squared_distance(yi, yk, d), s);
                for (std::size_t q = 0; q < d; ++q) g[q] += c * (yi[q] - yk[q]);
            }
        });
        // Negatives: the other side of every pair, gathered per point from its reverse list.
        parallel_for(n_threads_, n, [&](std::size_t k) {
            const double* yk = Y.row(k);
            double* g = grad + k * d;
            for (auto p = rev_ptr_[k]; p < rev_ptr_[k + 1]; ++p) {
                const std::size_t i = rev_[static_cast<std::size_t>(p)];
                const double* yi = Y.row(i);
                const double c = coeff(squared_distance(yi, yk, d), s_[i]);
                for (std::size_t q = 0; q < d; ++q) g[q] -= c * (yi[q] - yk[q]);
            }
        });
    });
    if (!want_loss) return std::numeric_limits<double>::quiet_NaN();
    double rep = 0.0;
    for (std::size_t i = 0; i < n; ++i) rep += log_sum ? std::log(s_[i]) : s_[i];
    return -info.exaggeration * sum_p_log_w(Ps_, Y, kernel_, n_threads_) +
           info.repulsion_strength * rep / static_cast<double>(n);
}

} // namespace nembed
