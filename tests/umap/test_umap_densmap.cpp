// densMAP's term (loss/densmap.hpp on the edge-epoch plan), inverse_transform and update (methods/umap_inverse.hpp):
// the term's gradient against finite differences of its objective, the radii against umap-learn's formula,
// reproducibility, the effect on the radii's correlation, inverse_transform near the data, update's graph and start.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "nembed/affinity/fuzzy.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/random.hpp"
#include "nembed/loss/densmap.hpp"
#include "nembed/methods/umap.hpp"
#include "nembed/methods/umap_inverse.hpp"
#include "nembed/neighbors/knn.hpp"
#include "umap_test_util.hpp"

using namespace nembed;
using namespace nembed::testing;

namespace {

// Gaussian blobs of different spreads (so the local radii vary), n x dim.
Matrix<float> blobs(std::size_t n, std::size_t dim, std::uint64_t seed) {
    Matrix<float> X(n, dim);
    Rng rng(seed);
    for (std::size_t i = 0; i < n; ++i) {
        const double c = static_cast<double>(i % 3);
        const double sd = 0.3 + 0.7 * c;
        for (std::size_t k = 0; k < dim; ++k)
            X(i, k) = static_cast<float>((k == 0 ? 6.0 * c : 0.0) + rng.normal(0.0, sd));
    }
    return X;
}

CsrMatrix<double> fuzzy_graph(const Matrix<float>& X, std::size_t n_neighbors) {
    KnnOptions ko;
    ko.method = KnnMethod::exact;
    KnnGraph g = build_knn_index(X.view(), ko)->self_neighbors(n_neighbors - 1);
    return fuzzy_simplicial_set(g, FuzzyOptions{});
}

// r_e computed here from its definition: log(1e-8 + Σ_j φ D / Σ_j φ) over row i.
std::vector<double> radii(const CsrMatrix<double>& g, const Matrix<double>& Y, const UmapCurve& c) {
    std::vector<double> r(g.n_rows);
    for (std::size_t i = 0; i < g.n_rows; ++i) {
        double num = 0, den = 0;
        for (offset_t p = g.indptr[i]; p < g.indptr[i + 1]; ++p) {
            const auto j = static_cast<std::size_t>(g.indices[p]);
            double D = 0;
            for (std::size_t k = 0; k < Y.cols(); ++k) D += (Y(i, k) - Y(j, k)) * (Y(i, k) - Y(j, k));
            const double phi = 1.0 / (1.0 + c.a * std::pow(D, c.b));
            num += phi * D;
            den += phi;
        }
        r[i] = std::log(1e-8 + num / den);
    }
    return r;
}

double pearson(const std::vector<double>& x, const std::vector<double>& y) {
    const double n = static_cast<double>(x.size());
    const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n, my = std::accumulate(y.begin(), y.end(), 0.0) / n;
    double sxy = 0, sxx = 0, syy = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    return sxy / std::sqrt(sxx * syy);
}

} // namespace

// The term's gradient is that of J = λ·[corr − Σ R_i r_e(i)/(N(N − 1)s0)], corr = (Σ r_e R/(N − 1))/s,
// s = sqrt(var(r_e) + var_shift), s0 = s held at Y (loss/densmap.hpp): central differences, relative 1e-5.
TEST(Densmap, GradientMatchesFiniteDifferencesOfTheCorrelation) {
    const std::size_t n = 40;
    Matrix<float> X = blobs(n, 4, 3);
    const CsrMatrix<double> g = fuzzy_graph(X, 8);
    const UmapCurve c{1.6, 0.9};
    const auto ro = densmap_data_radii(g, X.view(), Metric::euclidean);
    DensmapOptions o;
    o.lambda = 2.0;
    o.var_shift = 0.1;
    DensmapTerm term(g, ro, c, o);
    Matrix<double> Y(n, 2);
    Rng rng(11);
    for (double& v : Y.storage()) v = rng.normal(0.0, 3.0);
    const Matrix<double> G = term.gradient(g, Y);
    const std::vector<double>& R = term.R();
    const double nn = static_cast<double>(n), s0 = term.re_std();
    auto J = [&](const Matrix<double>& Z) {
        const auto re = radii(g, Z, c);
        const double m = std::accumulate(re.begin(), re.end(), 0.0) / nn;
        double var = 0, cov = 0, lin = 0;
        for (std::size_t i = 0; i < n; ++i) {
            var += (re[i] - m) * (re[i] - m);
            cov += re[i] * R[i];
            lin += R[i] * re[i];
        }
        const double s = std::sqrt(var / nn + o.var_shift);
        return o.lambda * (cov / (nn - 1.0) / s - lin / (nn * (nn - 1.0) * s0));
    };
    double err = 0, norm = 0;
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t k = 0; k < 2; ++k) {
            const double h = 1e-5;
            Matrix<double> Yp = Y, Ym = Y;
            Yp(i, k) += h;
            Ym(i, k) -= h;
            const double fd = (J(Yp) - J(Ym)) / (2 * h);
            err += (fd - G(i, k)) * (fd - G(i, k));
            norm += fd * fd;
        }
    ASSERT_GT(norm, 0.0);
    EXPECT_LT(std::sqrt(err / norm), 1e-5);
}

// r_o is umap-learn's log(1e-8 + Σ μ d² / Σ μ) over the graph (recomputed here); the kNN form gives the same.
TEST(Densmap, DataRadiiFollowUmapLearnsFormula) {
    Matrix<float> X = blobs(60, 5, 5);
    const CsrMatrix<double> g = fuzzy_graph(X, 10);
    const auto ro = densmap_data_radii(g, X.view(), Metric::euclidean);
    KnnOptions ko;
    ko.method = KnnMethod::exact;
    const auto rk = densmap_knn_radii(g, build_knn_index(X.view(), ko)->self_neighbors(9));
    for (std::size_t i = 0; i < g.n_rows; ++i) {
        double num = 0, den = 0;
        for (offset_t p = g.indptr[i]; p < g.indptr[i + 1]; ++p) {
            const auto j = static_cast<std::size_t>(g.indices[p]);
            double d2 = 0;
            for (std::size_t k = 0; k < X.cols(); ++k) {
                const double dk = static_cast<double>(X(i, k)) - X(j, k);
                d2 += dk * dk;
            }
            num += g.values[p] * d2;
            den += g.values[p];
        }
        EXPECT_NEAR(ro[i], std::log(1e-8 + num / den), 1e-12) << i;
        EXPECT_NEAR(rk[i], ro[i], 1e-5) << i;  // kNN distances are stored in float
    }
}

// The embedding radii: the fuzzy set of the embedding and unsquared distances (umap-learn's rad_emb).
TEST(Densmap, EmbeddingRadiiFollowUmapLearnsFormula) {
    Matrix<float> Xf = blobs(50, 2, 9);
    Matrix<double> Y(50, 2);
    for (std::size_t i = 0; i < Y.size(); ++i) Y.data()[i] = Xf.data()[i];
    const auto re = densmap_embedding_radii(Y.view(), 10);
    const CsrMatrix<double> g = fuzzy_graph(Xf, 10);
    for (std::size_t i = 0; i < g.n_rows; ++i) {
        double num = 0, den = 0;
        for (offset_t p = g.indptr[i]; p < g.indptr[i + 1]; ++p) {
            const auto j = static_cast<std::size_t>(g.indices[p]);
            num += g.values[p] * std::hypot(Y(i, 0) - Y(j, 0), Y(i, 1) - Y(j, 1));
            den += g.values[p];
        }
        EXPECT_NEAR(re[i], std::log(1e-8 + num / den), 1e-6) << i;
    }
}

// Same bits for 1, 2 and 3 threads and for a run split in two; λ = 0 is bitwise plain UMAP; densMAP raises the
// correlation of the output radii well above plain UMAP's.
TEST(Densmap, ReproducibleAndRaisesTheRadiiCorrelation) {
    // both edge orders: the parallel rows (forced here: 600 points default to umap-learn's serial edge order)
    for (const EdgeOrder order : {EdgeOrder::rows, EdgeOrder::automatic}) {
        SCOPED_TRACE(static_cast<int>(order));
        Matrix<float> X = blobs(600, 8, 21);
        UmapOptions o;
        o.edge_order = order;
        o.random_state = 4;
        o.n_epochs = 120;
        o.neighbors = KnnMethod::exact;
        o.densmap = true;
        o.output_dens = true;
        o.n_jobs = 1;
        UmapEmbedding a = UMAP(o).fit(X.view());
        o.n_jobs = 2;
        UmapEmbedding b = UMAP(o).fit(X.view());
        o.n_jobs = 3;
        UmapEmbedding c = UMAP(o).prepare(X.view());
        c.optimize(70);  // the term starts at epoch 84: the split falls before, the next inside it
        c.optimize(30);
        c.optimize();
        for (std::size_t i = 0; i < a.embedding().size(); ++i) {
            ASSERT_EQ(a.embedding().data()[i], b.embedding().data()[i]) << i;
            ASSERT_EQ(a.embedding().data()[i], c.embedding().data()[i]) << i;
        }
        ASSERT_EQ(a.rad_orig.size(), X.rows());
        ASSERT_EQ(a.rad_emb.size(), X.rows());
        const double corr_dens = pearson(a.rad_orig, a.rad_emb);

        UmapOptions p = o;
        p.densmap = false;
        UmapEmbedding plain = UMAP(p).fit(X.view());
        const double corr_plain = pearson(plain.rad_orig, plain.rad_emb);
        EXPECT_GT(corr_dens, 0.6);
        EXPECT_GT(corr_dens, corr_plain + 0.2);

        p.densmap = true;
        p.dens.lambda = 0.0;
        UmapEmbedding zero = UMAP(p).fit(X.view());
        for (std::size_t i = 0; i < zero.embedding().size(); ++i)
            ASSERT_EQ(zero.embedding().data()[i], plain.embedding().data()[i]) << i;
    }
}

TEST(Densmap, BadParametersAndTransformAreRefused) {
    Matrix<float> X = blobs(60, 3, 1);
    UmapOptions o;
    o.densmap = true;
    o.dens.lambda = -1;
    EXPECT_THROW(UMAP(o).fit(X.view()), InvalidArgument);
    o.dens.lambda = 2;
    o.dens.frac = 1.5;
    EXPECT_THROW(UMAP(o).fit(X.view()), InvalidArgument);
    o.dens.frac = 0.3;
    o.dens.var_shift = -0.1;
    EXPECT_THROW(UMAP(o).fit(X.view()), InvalidArgument);
    o.dens.var_shift = 0.1;
    o.n_epochs = 20;
    o.random_state = 1;
    UmapEmbedding e = UMAP(o).fit(X.view());
    EXPECT_EQ(e.n_epochs(), 20);
    EXPECT_THROW(e.transform(X.view()), InvalidArgument);
    o.n_epochs.reset();
    EXPECT_EQ(UMAP(o).prepare(X.view()).n_epochs(), 700);  // umap-learn: 200 more epochs for densMAP
}

// inverse_transform of the fitted embedding lands near the data: the point's own data row among the 10 nearest
// data rows of its inverse for >= 80 % of the points (chance: 10/300), and the mean error below half the mean
// distance between data points of the same blob.
TEST(UmapInverse, TrainingEmbeddingMapsBackNearTheData) {
    Matrix<float> X = blobs(300, 4, 17);
    UmapOptions o;
    o.random_state = 3;
    o.n_epochs = 200;
    o.neighbors = KnnMethod::exact;
    UmapEmbedding e = UMAP(o).fit(X.view());
    const Matrix<double> Xi = umap_inverse_transform(e, X.view(), Metric::euclidean, e.embedding().view(), 2);
    ASSERT_EQ(Xi.rows(), X.rows());
    ASSERT_EQ(Xi.cols(), X.cols());
    auto d2 = [&](const double* a, const float* b) {
        double s = 0;
        for (std::size_t k = 0; k < X.cols(); ++k) s += (a[k] - b[k]) * (a[k] - b[k]);
        return s;
    };
    std::size_t hits = 0;
    double err = 0, within = 0;
    std::size_t n_within = 0;
    for (std::size_t i = 0; i < X.rows(); ++i) {
        for (double v : std::vector<double>(Xi.row(i), Xi.row(i) + X.cols())) ASSERT_TRUE(std::isfinite(v));
        std::vector<double> d(X.rows());
        for (std::size_t j = 0; j < X.rows(); ++j) d[j] = d2(Xi.row(i), X.row(j));
        const double own = d[i];
        const auto closer = std::count_if(d.begin(), d.end(), [&](double v) { return v < own; });
        hits += closer < 10;
        err += std::sqrt(own);
        for (std::size_t j = i % 3; j < X.rows(); j += 3) {
            if (j == i) continue;
            double s = 0;
            for (std::size_t k = 0; k < X.cols(); ++k) s += (X(i, k) - X(j, k)) * (X(i, k) - X(j, k));
            within += std::sqrt(s);
            ++n_within;
        }
    }
    EXPECT_GE(static_cast<double>(hits) / static_cast<double>(X.rows()), 0.8);
    EXPECT_LT(err / static_cast<double>(X.rows()), 0.5 * within / static_cast<double>(n_within));
    // the same bits for any thread count
    const Matrix<double> Xi1 = umap_inverse_transform(e, X.view(), Metric::euclidean, e.embedding().view(), 1);
    for (std::size_t i = 0; i < Xi.size(); ++i) ASSERT_EQ(Xi.data()[i], Xi1.data()[i]);
    EXPECT_THROW(umap_inverse_transform(e, X.view(), Metric::cosine, e.embedding().view()), InvalidArgument);
}

// update: the graph over the union is the one a fit of the union builds; old points keep their (rescaled) places,
// a new point starts at the mean of its old neighbours; no epochs unless n_epochs was set (umap-learn).
TEST(UmapUpdate, GraphOfTheUnionAndUmapLearnsStart) {
    Matrix<float> X = blobs(240, 4, 29);
    Matrix<float> Xa = first_rows(X, 200);
    Matrix<float> Xb(40, 4, std::vector<float>(X.data() + 200 * 4, X.data() + 240 * 4));
    UmapOptions o;
    o.random_state = 5;
    o.neighbors = KnnMethod::exact;
    o.n_epochs = 50;
    UmapEmbedding a = UMAP(o).fit(Xa.view());
    UmapOptions uo = o;
    uo.n_epochs.reset();
    UmapEmbedding u = umap_update(a, Xa.view(), Xb.view(), uo);
    UmapEmbedding full = UMAP(uo).prepare(X.view());
    const auto& gu = u.graph();
    const auto& gf = full.graph();
    ASSERT_EQ(gu.indptr, gf.indptr);
    ASSERT_EQ(gu.indices, gf.indices);
    for (std::size_t p = 0; p < gu.nnz(); ++p) ASSERT_DOUBLE_EQ(gu.values[p], gf.values[p]);
    EXPECT_EQ(u.epochs_done(), 0);
    // the start: old rows are the old embedding and new rows their old neighbours' mean, all rescaled to [0, 10]
    KnnOptions ko;
    ko.method = KnnMethod::exact;
    const KnnGraph knn = build_knn_index(X.view(), ko)->self_neighbors(o.n_neighbors - 1);
    Matrix<double> Y0(240, 2);
    for (std::size_t i = 0; i < 200; ++i)
        for (std::size_t k = 0; k < 2; ++k) Y0(i, k) = a.embedding()(i, k);
    for (std::size_t i = 200; i < 240; ++i) {
        double cnt = 0;
        for (std::size_t t = 0; t < knn.k; ++t)
            if (knn.neighbors(i)[t] < 200) {
                cnt += 1;
                for (std::size_t k = 0; k < 2; ++k) Y0(i, k) += Y0(knn.neighbors(i)[t], k);
            }
        ASSERT_GT(cnt, 0.0);
        for (std::size_t k = 0; k < 2; ++k) Y0(i, k) /= cnt;
    }
    for (std::size_t k = 0; k < 2; ++k) {
        double lo = 1e300, hi = -1e300;
        for (std::size_t i = 0; i < 240; ++i) lo = std::min(lo, Y0(i, k)), hi = std::max(hi, Y0(i, k));
        for (std::size_t i = 0; i < 240; ++i) EXPECT_NEAR(u.embedding()(i, k), 10 * (Y0(i, k) - lo) / (hi - lo), 1e-9);
    }
    // with n_epochs the layout continues
    UmapEmbedding u2 = umap_update(a, Xa.view(), Xb.view(), o);
    EXPECT_EQ(u2.epochs_done(), 50);
    EXPECT_TRUE(static_cast<bool>(u2.knn_index));
    EXPECT_THROW(umap_update(a, Xa.view(), first_rows(Matrix<float>(5, 3), 5).view(), o), InvalidArgument);
}

// The data radii with a metric the float32 paths do not serve (and with parameters) are the metric's distances,
// squared, averaged as densmap_log_radii does: equal to the formula written out, to 1e-12.
TEST(Densmap, DataRadiiUseTheMetricAndItsParameters) {
    const std::size_t n = 30, dim = 3;
    Matrix<float> X = blobs(n, dim, 5);
    const CsrMatrix<double> g = fuzzy_graph(X, 6);
    auto expected = [&](auto dist) {
        std::vector<double> d2(g.nnz());
        for (std::size_t i = 0; i < n; ++i)
            for (offset_t p = g.indptr[i]; p < g.indptr[i + 1]; ++p) {
                const double d = dist(X.row(i), X.row(static_cast<std::size_t>(g.indices[p])));
                d2[p] = d * d;
            }
        return densmap_log_radii(g, d2);
    };
    const auto l1 = expected([&](const float* a, const float* b) {
        double s = 0;
        for (std::size_t k = 0; k < dim; ++k) s += std::abs(double(a[k]) - double(b[k]));
        return s;
    });
    MetricParams p3;
    p3.p = 3.0;
    const auto mk3 = expected([&](const float* a, const float* b) {
        double s = 0;
        for (std::size_t k = 0; k < dim; ++k) s += std::pow(std::abs(double(a[k]) - double(b[k])), 3.0);
        return std::cbrt(s);
    });
    for (int threads : {1, 2, 3}) {
        const auto got_l1 = densmap_data_radii(g, X.view(), Metric::manhattan, threads);
        const auto got_mk3 = densmap_data_radii(g, X.view(), Metric::minkowski, threads, p3);
        ASSERT_EQ(got_l1.size(), n);
        // the same bits for any thread count
        EXPECT_EQ(got_l1, densmap_data_radii(g, X.view(), Metric::manhattan, 1));
        EXPECT_EQ(got_mk3, densmap_data_radii(g, X.view(), Metric::minkowski, 1, p3));
        for (std::size_t i = 0; i < n; ++i) {
            EXPECT_NEAR(got_l1[i], l1[i], 1e-12) << i;
            EXPECT_NEAR(got_mk3[i], mk3[i], 1e-12) << i;
        }
    }
}
