// TorchDR's COSNE objective (loss/cosne.hpp): exact O(N²) sums in the Poincaré ball.
//
// Two paths compute the same maths. The 2-D one (n_components = 2, TorchDR's default) evaluates each pair's
// kernel in float32 (accumulated in double), each unordered pair once, vectorised; any other dimension takes the
// general double path, one ordered pair at a time. docs/torchdr.md "COSNE: implementation".
#include "nembed/loss/cosne.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "nembed/affinity/symmetrize.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/kernel/hyperbolic.hpp"
#include "../core/isa_clones.hpp"

namespace nembed {

void validate(const CosneLossOptions& o) {
    require(std::isfinite(o.gamma) && o.gamma > 0, "gamma must be positive, got " + std::to_string(o.gamma));
    require(std::isfinite(o.learning_rate_for_h_loss) && o.learning_rate_for_h_loss >= 0,
            "learning_rate_for_h_loss must be non-negative, got " + std::to_string(o.learning_rate_for_h_loss));
    require(std::isfinite(o.repulsion_strength) && o.repulsion_strength >= 0,
            "repulsion_strength must be non-negative, got " + std::to_string(o.repulsion_strength));
    require(o.n_threads >= 1, "n_threads must be at least 1");
}

CosneObjective::CosneObjective(CsrMatrix<double> P, std::vector<double> x_sqnorm, CosneLossOptions options)
    : P_(std::move(P)), x_sqnorm_(std::move(x_sqnorm)), options_(options) {
    validate(options_);
    P_.validate("COSNE affinity P");
    require(P_.n_rows == P_.n_cols && P_.n_rows >= 1, "COSNE: the affinity P must be square and non-empty");
    require(x_sqnorm_.size() == P_.n_rows, "COSNE: x_sqnorm has " + std::to_string(x_sqnorm_.size()) +
                                               " entries for " + std::to_string(P_.n_rows) + " points");
    for (double v : P_.values) require(std::isfinite(v) && v >= 0, "COSNE: the affinity P must be non-negative");
    for (double v : x_sqnorm_) require(std::isfinite(v) && v >= 0, "COSNE: x_sqnorm must be non-negative");
    W_ = symmetrize(P_, Symmetrization::mean, options_.n_threads);  // (P + Pᵀ)/2
    for (double& v : W_.values) v *= 2.0;
    // P on W's pattern (every positive P_ij is in W): the 2-D path reads the loss off its attraction pass.
    P_on_W_.resize(W_.nnz());
    for (std::size_t i = 0; i < W_.n_rows; ++i)
        for (offset_t p = W_.row_begin(i); p < W_.row_end(i); ++p) P_on_W_[p] = P_.at(i, W_.indices[p]);
    P_row_sum_.assign(P_.n_rows, 0.0);
    for (std::size_t i = 0; i < P_.n_rows; ++i)
        for (offset_t p = P_.row_begin(i); p < P_.row_end(i); ++p) P_row_sum_[i] += P_.values[p];
}

namespace {

// ---- The 2-D path ----------------------------------------------------------------------------------------------

constexpr std::size_t kLanes = 16;  // float lanes of the fixed-order accumulators (any SIMD width gives these bits)

// The lanes of one accumulator summed in double, in lane order.
inline double lane_sum(const float* v) {
    double s = 0.0;
    for (std::size_t l = 0; l < kLanes; ++l) s += v[l];
    return s;
}
constexpr std::size_t kTile = 256;  // points per tile side: a tile's columns stay in L1

// log(v) for finite normal v > 0 in float, inline so that the pair loops vectorise (vmath::log works on whole blocks and
// is no faster than libm there): v = 2^e·(1 + m), m in [√½ − 1, √2 − 1), log(1 + m) by Cephes' logf polynomial.
[[gnu::always_inline]] inline float log_pos(float v) {
    const std::uint32_t t = std::bit_cast<std::uint32_t>(v) - 0x3f3504f3u;  // √½'s bits: m ≥ √½ − 1
    const float e = static_cast<float>(static_cast<std::int32_t>(t) >> 23);
    const float m = std::bit_cast<float>((t & 0x007fffffu) + 0x3f3504f3u) - 1.0f;
    const float z = m * m;
    float p = 7.0376836292e-2f;
    p = p * m - 1.1514610310e-1f;
    p = p * m + 1.1676998740e-1f;
    p = p * m - 1.2420140846e-1f;
    p = p * m + 1.4249322787e-1f;
    p = p * m - 1.6668057665e-1f;
    p = p * m + 2.0000714765e-1f;
    p = p * m - 2.4999993993e-1f;
    p = p * m + 3.3333331174e-1f;
    float y = m * z * p - 2.12194440e-4f * e - 0.5f * z;
    return m + y + 0.693359375f * e;
}

// One pair's geometry and kernel in float from C = ‖z_i − z_j‖² and aa = 1/((1 − ‖z_i‖²)(1 − ‖z_j‖²)):
// x = u − 1 = 2C·aa + 1e-8, s = √(x(x + 2)), arccosh(u) = log(1 + x + s), or for s < 0.15 (where 1 + x + s would
// round) asinh(s)'s series s·(1 − s²/6 + 3s⁴/40 − 5s⁶/112) (next term 1e-8 relative); s = x + 1 for x > 1e7,
// where x(x + 2) could overflow and √ rounds to it anyway. D = arccosh², den = D + γ², inv = 1/den and
// g = 8·(arccosh/s)·aa (∂D_ij/∂z_i = g·[(z_i − z_j) + C·z_i/(1 − ‖z_i‖²)]); one division serves inv and arccosh/s.
struct PairKernel {
    float inv, g, den;
};
[[gnu::always_inline]] inline PairKernel pair_kernel(float C, float aa, float g2) {
    // Every operation runs in every lane and only the results are selected (no FP operation under a condition):
    // so GCC if-converts and vectorises the loops that inline this.
    const float x = 2.0f * C * aa + 1e-8f;
    const float root = std::sqrt(x * (x + 2.0f)), big = x + 1.0f;
    const float s = x > 1e7f ? big : root;
    const float s2 = s * s;
    const float series = 1.0f - s2 * (1.0f / 6.0f - s2 * (3.0f / 40.0f - s2 * (5.0f / 112.0f)));
    const float lg = log_pos(1.0f + x + s);
    const bool small = s < 0.15f;
    const float ac_series = s * series;
    const float ac = small ? ac_series : lg;
    const float den = ac * ac + g2;
    const float t = 1.0f / (s * den);
    const float ratio_log = lg * den * t;
    const float ratio = small ? series : ratio_log;  // arccosh/s
    return {s * t, 8.0f * ratio * aa, den};
}

// The embedding in the layout the 2-D loops read: coordinates (double, so that differences are exact before they
// are rounded to float), a = 1/(1 − ‖z‖²) in float, and 1 for points, 0 for the padding up to a whole tile.
struct Points2d {
    std::vector<double> x, y;
    std::vector<float> a, valid;
};

// Per point, in double: Σ_j Q_ij (diagonal included), Σ_j c_ij·(z_i − z_j) (2 values) and Σ_j c_ij·C_ij, with
// c_ij = Q_ij/(D_ij + γ²)·g_ij: the repulsion vector is the middle two plus a_i·z_i·(the last).
constexpr std::size_t kAcc = 4;

// Tile (I, J): every i of block I (rows i0 .. i0 + rows) against every j of block J. The pair terms go to i's
// float lanes (summed into acc[i] in lane order per tile); with Cols (I < J) also to the columns' float sums over
// the tile's i (added to acc[j] per tile), with the sign of z_j − z_i, so that each unordered pair is computed once.
// Diagonal tiles (Cols false) take every ordered pair of the block, the diagonal included (TorchDR's Z includes
// D_ii = arccosh(1 + 1e-8)²; its c·(z_i − z_i) and c·C are 0).
template <bool Cols>
[[gnu::always_inline]] inline void tile_body(const Points2d& p, std::size_t i0, std::size_t rows, std::size_t j0,
                                             float gamma, float g2, double* acc) {
    alignas(64) float col[kAcc][kTile] = {};
    for (std::size_t ii = 0; ii < rows; ++ii) {
        const std::size_t i = i0 + ii;
        const double xi = p.x[i], yi = p.y[i];
        const float ai = p.a[i];
        alignas(64) float sq[kLanes] = {}, sx[kLanes] = {}, sy[kLanes] = {}, sc[kLanes] = {};
        for (std::size_t jc = 0; jc < kTile; jc += kLanes) {
            for (std::size_t l = 0; l < kLanes; ++l) {
                const std::size_t j = j0 + jc + l;
                const float dx = static_cast<float>(xi - p.x[j]), dy = static_cast<float>(yi - p.y[j]);
                const float C = dx * dx + dy * dy;
                const PairKernel k = pair_kernel(C, ai * p.a[j], g2);
                const float q = gamma * k.inv * p.valid[j];
                const float c = q * k.inv * k.g;
                const float cx = c * dx, cy = c * dy, cc = c * C;
                sq[l] += q;
                sx[l] += cx;
                sy[l] += cy;
                sc[l] += cc;
                if constexpr (Cols) {
                    col[0][jc + l] += q;
                    col[1][jc + l] -= cx;
                    col[2][jc + l] -= cy;
                    col[3][jc + l] += cc;
                }
            }
        }
        double* r = acc + i * kAcc;
        r[0] += lane_sum(sq);
        r[1] += lane_sum(sx);
        r[2] += lane_sum(sy);
        r[3] += lane_sum(sc);
    }
    if constexpr (Cols)
        for (std::size_t jj = 0; jj < kTile; ++jj)
            for (std::size_t k = 0; k < kAcc; ++k) acc[(j0 + jj) * kAcc + k] += col[k][jj];
}
NEMBED_ISA_CLONES void tile_off_diagonal(const Points2d& p, std::size_t i0, std::size_t rows, std::size_t j0,
                                           float gamma, float g2, double* acc) {
    tile_body<true>(p, i0, rows, j0, gamma, g2, acc);
}
NEMBED_ISA_CLONES void tile_diagonal(const Points2d& p, std::size_t i0, std::size_t rows, float gamma, float g2,
                                       double* acc) {
    tile_body<false>(p, i0, rows, i0, gamma, g2, acc);
}

// Attraction of row i over W's row (W = P + Pᵀ, P on its pattern for the loss), kLanes entries at a time (the tail
// padded with weight 0): out[0..1] = Σ ex·W_ij/(D_ij + γ²)·g_ij·(z_i − z_j), out[2] = Σ the same factor·C_ij,
// out[3] = Σ P_ij·log(D_ij + γ²) when want_loss.
NEMBED_ISA_CLONES void attraction_row(const Points2d& p, std::size_t i, const index_t* idx, const double* w,
                                        const double* pw, std::size_t len, float ex, float g2, bool want_loss,
                                        double* out) {
    const double xi = p.x[i], yi = p.y[i];
    const float ai = p.a[i];
    alignas(64) float sx[kLanes] = {}, sy[kLanes] = {}, sc[kLanes] = {}, sl[kLanes] = {};
    for (std::size_t b = 0; b < len; b += kLanes) {
        alignas(64) float dx[kLanes], dy[kLanes], aj[kLanes], wv[kLanes], pv[kLanes], den[kLanes];
        for (std::size_t l = 0; l < kLanes; ++l) {
            const bool in = b + l < len;
            const std::size_t j = in ? static_cast<std::size_t>(idx[b + l]) : i;  // padding: i itself, weight 0
            dx[l] = static_cast<float>(xi - p.x[j]);
            dy[l] = static_cast<float>(yi - p.y[j]);
            aj[l] = p.a[j];
            wv[l] = in ? static_cast<float>(w[b + l]) : 0.0f;
            pv[l] = in ? static_cast<float>(pw[b + l]) : 0.0f;
        }
        for (std::size_t l = 0; l < kLanes; ++l) {
            const float C = dx[l] * dx[l] + dy[l] * dy[l];
            const PairKernel k = pair_kernel(C, ai * aj[l], g2);
            const float c = ex * wv[l] * k.inv * k.g;
            sx[l] += c * dx[l];
            sy[l] += c * dy[l];
            sc[l] += c * C;
            den[l] = k.den;
        }
        if (want_loss)
            for (std::size_t l = 0; l < kLanes; ++l) sl[l] += pv[l] * log_pos(den[l]);
    }
    out[0] = lane_sum(sx);
    out[1] = lane_sum(sy);
    out[2] = lane_sum(sc);
    out[3] = lane_sum(sl);
}

} // namespace

double CosneObjective::operator()(MatrixView<double> Z, double ex, double* grad, bool want_loss) const {
    const std::size_t n = P_.n_rows, d = Z.cols;
    require(Z.rows == n && d >= 1, "COSNE: the embedding has " + std::to_string(Z.rows) + " rows, P " +
                                       std::to_string(n));
    const int nt = options_.n_threads;
    const double gamma = options_.gamma, g2 = gamma * gamma, log_gamma = std::log(gamma);
    const double rho = options_.repulsion_strength, lam = options_.learning_rate_for_h_loss;

    std::vector<double> norm(n);
    parallel_for(nt, n, [&](std::size_t i) { norm[i] = hyperbolic::dot(Z.row(i), Z.row(i), d); });
    for (std::size_t i = 0; i < n; ++i)
        require_lazy(norm[i] < 1.0, [&] { return "COSNE: point " + std::to_string(i) +
                                                 " lies outside the open unit ball (Poincaré model)"; });
    // Per row: Σ_j Q_ij (diagonal included), the repulsion vector S_i, the attraction gradient (in grad) and value.
    std::vector<double> row_z(n), row_att(n), S(n * d);
    if (d == 2) {
        cosne_2d(Z, ex, grad, want_loss, norm, row_z, row_att, S);
    } else {
        const double q_diag = gamma / (hyperbolic::sqdist_from(0.0, 0.0, 0.0) + g2);  // C = 0: arccosh(1 + 1e-8)²
        parallelize(nt, n, [&](int, std::size_t b, std::size_t e) {
            for (std::size_t i = b; i < e; ++i) {
                const double* zi = Z.row(i);
                double* gi = grad + i * d;
                double* si = S.data() + i * d;
                for (std::size_t k = 0; k < d; ++k) gi[k] = si[k] = 0.0;
                const double ni = norm[i], ai = 1.0 / (1.0 - ni);
                double zsum = q_diag;
                for (std::size_t j = 0; j < n; ++j) {
                    if (j == i) continue;
                    const double* zj = Z.row(j);
                    const double C = hyperbolic::sqdiff(zi, zj, d);
                    double g = 0.0;
                    const double D = hyperbolic::sqdist_and_scale(C, ni, norm[j], g);
                    const double inv = 1.0 / (D + g2);
                    const double q = gamma * inv;
                    zsum += q;
                    const double c = q * inv * g;  // Q/(D + γ²) · g
                    const double ca = C * ai;
                    for (std::size_t k = 0; k < d; ++k) si[k] += c * ((zi[k] - zj[k]) + ca * zi[k]);
                }
                row_z[i] = zsum;
                // Attraction: W = P + Pᵀ for the gradient (both ends of every edge), P itself for the value.
                for (offset_t p = W_.row_begin(i); p < W_.row_end(i); ++p) {
                    const std::size_t j = static_cast<std::size_t>(W_.indices[p]);
                    if (j == i) continue;  // D_ii does not move with z_i
                    const double* zj = Z.row(j);
                    const double C = hyperbolic::sqdiff(zi, zj, d);
                    double g = 0.0;
                    const double D = hyperbolic::sqdist_and_scale(C, ni, norm[j], g);
                    const double c = ex * W_.values[p] / (D + g2) * g;
                    const double ca = C * ai;
                    for (std::size_t k = 0; k < d; ++k) gi[k] += c * ((zi[k] - zj[k]) + ca * zi[k]);
                }
                double att = 0.0;
                if (want_loss)
                    for (offset_t p = P_.row_begin(i); p < P_.row_end(i); ++p) {
                        const std::size_t j = static_cast<std::size_t>(P_.indices[p]);
                        const double D = hyperbolic::sqdist_from(hyperbolic::sqdiff(zi, Z.row(j), d), ni, norm[j]);
                        att += P_.values[p] * (std::log(D + g2) - log_gamma);  // −P log Q
                    }
                row_att[i] = att;
            }
        });
    }
    // Norm matching: D(z_i, 0) against ‖x_i‖²; ∂D(z, 0)/∂z = g·(z + ‖z‖²·z/(1 − ‖z‖²)).
    std::vector<double> row_norm(n);
    parallel_for(nt, n, [&](std::size_t i) {
        const double ni = norm[i], ai = 1.0 / (1.0 - ni);
        double g0 = 0.0;
        const double D0 = hyperbolic::sqdist_and_scale(ni, ni, 0.0, g0);
        const double diff = D0 - x_sqnorm_[i];
        row_norm[i] = diff * diff;
        const double cn = rho * lam * 2.0 / static_cast<double>(n) * diff * g0 * (1.0 + ni * ai);
        for (std::size_t k = 0; k < d; ++k) grad[i * d + k] += cn * Z(i, k);
    });
    double Zsum = 0.0, att = 0.0, nsum = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        Zsum += row_z[i];
        att += row_att[i];
        nsum += row_norm[i];
    }
    const double rep = -rho * 2.0 / Zsum;
    parallel_for(nt, n, [&](std::size_t i) {
        for (std::size_t k = 0; k < d; ++k) grad[i * d + k] += rep * S[i * d + k];
    });
    if (!want_loss) return std::numeric_limits<double>::quiet_NaN();
    return att + rho * (std::log(Zsum) + lam * nsum / static_cast<double>(n));
}

// The 2-D path (see the file comment): fills row_z, row_att (−Σ_j P_ij log Q_ij, when want_loss), S and grad
// (the attraction) as the general path does.
void CosneObjective::cosne_2d(MatrixView<double> Z, double ex, double* grad, bool want_loss,
                              const std::vector<double>& norm, std::vector<double>& row_z,
                              std::vector<double>& row_att, std::vector<double>& S) const {
    const std::size_t n = P_.n_rows;
    const int nt = options_.n_threads;
    const std::size_t nb = (n + kTile - 1) / kTile, np = nb * kTile;
    Points2d p;
    p.x.assign(np, 0.0);
    p.y.assign(np, 0.0);
    p.a.assign(np, 1.0f);
    p.valid.assign(np, 0.0f);
    for (std::size_t i = 0; i < n; ++i) {
        p.x[i] = Z(i, 0);
        p.y[i] = Z(i, 1);
        p.a[i] = static_cast<float>(1.0 / (1.0 - norm[i]));
        p.valid[i] = 1.0f;
    }
    const float gamma = static_cast<float>(options_.gamma), g2 = gamma * gamma;
    const double log_gamma = std::log(options_.gamma);

    // Block rows t and nb − 1 − t form one task (nb + 1 tiles, so tasks cost alike); tasks are dealt to a fixed
    // number of groups (from N alone), each with its own accumulators, run in order by whichever thread takes the
    // group; the groups' sums are added in group order: the same bits for any thread count.
    const std::size_t n_tasks = (nb + 1) / 2, n_groups = std::min<std::size_t>(n_tasks, 32);
    std::vector<double> acc(n_groups * np * kAcc, 0.0);
    parallel_for(nt, n_groups, [&](std::size_t gi) {
        double* a = acc.data() + gi * np * kAcc;
        const std::size_t t0 = gi * n_tasks / n_groups, t1 = (gi + 1) * n_tasks / n_groups;
        for (std::size_t t = t0; t < t1; ++t)
            for (const std::size_t I : {t, nb - 1 - t}) {
                const std::size_t i0 = I * kTile, rows = std::min(kTile, n - i0);
                tile_diagonal(p, i0, rows, gamma, g2, a);
                for (std::size_t J = I + 1; J < nb; ++J) tile_off_diagonal(p, i0, rows, J * kTile, gamma, g2, a);
                if (nb - 1 - t == t) break;  // the middle block row of an odd nb
            }
    });
    const float exf = static_cast<float>(ex);
    parallel_for(nt, n, [&](std::size_t i) {
        double r[kAcc] = {};
        for (std::size_t g = 0; g < n_groups; ++g)
            for (std::size_t k = 0; k < kAcc; ++k) r[k] += acc[(g * np + i) * kAcc + k];
        const double ai = 1.0 / (1.0 - norm[i]);
        row_z[i] = r[0];
        S[i * 2] = r[1] + ai * Z(i, 0) * r[3];
        S[i * 2 + 1] = r[2] + ai * Z(i, 1) * r[3];
        const offset_t b = W_.row_begin(i);
        double at[4];
        attraction_row(p, i, W_.indices.data() + b, W_.values.data() + b, P_on_W_.data() + b,
                       static_cast<std::size_t>(W_.row_end(i) - b), exf, g2, want_loss, at);
        grad[i * 2] = at[0] + ai * Z(i, 0) * at[2];
        grad[i * 2 + 1] = at[1] + ai * Z(i, 1) * at[2];
        row_att[i] = want_loss ? at[3] - log_gamma * P_row_sum_[i] : 0.0;  // −Σ_j P_ij log Q_ij
    });
}

} // namespace nembed
