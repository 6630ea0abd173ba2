// TorchDR's affinities (affinity/entropic.hpp, symmetric_entropic.hpp, sinkhorn.hpp, normalized.hpp,
// self_tuning.hpp, umap_affinity.hpp, cost.hpp): their defining constraints, TorchDR's formulas recomputed densely
// here, equality with TorchDR 0.5 on a committed fixture (tests/data/torchdr/affinities.npz, written by
// tests/data/torchdr/make_affinity_fixtures.py), offsets, thread counts and bad parameters.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "nembed/affinity/cost.hpp"
#include "nembed/affinity/entropic.hpp"
#include "nembed/affinity/normalized.hpp"
#include "nembed/affinity/self_tuning.hpp"
#include "nembed/affinity/sinkhorn.hpp"
#include "nembed/affinity/symmetric_entropic.hpp"
#include "nembed/affinity/umap_affinity.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/random.hpp"
#include "nembed/io/npz.hpp"

using namespace nembed;

namespace {

const std::string kFixture = std::string(NEMBED_TEST_DATA_DIR) + "/torchdr/affinities.npz";

Matrix<double> fixture(const std::string& name) {
    NdArray a = read_npz(kFixture, name);
    Matrix<double> m(a.ndim() > 0 ? a.shape.at(0) : 1, a.ndim() > 1 ? a.shape.at(1) : 1);
    a.copy_to(m.data());
    return m;
}

Matrix<float> fixture_x() {
    NdArray a = read_npz(kFixture, "X");
    Matrix<float> m(a.shape.at(0), a.shape.at(1));
    a.copy_to(m.data());
    return m;
}

// Random data on a grid of 1/64, exact in float32 also after adding 1e6 (its spacing there is 1/16: scale 4).
Matrix<float> grid_data(std::size_t n, std::size_t d, std::uint64_t seed, double offset = 0.0) {
    Matrix<float> x(n, d);
    Rng rng(seed);
    for (std::size_t i = 0; i < x.size(); ++i)
        x.data()[i] = static_cast<float>(std::round(rng.normal() * 16.0) / 4.0 + offset);
    return x;
}

Matrix<double> to_dense(const CsrMatrix<double>& P) {
    Matrix<double> D(P.n_rows, P.n_cols);
    for (std::size_t i = 0; i < P.n_rows; ++i)
        for (offset_t p = P.indptr[i]; p < P.indptr[i + 1]; ++p) D(i, static_cast<std::size_t>(P.indices[p])) += P.values[p];
    return D;
}

double max_abs_diff(const Matrix<double>& a, const Matrix<double>& b) {
    EXPECT_EQ(a.rows(), b.rows());
    EXPECT_EQ(a.cols(), b.cols());
    double m = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const double x = a.data()[i], y = b.data()[i];
        if (x == y) continue;  // equal infinities
        m = std::max(m, std::abs(x - y));
    }
    return m;
}

double max_value(const Matrix<double>& a) {
    double m = 0.0;
    for (double v : a.storage()) m = std::max(m, std::abs(v));
    return m;
}

// TorchDR's cost of a pair, written out here.
double cost(const Matrix<float>& X, std::size_t i, std::size_t j, const std::string& metric) {
    double s = 0.0;
    for (std::size_t d = 0; d < X.cols(); ++d) {
        const double a = X(i, d), b = X(j, d);
        if (metric == "sqeuclidean" || metric == "euclidean") s += (a - b) * (a - b);
        if (metric == "manhattan") s += std::abs(a - b);
        if (metric == "angular") s -= a * b;
    }
    return metric == "euclidean" ? std::sqrt(s) : s;
}

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) { return a == b; }
bool same_bits(const Matrix<double>& a, const Matrix<double>& b) { return a.storage() == b.storage(); }

} // namespace

// ------------------------------------------------------------------------------------------------ costs

TEST(TorchdrCost, MetricsMatchTheirDefinitionsAndAreTranslationRobust) {
    const Matrix<float> X = grid_data(25, 3, 1);
    const Matrix<float> Xo = grid_data(25, 3, 1, 1e6);
    for (std::string name : {"sqeuclidean", "euclidean", "manhattan", "angular"}) {
        const CostMetric m = parse_cost_metric(name);
        EXPECT_EQ(to_string(m), name);
        const Matrix<double> C = dense_cost(X.view(), m, true, 2);
        for (std::size_t i = 0; i < 25; ++i) {
            EXPECT_TRUE(std::isinf(C(i, i)));
            for (std::size_t j = 0; j < 25; ++j)
                if (i != j) {
                    EXPECT_DOUBLE_EQ(C(i, j), cost(X, i, j, name)) << name;
                }
        }
        if (m == CostMetric::angular) continue;  // −⟨x, y⟩ is not translation invariant by definition
        const Matrix<double> Co = dense_cost(Xo.view(), m, true, 1);
        EXPECT_EQ(max_abs_diff(C, Co), 0.0) << name << ": an offset of 1e6 must not change the cost";
        // The sparse cost finds the same neighbours with the offset.
        const SparseCost a = knn_cost(X.view(), 6, m), b = knn_cost(Xo.view(), 6, m);
        EXPECT_EQ(a.indices, b.indices) << name;
        EXPECT_EQ(a.costs, b.costs) << name;
    }
    EXPECT_THROW(parse_cost_metric("cosine"), InvalidArgument);
    try {
        parse_cost_metric("chebyshev");
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("metric"), std::string::npos);
    }
}

TEST(TorchdrCost, KnnCostIsTheRowsSmallestCostsForEveryMetric) {
    const Matrix<float> X = grid_data(60, 4, 2);
    for (std::string name : {"sqeuclidean", "euclidean", "manhattan", "angular"}) {
        const CostMetric m = parse_cost_metric(name);
        for (bool zero_diag : {true, false}) {
            CostKnnOptions o;
            o.zero_diag = zero_diag;
            const SparseCost s = knn_cost(X.view(), 7, m, o);
            o.n_threads = 3;
            const SparseCost s3 = knn_cost(X.view(), 7, m, o);
            EXPECT_EQ(s.indices, s3.indices);
            EXPECT_TRUE(same_bits(s.costs, s3.costs));
            for (std::size_t i = 0; i < 60; ++i) {
                std::vector<std::pair<double, index_t>> row;
                for (std::size_t j = 0; j < 60; ++j)
                    if (!zero_diag || j != i) row.push_back({cost(X, i, j, name), index_t(j)});
                std::sort(row.begin(), row.end());
                for (std::size_t t = 0; t < 7; ++t) {
                    EXPECT_EQ(s.row_indices(i)[t], row[t].second) << name << " row " << i;
                    EXPECT_DOUBLE_EQ(s.row_costs(i)[t], row[t].first);
                }
            }
        }
    }
    EXPECT_THROW(knn_cost(X.view(), 60, CostMetric::sqeuclidean), InvalidArgument);  // k > N − 1
    EXPECT_THROW(knn_cost(X.view(), 0, CostMetric::sqeuclidean), InvalidArgument);
}

// ------------------------------------------------------------------------------------------------ entropic

TEST(TorchdrEntropic, RowsHaveTheTargetEntropyAndTorchdrsForm) {
    const Matrix<float> X = grid_data(80, 5, 3);
    EntropicAffinityOptions o;
    o.perplexity = 10;
    EntropicAffinity ea(o);
    const CsrMatrix<double> P = ea(X.view());
    EXPECT_EQ(entropic_neighbors(80, 10), 30u);
    EXPECT_NEAR(P.sum(), 1.0, 1e-12);
    for (std::size_t i = 0; i < 80; ++i) {
        ASSERT_EQ(P.row_end(i) - P.row_begin(i), 30);
        double s = 0.0, h = 0.0;
        for (offset_t p = P.row_begin(i); p < P.row_end(i); ++p) {
            const double q = P.values[p] * 80;
            s += q;
            h -= q * std::log(q);
            // P_ij = exp(−C_ij/ε_i)/Σ_l exp(−C_il/ε_i)/N over the kept entries: ratios against the first entry.
            const std::size_t j = static_cast<std::size_t>(P.indices[p]);
            const std::size_t j0 = static_cast<std::size_t>(P.indices[P.row_begin(i)]);
            EXPECT_NEAR(std::log(P.values[p] / P.values[P.row_begin(i)]),
                        -(cost(X, i, j, "sqeuclidean") - cost(X, i, j0, "sqeuclidean")) / ea.eps()[i], 1e-9);
        }
        EXPECT_NEAR(s, 1.0, 1e-12);
        EXPECT_NEAR(h, std::log(10.0), 1e-6) << "row " << i;
        // The kept entries are the 30 smallest costs: every other point costs at least as much.
        double kept_max = 0.0;
        for (offset_t p = P.row_begin(i); p < P.row_end(i); ++p)
            kept_max = std::max(kept_max, cost(X, i, std::size_t(P.indices[p]), "sqeuclidean"));
        for (std::size_t j = 0; j < 80; ++j)
            if (j != i && P.at(i, index_t(j)) == 0.0) {
                EXPECT_GE(cost(X, i, j, "sqeuclidean"), kept_max);
            }
    }
}

TEST(TorchdrEntropic, TorchdrsPerplexityRuleAndDenseMode) {
    EXPECT_EQ(entropic_perplexity(40, 2.5), 2.0);   // truncated
    EXPECT_EQ(entropic_perplexity(40, 100), 38.0);  // clamped to N − 2
    EXPECT_EQ(entropic_perplexity(40, 1.0), 2.0);
    EXPECT_EQ(entropic_neighbors(40, 2.5), 6u);
    EXPECT_EQ(entropic_neighbors(40, 30), 38u);
    EXPECT_THROW(entropic_perplexity(40, 0.0), InvalidArgument);
    EXPECT_THROW(entropic_perplexity(40, -3.0), InvalidArgument);
    EXPECT_THROW(entropic_perplexity(40, std::nan("")), InvalidArgument);
    EXPECT_THROW(entropic_perplexity(3, 2.0), InvalidArgument);

    const Matrix<float> X = grid_data(30, 3, 4);
    EntropicAffinityOptions o;
    o.perplexity = 5;
    o.sparsity = false;
    const CsrMatrix<double> P = EntropicAffinity(o)(X.view());
    for (std::size_t i = 0; i < 30; ++i) {
        EXPECT_EQ(P.row_end(i) - P.row_begin(i), 29);
        EXPECT_EQ(P.at(i, index_t(i)), 0.0);
    }
    o.zero_diag = false;  // the point itself is a candidate, with cost 0
    const CsrMatrix<double> Pd = EntropicAffinity(o)(X.view());
    for (std::size_t i = 0; i < 30; ++i) EXPECT_GT(Pd.at(i, index_t(i)), 0.0);

    EntropicAffinityOptions bad;
    bad.max_iter = 0;
    EXPECT_THROW(EntropicAffinity{bad}, InvalidArgument);
    bad = {};
    bad.perplexity = -1;
    EXPECT_THROW(EntropicAffinity{bad}, InvalidArgument);
}

TEST(TorchdrEntropic, MatchesTorchdr) {
    const Matrix<float> X = fixture_x();
    for (int perp : {5, 10}) {
        EntropicAffinityOptions o;
        o.perplexity = perp;
        const Matrix<double> P = to_dense(EntropicAffinity(o)(X.view()));
        const Matrix<double> ref = fixture("ea_perp" + std::to_string(perp));
        // Both roots meet |H − log ξ| < 1e-6, by different searches: a relative difference of that order.
        EXPECT_LT(max_abs_diff(P, ref), 1e-5 * max_value(ref)) << perp;
    }
    EntropicAffinityOptions o;
    o.perplexity = 5;
    o.sparsity = false;
    o.metric = CostMetric::manhattan;
    const Matrix<double> ref = fixture("ea_dense_manhattan");
    EXPECT_LT(max_abs_diff(to_dense(EntropicAffinity(o)(X.view())), ref), 1e-5 * max_value(ref));
}

TEST(TorchdrEntropic, OffsetAndThreadCountDoNotChangeTheResult) {
    const Matrix<float> X = grid_data(120, 4, 5), Xo = grid_data(120, 4, 5, 1e6);
    EntropicAffinityOptions o;
    o.perplexity = 12;
    const CsrMatrix<double> a = EntropicAffinity(o)(X.view());
    o.n_threads = 2;
    const CsrMatrix<double> b = EntropicAffinity(o)(X.view());
    const CsrMatrix<double> c = EntropicAffinity(o)(Xo.view());
    EXPECT_EQ(a.indices, b.indices);
    EXPECT_TRUE(same_bits(a.values, b.values));
    EXPECT_EQ(a.indices, c.indices);
    EXPECT_TRUE(same_bits(a.values, c.values));
}

// ------------------------------------------------------------------------------------------------ symmetric entropic

TEST(TorchdrSymmetricEntropic, ConstraintsAndFormulaHold) {
    const Matrix<float> X = fixture_x();
    const std::size_t n = X.rows();
    // TorchDR's defaults, and ε optimised directly (a smaller rate) with the diagonal kept (TSNEkhorn's setting).
    for (bool eps_square : {true, false}) {
        SymmetricEntropicAffinityOptions o;
        o.perplexity = eps_square ? 5 : 8;
        o.eps_square = eps_square;
        o.lr = eps_square ? 0.1 : 0.05;
        o.zero_diag = eps_square;
        o.max_iter = 3000;
        SymmetricEntropicAffinity sea(o);
        const Matrix<double> P = sea(X.view());
        ASSERT_LT(sea.n_iter(), o.max_iter - 1) << "did not converge";
        for (std::size_t i = 0; i < n; ++i) {
            double s = 0.0, h = 0.0;
            for (std::size_t j = 0; j < n; ++j) {
                EXPECT_DOUBLE_EQ(P(i, j), P(j, i));
                const double q = P(i, j) * double(n);
                s += q;
                if (q > 0) h -= q * (std::log(q) - 1.0);
                if (i == j && o.zero_diag) {
                    EXPECT_EQ(P(i, j), 0.0);
                    continue;
                }
                const double ei = eps_square ? sea.eps()[i] * sea.eps()[i] : sea.eps()[i];
                const double ej = eps_square ? sea.eps()[j] * sea.eps()[j] : sea.eps()[j];
                const double expected = (sea.mu()[i] + sea.mu()[j] - 2 * cost(X, i, j, "sqeuclidean")) / (ei + ej);
                // The logits are float32 (as TorchDR's on float32 data): a few ulp of the terms before the
                // division, plus the float exp's 2 ulp.
                const double scale = (std::abs(sea.mu()[i]) + std::abs(sea.mu()[j]) + 2 * cost(X, i, j, "sqeuclidean")) / (ei + ej);
                if (q > 0) {
                    EXPECT_NEAR(std::log(q), expected, 5e-7 * (scale + 1.0));
                }
            }
            // Converged: every component of both gradients is below tol for the returned matrix.
            EXPECT_LT(std::abs(s - 1.0), o.tol) << "row " << i;
            const double g_eps = (h - std::log(o.perplexity) - 1.0) * (eps_square ? 2.0 * sea.eps()[i] : 1.0);
            EXPECT_LT(std::abs(g_eps), o.tol) << "row " << i;
        }
        // log = true is the log of the same matrix.
        SymmetricEntropicAffinity sea2(o);
        const Matrix<double> L = sea2(X.view(), true);
        for (std::size_t i = 0; i < P.size(); ++i) {
            if (P.data()[i] > 0) {
                EXPECT_NEAR(std::exp(L.data()[i]), P.data()[i], 2.4e-7 * P.data()[i]);  // float exp: < 2 ulp
            }
        }
    }
}

TEST(TorchdrSymmetricEntropic, MatchesTorchdr) {
    const Matrix<float> X = fixture_x();
    SymmetricEntropicAffinityOptions o;
    o.perplexity = 5;
    SymmetricEntropicAffinity sea(o);
    const Matrix<double> P = sea(X.view());
    // The fixture is TorchDR in float64; nembed's logits are float32 (TorchDR's own precision on float32 data), so
    // the stopping step ‖g‖ < tol may move by a step or two and the converged matrices agree to float32's
    // accuracy amplified by the ascent (1e-5 relative), no longer to 1e-9.
    EXPECT_NEAR(sea.n_iter(), static_cast<int>(fixture("sea_perp5_n_iter")(0, 0)), 3);
    const Matrix<double> ref = fixture("sea_perp5");
    EXPECT_LT(max_abs_diff(P, ref), 5e-5 * max_value(ref));

    o.perplexity = 8;
    o.eps_square = false;
    o.lr = 0.05;
    o.zero_diag = false;
    const Matrix<double> ref2 = fixture("sea_perp8_noeps2");
    EXPECT_LT(max_abs_diff(SymmetricEntropicAffinity(o)(X.view()), ref2), 2e-6 * max_value(ref2));
}

TEST(TorchdrSymmetricEntropic, ThreadsAndBadParameters) {
    const Matrix<float> X = grid_data(50, 3, 8);
    SymmetricEntropicAffinityOptions o;
    o.perplexity = 7;
    const Matrix<double> a = SymmetricEntropicAffinity(o)(X.view());
    o.n_threads = 2;
    EXPECT_TRUE(same_bits(a, SymmetricEntropicAffinity(o)(X.view())));
    o.n_threads = 3;  // 50 rows: uneven splits, rows not a multiple of the 16-lane blocks
    EXPECT_TRUE(same_bits(a, SymmetricEntropicAffinity(o)(X.view())));

    o.perplexity = 49;  // >= N − 1
    EXPECT_THROW(SymmetricEntropicAffinity{o}(X.view()), InvalidArgument);
    o.perplexity = 1;
    EXPECT_THROW(SymmetricEntropicAffinity{o}(X.view()), InvalidArgument);
    SymmetricEntropicAffinityOptions bad;
    bad.lr = -0.1;
    EXPECT_THROW(SymmetricEntropicAffinity{bad}, InvalidArgument);
    bad = {};
    bad.optimizer = OptimizerOptions::Kind::gains;
    EXPECT_THROW(SymmetricEntropicAffinity{bad}, InvalidArgument);
}

// ------------------------------------------------------------------------------------------------ sinkhorn

TEST(TorchdrSinkhorn, DoublyStochasticSymmetricAndWarmStarted) {
    const Matrix<float> X = fixture_x();
    const std::size_t n = X.rows();
    for (auto kernel : {SinkhornBaseKernel::gaussian, SinkhornBaseKernel::student}) {
        SinkhornAffinityOptions o;
        o.base_kernel = kernel;
        o.eps = 2.0;
        SinkhornAffinity sk(o);
        const Matrix<double> L = sk.log_affinity(X.view());
        ASSERT_LT(sk.n_iter(), o.max_iter - 1);
        for (std::size_t i = 0; i < n; ++i) {
            double s = 0.0;
            for (std::size_t j = 0; j < n; ++j) {
                EXPECT_DOUBLE_EQ(L(i, j), L(j, i));
                if (i == j) {  // left out; the Student kernel keeps TorchDR's C_ii = 1e12
                    if (kernel == SinkhornBaseKernel::gaussian) {
                        EXPECT_TRUE(std::isinf(L(i, j)) && L(i, j) < 0);
                        continue;
                    }
                    EXPECT_NEAR(L(i, i), 2 * sk.dual()[i] - std::log1p(1e12) / 2.0 - std::log(double(n)), 1e-12);
                }
                s += std::exp(L(i, j)) * double(n);
                double c = i == j ? 1e12 : cost(X, i, j, "sqeuclidean");
                if (kernel == SinkhornBaseKernel::student) c = std::log1p(c);
                EXPECT_NEAR(L(i, j), sk.dual()[i] + sk.dual()[j] - c / 2.0 - std::log(double(n)), 1e-12);
            }
            // The stopping rule bounds ‖f − r‖ < tol; the row sum is exp(f_i − r_i) = 1 + O(tol).
            EXPECT_NEAR(s, 1.0, 2e-5) << "row " << i;
        }
        // Warm start from the converged dual: one step and the same matrix.
        const std::vector<double> f = sk.dual();
        const Matrix<double> L2 = sk.log_affinity(X.view(), f);
        EXPECT_EQ(sk.n_iter(), 0);
        EXPECT_LT(max_abs_diff(L, L2), 1e-5);
    }
}

TEST(TorchdrSinkhorn, MatchesTorchdr) {
    const Matrix<float> X = fixture_x();
    SinkhornAffinityOptions o;
    o.eps = 2.0;
    const Matrix<double> ref = fixture("sinkhorn_eps2");
    EXPECT_LT(max_abs_diff(SinkhornAffinity(o)(X.view()), ref), 1e-9 * max_value(ref));  // the same iteration

    // TSNEkhorn's affinity_out: 5 Student iterations, then 5 more warm-started on moved points.
    o = {};
    o.base_kernel = SinkhornBaseKernel::student;
    o.max_iter = 5;
    SinkhornAffinity sk(o);
    const Matrix<double> a = sk(X.view());
    const Matrix<double> ref5 = fixture("sinkhorn_student_5");
    EXPECT_LT(max_abs_diff(a, ref5), 1e-9 * max_value(ref5));
    Matrix<double> Y(X.rows(), X.cols());
    for (std::size_t i = 0; i < X.size(); ++i) Y.data()[i] = 1.5 * X.data()[i];
    const std::vector<double> f = sk.dual();
    const Matrix<double> b = sk(Y.view(), f);
    const Matrix<double> ref5w = fixture("sinkhorn_student_5_warm");
    EXPECT_LT(max_abs_diff(b, ref5w), 1e-9 * max_value(ref5w));
}

TEST(TorchdrSinkhorn, ThreadsAndBadParameters) {
    const Matrix<float> X = grid_data(50, 3, 10);
    SinkhornAffinityOptions o;
    const Matrix<double> a = SinkhornAffinity(o)(X.view());
    o.n_threads = 2;
    EXPECT_TRUE(same_bits(a, SinkhornAffinity(o)(X.view())));
    SinkhornAffinityOptions bad;
    bad.eps = -1;
    EXPECT_THROW(SinkhornAffinity{bad}, InvalidArgument);
    bad = {};
    bad.eps = 0;
    EXPECT_THROW(SinkhornAffinity{bad}, InvalidArgument);
    bad = {};
    bad.tol = 0;
    EXPECT_THROW(SinkhornAffinity{bad}, InvalidArgument);
    EXPECT_THROW(parse_sinkhorn_base_kernel("laplace"), InvalidArgument);
    std::vector<double> wrong(3, 0.0);
    EXPECT_THROW(SinkhornAffinity()(X.view(), wrong), InvalidArgument);
}

// ------------------------------------------------------------------------------------------------ normalised kernels

namespace {
// TorchDR's normalisation of a dense log-affinity, written out: (0, 1) total, 1 rows (÷ N), 0 columns (÷ N).
Matrix<double> normalise(Matrix<double> A, NormalizationDim dim, bool divide_n) {
    const std::size_t n = A.rows();
    const double N = divide_n ? double(n) : 1.0;
    if (dim == NormalizationDim::both) {
        double s = 0;
        for (double v : A.storage()) s += v;
        for (double& v : A.storage()) v /= s;
    } else if (dim == NormalizationDim::dim1) {
        for (std::size_t i = 0; i < n; ++i) {
            double s = 0;
            for (std::size_t j = 0; j < n; ++j) s += A(i, j);
            for (std::size_t j = 0; j < n; ++j) A(i, j) /= s * N;
        }
    } else if (dim == NormalizationDim::dim0) {
        for (std::size_t j = 0; j < n; ++j) {
            double s = 0;
            for (std::size_t i = 0; i < n; ++i) s += A(i, j);
            for (std::size_t i = 0; i < n; ++i) A(i, j) /= s * N;
        }
    }
    return A;
}
} // namespace

TEST(TorchdrNormalized, GaussianAndStudentEqualTheirDenseFormulas) {
    const Matrix<float> X = grid_data(35, 3, 11);
    for (auto dim : {NormalizationDim::none, NormalizationDim::dim0, NormalizationDim::dim1, NormalizationDim::both}) {
        Matrix<double> g(35, 35), s(35, 35);
        for (std::size_t i = 0; i < 35; ++i)
            for (std::size_t j = 0; j < 35; ++j)
                if (i != j) {
                    const double c = cost(X, i, j, "euclidean");
                    g(i, j) = std::exp(-c / 2.5);
                    s(i, j) = std::pow(1.0 + c / 3.0, -(3.0 + 1.0) / 2.0);
                }
        NormalizedGaussianAffinityOptions go;
        go.sigma = 2.5;
        go.metric = CostMetric::euclidean;
        go.normalization_dim = dim;
        const Matrix<double> G = normalized_gaussian_affinity(X.view(), go);
        EXPECT_LT(max_abs_diff(G, normalise(g, dim, true)), 1e-14);
        NormalizedStudentAffinityOptions so;
        so.degrees_of_freedom = 3.0;
        so.metric = CostMetric::euclidean;
        so.normalization_dim = dim;
        const Matrix<double> S = normalized_student_affinity(X.view(), so);
        EXPECT_LT(max_abs_diff(S, normalise(s, dim, true)), 1e-14);
        go.n_threads = 2;
        EXPECT_TRUE(same_bits(G, normalized_gaussian_affinity(X.view(), go)));
    }
    EXPECT_EQ(parse_normalization_dim("(0, 1)"), NormalizationDim::both);
    EXPECT_EQ(parse_normalization_dim("1"), NormalizationDim::dim1);
    EXPECT_EQ(parse_normalization_dim("None"), NormalizationDim::none);
    EXPECT_THROW(parse_normalization_dim("2"), InvalidArgument);
    NormalizedGaussianAffinityOptions bg;
    bg.sigma = -1;
    EXPECT_THROW(normalized_gaussian_affinity(X.view(), bg), InvalidArgument);
    NormalizedStudentAffinityOptions bs;
    bs.degrees_of_freedom = 0;
    EXPECT_THROW(normalized_student_affinity(X.view(), bs), InvalidArgument);
}

TEST(TorchdrNormalized, SelfTuningAndMagicEqualTheirDenseFormulas) {
    const Matrix<float> X = grid_data(35, 3, 12);
    const std::size_t n = 35;
    Matrix<double> C(n, n);
    std::vector<double> sigma(n);
    for (std::size_t i = 0; i < n; ++i) {
        std::vector<double> r;
        for (std::size_t j = 0; j < n; ++j) {
            C(i, j) = cost(X, i, j, "sqeuclidean");
            if (j != i) r.push_back(C(i, j));
        }
        std::sort(r.begin(), r.end());
        sigma[i] = r[4];  // K = 5
    }
    Matrix<double> st(n, n), mg(n, n);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j)
            if (i != j) {
                st(i, j) = std::exp(-C(i, j) / (sigma[i] * sigma[j]));
                mg(i, j) = (std::exp(-C(i, j) / sigma[i]) + std::exp(-C(j, i) / sigma[j])) / 2;
            }
    SelfTuningAffinityOptions so;
    so.K = 5;
    EXPECT_LT(max_abs_diff(self_tuning_affinity(X.view(), so), normalise(st, NormalizationDim::both, false)), 1e-14);
    so.normalization_dim = NormalizationDim::dim1;  // no ÷ N here (TorchDR)
    EXPECT_LT(max_abs_diff(self_tuning_affinity(X.view(), so), normalise(st, NormalizationDim::dim1, false)), 1e-14);
    MAGICAffinityOptions mo;
    mo.K = 5;
    EXPECT_LT(max_abs_diff(magic_affinity(X.view(), mo), normalise(mg, NormalizationDim::dim1, false)), 1e-14);

    so.K = 35;  // K >= N
    EXPECT_THROW(self_tuning_affinity(X.view(), so), InvalidArgument);
    mo.K = 35;
    EXPECT_THROW(magic_affinity(X.view(), mo), InvalidArgument);
    mo.K = 0;
    EXPECT_THROW(magic_affinity(X.view(), mo), InvalidArgument);
}

TEST(TorchdrNormalized, MatchTorchdr) {
    const Matrix<float> X = fixture_x();
    NormalizedGaussianAffinityOptions go;
    go.sigma = 3.0;
    Matrix<double> ref = fixture("gauss_sigma3");
    EXPECT_LT(max_abs_diff(normalized_gaussian_affinity(X.view(), go), ref), 1e-12 * max_value(ref));
    go.normalization_dim = NormalizationDim::dim1;
    ref = fixture("gauss_sigma3_dim1");
    EXPECT_LT(max_abs_diff(normalized_gaussian_affinity(X.view(), go), ref), 1e-12 * max_value(ref));
    NormalizedStudentAffinityOptions so;
    so.degrees_of_freedom = 2.0;
    so.normalization_dim = NormalizationDim::dim0;
    ref = fixture("student_dof2_dim0");
    EXPECT_LT(max_abs_diff(normalized_student_affinity(X.view(), so), ref), 1e-12 * max_value(ref));
    ref = fixture("selftuning_k7");
    EXPECT_LT(max_abs_diff(self_tuning_affinity(X.view(), SelfTuningAffinityOptions{}), ref), 1e-12 * max_value(ref));
    MAGICAffinityOptions mo;
    mo.K = 5;
    mo.metric = CostMetric::euclidean;
    ref = fixture("magic_k5_euclidean");
    EXPECT_LT(max_abs_diff(magic_affinity(X.view(), mo), ref), 1e-12 * max_value(ref));
}

// ------------------------------------------------------------------------------------------------ UMAP

TEST(TorchdrUmap, MarginalsAndFuzzyUnion) {
    const Matrix<float> X = grid_data(70, 4, 13);
    UMAPAffinityOptions o;
    o.n_neighbors = 10;
    o.symmetrize = false;
    UMAPAffinity ua(o);
    const CsrMatrix<double> A = ua(X.view());
    for (std::size_t i = 0; i < 70; ++i) {
        EXPECT_EQ(A.row_end(i) - A.row_begin(i), 9);  // n_neighbors − 1: the point itself counts
        double s = 0.0;
        for (offset_t p = A.row_begin(i); p < A.row_end(i); ++p) {
            s += A.values[p];
            const double c = cost(X, i, std::size_t(A.indices[p]), "sqeuclidean");
            EXPECT_NEAR(A.values[p], std::exp(-(c - ua.rho()[i]) / ua.eps()[i]), 1e-14);
        }
        EXPECT_NEAR(s, std::log2(10.0), 1e-6) << "row " << i;
    }
    o.symmetrize = true;
    const Matrix<double> P = to_dense(UMAPAffinity(o)(X.view()));
    const Matrix<double> D = to_dense(A);
    for (std::size_t i = 0; i < 70; ++i)
        for (std::size_t j = 0; j < 70; ++j)
            EXPECT_NEAR(P(i, j), D(i, j) + D(j, i) - D(i, j) * D(j, i), 1e-15);
    o.n_threads = 2;
    EXPECT_TRUE(same_bits(P, to_dense(UMAPAffinity(o)(X.view()))));

    o.n_neighbors = 69;  // >= N − 1
    EXPECT_THROW(UMAPAffinity{o}(X.view()), InvalidArgument);
    o.n_neighbors = 1;
    EXPECT_THROW(UMAPAffinity{o}, InvalidArgument);
}

TEST(TorchdrUmap, MatchesTorchdr) {
    const Matrix<float> X = fixture_x();
    UMAPAffinityOptions o;
    o.n_neighbors = 8;
    Matrix<double> ref = fixture("umap_nn8");
    EXPECT_LT(max_abs_diff(to_dense(UMAPAffinity(o)(X.view())), ref), 1e-9);
    o.metric = CostMetric::euclidean;
    o.symmetrize = false;
    ref = fixture("umap_nn8_euclidean_directed");
    EXPECT_LT(max_abs_diff(to_dense(UMAPAffinity(o)(X.view())), ref), 1e-9);
}
