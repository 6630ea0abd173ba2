// TorchDR's UMAP step with its closed-form gradients (loss/umap_ne.hpp).
#include "nembed/loss/umap_ne.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>
#include <string>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/repulsion/negative_sampling.hpp"

namespace nembed {
namespace {

void check_p(const CsrMatrix<double>& P, const char* who) {
    P.validate(who);
    for (std::size_t i = 0; i < P.n_rows; ++i)
        for (auto p = P.indptr[i]; p < P.indptr[i + 1]; ++p) {
            const double v = P.values[static_cast<std::size_t>(p)];
            require_lazy(std::isfinite(v) && v >= 0.0,
                         [&] { return std::string(who) + " must be finite and non-negative"; });
            require_lazy(p == P.indptr[i] || P.indices[static_cast<std::size_t>(p) - 1] <
                                                 P.indices[static_cast<std::size_t>(p)],
                         [&] { return std::string(who) + ": columns must be sorted and unique within a row"; });
        }
}

void check_settings(const NeUmapSettings& s) {
    validate(OutputKernel(s.curve));
    require(s.negative_sample_rate >= 0, "negative_sample_rate must be >= 0, got " +
                                             std::to_string(s.negative_sample_rate));
    require(s.n_threads >= 1, "n_threads must be >= 1");
}

double clip4(double v) { return clip_value(v, 4.0); }

} // namespace

NeUmapLoss::NeUmapLoss(const CsrMatrix<double>& P, int max_iter, const NeUmapSettings& settings) : P_(P), s_(settings) {
    check_p(P_, "UMAP: P");
    require(P_.n_rows == P_.n_cols, "UMAP: P must be square, got " + std::to_string(P_.n_rows) + " x " +
                                        std::to_string(P_.n_cols));
    require(P_.n_rows >= 2, "UMAP: needs at least 2 points");
    require(max_iter >= 1, "max_iter must be >= 1, got " + std::to_string(max_iter));
    check_settings(s_);
    if (s_.exclude_neighbors)
        for (std::size_t i = 0; i < P_.n_rows; ++i) {
            std::size_t excl = 0;
            for (auto p = P_.indptr[i]; p < P_.indptr[i + 1]; ++p)
                if (static_cast<std::size_t>(P_.indices[static_cast<std::size_t>(p)]) != i) ++excl;
            require(excl + 1 < P_.n_rows, "exclude_neighbors_from_negative_sampling: point " + std::to_string(i) +
                                              " neighbours every other point, no negative is left to draw");
        }
    init(max_iter, false);
}

NeUmapLoss::NeUmapLoss(const CsrMatrix<double>& P, Matrix<double> reference, int n_epochs,
                       const NeUmapSettings& settings)
    : P_(P), transform_(true), reference_(std::move(reference)), s_(settings) {
    check_p(P_, "UMAP transform: P");
    require(P_.n_cols == reference_.rows(), "UMAP transform: P has " + std::to_string(P_.n_cols) +
                                                " columns but the reference embedding has " +
                                                std::to_string(reference_.rows()) + " rows");
    require(reference_.rows() >= 1, "UMAP transform: the reference embedding is empty");
    require(n_epochs >= 1, "UMAP transform: needs at least one step");
    check_settings(s_);
    if (s_.exclude_neighbors)
        for (std::size_t i = 0; i < P_.n_rows; ++i)
            require(static_cast<std::size_t>(P_.indptr[i + 1] - P_.indptr[i]) < P_.n_cols,
                    "exclude_neighbors_from_negative_sampling: new point " + std::to_string(i) +
                        " neighbours every training point, no negative is left to draw");
    init(n_epochs, true);
}

void NeUmapLoss::init(int n_epochs, bool strict) {
    const std::size_t m = P_.values.size();
    double a_max = 0.0;
    for (double v : P_.values) a_max = std::max(a_max, v);
    const double threshold = a_max / static_cast<double>(n_epochs);
    const double inf = std::numeric_limits<double>::infinity();
    epochs_per_sample_.assign(m, inf);
    // Fit drops p <= threshold; transform keeps p >= threshold (TorchDR's two rules). No positive p: nothing moves.
    if (a_max > 0.0)
        for (std::size_t e = 0; e < m; ++e) {
            const double p = P_.values[e];
            const bool kept = strict ? p >= threshold : p > threshold;
            if (kept && p > 0.0) epochs_per_sample_[e] = a_max / p;
        }
    next_sample_ = epochs_per_sample_;
    active_.assign(m, 0);
    columns_.clear();
    if (s_.exclude_neighbors)
        for (auto j : P_.indices) columns_.push_back(static_cast<std::uint32_t>(j));
    next_step_ = 0;
}

void NeUmapLoss::advance_to(std::int64_t step) {
    require(step >= 0, "UMAP: negative step");
    if (step < next_step_) {  // replay from the start
        next_sample_ = epochs_per_sample_;
        next_step_ = 0;
    }
    const std::size_t m = epochs_per_sample_.size();
    for (; next_step_ <= step; ++next_step_) {
        const double t1 = static_cast<double>(next_step_ + 1);
        for (std::size_t e = 0; e < m; ++e) {
            const bool a = next_sample_[e] <= t1;
            active_[e] = a ? 1 : 0;
            if (a) next_sample_[e] += epochs_per_sample_[e];
        }
    }
}

void NeUmapLoss::draw(std::int64_t step) {
    const std::size_t n = P_.n_rows;
    const std::size_t rate = static_cast<std::size_t>(s_.negative_sample_rate);
    neg_ptr_.assign(n + 1, 0);
    for (std::size_t i = 0; i < n; ++i) {
        std::int64_t a = 0;
        for (auto p = P_.indptr[i]; p < P_.indptr[i + 1]; ++p) a += active_[static_cast<std::size_t>(p)];
        neg_ptr_[i + 1] = neg_ptr_[i] + a * static_cast<std::int64_t>(rate);
    }
    neg_.resize(static_cast<std::size_t>(neg_ptr_[n]));
    const std::size_t n_cand = transform_ ? P_.n_cols : n;
    parallel_for(s_.n_threads, n, [&](std::size_t i) {
        const auto b = static_cast<std::size_t>(neg_ptr_[i]), e = static_cast<std::size_t>(neg_ptr_[i + 1]);
        if (b == e) return;
        std::span<const std::uint32_t> excl;
        if (s_.exclude_neighbors)
            excl = std::span<const std::uint32_t>(columns_.data() + P_.indptr[i],
                                                  static_cast<std::size_t>(P_.indptr[i + 1] - P_.indptr[i]));
        const std::uint64_t stream = sampling_stream(SamplingFamily::torchdr_negatives,
                                                     static_cast<std::uint64_t>(step), i);
        if (!transform_) {
            // The n − 1 others (and not the excluded columns).
            UniformSampler sampler(s_.seed, stream, n_cand);
            for (std::size_t t = b; t < e; ++t) neg_[t] = static_cast<std::uint32_t>(sampler.draw(i, excl));
        } else {
            // Every reference point is a candidate (a new point is not among them).
            SplitMixStream rng(s_.seed, stream);
            for (std::size_t t = b; t < e; ++t) {
                std::uint32_t k;
                do {
                    k = static_cast<std::uint32_t>(rng.below(n_cand));
                } while (!excl.empty() && std::binary_search(excl.begin(), excl.end(), k));
                neg_[t] = k;
            }
        }
    });
}

double NeUmapLoss::operator()(MatrixView<double> Y, const NeStepInfo& info, double* grad, bool want_loss) {
    const std::size_t n = P_.n_rows, d = Y.cols;
    require(Y.rows == n, "UMAP: the embedding has " + std::to_string(Y.rows) + " points but P has " +
                             std::to_string(n) + " rows");
    const MatrixView<double> R = transform_ ? reference_.view() : Y;
    require(R.cols == d, "UMAP transform: the reference embedding has " + std::to_string(R.cols) +
                             " columns, the new points " + std::to_string(d));
    advance_to(info.step);
    draw(info.step);
    const UmapCurve& K = s_.curve;
    const double f_att = (transform_ ? 1.0 : 2.0) * info.exaggeration;
    const double rho = info.repulsion_strength;
    row_loss_.assign(n, 0.0);
    parallelize(s_.n_threads, n, [&](int, std::size_t rb, std::size_t re) {
      std::vector<double> att(d), rep(d);
      for (std::size_t i = rb; i < re; ++i) {
        const double* yi = Y.row(i);
        double* g = grad + i * d;
        std::fill(att.begin(), att.end(), 0.0);
        std::fill(rep.begin(), rep.end(), 0.0);
        double loss = 0.0;
        for (auto p = P_.indptr[i]; p < P_.indptr[i + 1]; ++p) {
            const auto ep = static_cast<std::size_t>(p);
            if (!active_[ep]) continue;
            const double* rj = R.row(static_cast<std::size_t>(P_.indices[ep]));
            const double D = squared_distance(yi, rj, d);
            const double c = D > 0.0 ? -2.0 * K.dlog_w(D) : 0.0;
            for (std::size_t q = 0; q < d; ++q) att[q] += clip4(c * (yi[q] - rj[q]));
            if (want_loss) loss += info.exaggeration * -K.log_w(D);
        }
        for (auto t = neg_ptr_[i]; t < neg_ptr_[i + 1]; ++t) {
            const double* rk = R.row(neg_[static_cast<std::size_t>(t)]);
            const double D = squared_distance(yi, rk, d);
            const double c = -2.0 * K.b / ((D + 1e-3) * (1.0 + K.a * std::pow(D, K.b)));
            for (std::size_t q = 0; q < d; ++q) rep[q] += clip4(c * (yi[q] - rk[q]));
            if (want_loss) loss += rho * -std::log(std::max(1.0 - K.w(D), 1e-300));
        }
        for (std::size_t q = 0; q < d; ++q) g[q] = f_att * att[q] + rho * rep[q];
        row_loss_[i] = loss;
      }
    });
    if (!want_loss) return std::numeric_limits<double>::quiet_NaN();
    double total = 0.0;
    for (double v : row_loss_) total += v;
    return total;
}

} // namespace nembed
