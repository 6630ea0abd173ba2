// Held-out points against a reference map (metrics/reference_quality.hpp) against a brute-force computation of the
// definition: full distance lists sorted by (distance, index), overlap counted, the majority vote written out.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <numeric>
#include <set>
#include <vector>

#include "nembed/core/error.hpp"
#include "nembed/core/random.hpp"
#include "nembed/metrics/reference_quality.hpp"

using namespace nembed;

namespace {

template <typename T>
Matrix<T> gaussian(std::size_t n, std::size_t d, std::uint64_t seed, double scale) {
    Matrix<T> M(n, d);
    for (std::size_t i = 0; i < n; ++i) {
        Rng r(seed, i);
        for (std::size_t j = 0; j < d; ++j) M(i, j) = static_cast<T>(scale * r.normal() + 0.5 * static_cast<double>(i % 4));
    }
    return M;
}

// The k reference rows nearest to q, by (squared distance in double, index).
template <typename T>
std::vector<std::size_t> brute_nearest(const Matrix<T>& R, const T* q, std::size_t k) {
    std::vector<std::pair<double, std::size_t>> d(R.rows());
    for (std::size_t l = 0; l < R.rows(); ++l) {
        double s = 0;
        for (std::size_t c = 0; c < R.cols(); ++c) {
            const double t = static_cast<double>(R(l, c)) - static_cast<double>(q[c]);
            s += t * t;
        }
        d[l] = {s, l};
    }
    std::sort(d.begin(), d.end());
    std::vector<std::size_t> out(k);
    for (std::size_t a = 0; a < k; ++a) out[a] = d[a].second;
    return out;
}

struct Sets {
    Matrix<float> Xr, X;
    Matrix<double> Yr, Y;
    std::vector<std::int64_t> lr, l;
};

Sets make_sets(std::size_t n, std::size_t m) {
    Sets s{gaussian<float>(n, 7, 1, 1.0), gaussian<float>(m, 7, 2, 1.0), gaussian<double>(n, 2, 3, 1.0),
           gaussian<double>(m, 2, 4, 1.0), {}, {}};
    // The embeddings follow the data's first two coordinates loosely, so recall is neither 0 nor 1.
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t c = 0; c < 2; ++c) s.Yr(i, c) = 0.3 * s.Yr(i, c) + s.Xr(i, c);
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t c = 0; c < 2; ++c) s.Y(i, c) = 0.3 * s.Y(i, c) + s.X(i, c);
    for (std::size_t i = 0; i < n; ++i) s.lr.push_back(static_cast<std::int64_t>((i * 7) % 5));
    for (std::size_t i = 0; i < m; ++i) s.l.push_back(static_cast<std::int64_t>((i * 3) % 5));
    return s;
}

} // namespace

TEST(ReferenceQuality, MatchesBruteForce) {
    const std::size_t n = 300, m = 57;
    const Sets s = make_sets(n, m);
    for (std::size_t k : {1u, 5u, 10u}) {
        double hits = 0, right = 0;
        for (std::size_t i = 0; i < m; ++i) {
            const auto hx = brute_nearest(s.Xr, s.X.row(i), k), hy = brute_nearest(s.Yr, s.Y.row(i), k);
            const std::set<std::size_t> a(hx.begin(), hx.end());
            for (std::size_t j : hy) hits += static_cast<double>(a.count(j));
            // Majority of the reference labels nearest first; a tie to the label met first.
            std::map<std::int64_t, int> count;
            for (std::size_t j : hy) count[s.lr[j]]++;
            int best = 0;
            std::int64_t vote = -1;
            for (std::size_t j : hy)
                if (count[s.lr[j]] > best) {
                    best = count[s.lr[j]];
                    vote = s.lr[j];
                }
            right += vote == s.l[i] ? 1 : 0;
        }
        for (int t : {1, 2, 3}) {
            const ReferenceQuality q =
                evaluate_against_reference(s.Xr.view(), s.Yr.view(), s.X.view(), s.Y.view(), k, &s.lr, &s.l, t);
            EXPECT_EQ(q.knn_recall, hits / static_cast<double>(m * k)) << "k " << k << " threads " << t;
            ASSERT_TRUE(q.knn_accuracy.has_value());
            EXPECT_EQ(*q.knn_accuracy, right / static_cast<double>(m)) << "k " << k << " threads " << t;
            EXPECT_EQ(q.n_points, m);
            EXPECT_EQ(q.n_reference, n);
        }
        if (k >= 5) {
            EXPECT_GT(hits, 0.0);
        }
        EXPECT_LT(hits, static_cast<double>(m * k));
    }
}

TEST(ReferenceQuality, ReferencePointsAsQueriesFindThemselves) {
    // A query equal to a reference point has it as its nearest in both spaces: k = 1 gives recall 1 and the
    // point's own label.
    const Sets s = make_sets(120, 10);
    const ReferenceQuality q =
        evaluate_against_reference(s.Xr.view(), s.Yr.view(), s.Xr.view(), s.Yr.view(), 1, &s.lr, &s.lr, 2);
    EXPECT_EQ(q.knn_recall, 1.0);
    EXPECT_EQ(*q.knn_accuracy, 1.0);
    const ReferenceQuality nolab =
        evaluate_against_reference(s.Xr.view(), s.Yr.view(), s.X.view(), s.Y.view(), 3, nullptr, nullptr, 1);
    EXPECT_FALSE(nolab.knn_accuracy.has_value());
}

TEST(ReferenceQuality, RejectsMismatchedInputs) {
    const Sets s = make_sets(50, 8);
    const Matrix<double> Y3(8, 3);
    EXPECT_THROW(evaluate_against_reference(s.Xr.view(), s.Yr.view(), s.X.view(), Y3.view(), 5, nullptr, nullptr),
                 InvalidArgument);
    EXPECT_THROW(evaluate_against_reference(s.Xr.view(), s.Yr.view(), s.X.view(), s.Y.view(), 51, nullptr, nullptr),
                 InvalidArgument);
    EXPECT_THROW(evaluate_against_reference(s.Xr.view(), s.Yr.view(), s.X.view(), s.Y.view(), 5, &s.lr, nullptr),
                 InvalidArgument);
    EXPECT_THROW(evaluate_against_reference(s.Xr.view(), s.Yr.view(), s.X.view(), s.Y.view(), 5, &s.l, &s.l),
                 InvalidArgument);
    EXPECT_THROW(evaluate_against_reference(s.X.view(), s.Yr.view(), s.X.view(), s.Y.view(), 5, nullptr, nullptr),
                 InvalidArgument);
}
