// Layout of a disconnected graph (umap-learn's multi_component_layout): connected components, the centroid meta
// layout against an independent dense eigendecomposition, the whole layout against umap-learn's spectral_layout
// (committed fixture tests/data/umap_components.npz, written by tests/data/make_umap_components_fixture.py), and
// UMAP end to end on disconnected data.
#ifndef EIGEN_DONT_PARALLELIZE
#define EIGEN_DONT_PARALLELIZE
#endif
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "nembed/core/error.hpp"
#include "nembed/core/log.hpp"
#include "nembed/core/random.hpp"
#include "nembed/core/sparse.hpp"
#include "nembed/init/multi_component.hpp"
#include "nembed/io/npz.hpp"
#include "nembed/metrics/quality.hpp"
#include "nembed/methods/umap.hpp"

using namespace nembed;

namespace {

std::vector<double> as_double(const NdArray& a) {
    std::vector<double> v(a.size());
    a.copy_to(v.data());
    return v;
}

struct Fixture {
    Matrix<float> X;
    std::vector<std::size_t> labels;
    CsrMatrix<double> graph;
};

Fixture load_fixture() {
    const std::string path = std::string(NEMBED_TEST_DATA_DIR) + "/umap_components.npz";
    Fixture f;
    auto x = read_npz(path, "X");
    const auto xv = as_double(x);
    f.X = Matrix<float>(x.shape[0], x.shape[1]);
    for (std::size_t p = 0; p < xv.size(); ++p) f.X.storage()[p] = static_cast<float>(xv[p]);
    for (double l : as_double(read_npz(path, "labels"))) f.labels.push_back(static_cast<std::size_t>(l));
    const auto ip = as_double(read_npz(path, "graph_indptr"));
    const auto ix = as_double(read_npz(path, "graph_indices"));
    const auto iv = as_double(read_npz(path, "graph_data"));
    f.graph.n_rows = f.graph.n_cols = x.shape[0];
    for (double v : ip) f.graph.indptr.push_back(static_cast<offset_t>(v));
    for (double v : ix) f.graph.indices.push_back(static_cast<index_t>(v));
    f.graph.values = iv;
    return f;
}

// Blobs far apart in 5-D: a kNN graph with few neighbours never links two blobs.
Matrix<float> blobs(const std::vector<std::size_t>& sizes, double spacing, std::uint64_t seed,
                    std::vector<std::int64_t>* labels) {
    std::size_t n = 0;
    for (auto s : sizes) n += s;
    Matrix<float> X(n, 5);
    std::size_t i = 0;
    for (std::size_t b = 0; b < sizes.size(); ++b)
        for (std::size_t t = 0; t < sizes[b]; ++t, ++i) {
            Rng r(seed, i);
            for (std::size_t f = 0; f < 5; ++f)
                X(i, f) = static_cast<float>((f == b % 5 ? spacing * (1.0 + double(b / 5)) : 0.0) + 0.3 * r.normal());
            labels->push_back(static_cast<std::int64_t>(b));
        }
    return X;
}

} // namespace

TEST(MultiComponent, ConnectedComponentsNumberedLikeScipy) {
    // 0-3, 1-4, 2 alone, 5-6 via an entry in one triangle only.
    std::vector<Triplet<double>> t = {{0, 3, 1.0}, {3, 0, 1.0}, {1, 4, 0.5}, {4, 1, 0.5}, {6, 5, 0.2}};
    auto g = csr_from_triplets<double>(7, 7, t);
    GraphComponents c = connected_components(g);
    EXPECT_EQ(c.count, 4u);
    EXPECT_EQ(c.labels, (std::vector<std::size_t>{0, 1, 2, 0, 1, 3, 3}));
    CsrMatrix<double> rect;
    rect.n_rows = 2;
    rect.n_cols = 3;
    rect.indptr = {0, 0, 0};
    EXPECT_THROW(connected_components(rect), InvalidArgument);
}

TEST(MultiComponent, EqualsUmapLearnsSpectralLayout) {
    const Fixture f = load_fixture();
    const std::string path = std::string(NEMBED_TEST_DATA_DIR) + "/umap_components.npz";
    const GraphComponents comps = connected_components(f.graph);
    ASSERT_EQ(comps.count, 6u);
    ASSERT_EQ(comps.labels, f.labels);
    const std::size_t n = f.X.rows();
    std::vector<double> sqrt_deg(n, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
        for (offset_t p = f.graph.indptr[i]; p < f.graph.indptr[i + 1]; ++p) sqrt_deg[i] += f.graph.values[p];
        sqrt_deg[i] = std::sqrt(sqrt_deg[i]);
    }
    for (std::size_t dim : {2u, 3u}) {
        SCOPED_TRACE("dim " + std::to_string(dim));
        const auto want = as_double(read_npz(path, "layout_" + std::to_string(dim)));
        const Matrix<double> got = multi_component_layout(f.graph, comps, dim, f.X.view(), 11, 2);
        for (std::size_t a = 0; a < comps.count; ++a) {
            std::vector<std::size_t> pts;
            for (std::size_t i = 0; i < n; ++i)
                if (comps.labels[i] == a) pts.push_back(i);
            if (pts.size() < 2 * dim || pts.size() <= dim + 1) continue;  // placed at random by both
            for (std::size_t k = 0; k < dim; ++k) {
                // The eigenmap u is orthogonal to √deg, so the √deg-weighted centre of a component is its meta
                // point, whatever the eigenvector's sign: the meta layouts must agree.
                double wsum = 0, cg = 0, cw = 0;
                for (std::size_t i : pts) {
                    wsum += sqrt_deg[i];
                    cg += sqrt_deg[i] * got(i, k);
                    cw += sqrt_deg[i] * want[i * dim + k];
                }
                cg /= wsum;
                cw /= wsum;
                EXPECT_NEAR(cg, cw, 1e-4) << "meta point of component " << a << ", coordinate " << k;
                // The offsets from it are umap-learn's up to ARPACK's arbitrary sign (its tolerance is 1e-4).
                double best = 1e300;
                for (double sgn : {1.0, -1.0}) {
                    double worst = 0.0;
                    for (std::size_t i : pts)
                        worst = std::max(worst, std::abs((got(i, k) - cg) - sgn * (want[i * dim + k] - cw)));
                    best = std::min(best, worst);
                }
                EXPECT_LT(best, 1e-3) << "component " << a << ", coordinate " << k;
            }
        }
    }
}

TEST(MultiComponent, CentroidMetaLayoutIsTheSpectralEmbeddingOfCentroids) {
    // 7 components of 5 points (weighted rings), dim 2: 7 > 2·dim so the centroid layout is used, and each component
    // gets an eigenmap (5 >= 2·dim, > dim + 1). The meta layout is recomputed independently with Eigen.
    const std::size_t c = 7, per = 5, dim = 2, n = c * per, D = 3;
    Matrix<float> X(n, D);
    std::vector<Triplet<double>> t;
    for (std::size_t a = 0; a < c; ++a) {
        Rng r(5, a);
        double centre[D];
        for (double& v : centre) v = 1.2 * r.normal();
        for (std::size_t s = 0; s < per; ++s) {
            const std::size_t i = a * per + s;
            for (std::size_t f = 0; f < D; ++f) X(i, f) = static_cast<float>(centre[f] + 0.01 * r.normal());
            // a ring inside each component, unequal weights so the eigenmap is unique
            const std::size_t j = a * per + (s + 1) % per;
            const double w = 0.3 + 0.1 * double(s);
            t.push_back({index_t(i), index_t(j), w});
            t.push_back({index_t(j), index_t(i), w});
        }
    }
    auto g = csr_from_triplets<double>(n, n, t);
    const GraphComponents comps = connected_components(g);
    ASSERT_EQ(comps.count, c);
    const Matrix<double> Y = multi_component_layout(g, comps, dim, X.view(), 1, 1);

    // Independent meta layout: scikit-learn's SpectralEmbedding of exp(−d²) (diagonal ignored), v = u/√deg, sign so
    // the largest |entry| is positive, trivial vector dropped, divided by the largest entry.
    Eigen::MatrixXd C = Eigen::MatrixXd::Zero(Eigen::Index(c), Eigen::Index(D));
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t f = 0; f < D; ++f) C(Eigen::Index(comps.labels[i]), Eigen::Index(f)) += X(i, f) / double(per);
    Eigen::MatrixXd A{static_cast<Eigen::Index>(c), static_cast<Eigen::Index>(c)};
    for (Eigen::Index a = 0; a < Eigen::Index(c); ++a)
        for (Eigen::Index b = 0; b < Eigen::Index(c); ++b)
            A(a, b) = a == b ? 0.0 : std::exp(-(C.row(a) - C.row(b)).squaredNorm());
    Eigen::VectorXd deg = A.rowwise().sum();
    Eigen::VectorXd s = deg.array().rsqrt();
    Eigen::MatrixXd M = s.asDiagonal() * A * s.asDiagonal();
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(M);
    Eigen::MatrixXd meta{static_cast<Eigen::Index>(c), static_cast<Eigen::Index>(dim)};
    for (std::size_t k = 0; k < dim; ++k) {
        Eigen::VectorXd v = s.asDiagonal() * es.eigenvectors().col(Eigen::Index(c) - 2 - Eigen::Index(k));
        Eigen::Index arg;
        v.cwiseAbs().maxCoeff(&arg);
        if (v(arg) < 0) v = -v;
        meta.col(Eigen::Index(k)) = v;
    }
    meta /= meta.maxCoeff();
    // Each component's √deg-weighted centre is its meta point (u ⟂ √deg); its points lie within ±range of it,
    // range = half the nearest meta distance, and reach it in the coordinate of the largest |u|.
    for (std::size_t a = 0; a < c; ++a) {
        for (std::size_t k = 0; k < dim; ++k) {
            double wsum = 0, centre = 0;
            for (std::size_t s2 = 0; s2 < per; ++s2) {
                const std::size_t i = a * per + s2;
                double d = 0;
                for (offset_t p = g.indptr[i]; p < g.indptr[i + 1]; ++p) d += g.values[p];
                wsum += std::sqrt(d);
                centre += std::sqrt(d) * Y(i, k);
            }
            EXPECT_NEAR(centre / wsum, meta(Eigen::Index(a), Eigen::Index(k)), 1e-9) << "component " << a;
        }
        double nearest = 1e300;
        for (std::size_t b = 0; b < c; ++b)
            if (b != a) nearest = std::min(nearest, (meta.row(Eigen::Index(a)) - meta.row(Eigen::Index(b))).norm());
        const double range = nearest / 2;
        double reach = 0.0;
        for (std::size_t s2 = 0; s2 < per; ++s2)
            for (std::size_t k = 0; k < dim; ++k) {
                const double off = Y(a * per + s2, k) - meta(Eigen::Index(a), Eigen::Index(k));
                EXPECT_LE(std::abs(off), range * (1 + 1e-9)) << "component " << a;
                reach = std::max(reach, std::abs(off));
            }
        EXPECT_NEAR(reach, range, 1e-9 * (1 + range)) << "component " << a;
    }
}

TEST(MultiComponent, PlusMinusUnitVectorsForFewComponents) {
    // 4 components in 2-D (4 <= 2·2): meta points e1, e2, −e1, −e2; three weighted rings of 6 points get eigenmaps,
    // the last component (a pair, < 2·dim points) is placed uniformly in the box of half-width range.
    const std::size_t per = 6, n = 3 * per + 2;
    std::vector<Triplet<double>> t;
    for (std::size_t a = 0; a < 3; ++a)
        for (std::size_t s = 0; s < per; ++s) {
            const std::size_t i = a * per + s, j = a * per + (s + 1) % per;
            const double w = 0.5 + 0.05 * double(s);
            t.push_back({index_t(i), index_t(j), w});
            t.push_back({index_t(j), index_t(i), w});
        }
    t.push_back({index_t(n - 2), index_t(n - 1), 1.0});
    t.push_back({index_t(n - 1), index_t(n - 2), 1.0});
    auto g = csr_from_triplets<double>(n, n, t);
    const auto comps = connected_components(g);
    ASSERT_EQ(comps.count, 4u);
    const Matrix<double> Y = multi_component_layout(g, comps, 2, MatrixView<float>{}, 0, 1);
    const double meta[4][2] = {{1, 0}, {0, 1}, {-1, 0}, {0, -1}};
    const double range = std::sqrt(2.0) / 2;  // half of |e1 − e2|
    for (std::size_t a = 0; a < 3; ++a) {
        // The eigenmap u is orthogonal to √deg, so Σ √deg_i · (Y_i − meta) = 0 pins the meta point exactly.
        double wsum = 0, cx = 0, cy = 0, reach = 0;
        for (std::size_t s = 0; s < per; ++s) {
            const std::size_t i = a * per + s;
            double d = 0;
            for (offset_t p = g.indptr[i]; p < g.indptr[i + 1]; ++p) d += g.values[p];
            wsum += std::sqrt(d);
            cx += std::sqrt(d) * Y(i, 0);
            cy += std::sqrt(d) * Y(i, 1);
            reach = std::max({reach, std::abs(Y(i, 0) - meta[a][0]), std::abs(Y(i, 1) - meta[a][1])});
        }
        EXPECT_NEAR(cx / wsum, meta[a][0], 1e-9) << "component " << a;
        EXPECT_NEAR(cy / wsum, meta[a][1], 1e-9) << "component " << a;
        EXPECT_NEAR(reach, range, 1e-9) << "component " << a;
    }
    for (std::size_t i = n - 2; i < n; ++i)
        for (std::size_t k = 0; k < 2; ++k) EXPECT_LE(std::abs(Y(i, k) - meta[3][k]), range) << "point " << i;
    EXPECT_NE(Y(n - 2, 0), Y(n - 1, 0));
    EXPECT_THROW(multi_component_layout(g, comps, 0, MatrixView<float>{}, 0, 1), InvalidArgument);
}

TEST(MultiComponent, UmapOnDisconnectedBlobsUsesTheLayoutWithoutWarning) {
    std::vector<std::int64_t> labels;
    // Spacing 6: the kNN graph falls apart into the 7 blobs, yet exp(−d²) between centroids does not underflow.
    const Matrix<float> X = blobs({120, 90, 150, 30, 100, 80, 110}, 6.0, 9, &labels);
    std::vector<std::string> warnings;
    set_log_sink([&](LogLevel l, const std::string& m) {
        if (l == LogLevel::warning) warnings.push_back(m);
    });
    UmapOptions o;
    o.n_neighbors = 8;
    o.random_state = 4;
    o.n_epochs = 100;
    o.n_jobs = 1;
    const UmapEmbedding e1 = UMAP(o).fit(X.view());
    o.n_jobs = 2;
    const UmapEmbedding e2 = UMAP(o).fit(X.view());
    set_log_sink({});
    ASSERT_EQ(connected_components(e1.graph()).count, 7u);
    for (const auto& w : warnings) EXPECT_EQ(w.find("random"), std::string::npos) << w;
    EXPECT_EQ(e1.embedding().storage(), e2.embedding().storage());
    QualityOptions qo;
    qo.n_pairs = 5000;
    const QualityReport q = evaluate(X.view(), e1.embedding().view(), &labels, nullptr, qo);
    EXPECT_GT(*q.knn_accuracy, 0.99);
}
