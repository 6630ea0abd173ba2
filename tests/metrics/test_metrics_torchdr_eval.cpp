// TorchDR's evaluation functions (silhouette, k-NN label accuracy, neighbourhood preservation, k-means ARI) against
// direct dense implementations of their definitions and against numbers TorchDR 0.5 / scikit-learn printed for the
// same data (the data are a closed formula, so the Python side is one line: see each test).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "nembed/core/error.hpp"
#include "nembed/core/random.hpp"
#include "nembed/metrics/adjusted_rand.hpp"
#include "nembed/metrics/kmeans.hpp"
#include "nembed/metrics/knn_labels.hpp"
#include "nembed/metrics/neighborhood_preservation.hpp"
#include "nembed/metrics/quality.hpp"
#include "nembed/metrics/silhouette.hpp"

using namespace nembed;

namespace {

// X[i, j] = sin(1.3 i + 0.7 j) + 0.8 (i mod 3), labels i mod 3: in Python
//   X = np.array([[np.sin(1.3*i+0.7*j) + (i%3)*0.8 for j in range(3)] for i in range(40)]); l = np.arange(40) % 3
Matrix<double> formula_data(std::size_t N = 40, std::size_t D = 3) {
    Matrix<double> X(N, D);
    for (std::size_t i = 0; i < N; ++i)
        for (std::size_t j = 0; j < D; ++j)
            X(i, j) = std::sin(1.3 * static_cast<double>(i) + 0.7 * static_cast<double>(j)) +
                      static_cast<double>(i % 3) * 0.8;
    return X;
}
std::vector<std::int64_t> mod_labels(std::size_t N, std::int64_t m) {
    std::vector<std::int64_t> l(N);
    for (std::size_t i = 0; i < N; ++i) l[i] = static_cast<std::int64_t>(i) % m;
    return l;
}

// Gaussian blobs: label c has centre (sep * c, 0, ...).
Matrix<double> blobs(std::size_t N, std::size_t D, std::size_t C, double sep, std::uint64_t seed,
                     std::vector<std::int64_t>& labels) {
    Matrix<double> X(N, D);
    labels.resize(N);
    for (std::size_t i = 0; i < N; ++i) {
        Rng r(seed, i);
        labels[i] = static_cast<std::int64_t>(i % C);
        for (std::size_t j = 0; j < D; ++j) X(i, j) = r.normal() + (j == 0 ? sep * static_cast<double>(i % C) : 0.0);
    }
    return X;
}

Matrix<float> to_float(const Matrix<double>& A) {
    Matrix<float> B(A.rows(), A.cols());
    for (std::size_t t = 0; t < A.size(); ++t) B.data()[t] = static_cast<float>(A.data()[t]);
    return B;
}
Matrix<double> to_double(const Matrix<float>& A) {
    Matrix<double> B(A.rows(), A.cols());
    for (std::size_t t = 0; t < A.size(); ++t) B.data()[t] = static_cast<double>(A.data()[t]);
    return B;
}

// The silhouette straight from its definition on a dense distance matrix (weights w, 1 for uniform).
std::vector<double> dense_silhouette(const std::vector<std::vector<double>>& d, const std::vector<std::int64_t>& l,
                                     const std::vector<double>& w) {
    const std::size_t n = l.size();
    std::vector<double> s(n);
    for (std::size_t i = 0; i < n; ++i) {
        double intra = 0, wi = 0;
        std::size_t own = 0;
        std::vector<std::int64_t> others;
        for (std::size_t j = 0; j < n; ++j)
            if (l[j] == l[i]) {
                intra += w[j] * d[i][j];
                wi += w[j];
                ++own;
            } else if (std::find(others.begin(), others.end(), l[j]) == others.end()) {
                others.push_back(l[j]);
            }
        const double a = own > 1 ? intra / (wi - w[i]) : 0.0;
        double b = INFINITY;
        for (std::int64_t c : others) {
            double sum = 0, wc = 0;
            for (std::size_t j = 0; j < n; ++j)
                if (l[j] == c) {
                    sum += w[j] * d[i][j];
                    wc += w[j];
                }
            b = std::min(b, sum / wc);
        }
        s[i] = (b - a) / std::max(a, b);
    }
    return s;
}

template <typename F>
std::vector<std::vector<double>> dense_distances(const Matrix<double>& X, F&& f) {
    std::vector<std::vector<double>> d(X.rows(), std::vector<double>(X.rows()));
    for (std::size_t i = 0; i < X.rows(); ++i)
        for (std::size_t j = 0; j < X.rows(); ++j) d[i][j] = f(X.row(i), X.row(j), X.cols());
    return d;
}

double eucl(const double* a, const double* b, std::size_t D) {
    double s = 0;
    for (std::size_t c = 0; c < D; ++c) s += (a[c] - b[c]) * (a[c] - b[c]);
    return std::sqrt(s);
}
double manh(const double* a, const double* b, std::size_t D) {
    double s = 0;
    for (std::size_t c = 0; c < D; ++c) s += std::abs(a[c] - b[c]);
    return s;
}
double hyper(const double* a, const double* b, std::size_t D) {
    double na = 0, nb = 0, s = 0;
    for (std::size_t c = 0; c < D; ++c) {
        na += a[c] * a[c];
        nb += b[c] * b[c];
        s += (a[c] - b[c]) * (a[c] - b[c]);
    }
    return std::acosh(1 + 2 * s / ((1 - na) * (1 - nb)));
}

void expect_all_near(const std::vector<double>& a, const std::vector<double>& b, double tol) {
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], tol) << "i = " << i;
}

} // namespace

TEST(Silhouette, MatchesTheDenseDefinitionForEveryMetric) {
    Matrix<double> X = formula_data(37, 4);
    auto l = mod_labels(37, 4);
    l[5] = 9;  // a singleton cluster: TorchDR's a = 0 rule
    const std::vector<double> ones(37, 1.0);
    expect_all_near(silhouette_samples(X.view(), l), dense_silhouette(dense_distances(X, eucl), l, ones), 1e-12);
    expect_all_near(silhouette_samples(X.view(), l, nullptr, SilhouetteMetric::manhattan),
                    dense_silhouette(dense_distances(X, manh), l, ones), 1e-12);
    EXPECT_EQ(silhouette_samples(X.view(), l)[5], 1.0);
    // Precomputed: the Euclidean distance matrix gives the Euclidean coefficients.
    const auto d = dense_distances(X, eucl);
    Matrix<double> Dm(37, 37);
    for (std::size_t i = 0; i < 37; ++i)
        for (std::size_t j = 0; j < 37; ++j) Dm(i, j) = d[i][j];
    expect_all_near(silhouette_samples(Dm.view(), l, nullptr, SilhouetteMetric::precomputed),
                    silhouette_samples(X.view(), l), 1e-12);
    // Hyperbolic: the data scaled into the unit ball.
    Matrix<double> H = X;
    for (std::size_t t = 0; t < H.size(); ++t) H.data()[t] *= 0.2;
    expect_all_near(silhouette_samples(H.view(), l, nullptr, SilhouetteMetric::hyperbolic),
                    dense_silhouette(dense_distances(H, hyper), l, ones), 1e-12);
}

TEST(Silhouette, WeightedMeansAndUniformWeights) {
    Matrix<double> X = formula_data(31, 3);
    const auto l = mod_labels(31, 3);
    std::vector<double> w(31);
    for (std::size_t i = 0; i < 31; ++i) w[i] = 1.0 + 0.25 * static_cast<double>(i % 5);
    expect_all_near(silhouette_samples(X.view(), l, &w), dense_silhouette(dense_distances(X, eucl), l, w), 1e-12);
    const std::vector<double> c(31, 0.3);  // constant weights cancel
    expect_all_near(silhouette_samples(X.view(), l, &c), silhouette_samples(X.view(), l), 1e-12);
}

TEST(Silhouette, TorchdrAndScikitLearnValues) {
    // TorchDR 0.5 silhouette_score (float64) and scikit-learn's silhouette_score on formula_data():
    // euclidean 0.019683523133795917 (scikit-learn 0.01968352327802001), manhattan 0.023489708009501235.
    Matrix<double> X = formula_data();
    auto l = mod_labels(40, 3);
    // TorchDR's Euclidean distances go through |x|^2 + |y|^2 - 2 x.y (cancellation: ~1e-10 here); nembed sums
    // (x - y)^2 directly, as scikit-learn does.
    EXPECT_NEAR(silhouette_score(X.view(), l), 0.019683523133795917, 1e-9);
    EXPECT_NEAR(silhouette_score(X.view(), l), 0.01968352327802001, 1e-15);
    EXPECT_NEAR(silhouette_score(X.view(), l, nullptr, SilhouetteMetric::manhattan), 0.023489708009501235, 1e-13);
    l[0] = 7;  // a singleton: TorchDR gives it 1, scikit-learn 0
    EXPECT_NEAR(silhouette_score(X.view(), l), -0.09644857435473453, 1e-9);
}

TEST(Silhouette, SeparatedBlobsScoreNearOne) {
    std::vector<std::int64_t> l;
    Matrix<double> X = blobs(300, 2, 2, 100.0, 3, l);
    const double s = silhouette_score(X.view(), l);
    EXPECT_GT(s, 0.97);
    EXPECT_LE(s, 1.0);
}

TEST(Silhouette, ThreadsAndSubsample) {
    std::vector<std::int64_t> l;
    Matrix<double> X = blobs(500, 5, 4, 2.0, 7, l);
    const auto s1 = silhouette_samples(X.view(), l, nullptr, SilhouetteMetric::euclidean, 1);
    const auto s3 = silhouette_samples(X.view(), l, nullptr, SilhouetteMetric::euclidean, 3);
    EXPECT_EQ(s1, s3);
    const double full = silhouette_score(X.view(), l);
    EXPECT_EQ(silhouette_score(X.view(), l, nullptr, SilhouetteMetric::euclidean, 500, 4), full);
    const double a = silhouette_score(X.view(), l, nullptr, SilhouetteMetric::euclidean, 200, 4, 1);
    EXPECT_EQ(a, silhouette_score(X.view(), l, nullptr, SilhouetteMetric::euclidean, 200, 4, 3));
    EXPECT_NE(a, silhouette_score(X.view(), l, nullptr, SilhouetteMetric::euclidean, 200, 5, 1));
    EXPECT_NEAR(a, full, 0.1);
}

TEST(Silhouette, BadInput) {
    Matrix<double> X = formula_data();
    const auto l = mod_labels(40, 3);
    EXPECT_THROW(silhouette_score(X.view(), mod_labels(39, 3)), InvalidArgument);
    EXPECT_THROW(silhouette_score(X.view(), std::vector<std::int64_t>(40, 2)), InvalidArgument);  // one cluster
    EXPECT_THROW(silhouette_score(X.view(), l, nullptr, SilhouetteMetric::precomputed), InvalidArgument);
    EXPECT_THROW(silhouette_score(X.view(), l, nullptr, SilhouetteMetric::hyperbolic), InvalidArgument);
    EXPECT_THROW(silhouette_score(X.view(), l, nullptr, SilhouetteMetric::euclidean, 41), InvalidArgument);
    const std::vector<double> short_w(39, 1.0), neg_w(40, -1.0);
    EXPECT_THROW(silhouette_score(X.view(), l, &short_w), InvalidArgument);
    EXPECT_THROW(silhouette_score(X.view(), l, &neg_w), InvalidArgument);
    EXPECT_THROW(parse_silhouette_metric("cosine"), InvalidArgument);
    EXPECT_EQ(parse_silhouette_metric("Manhattan"), SilhouetteMetric::manhattan);
}

TEST(KnnLabelAccuracy, DenseDefinitionAndTorchdrValues) {
    Matrix<double> X = formula_data();
    const auto l = mod_labels(40, 3);
    // TorchDR 0.5 knn_label_accuracy(X, l, k=5, backend=None): 0.48500004410743713 (float32 mean), and with
    // exclude_self=False 0.5949999690055847.
    EXPECT_NEAR(knn_label_accuracy(X.view(), l, 5), 0.485, 1e-15);
    EXPECT_NEAR(knn_label_accuracy(X.view(), l, 5, false), 0.595, 1e-15);
    // Direct: sort every other point by (distance, index).
    const auto d = dense_distances(X, eucl);
    const auto per = knn_label_accuracy_per_sample(X.view(), l, 5);
    for (std::size_t i = 0; i < 40; ++i) {
        std::vector<std::size_t> o;
        for (std::size_t j = 0; j < 40; ++j)
            if (j != i) o.push_back(j);
        std::sort(o.begin(), o.end(), [&](std::size_t a, std::size_t b) {
            return d[i][a] != d[i][b] ? d[i][a] < d[i][b] : a < b;
        });
        double m = 0;
        for (std::size_t a = 0; a < 5; ++a) m += l[o[a]] == l[i] ? 1 : 0;
        EXPECT_EQ(per[i], m / 5) << "i = " << i;
    }
    std::vector<std::int64_t> lb;
    Matrix<double> B = blobs(400, 3, 4, 2.0, 5, lb);
    EXPECT_EQ(knn_label_accuracy(B.view(), lb, 10, true, 1), knn_label_accuracy(B.view(), lb, 10, true, 3));
}

TEST(KnnLabelAccuracy, BadInput) {
    Matrix<double> X = formula_data();
    EXPECT_THROW(knn_label_accuracy(X.view(), mod_labels(39, 3)), InvalidArgument);
    EXPECT_THROW(knn_label_accuracy(X.view(), mod_labels(40, 3), 40), InvalidArgument);
    EXPECT_THROW(knn_label_accuracy(X.view(), mod_labels(40, 3), 0), InvalidArgument);
}

TEST(NeighborhoodPreservation, IdentityHandCaseAndTorchdrValue) {
    Matrix<double> X = formula_data();
    const Matrix<float> Xf = to_float(X);
    EXPECT_EQ(neighborhood_preservation(Xf.view(), to_double(Xf).view(), 5), 1.0);
    // TorchDR 0.5 neighborhood_preservation(X.astype(float32), X[:, :2], K=5) = 0.7249999642372131 (float32).
    Matrix<double> Z(40, 2);
    for (std::size_t i = 0; i < 40; ++i) Z(i, 0) = X(i, 0), Z(i, 1) = X(i, 1);
    EXPECT_NEAR(neighborhood_preservation(Xf.view(), Z.view(), 5), 0.725, 1e-15);
    // It is knn_recall, bit for bit, for any thread count.
    EXPECT_EQ(neighborhood_preservation(Xf.view(), Z.view(), 5, 1), knn_recall(Xf.view(), Z.view(), 5, 1));
    EXPECT_EQ(neighborhood_preservation(Xf.view(), Z.view(), 7, 3), knn_recall(Xf.view(), Z.view(), 7, 1));
    // By hand, K = 1: X on a line at 0, 1, 3, 7 (nearest: 1, 0, 1, 2); Z at 0, 1, 10, 3 (nearest: 1, 0, 3, 1).
    Matrix<float> Xh(4, 1, std::vector<float>{0, 1, 3, 7});
    Matrix<double> Zh(4, 1, std::vector<double>{0, 1, 10, 3});
    EXPECT_EQ(neighborhood_preservation_per_sample(Xh.view(), Zh.view(), 1), (std::vector<double>{1, 1, 0, 0}));
    EXPECT_EQ(neighborhood_preservation(Xh.view(), Zh.view(), 1), 0.5);
}

TEST(NeighborhoodPreservation, BadInput) {
    Matrix<float> X = to_float(formula_data());
    Matrix<double> Z = formula_data(39, 2);
    EXPECT_THROW(neighborhood_preservation(X.view(), Z.view(), 5), InvalidArgument);
    Matrix<double> Z2 = formula_data(40, 2);
    EXPECT_THROW(neighborhood_preservation(X.view(), Z2.view(), 40), InvalidArgument);
    EXPECT_THROW(neighborhood_preservation(X.view(), Z2.view(), 0), InvalidArgument);
}

TEST(AdjustedRand, KnownTables) {
    const std::vector<std::int64_t> a{0, 0, 0, 1, 1, 1, 2, 2, 2, 2}, b{0, 0, 1, 1, 1, 2, 2, 2, 0, 0};
    EXPECT_EQ(adjusted_rand_score(a, a), 1.0);
    EXPECT_EQ(adjusted_rand_score(a, std::vector<std::int64_t>{5, 5, 5, -1, -1, -1, 3, 3, 3, 3}), 1.0);  // renamed
    // scikit-learn's adjusted_rand_score: 0.09090909090909091 and -0.5.
    EXPECT_NEAR(adjusted_rand_score(a, b), 0.09090909090909091, 1e-15);
    EXPECT_NEAR(adjusted_rand_score(b, a), 0.09090909090909091, 1e-15);
    EXPECT_NEAR(adjusted_rand_score({0, 0, 1, 1}, {0, 1, 0, 1}), -0.5, 1e-15);
    EXPECT_EQ(adjusted_rand_score({3, 3, 3}, {1, 1, 1}), 1.0);
    EXPECT_THROW(adjusted_rand_score(a, {0, 1}), InvalidArgument);
    EXPECT_THROW(adjusted_rand_score({}, {}), InvalidArgument);
}

TEST(KMeans, DeterministicThreadIndependentAndALloydFixedPoint) {
    std::vector<std::int64_t> l;
    Matrix<double> X = blobs(3000, 4, 5, 1.5, 11, l);
    KMeansOptions o;
    o.n_clusters = 5;
    o.nredo = 2;
    o.seed = 42;
    o.niter = 500;  // enough to converge: then the centroids are the means of their points
    o.n_threads = 1;
    const KMeansResult r1 = kmeans(X.view(), o);
    o.n_threads = 3;
    const KMeansResult r3 = kmeans(X.view(), o);
    EXPECT_EQ(r1.labels, r3.labels);
    EXPECT_EQ(r1.centroids.storage(), r3.centroids.storage());
    EXPECT_EQ(r1.objective, r3.objective);
    // The objective is the inertia of the returned labels, each label the nearest centroid.
    double obj = 0;
    for (std::size_t i = 0; i < 3000; ++i) {
        double best = INFINITY;
        std::size_t arg = 0;
        for (std::size_t c = 0; c < 5; ++c) {
            double s = 0;
            for (std::size_t j = 0; j < 4; ++j) s += (X(i, j) - r1.centroids(c, j)) * (X(i, j) - r1.centroids(c, j));
            if (s < best) best = s, arg = c;
        }
        EXPECT_EQ(static_cast<std::size_t>(r1.labels[i]), arg);
        obj += best;
    }
    EXPECT_NEAR(r1.objective, obj, 1e-9 * obj);
    ASSERT_LT(r1.n_iter, o.niter);
    {
        for (std::size_t c = 0; c < 5; ++c) {
            std::vector<double> m(4, 0.0);
            double n = 0;
            for (std::size_t i = 0; i < 3000; ++i)
                if (r1.labels[i] == static_cast<std::int64_t>(c)) {
                    for (std::size_t j = 0; j < 4; ++j) m[j] += X(i, j);
                    n += 1;
                }
            for (std::size_t j = 0; j < 4; ++j) EXPECT_NEAR(r1.centroids(c, j), m[j] / n, 1e-9);
        }
    }
    o.seed = 43;
    EXPECT_NE(kmeans(X.view(), o).centroids.storage(), r1.centroids.storage());
}

TEST(KMeans, SeparatedBlobsGiveAriOne) {
    std::vector<std::int64_t> l;
    Matrix<double> X = blobs(600, 2, 3, 50.0, 2, l);
    KMeansOptions o;
    o.seed = 1;
    const KMeansAri r = kmeans_ari(X.view(), l, o);  // n_clusters from the labels
    EXPECT_EQ(r.ari, 1.0);
    EXPECT_EQ(r.predicted.size(), 600u);
}

TEST(KMeans, BadInput) {
    Matrix<double> X = formula_data();
    KMeansOptions o;
    EXPECT_THROW(kmeans(X.view(), o), InvalidArgument);  // n_clusters 0
    o.n_clusters = 41;
    EXPECT_THROW(kmeans(X.view(), o), InvalidArgument);
    o.n_clusters = 3;
    o.niter = 0;
    EXPECT_THROW(kmeans(X.view(), o), InvalidArgument);
    o.niter = 20;
    EXPECT_THROW(kmeans_ari(X.view(), mod_labels(39, 3), o), InvalidArgument);
}
