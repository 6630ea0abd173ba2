// COSNE and TSNEkhorn on the NeighborEmbedding driver: points stay in the ball, the Riemannian gradient norm of
// the stop rule, the same bits for any thread count, TorchDR's parameter checks.
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

using torchdr::COSNE;
using torchdr::COSNEOptions;
using torchdr::TSNEkhorn;
using torchdr::TSNEkhornOptions;

TEST(CosnePreset, PointsStayInsideTheBallAndThreadsGiveTheSameBits) {
    const Matrix<float> X = head(300);
    COSNEOptions o;
    o.max_iter = 60;
    o.random_state = 3;
    double worst = 0;
    int calls = 0;
    TrainHooks hooks;
    hooks.callback_every = 5;
    hooks.callback = [&](const TrainEvent& e) {
        worst = std::max(worst, max_radius(e.embedding));
        ++calls;
        return false;
    };
    o.n_threads = 1;
    const NeResult a = COSNE(o).fit_transform(X.view(), hooks);
    o.n_threads = 2;
    const NeResult b = COSNE(o).fit_transform(X.view(), hooks);
    EXPECT_EQ(calls, 24);
    EXPECT_LE(worst, 1 - 1e-5 + 1e-15);  // TorchDR's projection radius
    EXPECT_GT(worst, 0.5);                 // lr auto = 75 with large input norms drives points outwards
    EXPECT_LE(max_radius(a.embedding.view()), 1 - 1e-5 + 1e-15);
    EXPECT_TRUE(same_bits(a.embedding, b.embedding));
    EXPECT_EQ(a.n_iter, 60);
}

// The min_grad_norm test reads the Riemannian gradient (TorchDR's RiemannianAdam divides it in place by λ²):
// a threshold between the Riemannian and the Euclidean norm of the first step's gradient stops the run there.
TEST(CosnePreset, MinGradNormReadsTheRiemannianGradient) {
    const Matrix<float> X = head(100);
    COSNEOptions o;
    o.perplexity = 10;
    o.max_iter = 5;
    o.random_state = 1;
    o.min_grad_norm = 0;
    o.max_iter = 1;
    // The first step's gradients from the init, Euclidean and Riemannian.
    const CsrMatrix<double> P = torchdr::entropic_affinity(o, X.view());
    std::vector<double> xn(100);
    for (std::size_t i = 0; i < 100; ++i)
        for (std::size_t c = 0; c < X.cols(); ++c) xn[i] += double(X(i, c)) * double(X(i, c));
    CosneObjective obj(P, xn);
    const Matrix<double> Y0 = ne_initial_embedding(o, X.view(), 100);
    std::vector<double> g(Y0.size());
    obj(Y0.view(), 1.0, g.data(), false);
    double e2 = 0, r2 = 0;
    for (std::size_t i = 0; i < 100; ++i) {
        const double l = hyperbolic::lambda(Y0.row(i), 2, 1.0);
        for (std::size_t k = 0; k < 2; ++k) {
            e2 += g[i * 2 + k] * g[i * 2 + k];
            r2 += g[i * 2 + k] * g[i * 2 + k] / (l * l * l * l);
        }
    }
    ASSERT_LT(std::sqrt(r2), 0.9 * std::sqrt(e2));  // λ > 1 away from the origin
    const NeResult r = COSNE(o).fit_transform_affinity(P, X.view());
    EXPECT_NEAR(r.grad_norm, std::sqrt(r2), 1e-12 * std::sqrt(r2));
    o.max_iter = 100;
    o.min_grad_norm = std::sqrt(std::sqrt(r2) * std::sqrt(e2));  // between the two
    const NeResult s = COSNE(o).fit_transform_affinity(P, X.view());
    EXPECT_EQ(s.stop, NeStop::converged);
    EXPECT_EQ(s.n_iter, 1);
}

TEST(CosnePreset, EarlyExaggerationResetsTheOptimizer) {
    const Matrix<float> X = head(120);
    COSNEOptions o;
    o.perplexity = 10;
    o.max_iter = 40;
    o.early_exaggeration_coeff = 4;
    o.early_exaggeration_iter = 12;  // 13 exaggerated iterations (TorchDR ends after index 12), then a new RAdam
    o.lr = 0.05;
    o.n_threads = 2;
    const NeResult whole = COSNE(o).fit_transform(X.view());
    EXPECT_EQ(whole.n_iter, 40);
    // Without the exaggeration the run differs.
    COSNEOptions no_ee = o;
    no_ee.early_exaggeration_coeff = 1;
    EXPECT_FALSE(same_bits(whole.embedding, COSNE(no_ee).fit_transform(X.view()).embedding));
}

TEST(CosnePreset, RefusesBadParameters) {
    const Matrix<float> X = head(50);
    auto bad = [&](auto set) {
        COSNEOptions o;
        o.perplexity = 5;
        o.max_iter = 1;
        set(o);
        EXPECT_THROW(COSNE(o).fit_transform(X.view()), InvalidArgument);
    };
    bad([](COSNEOptions& o) { o.gamma = 0; });
    bad([](COSNEOptions& o) { o.gamma = -1; });
    bad([](COSNEOptions& o) { o.learning_rate_for_h_loss = -0.5; });
    bad([](COSNEOptions& o) { o.perplexity = 50; });  // N <= perplexity, TorchDR's check
    bad([](COSNEOptions& o) { o.init_scaling = 0; });
    bad([](COSNEOptions& o) { o.n_components = 0; });
    bad([](COSNEOptions& o) { o.lr = -1.0; });
    bad([](COSNEOptions& o) {  // wrong width
        o.init = NeInit::array;
        o.init_array = Matrix<double>(50, 3);
    });
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

TEST(TsnekhornPreset, LossDecreasesAndThreadsGiveTheSameBits) {
    const Matrix<float> X = head(200);
    const CsrMatrix<double> P = joint_p(X, 10);
    TSNEkhornOptions o;
    o.max_iter = 80;
    o.min_grad_norm = 0;
    std::vector<double> losses;
    TrainHooks hooks;
    hooks.callback_every = 20;
    hooks.callback = [&](const TrainEvent& e) {
        losses.push_back(e.loss);
        return false;
    };
    o.n_threads = 1;
    const NeResult a = TSNEkhorn(o).fit_transform_affinity(P, X.view(), hooks);
    ASSERT_EQ(losses.size(), 4u);
    EXPECT_LT(losses.back(), losses.front());
    o.n_threads = 2;
    const NeResult b = TSNEkhorn(o).fit_transform_affinity(P, X.view());
    EXPECT_TRUE(same_bits(a.embedding, b.embedding));
}

TEST(TsnekhornPreset, RefusesBadParameters) {
    const Matrix<float> X = head(30);
    const CsrMatrix<double> P = joint_p(X, 5);
    TSNEkhornOptions o;
    o.perplexity = 5;
    o.unrolling = true;
    EXPECT_THROW(TSNEkhorn(o).fit_transform_affinity(P, X.view()), InvalidArgument);
    o.unrolling = false;
    o.optimizer = "gains";
    EXPECT_THROW(TSNEkhorn(o).fit_transform_affinity(P, X.view()), InvalidArgument);
    o.optimizer = "SGD";
    EXPECT_THROW(TSNEkhorn(o).fit_transform_affinity(P, head(20).view()), InvalidArgument);  // X and P disagree
}

TEST(CosnePreset, FromXUsesEntropicAffinityWithTheForwardedOptions) {
    const Matrix<float> X = head(80);
    COSNEOptions o;
    o.perplexity = 7.5;  // TorchDR's EntropicAffinity truncates it to 7
    o.metric = CostMetric::manhattan;
    o.sparsity = false;
    o.max_iter_affinity = 40;
    o.max_iter = 30;
    o.random_state = 3;
    const NeResult a = COSNE(o).fit_transform(X.view());
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
    const NeResult b = COSNE(o).fit_transform_affinity(P, std::move(xn), {});
    EXPECT_TRUE(same_bits(a.embedding, b.embedding));
    o.metric = CostMetric::sqeuclidean;  // a different P: a different map
    EXPECT_FALSE(same_bits(a.embedding, COSNE(o).fit_transform(X.view()).embedding));
}

TEST(TsnekhornPreset, FromXConstraintsLossAndThreads) {
    const Matrix<float> X = head(120);
    const std::size_t n = X.rows();
    TSNEkhornOptions o;
    o.perplexity = 10;
    o.max_iter_affinity_in = 3000;  // the dual ascent converges (its gradient norms below tol) within these
    o.tol_affinity_in = 1e-4;
    o.max_iter = 60;
    o.min_grad_norm = 0;
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
    TrainHooks hooks;
    hooks.callback_every = 15;
    hooks.callback = [&](const TrainEvent& e) {
        losses.push_back(e.loss);
        return false;
    };
    const NeResult a = TSNEkhorn(o).fit_transform(X.view(), hooks);
    ASSERT_EQ(losses.size(), 4u);
    EXPECT_LT(losses.back(), losses.front());
    // fit_transform(X) is fit_transform_affinity(input_affinity(X), X); two threads give the same bits.
    EXPECT_TRUE(same_bits(a.embedding, TSNEkhorn(o).fit_transform_affinity(P, X.view()).embedding));
    o.n_threads = 2;
    EXPECT_TRUE(same_bits(a.embedding, TSNEkhorn(o).fit_transform(X.view()).embedding));

    // symmetric_affinity = false: EntropicAffinity's sparse P (3·perplexity neighbours, rows summing to 1/N).
    o.symmetric_affinity = false;
    o.n_threads = 1;
    const CsrMatrix<double> Pe = TSNEkhorn(o).input_affinity(X.view());
    EXPECT_EQ(Pe.nnz(), n * entropic_neighbors(n, 10));
    losses.clear();
    TSNEkhorn(o).fit_transform(X.view(), hooks);
    ASSERT_EQ(losses.size(), 4u);
    EXPECT_LT(losses.back(), losses.front());
}

TEST(TsnekhornPreset, RefusesBadAffinityParameters) {
    const Matrix<float> X = head(30);
    auto bad = [&](auto edit) {
        TSNEkhornOptions o;
        o.perplexity = 5;
        edit(o);
        EXPECT_THROW(TSNEkhorn(o).fit_transform(X.view()), InvalidArgument);
    };
    bad([](TSNEkhornOptions& o) { o.perplexity = 30; });  // N <= perplexity
    bad([](TSNEkhornOptions& o) { o.perplexity = -1; });
    bad([](TSNEkhornOptions& o) { o.lr_affinity_in = 0; });
    bad([](TSNEkhornOptions& o) { o.tol_affinity_in = -1; });
    bad([](TSNEkhornOptions& o) { o.max_iter_affinity_in = 0; });
}
