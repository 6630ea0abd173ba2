// Every metric of metric.hpp: the generic exact search against a naive scan of MetricEval, sparse (CSR) equal to
// dense, thread-count independence, HNSW recall per metric family, umap-learn's zero-row conventions, and the
// errors for bad names and parameters. (Each metric against scipy.spatial.distance: python/tests/test_knn_metrics.py.)
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "nembed/core/error.hpp"
#include "nembed/neighbors/generic.hpp"
#include "nembed/neighbors/knn.hpp"
#include "nembed/neighbors/metric.hpp"
#include "neighbors_test_util.hpp"

using namespace nembed;
using namespace nembed::testing;

namespace {

// Random data with a share of exact zeros (sparse-like) and some all-zero rows; binary for the boolean metrics,
// non-negative for hellinger.
Matrix<float> metric_data(Metric m, std::size_t n, std::size_t d, std::uint64_t seed) {
    Matrix<float> x = random_matrix(n, d, seed);
    Rng rng(seed + 1);
    const bool boolean = m == Metric::jaccard || m == Metric::dice || m == Metric::kulsinski ||
                         m == Metric::rogerstanimoto || m == Metric::russellrao || m == Metric::sokalmichener ||
                         m == Metric::sokalsneath || m == Metric::yule || m == Metric::matching ||
                         m == Metric::hamming;
    for (std::size_t i = 0; i < x.size(); ++i) {
        float& v = x.data()[i];
        if (rng.uniform() < 0.4) v = 0.0f;
        if (boolean) v = v > 0.0f ? 1.0f : 0.0f;
        if (m == Metric::hellinger) v = std::abs(v);
    }
    if (m != Metric::haversine && m != Metric::mahalanobis && m != Metric::seuclidean)
        for (std::size_t i : {3u, 17u, 40u})
            if (i < n)
                for (std::size_t t = 0; t < d; ++t) x(i, t) = 0.0f;
    return x;
}

const std::vector<Metric>& all_metrics() {
    static const std::vector<Metric> m = {
        Metric::euclidean, Metric::cosine, Metric::sqeuclidean, Metric::manhattan, Metric::chebyshev,
        Metric::minkowski, Metric::wminkowski, Metric::seuclidean, Metric::mahalanobis, Metric::canberra,
        Metric::braycurtis, Metric::correlation, Metric::haversine, Metric::hellinger, Metric::hamming,
        Metric::matching, Metric::jaccard, Metric::dice, Metric::kulsinski, Metric::rogerstanimoto,
        Metric::russellrao, Metric::sokalmichener, Metric::sokalsneath, Metric::yule};
    return m;
}

KnnOptions opts(Metric m, KnnMethod method, int threads) {
    KnnOptions o;
    o.metric = m;
    o.method = method;
    o.n_threads = threads;
    if (m == Metric::minkowski) o.metric_params.p = 3.0;
    if (m == Metric::wminkowski) {
        o.metric_params.p = 1.5;
        o.metric_params.w = {1, 2, 0.5, 1, 3, 1};
    }
    return o;
}

std::size_t dims_for(Metric m) { return m == Metric::haversine ? 2 : 6; }

// The k nearest by a naive full scan of MetricEval (ties to the smaller index).
KnnGraph naive_self(MatrixView<float> x, const MetricSpec& spec, std::size_t k) {
    const MetricEval eval(spec);
    RowSet s;
    s.dense = x;
    KnnGraph g = KnnGraph::sized(x.rows, k, x.rows);
    for (std::size_t i = 0; i < x.rows; ++i) {
        std::vector<std::pair<double, index_t>> all;
        for (std::size_t j = 0; j < x.rows; ++j)
            if (j != i) all.emplace_back(eval(eval.row(s, i), eval.row(s, j)), static_cast<index_t>(j));
        std::sort(all.begin(), all.end());
        for (std::size_t t = 0; t < k; ++t) {
            g.indices[i * k + t] = all[t].second;
            g.distances[i * k + t] = static_cast<float>(all[t].first);
        }
    }
    return g;
}

} // namespace

TEST(KnnMetrics, ParseNamesAndAliases) {
    EXPECT_EQ(parse_metric("cityblock"), Metric::manhattan);
    EXPECT_EQ(parse_metric("L1"), Metric::manhattan);
    EXPECT_EQ(parse_metric("taxicab"), Metric::manhattan);
    EXPECT_EQ(parse_metric("linfinity"), Metric::chebyshev);
    EXPECT_EQ(parse_metric("infinity"), Metric::chebyshev);
    EXPECT_EQ(parse_metric("russelrao"), Metric::russellrao);
    EXPECT_EQ(parse_metric("weighted_minkowski"), Metric::wminkowski);
    EXPECT_EQ(parse_metric("standardised_euclidean"), Metric::seuclidean);
    EXPECT_EQ(parse_metric("dot"), Metric::inner_product);
    for (Metric m : all_metrics()) EXPECT_EQ(parse_metric(to_string(m)), m);
    try {
        parse_metric("manhatan");
        FAIL() << "no exception";
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("unknown metric 'manhatan'"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("braycurtis"), std::string::npos);
    }
}

TEST(KnnMetrics, ExactEqualsNaiveScanDenseAndSparseForEveryMetric) {
    const std::size_t n = 90, k = 7;
    for (Metric m : all_metrics()) {
        SCOPED_TRACE(to_string(m));
        const Matrix<float> x = metric_data(m, n, dims_for(m), 11);
        const KnnOptions o = opts(m, KnnMethod::exact, 2);
        const KnnGraph g = find_neighbors(x.view(), k, o);
        RowSet s;
        s.dense = x.view();
        const KnnGraph ref = naive_self(x.view(), resolve_metric(o.metric, o.metric_params, s), k);
        EXPECT_EQ(g.indices, ref.indices);
        EXPECT_EQ(g.distances, ref.distances);
        // d(x, x) = 0 and symmetry
        const MetricEval eval(resolve_metric(o.metric, o.metric_params, s));
        for (std::size_t i = 0; i < 12; ++i) {
            EXPECT_EQ(eval(eval.row(s, i), eval.row(s, i)), 0.0) << "row " << i;
            EXPECT_DOUBLE_EQ(eval(eval.row(s, i), eval.row(s, i + 1)), eval(eval.row(s, i + 1), eval.row(s, i)));
        }
        // CSR input: the same neighbours (the sums skip exact zeros only; correlation sums the zero columns in
        // one term, within a few ulps).
        const CsrData c = dense_to_csr(x.view());
        const KnnGraph gs = find_neighbors(c.view(), k, o);
        // correlation: distances within a few ulps can swap neighbours at a tie, so only the distances are compared
        if (m != Metric::correlation) {
            EXPECT_EQ(gs.indices, g.indices);
        }
        for (std::size_t t = 0; t < g.distances.size(); ++t)
            EXPECT_NEAR(gs.distances[t], g.distances[t], m == Metric::correlation ? 1e-6 : 0.0);
        // queries, dense and sparse, against both indexes
        const Matrix<float> q = metric_data(m, 20, dims_for(m), 99);
        const CsrData qc = dense_to_csr(q.view());
        const auto dense_index = build_knn_index(x.view(), o);
        const auto sparse_index = build_knn_index(c.view(), o);
        const KnnGraph a = dense_index->query(q.view(), k), b = sparse_index->query(qc.view(), k),
                       cq = dense_index->query(qc.view(), k), d = sparse_index->query(q.view(), k);
        if (m != Metric::correlation) {
            EXPECT_EQ(a.indices, b.indices);
            EXPECT_EQ(a.indices, d.indices);
        }
        EXPECT_EQ(a.indices, cq.indices);
    }
}

TEST(KnnMetrics, GenericExactIsIndependentOfThreads) {
    for (Metric m : {Metric::manhattan, Metric::correlation, Metric::jaccard}) {
        const Matrix<float> x = metric_data(m, 300, 8, 5);
        const KnnGraph a = find_neighbors(x.view(), 10, opts(m, KnnMethod::exact, 1));
        const KnnGraph b = find_neighbors(x.view(), 10, opts(m, KnnMethod::exact, 2));
        EXPECT_EQ(a.indices, b.indices);
        EXPECT_EQ(a.distances, b.distances);
    }
}

TEST(KnnMetrics, HnswRecallPerMetricFamily) {
    const std::size_t n = 1500, k = 10;
    for (Metric m : {Metric::manhattan, Metric::chebyshev, Metric::minkowski, Metric::canberra, Metric::braycurtis,
                     Metric::correlation, Metric::hellinger, Metric::jaccard, Metric::seuclidean}) {
        SCOPED_TRACE(to_string(m));
        const Matrix<float> x = metric_data(m, n, m == Metric::jaccard ? 24 : 8, 21);
        const KnnGraph exact = find_neighbors(x.view(), k, opts(m, KnnMethod::exact, 2));
        for (bool sparse : {false, true}) {
            const CsrData c = dense_to_csr(x.view());
            const KnnGraph approx = sparse ? find_neighbors(c.view(), k, opts(m, KnnMethod::hnsw, 2))
                                           : find_neighbors(x.view(), k, opts(m, KnnMethod::hnsw, 2));
            // recall by distance (ties: any point at the k-th distance counts)
            std::size_t hit = 0;
            for (std::size_t i = 0; i < n; ++i)
                for (std::size_t t = 0; t < k; ++t) hit += approx.distances[i * k + t] <= exact.distances[i * k + k - 1];
            EXPECT_GE(static_cast<double>(hit) / static_cast<double>(n * k), 0.95) << (sparse ? "sparse" : "dense");
        }
    }
}

TEST(KnnMetrics, CosineZeroRowsFollowUmapLearn) {
    // Three all-zero rows: each has the other two at distance 0 first; every other row is at distance 1 from them.
    Matrix<float> x = random_matrix(60, 5, 3);
    for (std::size_t i : {4u, 30u, 59u})
        for (std::size_t t = 0; t < 5; ++t) x(i, t) = 0.0f;
    for (KnnMethod method : {KnnMethod::exact, KnnMethod::hnsw}) {
        const KnnGraph g = find_neighbors(x.view(), 3, fit_knn_options(method, Metric::cosine, 0, 2));
        EXPECT_EQ(g.indices[4 * 3 + 0], 30);
        EXPECT_EQ(g.indices[4 * 3 + 1], 59);
        EXPECT_EQ(g.distances[4 * 3 + 0], 0.0f);
        EXPECT_EQ(g.distances[4 * 3 + 2], 1.0f);
        EXPECT_EQ(g.indices[30 * 3 + 0], 4);
    }
}

TEST(KnnMetrics, BadParametersAreRefused) {
    const Matrix<float> x = random_matrix(30, 3, 1);
    auto fails = [&](KnnOptions o, const std::string& needle) {
        try {
            find_neighbors(x.view(), 3, o);
            ADD_FAILURE() << "no exception for " << needle;
        } catch (const InvalidArgument& e) {
            EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
        }
    };
    KnnOptions o;
    o.metric = Metric::cosine;
    o.metric_params.p = 3;
    fails(o, "'p' is not a parameter of the cosine metric");
    o = {};
    o.metric = Metric::minkowski;
    o.metric_params.p = -1;
    fails(o, "p must be > 0");
    o.metric_params.p = 2;
    o.metric_params.w = {1, 2};
    fails(o, "w must have one weight per dimension (3)");
    o = {};
    o.metric = Metric::seuclidean;
    o.metric_params.V = {1, 0, 1};
    fails(o, "V[1] must be > 0");
    o = {};
    o.metric = Metric::mahalanobis;
    o.metric_params.VI = {1, 0, 0, 1};
    fails(o, "VI must be a 3 x 3 matrix");
    o = {};
    o.metric = Metric::haversine;
    fails(o, "haversine: the metric is defined for 2 columns");
    o = {};
    o.metric = Metric::hellinger;
    fails(o, "hellinger metric needs non-negative data");
    MetricParams mp;
    EXPECT_THROW(parse_metric_param(mp, "q=1"), InvalidArgument);
    EXPECT_THROW(parse_metric_param(mp, "p=abc"), InvalidArgument);
    parse_metric_param(mp, "w=1,2.5,3");
    EXPECT_EQ(mp.w, (std::vector<double>{1, 2.5, 3}));
    // malformed CSR
    const std::vector<std::int64_t> indptr{0, 2, 3};
    const std::vector<std::int32_t> idx{1, 0, 2};
    const std::vector<float> val{1, 2, 3};
    CsrView bad{2, 3, indptr.data(), idx.data(), val.data()};
    EXPECT_THROW(build_knn_index(bad, KnnOptions{}), InvalidArgument);
}

TEST(KnnMetrics, DefaultsAreScipys) {
    // seuclidean without V equals seuclidean with the column variances (ddof 1); minkowski p = 1 is manhattan.
    const Matrix<float> x = random_matrix(50, 4, 8, 3.0);
    RowSet s;
    s.dense = x.view();
    const MetricSpec def = resolve_metric(Metric::seuclidean, {}, s);
    for (std::size_t d = 0; d < 4; ++d) {
        double mean = 0, ss = 0;
        for (std::size_t i = 0; i < 50; ++i) mean += x(i, d) / 50.0;
        for (std::size_t i = 0; i < 50; ++i) ss += (x(i, d) - mean) * (x(i, d) - mean);
        EXPECT_NEAR(def.V[d], ss / 49.0, 1e-12 * ss);
    }
    MetricParams p1;
    p1.p = 1.0;
    const MetricEval mk(resolve_metric(Metric::minkowski, p1, s)), mh(resolve_metric(Metric::manhattan, {}, s));
    EXPECT_DOUBLE_EQ(mk(mk.row(s, 0), mk.row(s, 1)), mh(mh.row(s, 0), mh.row(s, 1)));
    // mahalanobis with the default VI: VI * cov = I
    const MetricSpec ms = resolve_metric(Metric::mahalanobis, {}, s);
    ASSERT_EQ(ms.VI.size(), 16u);
}
