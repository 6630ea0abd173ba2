// The transform-consistency penalty (parametric/transform_consistency.hpp; docs/parametric.md, "Transform
// consistency"): its points lie between training neighbours, its gradient is that of its value (on the new points'
// images, and on the targets' without stop_gradient), the network's weight gradient carries it, and the full-batch
// phase with it keeps the same bits for any thread count (weight 0: the run without it).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "../common/numeric.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/random.hpp"
#include "nembed/neighbors/knn.hpp"
#include "nembed/parametric/network_parametrization.hpp"
#include "nembed/parametric/parametric_dr.hpp"
#include "nembed/parametric/transform_consistency.hpp"

using namespace nembed;
using nembed::test::same_bits;

namespace {

Matrix<double> gaussian(std::size_t n, std::size_t d, std::uint64_t seed) {
    Matrix<double> M(n, d);
    Rng rng(seed);
    for (std::size_t i = 0; i < M.size(); ++i) M.data()[i] = rng.normal();
    return M;
}

TransformConsistencyOptions options(bool stop_gradient) {
    TransformConsistencyOptions o;
    o.weight = 0.7;
    o.samples = 12;
    o.n_neighbors = 6;
    o.perplexity = 3;
    o.stop_gradient = stop_gradient;
    return o;
}

} // namespace

// Every drawn point is x_i + an offset of length size · (i's nearest-neighbour distance) in the span of i's
// neighbour differences (k = 3 in 8 dimensions: a 3-dimensional span); the draw does not depend on the thread count
// and each pass draws its own; a constant map feels no force.
TEST(TransformConsistency, PointsLieNearTrainingPointsAlongTheirNeighbours) {
    const auto X = test::normal_rows(40, 8);
    TransformConsistencyOptions o = options(true);
    o.n_neighbors = 3;
    o.perplexity = 2;
    o.size = 0.8;
    const std::size_t m = o.samples, D = 8, k = 3;
    TransformConsistency tc(X, o, 17, 1), tc3(X, o, 17, 3);
    KnnOptions ko;
    ko.method = KnnMethod::exact;
    const KnnGraph g = find_neighbors(X->view(), k, ko);
    std::vector<float> a(m * D), b(m * D), other(m * D);
    tc.draw(4, a.data(), 1);
    tc3.draw(4, b.data(), 3);
    EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
    tc.draw(5, other.data(), 1);
    EXPECT_NE(0, std::memcmp(a.data(), other.data(), a.size() * sizeof(float)));
    for (std::size_t s = 0; s < m; ++s) {
        bool found = false;
        for (std::size_t i = 0; i < X->rows() && !found; ++i) {
            // the offset's length, then its distance to the span of x_c − x_i (Gram–Schmidt)
            std::vector<double> r(D);
            double len = 0;
            for (std::size_t e = 0; e < D; ++e) len += std::pow(r[e] = double(a[s * D + e]) - (*X)(i, e), 2);
            if (std::abs(std::sqrt(len) - o.size * g.dists(i)[0]) > 1e-4 * (1 + std::sqrt(len))) continue;
            std::vector<std::vector<double>> basis;
            for (std::size_t c = 0; c < k; ++c) {
                std::vector<double> v(D);
                for (std::size_t e = 0; e < D; ++e) v[e] = double((*X)(g.neighbors(i)[c], e)) - (*X)(i, e);
                for (const auto& q : basis) {
                    double p = 0;
                    for (std::size_t e = 0; e < D; ++e) p += v[e] * q[e];
                    for (std::size_t e = 0; e < D; ++e) v[e] -= p * q[e];
                }
                double nv = 0;
                for (double x : v) nv += x * x;
                for (double& x : v) x /= std::sqrt(nv);
                basis.push_back(v);
            }
            for (const auto& q : basis) {
                double p = 0;
                for (std::size_t e = 0; e < D; ++e) p += r[e] * q[e];
                for (std::size_t e = 0; e < D; ++e) r[e] -= p * q[e];
            }
            double rest = 0;
            for (double x : r) rest += x * x;
            found = std::sqrt(rest) < 1e-4 * (1 + std::sqrt(len));
        }
        EXPECT_TRUE(found) << "sample " << s;
    }
    // A constant map: every point at every image, no force (the value: each sample's log Z = log n).
    Matrix<double> F(m, 2, 1.5), Y(40, 2, 1.5), gF(m, 2, 7.0);
    EXPECT_NEAR(tc.evaluate(F.view(), Y.view(), gF.data(), nullptr), o.weight * std::log(40.0), 1e-12);
    for (std::size_t k = 0; k < gF.size(); ++k) EXPECT_EQ(gF.data()[k], 0.0);
}

// ∂L_c/∂F and (without stop_gradient) ∂L_c/∂Y against central differences of L_c; with stop_gradient gY is untouched.
TEST(TransformConsistency, GradientIsTheFiniteDifferenceOfItsValue) {
    const auto X = test::normal_rows(40, 5);
    for (bool stop : {true, false}) {
        TransformConsistency tc(X, options(stop), 17, 2);
        std::vector<float> Xt(12 * 5);
        tc.draw(0, Xt.data(), 2);
        Matrix<double> F = gaussian(12, 2, 1), Y = gaussian(40, 2, 2);
        std::vector<double> gF(12 * 2), gY(40 * 2, 0.25);
        const double L = tc.evaluate(F.view(), Y.view(), gF.data(), gY.data());
        EXPECT_GT(L, 0.0);
        std::vector<double> gF3(12 * 2), gY3(40 * 2, 0.25);  // 3 threads: the same bits
        EXPECT_EQ(L, tc.evaluate(F.view(), Y.view(), gF3.data(), gY3.data(), 3));
        EXPECT_EQ(gF, gF3);
        EXPECT_EQ(gY, gY3);
        const double h = 1e-6;
        auto value = [&](Matrix<double>& M, std::size_t k, double delta) {
            const double keep = M.data()[k];
            M.data()[k] = keep + delta;
            std::vector<double> g1(12 * 2), g2(40 * 2, 0.0);
            const double v = tc.evaluate(F.view(), Y.view(), g1.data(), g2.data());
            M.data()[k] = keep;
            return v;
        };
        for (std::size_t k = 0; k < F.size(); ++k) {
            const double fd = (value(F, k, h) - value(F, k, -h)) / (2 * h);
            EXPECT_NEAR(gF[k], fd, 1e-7 + 1e-6 * std::abs(fd)) << "F " << k;
        }
        std::size_t moved = 0;
        for (std::size_t k = 0; k < Y.size(); ++k) {
            const double fd = (value(Y, k, h) - value(Y, k, -h)) / (2 * h);
            // gY started at 0.25: the penalty's gradient is added (none with stop_gradient).
            EXPECT_NEAR(gY[k] - 0.25, stop ? 0.0 : fd, 1e-7 + 1e-6 * std::abs(fd)) << "Y " << k << " stop " << stop;
            moved += fd != 0.0;
        }
        EXPECT_GT(moved, 12u);  // the targets depend on the candidates' images
    }
}

// Through the network: after a forward of every point and a backward with dL/dY = 0, the weights' gradient is
// that of the penalty's value (central differences in the weights, the same pass's points; without stop_gradient,
// as the targets move with the weights too). With stop_gradient it differs (the targets' part is left out).
TEST(TransformConsistency, NetworkWeightGradientIsThePenaltys) {
    const auto X = test::normal_rows(40, 5);
    for (bool stop : {false, true}) {
        MlpOptions mo;
        mo.hidden = {8};
        mo.hidden_activation = Activation::tanh;
        mo.seed = 11;
        NetworkParametrization net(X, Mlp(5, 2, mo), 2);
        auto term = std::make_shared<TransformConsistency>(X, options(stop), 17, 2);
        std::vector<index_t> all(40);
        for (std::size_t i = 0; i < 40; ++i) all[i] = static_cast<index_t>((i * 7) % 40);  // a permutation
        std::vector<double> pos(40 * 2), zero(40 * 2, 0.0);
        net.set_transform_consistency(term);
        net.forward(all, pos.data());
        net.network().zero_grad();
        net.backward(all, zero.data());
        const std::vector<double> grad = net.network().gradient();
        const std::vector<double> theta = net.network().master();
        auto value = [&](std::size_t k, double delta) {
            std::vector<double> t = theta;
            t[k] += delta;
            net.network().set_parameters(t);
            net.set_transform_consistency(term);  // the pass counter restarts: the same points
            net.forward(all, pos.data());
            return net.transform_consistency_loss();
        };
        const double h = 1e-2;
        double off = 0;
        for (std::size_t k = 0; k < theta.size(); k += 5) {
            const double fd = (value(k, h) - value(k, -h)) / (2 * h);
            if (!stop) {
                EXPECT_NEAR(grad[k], fd, 2e-4 + 0.03 * std::abs(fd)) << "weight " << k;
            }
            off = std::max(off, std::abs(grad[k] - fd));
        }
        if (stop) {
            EXPECT_GT(off, 1e-3);
        }
        // Other batches than every point are refused.
        const std::vector<index_t> part{1, 2, 3};
        EXPECT_THROW(net.forward(part, pos.data()), InvalidArgument);
    }
}

// The full-batch phase with the penalty: the same bits for 1 and 2 threads, another result than without it; weight 0
// is the run without it, whatever its other fields.
TEST(TransformConsistency, FullBatchIsThreadIndependentAndOffIsTheOldRun) {
    const Matrix<float> X = test::three_blobs(300, 6);
    paradime::ParametricTSNEOptions to;
    to.perplexity = 20;
    to.initialization = "none";
    to.full_batch_iterations = 40;
    auto run = [&](int threads, double weight, bool stop) {
        paradime::ParametricDROptions po;
        po.hidden_dims = {16, 16};
        po.hidden_activation = Activation::tanh;
        po.seed = 5;
        po.n_threads = threads;
        po.full_batch.early_exaggeration_iter = 10;
        po.full_batch.transform_consistency.weight = weight;
        po.full_batch.transform_consistency.samples = 100;
        po.full_batch.transform_consistency.stop_gradient = stop;
        paradime::ParametricDR dr = paradime::ParametricTSNE(to, po);
        dr.train(X.view());
        return dr.apply(X.view());
    };
    const Matrix<double> on1 = run(1, 0.5, true), on2 = run(2, 0.5, true);
    EXPECT_TRUE(same_bits(on1, on2));
    EXPECT_TRUE(same_bits(run(1, 0.5, false), run(2, 0.5, false)));
    const Matrix<double> off = run(2, 0.0, true);
    EXPECT_FALSE(same_bits(on1, off));
    EXPECT_TRUE(same_bits(off, run(2, 0.0, false)));
    paradime::ParametricDROptions bad;
    bad.full_batch.iterations = 10;
    bad.full_batch.transform_consistency.weight = -1;
    EXPECT_THROW(paradime::validate(bad.full_batch), InvalidArgument);
    bad.full_batch.transform_consistency.weight = 1;
    bad.full_batch.transform_consistency.perplexity = 16;  // not below k + 1 = 16
    EXPECT_THROW(paradime::validate(bad.full_batch), InvalidArgument);
    bad.full_batch.transform_consistency.perplexity = 2;
    bad.full_batch.transform_consistency.size = -0.5;
    EXPECT_THROW(paradime::validate(bad.full_batch), InvalidArgument);
}
