// TorchDR's UMAP step with its closed-form gradients (loss/umap_ne.hpp).
#include "nembed/loss/umap_ne.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>
#include <string>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/loss/bce.hpp"
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

constexpr std::uint32_t kOne = 1u << 31;  // 1 in the schedule's fixed point

// Rounds a buffer length up to the sums' 8 lanes.
std::size_t pad8(std::size_t n) { return (n + 7) / 8 * 8; }

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define NEMBED_UMAP_NE_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NEMBED_UMAP_NE_CLONES
#endif

// The per-pair coefficients over a block of squared distances (float; D is replaced by D^b for the loss): c⁺ or
// −c⁻ of Bce<UmapCurve> with γ = 1 (ρ multiplies after the clip). IEEE operations only (-ffp-contract=off): every
// clone and the scalar tail give the same bits.
NEMBED_UMAP_NE_CLONES void coefficients(float* D, float* c, std::size_t n, float a, float b, bool attraction) {
    if (attraction)
        for (std::size_t t = 0; t < n; ++t) {
            const float p = detail::umap_pow(D[t], b);
            c[t] = Bce<UmapCurve>::attraction_coeff_pow(a, b, D[t], p);
            D[t] = p;
        }
    else
        for (std::size_t t = 0; t < n; ++t) {
            const float p = detail::umap_pow(D[t], b);
            c[t] = -Bce<UmapCurve>::repulsion_coeff_pow(a, b, D[t], p, 1.0f);
            D[t] = p;
        }
}

// Σ_t clip(c_t·x_t) to [−4, 4], in double: eight fixed lanes (t mod 8) added in a fixed tree, so the order does not
// depend on the vector width. n is a multiple of 8.
NEMBED_UMAP_NE_CLONES double clipped_sum(const float* c, const float* x, std::size_t n) {
    double acc[8] = {};
    for (std::size_t t = 0; t < n; t += 8)
        for (std::size_t l = 0; l < 8; ++l) {
            const float v = c[t + l] * x[t + l];
            acc[l] += static_cast<double>(std::min(std::max(v, -4.0f), 4.0f));
        }
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

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
    rate31_.assign(m, 0);
    // Fit drops p <= threshold; transform keeps p >= threshold (TorchDR's two rules). No positive p: nothing moves.
    if (a_max > 0.0)
        for (std::size_t e = 0; e < m; ++e) {
            const double p = P_.values[e];
            const bool kept = strict ? p >= threshold : p > threshold;
            if (!kept || p <= 0.0) continue;
            epochs_per_sample_[e] = a_max / p;
            const double r = std::llround(std::ldexp(p / a_max, 31));
            rate31_[e] = static_cast<std::uint32_t>(std::clamp(r, 1.0, static_cast<double>(kOne)));
        }
    columns_.clear();
    if (s_.exclude_neighbors)
        for (auto j : P_.indices) columns_.push_back(static_cast<std::uint32_t>(j));
    max_row_ = 0;
    for (std::size_t i = 0; i < P_.n_rows; ++i)
        max_row_ = std::max(max_row_, static_cast<std::size_t>(P_.indptr[i + 1] - P_.indptr[i]));
}

// Edge fires at t iff floor((t + 1)·r) > floor(t·r) (a multiple of e = 1/r in (t, t + 1]), with r = R/2^31 <= 1:
// the carry out of the 31-bit fraction of t·R. Branch-free compaction (about 1 edge in 6 fires).
std::size_t NeUmapLoss::active_edges(std::size_t i, std::uint32_t t31, std::uint32_t* out) const {
    const auto b = static_cast<std::size_t>(P_.indptr[i]), e = static_cast<std::size_t>(P_.indptr[i + 1]);
    const std::uint32_t* R = rate31_.data();
    std::size_t n = 0;
    for (std::size_t p = b; p < e; ++p) {
        out[n] = static_cast<std::uint32_t>(p - b);
        n += ((t31 * R[p]) & (kOne - 1)) + R[p] >= kOne ? 1 : 0;
    }
    return n;
}

void NeUmapLoss::draw_negatives(std::size_t i, std::int64_t step, std::size_t count, std::uint32_t* out) const {
    if (count == 0) return;
    std::span<const std::uint32_t> excl;
    if (s_.exclude_neighbors)
        excl = std::span<const std::uint32_t>(columns_.data() + P_.indptr[i],
                                              static_cast<std::size_t>(P_.indptr[i + 1] - P_.indptr[i]));
    const std::uint64_t stream = sampling_stream(SamplingFamily::torchdr_negatives, static_cast<std::uint64_t>(step), i);
    if (!transform_) {
        // The n − 1 others (and not the excluded columns).
        UniformSampler sampler(s_.seed, stream, P_.n_rows);
        for (std::size_t t = 0; t < count; ++t) out[t] = static_cast<std::uint32_t>(sampler.draw(i, excl));
    } else {
        // Every reference point is a candidate (a new point is not among them).
        SplitMixStream rng(s_.seed, stream);
        for (std::size_t t = 0; t < count; ++t) {
            std::uint32_t k;
            do {
                k = static_cast<std::uint32_t>(rng.below(P_.n_cols));
            } while (!excl.empty() && std::binary_search(excl.begin(), excl.end(), k));
            out[t] = k;
        }
    }
}

NeUmapLoss::Draws NeUmapLoss::draws(std::int64_t step) const {
    require(step >= 0, "UMAP: negative step");
    const std::size_t n = P_.n_rows, rate = static_cast<std::size_t>(s_.negative_sample_rate);
    const auto t31 = static_cast<std::uint32_t>(step) & (kOne - 1);
    Draws r;
    r.active.assign(P_.values.size(), 0);
    r.neg_ptr.assign(n + 1, 0);
    std::vector<std::uint32_t> act(max_row_);
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t na = active_edges(i, t31, act.data());
        for (std::size_t u = 0; u < na; ++u) r.active[static_cast<std::size_t>(P_.indptr[i]) + act[u]] = 1;
        r.neg.resize(r.neg.size() + rate * na);
        draw_negatives(i, step, rate * na, r.neg.data() + r.neg_ptr[i]);
        r.neg_ptr[i + 1] = r.neg_ptr[i] + static_cast<std::int64_t>(rate * na);
    }
    return r;
}

// Rows [rb, re): per row, the firing edges and their negatives are gathered (distances from the double rows) into
// float blocks, the coefficients computed over each block, and the clipped terms summed. kD = 0: any d.
template <std::size_t kD>
void NeUmapLoss::rows(MatrixView<double> Y, MatrixView<double> R, const NeStepInfo& info, double* grad,
                      bool want_loss, std::size_t rb, std::size_t re) {
    const std::size_t d = kD ? kD : Y.cols;
    const std::size_t rate = static_cast<std::size_t>(s_.negative_sample_rate);
    const auto t31 = static_cast<std::uint32_t>(info.step) & (kOne - 1);
    const std::size_t cap_a = pad8(max_row_), cap_n = pad8(rate * max_row_);
    std::vector<std::uint32_t> act(max_row_), neg(rate * max_row_);
    std::vector<float> Da(cap_a), Dn(cap_n), ca(cap_a), cn(cap_n), xa(d * cap_a), xn(d * cap_n);
    const UmapCurve& K = s_.curve;
    const auto a = static_cast<float>(K.a), b = static_cast<float>(K.b);
    const double f_att = (transform_ ? 1.0 : 2.0) * info.exaggeration, rho = info.repulsion_strength;
    // Distances and differences of row i to the points `idx` into D and x (coordinate-major), padded to 8 with
    // D = 1, x = 0 (terms 0).
    auto gather = [&](const double* yi, const auto& index, std::size_t cnt, float* D, float* x, std::size_t cap) {
        for (std::size_t u = 0; u < cnt; ++u) {
            const double* r = R.row(index(u));
            double s = 0.0;
            for (std::size_t q = 0; q < d; ++q) {
                const double t = yi[q] - r[q];
                s += t * t;
                x[q * cap + u] = static_cast<float>(t);
            }
            D[u] = static_cast<float>(s);
        }
        for (std::size_t u = cnt; u < pad8(cnt); ++u) {
            D[u] = 1.0f;
            for (std::size_t q = 0; q < d; ++q) x[q * cap + u] = 0.0f;
        }
    };
    for (std::size_t i = rb; i < re; ++i) {
        const double* yi = Y.row(i);
        double* g = grad + i * d;
        const std::size_t na = active_edges(i, t31, act.data()), nn = rate * na;
        draw_negatives(i, info.step, nn, neg.data());
        const auto row = P_.indices.data() + P_.indptr[i];
        gather(yi, [&](std::size_t u) { return static_cast<std::size_t>(row[act[u]]); }, na, Da.data(), xa.data(),
               cap_a);
        gather(yi, [&](std::size_t u) { return static_cast<std::size_t>(neg[u]); }, nn, Dn.data(), xn.data(), cap_n);
        coefficients(Da.data(), ca.data(), pad8(na), a, b, true);
        coefficients(Dn.data(), cn.data(), pad8(nn), a, b, false);
        for (std::size_t q = 0; q < d; ++q)
            g[q] = f_att * clipped_sum(ca.data(), xa.data() + q * cap_a, pad8(na)) +
                   rho * clipped_sum(cn.data(), xn.data() + q * cap_n, pad8(nn));
        if (want_loss) {
            // −log w = log(1 + a·D^b), −log(1 − w) = −log(u/(1 + u)) with u = a·D^b (D^b from the block, in float).
            double loss = 0.0;
            for (std::size_t u = 0; u < na; ++u) loss += info.exaggeration * std::log1p(K.a * Da[u]);
            for (std::size_t u = 0; u < nn; ++u) {
                const double w = K.a * Dn[u];
                loss += rho * -std::log(std::max(w / (1.0 + w), 1e-300));
            }
            row_loss_[i] = loss;
        }
    }
}

double NeUmapLoss::operator()(MatrixView<double> Y, const NeStepInfo& info, double* grad, bool want_loss) {
    const std::size_t n = P_.n_rows, d = Y.cols;
    require(Y.rows == n, "UMAP: the embedding has " + std::to_string(Y.rows) + " points but P has " +
                             std::to_string(n) + " rows");
    require(info.step >= 0, "UMAP: negative step");
    const MatrixView<double> R = transform_ ? reference_.view() : Y;
    require(R.cols == d, "UMAP transform: the reference embedding has " + std::to_string(R.cols) +
                             " columns, the new points " + std::to_string(d));
    if (want_loss) row_loss_.assign(n, 0.0);
    parallelize(s_.n_threads, n, [&](int, std::size_t rb, std::size_t re) {
        if (d == 2)
            rows<2>(Y, R, info, grad, want_loss, rb, re);
        else
            rows<0>(Y, R, info, grad, want_loss, rb, re);
    });
    if (!want_loss) return std::numeric_limits<double>::quiet_NaN();
    double total = 0.0;
    for (double v : row_loss_) total += v;
    return total;
}

} // namespace nembed
