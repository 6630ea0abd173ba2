// The COSNE and TSNEkhorn presets on the core: points stay in the ball, resumable runs, the same bits for any
// thread count, TorchDR's parameter checks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "../common/fmnist_subset.hpp"
#include "nembed/affinity/entropic.hpp"
#include "nembed/affinity/perplexity.hpp"
#include "nembed/core/error.hpp"
#include "nembed/kernel/hyperbolic.hpp"
#include "nembed/methods/cosne.hpp"
#include "nembed/methods/tsnekhorn.hpp"
#include "nembed/neighbors/knn.hpp"

using namespace nembed;

namespace {

Matrix<float> head(std::size_t n) {
    const Matrix<float>& X = nembed::testing::fmnist().X;
    Matrix<float> H(n, X.cols());
    std::memcpy(H.data(), X.data(), n * X.cols() * sizeof(float));
    return H;
}

bool same_bits(const Matrix<double>& a, const Matrix<double>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

double max_radius(MatrixView<double> Y) {
    double r = 0;
    for (std::size_t i = 0; i < Y.rows; ++i) r = std::max(r, std::sqrt(hyperbolic::dot(Y.row(i), Y.row(i), Y.cols)));
    return r;
}

} // namespace

TEST(CosnePreset, PointsStayInsideTheBallAndThreadsGiveTheSameBits) {
    const Matrix<float> X = head(300);
    CosneOptions o;
    o.max_iter = 60;
    o.random_state = 3;
    double worst = 0;
    int calls = 0;
    o.check_interval = 5;
    o.callback = [&](const TrainEvent& e) {
        worst = std::max(worst, max_radius(e.embedding));
        ++calls;
        return false;
    };
    o.n_jobs = 1;
    CosneEmbedding a = COSNE(o).fit(X.view());
    o.n_jobs = 2;
    CosneEmbedding b = COSNE(o).fit(X.view());
    EXPECT_EQ(calls, 24);
    EXPECT_LE(worst, 1 - 1e-5 + 1e-15);  // TorchDR's projection radius
    EXPECT_GT(worst, 0.5);                 // lr auto = 75 with large input norms drives points outwards
    EXPECT_LE(max_radius(a.embedding().view()), 1 - 1e-5 + 1e-15);
    EXPECT_TRUE(same_bits(a.embedding(), b.embedding()));
    EXPECT_EQ(a.iterations(), 60);
}

TEST(CosnePreset, ResumableAcrossTheEarlyExaggerationBoundary) {
    const Matrix<float> X = head(120);
    CosneOptions o;
    o.perplexity = 10;
    o.max_iter = 40;
    o.early_exaggeration_coeff = 4;
    o.early_exaggeration_iter = 12;  // 13 exaggerated iterations (TorchDR ends after index 12), then a new RAdam
    o.lr = 0.05;
    o.n_jobs = 2;
    CosneEmbedding whole = COSNE(o).fit(X.view());
    CosneEmbedding parts = COSNE(o).prepare(X.view());
    parts.optimize(7);
    parts.optimize(6);  // exactly at the boundary
    parts.optimize(10);
    parts.optimize();
    EXPECT_EQ(parts.iterations(), 40);
    EXPECT_TRUE(same_bits(whole.embedding(), parts.embedding()));
    // Without the reset at the boundary the run differs: the reset is observable.
    CosneOptions no_ee = o;
    no_ee.early_exaggeration_coeff.reset();
    CosneEmbedding other = COSNE(no_ee).fit(X.view());
    EXPECT_FALSE(same_bits(whole.embedding(), other.embedding()));
}

TEST(CosnePreset, RefusesBadParameters) {
    const Matrix<float> X = head(50);
    auto bad = [&](auto set) {
        CosneOptions o;
        o.perplexity = 5;
        o.max_iter = 1;
        set(o);
        EXPECT_THROW(COSNE(o).prepare(X.view()), InvalidArgument);
    };
    bad([](CosneOptions& o) { o.gamma = 0; });
    bad([](CosneOptions& o) { o.gamma = -1; });
    bad([](CosneOptions& o) { o.learning_rate_for_h_loss = -0.5; });
    bad([](CosneOptions& o) { o.perplexity = 50; });  // N <= perplexity, TorchDR's check
    bad([](CosneOptions& o) { o.init_scaling = 0; });
    bad([](CosneOptions& o) { o.n_components = 0; });
    bad([](CosneOptions& o) { o.lr = -1.0; });
    bad([](CosneOptions& o) { o.init = Matrix<double>(50, 3); });  // wrong width
}

namespace {

CsrMatrix<double> joint_p(const Matrix<float>& X, double perplexity) {
    KnnOptions ko;
    const KnnGraph g = find_neighbors(X.view(), perplexity_neighbors(X.rows(), perplexity), ko);
    PerplexityOptions po;
    po.perplexity = perplexity;
    return perplexity_affinities(g, po);
}

} // namespace

TEST(TsnekhornPreset, LossDecreasesResumableAndThreadsGiveTheSameBits) {
    const Matrix<float> X = head(200);
    const CsrMatrix<double> P = joint_p(X, 10);
    TsnekhornOptions o;
    o.max_iter = 80;
    std::vector<double> losses;
    o.check_interval = 20;
    o.callback = [&](const TrainEvent& e) {
        losses.push_back(e.loss);
        return false;
    };
    o.n_jobs = 1;
    TsnekhornEmbedding a = TSNEkhorn(o).fit(X.view(), P);
    ASSERT_EQ(losses.size(), 4u);
    EXPECT_LT(losses.back(), losses.front());
    o.callback = nullptr;
    o.n_jobs = 2;
    TsnekhornEmbedding b = TSNEkhorn(o).prepare(X.view(), P);
    b.optimize(33);
    b.optimize();
    EXPECT_TRUE(same_bits(a.embedding(), b.embedding()));
    EXPECT_EQ(a.objective().duals(), b.objective().duals());
}

TEST(TsnekhornPreset, RefusesBadParameters) {
    const Matrix<float> X = head(30);
    const CsrMatrix<double> P = joint_p(X, 5);
    TsnekhornOptions o;
    o.unrolling = true;
    EXPECT_THROW(TSNEkhorn(o).prepare(X.view(), P), InvalidArgument);
    o = {};
    o.optimizer = OptimizerOptions::Kind::gains;
    EXPECT_THROW(TSNEkhorn(o).prepare(X.view(), P), InvalidArgument);
    o = {};
    EXPECT_THROW(TSNEkhorn(o).prepare(head(20).view(), P), InvalidArgument);  // X and P disagree
    EXPECT_THROW(parse_tsnekhorn_init("spectral"), InvalidArgument);
}

TEST(CosnePreset, FromXUsesEntropicAffinityWithTheForwardedOptions) {
    const Matrix<float> X = head(80);
    CosneOptions o;
    o.perplexity = 7.5;  // TorchDR's EntropicAffinity truncates it to 7
    o.metric = CostMetric::manhattan;
    o.sparsity = false;
    o.max_iter_affinity = 40;
    o.max_iter = 30;
    o.random_state = 3;
    CosneEmbedding a = COSNE(o).fit(X.view());
    EntropicAffinityOptions eo;
    eo.perplexity = 7.5;
    eo.metric = CostMetric::manhattan;
    eo.sparsity = false;
    eo.max_iter = 40;
    CsrMatrix<double> P = EntropicAffinity(eo)(X.view());
    ASSERT_EQ(P.nnz(), 80u * 79u);  // no sparsity: every other point
    std::vector<double> xn(80);
    for (std::size_t i = 0; i < 80; ++i)
        for (std::size_t c = 0; c < X.cols(); ++c) xn[i] += double(X(i, c)) * double(X(i, c));
    CosneEmbedding b = COSNE(o).prepare(std::move(P), std::move(xn));
    b.optimize();
    EXPECT_TRUE(same_bits(a.embedding(), b.embedding()));
    o.metric = CostMetric::sqeuclidean;  // a different P: a different map
    EXPECT_FALSE(same_bits(a.embedding(), COSNE(o).fit(X.view()).embedding()));
}

TEST(TsnekhornPreset, FromXConstraintsLossAndThreads) {
    const Matrix<float> X = head(120);
    const std::size_t n = X.rows();
    TsnekhornOptions o;
    o.perplexity = 10;
    o.max_iter_affinity_in = 3000;  // the dual ascent converges (its gradient norms below tol) within these
    o.tol_affinity_in = 1e-4;
    o.max_iter = 60;
    // P: TorchDR's SymmetricEntropicAffinity (zero_diag false): dense, symmetric, rows summing to 1/N and of entropy
    // log(perplexity) + 1 (h = −Σ p(log p − 1) on N·P) to the tolerance.
    const CsrMatrix<double> P = TSNEkhorn(o).input_affinity(X.view());
    ASSERT_EQ(P.nnz(), n * n);
    for (std::size_t i = 0; i < n; ++i) {
        double s = 0, h = 0;
        for (std::size_t j = 0; j < n; ++j) {
            const double p = P.values[i * n + j];
            EXPECT_DOUBLE_EQ(p, P.values[j * n + i]);
            s += p;
            const double q = p * double(n);
            if (q > 0) h -= q * (std::log(q) - 1);
        }
        EXPECT_GT(P.values[i * n + i], 0.0);  // the diagonal kept
        EXPECT_NEAR(s * double(n), 1.0, o.tol_affinity_in) << "row " << i;
        EXPECT_NEAR(h, std::log(10.0) + 1, 0.01);
    }
    std::vector<double> losses;
    o.check_interval = 15;
    o.callback = [&](const TrainEvent& e) {
        losses.push_back(e.loss);
        return false;
    };
    TsnekhornEmbedding a = TSNEkhorn(o).fit(X.view());
    ASSERT_EQ(losses.size(), 4u);
    EXPECT_LT(losses.back(), losses.front());
    // fit(X) is fit(X, input_affinity(X)); two threads give the same bits.
    o.callback = nullptr;
    EXPECT_TRUE(same_bits(a.embedding(), TSNEkhorn(o).fit(X.view(), P).embedding()));
    o.n_jobs = 2;
    TsnekhornEmbedding b = TSNEkhorn(o).fit(X.view());
    EXPECT_TRUE(same_bits(a.embedding(), b.embedding()));
    EXPECT_EQ(a.objective().duals(), b.objective().duals());

    // symmetric_affinity = false: EntropicAffinity's sparse P (3·perplexity neighbours, rows summing to 1/N).
    o.symmetric_affinity = false;
    o.n_jobs = 1;
    const CsrMatrix<double> Pe = TSNEkhorn(o).input_affinity(X.view());
    EXPECT_EQ(Pe.nnz(), n * entropic_neighbors(n, 10));
    losses.clear();
    o.callback = [&](const TrainEvent& e) {
        losses.push_back(e.loss);
        return false;
    };
    TSNEkhorn(o).fit(X.view());
    ASSERT_EQ(losses.size(), 4u);
    EXPECT_LT(losses.back(), losses.front());
}

TEST(TsnekhornPreset, RefusesBadAffinityParameters) {
    const Matrix<float> X = head(30);
    auto bad = [&](auto edit) {
        TsnekhornOptions o;
        o.perplexity = 5;
        edit(o);
        EXPECT_THROW(TSNEkhorn(o).prepare(X.view()), InvalidArgument);
    };
    bad([](TsnekhornOptions& o) { o.perplexity = 30; });  // N <= perplexity
    bad([](TsnekhornOptions& o) { o.perplexity = -1; });
    bad([](TsnekhornOptions& o) { o.lr_affinity_in = 0; });
    bad([](TsnekhornOptions& o) { o.tol_affinity_in = -1; });
    bad([](TsnekhornOptions& o) { o.max_iter_affinity_in = 0; });
}
