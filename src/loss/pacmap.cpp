// PaCMAP's loss and pair sets as TorchDR computes them (loss/pacmap.hpp).
#include "nembed/loss/pacmap.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>
#include <string>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/repulsion/negative_sampling.hpp"

namespace nembed {

PacmapWeights pacmap_weights(std::int64_t iter, int iter_per_phase) {
    require(iter_per_phase >= 1, "iter_per_phase must be >= 1, got " + std::to_string(iter_per_phase));
    const auto ipp = static_cast<std::int64_t>(iter_per_phase);
    if (iter < ipp) {
        const double t = static_cast<double>(iter) / static_cast<double>(ipp);
        return {2.0, 1000.0 * (1.0 - t) + 3.0 * t, 1.0};
    }
    if (iter < 2 * ipp) return {3.0, 3.0, 1.0};
    return {1.0, 0.0, 1.0};
}

PacmapObjective::PacmapObjective(Matrix<float> X, PacmapNeighbors neighbors, PacmapPairOptions options)
    : X_(std::move(X)), nb_(std::move(neighbors)), options_(options) {
    const std::size_t n = X_.rows();
    require(options_.iter_per_phase >= 1,
            "iter_per_phase must be >= 1, got " + std::to_string(options_.iter_per_phase));
    require(nb_.n_points == n && nb_.indices.size() == n * nb_.n_neighbors,
            "PACMAP: the neighbour pairs do not match the data (" + std::to_string(nb_.n_points) + " points vs " +
                std::to_string(n) + ")");
    require(n >= 7, "PACMAP needs at least 7 points (6 mid-near candidates among the others), got " +
                        std::to_string(n));
    if (options_.exclude_neighbors && options_.n_further > 0)
        require(nb_.n_neighbors + 1 < n, "PACMAP: no further point left to draw when excluding " +
                                             std::to_string(nb_.n_neighbors) + " neighbours of " +
                                             std::to_string(n) + " points (n_neighbors must be < N − 1)");
    const std::size_t k = nb_.n_neighbors;
    if (options_.exclude_neighbors) {
        excluded_.resize(n * k);
        for (std::size_t i = 0; i < n; ++i) {
            for (std::size_t t = 0; t < k; ++t) excluded_[i * k + t] = static_cast<std::uint32_t>(nb_.neighbors(i)[t]);
            std::sort(excluded_.begin() + static_cast<std::ptrdiff_t>(i * k),
                      excluded_.begin() + static_cast<std::ptrdiff_t>((i + 1) * k));
        }
    }
}

void PacmapObjective::mid_near(std::int64_t step, std::size_t i, index_t* out) const {
    const std::size_t n = X_.rows();
    UniformSampler s(options_.seed, sampling_stream(SamplingFamily::pacmap_mid_near, static_cast<std::uint64_t>(step), i),
                     n);
    for (std::size_t m = 0; m < options_.n_mid_near; ++m) {
        index_t cand[6];
        for (auto& c : cand) c = static_cast<index_t>(s.draw(i));
        out[m] = pacmap_mid_near_choice(X_.view(), i, cand);
    }
}

void PacmapObjective::further(std::int64_t step, std::size_t i, index_t* out) const {
    const std::size_t n = X_.rows();
    const std::size_t k = nb_.n_neighbors;
    UniformSampler s(options_.seed, sampling_stream(SamplingFamily::pacmap_further, static_cast<std::uint64_t>(step), i),
                     n);
    const std::span<const std::uint32_t> ex =
        options_.exclude_neighbors ? std::span<const std::uint32_t>(excluded_.data() + i * k, k)
                                   : std::span<const std::uint32_t>();
    for (std::size_t m = 0; m < options_.n_further; ++m) out[m] = static_cast<index_t>(s.draw(i, ex));
}

void PacmapObjective::fill_pairs(std::int64_t step, bool with_mid_near, Pairs& p, int n_threads) const {
    const std::size_t n = X_.rows();
    p.n_near = nb_.n_neighbors;
    p.n_mid_near = with_mid_near ? options_.n_mid_near : 0;
    p.n_further = options_.n_further;
    p.per_head = p.n_near + p.n_mid_near + p.n_further;
    p.tails.resize(n * p.per_head);
    parallel_for(n_threads, n, [&](std::size_t i) {
        index_t* t = p.tails.data() + i * p.per_head;
        std::copy(nb_.neighbors(i), nb_.neighbors(i) + p.n_near, t);
        if (p.n_mid_near) mid_near(step, i, t + p.n_near);
        further(step, i, t + p.n_near + p.n_mid_near);
    });
}

PacmapObjective::Pairs PacmapObjective::pairs(std::int64_t step, int n_threads) const {
    Pairs p;
    fill_pairs(step, pacmap_step_weights(step, options_.iter_per_phase).w_MN > 0.0, p, n_threads);
    return p;
}

double PacmapObjective::operator()(MatrixView<double> Y, double /*exaggeration*/, std::int64_t step, double* grad,
                                   bool want_loss) {
    const std::size_t n = Y.rows, d = Y.cols;
    require(n == X_.rows(), "PACMAP: the embedding has " + std::to_string(n) + " points, the data " +
                                std::to_string(X_.rows()));
    const PacmapWeights w = pacmap_step_weights(step, options_.iter_per_phase);
    const int nt = n_threads_;
    fill_pairs(step, w.w_MN > 0.0, pairs_, nt);
    const Pairs& p = pairs_;
    const std::size_t m = p.per_head;
    coef_.resize(n * m);
    row_loss_.assign(want_loss ? n : 0, 0.0);

    // Pass 1, per head: the pairs' ∂L/∂D and the head's own gradient Σ_p 2c(z_i − z_j).
    parallel_for(nt, n, [&](std::size_t i) {
        const double* zi = Y.row(i);
        double* gi = grad + i * d;
        std::fill(gi, gi + d, 0.0);
        double loss = 0.0;
        for (std::size_t s = 0; s < m; ++s) {
            const double* zj = Y.row(static_cast<std::size_t>(p.tails[i * m + s]));
            double D = 0.0;
            for (std::size_t c = 0; c < d; ++c) D += (zi[c] - zj[c]) * (zi[c] - zj[c]);
            PacmapTerm t;
            double wt;
            if (s < p.n_near) {
                t = pacmap_near_term(D);
                wt = w.w_NB;
            } else if (s < p.n_near + p.n_mid_near) {
                t = pacmap_mid_near_term(D);
                wt = w.w_MN;
            } else {
                t = pacmap_further_term(D);
                wt = w.w_FP;
            }
            loss += wt * t.value;
            const double c2 = 2.0 * wt * t.dD;
            coef_[i * m + s] = c2;
            for (std::size_t c = 0; c < d; ++c) gi[c] += c2 * (zi[c] - zj[c]);
        }
        if (want_loss) row_loss_[i] = loss;
    });
    // Pass 2, per tail: −2c(z_i − z_j) from every pair ending on j, in (head, slot) order. Each worker owns a range
    // of tails and scans all pairs, so a row's sum never depends on how the rows are split.
    parallelize(nt, n, [&](std::size_t, std::size_t begin, std::size_t end) {
        for (std::size_t i = 0; i < n; ++i) {
            const double* zi = Y.row(i);
            for (std::size_t s = 0; s < m; ++s) {
                const auto j = static_cast<std::size_t>(p.tails[i * m + s]);
                if (j < begin || j >= end) continue;
                const double* zj = Y.row(j);
                double* gj = grad + j * d;
                const double c2 = coef_[i * m + s];
                for (std::size_t c = 0; c < d; ++c) gj[c] -= c2 * (zi[c] - zj[c]);
            }
        }
    });
    if (!want_loss) return std::numeric_limits<double>::quiet_NaN();
    return fixed_block_sum(nt, n, [&](std::size_t b, std::size_t e) {
        double s = 0.0;
        for (std::size_t i = b; i < e; ++i) s += row_loss_[i];
        return s;
    });
}

} // namespace nembed
