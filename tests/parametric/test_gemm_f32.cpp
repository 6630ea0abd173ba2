// The network's float32 products (parametric/gemm.hpp), each backend available here (blas: OpenBLAS or Eigen;
// onednn: oneDNN's float32 matmul for the backward's products, where nembed was built with oneDNN): every product
// against a float64 direct product of the same float32 operands (float32 summation error bound), at the network's
// shapes and odd ones, the backend choice, a network trained under each backend against the other, and a network
// step's bits for 1, 2 and 3 threads under each backend.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <vector>

#include "nembed/core/error.hpp"
#include "nembed/core/random.hpp"
#include "nembed/optim/adam.hpp"
#include "nembed/parametric/gemm.hpp"
#include "nembed/parametric/mlp.hpp"
#include "../common/adam_steps.hpp"

using namespace nembed;

namespace {

std::vector<gemm::F32Backend> backends() {
    std::vector<gemm::F32Backend> b{gemm::F32Backend::blas};
    if (gemm::available(gemm::F32Backend::onednn)) b.push_back(gemm::F32Backend::onednn);
    return b;
}

// Chooses the float32 backend for networks built in a scope (the previous choice restored after).
struct UseF32 {
    gemm::F32Backend previous = gemm::f32_backend();
    explicit UseF32(gemm::F32Backend b) { gemm::set_f32_backend(b); }
    ~UseF32() { gemm::set_f32_backend(previous); }
    UseF32(const UseF32&) = delete;
    UseF32& operator=(const UseF32&) = delete;
};

struct Case {
    std::size_t m, o, a;
};
const Case kCases[] = {{256, 100, 784}, {256, 100, 100}, {256, 2, 100}, {256, 100, 2}, {37, 100, 100}, {100, 3, 7},
                       {37, 2, 3},      {64, 33, 65},    {13, 5, 1},    {1, 17, 9},    {193, 100, 784}};

std::vector<float> operand(std::size_t n, std::uint64_t seed) {
    std::vector<float> v(n);
    Rng rng(seed, 0);
    for (auto& x : v) x = static_cast<float>(rng.normal());
    return v;
}

// |got − Σ terms| within float32 summation over k terms: k·2^-24·Σ|terms| (the worst case of any order, blocked or
// not), plus the final rounding.
void expect_sum(float got, double exact, double abs_sum, std::size_t k, const char* what) {
    const double tol = (static_cast<double>(k) + 2.0) * std::ldexp(1.0, -24) * abs_sum + 1e-30;
    EXPECT_LE(std::abs(static_cast<double>(got) - exact), tol) << what << ": got " << got << " exact " << exact;
}

// out (rows × cols) against its float64 direct product: out[i·cols + j] = Σ_t term(i, j, t) over t < inner.
template <class Term>
void expect_products(const std::vector<float>& out, std::size_t rows, std::size_t cols, std::size_t inner, Term term,
                     const char* what) {
    for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < cols; ++j) {
            double s = 0, t = 0;
            for (std::size_t k = 0; k < inner; ++k) {
                const double p = term(i, j, k);
                s += p;
                t += std::abs(p);
            }
            expect_sum(out[i * cols + j], s, t, inner, what);
        }
}

} // namespace

TEST(GemmF32, ProductsMatchFloat64DirectProducts) {
    for (gemm::F32Backend be : backends()) {
        SCOPED_TRACE(gemm::to_string(be));
        for (const Case& c : kCases) {
            SCOPED_TRACE(::testing::Message() << c.m << "x" << c.o << "x" << c.a);
            const auto H = operand(c.m * c.a, 1), W = operand(c.o * c.a, 2), G = operand(c.m * c.o, 3);
            // dW = Gᵀ·H (inner: the rows) and dIn = G·W (inner: o).
            std::vector<float> dW(c.o * c.a, -1.0f), dIn(c.m * c.a, -1.0f);
            gemm::gt_h(c.m, c.o, c.a, G.data(), H.data(), dW.data(), be);
            gemm::g_w(c.m, c.o, c.a, G.data(), W.data(), dIn.data(), be);
            expect_products(dW, c.o, c.a, c.m, [&](std::size_t j, std::size_t i, std::size_t r) {
                return static_cast<double>(G[r * c.o + j]) * H[r * c.a + i];
            }, "dW");
            expect_products(dIn, c.m, c.a, c.o, [&](std::size_t r, std::size_t i, std::size_t j) {
                return static_cast<double>(G[r * c.o + j]) * W[j * c.a + i];
            }, "dIn");
            // The forward (blas for both backends): Z += H·Wᵀ into a cleared Z.
            std::vector<float> Z(c.m * c.o, 0.0f);
            gemm::h_wt_add(c.m, c.o, c.a, H.data(), W.data(), Z.data());
            expect_products(Z, c.m, c.o, c.a, [&](std::size_t r, std::size_t j, std::size_t i) {
                return static_cast<double>(H[r * c.a + i]) * W[j * c.a + i];
            }, "Z");
        }
    }
}

TEST(GemmF32, BackendChoice) {
    // blas unless chosen (onednn is opt-in; every test restores the choice it makes)
    if (std::getenv("NEMBED_F32_GEMM") == nullptr) {
        EXPECT_EQ(gemm::f32_backend(), gemm::F32Backend::blas);
    }
    EXPECT_TRUE(gemm::available(gemm::F32Backend::blas));
    EXPECT_EQ(gemm::to_string(gemm::F32Backend::blas), "blas");
    EXPECT_EQ(gemm::to_string(gemm::F32Backend::onednn), "onednn");
    {
        UseF32 use(gemm::F32Backend::blas);
        EXPECT_EQ(gemm::f32_backend(), gemm::F32Backend::blas);
    }
    if (gemm::available(gemm::F32Backend::onednn)) {
        UseF32 use(gemm::F32Backend::onednn);
        EXPECT_EQ(gemm::f32_backend(), gemm::F32Backend::onednn);
    } else {
        // Without oneDNN: blas only.
        EXPECT_THROW(gemm::set_f32_backend(gemm::F32Backend::onednn), InvalidArgument);
    }
}

// A few training steps of a network built under each backend (ReLU and Softplus hidden layers, a batch whose last
// chunk is short): the same bits for 1, 2 and 3 threads under each, and the two backends' parameters and outputs
// within float32 rounding of each other.
TEST(GemmF32, NetworkStepsSameBitsForAnyThreadCountAndBackendsAgree) {
    const std::size_t n = 2000, d = 60;
    Matrix<float> X(n, d);
    Rng rng(7, 0);
    for (auto& v : X.storage()) v = static_cast<float>(rng.normal());
    std::vector<index_t> batch(1700);
    for (auto& b : batch) b = static_cast<index_t>(rng.below(n));
    for (Activation hidden : {Activation::relu, Activation::softplus}) {
        std::vector<std::vector<float>> per_backend;
        for (gemm::F32Backend be : backends()) {
            SCOPED_TRACE(gemm::to_string(be) + " " + to_string(hidden));
            UseF32 use(be);
            std::vector<std::vector<float>> params;
            std::vector<Matrix<float>> applied;
            for (int threads : {1, 2, 3}) {
                MlpOptions o;
                o.hidden = {100, 50};
                o.hidden_activation = hidden;
                o.chunk_rows = 256;
                Mlp net(d, 2, o);
                (void)nembed::testing::three_adam_steps(net, X.view(), batch, d, threads, 1e-3);
                params.push_back(net.parameters());
                applied.push_back(net.apply(X.view(), threads));
            }
            for (std::size_t t = 1; t < params.size(); ++t) {
                EXPECT_EQ(params[t], params[0]);
                EXPECT_EQ(applied[t].storage(), applied[0].storage());
            }
            per_backend.push_back(params[0]);
        }
        // Adam's steps of 1e-3 from the same start: the backends' rounding moves a parameter by far less than a step
        // (a gradient's sign flip near 0 could move it by 2 steps' worth at most).
        for (std::size_t k = 1; k < per_backend.size(); ++k)
            for (std::size_t i = 0; i < per_backend[0].size(); ++i)
                EXPECT_NEAR(per_backend[k][i], per_backend[0][i], 6e-3) << i;
    }
}

