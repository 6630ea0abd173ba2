// Operations on fuzzy simplicial sets (supervised UMAP, model composition): small cases worked by hand, and
// equality with umap-learn on a committed fixture (tests/data/umap_supervised_600.npz, written by
// tests/data/make_umap_supervised_fixture.py with umap-learn 0.5.12 from the graphs of umap_fuzzy_600.npz).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "nembed/affinity/fuzzy.hpp"
#include "nembed/core/error.hpp"
#include "nembed/io/npz.hpp"
#include "nembed/methods/umap.hpp"

using namespace nembed;

namespace {

std::vector<double> as_double(const NdArray& a) {
    std::vector<double> v(a.size());
    a.copy_to(v.data());
    return v;
}

CsrMatrix<double> load_csr(const std::string& path, const std::string& name, std::size_t n) {
    auto ip = as_double(read_npz(path, name + "_indptr"));
    auto ix = as_double(read_npz(path, name + "_indices"));
    auto v = as_double(read_npz(path, name + "_data"));
    CsrMatrix<double> m;
    m.n_rows = m.n_cols = n;
    for (double p : ip) m.indptr.push_back(static_cast<offset_t>(p));
    for (double j : ix) m.indices.push_back(static_cast<index_t>(j));
    m.values = v;
    m.validate("fixture");
    return m;
}

// Same pattern; values within rel relative error (umap-learn's memberships are float32, its sums scipy's).
void expect_same(const CsrMatrix<double>& got, const CsrMatrix<double>& want, double rel, const std::string& what) {
    ASSERT_EQ(got.n_rows, want.n_rows) << what;
    ASSERT_EQ(got.indptr, want.indptr) << what;
    ASSERT_EQ(got.indices, want.indices) << what;
    double worst = 0;
    for (std::size_t p = 0; p < got.values.size(); ++p)
        worst = std::max(worst, std::fabs(got.values[p] - want.values[p]) / std::max(1e-12, std::fabs(want.values[p])));
    EXPECT_LE(worst, rel) << what;
}

CsrMatrix<double> small(std::vector<Triplet<double>> t, std::size_t n = 3) { return csr_from_triplets(n, n, t); }

const std::string kFixture = std::string(NEMBED_TEST_DATA_DIR) + "/umap_supervised_600.npz";
const std::string kGraphs = std::string(NEMBED_TEST_DATA_DIR) + "/umap_fuzzy_600.npz";

} // namespace

TEST(FuzzyOps, ResetLocalConnectivityByHand) {
    // rows divided by their max, then a + b - ab
    auto g = small({{0, 1, 0.5}, {0, 2, 0.25}, {1, 0, 0.2}, {2, 1, 0.4}});
    auto r = reset_local_connectivity(g);
    // S: row0 = (0, 1, 0.5), row1 = (1, 0, 0), row2 = (0, 1, 0)
    EXPECT_DOUBLE_EQ(r.at(0, 1), 1.0 + 1.0 - 1.0);
    EXPECT_DOUBLE_EQ(r.at(0, 2), 0.5);
    EXPECT_DOUBLE_EQ(r.at(2, 1), 1.0);
    EXPECT_DOUBLE_EQ(r.at(1, 2), 1.0);
    EXPECT_EQ(r.nnz(), 6u);
}

TEST(FuzzyOps, CategoricalIntersectionByHand) {
    auto g = small({{0, 1, 0.5}, {1, 0, 0.5}, {0, 2, 1.0}, {2, 0, 1.0}, {1, 2, 0.8}, {2, 1, 0.8}});
    std::vector<std::int64_t> labels{0, 0, 1};
    auto r = categorical_intersection(g, labels, 1.0, 5.0);
    // after scaling: (0,1) 0.5, (0,2) e^-5, (1,2) 0.8 e^-5; rows divided by their max
    const double e5 = std::exp(-5.0);
    const double s01 = 1.0, s02 = e5 / 0.5, s10 = 1.0, s12 = 0.8 * e5 / 0.5, s20 = 1.0, s21 = 0.8;
    EXPECT_NEAR(r.at(0, 1), s01 + s10 - s01 * s10, 1e-15);
    EXPECT_NEAR(r.at(0, 2), s02 + s20 - s02 * s20, 1e-15);
    EXPECT_NEAR(r.at(1, 2), s12 + s21 - s12 * s21, 1e-15);
    // far_dist 1e12 (target_weight 1): edges across labels vanish
    auto cut = categorical_intersection(g, labels, 1.0, 1e12);
    EXPECT_EQ(cut.at(0, 2), 0.0);
    EXPECT_EQ(cut.nnz(), 2u);
    std::vector<std::int64_t> short_labels{0, 1};
    EXPECT_THROW(categorical_intersection(g, short_labels), InvalidArgument);
}

TEST(FuzzyOps, GeneralIntersectionAndUnionByHand) {
    auto a = small({{0, 1, 0.5}, {1, 0, 0.5}});
    auto b = small({{0, 1, 0.4}, {1, 2, 0.2}});
    auto u = general_simplicial_set_union(a, b);
    const double amin = 0.25, bmin = 0.1;  // min / 2 of each
    EXPECT_DOUBLE_EQ(u.at(0, 1), 0.5 + 0.4 - 0.2);
    EXPECT_DOUBLE_EQ(u.at(1, 0), 0.5 + bmin - 0.5 * bmin);
    EXPECT_DOUBLE_EQ(u.at(1, 2), amin + 0.2 - amin * 0.2);
    auto x = general_simplicial_set_intersection(a, b, 0.5);
    const double rmin = 1e-4;  // min(max(0.2 / 2, 1e-8), 1e-4)
    EXPECT_DOUBLE_EQ(x.at(0, 1), 0.5 * 0.4);
    EXPECT_DOUBLE_EQ(x.at(1, 0), 0.5 * rmin);
    EXPECT_DOUBLE_EQ(x.at(1, 2), amin * 0.2);
    auto w = general_simplicial_set_intersection(a, b, 0.25);  // l * r^(w / (1 - w))
    EXPECT_DOUBLE_EQ(w.at(0, 1), 0.5 * std::pow(0.4, 1.0 / 3.0));
    auto d = general_simplicial_set_intersection(a, b, 0.5, true);  // left pattern, r read as 1 - right
    EXPECT_EQ(d.nnz(), 2u);
    EXPECT_DOUBLE_EQ(d.at(0, 1), 0.5 * (1.0 - 0.4));
    EXPECT_THROW(general_simplicial_set_intersection(a, b, 1.5), InvalidArgument);
    EXPECT_THROW(general_simplicial_set_union(a, small({{0, 1, 1.0}}, 4)), InvalidArgument);
}

TEST(FuzzyOps, EqualsUmapLearn) {
    ASSERT_TRUE(std::filesystem::exists(kFixture)) << kFixture;
    const std::size_t n = 600;
    auto A = load_csr(kGraphs, "graph_a", n), B = load_csr(kGraphs, "graph_b", n);
    auto lab = as_double(read_npz(kFixture, "labels"));
    std::vector<std::int64_t> labels(lab.begin(), lab.end());
    expect_same(categorical_intersection(A, labels, 1.0, 5.0), load_csr(kFixture, "cat_w05", n), 1e-12, "cat 0.5");
    expect_same(categorical_intersection(A, labels, 1.0, 12.5, 2), load_csr(kFixture, "cat_w08", n), 1e-12,
                "cat 0.8");
    auto T = load_csr(kFixture, "target", n);
    expect_same(reset_local_connectivity(general_simplicial_set_intersection(A, T, 0.5)),
                load_csr(kFixture, "sup_w05", n), 1e-12, "supervised 0.5");
    expect_same(reset_local_connectivity(general_simplicial_set_intersection(A, T, 0.3)),
                load_csr(kFixture, "sup_w03", n), 1e-12, "supervised 0.3");
    expect_same(reset_local_connectivity(general_simplicial_set_intersection(A, B, 0.5), true),
                load_csr(kFixture, "mul", n), 1e-9, "model product");
    expect_same(reset_local_connectivity(general_simplicial_set_union(A, B), true), load_csr(kFixture, "add", n), 1e-9,
                "model sum");
    expect_same(reset_local_connectivity(general_simplicial_set_intersection(A, B, 0.5, true)),
                load_csr(kFixture, "sub", n), 1e-12, "model difference");
}

TEST(FuzzyOps, SupervisedGraphFromTheTarget) {
    const std::size_t n = 600;
    auto A = load_csr(kGraphs, "graph_a", n);
    UmapTarget t;
    t.values = as_double(read_npz(kFixture, "y"));
    t.categorical = false;
    t.n_neighbors = 10;
    // nembed builds the target's kNN itself (float32 |y_i - y_j|): umap-learn's up to float32 rounding
    auto S = umap_supervised_graph(A, t, 15, 2);
    auto want = load_csr(kFixture, "sup_w05", n);
    ASSERT_EQ(S.indices, want.indices);
    for (std::size_t p = 0; p < S.values.size(); ++p) ASSERT_NEAR(S.values[p], want.values[p], 1e-4);
    UmapTarget c;
    auto lab = as_double(read_npz(kFixture, "labels"));
    c.values = lab;
    expect_same(umap_supervised_graph(A, c, 15), load_csr(kFixture, "cat_w05", n), 1e-12, "categorical");
    c.values[3] = 0.5;
    EXPECT_THROW(umap_supervised_graph(A, c, 15), InvalidArgument);
    c.values.pop_back();
    EXPECT_THROW(umap_supervised_graph(A, c, 15), InvalidArgument);
}
