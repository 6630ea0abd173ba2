// Affinities must not depend on the scale of the data (issue #19, item 3): perplexity-calibrated P and UMAP's fuzzy
// memberships of a graph whose distances are multiplied by 1e36 or 1e-30 equal those of the original graph.
// Before, the bandwidth searches started at 1 and ran out of steps (openTSNE's 200 halvings/doublings reach
// 2^+-200, umap-learn's 64 only 2^+-64): t-SNE's kNN recall on Fashion-MNIST x 1e36 fell from 0.52 to 0.29.
// Tolerance: the scaled distances are rounded to float32 (rel 6e-8); P to rel 1e-5. The fuzzy search stops at
// |sum - log2 k| < 1e-5 (umap-learn's), and a scaled row bisects from another start: sigma and memberships rel 1e-4.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "affinity_test_util.hpp"
#include "nembed/affinity/fuzzy.hpp"
#include "nembed/affinity/perplexity.hpp"

using namespace nembed;
using namespace nembed::testing;

namespace {

KnnGraph scaled(const KnnGraph& g, double s) {
    KnnGraph out = g;
    for (float& d : out.distances) d = static_cast<float>(static_cast<double>(d) * s);
    return out;
}

void expect_same_values(const CsrMatrix<double>& a, const CsrMatrix<double>& b, double rel, double s) {
    ASSERT_EQ(a.indices, b.indices) << s;
    ASSERT_EQ(a.values.size(), b.values.size());
    for (std::size_t p = 0; p < a.values.size(); ++p)
        ASSERT_NEAR(b.values[p], a.values[p], rel * a.values[p] + 1e-300) << "entry " << p << " at scale " << s;
}

TEST(AffinityScale, PerplexityAffinitiesDoNotDependOnTheScale) {
    const KnnGraph g = brute_knn(gaussian_data(300, 6, 31), 45);
    PerplexityOptions o;
    o.perplexity = 15;
    const CsrMatrix<double> P = perplexity_affinities(g, o);
    for (double s : {1e36, 1e-30, 1e12}) expect_same_values(P, perplexity_affinities(scaled(g, s), o), 1e-5, s);
}

TEST(AffinityScale, FuzzyMembershipsDoNotDependOnTheScale) {
    const KnnGraph g = brute_knn(gaussian_data(300, 6, 32), 14);
    FuzzyOptions o;
    const FuzzyCalibration c = smooth_knn_distances(g, o);
    const CsrMatrix<double> M = fuzzy_simplicial_set(g, o);
    for (double s : {1e36, 1e-30, 1e12}) {
        const KnnGraph gs = scaled(g, s);
        const FuzzyCalibration cs = smooth_knn_distances(gs, o);
        for (std::size_t i = 0; i < g.n_points; ++i) ASSERT_NEAR(cs.sigma[i] / s, c.sigma[i], 1e-4 * c.sigma[i]) << s;
        expect_same_values(M, fuzzy_simplicial_set(gs, o), 1e-4, s);
    }
}

} // namespace
