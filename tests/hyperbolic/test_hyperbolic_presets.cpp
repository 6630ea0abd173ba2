// The COSNE and TSNEkhorn presets on the core: points stay in the ball, resumable runs, the same bits for any
// thread count, TorchDR's parameter checks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "../common/fmnist_subset.hpp"
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
