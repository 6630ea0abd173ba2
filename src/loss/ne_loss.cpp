// TorchDR's neighbour-embedding losses with their true gradients (loss/ne_loss.hpp).
#include "nembed/loss/ne_loss.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <type_traits>

#include "nembed/affinity/symmetrize.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/dist/comm.hpp"
#include "nembed/loss/attraction.hpp"
#include "nembed/repulsion/negative_sampling.hpp"
#include "nembed/repulsion/repulsion.hpp"
#include "sne_dense.hpp"
#include "../core/isa_clones.hpp"
#include "../core/lane_sum.hpp"

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

// A split loss's rows of P: this rank's count x N rows, checked (Ps_rows is already the symmetric part).
CsrMatrix<double> checked_rows(const NeRowSplit& rows, const CsrMatrix<double>& P, const char* who) {
    const std::string w(who);
    require(rows.comm != nullptr && rows.part.ranks == rows.comm->size(),
            w + ": the row split does not match the communicator");
    P.validate((w + ": P").c_str());
    require(P.n_rows == rows.end() - rows.begin() && P.n_cols == rows.part.n,
            w + ": this rank's P has " + std::to_string(P.n_rows) + " x " + std::to_string(P.n_cols) +
                " entries, expected its rows of N = " + std::to_string(rows.part.n));
    require(rows.part.n >= 2, w + ": needs at least 2 points");
    for (double v : P.values)
        require_lazy(std::isfinite(v) && v >= 0.0, [&] { return w + ": P must be finite and non-negative"; });
    return P;
}

MatrixView<double> owned(const NeRowSplit& rows, MatrixView<double> Y) {
    return MatrixView<double>{Y.data + rows.begin() * Y.cols, rows.end() - rows.begin(), Y.cols};
}

// Every rank's rows of the gradient to every rank (the optimizer then steps the same Y everywhere, docs/mpi.md §5).
void gather_gradient(const NeRowSplit& rows, std::size_t d, double* grad, std::vector<double>& own) {
    const int R = rows.comm->size();
    own.assign(grad + rows.begin() * d, grad + rows.end() * d);
    std::vector<std::size_t> counts(static_cast<std::size_t>(R));
    for (int q = 0; q < R; ++q) counts[static_cast<std::size_t>(q)] = rows.part.count(q) * d * sizeof(double);
    rows.comm->allgatherv(own.data(), own.size() * sizeof(double), grad, counts);
}

// Σ p log w over all rows: the owned rows' block partials chained over the ranks (sum_p_log_w's bits).
double split_sum_p_log_w(const NeRowSplit& rows, const CsrMatrix<double>& Ps, MatrixView<double> Y,
                         const OutputKernel& kernel, int n_threads) {
    return dist::ordered_sum(*rows.comm, sum_p_log_w_partials(Ps, owned(rows, Y), Y, kernel, n_threads));
}

} // namespace

std::size_t NeRowSplit::begin() const { return comm ? part.begin(comm->rank()) : 0; }
std::size_t NeRowSplit::end() const { return comm ? part.end(comm->rank()) : part.n; }

NeTsneLoss::NeTsneLoss(const CsrMatrix<double>& P, Repulsion& repulsion, const OutputKernel& kernel, int n_threads)
    : rows_{nullptr, dist::RowPartition(P.n_rows, 1)}, Ps_(symmetric_part(P, "TSNE loss", n_threads)),
      repulsion_(repulsion), kernel_(kernel), n_threads_(n_threads) {
    validate(kernel);
    w0_ = visit_kernel(kernel_, [](const auto& k) { return k.w(0.0); });
}

NeTsneLoss::NeTsneLoss(const NeRowSplit& rows, const CsrMatrix<double>& Ps_rows, Repulsion& repulsion,
                       const OutputKernel& kernel, int n_threads)
    : rows_(rows), Ps_(checked_rows(rows, Ps_rows, "TSNE loss")), repulsion_(repulsion), kernel_(kernel),
      n_threads_(n_threads) {
    validate(kernel);
    w0_ = visit_kernel(kernel_, [](const auto& k) { return k.w(0.0); });
}

double NeTsneLoss::operator()(MatrixView<double> Y, const NeStepInfo& info, double* grad, bool want_loss) {
    const std::size_t n = rows_.comm ? rows_.part.n : Ps_.n_rows;
    require(Y.rows == n, "TSNE loss: the embedding has " + std::to_string(Y.rows) + " points but P has " +
                             std::to_string(n));
    forces_.resize(Y.size());
    const double Z = repulsion_.compute(Y, kernel_, forces_.data());
    const double z_all = Z + static_cast<double>(Y.rows) * w0_;  // TorchDR sums the diagonal w(0) too
    require(std::isfinite(z_all) && z_all > 0.0, "TSNE loss: the normalisation Σ w is not positive");
    const std::size_t b = rows_.begin() * Y.cols, e = rows_.end() * Y.cols;  // all rows without a split
    if (rows_.comm)
        attractive_forces(Ps_, owned(rows_, Y), Y, kernel_, 4.0 * info.exaggeration, grad + b, n_threads_);
    else
        attractive_forces(Ps_, Y, kernel_, 4.0 * info.exaggeration, grad, n_threads_);
    const double c = 4.0 * info.repulsion_strength / z_all;
    const double* f = forces_.data();
    parallelize(n_threads_, e - b, [&](int, std::size_t lo, std::size_t hi) {
        for (std::size_t k = b + lo; k < b + hi; ++k) grad[k] -= c * f[k];
    });
    if (rows_.comm) gather_gradient(rows_, Y.cols, grad, own_);
    if (!want_loss) return std::numeric_limits<double>::quiet_NaN();
    const double slw = rows_.comm ? split_sum_p_log_w(rows_, Ps_, Y, kernel_, n_threads_)
                                  : sum_p_log_w(Ps_, Y, kernel_, n_threads_);
    return -info.exaggeration * slw + info.repulsion_strength * std::log(z_all);
}

NeSneLoss::NeSneLoss(const CsrMatrix<double>& P, int n_threads)
    : rows_{nullptr, dist::RowPartition(P.n_rows, 1)}, Ps_(symmetric_part(P, "SNE loss", n_threads)),
      n_threads_(n_threads) {}

NeSneLoss::NeSneLoss(const NeRowSplit& rows, const CsrMatrix<double>& Ps_rows, int n_threads)
    : rows_(rows), Ps_(checked_rows(rows, Ps_rows, "SNE loss")), n_threads_(n_threads) {}

double NeSneLoss::operator()(MatrixView<double> Y, const NeStepInfo& info, double* grad, bool want_loss) {
    const std::size_t n = Y.rows;
    const std::size_t n_p = rows_.comm ? rows_.part.n : Ps_.n_rows;
    require(n == n_p, "SNE loss: the embedding has " + std::to_string(n) + " points but P has " + std::to_string(n_p));
    require(Y.cols >= 1, "SNE loss: the embedding has no coordinates");
    const OutputKernel kernel = GaussianKernel{1.0};
    // Split: the owned rows' attraction in a full-size buffer; the repulsion then adds to every row of it (each
    // element's operations depend on that element only, so the owned rows get one process's bits).
    double* g = grad;
    const std::size_t b = rows_.begin() * Y.cols, e = rows_.end() * Y.cols;
    if (rows_.comm) {
        full_.assign(Y.size(), 0.0);
        g = full_.data();
        attractive_forces(Ps_, owned(rows_, Y), Y, kernel, 4.0 * info.exaggeration, g + b, n_threads_);
    } else {
        attractive_forces(Ps_, Y, kernel, 4.0 * info.exaggeration, g, n_threads_);
    }
    // z_i = Σ_j exp(−D_ij), j = i included; ∂/∂y_i −= (2ρ/n) Σ_j exp(−D_ij)(1/z_i + 1/z_j)(y_i − y_j) (force_weight = w).
    z_.resize(n);
    detail::sne_repulsion(Y, -2.0 * info.repulsion_strength / static_cast<double>(n), g, z_.data(), scratch_,
                          n_threads_);
    if (rows_.comm) {
        std::copy(full_.begin() + static_cast<std::ptrdiff_t>(b), full_.begin() + static_cast<std::ptrdiff_t>(e),
                  grad + b);
        gather_gradient(rows_, Y.cols, grad, own_);
    }
    if (!want_loss) return std::numeric_limits<double>::quiet_NaN();
    double sum_log_z = 0.0;  // every rank holds every z_i
    for (std::size_t i = 0; i < n; ++i) sum_log_z += std::log(z_[i]);
    const double slw = rows_.comm ? split_sum_p_log_w(rows_, Ps_, Y, kernel, n_threads_)
                                  : sum_p_log_w(Ps_, Y, kernel, n_threads_);
    return -info.exaggeration * slw + info.repulsion_strength * sum_log_z / static_cast<double>(n);
}

NeSampledLoss::NeSampledLoss(const CsrMatrix<double>& P, NeSampledRepulsion repulsion, const OutputKernel& kernel,
                             NeNegatives negatives, int n_threads)
    : Ps_(symmetric_part(P, "negative-sampling loss", n_threads)), kind_(repulsion), kernel_(kernel),
      negatives_(std::move(negatives)), n_threads_(n_threads), n_(P.n_rows) {
    rows_.part = dist::RowPartition(n_, 1);
    check_exclusions();
}

NeSampledLoss::NeSampledLoss(const NeRowSplit& rows, const CsrMatrix<double>& Ps_rows, NeSampledRepulsion repulsion,
                             const OutputKernel& kernel, NeNegatives negatives, int n_threads)
    : rows_(rows), Ps_(checked_rows(rows, Ps_rows, "negative-sampling loss")), kind_(repulsion), kernel_(kernel),
      negatives_(std::move(negatives)), n_threads_(n_threads), n_(rows.part.n) {
    check_exclusions();
}

void NeSampledLoss::check_exclusions() const {
    validate(kernel_);
    require(negatives_.n_negatives >= 1, "n_negatives must be >= 1");
    require(negatives_.n_negatives <= kMaxNegatives, "n_negatives must be <= " + std::to_string(kMaxNegatives) +
                                                         ", got " + std::to_string(negatives_.n_negatives));
    require(negatives_.scatter_blocks >= 1, "scatter_blocks must be >= 1");
    const auto& ex = negatives_;
    if (ex.excluded_ptr.empty()) return;
    // The lists cover the rows this process evaluates (all rows without a split), indexed from its first row.
    const std::size_t r0 = rows_.begin(), nr = rows_.end() - r0;
    require(ex.excluded_ptr.size() == nr + 1 && static_cast<std::size_t>(ex.excluded_ptr.back()) == ex.excluded.size(),
            "negative sampling: malformed exclusion lists");
    for (std::size_t li = 0; li < nr; ++li) {
        const std::size_t i = r0 + li;
        // Candidates left: the n − 1 others minus the excluded ones other than i itself.
        std::size_t excl = 0;
        for (auto p = ex.excluded_ptr[li]; p < ex.excluded_ptr[li + 1]; ++p) {
            const auto e = ex.excluded[static_cast<std::size_t>(p)];
            require_lazy(e < n_, [&] { return std::string("negative sampling: excluded index out of range"); });
            require_lazy(p == ex.excluded_ptr[li] || ex.excluded[static_cast<std::size_t>(p) - 1] < e,
                         [&] { return std::string("negative sampling: exclusion lists must be sorted, unique"); });
            if (e != i) ++excl;
        }
        require_lazy(excl + 1 < n_, [&] {
            return "exclude_neighbors_from_negative_sampling: point " + std::to_string(i) +
                   " neighbours every other point, no negative is left to draw";
        });
    }
}

namespace {

// The hot loops below are compiled for AVX-512, AVX2 and the baseline and picked at run time; -ffp-contract=off and
// fixed summation orders give every clone the same bits.

// A head's m negatives, the next draws of its chunk's stream (a chunk's heads draw in order); without exclusions in
// blocks (UniformSampler::draw_many: the same draws).
// (i: the head's index; li: its row in the exclusion lists, i less the first evaluated row.)
NEMBED_ISA_CLONES void draw_head(UniformSampler& sampler, const NeNegatives& neg, std::size_t i,
                                        std::size_t li, std::uint32_t* out) {
    if (neg.excluded_ptr.empty()) return sampler.draw_many(i, out, neg.n_negatives);
    const std::span<const std::uint32_t> excl(neg.excluded.data() + neg.excluded_ptr[li],
                                              static_cast<std::size_t>(neg.excluded_ptr[li + 1] - neg.excluded_ptr[li]));
    for (std::size_t t = 0; t < neg.n_negatives; ++t) out[t] = static_cast<std::uint32_t>(sampler.draw(i, excl));
}


// Lanes of the fixed-order sums over a head's negatives: lane l adds the pairs t ≡ l (mod 8) in t order, then the
// lanes are added in order, the same IEEE operations whatever the vector width of the clone.
constexpr std::size_t lanes = kSumLanes;

// Pair rules: from a pair's squared distance D, in float32, the kernel value w and the pair's force factor c, its
// coefficient up to −2ρ/n: force_weight (InfoTSNE, then divided by s_i) or force_weight/(1 − w) (LargeVis).
struct InfoTsneRule {  // Student-t, dof 1: w = 1/(1 + D), force_weight = w²
    static constexpr bool log_sum = true;
    void operator()(float D, float& w, float& c) const {
        w = 1.0f / (1.0f + D);
        c = w * w;
    }
};
struct LargeVisRule {  // Cauchy ε, t = ε + D: w = 1/t, w²/(1 − w) = 1/(t(t − 1)), one division and no w
    static constexpr bool log_sum = false;
    float eps;
    void operator()(float D, float&, float& c) const {
        const float t = eps + D;
        c = 1.0f / (t * (t - 1.0f));
    }
};
template <class K, bool LogSum>
struct GenericRule {  // any other kernel: its own formulas in double, rounded
    static constexpr bool log_sum = LogSum;
    K k;
    void operator()(float D, float& w, float& c) const {
        const double wd = k.w(D), f = k.force_weight(D);
        w = static_cast<float>(wd);
        c = static_cast<float>(LogSum ? f : f / (1.0 - wd));
    }
};

// Per-worker scratch of one head's m pairs: differences y_i − y_k [t][d] (float), the rule's w and c (float), the
// pairs' contributions c_t·(y_i − y_k) [t][d] (double).
struct HeadScratch {
    std::vector<float> f;
    std::vector<double> contrib;
    HeadScratch(std::size_t m, std::size_t d) : f((d + 2) * m), contrib(d * m) {}
    float* diff() { return f.data(); }
};

// One head's m pairs (d = Dim when Dim > 0): the negatives' positions gathered (the random reads alone, so that
// the arithmetic after them vectorises over t), the differences and the rule's values in float32; s_i = Σ w in
// double lanes (log_sum); the coefficients c_t and contributions c_t·(y_i − y_k); their sum over t in double lanes
// into the head's gradient gi, and each subtracted from its negative's row of R.
template <std::size_t Dim, class Rule>
[[gnu::always_inline]] inline void head_pairs(const Rule& rule, const float* __restrict Yf, std::size_t d,
                                              std::size_t i, const std::uint32_t* __restrict idx, std::size_t m,
                                              HeadScratch& scratch, double scale, double* __restrict gi,
                                              double* __restrict R) {
    if constexpr (Dim > 0) d = Dim;
    float* __restrict diff = scratch.f.data();
    float* __restrict wv = diff + d * m;
    float* __restrict cv = wv + m;
    double* __restrict contrib = scratch.contrib.data();
    const float* yi = Yf + i * d;
    for (std::size_t t = 0; t < m; ++t)
        std::memcpy(diff + t * d, Yf + static_cast<std::size_t>(idx[t]) * d, d * sizeof(float));
    for (std::size_t t = 0; t < m; ++t) {
        float D = 0.0f;
        for (std::size_t q = 0; q < d; ++q) {
            const float df = yi[q] - diff[t * d + q];
            diff[t * d + q] = df;
            D += df * df;
        }
        rule(D, wv[t], cv[t]);
    }
    double a = -scale;
    if constexpr (Rule::log_sum) {
        double acc[lanes] = {};
        std::size_t t = 0;
        for (; t + lanes <= m; t += lanes)
            for (std::size_t l = 0; l < lanes; ++l) acc[l] += static_cast<double>(wv[t + l]);
        for (std::size_t l = 0; t + l < m; ++l) acc[l] += static_cast<double>(wv[t + l]);
        a = -scale / lane_sum(acc);
    }
    const float af = static_cast<float>(a);
    for (std::size_t t = 0; t < m; ++t) {
        const float c = cv[t] * af;
        for (std::size_t q = 0; q < d; ++q) contrib[t * d + q] = static_cast<double>(c * diff[t * d + q]);
    }
    for (std::size_t q = 0; q < d; ++q) {
        double acc[lanes] = {};
        std::size_t t = 0;
        for (; t + lanes <= m; t += lanes)
            for (std::size_t l = 0; l < lanes; ++l) acc[l] += contrib[(t + l) * d + q];
        for (std::size_t l = 0; t + l < m; ++l) acc[l] += contrib[(t + l) * d + q];
        gi[q] += lane_sum(acc);
    }
    if constexpr (Dim == 2) {  // one 2-double load, subtraction and store per pair (GCC does not pair them itself)
        using V2 = double __attribute__((vector_size(16)));
        for (std::size_t t = 0; t < m; ++t) {
            double* rk = R + static_cast<std::size_t>(idx[t]) * 2;
            V2 r, c;
            std::memcpy(&r, rk, sizeof r);
            std::memcpy(&c, contrib + t * 2, sizeof c);
            r -= c;
            std::memcpy(rk, &r, sizeof r);
        }
    } else {
        for (std::size_t t = 0; t < m; ++t) {
            double* rk = R + static_cast<std::size_t>(idx[t]) * d;
            for (std::size_t q = 0; q < d; ++q) rk[q] -= contrib[t * d + q];
        }
    }
}

// The fast rules, cloned, for d = 2 and any d.
#define NEMBED_HEAD_ARGS                                                                                              \
    const float *Yf, std::size_t d, std::size_t i, const std::uint32_t *idx, std::size_t m, HeadScratch &scratch,     \
        double scale, double *gi, double *R
NEMBED_ISA_CLONES void infotsne_head_2d(NEMBED_HEAD_ARGS) {
    head_pairs<2>(InfoTsneRule{}, Yf, d, i, idx, m, scratch, scale, gi, R);
}
NEMBED_ISA_CLONES void infotsne_head(NEMBED_HEAD_ARGS) {
    head_pairs<0>(InfoTsneRule{}, Yf, d, i, idx, m, scratch, scale, gi, R);
}
NEMBED_ISA_CLONES void largevis_head_2d(float eps, NEMBED_HEAD_ARGS) {
    head_pairs<2>(LargeVisRule{eps}, Yf, d, i, idx, m, scratch, scale, gi, R);
}
NEMBED_ISA_CLONES void largevis_head(float eps, NEMBED_HEAD_ARGS) {
    head_pairs<0>(LargeVisRule{eps}, Yf, d, i, idx, m, scratch, scale, gi, R);
}
#undef NEMBED_HEAD_ARGS

} // namespace

std::vector<std::uint32_t> NeSampledLoss::negatives(std::int64_t step) const {
    require(rows_.comm == nullptr, "NeSampledLoss::negatives: one process only");
    const std::size_t m = negatives_.n_negatives;
    std::vector<std::uint32_t> out(n_ * m);
    const std::size_t n_chunks = (n_ + sample_chunk - 1) / sample_chunk;
    for (std::size_t c = 0; c < n_chunks; ++c) {
        UniformSampler sampler(negatives_.seed,
                               sampling_stream(SamplingFamily::torchdr_negatives, static_cast<std::uint64_t>(step), c),
                               n_);
        for (std::size_t i = c * sample_chunk; i < std::min(n_, (c + 1) * sample_chunk); ++i)
            draw_head(sampler, negatives_, i, i, out.data() + i * m);
    }
    return out;
}

double NeSampledLoss::operator()(MatrixView<double> Y, const NeStepInfo& info, double* grad, bool want_loss) {
    const std::size_t n = Y.rows, d = Y.cols, m = negatives_.n_negatives;
    require(n == n_, "negative-sampling loss: the embedding has " + std::to_string(n) + " points but P has " +
                         std::to_string(n_));
    const bool split = rows_.comm != nullptr;
    const std::size_t r0 = rows_.begin(), r1 = rows_.end();  // the heads evaluated here: all rows without a split
    if (split)
        attractive_forces(Ps_, owned(rows_, Y), Y, kernel_, 4.0 * info.exaggeration, grad + r0 * d, n_threads_);
    else
        attractive_forces(Ps_, Y, kernel_, 4.0 * info.exaggeration, grad, n_threads_);
    const double scale = 2.0 * info.repulsion_strength / static_cast<double>(n);
    const bool log_sum = kind_ == NeSampledRepulsion::log_sum;
    Yf_.resize(n * d);
    parallelize(n_threads_, n * d, [&](int, std::size_t b, std::size_t e) {
        for (std::size_t k = b; k < e; ++k) Yf_[k] = static_cast<float>(Y.data[k]);
    });
    const std::size_t n_chunks = (n + sample_chunk - 1) / sample_chunk;
    // Runs of whole sampling chunks whose pairs share a scatter buffer: at most NeNegatives::scatter_blocks, a
    // function of n only, so the negatives' sums depend neither on the thread count nor on the ranks.
    const std::size_t n_blocks = std::min(negatives_.scatter_blocks, n_chunks);
    const auto block_begin = [&](std::size_t b) { return b * n_chunks / n_blocks; };  // in chunks
    const auto block_of = [&](std::size_t c) {
        std::size_t b = 0;
        while (b + 1 < n_blocks && block_begin(b + 1) <= c) ++b;
        return b;
    };
    // This process's chunks (a rank's rows start on a multiple of 2048 = 8 chunks) and the blocks [bf, bl] they
    // touch; its buffer of block b is scatter_[(b − bf)·n·d ...].
    const std::size_t c_lo = r0 / sample_chunk, c_hi = (r1 + sample_chunk - 1) / sample_chunk;
    const std::size_t bf = c_lo < c_hi ? block_of(c_lo) : 0, bl = c_lo < c_hi ? block_of(c_hi - 1) : 0;
    const std::size_t n_local = c_lo < c_hi ? bl + 1 - bf : 0;
    if (scatter_.size() != n_local * n * d) scatter_.assign(n_local * n * d, 0.0);  // kept zero between steps
    head_term_.resize(r1 - r0);
    // A block spanning two ranks: the earlier rank's buffer, its heads' part summed, continues on the later one.
    const bool from_prev = split && n_local > 0 && block_begin(bf) < c_lo;
    const bool to_next = split && n_local > 0 && block_begin(bl + 1) > c_hi;
    const int prev = from_prev ? rows_.part.owner(c_lo * sample_chunk - 1) : -1;
    const int next = to_next ? rows_.part.owner(c_hi * sample_chunk) : -1;
    const std::size_t block_bytes = n * d * sizeof(double);
    visit_kernel(kernel_, [&](const auto& K) {
        using Kernel = std::decay_t<decltype(K)>;
        // Each block: its chunks' heads in order, drawing, then the pairs (head_fn) into grad's head rows and the
        // block's buffer; with the loss, the head's term in double from Y (TorchDR's value, not the float one).
        auto run = [&](auto&& head_fn) {
            const auto body = [&](std::size_t b) {
                std::vector<std::uint32_t> idx(m);
                HeadScratch scratch(m, d);
                double* R = scatter_.data() + (b - bf) * n * d;
                for (std::size_t c = std::max(block_begin(b), c_lo); c < std::min(block_begin(b + 1), c_hi); ++c) {
                    UniformSampler sampler(
                        negatives_.seed,
                        sampling_stream(SamplingFamily::torchdr_negatives, static_cast<std::uint64_t>(info.step), c), n);
                    for (std::size_t i = c * sample_chunk; i < std::min(n, (c + 1) * sample_chunk); ++i) {
                        draw_head(sampler, negatives_, i, i - r0, idx.data());
                        head_fn(Yf_.data(), d, i, idx.data(), m, scratch, scale,
                                grad + i * d, R);
                        if (!want_loss) continue;
                        double term = 0.0;
                        for (std::size_t t = 0; t < m; ++t) {
                            const double w = K.w(squared_distance(Y.row(i), Y.row(idx[t]), d));
                            term += log_sum ? w : -std::log(1.0 - w);
                        }
                        head_term_[i - r0] = term;
                    }
                }
            };
            if (from_prev && n_local == 1) {  // every head of this rank inside one spanning block
                rows_.comm->recv(scatter_.data(), block_bytes, prev);
                body(bf);
                if (to_next) rows_.comm->send(scatter_.data(), block_bytes, next);
                return;
            }
            // The blocks that start here first, the last one passed on, then the one continued from the previous
            // rank (its prefix arrives while this rank computed the others).
            const std::size_t first = bf + (from_prev ? 1 : 0);
            parallel_for(n_threads_, n_local - (from_prev ? 1 : 0), [&](std::size_t k) { body(first + k); });
            if (to_next) rows_.comm->send(scatter_.data() + (bl - bf) * n * d, block_bytes, next);
            if (from_prev) {
                rows_.comm->recv(scatter_.data(), block_bytes, prev);
                body(bf);
            }
        };
        if constexpr (std::is_same_v<Kernel, StudentT1Kernel>) {
            if (log_sum) return run(d == 2 ? infotsne_head_2d : infotsne_head);
        } else if constexpr (std::is_same_v<Kernel, CauchyKernel>) {
            if (!log_sum) {
                const float eps = static_cast<float>(K.eps);
                return run([&](auto... a) { return (d == 2 ? largevis_head_2d : largevis_head)(eps, a...); });
            }
        }
        if (log_sum)
            run([&](auto... a) { return head_pairs<0>(GenericRule<Kernel, true>{K}, a...); });
        else
            run([&](auto... a) { return head_pairs<0>(GenericRule<Kernel, false>{K}, a...); });
    });
    if (!split) {
        // The negatives' sides: the blocks' buffers added in block order, each left zero for the next step.
        parallelize(n_threads_, n * d, [&](int, std::size_t b, std::size_t e) {
            for (std::size_t k = b; k < e; ++k) {
                double r = 0.0;
                for (std::size_t bl_ = 0; bl_ < n_blocks; ++bl_) {
                    double& x = scatter_[bl_ * n * d + k];
                    r += x;
                    x = 0.0;
                }
                grad[k] += r;
            }
        });
    } else {
        reduce_split_blocks(n, d, n_blocks, n_local, to_next, grad);
        gather_gradient(rows_, d, grad, own_);
    }
    if (!want_loss) return std::numeric_limits<double>::quiet_NaN();
    double rep = 0.0;
    const auto add_heads = [&](bool) {
        for (std::size_t li = 0; li < r1 - r0; ++li) rep += log_sum ? std::log(head_term_[li]) : head_term_[li];
    };
    if (split)
        dist::ordered_fold(*rows_.comm, &rep, sizeof rep, add_heads);  // the heads in index order over the ranks
    else
        add_heads(true);
    const double slw = split ? split_sum_p_log_w(rows_, Ps_, Y, kernel_, n_threads_)
                             : sum_p_log_w(Ps_, Y, kernel_, n_threads_);
    return -info.exaggeration * slw + info.repulsion_strength * rep / static_cast<double>(n);
}

// Split: block b is complete on the rank holding its last chunk. Each rank sends every owner the owner's rows of
// the blocks it completed (ascending), and adds the n_blocks rows it receives for each of its rows in block order
// from 0, as one process adds its buffers; the buffers are left zero for the next step.
void NeSampledLoss::reduce_split_blocks(std::size_t n, std::size_t d, std::size_t n_blocks, std::size_t n_local,
                                        bool to_next, double* grad) {
    dist::Comm& comm = *rows_.comm;
    const dist::RowPartition& part = rows_.part;
    const int R = comm.size(), me = comm.rank();
    const auto RR = static_cast<std::size_t>(R);
    const std::size_t n_chunks = (n + sample_chunk - 1) / sample_chunk;
    const auto completer = [&](std::size_t b) {
        return part.owner(std::min(n, (b + 1) * n_chunks / n_blocks * sample_chunk) - 1);
    };
    // This rank's complete blocks: its first n_done local buffers (all but the last when that one continues).
    const std::size_t n_done = n_local - (to_next ? 1 : 0);
    std::vector<std::size_t> sc(RR), rc(RR), roff(RR + 1, 0), have(RR, 0);
    for (std::size_t b = 0; b < n_blocks; ++b) ++have[static_cast<std::size_t>(completer(b))];
    const std::size_t mine = part.count(me) * d;
    std::size_t total = 0;
    for (int q = 0; q < R; ++q) {
        const auto uq = static_cast<std::size_t>(q);
        sc[uq] = n_done * part.count(q) * d * sizeof(double);
        total += n_done * part.count(q) * d;
        rc[uq] = have[uq] * mine * sizeof(double);
        roff[uq + 1] = roff[uq] + have[uq] * mine;
    }
    send_.resize(total);
    std::size_t o = 0;
    for (int q = 0; q < R; ++q)
        for (std::size_t u = 0; u < n_done; ++u) {
            const double* src = scatter_.data() + u * n * d + part.begin(q) * d;
            std::copy(src, src + part.count(q) * d, send_.data() + o);
            o += part.count(q) * d;
        }
    recv_.resize(roff[RR]);
    comm.alltoallv(send_.data(), sc, recv_.data(), rc);
    // Where block b's rows of this rank lie in recv_: its completer's part, in that rank's block order.
    std::vector<std::size_t> at(n_blocks);
    std::vector<std::size_t> seen(RR, 0);
    for (std::size_t b = 0; b < n_blocks; ++b) {
        const auto p = static_cast<std::size_t>(completer(b));
        at[b] = roff[p] + seen[p]++ * mine;
    }
    double* g = grad + part.begin(me) * d;
    parallelize(n_threads_, mine, [&](int, std::size_t lo, std::size_t hi) {
        for (std::size_t k = lo; k < hi; ++k) {
            double r = 0.0;
            for (std::size_t b = 0; b < n_blocks; ++b) r += recv_[at[b] + k];
            g[k] += r;
        }
    });
    std::fill(scatter_.begin(), scatter_.end(), 0.0);
}

} // namespace nembed
