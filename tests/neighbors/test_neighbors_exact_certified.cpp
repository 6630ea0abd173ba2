// The exact kNN is exact in float64 terms wherever the data sit (docs/neighbors.md §1): its float32 keys pick
// candidates, a rigorous bound on their rounding decides per row whether the candidates must hold the k nearest by
// (double distance, index), and the rows it cannot certify are rescanned in double. Before the bound, 12 copies of
// a 7 000-point set placed 7 000 apart (neighbours ~1 apart) differed from a float64 scan in 11 775 of 84 000
// entries. Here the same construction, scaled down, plus shifts and scales, must give exactly the float64 scan's
// lists: the same indices in the same order, and distances equal to the float32 rounding of the float64 distance
// (the output type's resolution; the double values themselves agree bit for bit, being the same arithmetic).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "nembed/core/log.hpp"
#include "nembed/core/random.hpp"
#include "nembed/neighbors/distance.hpp"
#include "nembed/neighbors/exact.hpp"
#include "nembed/neighbors/knn.hpp"
#include "neighbors_test_util.hpp"
#include "../common/spread_copies.hpp"

using nembed::test::spread_copies;

using namespace nembed;
using namespace nembed::testing;

namespace {

Matrix<float> affine(const Matrix<float>& x, double scale, double shift) {
    Matrix<float> y(x.rows(), x.cols());
    for (std::size_t i = 0; i < x.size(); ++i)
        y.data()[i] = static_cast<float>(static_cast<double>(x.data()[i]) * scale + shift);
    return y;
}

// The float64 scan: every (distance, index) pair sorted, the first k (self skipped for a self graph). Euclidean is
// written out here; cosine and inner product use the library's double definition (point_distance, the one the
// index promises), cosine with the norms it is given.
std::size_t count_mismatches(const KnnGraph& g, MatrixView<float> ref, MatrixView<float> queries, bool self,
                             Metric metric) {
    std::size_t bad = 0;
    std::vector<std::pair<double, index_t>> all;
    for (std::size_t i = 0; i < queries.rows; ++i) {
        all.clear();
        const float* q = queries.row(i);
        for (std::size_t j = 0; j < ref.rows; ++j) {
            if (self && i == j) continue;
            const float* r = ref.row(j);
            double dist = 0;
            if (metric == Metric::euclidean) {
                for (std::size_t t = 0; t < ref.cols; ++t) {
                    const double diff = static_cast<double>(q[t]) - static_cast<double>(r[t]);
                    dist += diff * diff;
                }
                dist = std::sqrt(dist);
            } else {
                dist = point_distance(q, r, ref.cols, metric, vector_norm(q, ref.cols), vector_norm(r, ref.cols));
            }
            all.emplace_back(dist, static_cast<index_t>(j));
        }
        std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(g.k), all.end());
        for (std::size_t t = 0; t < g.k; ++t)
            if (g.neighbors(i)[t] != all[t].second || g.dists(i)[t] != static_cast<float>(all[t].first)) ++bad;
    }
    return bad;
}

// Runs f with the log's debug lines collected; returns how many rows the exact index said it rescanned.
template <class F>
std::size_t rescanned_rows(F&& f) {
    std::size_t rows = 0;
    set_log_sink([&](LogLevel level, const std::string& msg) {
        if (level == LogLevel::debug && msg.rfind("exact kNN: ", 0) == 0) rows += std::stoul(msg.substr(11));
    });
    f();
    set_log_sink({});
    return rows;
}

// Runs f with the log's debug lines collected; returns the self-search's pair tiles stopped after their first
// dimensions (docs/neighbors.md §2) and the total, {0, 0} when it printed no such line (D below the head's limit).
template <class F>
std::pair<std::size_t, std::size_t> stopped_tiles(F&& f) {
    std::pair<std::size_t, std::size_t> st{0, 0};
    set_log_sink([&](LogLevel level, const std::string& msg) {
        unsigned long a = 0, b = 0;
        if (level == LogLevel::debug && std::sscanf(msg.c_str(), "exact kNN self-search: %lu of %lu", &a, &b) == 2) {
            st.first += a;
            st.second += b;
        }
    });
    f();
    set_log_sink({});
    return st;
}

// n_clusters Gaussian clusters (sd `sd`) around centres uniform in [-1, 1]^d: every dimension has the same variance,
// so a tile's first dimensions hold only their share of it, and the partial bound is weakest.
Matrix<float> even_clusters(std::size_t n_clusters, std::size_t per, std::size_t d, double sd, std::uint64_t seed) {
    Rng rng(seed);
    Matrix<float> x(n_clusters * per, d);
    std::vector<double> c(d);
    for (std::size_t k = 0; k < n_clusters; ++k) {
        for (double& v : c) v = rng.uniform(-1.0, 1.0);
        for (std::size_t i = 0; i < per; ++i)
            for (std::size_t t = 0; t < d; ++t) x(k * per + i, t) = static_cast<float>(c[t] + sd * rng.normal());
    }
    return x;
}

TEST(ExactKnnCertified, SpreadCopiesEqualTheFloat64Scan) {
    // 12 copies of 160 points, 7 000 apart: the set at 1/44 of its size.
    const Matrix<float> x0 = spread_copies(12, 160, 50, 7000.0, 5);
    for (double scale : {1.0, 1e-6, 1e6}) {
        const Matrix<float> x = affine(x0, scale, 0.0);
        for (std::size_t k : {15u, 90u}) {
            if (scale != 1.0 && k != 15) continue;  // the scales once, k = 90 at scale 1
            KnnGraph g;
            const std::size_t rows =
                rescanned_rows([&] { g = make_exact_index(x.view(), Metric::euclidean, 2)->self_neighbors(k); });
            std::printf("spread copies x %g, k = %zu: %zu of %zu rows rescanned in double\n", scale, k, rows, x.rows());
            EXPECT_GT(rows, 0u);  // the float32 keys cannot decide here: the path under test runs
            EXPECT_EQ(count_mismatches(g, x.view(), x.view(), true, Metric::euclidean), 0u) << scale << " k " << k;
        }
    }
}

TEST(ExactKnnCertified, EveryKernelAndThreadCountGivesTheSameBits) {
    const Matrix<float> x = spread_copies(6, 160, 50, 7000.0, 9);
    const KnnGraph ref = make_exact_index(x.view(), Metric::euclidean, 1)->self_neighbors(20);
    EXPECT_EQ(count_mismatches(ref, x.view(), x.view(), true, Metric::euclidean), 0u);
    for (const std::string& isa : detail::exact_knn_isas())
        for (int threads : {1, 2, 3}) {
            const KnnGraph g = detail::make_exact_index(x.view(), Metric::euclidean, threads, isa)->self_neighbors(20);
            EXPECT_EQ(g.indices, ref.indices) << isa << " " << threads;
            EXPECT_EQ(g.distances, ref.distances) << isa << " " << threads;
        }
}

TEST(ExactKnnCertified, ShiftedByOneMillionEqualsTheFloat64Scan) {
    // Fashion-MNIST PCA-50 test subset (distances ~1e3) and the Gaussian copies, both moved by +1e6: float32 keeps
    // values 1e6 apart to 0.06, the differences of the moved values are still exact float64 inputs.
    const Matrix<float> all = read_npy_f32(std::string(NEMBED_TEST_DATA_DIR) + "/fmnist_4000_pca50.npy");
    Matrix<float> fm(1500, all.cols());
    std::copy(all.data(), all.data() + fm.size(), fm.data());
    for (const Matrix<float>* base : {&fm}) {
        const Matrix<float> x = affine(*base, 1.0, 1e6);
        const KnnGraph g = make_exact_index(x.view(), Metric::euclidean, 2)->self_neighbors(15);
        EXPECT_EQ(count_mismatches(g, x.view(), x.view(), true, Metric::euclidean), 0u);
    }
    const Matrix<float> x = affine(spread_copies(4, 200, 50, 30.0, 3), 1.0, 1e6);
    const KnnGraph g = make_exact_index(x.view(), Metric::euclidean, 2)->self_neighbors(15);
    EXPECT_EQ(count_mismatches(g, x.view(), x.view(), true, Metric::euclidean), 0u);
}

TEST(ExactKnnCertified, QueriesOnSpreadDataEqualTheFloat64Scan) {
    const Matrix<float> ref = spread_copies(8, 150, 50, 7000.0, 21);
    // queries: the reference rows moved by a small random step (a different point, the same neighbourhoods)
    Matrix<float> q(300, 50);
    Rng rng(4);
    for (std::size_t i = 0; i < q.rows(); ++i)
        for (std::size_t t = 0; t < 50; ++t) q(i, t) = ref(i * 4, t) + static_cast<float>(0.05 * rng.normal());
    KnnGraph g;
    const std::size_t rows =
        rescanned_rows([&] { g = make_exact_index(ref.view(), Metric::euclidean, 2)->query(q.view(), 30); });
    EXPECT_GT(rows, 0u);
    EXPECT_EQ(count_mismatches(g, ref.view(), q.view(), false, Metric::euclidean), 0u);
}

TEST(ExactKnnCertified, CosineAndInnerProductEqualTheFloat64Scan) {
    // Cosine: the copies 7 000 apart seen from the origin (angles ~1e-4 apart within a copy); inner product on data
    // scaled to norms below 1 (distances 1 - <x, y> >= 0).
    const Matrix<float> x = spread_copies(6, 150, 50, 7000.0, 13);
    const KnnGraph gc = make_exact_index(x.view(), Metric::cosine, 2)->self_neighbors(15);
    EXPECT_EQ(count_mismatches(gc, x.view(), x.view(), true, Metric::cosine), 0u);
    const Matrix<float> xi = affine(spread_copies(6, 150, 50, 3.0, 17), 0.2, 0.0);
    const KnnGraph gi = make_exact_index(xi.view(), Metric::inner_product, 2)->self_neighbors(15);
    EXPECT_EQ(count_mismatches(gi, xi.view(), xi.view(), true, Metric::inner_product), 0u);
}

TEST(ExactKnnCertified, OrdinaryDataNeedsNoRescan) {
    // The Fashion-MNIST PCA-50 subset: every row certified by its float32 keys (the bound costs nothing there) and
    // the lists are the float64 scan's.
    const Matrix<float> all = read_npy_f32(std::string(NEMBED_TEST_DATA_DIR) + "/fmnist_4000_pca50.npy");
    Matrix<float> x(2000, all.cols());
    std::copy(all.data(), all.data() + x.size(), x.data());
    for (std::size_t k : {15u, 90u}) {
        KnnGraph g;
        const std::size_t rows =
            rescanned_rows([&] { g = make_exact_index(x.view(), Metric::euclidean, 2)->self_neighbors(k); });
        std::printf("Fashion-MNIST 2000 x 50, k = %zu: %zu rows rescanned\n", k, rows);
        EXPECT_EQ(rows, 0u);
        EXPECT_EQ(count_mismatches(g, x.view(), x.view(), true, Metric::euclidean), 0u);
    }
}

TEST(ExactKnnCertified, PartialBoundOnEvenlySpreadVarianceEqualsTheFloat64Scan) {
    // 2 000 points in 37 dimensions (not a multiple of any tile width) with the variance spread evenly: the pair
    // tiles that stop after their first 8 dimensions must not lose a neighbour, for k = 15 and 90, and every kernel
    // and thread count gives the same bits.
    const Matrix<float> x = even_clusters(16, 125, 37, 0.08, 31);
    for (std::size_t k : {15u, 90u}) {
        KnnGraph g;
        const auto st = stopped_tiles([&] { g = make_exact_index(x.view(), Metric::euclidean, 2)->self_neighbors(k); });
        std::printf("even clusters 2000 x 37, k = %zu: %zu of %zu pair tiles stopped\n", k, st.first, st.second);
        EXPECT_GT(st.first, 0u);  // the path under test runs (measured: 5320 of 7168 at k = 15, 319 at k = 90)
        EXPECT_LT(st.first, st.second);
        EXPECT_EQ(count_mismatches(g, x.view(), x.view(), true, Metric::euclidean), 0u) << "k " << k;
        for (const std::string& isa : detail::exact_knn_isas())
            for (int threads : {1, 3}) {
                const KnnGraph h =
                    detail::make_exact_index(x.view(), Metric::euclidean, threads, isa)->self_neighbors(k);
                EXPECT_EQ(h.indices, g.indices) << isa << " " << threads << " k " << k;
                EXPECT_EQ(h.distances, g.distances) << isa << " " << threads << " k " << k;
            }
    }
}

TEST(ExactKnnCertified, PartialBoundUnderLargeOffsetsAndExtremeScalesEqualsTheFloat64Scan) {
    // Clusters with most of their variance in a few dimensions (so most tiles stop), scaled by 1e-30 and 1e30 and
    // moved by 1e6 and 1e4 (at 1e6 float32 quantises the values to 1/16: many exact ties); cosine and inner product
    // too (their keys are -w_q.w_j; the bound is the same).
    Matrix<float> x0 = even_clusters(30, 50, 50, 0.05, 7);
    for (std::size_t i = 0; i < x0.rows(); ++i)
        for (std::size_t t = 0; t < x0.cols(); ++t) x0(i, t) = static_cast<float>(x0(i, t) * std::pow(0.8, t));
    const std::pair<double, double> cases[] = {{1e-30, 0.0}, {1e30, 0.0}, {1.0, 1e6}, {1e-3, 1e4}, {1e30, 3e31}};
    for (const auto& [scale, shift] : cases) {
        const Matrix<float> x = affine(x0, scale, shift);
        KnnGraph g;
        const auto st =
            stopped_tiles([&] { g = make_exact_index(x.view(), Metric::euclidean, 2)->self_neighbors(15); });
        std::printf("clusters x %g + %g: %zu of %zu pair tiles stopped\n", scale, shift, st.first, st.second);
        EXPECT_GT(st.first, 0u) << scale << " + " << shift;
        EXPECT_EQ(count_mismatches(g, x.view(), x.view(), true, Metric::euclidean), 0u) << scale << " + " << shift;
    }
    const Matrix<float> xc = affine(x0, 1.0, 0.5);
    for (Metric m : {Metric::cosine, Metric::inner_product}) {
        const Matrix<float> xm = m == Metric::cosine ? xc : affine(x0, 0.1, 0.0);
        const KnnGraph g = make_exact_index(xm.view(), m, 2)->self_neighbors(15);
        EXPECT_EQ(count_mismatches(g, xm.view(), xm.view(), true, m), 0u) << to_string(m);
    }
}

TEST(ExactKnnCertified, PartialBoundOnLatticeTiesAndOddDimensionsEqualsTheFloat64Scan) {
    // Points on the integer lattice {0, 1, 2}^D (duplicates and exactly equal distances everywhere: ties go to the
    // smaller index), and D = 9, 23 (no partial bound below 24), 24, 53: the float64 scan's lists exactly.
    for (std::size_t d : {9u, 23u, 24u, 53u}) {
        Rng rng(d);
        Matrix<float> x(1500, d);
        for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = static_cast<float>(rng.below(3));
        KnnGraph g;
        const auto st =
            stopped_tiles([&] { g = make_exact_index(x.view(), Metric::euclidean, 2)->self_neighbors(15); });
        std::printf("lattice 1500 x %zu: %zu of %zu pair tiles stopped\n", d, st.first, st.second);
        if (d < 24) {
            EXPECT_EQ(st.second, 0u);
        }
        EXPECT_EQ(count_mismatches(g, x.view(), x.view(), true, Metric::euclidean), 0u) << "D " << d;
        const Matrix<float> c = even_clusters(30, 50, d, 0.05, d + 100);
        const auto sc =
            stopped_tiles([&] { g = make_exact_index(c.view(), Metric::euclidean, 2)->self_neighbors(15); });
        std::printf("clusters 1500 x %zu: %zu of %zu pair tiles stopped\n", d, sc.first, sc.second);
        if (d >= 24) {
            EXPECT_GT(sc.first, 0u);
        }
        EXPECT_EQ(count_mismatches(g, c.view(), c.view(), true, Metric::euclidean), 0u) << "clusters D " << d;
    }
}

} // namespace

namespace {

// The screens' data sets (the bf16 and the sgemm keys' tests): Gaussian clusters (160 columns), under offsets (1e6:
// values quantised to 1/16, ties; 1e4 at scale 1e-3) and tiny and huge scales, an odd D (131), the lattice
// {0, 1, 2}^130 (duplicates, equal distances), and clusters of `dup_per_cluster` rows with every point duplicated.
const char* const kScreenCases[] = {"clusters",        "clusters x 1 + 1e6", "clusters x 1e-3 + 1e4", "clusters x 1e-30",
                                    "clusters x 1e30", "gaussian 131",       "lattice 130",           "duplicated"};
Matrix<float> screen_case(std::size_t which, std::size_t dup_per_cluster) {
    const auto clusters = [] { return even_clusters(12, 100, 160, 0.05, 3); };
    switch (which) {
    case 0: return clusters();
    case 1: return affine(clusters(), 1.0, 1e6);
    case 2: return affine(clusters(), 1e-3, 1e4);
    case 3: return affine(clusters(), 1e-30, 0.0);
    case 4: return affine(clusters(), 1e30, 0.0);
    case 5: return even_clusters(1, 1300, 131, 1.0, 5);
    case 6: {
        Rng rng(130);
        Matrix<float> x(1400, 130);
        for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = static_cast<float>(rng.below(3));
        return x;
    }
    default: {
        const Matrix<float> h = even_clusters(10, dup_per_cluster, 144, 0.1, 9);
        Matrix<float> x(2 * h.rows(), h.cols());
        for (std::size_t i = 0; i < h.rows(); ++i)
            for (std::size_t t = 0; t < h.cols(); ++t) x(2 * i, t) = x(2 * i + 1, t) = h(i, t);
        return x;
    }
    }
}

// Whether the self-search ran through the bf16 screen (its debug line), and whether it then gave up for the float32
// keys (fell_back).
template <class F>
bool screened(F&& f, bool& fell_back) {
    bool seen = false;
    fell_back = false;
    set_log_sink([&](LogLevel level, const std::string& msg) {
        if (level != LogLevel::debug) return;
        if (msg.rfind("exact kNN self-search: bf16 screen", 0) == 0) seen = true;
        if (msg.find("float32 keys instead") != std::string::npos) fell_back = true;
    });
    f();
    set_log_sink({});
    return seen;
}

TEST(ExactKnnCertified, Bf16ScreenGivesTheFloat32KeysBitsAndTheFloat64Scan) {
    // The bf16 screen (docs/neighbors.md §1b, rows of >= 128 columns on CPUs with AVX512_BF16) only picks the
    // candidates: the lists must be exactly the float32 keys' (indices and distances bit for bit, every other kernel
    // set, 1 and 3 threads) and the float64 scan's, on Gaussian clusters, under large offsets (1e6: values quantised
    // to 1/16, ties) and tiny and huge scales, on the lattice {0, 1, 2}^D (duplicates, equal distances: ties by
    // index), with every point duplicated, and with an odd D (a zero-padded last bf16 pair).
    const auto isas = detail::exact_knn_isas();
    if (std::find(isas.begin(), isas.end(), "avx512bf16") == isas.end()) GTEST_SKIP() << "no AVX512_BF16 here";
    const Matrix<float> c = screen_case(0, 70);
    const auto make = [](std::size_t which) { return screen_case(which, 70); };
    {
        // queries on an index built for the screen (its float32 panels are packed on first use): the same lists
        const Matrix<float> q = even_clusters(4, 50, 160, 0.05, 3);
        const KnnGraph a = detail::make_exact_index(c.view(), Metric::euclidean, 2, "avx512bf16")->query(q.view(), 15);
        const KnnGraph b = detail::make_exact_index(c.view(), Metric::euclidean, 2, "generic")->query(q.view(), 15);
        EXPECT_EQ(a.indices, b.indices);
        EXPECT_EQ(a.distances, b.distances);
        EXPECT_EQ(count_mismatches(a, c.view(), q.view(), false, Metric::euclidean), 0u);
    }
    std::size_t fallbacks = 0;
    for (std::size_t which = 0; which < 8; ++which) {
        const Matrix<float> x = make(which);
        const std::string name = kScreenCases[which];
        for (std::size_t k : {15u, 90u}) {
            KnnGraph g;
            bool fell_back = false;
            const bool ran = screened(
                [&] { g = detail::make_exact_index(x.view(), Metric::euclidean, 2, "avx512bf16")->self_neighbors(k); },
                fell_back);
            fallbacks += fell_back ? 1 : 0;
            const std::size_t rows = rescanned_rows([&] {
                (void)detail::make_exact_index(x.view(), Metric::euclidean, 2, "avx512bf16")->self_neighbors(k);
            });
            std::printf("%s %zu x %zu, k = %zu: screen %d, float32 keys instead %d, %zu rows rescanned\n",
                        name.c_str(), x.rows(), x.cols(), k, ran ? 1 : 0, fell_back ? 1 : 0, rows);
            EXPECT_TRUE(ran) << name;
            EXPECT_EQ(count_mismatches(g, x.view(), x.view(), true, Metric::euclidean), 0u) << name << " k " << k;
            for (const std::string& isa : isas)
                for (int threads : {1, 3}) {
                    const KnnGraph h =
                        detail::make_exact_index(x.view(), Metric::euclidean, threads, isa)->self_neighbors(k);
                    EXPECT_EQ(h.indices, g.indices) << name << " " << isa << " " << threads << " k " << k;
                    EXPECT_EQ(h.distances, g.distances) << name << " " << isa << " " << threads << " k " << k;
                }
        }
    }
    // the tight clusters at k = 15 defeat the screen's bound: the fallback to the float32 keys runs too
    EXPECT_GT(fallbacks, 0u);
    EXPECT_LT(fallbacks, 16u);
}

// Whether the self-search took its keys from sgemm (its debug line).
template <class F>
bool sgemm_keys(F&& f) {
    bool seen = false;
    set_log_sink([&](LogLevel level, const std::string& msg) {
        if (level == LogLevel::debug && msg.rfind("exact kNN self-search: sgemm keys", 0) == 0) seen = true;
    });
    f();
    set_log_sink({});
    return seen;
}

TEST(ExactKnnCertified, SgemmKeysGiveTheFloat64ScanAndTheTilesBits) {
    // The AVX2 kernel set's self-search of rows with >= 128 columns takes its float32 keys from OpenBLAS's sgemm
    // (docs/neighbors.md §1c): the lists must be the float64 scan's (indices and float32 distances exactly) and the
    // same bits as the generic kernel set's tiles, at 1 and 2 threads, for Euclidean, cosine and inner product, on
    // Gaussian clusters, under offsets (1e6: values quantised to 1/16, ties; 1e4 at scale 1e-3), tiny and huge
    // scales, on the lattice {0, 1, 2}^130 (duplicates and equal distances: ties by index), with every point
    // duplicated, an odd D (131) and a last block of fewer than 256 rows (n = 1300, 1400, 1200).
    const auto isas = detail::exact_knn_isas();
    if (std::find(isas.begin(), isas.end(), "avx2") == isas.end()) GTEST_SKIP() << "no AVX2 here";
    const auto make = [](std::size_t which) { return screen_case(which, 60); };
    for (std::size_t which = 0; which < 8; ++which) {
        const Matrix<float> x = make(which);
        const std::string name = kScreenCases[which];
        for (Metric metric : {Metric::euclidean, Metric::cosine, Metric::inner_product}) {
            if (metric != Metric::euclidean && which != 0 && which != 5 && which != 6) continue;
            for (std::size_t k : {15u, 90u}) {
                const KnnGraph ref = detail::make_exact_index(x.view(), metric, 1, "generic")->self_neighbors(k);
                EXPECT_EQ(count_mismatches(ref, x.view(), x.view(), true, metric), 0u)
                    << name << " " << to_string(metric) << " k " << k;
                for (int threads : {1, 2}) {
                    KnnGraph g;
                    const bool ran = sgemm_keys([&] {
                        g = detail::make_exact_index(x.view(), metric, threads, "avx2")->self_neighbors(k);
                    });
#ifdef NEMBED_EXPECT_SGEMM_KNN
                    EXPECT_TRUE(ran) << name;
#else
                    (void)ran;
#endif
                    EXPECT_EQ(g.indices, ref.indices)
                        << name << " " << to_string(metric) << " " << threads << " k " << k;
                    EXPECT_EQ(g.distances, ref.distances)
                        << name << " " << to_string(metric) << " " << threads << " k " << k;
                }
            }
        }
    }
}

} // namespace
