// TorchDR's UMAP step with its closed-form gradients (loss/umap_ne.hpp).
#include "nembed/loss/umap_ne.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <span>
#include <string>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/dist/comm.hpp"
#include "nembed/loss/bce.hpp"
#include "nembed/repulsion/negative_sampling.hpp"
#include "../core/isa_clones.hpp"

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

// The per-pair coefficients over a block of squared distances (float; D is replaced by D^b for the loss): c⁺ or
// −c⁻ of Bce<UmapCurve> with γ = 1 (ρ multiplies after the clip). IEEE operations only (-ffp-contract=off): every
// clone and the scalar tail give the same bits.
NEMBED_ISA_CLONES void coefficients(float* D, float* c, std::size_t n, float a, float b, bool attraction) {
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

// Bit k set iff edge k of the block (len <= 64) fires at step t: edge rate r = R/2^31 fires at t iff
// floor((t + 1)·r) > floor(t·r) (a multiple of e = 1/r lies in (t, t + 1]), i.e. iff the 31-bit fraction of t·R
// carries when R is added. Computed as a vector OR-reduction (about 1 edge in 6 fires; no per-edge branch).
NEMBED_ISA_CLONES std::uint64_t fire_mask(const std::uint32_t* R, std::size_t len, std::uint32_t t31) {
    std::uint64_t m = 0;
    for (std::size_t k = 0; k < len; ++k)
        m |= static_cast<std::uint64_t>((((t31 * R[k]) & (kOne - 1)) + R[k]) >> 31) << k;
    return m;
}

// One kind of pair (attraction or repulsion) of a batch of rows: row r's pairs are [off[r], off[r] + len[r]) with
// len[r] a multiple of 8 (the first cnt[r] real, the rest padding), coordinate-major (x + q·cap: coordinate q).
struct PairBlock {
    std::vector<std::uint32_t> idx, off, len, cnt;
    std::vector<float> D, c, x;
    std::size_t cap = 0;
    void reserve(std::size_t pairs, std::size_t d) {
        cap = pairs;
        idx.assign(cap, 0);
        D.assign(cap, 0.0f);
        c.assign(cap, 0.0f);
        x.assign(d * cap, 0.0f);
    }
};

// The 2-D gather: x = y_i − r_idx and D = ‖x‖² (float, as TorchDR's float32 embedding) for every pair of the
// batch's rows; the padding gets x = 0 (its term is 0).
NEMBED_ISA_CLONES void gather2(const float* Y, const float* R, const std::uint32_t* rows, std::size_t n_rows,
                                  PairBlock& B) {
    float* x0 = B.x.data();
    float* x1 = x0 + B.cap;
    for (std::size_t r = 0; r < n_rows; ++r) {
        const float y0 = Y[2 * std::size_t(rows[r])], y1 = Y[2 * std::size_t(rows[r]) + 1];
        const std::size_t o = B.off[r], e = o + B.len[r], v = o + B.cnt[r];
        for (std::size_t t = o; t < e; ++t) {
            const std::size_t j = B.idx[t];
            const float a = y0 - R[2 * j], b = y1 - R[2 * j + 1];
            x0[t] = a;
            x1[t] = b;
            B.D[t] = a * a + b * b;
        }
        for (std::size_t t = v; t < e; ++t) x0[t] = x1[t] = 0.0f;
    }
}

// Any d (at d = 2 the same bits as gather2: tested through a third coordinate of 0).
void gather(const float* Y, const float* R, std::size_t d, const std::uint32_t* rows, std::size_t n_rows,
            PairBlock& B) {
    for (std::size_t r = 0; r < n_rows; ++r) {
        const float* yi = Y + d * rows[r];
        const std::size_t o = B.off[r], e = o + B.len[r], v = o + B.cnt[r];
        for (std::size_t t = o; t < e; ++t) {
            const float* rj = R + d * B.idx[t];
            float s = 0.0f;
            for (std::size_t q = 0; q < d; ++q) {
                const float a = yi[q] - rj[q];
                s += a * a;
                B.x[q * B.cap + t] = t < v ? a : 0.0f;
            }
            B.D[t] = s;
        }
    }
}

// out[r·d + q] = Σ_t clip(c_t·x_qt) to [−4, 4] over row r's pairs: the clipped terms in float (x overwritten), then
// their sum in double in eight fixed lanes (t mod 8, a vector of 8 doubles) added in a fixed tree, so the order does
// not depend on the vector width.
NEMBED_ISA_CLONES void clipped_sums(PairBlock& B, std::size_t n_rows, std::size_t d, double* out) {
    typedef float F8 __attribute__((vector_size(32)));
    typedef double D8 __attribute__((vector_size(64)));
    const std::size_t used = n_rows ? B.off[n_rows - 1] + B.len[n_rows - 1] : 0;
    const float* c = B.c.data();
    for (std::size_t q = 0; q < d; ++q) {
        float* x = B.x.data() + q * B.cap;
        for (std::size_t t = 0; t < used; ++t) x[t] = std::min(std::max(c[t] * x[t], -4.0f), 4.0f);
        for (std::size_t r = 0; r < n_rows; ++r) {
            D8 acc = {};
            for (std::size_t t = B.off[r], e = t + B.len[r]; t < e; t += 8) {
                F8 v;
                std::memcpy(&v, x + t, sizeof v);
                acc += __builtin_convertvector(v, D8);
            }
            out[r * d + q] = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
        }
    }
}

} // namespace

NeUmapLoss::NeUmapLoss(const CsrMatrix<double>& P, int max_iter, const NeUmapSettings& settings)
    : NeUmapLoss(NeRowSplit{nullptr, dist::RowPartition(P.n_rows, 1)}, P, max_iter, settings) {}

NeUmapLoss::NeUmapLoss(const NeRowSplit& rows, const CsrMatrix<double>& P, int max_iter,
                       const NeUmapSettings& settings)
    : rows_(rows), row0_(rows.begin()), n_(rows.part.n), P_(P), s_(settings) {
    check_p(P_, "UMAP: P");
    if (rows_.comm) {
        require(rows_.part.ranks == rows_.comm->size(), "UMAP: the row split does not match the communicator");
        require(P_.n_rows == rows_.end() - row0_ && P_.n_cols == n_,
                "UMAP: this rank's P has " + std::to_string(P_.n_rows) + " x " + std::to_string(P_.n_cols) +
                    " entries, expected its rows of N = " + std::to_string(n_));
    } else {
        require(P_.n_rows == P_.n_cols, "UMAP: P must be square, got " + std::to_string(P_.n_rows) + " x " +
                                            std::to_string(P_.n_cols));
    }
    require(n_ >= 2, "UMAP: needs at least 2 points");
    require(max_iter >= 1, "max_iter must be >= 1, got " + std::to_string(max_iter));
    check_settings(s_);
    if (s_.exclude_neighbors)
        for (std::size_t li = 0; li < P_.n_rows; ++li) {
            const std::size_t i = row0_ + li;
            std::size_t excl = 0;
            for (auto p = P_.indptr[li]; p < P_.indptr[li + 1]; ++p)
                if (static_cast<std::size_t>(P_.indices[static_cast<std::size_t>(p)]) != i) ++excl;
            require(excl + 1 < n_, "exclude_neighbors_from_negative_sampling: point " + std::to_string(i) +
                                       " neighbours every other point, no negative is left to draw");
        }
    init(max_iter, false);
}

NeUmapLoss::NeUmapLoss(const CsrMatrix<double>& P, Matrix<double> reference, int n_epochs,
                       const NeUmapSettings& settings)
    : n_(reference.rows()), P_(P), transform_(true), reference_(std::move(reference)), s_(settings) {
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
    reference_f_.resize(reference_.size());
    for (std::size_t k = 0; k < reference_.size(); ++k) reference_f_[k] = static_cast<float>(reference_.data()[k]);
    init(n_epochs, true);
}

void NeUmapLoss::init(int n_epochs, bool strict) {
    const std::size_t m = P_.values.size();
    double a_max = 0.0;
    for (double v : P_.values) a_max = std::max(a_max, v);
    if (rows_.comm) rows_.comm->allreduce_max(&a_max, 1);  // the max of every rank's rows: exact in any order
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

std::size_t NeUmapLoss::active_edges(std::size_t i, std::uint32_t t31, std::uint32_t* out) const {
    const auto b = static_cast<std::size_t>(P_.indptr[i]), e = static_cast<std::size_t>(P_.indptr[i + 1]);
    std::size_t n = 0;
    for (std::size_t c = b; c < e; c += 64) {
        std::uint64_t m = fire_mask(rate31_.data() + c, std::min<std::size_t>(64, e - c), t31);
        for (; m; m &= m - 1) out[n++] = static_cast<std::uint32_t>(c - b + static_cast<std::size_t>(std::countr_zero(m)));
    }
    return n;
}

void NeUmapLoss::draw_negatives(std::size_t i, std::int64_t step, std::size_t count, std::uint32_t* out) const {
    if (count == 0) return;
    std::span<const std::uint32_t> excl;
    if (s_.exclude_neighbors)
        excl = std::span<const std::uint32_t>(columns_.data() + P_.indptr[i],
                                              static_cast<std::size_t>(P_.indptr[i + 1] - P_.indptr[i]));
    // Keyed by the source's global index (row0_ + i under a row split).
    const std::size_t gi = row0_ + i;
    const std::uint64_t stream = sampling_stream(SamplingFamily::torchdr_negatives, static_cast<std::uint64_t>(step), gi);
    if (!transform_) {
        // The n − 1 others (and not the excluded columns).
        UniformSampler sampler(s_.seed, stream, n_);
        if (excl.empty())
            sampler.draw_many(gi, out, count);
        else
            for (std::size_t t = 0; t < count; ++t) out[t] = static_cast<std::uint32_t>(sampler.draw(gi, excl));
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

// Rows [rb, re) in batches of about kBatch pairs: per row the firing edges and their negatives are listed, then per
// batch the pairs are gathered (distances from the double rows) into float blocks, the coefficients computed over
// each block and the clipped terms summed per row — long vector loops, few calls.
template <std::size_t kD>
void NeUmapLoss::rows(const float* Y, const float* R, std::size_t d_in, const NeStepInfo& info, double* grad,
                      bool want_loss, std::size_t rb, std::size_t re) {
    constexpr std::size_t kBatch = 1024;
    const std::size_t d = kD ? kD : d_in;
    const std::size_t rate = static_cast<std::size_t>(s_.negative_sample_rate);
    const auto t31 = static_cast<std::uint32_t>(info.step) & (kOne - 1);
    std::vector<std::uint32_t> act(max_row_), batch;
    PairBlock A, N;  // attraction, repulsion
    A.reserve(kBatch + pad8(max_row_), d);
    N.reserve(kBatch + pad8(rate * max_row_), d);
    std::vector<double> sa, sn;
    const UmapCurve& K = s_.curve;
    const auto a = static_cast<float>(K.a), b = static_cast<float>(K.b);
    const double f_att = (transform_ ? 1.0 : 2.0) * info.exaggeration, rho = info.repulsion_strength;
    for (std::size_t i = rb; i < re;) {
        batch.clear();
        for (auto* B : {&A, &N}) B->off.clear(), B->len.clear(), B->cnt.clear();
        std::size_t oa = 0, on = 0;
        for (; i < re && oa + on < kBatch; ++i) {
            const std::size_t na = active_edges(i, t31, act.data()), nn = rate * na;
            const auto row = P_.indices.data() + P_.indptr[i];
            for (std::size_t u = 0; u < na; ++u) A.idx[oa + u] = static_cast<std::uint32_t>(row[act[u]]);
            for (std::size_t u = na; u < pad8(na); ++u) A.idx[oa + u] = 0;
            draw_negatives(i, info.step, nn, N.idx.data() + on);
            for (std::size_t u = nn; u < pad8(nn); ++u) N.idx[on + u] = 0;
            batch.push_back(static_cast<std::uint32_t>(row0_ + i));  // the source's global index (its row of Y)
            A.off.push_back(static_cast<std::uint32_t>(oa)), A.len.push_back(static_cast<std::uint32_t>(pad8(na)));
            A.cnt.push_back(static_cast<std::uint32_t>(na));
            N.off.push_back(static_cast<std::uint32_t>(on)), N.len.push_back(static_cast<std::uint32_t>(pad8(nn)));
            N.cnt.push_back(static_cast<std::uint32_t>(nn));
            oa += pad8(na);
            on += pad8(nn);
        }
        const std::size_t nb = batch.size();
        for (auto* B : {&A, &N}) {
            if (kD == 2)
                gather2(Y, R, batch.data(), nb, *B);
            else
                gather(Y, R, d, batch.data(), nb, *B);
        }
        coefficients(A.D.data(), A.c.data(), oa, a, b, true);
        coefficients(N.D.data(), N.c.data(), on, a, b, false);
        sa.resize(nb * d);
        sn.resize(nb * d);
        clipped_sums(A, nb, d, sa.data());
        clipped_sums(N, nb, d, sn.data());
        for (std::size_t r = 0; r < nb; ++r) {
            double* g = grad + std::size_t(batch[r]) * d;
            for (std::size_t q = 0; q < d; ++q) g[q] = f_att * sa[r * d + q] + rho * sn[r * d + q];
        }
        if (want_loss)
            // −log w = log(1 + a·D^b), −log(1 − w) = −log(u/(1 + u)) with u = a·D^b (D^b from the blocks, float).
            for (std::size_t r = 0; r < nb; ++r) {
                double loss = 0.0;
                for (std::size_t t = A.off[r]; t < A.off[r] + A.cnt[r]; ++t)
                    loss += info.exaggeration * std::log1p(K.a * A.D[t]);
                for (std::size_t t = N.off[r]; t < N.off[r] + N.cnt[r]; ++t) {
                    const double u = K.a * N.D[t];
                    loss += rho * -std::log(std::max(u / (1.0 + u), 1e-300));
                }
                row_loss_[batch[r] - row0_] = loss;
            }
    }
}

double NeUmapLoss::operator()(MatrixView<double> Y, const NeStepInfo& info, double* grad, bool want_loss) {
    const std::size_t n = P_.n_rows, d = Y.cols;  // n: the sources evaluated here
    const std::size_t n_moving = rows_.comm ? n_ : n;
    require(Y.rows == n_moving, "UMAP: the embedding has " + std::to_string(Y.rows) + " points but P has " +
                                    std::to_string(n_moving) + " rows");
    require(info.step >= 0, "UMAP: negative step");
    const MatrixView<double> R = transform_ ? reference_.view() : Y;
    require(R.cols == d, "UMAP transform: the reference embedding has " + std::to_string(R.cols) +
                             " columns, the new points " + std::to_string(d));
    if (want_loss) row_loss_.assign(n, 0.0);
    // The float32 copy of the moving points (TorchDR's precision); at transform the reference's was made once.
    yf_.resize(Y.size());
    for (std::size_t k = 0; k < Y.size(); ++k) yf_[k] = static_cast<float>(Y.data[k]);
    const float* Rf = transform_ ? reference_f_.data() : yf_.data();
    parallelize(s_.n_threads, n, [&](int, std::size_t rb, std::size_t re) {
        if (d == 2)
            rows<2>(yf_.data(), Rf, d, info, grad, want_loss, rb, re);
        else
            rows<0>(yf_.data(), Rf, d, info, grad, want_loss, rb, re);
    });
    if (rows_.comm) {  // every rank's rows of the gradient to every rank
        own_.assign(grad + row0_ * d, grad + (row0_ + n) * d);
        std::vector<std::size_t> counts(static_cast<std::size_t>(rows_.comm->size()));
        for (int q = 0; q < rows_.comm->size(); ++q)
            counts[static_cast<std::size_t>(q)] = rows_.part.count(q) * d * sizeof(double);
        rows_.comm->allgatherv(own_.data(), own_.size() * sizeof(double), grad, counts);
    }
    if (!want_loss) return std::numeric_limits<double>::quiet_NaN();
    double total = 0.0;
    const auto add = [&](bool) {
        for (double v : row_loss_) total += v;
    };
    if (rows_.comm)
        dist::ordered_fold(*rows_.comm, &total, sizeof total, add);  // the rows in order over the ranks
    else
        add(true);
    return total;
}

} // namespace nembed
