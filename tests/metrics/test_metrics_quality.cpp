// Quality metrics against direct O(N^2) implementations of their definitions.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "nembed/core/error.hpp"
#include "nembed/core/random.hpp"
#include "nembed/core/sparse.hpp"
#include "nembed/init/pca.hpp"
#include "nembed/io/load.hpp"
#include "nembed/metrics/quality.hpp"
#include "nembed/neighbors/knn.hpp"

using namespace nembed;

namespace {

Matrix<float> gaussian(std::size_t N, std::size_t D, std::uint64_t seed, double offset = 0.0) {
    Matrix<float> X(N, D);
    for (std::size_t i = 0; i < N; ++i) {
        Rng r(seed, i);
        for (std::size_t j = 0; j < D; ++j) X(i, j) = static_cast<float>(offset + r.normal() / (1.0 + 0.3 * j));
    }
    return X;
}

template <typename T>
double sqd(MatrixView<T> A, std::size_t i, std::size_t j) {
    double s = 0;
    for (std::size_t c = 0; c < A.cols; ++c) {
        double t = static_cast<double>(A(i, c)) - static_cast<double>(A(j, c));
        s += t * t;
    }
    return s;
}

// Row i: the other points sorted by (distance, index).
template <typename T>
std::vector<std::vector<std::size_t>> full_order(MatrixView<T> A) {
    const std::size_t n = A.rows;
    std::vector<std::vector<std::size_t>> ord(n);
    for (std::size_t i = 0; i < n; ++i) {
        std::vector<double> d(n);
        for (std::size_t j = 0; j < n; ++j) d[j] = sqd(A, i, j);
        for (std::size_t j = 0; j < n; ++j)
            if (j != i) ord[i].push_back(j);
        std::sort(ord[i].begin(), ord[i].end(), [&](std::size_t a, std::size_t b) {
            return d[a] != d[b] ? d[a] < d[b] : a < b;
        });
    }
    return ord;
}

// scikit-learn's trustworthiness and plain recall, directly; `queries` empty = all points.
void oracle(MatrixView<float> X, MatrixView<double> Y, std::size_t k, std::vector<std::size_t> queries,
            double& trust, double& recall) {
    const std::size_t n = X.rows;
    auto hx = full_order(X), ly = full_order(Y);
    if (queries.empty()) {
        queries.resize(n);
        std::iota(queries.begin(), queries.end(), 0);
    }
    double pen = 0, hits = 0;
    for (std::size_t i : queries) {
        std::vector<std::size_t> rank(n, 0);
        for (std::size_t r = 0; r < n - 1; ++r) rank[hx[i][r]] = r + 1;
        for (std::size_t a = 0; a < k; ++a) {
            std::size_t j = ly[i][a];
            if (rank[j] > k) pen += static_cast<double>(rank[j] - k);
            else hits += 1;
        }
    }
    const double m = static_cast<double>(queries.size()), kd = static_cast<double>(k), nd = static_cast<double>(n);
    trust = 1.0 - 2.0 / (m * kd * (2 * nd - 3 * kd - 1)) * pen;
    recall = hits / (m * kd);
}

Matrix<double> project2(MatrixView<float> X, double noise, std::uint64_t seed) {
    Matrix<double> Y(X.rows, 2);
    for (std::size_t i = 0; i < X.rows; ++i) {
        Rng r(seed, i);
        Y(i, 0) = X(i, 0) + noise * r.normal();
        Y(i, 1) = X(i, 1) + noise * r.normal();
    }
    return Y;
}

} // namespace

TEST(MetricsTrust, EqualsDirectScikitLearnFormula) {
    Matrix<float> X = gaussian(300, 10, 1);
    for (double noise : {0.0, 0.5, 5.0}) {
        Matrix<double> Y = project2(X.view(), noise, 2);
        for (std::size_t k : {1u, 5u, 12u}) {
            double t, r;
            oracle(X.view(), Y.view(), k, {}, t, r);
            EXPECT_NEAR(trustworthiness(X.view(), Y.view(), k, 2), t, 1e-12) << noise << " " << k;
            EXPECT_NEAR(knn_recall(X.view(), Y.view(), k, 3), r, 1e-12) << noise << " " << k;
        }
    }
}

TEST(MetricsTrust, ExactWithTiesAndLargeOffsets) {
    // Integer coordinates: many exactly tied distances in both spaces (ties go to the smaller index).
    Matrix<float> X(250, 3);
    Matrix<double> Y(250, 2);
    for (std::size_t i = 0; i < 250; ++i) {
        Rng r(7, i);
        for (std::size_t c = 0; c < 3; ++c) X(i, c) = static_cast<float>(r.below(4));
        Y(i, 0) = static_cast<double>(r.below(5));
        Y(i, 1) = X(i, 0);
    }
    double t, r;
    oracle(X.view(), Y.view(), 7, {}, t, r);
    EXPECT_NEAR(trustworthiness(X.view(), Y.view(), 7, 2), t, 1e-12);
    EXPECT_NEAR(knn_recall(X.view(), Y.view(), 7, 2), r, 1e-12);
    // Points far from the origin: the float GEMM screen loses most digits, the exact fallback must decide.
    Matrix<float> F = gaussian(200, 20, 3, 1000.0);
    Matrix<double> YF = project2(F.view(), 0.3, 4);
    oracle(F.view(), YF.view(), 10, {}, t, r);
    EXPECT_NEAR(trustworthiness(F.view(), YF.view(), 10, 2), t, 1e-12);
    EXPECT_NEAR(knn_recall(F.view(), YF.view(), 10, 1), r, 1e-12);
}

TEST(MetricsTrust, ExactAtExtremeOffsetsAndScales) {
    // Issue #19 item 3: offset 1e4, data x 1e36 (float GEMM squares overflowed) and x 1e-40 (denormal) must give
    // the oracle's values (computed in double from the same float data), to rounding.
    const Matrix<float> G = gaussian(300, 12, 21);
    const Matrix<double> Y = project2(G.view(), 0.5, 22);
    for (const auto& [mul, add] : {std::pair{1.0, 1e4}, std::pair{1e36, 0.0}, std::pair{1e-40, 0.0}}) {
        Matrix<float> X(G.rows(), G.cols());
        for (std::size_t i = 0; i < X.size(); ++i) X.data()[i] = static_cast<float>(G.data()[i] * mul + add);
        double t, r;
        oracle(X.view(), Y.view(), 10, {}, t, r);
        EXPECT_NEAR(trustworthiness(X.view(), Y.view(), 10, 2), t, 1e-12) << mul << " " << add;
        EXPECT_NEAR(knn_recall(X.view(), Y.view(), 10, 2), r, 1e-12) << mul << " " << add;
        EXPECT_GT(r, 0.1);  // the oracle itself sees a real score (0.135)
    }
}

TEST(MetricsTrust, SubsampleUsesTheSameDefinitionOnItsQueries) {
    Matrix<float> X = gaussian(400, 8, 5);
    Matrix<double> Y = project2(X.view(), 0.7, 6);
    const double full = trustworthiness(X.view(), Y.view(), 10, 2);
    const double sub = trustworthiness(X.view(), Y.view(), 10, 2, 120, 9);
    EXPECT_NE(full, sub);
    EXPECT_NEAR(full, sub, 0.03);
    EXPECT_EQ(sub, trustworthiness(X.view(), Y.view(), 10, 1, 120, 9));
    EXPECT_EQ(full, trustworthiness(X.view(), Y.view(), 10, 2, 400, 9));  // max_points >= N: all points
}

TEST(MetricsTrust, IsometricEmbeddingScoresOne) {
    Matrix<float> X = gaussian(500, 2, 8);
    Matrix<double> Y(500, 2);
    const double c = std::cos(0.7), s = std::sin(0.7);
    for (std::size_t i = 0; i < 500; ++i) {
        Y(i, 0) = 3.5 * (c * X(i, 0) - s * X(i, 1)) + 10;
        Y(i, 1) = 3.5 * (s * X(i, 0) + c * X(i, 1)) - 4;
    }
    EXPECT_DOUBLE_EQ(trustworthiness(X.view(), Y.view(), 10, 2), 1.0);
    EXPECT_DOUBLE_EQ(knn_recall(X.view(), Y.view(), 10, 2), 1.0);
    KnnOptions ko;
    ko.method = KnnMethod::exact;
    KnnGraph g = find_neighbors(X.view(), 15, ko);
    EXPECT_DOUBLE_EQ(knn_recall(g, Y.view(), 10, 2), 1.0);
    EXPECT_DOUBLE_EQ(distance_spearman(X.view(), Y.view(), 20000, 1), 1.0);
}

TEST(MetricsRecall, GraphOverloadAgreesWithRankOverload) {
    Matrix<float> X = gaussian(300, 6, 10);
    Matrix<double> Y = project2(X.view(), 0.8, 11);
    KnnOptions ko;
    ko.method = KnnMethod::exact;
    KnnGraph g = find_neighbors(X.view(), 20, ko);
    double t, r;
    oracle(X.view(), Y.view(), 10, {}, t, r);
    EXPECT_NEAR(knn_recall(g, Y.view(), 10, 2), r, 1e-12);
    EXPECT_NEAR(knn_recall(X.view(), Y.view(), 10, 2), r, 1e-12);
    EXPECT_THROW(knn_recall(g, Y.view(), 21, 1), InvalidArgument);  // graph has only 20
    Matrix<double> Ybad = project2(gaussian(299, 6, 10).view(), 0.1, 1);
    EXPECT_THROW(knn_recall(g, Ybad.view(), 10, 1), InvalidArgument);
}

TEST(MetricsAccuracy, SeparableLabelsAndTieRule) {
    // Three well separated blobs.
    Matrix<double> Y(300, 2);
    std::vector<std::int64_t> lab(300);
    for (std::size_t i = 0; i < 300; ++i) {
        Rng r(12, i);
        lab[i] = static_cast<std::int64_t>(i % 3) * 5 - 3;
        Y(i, 0) = 100.0 * static_cast<double>(i % 3) + r.normal();
        Y(i, 1) = r.normal();
    }
    EXPECT_DOUBLE_EQ(knn_accuracy(Y.view(), lab, 10, 2), 1.0);
    // Labels shuffled among classes: 1/3 expected; an exact value follows from the direct vote.
    // Tie rule on a line: points at 0, 1, 2, 3.5, 10: point 0's 2 neighbours are 1 (label A) and 2 (label B):
    // tie -> nearest (A).
    Matrix<double> L(5, 1, std::vector<double>{0, 1, 2, 3.5, 10});
    std::vector<std::int64_t> ll = {7, 7, 9, 9, 9};
    // point0: nb 1(7),2(9) tie -> 7 correct; point1: nb 0(7),2(9) tie -> 7 (0 and 2 equidistant, 0 first) correct;
    // point2: nb 1(7),3(9): tie -> 7 wrong; point3: nb 2(9),1(7) -> 9 correct; point4: nb 3(9),2(9) -> 9 correct.
    EXPECT_DOUBLE_EQ(knn_accuracy(L.view(), ll, 2, 1), 4.0 / 5.0);
    EXPECT_THROW(knn_accuracy(L.view(), {1, 2, 3}, 2, 1), InvalidArgument);
    EXPECT_THROW(knn_accuracy(L.view(), ll, 5, 1), InvalidArgument);
    EXPECT_THROW(knn_accuracy(L.view(), ll, 0, 1), InvalidArgument);
}

TEST(MetricsSpearman, RankCorrelation) {
    Matrix<float> X = gaussian(400, 3, 13);
    Matrix<double> Y = convert<double>(X.view());
    for (double& v : Y.storage()) v *= 0.01;
    EXPECT_NEAR(distance_spearman(X.view(), Y.view(), 5000, 2, 1), 1.0, 1e-12);
    Matrix<double> R = project2(gaussian(400, 3, 99).view(), 0.0, 1);  // unrelated
    const double rho = distance_spearman(X.view(), R.view(), 20000, 3, 2);
    EXPECT_LT(std::abs(rho), 0.05);
    EXPECT_EQ(rho, distance_spearman(X.view(), R.view(), 20000, 3, 1));  // thread-count independent
    Matrix<double> C(400, 2, 1.0);
    EXPECT_THROW(distance_spearman(X.view(), C.view(), 1000, 1), InvalidArgument);
    EXPECT_THROW(distance_spearman(X.view(), Y.view(), 1, 1), InvalidArgument);
}

TEST(MetricsKl, EqualsDenseComputation) {
    const std::size_t N = 120;
    Matrix<double> Y(N, 2);
    std::vector<Triplet<double>> t;
    for (std::size_t i = 0; i < N; ++i) {
        Rng r(20, i);
        Y(i, 0) = 3 * r.normal();
        Y(i, 1) = 3 * r.normal();
        for (int e = 0; e < 6; ++e) {
            auto j = static_cast<index_t>(r.below(N));
            if (static_cast<std::size_t>(j) == i) continue;
            double w = r.uniform() + 0.1;
            t.push_back({static_cast<index_t>(i), j, w});
            t.push_back({j, static_cast<index_t>(i), w});
        }
    }
    CsrMatrix<double> P = csr_from_triplets(N, N, t);
    for (double dof : {1.0, 0.5, 3.0}) {
        std::vector<double> W(N * N, 0.0);
        double Z = 0;
        for (std::size_t i = 0; i < N; ++i)
            for (std::size_t j = 0; j < N; ++j)
                if (i != j) {
                    W[i * N + j] = std::pow(1 + sqd(Y.view(), i, j) / dof, -dof);
                    Z += W[i * N + j];
                }
        const double S = P.sum();
        double kl = 0;
        for (std::size_t i = 0; i < N; ++i)
            for (std::size_t j = 0; j < N; ++j) {
                double p = P.at(i, static_cast<index_t>(j)) / S;
                if (p > 0) kl += p * std::log(p / (W[i * N + j] / Z));
            }
        EXPECT_NEAR(kl_divergence_exact(P, Y.view(), dof, 2), kl, 1e-10 * std::abs(kl)) << dof;
    }
    CsrMatrix<double> P12 = P;
    for (double& v : P12.values) v *= 12;
    EXPECT_NEAR(kl_divergence_exact(P12, Y.view(), 1.0, 1), kl_divergence_exact(P, Y.view(), 1.0, 3), 1e-12);
    EXPECT_EQ(kl_divergence_exact(P, Y.view(), 1.0, 1), kl_divergence_exact(P, Y.view(), 1.0, 2));

    EXPECT_THROW(kl_divergence_exact(P, Y.view(), 0.0, 1), InvalidArgument);
    Matrix<double> Ys(N - 1, 2);
    EXPECT_THROW(kl_divergence_exact(P, Ys.view(), 1.0, 1), InvalidArgument);
    CsrMatrix<double> Pd = csr_from_triplets(N, N, std::vector<Triplet<double>>{{3, 3, 0.5}, {1, 2, 0.5}});
    EXPECT_THROW(kl_divergence_exact(Pd, Y.view(), 1.0, 1), InvalidArgument);
    CsrMatrix<double> Pn = P;
    Pn.values[0] = -1;
    EXPECT_THROW(kl_divergence_exact(Pn, Y.view(), 1.0, 1), InvalidArgument);
    CsrMatrix<double> Pz = csr_from_triplets(N, N, std::vector<Triplet<double>>{});
    EXPECT_THROW(kl_divergence_exact(Pz, Y.view(), 1.0, 1), InvalidArgument);
    Matrix<double> Ynan = Y;
    Ynan(4, 1) = std::numeric_limits<double>::quiet_NaN();
    EXPECT_THROW(kl_divergence_exact(P, Ynan.view(), 1.0, 1), InvalidArgument);
}

TEST(MetricsEvaluate, CombinesTheMetricsAndChecksInputs) {
    Matrix<float> X = gaussian(300, 5, 30);
    Matrix<double> Y = project2(X.view(), 0.4, 31);
    std::vector<std::int64_t> lab(300);
    for (std::size_t i = 0; i < 300; ++i) lab[i] = X(i, 0) > 0 ? 1 : 0;
    KnnOptions ko;
    ko.method = KnnMethod::exact;
    KnnGraph g = find_neighbors(X.view(), 10, ko);
    std::vector<Triplet<double>> t;
    for (std::size_t i = 0; i < 300; ++i)
        for (std::size_t a = 0; a < 10; ++a) {
            t.push_back({static_cast<index_t>(i), g.neighbors(i)[a], 1.0});
            t.push_back({g.neighbors(i)[a], static_cast<index_t>(i), 1.0});
        }
    CsrMatrix<double> P = csr_from_triplets(300, 300, t);
    QualityOptions o;
    o.n_threads = 2;
    o.n_pairs = 5000;
    o.seed = 4;
    QualityReport r = evaluate(X.view(), Y.view(), &lab, &P, o);
    EXPECT_EQ(r.knn_recall, knn_recall(X.view(), Y.view(), 10, 1));
    EXPECT_EQ(r.trustworthiness, trustworthiness(X.view(), Y.view(), 10, 1));
    EXPECT_EQ(r.distance_spearman, distance_spearman(X.view(), Y.view(), 5000, 4, 1));
    ASSERT_TRUE(r.knn_accuracy && r.kl);
    EXPECT_EQ(*r.knn_accuracy, knn_accuracy(Y.view(), lab, 10, 1));
    EXPECT_EQ(*r.kl, kl_divergence_exact(P, Y.view(), 1.0, 1));
    EXPECT_GT(*r.knn_accuracy, 0.7);  // labels = sign of x0, embedding noise 0.4
    const std::string s = r.to_string();
    for (const char* name : {"knn_recall@10", "trustworthiness@10", "distance_spearman", "knn_accuracy@10", "kl_"})
        EXPECT_NE(s.find(name), std::string::npos) << name;

    o.k_recall = 5;  // separate passes
    QualityReport r2 = evaluate(X.view(), Y.view(), nullptr, nullptr, o);
    EXPECT_EQ(r2.knn_recall, knn_recall(X.view(), Y.view(), 5, 1));
    EXPECT_EQ(r2.trustworthiness, r.trustworthiness);
    EXPECT_FALSE(r2.knn_accuracy || r2.kl);

    std::vector<std::int64_t> short_lab(299);
    EXPECT_THROW(evaluate(X.view(), Y.view(), &short_lab, nullptr, o), InvalidArgument);
    Matrix<double> Ys = project2(gaussian(200, 5, 1).view(), 0.1, 1);
    EXPECT_THROW(evaluate(X.view(), Ys.view(), nullptr, nullptr, o), InvalidArgument);
    QualityOptions bad = o;
    bad.k_trust = 150;  // >= N / 2
    EXPECT_THROW(evaluate(X.view(), Y.view(), nullptr, nullptr, bad), InvalidArgument);
    bad = o;
    bad.k_recall = 300;
    EXPECT_THROW(evaluate(X.view(), Y.view(), nullptr, nullptr, bad), InvalidArgument);
    EXPECT_THROW(trustworthiness(X.view(), Y.view(), 0, 1), InvalidArgument);
    EXPECT_THROW(knn_recall(X.view(), Y.view(), 300, 1), InvalidArgument);
    Matrix<float> Xnan = X;
    Xnan(2, 2) = std::numeric_limits<float>::infinity();
    EXPECT_THROW(trustworthiness(Xnan.view(), Y.view(), 5, 1), InvalidArgument);
}

TEST(MetricsReal, FashionMnistPca2AgainstOracle) {
    Matrix<float> X = load_matrix<float>(std::string(NEMBED_TEST_DATA_DIR) + "/fmnist_4000_pca50.npy");
    std::vector<std::int64_t> lab = load_labels(std::string(NEMBED_TEST_DATA_DIR) + "/fmnist_4000_labels.npy");
    ASSERT_EQ(X.rows(), 4000u);
    // Oracle on the first 1500 points only (O(N^2 log N)); the library on the same subset.
    Matrix<float> S(1500, 50);
    std::copy(X.data(), X.data() + 1500 * 50, S.data());
    Matrix<double> Y = convert<double>(pca(S.view(), 2, 2).scores.view());
    double t, r;
    oracle(S.view(), Y.view(), 10, {}, t, r);
    const double trust = trustworthiness(S.view(), Y.view(), 10, 2), rec = knn_recall(S.view(), Y.view(), 10, 2);
    EXPECT_NEAR(trust, t, 1e-12);
    EXPECT_NEAR(rec, r, 1e-12);
    std::vector<std::int64_t> sl(lab.begin(), lab.begin() + 1500);
    const double acc = knn_accuracy(Y.view(), sl, 10, 2);
    std::printf("fmnist 1500, PCA-2: trustworthiness %.4f, recall@10 %.4f, knn accuracy %.4f\n", trust, rec, acc);
    EXPECT_GT(trust, 0.8);
    EXPECT_GT(acc, 0.4);
}
