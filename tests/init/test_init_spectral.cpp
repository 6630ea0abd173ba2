// Spectral, random, user and median initialisations.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "nembed/core/error.hpp"
#include "nembed/core/log.hpp"
#include "nembed/core/random.hpp"
#include "nembed/core/sparse.hpp"
#include "nembed/init/median.hpp"
#include "nembed/init/random.hpp"
#include "nembed/init/rescale.hpp"
#include "nembed/init/spectral.hpp"
#include "nembed/init/user.hpp"

using namespace nembed;

namespace {

// Two clusters of n/2 points: each point links to 8 random points of its own cluster (weight 1, symmetrised) and a
// few weak links (weight 0.01) join the clusters so the graph is connected.
CsrMatrix<double> two_cluster_graph(std::size_t n, std::uint64_t seed) {
    std::vector<Triplet<double>> t;
    const std::size_t h = n / 2;
    for (std::size_t i = 0; i < n; ++i) {
        Rng r(seed, i);
        const std::size_t base = i < h ? 0 : h;
        for (int e = 0; e < 8; ++e) {
            std::size_t j = base + r.below(h);
            if (j == i) continue;
            t.push_back({static_cast<index_t>(i), static_cast<index_t>(j), 1.0});
            t.push_back({static_cast<index_t>(j), static_cast<index_t>(i), 1.0});
        }
    }
    for (std::size_t e = 0; e < 5; ++e) {
        auto i = static_cast<index_t>((e * 7) % h), j = static_cast<index_t>(h + (e * 11) % h);
        t.push_back({i, j, 0.01});
        t.push_back({j, i, 0.01});
    }
    return csr_from_triplets(n, n, std::move(t));
}

std::vector<double> degrees(const CsrMatrix<double>& A) {
    std::vector<double> d(A.n_rows, 0.0);
    for (std::size_t i = 0; i < A.n_rows; ++i)
        for (offset_t p = A.indptr[i]; p < A.indptr[i + 1]; ++p) d[i] += A.values[static_cast<std::size_t>(p)];
    return d;
}

// max_i |(A v - lambda D v)_i| / max_i |D v|_i
double residual(const CsrMatrix<double>& A, const Matrix<double>& V, std::size_t c, double lambda) {
    auto d = degrees(A);
    double rmax = 0, scale = 0;
    for (std::size_t i = 0; i < A.n_rows; ++i) {
        double av = 0;
        for (offset_t p = A.indptr[i]; p < A.indptr[i + 1]; ++p)
            av += A.values[static_cast<std::size_t>(p)] * V(static_cast<std::size_t>(A.indices[static_cast<std::size_t>(p)]), c);
        rmax = std::max(rmax, std::abs(av - lambda * d[i] * V(i, c)));
        scale = std::max(scale, std::abs(d[i] * V(i, c)));
    }
    return rmax / scale;
}

} // namespace

TEST(InitSpectral, EigenpairsSolveGeneralizedProblemBothSolvers) {
    CsrMatrix<double> A = two_cluster_graph(600, 1);
    SpectralOptions lanczos;
    lanczos.tol = 1e-12;
    SpectralOptions dense = lanczos;
    dense.dense_threshold = 1000;
    SpectralEigen a = spectral_eigenpairs(A, 4, lanczos), b = spectral_eigenpairs(A, 4, dense);
    auto d = degrees(A);
    for (std::size_t c = 0; c < 4; ++c) {
        EXPECT_LT(residual(A, a.eigenvectors, c, a.eigenvalues[c]), 1e-6) << c;
        EXPECT_LT(residual(A, b.eigenvectors, c, b.eigenvalues[c]), 1e-10) << c;
        EXPECT_NEAR(a.eigenvalues[c], b.eigenvalues[c], 1e-10);
        double vdv = 0;
        for (std::size_t i = 0; i < 600; ++i) vdv += d[i] * a.eigenvectors(i, c) * a.eigenvectors(i, c);
        EXPECT_NEAR(vdv, 1.0, 1e-10);
        for (std::size_t i = 0; i < 600; ++i) EXPECT_NEAR(a.eigenvectors(i, c), b.eigenvectors(i, c), 1e-7);
    }
    EXPECT_NEAR(a.eigenvalues[0], 1.0, 1e-12);  // trivial pair
    for (std::size_t c = 1; c < 4; ++c) EXPECT_LE(a.eigenvalues[c], a.eigenvalues[c - 1]);
}

// The float32 products (UMAP's setting): M's entries are rounded once, |E| <= u M elementwise with u = 2^-24, so
// ||E||_2 <= u (M is non-negative with spectral radius 1). The eigenvalues move by at most u (Weyl) and the
// D^1/2-scaled unit vectors by at most about sqrt(2) u / gap (Davis-Kahan); tol 1e-12 leaves the solver's own error
// far below both. Also: the same bits for any thread count, and products and restarts are counted.
TEST(InitSpectral, FloatOperatorWithinItsRoundingBound) {
    CsrMatrix<double> A = two_cluster_graph(600, 1);
    SpectralOptions dense;
    dense.dense_threshold = 1000;
    SpectralOptions fl;
    fl.tol = 1e-12;
    fl.float_operator = true;
    fl.ncv = 12;
    const SpectralEigen ref = spectral_eigenpairs(A, 5, dense), f = spectral_eigenpairs(A, 4, fl);
    EXPECT_EQ(ref.products, 0u);
    EXPECT_GT(f.products, 0u);
    EXPECT_GT(f.restarts, 0u);
    const double u = 0x1p-24;
    const auto d = degrees(A);
    double worst_value = 0.0;
    for (std::size_t c = 0; c < 4; ++c) {
        worst_value = std::max(worst_value, std::abs(f.eigenvalues[c] - ref.eigenvalues[c]));
        EXPECT_LE(std::abs(f.eigenvalues[c] - ref.eigenvalues[c]), 1.01 * u + 1e-12) << c;
        double gap = std::numeric_limits<double>::infinity();
        for (std::size_t o = 0; o < 5; ++o)
            if (o != c) gap = std::min(gap, std::abs(ref.eigenvalues[c] - ref.eigenvalues[o]));
        double diff = 0.0;
        for (std::size_t i = 0; i < 600; ++i) {
            const double t = std::sqrt(d[i]) * (f.eigenvectors(i, c) - ref.eigenvectors(i, c));
            diff += t * t;
        }
        EXPECT_LE(std::sqrt(diff), 2.0 * u / gap + 1e-9) << c << " gap " << gap;
    }
    EXPECT_GT(worst_value, 0.0);  // the float products do differ from the double ones
    SpectralOptions fl3 = fl;
    fl3.n_threads = 3;
    const SpectralEigen f3 = spectral_eigenpairs(A, 4, fl3);
    EXPECT_EQ(f3.eigenvalues, f.eigenvalues);
    EXPECT_EQ(f3.eigenvectors.storage(), f.eigenvectors.storage());
}

TEST(InitSpectral, SeparatesTwoClustersAlongFirstCoordinate) {
    CsrMatrix<double> A = two_cluster_graph(600, 2);
    Matrix<double> Y = spectral_init(A, 2, true, 5);
    ASSERT_EQ(Y.rows(), 600u);
    ASSERT_EQ(Y.cols(), 2u);
    EXPECT_NEAR(column_std(Y.view(), 0), 1e-4, 2e-6);  // jitter perturbs the 1e-4 a little
    const double s = Y(0, 0) > 0 ? 1.0 : -1.0;
    for (std::size_t i = 0; i < 600; ++i) EXPECT_GT(s * Y(i, 0) * (i < 300 ? 1.0 : -1.0), 0.0) << i;
    Matrix<double> Y2 = spectral_init(A, 2, true, 5);
    EXPECT_EQ(Y.storage(), Y2.storage());
    SpectralOptions threaded;
    threaded.seed = 5;
    threaded.n_threads = 3;
    EXPECT_EQ(spectral_init(A, 2, threaded).storage(), Y.storage());  // thread-count independent
    Matrix<double> Yn = spectral_init(A, 2, false, 5);
    EXPECT_NEAR(column_std(Yn.view(), 0), 1e-4, 1e-13);
}

TEST(InitSpectral, BadInputs) {
    CsrMatrix<double> A = two_cluster_graph(40, 3);
    EXPECT_THROW(spectral_init(A, 0), InvalidArgument);
    EXPECT_THROW(spectral_init(A, 39), InvalidArgument);  // needs 40 eigenvectors of a 40-point graph
    // Isolated point: row/column 5 emptied.
    std::vector<Triplet<double>> t;
    for (std::size_t i = 0; i < A.n_rows; ++i)
        for (offset_t p = A.indptr[i]; p < A.indptr[i + 1]; ++p) {
            auto j = A.indices[static_cast<std::size_t>(p)];
            if (i != 5 && j != 5) t.push_back({static_cast<index_t>(i), j, A.values[static_cast<std::size_t>(p)]});
        }
    CsrMatrix<double> iso = csr_from_triplets(40, 40, t);
    try {
        spectral_init(iso, 2);
        FAIL() << "no exception";
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("isolated"), std::string::npos) << e.what();
    }
    CsrMatrix<double> asym = A;
    asym.values[0] *= 2;
    asym.values[asym.values.size() - 1] *= 2;
    try {  // the rows are checked in parallel; the first bad entry in row order is the one named
        SpectralOptions threaded;
        threaded.n_threads = 3;
        spectral_init(asym, 2, threaded);
        FAIL() << "no exception";
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("entry (0, " + std::to_string(asym.indices[0]) + ")"), std::string::npos)
            << e.what();
    }
    CsrMatrix<double> neg = A;
    for (auto& v : neg.values) v = -v;
    EXPECT_THROW(spectral_init(neg, 2), InvalidArgument);
    CsrMatrix<double> rect = A;
    rect.n_cols = 41;
    EXPECT_THROW(spectral_init(rect, 2), InvalidArgument);
    SpectralOptions o;
    o.tol = 0;
    EXPECT_THROW(spectral_init(A, 2, o), InvalidArgument);
}

// The symmetry check counts entries below and above the diagonal before it trusts the upper ones' look-ups: an
// entry with no transpose is found on either side, and one within the tolerance of 0 is accepted as before.
TEST(InitSpectral, SymmetryCheckFindsUnpairedEntries) {
    const CsrMatrix<double> A = two_cluster_graph(40, 3);
    auto with = [&](std::vector<Triplet<double>> extra) {
        std::vector<Triplet<double>> t;
        for (std::size_t i = 0; i < A.n_rows; ++i)
            for (offset_t p = A.indptr[i]; p < A.indptr[i + 1]; ++p)
                t.push_back({static_cast<index_t>(i), A.indices[static_cast<std::size_t>(p)],
                             A.values[static_cast<std::size_t>(p)]});
        for (const auto& e : extra) {
            EXPECT_EQ(A.at(static_cast<std::size_t>(e.row), e.col), 0.0);
            EXPECT_EQ(A.at(static_cast<std::size_t>(e.col), e.row), 0.0);
            t.push_back(e);
        }
        return csr_from_triplets(40, 40, std::move(t));
    };
    auto message = [](const CsrMatrix<double>& m) {
        try {
            spectral_init(m, 2);
        } catch (const InvalidArgument& e) {
            return std::string(e.what());
        }
        return std::string("no exception");
    };
    // every upper entry paired, one lower entry without its transpose
    EXPECT_NE(message(with({{30, 2, 0.5}})).find("entry (30, 2)"), std::string::npos) << message(with({{30, 2, 0.5}}));
    // one unpaired on each side, so the counts agree: the large one is named
    EXPECT_NE(message(with({{2, 30, 1e-12}, {31, 3, 0.5}})).find("entry (31, 3)"), std::string::npos);
    EXPECT_NE(message(with({{2, 30, 0.5}, {31, 3, 1e-12}})).find("entry (2, 30)"), std::string::npos);
    // both within the tolerance of their missing transposes: accepted, as by the full check
    EXPECT_NO_THROW(spectral_init(with({{2, 30, 1e-12}, {31, 3, 1e-12}}), 2));
    EXPECT_NO_THROW(spectral_init(with({{31, 3, 1e-12}}), 2));
}

TEST(InitSpectral, NonConvergenceIsAClearError) {
    CsrMatrix<double> A = two_cluster_graph(600, 4);
    SpectralOptions o;
    o.max_iter = 1;
    o.tol = 1e-15;
    o.ncv = 5;
    EXPECT_THROW(spectral_init(A, 2, o), std::runtime_error);
}

TEST(InitRandom, MomentsAndStability) {
    Matrix<double> Y = random_init(20000, 2, 11);
    for (std::size_t c = 0; c < 2; ++c) {
        double m = 0, ss = 0;
        for (std::size_t i = 0; i < Y.rows(); ++i) m += Y(i, c);
        m /= 20000;
        for (std::size_t i = 0; i < Y.rows(); ++i) ss += (Y(i, c) - m) * (Y(i, c) - m);
        const double sd = std::sqrt(ss / 20000);
        EXPECT_LT(std::abs(m), 5 * 1e-4 / std::sqrt(20000.0));
        EXPECT_NEAR(sd, 1e-4, 0.03e-4);
    }
    Matrix<double> small = random_init(10, 2, 11);
    for (std::size_t i = 0; i < 20; ++i) EXPECT_EQ(small.data()[i], Y.data()[i]);
    Matrix<double> other = random_init(10, 2, 12);
    EXPECT_NE(small.storage(), other.storage());
    EXPECT_NEAR(column_std(random_init(5000, 3, 1, 1.0).view(), 2), 1.0, 0.05);
    EXPECT_THROW(random_init(0, 2, 1), InvalidArgument);
    EXPECT_THROW(random_init(5, 0, 1), InvalidArgument);
    EXPECT_THROW(random_init(5, 2, 1, -1.0), InvalidArgument);
}

TEST(InitUser, ValidatesAndWarns) {
    std::vector<std::string> warnings;
    set_log_sink([&](LogLevel l, const std::string& m) {
        if (l == LogLevel::warning) warnings.push_back(m);
    });
    Matrix<double> Y0(3, 2, std::vector<double>{0, 0, 1e-4, 2e-4, -1e-4, 3e-4});
    Matrix<double> Y = user_init(Y0.view(), 3, 2);
    EXPECT_EQ(Y.storage(), Y0.storage());
    EXPECT_TRUE(warnings.empty());
    Matrix<double> wide(3, 2, std::vector<double>{0, 0, 10, 2, -10, 3});
    user_init(wide.view(), 3);
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("standard deviation"), std::string::npos);
    set_log_sink({});
    EXPECT_THROW(user_init(Y0.view(), 4, 2), InvalidArgument);
    EXPECT_THROW(user_init(Y0.view(), 3, 3), InvalidArgument);
    Matrix<double> nan = Y0;
    nan(1, 1) = std::numeric_limits<double>::infinity();
    EXPECT_THROW(user_init(nan.view(), 3, 2), InvalidArgument);
    Matrix<double> empty;
    EXPECT_THROW(user_init(empty.view(), 0), InvalidArgument);
}

TEST(InitMedian, MedianAndInverseDistanceMean) {
    // Reference points on a line; 1-D and 2-D coordinates.
    Matrix<double> ref(5, 2, std::vector<double>{0, 10, 1, 11, 2, 12, 3, 13, 10, 20});
    KnnGraph g;
    g.n_points = 2;
    g.n_reference = 5;
    g.k = 3;
    g.indices = {0, 1, 4, 2, 3, 1};
    g.distances = {1.0f, 2.0f, 4.0f, 0.0f, 0.5f, 1.0f};
    Matrix<double> M = median_init(ref.view(), g);
    EXPECT_DOUBLE_EQ(M(0, 0), 1.0);
    EXPECT_DOUBLE_EQ(M(0, 1), 11.0);
    EXPECT_DOUBLE_EQ(M(1, 0), 2.0);
    // Even k: the mean of the two middle values.
    KnnGraph g2 = g;
    g2.n_points = 1;
    g2.k = 4;
    g2.indices = {0, 1, 2, 4};
    g2.distances = {1, 2, 3, 4};
    Matrix<double> M2 = median_init(ref.view(), g2);
    EXPECT_DOUBLE_EQ(M2(0, 0), 1.5);
    EXPECT_DOUBLE_EQ(M2(0, 1), 11.5);

    Matrix<double> W = weighted_mean_init(ref.view(), g);
    const double w0 = 1.0, w1 = 0.5, w2 = 0.25;
    EXPECT_NEAR(W(0, 0), (w0 * 0 + w1 * 1 + w2 * 10) / (w0 + w1 + w2), 1e-14);
    EXPECT_NEAR(W(0, 1), (w0 * 10 + w1 * 11 + w2 * 20) / (w0 + w1 + w2), 1e-14);
    EXPECT_DOUBLE_EQ(W(1, 0), 2.0);  // a neighbour at distance 0 takes all the weight
    EXPECT_DOUBLE_EQ(W(1, 1), 12.0);

    KnnGraph bad = g;
    bad.n_reference = 6;
    EXPECT_THROW(median_init(ref.view(), bad), InvalidArgument);
    bad = g;
    bad.indices[0] = 7;
    EXPECT_THROW(median_init(ref.view(), bad), InvalidArgument);
    bad = g;
    bad.k = 0;
    bad.indices.clear();
    bad.distances.clear();
    EXPECT_THROW(weighted_mean_init(ref.view(), bad), InvalidArgument);
}
