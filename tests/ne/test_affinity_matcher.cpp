// TorchDR's AffinityMatcher (methods/affinity_matcher.hpp, loss/affinity_matcher.hpp): the loss against TorchDR's
// formula recomputed densely here (its 1e12 on the diagonal of the distances included), the analytic gradient
// against central finite differences for every (loss_fn, affinity_out) pair, a run lowering the loss, the same bits
// for 1, 2 and 3 threads, bad parameters, and 20 SGD steps against TorchDR 0.5's own
// (tests/data/torchdr/affinity_matcher.npz, made by make_affinity_matcher_fixture.py in that folder).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "../common/numeric.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/random.hpp"
#include "nembed/io/npz.hpp"
#include "nembed/methods/affinity_matcher.hpp"

using namespace nembed;
using test::random_y;
using test::relative_gradient_error;

namespace {

// A non-negative P (N x N) summing to 1 with about half of its off-diagonal entries zero; the diagonal is zero.
CsrMatrix<double> random_p(std::size_t n, std::uint64_t seed) {
    Rng rng(seed);
    CsrMatrix<double> P;
    P.n_rows = P.n_cols = n;
    P.indptr.push_back(0);
    std::vector<double> v;
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < n; ++j)
            if (j != i && rng.uniform() < 0.5) {
                P.indices.push_back(static_cast<index_t>(j));
                P.values.push_back(0.1 + rng.uniform());
            }
        P.indptr.push_back(static_cast<offset_t>(P.indices.size()));
    }
    const double s = P.sum();
    for (double& x : P.values) x /= s;
    return P;
}

Matrix<double> dense(const CsrMatrix<double>& P) {
    Matrix<double> D(P.n_rows, P.n_cols);
    for (std::size_t i = 0; i < P.n_rows; ++i)
        for (offset_t e = P.row_begin(i); e < P.row_end(i); ++e)
            D(i, static_cast<std::size_t>(P.indices[static_cast<std::size_t>(e)])) = P.values[static_cast<std::size_t>(e)];
    return D;
}

double lse(const std::vector<double>& a) {
    const double m = *std::max_element(a.begin(), a.end());
    double s = 0;
    for (double x : a) s += std::exp(x - m);
    return m + std::log(s);
}

// TorchDR's loss_fn(P, affinity_out(Z, log=True)), dense, TorchDR's order of operations; f: Sinkhorn's duals,
// held fixed (TorchDR computes them under no_grad).
double torchdr_loss(const Matrix<double>& Z, const Matrix<double>& P, const AffinityMatcherLossOptions& o,
                    const std::vector<double>& f) {
    const std::size_t n = Z.rows(), d = Z.cols();
    Matrix<double> a(n, n);
    const bool zero_diag = *o.affinity_out == MatcherAffinityOut::normalized_gaussian ? o.gaussian.zero_diag
                           : *o.affinity_out == MatcherAffinityOut::normalized_student ? o.student.zero_diag
                                                                                       : o.sinkhorn.zero_diag;
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j) {
            double D = 0;
            for (std::size_t k = 0; k < d; ++k) D += (Z(i, k) - Z(j, k)) * (Z(i, k) - Z(j, k));
            if (zero_diag && i == j) D += 1e12;
            switch (*o.affinity_out) {
            case MatcherAffinityOut::normalized_gaussian: a(i, j) = -D / o.gaussian.sigma; break;
            case MatcherAffinityOut::normalized_student: {
                const double nu = o.student.degrees_of_freedom;
                a(i, j) = -0.5 * (nu + 1) * std::log(1 + D / nu);
                break;
            }
            case MatcherAffinityOut::sinkhorn: {
                const double C = o.sinkhorn.base_kernel == SinkhornBaseKernel::student ? std::log(1 + D) : D;
                a(i, j) = f[i] + f[j] - C / o.sinkhorn.eps - std::log(double(n));
                break;
            }
            }
        }
    if (*o.affinity_out != MatcherAffinityOut::sinkhorn) {
        const NormalizationDim dim = *o.affinity_out == MatcherAffinityOut::normalized_gaussian
                                         ? o.gaussian.normalization_dim
                                         : o.student.normalization_dim;
        Matrix<double> l = a;
        if (dim == NormalizationDim::both) {
            const double z = lse(std::vector<double>(a.data(), a.data() + n * n));
            for (std::size_t k = 0; k < n * n; ++k) l.data()[k] -= z;
        } else if (dim == NormalizationDim::dim1 || dim == NormalizationDim::dim0) {
            for (std::size_t i = 0; i < n; ++i) {
                std::vector<double> axis(n);
                for (std::size_t j = 0; j < n; ++j) axis[j] = dim == NormalizationDim::dim1 ? a(i, j) : a(j, i);
                const double z = lse(axis) + std::log(double(n));
                for (std::size_t j = 0; j < n; ++j) (dim == NormalizationDim::dim1 ? l(i, j) : l(j, i)) -= z;
            }
        }
        a = l;
    }
    double L = 0;
    for (std::size_t k = 0; k < n * n; ++k) {
        const double p = P.data()[k], lq = a.data()[k];
        if (o.loss_fn == MatcherLossFn::square_loss) L += (p - std::exp(lq)) * (p - std::exp(lq));
        else if (p != 0) L -= p * lq;
    }
    return L;
}

struct Case {
    std::string name;
    AffinityMatcherLossOptions options;
};

std::vector<Case> cases() {
    std::vector<Case> out;
    for (MatcherLossFn fn : {MatcherLossFn::square_loss, MatcherLossFn::cross_entropy_loss}) {
        const std::string ln = to_string(fn) + "/";
        for (NormalizationDim dim : {NormalizationDim::both, NormalizationDim::dim1, NormalizationDim::dim0,
                                     NormalizationDim::none}) {
            const std::string dn = dim == NormalizationDim::both ? "both" : dim == NormalizationDim::dim1 ? "1"
                                   : dim == NormalizationDim::dim0 ? "0" : "none";
            AffinityMatcherLossOptions g;
            g.loss_fn = fn;
            g.affinity_out = MatcherAffinityOut::normalized_gaussian;
            g.gaussian.sigma = 1.7;
            g.gaussian.normalization_dim = dim;
            out.push_back({ln + "gaussian/" + dn, g});
            AffinityMatcherLossOptions s = g;
            s.affinity_out = MatcherAffinityOut::normalized_student;
            s.student.degrees_of_freedom = dim == NormalizationDim::dim1 ? 3.0 : 1.0;
            s.student.normalization_dim = dim;
            out.push_back({ln + "student/" + dn, s});
        }
        AffinityMatcherLossOptions g;
        g.loss_fn = fn;
        g.affinity_out = MatcherAffinityOut::normalized_gaussian;
        g.gaussian.zero_diag = false;
        out.push_back({ln + "gaussian/keep_diag", g});
        for (SinkhornBaseKernel k : {SinkhornBaseKernel::gaussian, SinkhornBaseKernel::student}) {
            AffinityMatcherLossOptions s;
            s.loss_fn = fn;
            s.affinity_out = MatcherAffinityOut::sinkhorn;
            s.sinkhorn.base_kernel = k;
            s.sinkhorn.eps = 0.8;
            out.push_back({ln + (k == SinkhornBaseKernel::gaussian ? "sinkhorn_gaussian" : "sinkhorn_student"), s});
        }
    }
    return out;
}

std::vector<double> sinkhorn_duals(const Matrix<double>& Z, const AffinityMatcherLossOptions& o) {
    if (*o.affinity_out != MatcherAffinityOut::sinkhorn) return {};
    SinkhornAffinity s(o.sinkhorn);
    static_cast<void>(s.log_affinity(Z.view()));
    return s.dual();
}

} // namespace

TEST(AffinityMatcher, LossIsTorchDRFormula) {
    const std::size_t n = 14;
    const CsrMatrix<double> P = random_p(n, 3);
    const Matrix<double> Pd = dense(P);
    const Matrix<double> Z = random_y(n, 2, 1.0, 4);
    for (const Case& c : cases()) {
        const AffinityMatcherObjective obj(P, c.options);
        const double L = obj(Z.view(), nullptr);
        const double ref = torchdr_loss(Z, Pd, c.options, sinkhorn_duals(Z, c.options));
        // Student self-pairs: TorchDR keeps (1 + 1e12)^(−(ν+1)/2) ~ 1e-12, nembed 0 (normalized.hpp).
        EXPECT_NEAR(L, ref, 1e-9 * std::abs(ref)) << c.name;
    }
}

TEST(AffinityMatcher, GradientMatchesFiniteDifferences) {
    const std::size_t n = 12;
    const CsrMatrix<double> P = random_p(n, 5);
    const Matrix<double> Pd = dense(P);
    for (const Case& c : cases()) {
        Matrix<double> Z = random_y(n, 2, 1.0, 6);
        const AffinityMatcherObjective obj(P, c.options);
        std::vector<double> g(n * 2);
        obj(Z.view(), g.data());
        // Sinkhorn: the duals at Z are constants of TorchDR's gradient (with_grad = False).
        const std::vector<double> f = sinkhorn_duals(Z, c.options);
        const double err = relative_gradient_error(Z, g, 1.0, [&] { return torchdr_loss(Z, Pd, c.options, f); });
        EXPECT_LT(err, 1e-6) << c.name;
    }
}

TEST(AffinityMatcher, RunLowersTheLossAndIsThreadIndependent) {
    const std::size_t n = 40;
    const CsrMatrix<double> P = random_p(n, 7);
    Matrix<float> X(n, 5);
    Rng rng(8);
    for (std::size_t k = 0; k < X.size(); ++k) X.data()[k] = static_cast<float>(rng.normal());
    for (const Case& c : cases()) {
        if (c.name.find("/both") == std::string::npos && c.name.find("sinkhorn") == std::string::npos) continue;
        torchdr::AffinityMatcherOptions o;
        o.affinity_out = c.options.affinity_out;
        o.gaussian = c.options.gaussian;
        o.student = c.options.student;
        o.sinkhorn = c.options.sinkhorn;
        o.loss_fn = c.options.loss_fn;
        o.max_iter = 100;
        o.lr = 0.1;
        o.init_scaling = 1.0;
        const Matrix<double> Y0 = ne_initial_embedding(o, X.view(), n);
        const NeResult r1 = torchdr::AffinityMatcher(o).fit_transform_affinity(P, X.view());
        const AffinityMatcherObjective obj = torchdr::AffinityMatcher(o).objective(P);
        const double before = obj(Y0.view(), nullptr), after = obj(r1.embedding.view(), nullptr);
        // With Sinkhorn the duals are constants of the gradient (TorchDR's with_grad = False), so the step is not
        // a descent direction of L(Z) itself; the square loss then need not decrease (it does not here).
        if (c.name != "square_loss/sinkhorn_gaussian" && c.name != "square_loss/sinkhorn_student") {
            EXPECT_LT(after, before * (1 - 1e-3)) << c.name;
        }
        EXPECT_EQ(r1.n_iter, 100) << c.name;
        for (int threads : {2, 3}) {
            o.n_threads = threads;
            const NeResult r = torchdr::AffinityMatcher(o).fit_transform_affinity(P, X.view());
            EXPECT_EQ(0, std::memcmp(r.embedding.data(), r1.embedding.data(), r1.embedding.size() * sizeof(double)))
                << c.name << " threads " << threads;
            EXPECT_EQ(r.loss, r1.loss) << c.name;
        }
    }
}

TEST(AffinityMatcher, DefaultsAreTorchDRs) {
    const torchdr::AffinityMatcherOptions o;
    EXPECT_EQ(o.optimizer, "Adam");
    EXPECT_EQ(o.lr, 1.0);
    EXPECT_EQ(o.max_iter, 1000);
    EXPECT_EQ(o.min_grad_norm, 1e-7);
    EXPECT_EQ(o.check_interval, 50);
    EXPECT_EQ(o.init, NeInit::pca);
    EXPECT_EQ(o.init_scaling, 1e-4);
    EXPECT_EQ(o.scheduler, "none");
    EXPECT_TRUE(o.optimizer_kwargs.has_value());  // None: torch's defaults, not "auto"
    EXPECT_EQ(o.optimizer_kwargs->momentum, 0.0);
    EXPECT_EQ(o.loss_fn, MatcherLossFn::square_loss);
    EXPECT_FALSE(o.affinity_out.has_value());
}

TEST(AffinityMatcher, BadParametersNameThemselves) {
    auto throws_naming = [](auto fn, const std::string& word) {
        try {
            fn();
        } catch (const InvalidArgument& e) {
            EXPECT_NE(std::string(e.what()).find(word), std::string::npos) << e.what();
            return;
        }
        ADD_FAILURE() << "no InvalidArgument for " << word;
    };
    throws_naming([] { parse_matcher_loss_fn("kl_loss"); }, "loss_fn");
    throws_naming([] { parse_matcher_affinity_out("EntropicAffinity"); }, "affinity_out");
    EXPECT_EQ(parse_matcher_affinity_out("SinkhornAffinity"), MatcherAffinityOut::sinkhorn);
    EXPECT_EQ(parse_matcher_loss_fn("cross_entropy_loss"), MatcherLossFn::cross_entropy_loss);
    const CsrMatrix<double> P = random_p(10, 9);
    torchdr::AffinityMatcherOptions o;
    o.init = NeInit::random;
    throws_naming([&] { torchdr::AffinityMatcher(o).fit_transform_affinity(P, {}); }, "affinity_out");
    o.affinity_out = MatcherAffinityOut::normalized_student;
    o.student.metric = CostMetric::euclidean;
    throws_naming([&] { torchdr::AffinityMatcher(o).fit_transform_affinity(P, {}); }, "metric");
    o.student.metric = CostMetric::sqeuclidean;
    o.student.degrees_of_freedom = 0;
    throws_naming([&] { torchdr::AffinityMatcher(o).fit_transform_affinity(P, {}); }, "degrees_of_freedom");
    o.student.degrees_of_freedom = 1;
    o.early_exaggeration_coeff = 12;
    throws_naming([&] { torchdr::AffinityMatcher(o).fit_transform_affinity(P, {}); }, "early_exaggeration_coeff");
    o.early_exaggeration_coeff = 1;
    CsrMatrix<double> Q = P;
    Q.values[0] = -1;
    throws_naming([&] { torchdr::AffinityMatcher(o).fit_transform_affinity(Q, {}); }, "affinity_in");
    o.optimizer = "LBFGS";
    throws_naming([&] { torchdr::AffinityMatcher(o).fit_transform_affinity(P, {}); }, "optimizer");
}

TEST(AffinityMatcher, TwentyStepsEqualTorchDRs) {
    const std::string path = std::string(NEMBED_TEST_DATA_DIR) + "/torchdr/affinity_matcher.npz";
    auto load = [&](const std::string& name) {
        NdArray a = read_npz(path, name);
        Matrix<double> m(a.shape.at(0), a.size() / a.shape.at(0));
        a.copy_to(m.data());
        return m;
    };
    const Matrix<double> Pd = load("P"), init = load("init");
    const std::size_t n = Pd.rows();
    CsrMatrix<double> P;
    P.n_rows = P.n_cols = n;
    P.indptr.push_back(0);
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < n; ++j)
            if (Pd(i, j) != 0) {
                P.indices.push_back(static_cast<index_t>(j));
                P.values.push_back(Pd(i, j));
            }
        P.indptr.push_back(static_cast<offset_t>(P.indices.size()));
    }
    for (MatcherLossFn fn : {MatcherLossFn::square_loss, MatcherLossFn::cross_entropy_loss})
        for (const char* key : {"g", "s", "k"}) {
            torchdr::AffinityMatcherOptions o;  // the script's: SGD, lr 50 / 0.5, 20 steps, the init scaled to std 1
            o.loss_fn = fn;
            o.optimizer = "SGD";
            o.lr = fn == MatcherLossFn::square_loss ? 50.0 : 0.5;
            o.max_iter = 20;
            o.min_grad_norm = 0;
            o.init = NeInit::array;
            o.init_array = init;
            o.init_scaling = 1.0;
            const std::string k = key;
            if (k == "g") o.affinity_out = MatcherAffinityOut::normalized_gaussian;
            if (k == "s") {
                o.affinity_out = MatcherAffinityOut::normalized_student;
                o.student.normalization_dim = NormalizationDim::dim1;
            }
            if (k == "k") {
                o.affinity_out = MatcherAffinityOut::sinkhorn;
                o.sinkhorn.base_kernel = SinkhornBaseKernel::student;
            }
            const NeResult r = torchdr::AffinityMatcher(o).fit_transform_affinity(P, {});
            const Matrix<double> ref = load(to_string(fn) + k);
            double err = 0;
            for (std::size_t t = 0; t < ref.size(); ++t)
                err = std::max(err, std::abs(r.embedding.data()[t] - ref.data()[t]));
            EXPECT_LT(err, 1e-12) << to_string(fn) << " " << k;
        }
}
