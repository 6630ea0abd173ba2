// Matrix-free Hessian products with grid-interpolated repulsion, and preconditioned block MINRES (matrix_free.hpp).
#include "nembed/sensitivity/matrix_free.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <string>

#include "nembed/core/error.hpp"
#include "nembed/core/interrupt.hpp"
#include "nembed/core/locality_order.hpp"
#include "nembed/core/log.hpp"
#include "nembed/core/parallel.hpp"
#include "kernel_terms.hpp"
#include "../core/isa_clones.hpp"

namespace nembed {
namespace {
using RowMajor = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Near share of the split: χ(D) = 1 − S(D / r_c²), S(s) = s³(10 − 15s + 6s²) (C² at s = 1, where χ reaches 0). A
// polynomial in D, hence in (dx, dy): the far kernel (1 − χ) C is as smooth as C itself and flat near d = 0.
double near_share(double D, double rc2) {
    if (D >= rc2) return 0.0;
    const double s = D / rc2;
    return 1.0 - s * s * s * (10.0 + s * (-15.0 + 6.0 * s));
}

// The exact part of the product for points [r0, r1) of the Hilbert order: o_r = Σ_q M_q (v_r − v_{idx[q]}) over m
// columns, V and O point-major (point r's 2m values at r·2m: first coordinate's m columns, then the second's). The
// coefficients are read once per pair and applied to all m columns (the loop the compiler vectorises); float64
// accumulation whatever the coefficients' type. Each point writes its own row: no dependence on the thread split.
template <class T>
inline void laplacian_rows_impl(std::size_t r0, std::size_t r1, const std::size_t* ptr, const std::uint32_t* idx,
                                const T* cf, const double* V, std::size_t m, double* O) {
    for (std::size_t r = r0; r < r1; ++r) {
        const double* vi0 = V + 2 * m * r;
        const double* vi1 = vi0 + m;
        double* o0 = O + 2 * m * r;
        double* o1 = o0 + m;
        for (std::size_t c = 0; c < 2 * m; ++c) o0[c] = 0.0;
        for (std::size_t q = ptr[r]; q < ptr[r + 1]; ++q) {
            const double m00 = static_cast<double>(cf[3 * q]), m01 = static_cast<double>(cf[3 * q + 1]),
                         m11 = static_cast<double>(cf[3 * q + 2]);
            const double* vj0 = V + 2 * m * std::size_t{idx[q]};
            const double* vj1 = vj0 + m;
            for (std::size_t c = 0; c < m; ++c) {
                const double x0 = vi0[c] - vj0[c], x1 = vi1[c] - vj1[c];
                o0[c] += m00 * x0 + m01 * x1;
                o1[c] += m01 * x0 + m11 * x1;
            }
        }
    }
}
NEMBED_ISA_CLONES void laplacian_rows(std::size_t r0, std::size_t r1, const std::size_t* ptr, const std::uint32_t* idx,
                                     const float* cf, const double* V, std::size_t m, double* O) {
    laplacian_rows_impl(r0, r1, ptr, idx, cf, V, m, O);
}
NEMBED_ISA_CLONES void laplacian_rows(std::size_t r0, std::size_t r1, const std::size_t* ptr, const std::uint32_t* idx,
                                     const double* cf, const double* V, std::size_t m, double* O) {
    laplacian_rows_impl(r0, r1, ptr, idx, cf, V, m, O);
}

// One pair of a point's row while it is assembled: neighbour (new index) and its coefficient in float64.
struct PairEntry {
    std::uint32_t j;
    double c00, c01, c11;
};
} // namespace

MatrixFreeHessian::MatrixFreeHessian(const TsneDerivatives& derivatives, const MatrixFreeOptions& options)
    : der_(derivatives), opt_(options), threads_(resolve_threads(derivatives.options().n_threads)) {
    const KlObjective& obj = der_.objective();
    require(std::isfinite(options.ints_in_interval) && options.ints_in_interval > 0.0,
            "sensitivity: matrix-free ints_in_interval must be > 0");
    {
        // The kernels the FFT repulsion can interpolate are the ones whose Hessian kernels are smooth too.
        const std::string why = make_fft_repulsion()->unsupported_reason(obj.kernel(), 2);
        require(why.empty(), "sensitivity: the matrix-free solver interpolates the repulsion on a grid, which does "
                             "not support this kernel: " + why);
    }
    require(std::isfinite(options.near_radius) && options.near_radius >= 0.0,
            "sensitivity: matrix-free near_radius must be >= 0");
    require(std::isfinite(options.far_width) && options.far_width >= 0.0,
            "sensitivity: matrix-free far_width must be >= 0");
    const bool split = options.near_radius > 0.0;
    const double rc2 = options.near_radius * options.near_radius;
    FftOptions fo;
    fo.ints_in_interval = !split ? options.ints_in_interval
                                 : options.far_width > 0.0 ? options.far_width : 0.5 * options.near_radius;
    fo.n_interpolation_points = options.n_interpolation_points;
    fo.min_num_intervals = options.min_num_intervals;
    fo.n_threads = threads_;
    const std::size_t n = der_.n_points();
    const Matrix<double>& Y = obj.Y();
    auto t0 = std::chrono::steady_clock::now();
    auto lap = [&t0] {
        const auto t1 = std::chrono::steady_clock::now();
        const double s = std::chrono::duration<double>(t1 - t0).count();
        t0 = t1;
        return s;
    };
    build_pairs(split ? rc2 : 0.0);
    timings_.build_pairs = lap();
    // Grids sampled on one worker each (a column's convolution is single-threaded; the block's columns run in
    // parallel in product()). Every grid holds the same kernels, so which worker runs a column does not matter.
    fo.n_threads = 1;
    for (int w = 0; w < threads_; ++w) {
        auto g = std::make_unique<GridConvolution2d>(Y.view(), fo);
        visit_kernel(obj.kernel(), [&](const auto& k) {
            // The grid's share of C: all of it, or (1 − χ) C with the split.
            auto c = [&](double dx, double dy, int a, int b) {
                const sensitivity_detail::PairTerms t = sensitivity_detail::terms(k, dx, dy);
                const double da = a == 0 ? dx : dy, db = b == 0 ? dx : dy;
                const double far = split ? 1.0 - near_share(dx * dx + dy * dy, rc2) : 1.0;
                return far * ((a == b ? t.f : 0.0) - 2.0 * t.g * da * db);
            };
            k00_ = g->add_kernel([&](double dx, double dy) { return c(dx, dy, 0, 0); });
            k01_ = g->add_kernel([&](double dx, double dy) { return c(dx, dy, 0, 1); });
            k11_ = g->add_kernel([&](double dx, double dy) { return c(dx, dy, 1, 1); });
        });
        grids_.push_back(std::move(g));
    }
    // A_i = Σ_j C(y_i − y_j): charge 1 against the three kernels.
    A_.resize(static_cast<Eigen::Index>(n), 3);
    RowMajor Ar(static_cast<Eigen::Index>(n), 3);
    const std::vector<double> ones(n, 1.0);
    grids_.front()->convolve({ones.data()}, {{0, k00_, 0, 1.0}, {1, k01_, 0, 1.0}, {2, k11_, 0, 1.0}},
                             {Ar.data(), Ar.data() + 1, Ar.data() + 2}, 1, 3);
    A_ = Ar;
    timings_.build_grid = lap();
    // Diagonal blocks: the exact part's row sums (build_pairs, in diag_ already) + the grid repulsion without its self
    // term C(0) = f(0) I (with the split the grid's share of it is 0) + the Z term.
    const double iz = 1.0 / obj.z(), fz = 16.0 / (obj.z() * obj.z());
    const std::vector<double>& F = obj.forces();
    visit_kernel(obj.kernel(), [&](const auto& k) {
        const double f0 = split ? 0.0 : sensitivity_detail::terms(k, 0.0, 0.0).f;
        parallel_for(threads_, n, [&](std::size_t i) {
            const auto r = static_cast<Eigen::Index>(i);
            diag_(r, 0) += -4.0 * iz * (A_(r, 0) - f0) - fz * F[2 * i] * F[2 * i];
            diag_(r, 1) += -4.0 * iz * A_(r, 1) - fz * F[2 * i] * F[2 * i + 1];
            diag_(r, 2) += -4.0 * iz * (A_(r, 2) - f0) - fz * F[2 * i + 1] * F[2 * i + 1];
        });
    });
}

Eigen::MatrixXd MatrixFreeHessian::product(const Eigen::MatrixXd& V) const {
    const KlObjective& obj = der_.objective();
    const std::size_t n = der_.n_points();
    require(static_cast<std::size_t>(V.rows()) == 2 * n, "hessian product: V must have 2N rows");
    const std::size_t m = static_cast<std::size_t>(V.cols());
    const RowMajor Vr = V;
    RowMajor out = RowMajor::Zero(static_cast<Eigen::Index>(2 * n), static_cast<Eigen::Index>(m));
    const double iz = 1.0 / obj.z(), fz = 16.0 / (obj.z() * obj.z());
    const std::vector<double>& F = obj.forces();
    // The exact part (attraction + near pairs) in the Hilbert order: gather V's points, one pass over the pair list
    // for the whole block, scatter back.
    auto t0 = std::chrono::steady_clock::now();
    {
        std::vector<double> Vp(2 * n * m), Op(2 * n * m);
        gather_rows(Vr.data(), order_, 2 * m, Vp.data(), threads_);
        const std::size_t chunks = (n + 255) / 256;
        parallel_for(threads_, chunks, [&](std::size_t ch) {
            const std::size_t r0 = ch * 256, r1 = std::min(n, r0 + 256);
            if (opt_.float_coefficients)
                laplacian_rows(r0, r1, pair_ptr_.data(), pair_idx_.data(), pair_f_.data(), Vp.data(), m, Op.data());
            else
                laplacian_rows(r0, r1, pair_ptr_.data(), pair_idx_.data(), pair_d_.data(), Vp.data(), m, Op.data());
        });
        scatter_rows(Op.data(), order_, 2 * m, out.data(), threads_);
    }
    const auto t1 = std::chrono::steady_clock::now();
    timings_.exact += std::chrono::duration<double>(t1 - t0).count();
    // Repulsion on the grid, one right-hand side at a time, the block's columns split over the workers (each with its
    // own grid): φ = Σ_j C(y_i − y_j) v_j. A column's result is computed by one worker alone: the same bits for any
    // thread count.
    parallelize(threads_, m, [&](int w, std::size_t cb, std::size_t ce) {
        GridConvolution2d& grid = *grids_[static_cast<std::size_t>(w)];
        std::vector<double> phi(2 * n);
        for (std::size_t c = cb; c < ce; ++c) {
            const double* v0 = Vr.data() + c;
            grid.convolve({v0, v0 + m}, {{0, k00_, 0, 1.0}, {0, k01_, 1, 1.0}, {1, k01_, 0, 1.0}, {1, k11_, 1, 1.0}},
                          {phi.data(), phi.data() + 1}, 2 * m, 2);
            double fv = 0.0;
            for (std::size_t q = 0; q < 2 * n; ++q) fv += F[q] * v0[q * m];
            for (std::size_t i = 0; i < n; ++i) {
                const double x0 = v0[2 * i * m], x1 = v0[(2 * i + 1) * m];
                const auto r = static_cast<Eigen::Index>(i);
                const double r0 = A_(r, 0) * x0 + A_(r, 1) * x1 - phi[2 * i];
                const double r1 = A_(r, 1) * x0 + A_(r, 2) * x1 - phi[2 * i + 1];
                out(static_cast<Eigen::Index>(2 * i), static_cast<Eigen::Index>(c)) += -4.0 * iz * r0 - fz * F[2 * i] * fv;
                out(static_cast<Eigen::Index>(2 * i + 1), static_cast<Eigen::Index>(c)) +=
                    -4.0 * iz * r1 - fz * F[2 * i + 1] * fv;
            }
        }
    });
    timings_.grid += std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    timings_.columns += m;
    return out;
}

void MatrixFreeHessian::build_pairs(double rc2) {
    const KlObjective& obj = der_.objective();
    const Matrix<double>& Y = obj.Y();
    const CsrMatrix<double>& P = obj.P();
    const std::size_t n = der_.n_points();
    require(n < (std::size_t{1} << 31), "sensitivity: the matrix-free solver indexes points with 31 bits");
    const double iz = 1.0 / obj.z();
    order_ = hilbert_order(Y.view());
    const std::vector<index_t> inv = inverse_permutation(order_);
    Matrix<double> Yp(n, 2);  // Y in the new order
    gather_rows(Y.data(), order_, 2, Yp.data(), threads_);
    // Cell lists of side r_c over the new order (split only): every pair closer than r_c lies in the same or an
    // adjacent cell.
    const bool split = rc2 > 0.0;
    const double rc = std::sqrt(rc2);
    std::size_t nc0 = 1, nc1 = 1;
    double lo0 = Yp(0, 0), lo1 = Yp(0, 1);
    std::vector<std::size_t> start, members;
    if (split) {
        double hi0 = lo0, hi1 = lo1;
        for (std::size_t i = 0; i < n; ++i) {
            lo0 = std::min(lo0, Yp(i, 0));
            hi0 = std::max(hi0, Yp(i, 0));
            lo1 = std::min(lo1, Yp(i, 1));
            hi1 = std::max(hi1, Yp(i, 1));
        }
        const double cells0 = std::floor((hi0 - lo0) / rc) + 1.0, cells1 = std::floor((hi1 - lo1) / rc) + 1.0;
        require(cells0 * cells1 <= 1e8,
                "sensitivity: near_radius is too small for the map's span (more than 1e8 cells)");
        nc0 = static_cast<std::size_t>(cells0);
        nc1 = static_cast<std::size_t>(cells1);
    }
    auto cell_of = [&](std::size_t i, std::size_t& a, std::size_t& b) {
        a = std::min(nc0 - 1, static_cast<std::size_t>((Yp(i, 0) - lo0) / rc));
        b = std::min(nc1 - 1, static_cast<std::size_t>((Yp(i, 1) - lo1) / rc));
    };
    if (split) {
        start.assign(nc0 * nc1 + 1, 0);
        members.resize(n);
        for (std::size_t i = 0; i < n; ++i) {
            std::size_t a, b;
            cell_of(i, a, b);
            ++start[a * nc1 + b + 1];
        }
        for (std::size_t c = 0; c < nc0 * nc1; ++c) start[c + 1] += start[c];
        std::vector<std::size_t> fill(start.begin(), start.end() - 1);
        for (std::size_t i = 0; i < n; ++i) {
            std::size_t a, b;
            cell_of(i, a, b);
            members[fill[a * nc1 + b]++] = i;
        }
    }
    // Row r of the exact part: its near pairs (−(4/Z) χC) and P's row of point order_[r] (the attraction), sorted by
    // neighbour and merged (a pair in both gets the sum, near part first). A function of Y and P alone.
    std::vector<std::size_t> near_count(n, 0);
    auto row = [&](const auto& k, std::size_t r, std::vector<PairEntry>& e) {
        e.clear();
        if (split) {
            std::size_t a, b;
            cell_of(r, a, b);
            for (std::size_t ca = a == 0 ? 0 : a - 1; ca <= std::min(nc0 - 1, a + 1); ++ca)
                for (std::size_t cb = b == 0 ? 0 : b - 1; cb <= std::min(nc1 - 1, b + 1); ++cb)
                    for (std::size_t q = start[ca * nc1 + cb]; q < start[ca * nc1 + cb + 1]; ++q) {
                        const std::size_t j = members[q];
                        if (j == r) continue;
                        const double d0 = Yp(r, 0) - Yp(j, 0), d1 = Yp(r, 1) - Yp(j, 1);
                        const double D = d0 * d0 + d1 * d1;
                        if (D >= rc2) continue;
                        const sensitivity_detail::PairTerms t = sensitivity_detail::terms(k, d0, d1);
                        const double w = -4.0 * iz * near_share(D, rc2);
                        e.push_back({static_cast<std::uint32_t>(j), w * (t.f - 2.0 * t.g * d0 * d0),
                                     w * (-2.0 * t.g * d0 * d1), w * (t.f - 2.0 * t.g * d1 * d1)});
                    }
        }
        near_count[r] = e.size();
        const std::size_t i = static_cast<std::size_t>(order_[r]);
        for (offset_t q = P.indptr[i]; q < P.indptr[i + 1]; ++q) {
            const std::size_t j = static_cast<std::size_t>(P.indices[q]);
            const double d0 = Y(i, 0) - Y(j, 0), d1 = Y(i, 1) - Y(j, 1);
            const sensitivity_detail::PairTerms t = sensitivity_detail::terms(k, d0, d1);
            const double al = 4.0 * P.values[q] * t.a, be = -8.0 * P.values[q] * t.l2;
            e.push_back({static_cast<std::uint32_t>(inv[j]), al + be * d0 * d0, be * d0 * d1, al + be * d1 * d1});
        }
        // Stable: a near entry stays before the attraction entry of the same pair.
        std::stable_sort(e.begin(), e.end(), [](const PairEntry& x, const PairEntry& y) { return x.j < y.j; });
        std::size_t w = 0;
        for (std::size_t q = 0; q < e.size(); ++q) {
            if (w > 0 && e[w - 1].j == e[q].j) {
                e[w - 1].c00 += e[q].c00;
                e[w - 1].c01 += e[q].c01;
                e[w - 1].c11 += e[q].c11;
            } else {
                e[w++] = e[q];
            }
        }
        e.resize(w);
    };
    // Two passes: the row lengths, then each row into its own range.
    pair_ptr_.assign(n + 1, 0);
    visit_kernel(obj.kernel(), [&](const auto& k) {
        parallelize(threads_, n, [&](int, std::size_t b, std::size_t e) {
            std::vector<PairEntry> buf;
            for (std::size_t r = b; r < e; ++r) {
                row(k, r, buf);
                pair_ptr_[r + 1] = buf.size();
            }
        });
    });
    for (std::size_t r = 0; r < n; ++r) pair_ptr_[r + 1] += pair_ptr_[r];
    near_count_ = 0;
    for (std::size_t c : near_count) near_count_ += c;
    const std::size_t total = pair_ptr_[n];
    pair_idx_.resize(total);
    (opt_.float_coefficients ? pair_f_.resize(3 * total) : pair_d_.resize(3 * total));
    diag_ = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(n), 3);
    visit_kernel(obj.kernel(), [&](const auto& k) {
        parallelize(threads_, n, [&](int, std::size_t b, std::size_t e) {
            std::vector<PairEntry> buf;
            for (std::size_t r = b; r < e; ++r) {
                row(k, r, buf);
                double s00 = 0.0, s01 = 0.0, s11 = 0.0;
                std::size_t q = pair_ptr_[r];
                for (const PairEntry& x : buf) {
                    pair_idx_[q] = x.j;
                    if (opt_.float_coefficients) {
                        // The diagonal sums what the product applies: the rounded coefficients.
                        const float f00 = static_cast<float>(x.c00), f01 = static_cast<float>(x.c01),
                                    f11 = static_cast<float>(x.c11);
                        pair_f_[3 * q] = f00;
                        pair_f_[3 * q + 1] = f01;
                        pair_f_[3 * q + 2] = f11;
                        s00 += f00;
                        s01 += f01;
                        s11 += f11;
                    } else {
                        pair_d_[3 * q] = x.c00;
                        pair_d_[3 * q + 1] = x.c01;
                        pair_d_[3 * q + 2] = x.c11;
                        s00 += x.c00;
                        s01 += x.c01;
                        s11 += x.c11;
                    }
                    ++q;
                }
                const auto i = static_cast<Eigen::Index>(order_[r]);
                diag_(i, 0) = s00;
                diag_(i, 1) = s01;
                diag_(i, 2) = s11;
            }
        });
    });
}

std::vector<std::uint32_t> MatrixFreeHessian::aggregates(std::size_t target, std::size_t& count) const {
    const std::size_t n = der_.n_points();
    require(target >= 1, "sensitivity: coarse_points must be >= 1");
    const Matrix<double>& Y = der_.objective().Y();
    const double rc2 = opt_.near_radius * opt_.near_radius;
    // Components (in the Hilbert numbering) of the pairs closer than r_c, by union–find with the smaller root kept:
    // sequential, so the labels depend on Y alone.
    std::vector<std::uint32_t> parent(n);
    for (std::size_t r = 0; r < n; ++r) parent[r] = static_cast<std::uint32_t>(r);
    auto find = [&](std::uint32_t x) {
        while (parent[x] != x) x = parent[x] = parent[parent[x]];
        return x;
    };
    if (rc2 > 0.0) {
        for (std::size_t r = 0; r < n; ++r) {
            const std::size_t i = static_cast<std::size_t>(order_[r]);
            for (std::size_t q = pair_ptr_[r]; q < pair_ptr_[r + 1]; ++q) {
                const std::size_t j = static_cast<std::size_t>(order_[pair_idx_[q]]);
                const double d0 = Y(i, 0) - Y(j, 0), d1 = Y(i, 1) - Y(j, 1);
                if (d0 * d0 + d1 * d1 >= rc2) continue;  // an attraction-only pair
                const std::uint32_t a = find(static_cast<std::uint32_t>(r)), b = find(pair_idx_[q]);
                if (a != b) parent[std::max(a, b)] = std::min(a, b);
            }
        }
    } else {
        for (std::size_t r = 0; r < n; ++r) parent[r] = 0;
    }
    std::vector<std::size_t> size(n, 0);
    for (std::size_t r = 0; r < n; ++r) ++size[find(static_cast<std::uint32_t>(r))];
    // Walk the Hilbert order; every large component (and the pool of the small ones) fills its own current aggregate
    // and opens a new one when it holds `target` points.
    const std::size_t small = std::max<std::size_t>(1, target / 2);
    std::vector<std::uint32_t> out(n), current(n, std::numeric_limits<std::uint32_t>::max()), fill(n, 0);
    std::uint32_t next = 0;
    for (std::size_t r = 0; r < n; ++r) {
        const std::uint32_t root = find(static_cast<std::uint32_t>(r));
        // Slot n − 1 is the pool's: a root is its component's smallest index, so root n − 1 is a single point, pooled
        // whenever pooling happens (small ≥ 2).
        const std::uint32_t slot = size[root] < small ? static_cast<std::uint32_t>(n - 1) : root;
        if (current[slot] == std::numeric_limits<std::uint32_t>::max() || fill[slot] >= target) {
            current[slot] = next++;
            fill[slot] = 0;
        }
        ++fill[slot];
        out[static_cast<std::size_t>(order_[r])] = current[slot];
    }
    count = next;
    return out;
}

Eigen::MatrixXd preconditioned_minres(const std::function<Eigen::MatrixXd(const Eigen::MatrixXd&)>& A,
                                      const std::function<Eigen::MatrixXd(const Eigen::MatrixXd&)>& M_inverse,
                                      const Eigen::MatrixXd& B, double tolerance, int max_iter, double& residual,
                                      int& iterations, int threads) {
    const Eigen::Index n = B.rows(), m = B.cols();
    Eigen::MatrixXd X = Eigen::MatrixXd::Zero(n, m);
    Eigen::MatrixXd r1 = B, r2 = B, Y = M_inverse(B), W = Eigen::MatrixXd::Zero(n, m), W2 = W;
    std::vector<double> beta1(static_cast<std::size_t>(m)), beta(beta1), oldb(beta1), dbar(beta1), epsln(beta1),
        phibar(beta1), cs(beta1), sn(beta1);
    std::vector<char> active(static_cast<std::size_t>(m), 1);
    for (Eigen::Index j = 0; j < m; ++j) {
        const auto s = static_cast<std::size_t>(j);
        const double b2 = B.col(j).dot(Y.col(j));
        require(b2 >= 0.0 && std::isfinite(b2), "sensitivity: the MINRES preconditioner is not positive definite");
        beta1[s] = beta[s] = phibar[s] = std::sqrt(b2);
        oldb[s] = dbar[s] = epsln[s] = sn[s] = 0.0;
        cs[s] = -1.0;
        if (beta1[s] == 0.0) active[s] = 0;
    }
    int it = 0;
    for (; it < max_iter; ++it) {
        std::vector<Eigen::Index> cols;
        for (Eigen::Index j = 0; j < m; ++j)
            if (active[static_cast<std::size_t>(j)]) cols.push_back(j);
        if (cols.empty()) break;
        if (interrupt_requested())
            throw Interrupted("sensitivity: MINRES interrupted at iteration " + std::to_string(it));
        const auto w = static_cast<Eigen::Index>(cols.size());
        if (it % 10 == 0) {  // progress for long solves (debug: silent unless a log sink asks for it)
            double worst = 0.0;
            for (Eigen::Index j : cols)
                worst = std::max(worst, phibar[static_cast<std::size_t>(j)] / beta1[static_cast<std::size_t>(j)]);
            log(LogLevel::debug, "MINRES iteration " + std::to_string(it) + ": " + std::to_string(w) +
                                     " active columns, largest relative residual " + std::to_string(worst));
        }
        // The per-column vector work runs over the columns in parallel: each column is touched by one worker only.
        Eigen::MatrixXd Vb(n, w);
        parallel_for(threads, static_cast<std::size_t>(w), [&](std::size_t sq) {
            const auto q = static_cast<Eigen::Index>(sq);
            const Eigen::Index j = cols[sq];
            Vb.col(q) = Y.col(j) / beta[static_cast<std::size_t>(j)];
        });
        Eigen::MatrixXd Yb = A(Vb);
        std::vector<double> alfa(static_cast<std::size_t>(w));
        parallel_for(threads, static_cast<std::size_t>(w), [&](std::size_t sq) {
            const auto q = static_cast<Eigen::Index>(sq);
            const Eigen::Index j = cols[sq];
            const auto s = static_cast<std::size_t>(j);
            if (it >= 1) Yb.col(q) -= (beta[s] / oldb[s]) * r1.col(j);
            alfa[static_cast<std::size_t>(q)] = Vb.col(q).dot(Yb.col(q));
            Yb.col(q) -= (alfa[static_cast<std::size_t>(q)] / beta[s]) * r2.col(j);
            r1.col(j) = r2.col(j);
            r2.col(j) = Yb.col(q);
        });
        const Eigen::MatrixXd MY = M_inverse(Yb);
        parallel_for(threads, static_cast<std::size_t>(w), [&](std::size_t sq) {
            const auto q = static_cast<Eigen::Index>(sq);
            const Eigen::Index j = cols[sq];
            const auto s = static_cast<std::size_t>(j);
            Y.col(j) = MY.col(q);
            oldb[s] = beta[s];
            const double b2 = Yb.col(q).dot(MY.col(q));
            require(b2 >= 0.0 && std::isfinite(b2), "sensitivity: the MINRES preconditioner is not positive definite");
            beta[s] = std::sqrt(b2);
            const double oldeps = epsln[s];
            const double delta = cs[s] * dbar[s] + sn[s] * alfa[static_cast<std::size_t>(q)];
            const double gbar = sn[s] * dbar[s] - cs[s] * alfa[static_cast<std::size_t>(q)];
            epsln[s] = sn[s] * beta[s];
            dbar[s] = -cs[s] * beta[s];
            const double gamma = std::max(std::hypot(gbar, beta[s]), std::numeric_limits<double>::min());
            cs[s] = gbar / gamma;
            sn[s] = beta[s] / gamma;
            const double phi = cs[s] * phibar[s];
            phibar[s] = sn[s] * phibar[s];
            // w ← (v − ε_old w₁ − δ w₂)/γ with w₁, w₂ the two previous directions.
            Eigen::VectorXd wn = (Vb.col(q) - oldeps * W2.col(j) - delta * W.col(j)) / gamma;
            W2.col(j) = W.col(j);
            W.col(j) = wn;
            X.col(j) += phi * wn;
            if (phibar[s] <= tolerance * beta1[s] || beta[s] == 0.0) active[s] = 0;
        });
    }
    residual = 0.0;
    for (Eigen::Index j = 0; j < m; ++j) {
        const auto s = static_cast<std::size_t>(j);
        if (beta1[s] > 0.0) residual = std::max(residual, phibar[s] / beta1[s]);
    }
    iterations = it;
    return X;
}

} // namespace nembed
