// paraDime's model (parametric/): transforms and losses against direct formulas, gradients against finite
// differences, the routines end to end on clustered data, thread-count identity and clear errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>

#include "nembed/core/error.hpp"
#include "nembed/core/log.hpp"
#include "nembed/core/random.hpp"
#include "nembed/io/load.hpp"
#include "nembed/metrics/quality.hpp"
#include "nembed/parametric/parametric_dr.hpp"
#include "nembed/parametric/tsne_batch_loss.hpp"
#include "nembed/train/parametrization.hpp"
#include "../common/numeric.hpp"

using namespace nembed;
using namespace nembed::paradime;

namespace {

Matrix<double> random_points(std::size_t n, std::size_t d, std::uint64_t seed) {
    Matrix<double> Y(n, d);
    Rng rng(seed);
    for (std::size_t i = 0; i < Y.size(); ++i) Y.data()[i] = rng.normal();
    return Y;
}


// Loss of a batch relation + relation loss as a function of Y (and the transform parameters).
double batch_loss(const BatchRelations& br, const Matrix<double>& Y, const std::vector<TransformParams>& params,
                  RelationLossFunction f, const std::vector<double>& P /* b x b, or labels per pair */,
                  const std::vector<std::int32_t>* from, const std::vector<std::int32_t>* to, std::vector<double>* dY,
                  std::vector<TransformParams>* dparams) {
    BatchRelationData data;
    compute_batch_relations(br, Y.view(), params, data, from, to);
    std::vector<double> p(data.n_pairs()), pt(data.n_pairs()), dq;
    double len;
    const std::vector<double>* ptp = nullptr;
    if (data.triangular) {
        const std::size_t b = Y.rows();
        for (std::size_t k = 0; k < p.size(); ++k) {
            p[k] = P[static_cast<std::size_t>(data.from[k]) * b + static_cast<std::size_t>(data.to[k])];
            pt[k] = P[static_cast<std::size_t>(data.to[k]) * b + static_cast<std::size_t>(data.from[k])];
        }
        ptp = &pt;
        len = static_cast<double>(b);
    } else {
        p = P;
        len = static_cast<double>(p.size());
    }
    const double L = relation_loss_value(f, p, ptp, data.values(), len, 1e-7, dq);
    if (dY) {
        dY->assign(Y.size(), 0.0);
        dparams->clear();
        batch_relations_backward(br, Y.view(), data, dq, dY->data(), *dparams);
    }
    return L;
}

void check_gradient(const BatchRelations& br, RelationLossFunction f, const std::vector<double>& P,
                    const std::vector<std::int32_t>* from, const std::vector<std::int32_t>* to, std::size_t b) {
    Matrix<double> Y = random_points(b, 2, 7);
    std::vector<TransformParams> params;
    for (const Transform& t : br.transform) params.push_back(initial_params(t));
    std::vector<double> dY;
    std::vector<TransformParams> dp;
    batch_loss(br, Y, params, f, P, from, to, &dY, &dp);
    const double h = 1e-6;
    for (std::size_t i = 0; i < Y.size(); ++i) {
        Matrix<double> Yp = Y, Ym = Y;
        Yp.data()[i] += h;
        Ym.data()[i] -= h;
        const double fd = (batch_loss(br, Yp, params, f, P, from, to, nullptr, nullptr) -
                           batch_loss(br, Ym, params, f, P, from, to, nullptr, nullptr)) / (2 * h);
        EXPECT_NEAR(dY[i], fd, 1e-6 + 1e-5 * std::abs(fd)) << "coordinate " << i;
    }
    for (std::size_t t = 0; t < br.transform.size(); ++t) {
        if (!br.transform[t].learnable) continue;
        for (int which = 0; which < (br.transform[t].kind == TransformKind::student_t ? 1 : 2); ++which) {
            auto pp = params, pm = params;
            double* xp = br.transform[t].kind == TransformKind::student_t ? &pp[t].alpha : (which ? &pp[t].b : &pp[t].a);
            double* xm = br.transform[t].kind == TransformKind::student_t ? &pm[t].alpha : (which ? &pm[t].b : &pm[t].a);
            *xp += h;
            *xm -= h;
            const double fd = (batch_loss(br, Y, pp, f, P, from, to, nullptr, nullptr) -
                               batch_loss(br, Y, pm, f, P, from, to, nullptr, nullptr)) / (2 * h);
            const double an = br.transform[t].kind == TransformKind::student_t ? dp[t].alpha : (which ? dp[t].b : dp[t].a);
            EXPECT_NEAR(an, fd, 1e-6 + 1e-5 * std::abs(fd)) << "parameter " << which;
        }
    }
}

} // namespace

TEST(Paradime, StudentTAndModifiedCauchyValues) {
    TransformParams p;
    p.alpha = 2.5;
    EXPECT_NEAR(elementwise_value(TransformKind::student_t, p, 1.3), std::pow(1 + 1.69 / 2.5, -3.5 / 2), 1e-15);
    p.a = 1.7;
    p.b = 0.8;
    EXPECT_NEAR(elementwise_value(TransformKind::modified_cauchy, p, 1.3), 1 / (1 + 1.7 * std::pow(1.3, 1.6)), 1e-15);
    // The fitted (a, b) of min_dist 0.1, spread 1 are umap-learn's.
    const TransformParams f = initial_params(Transform::ModifiedCauchyTransform(0.1, 1.0));
    EXPECT_NEAR(f.a, 1.5769, 2e-3);
    EXPECT_NEAR(f.b, 0.8951, 2e-3);
}

TEST(Paradime, KlGradientOfDifferentiablePDistAgainstFiniteDifferences) {
    BatchRelations br;
    br.transform = {Transform::StudentTTransform(1.5, true), Transform::Normalize()};
    const std::size_t b = 9;
    std::vector<double> P(b * b, 0.0);
    Rng rng(3);
    double s = 0;
    for (std::size_t i = 0; i < b; ++i)
        for (std::size_t j = 0; j < b; ++j)
            if (i != j && rng.uniform() < 0.6) s += (P[i * b + j] = rng.uniform());
    for (double& x : P) x /= s;  // not symmetric on purpose
    check_gradient(br, RelationLossFunction::kullback_leibler_div, P, nullptr, nullptr, b);
}

// Early exaggeration α (RelationLoss::exaggeration): the gradient is that of the direct objective
// (1/b)[−α Σ_{i≠j} p_ij log w_ij + (Σ p) log Σ_{i≠j} w_ij] (w: the Student-t values before Normalize), openTSNE's
// exaggerated t-SNE gradient; α = 1 is the plain KL's gradient.
TEST(Paradime, ExaggeratedKlGradientAgainstFiniteDifferencesOfTheDirectObjective) {
    BatchRelations br;
    br.transform = {Transform::StudentTTransform(1.0), Transform::Normalize()};
    const std::size_t b = 8;
    std::vector<double> P(b * b, 0.0);
    Rng rng(5);
    double s = 0;
    for (std::size_t i = 0; i < b; ++i)
        for (std::size_t j = 0; j < b; ++j)
            if (i != j && rng.uniform() < 0.7) s += (P[i * b + j] = rng.uniform());
    for (double& x : P) x /= s;
    const double alpha = 12.0;
    auto direct = [&](const Matrix<double>& Y) {
        double attr = 0.0, z = 0.0;
        for (std::size_t i = 0; i < b; ++i)
            for (std::size_t j = 0; j < b; ++j) {
                if (i == j) continue;
                double d2 = 0.0;
                for (std::size_t k = 0; k < Y.cols(); ++k) d2 += (Y(i, k) - Y(j, k)) * (Y(i, k) - Y(j, k));
                const double w = 1.0 / (1.0 + d2);
                attr -= P[i * b + j] * std::log(w);
                z += w;
            }
        return (alpha * attr + std::log(z)) / static_cast<double>(b);  // Σ p = 1
    };
    Matrix<double> Y = random_points(b, 2, 11);
    std::vector<TransformParams> params;
    for (const Transform& t : br.transform) params.push_back(initial_params(t));
    BatchRelationData data;
    compute_batch_relations(br, Y.view(), params, data);
    std::vector<double> p(data.n_pairs()), pt(data.n_pairs()), dq;
    for (std::size_t k = 0; k < p.size(); ++k) {
        const auto i = static_cast<std::size_t>(data.from[k]), j = static_cast<std::size_t>(data.to[k]);
        p[k] = P[i * b + j];
        pt[k] = P[j * b + i];
    }
    relation_loss_value(RelationLossFunction::kullback_leibler_div, p, &pt, data.values(), static_cast<double>(b),
                        1e-12, dq);
    std::vector<double> dY(Y.size(), 0.0), plain(Y.size(), 0.0);
    std::vector<TransformParams> dp;
    batch_relations_backward(br, Y.view(), data, dq, dY.data(), dp, alpha);
    batch_relations_backward(br, Y.view(), data, dq, plain.data(), dp, 1.0);
    const double h = 1e-6;
    double differ = 0.0;
    for (std::size_t i = 0; i < Y.size(); ++i) {
        Matrix<double> Yp = Y, Ym = Y;
        Yp.data()[i] += h;
        Ym.data()[i] -= h;
        const double fd = (direct(Yp) - direct(Ym)) / (2 * h);
        EXPECT_NEAR(dY[i], fd, 1e-6 + 1e-5 * std::abs(fd)) << "coordinate " << i;
        differ = std::max(differ, std::abs(dY[i] - plain[i]));
    }
    EXPECT_GT(differ, 1e-3);  // the exaggeration changes the gradient (α P would not: Q is normalised)
}

TEST(Paradime, KlValueMatchesTheSquareForm) {
    // paraDime: Q = Student-t over the batch, normalised over the square form, KL summed over it / b.
    BatchRelations br;
    br.transform = {Transform::StudentTTransform(1.0), Transform::Normalize()};
    const std::size_t b = 6;
    Matrix<double> Y = random_points(b, 2, 11);
    std::vector<double> P(b * b, 0.0);
    double s = 0;
    for (std::size_t i = 0; i < b; ++i)
        for (std::size_t j = 0; j < b; ++j)
            if (i != j) s += (P[i * b + j] = 1.0 + static_cast<double>((i * 7 + j * 3) % 5));
    for (double& x : P) x /= s;
    std::vector<TransformParams> params{initial_params(br.transform[0]), {}};
    const double L = batch_loss(br, Y, params, RelationLossFunction::kullback_leibler_div, P, nullptr, nullptr, nullptr,
                                nullptr);
    double Z = 0, direct = 0;
    std::vector<double> W(b * b, 0.0);
    for (std::size_t i = 0; i < b; ++i)
        for (std::size_t j = 0; j < b; ++j)
            if (i != j) {
                const double d2 = std::pow(Y(i, 0) - Y(j, 0), 2) + std::pow(Y(i, 1) - Y(j, 1), 2);
                Z += (W[i * b + j] = 1 / (1 + d2));
            }
    for (std::size_t i = 0; i < b * b; ++i)
        if (P[i] > 0) direct += P[i] * (std::log(P[i] + 1e-7) - std::log(W[i] / Z + 1e-7));
    EXPECT_NEAR(L, direct / static_cast<double>(b), 1e-12);
}

TEST(Paradime, CrossEntropyGradientOfDistsFromToAgainstFiniteDifferences) {
    BatchRelations br;
    br.kind = BatchRelationKind::dists_from_to;
    br.transform = {Transform::ModifiedCauchyTransform(0.1, 1.0, std::nullopt, std::nullopt, true)};
    std::vector<std::int32_t> from{0, 0, 0, 1, 1, 2, 3, 4}, to{1, 2, 3, 2, 4, 5, 5, 6};
    std::vector<double> labels{1, 0, 0, 1, 0, 1, 0, 0};
    check_gradient(br, RelationLossFunction::cross_entropy_loss, labels, &from, &to, 7);
}

TEST(Paradime, CrossEntropyValue) {
    std::vector<double> p{1, 0, 0.3}, q{0.8, 0.4, 1.0}, dq;
    const double L = relation_loss_value(RelationLossFunction::cross_entropy_loss, p, nullptr, q, 3, 1e-7, dq);
    const double direct = (-std::log(0.8) - std::log(0.6) - 0.3 * std::log(1.0) - 0.7 * std::log(1e-7)) / 3;
    EXPECT_NEAR(L, direct, 1e-12);
    EXPECT_NEAR(dq[1], (1 / 0.6) / 3, 1e-12);
    EXPECT_NEAR(dq[2], -0.3 / 3, 1e-12);  // the clamped repulsion passes no gradient
}

TEST(Paradime, GlobalTransformsAgainstDirectComputation) {
    std::vector<std::int64_t> labels;
    Matrix<float> X = test::labelled_blobs(200, 5, 4, labels, 1);
    GlobalRelations g;
    g.transform = {Transform::PerplexityBasedRescale(10)};
    EXPECT_EQ(neighbor_count(g, 200), 30u);
    GlobalRelationData d = compute_global_relations(g, X.view());
    // Rows sum to 1 with entropy log2(perplexity) bits.
    for (std::size_t i = 0; i < 200; i += 37) {
        double s = 0, H = 0;
        for (offset_t p = d.sparse.indptr[i]; p < d.sparse.indptr[i + 1]; ++p) {
            const double v = d.sparse.values[p];
            s += v;
            if (v > 0) H -= v * std::log2(v);
        }
        EXPECT_NEAR(s, 1.0, 1e-12);
        EXPECT_NEAR(H, std::log2(10.0), 1e-5);
    }
    GlobalRelations u;
    u.transform = {Transform::ConnectivityBasedRescale(15)};
    EXPECT_EQ(neighbor_count(u, 200), 15u);
    GlobalRelationData c = compute_global_relations(u, X.view());
    for (std::size_t i = 0; i < 200; i += 37) {
        double s = 0, mx = 0;
        for (offset_t p = c.sparse.indptr[i]; p < c.sparse.indptr[i + 1]; ++p) {
            s += c.sparse.values[p];
            mx = std::max(mx, c.sparse.values[p]);
        }
        EXPECT_NEAR(s, std::log2(15.0), 1e-3);
        EXPECT_EQ(mx, 1.0);
    }
    // Symmetrize(subtract_product) = M + Mᵀ − M∘Mᵀ; Normalize sums to 1; NormalizeRows rows to 1.
    CsrMatrix<double> S = c.sparse;
    apply_global(Transform::Symmetrize(true), S);
    for (std::size_t i = 0; i < 200; i += 23)
        for (offset_t p = S.indptr[i]; p < S.indptr[i + 1]; ++p) {
            const double a = c.sparse.at(i, S.indices[p]), b = c.sparse.at(static_cast<std::size_t>(S.indices[p]),
                                                                               static_cast<index_t>(i));
            EXPECT_NEAR(S.values[p], a + b - a * b, 1e-15);
        }
    CsrMatrix<double> M = c.sparse;
    apply_global(Transform::Symmetrize(false), M);
    EXPECT_NEAR(M.at(3, c.sparse.indices[c.sparse.indptr[3]]),
                0.5 * (c.sparse.values[c.sparse.indptr[3]] +
                       c.sparse.at(static_cast<std::size_t>(c.sparse.indices[c.sparse.indptr[3]]), 3)),
                1e-15);
    apply_global(Transform::Normalize(), M);
    EXPECT_NEAR(M.sum(), 1.0, 1e-12);
    apply_global(Transform::NormalizeRows(), S);
    double r0 = 0;
    for (offset_t p = S.indptr[0]; p < S.indptr[1]; ++p) r0 += S.values[p];
    EXPECT_NEAR(r0, 1.0, 1e-12);
}

TEST(Paradime, PDistIsLazyAndNormalized) {
    std::vector<std::int64_t> labels;
    Matrix<float> X = test::labelled_blobs(40, 3, 2, labels, 2);
    GlobalRelations g;
    g.kind = GlobalRelationKind::pdist;
    g.transform = {Transform::StudentTTransform(1.0), Transform::Normalize()};
    GlobalRelationData d = compute_global_relations(g, X.view());
    EXPECT_TRUE(d.lazy_pdist);
    std::vector<index_t> all(40);
    for (int i = 0; i < 40; ++i) all[static_cast<std::size_t>(i)] = i;
    std::vector<std::int64_t> pos(40, -1);
    std::vector<double> sub;
    d.sub(all, pos, sub);
    double s = 0;
    for (double v : sub) s += v;
    EXPECT_NEAR(s, 1.0, 1e-9);
    double d2 = 0;
    for (int k = 0; k < 3; ++k) d2 += std::pow(double(X(2, k)) - double(X(5, k)), 2);
    EXPECT_NEAR(sub[2 * 40 + 5] / sub[5 * 40 + 2], 1.0, 1e-12);
    EXPECT_NEAR(sub[2 * 40 + 5], d.scale / (1 + d2), 1e-12);
    g.transform = {Transform::PerplexityBasedRescale(5)};
    EXPECT_THROW(compute_global_relations(g, X.view()), InvalidArgument);
}

TEST(Paradime, RoutinesEmbedClustersAndApplyToHeldOutPoints) {
    std::vector<std::int64_t> labels;
    Matrix<float> all = test::labelled_blobs(900, 20, 6, labels, 5);
    Matrix<float> X(800, 20, std::vector<float>(all.data(), all.data() + 800 * 20));
    Matrix<float> T(100, 20, std::vector<float>(all.data() + 800 * 20, all.data() + 900 * 20));
    std::vector<std::int64_t> lx(labels.begin(), labels.begin() + 800), lt(labels.begin() + 800, labels.end());
    ParametricTSNEOptions to;
    to.epochs = 10;
    to.init_epochs = 3;
    to.batch_size = 200;
    ParametricDR tsne = ParametricTSNE(to, {.seed = 1});
    tsne.train(X.view());
    Matrix<double> Y = tsne.apply(X.view());
    EXPECT_GT(knn_accuracy(Y.view(), lx, 10), 0.95);
    EXPECT_GT(knn_accuracy(tsne.apply(T.view()).view(), lt, 5), 0.9);
    ASSERT_EQ(tsne.histories().size(), 2u);
    const auto& h = tsne.histories()[1].losses.at("embedding");
    ASSERT_EQ(h.size(), 10u);
    EXPECT_LT(h.back(), h.front());

    ParametricUMAPOptions uo;
    uo.epochs = 10;
    uo.batch_size = 100;
    uo.batches_per_epoch = 10;
    ParametricDR umap = ParametricUMAP(uo, {.seed = 2});
    umap.train(X.view());
    EXPECT_GT(knn_accuracy(umap.apply(X.view()).view(), lx, 10), 0.95);
    EXPECT_GT(knn_accuracy(umap.apply(T.view()).view(), lt, 5), 0.9);
    EXPECT_THROW(umap.apply(Matrix<float>(5, 19).view()), InvalidArgument);
}

TEST(Paradime, SameBitsForAnyThreadCount) {
    std::vector<std::int64_t> labels;
    Matrix<float> X = test::labelled_blobs(300, 10, 3, labels, 9);
    Matrix<double> ref;
    for (int threads : {1, 2, 3}) {
        ParametricUMAPOptions uo;
        uo.epochs = 3;
        uo.init_epochs = 2;
        uo.batch_size = 50;
        ParametricDR dr = ParametricUMAP(uo, {.seed = 4, .n_threads = threads});
        dr.train(X.view());
        Matrix<double> Y = dr.apply(X.view());
        if (threads == 1)
            ref = Y;
        else
            EXPECT_EQ(0, std::memcmp(ref.data(), Y.data(), ref.size() * sizeof(double))) << threads << " threads";
    }
}

// The collapse of docs/parametric.md ("Collapse"): 3 000 Fashion-MNIST PCA-50 points, n_neighbors 15, min_dist 0.1,
// hidden (100, 100, 100). With the routine's default spectral phase (5 epochs, batches of 100, rate 0.05) seed 2's
// network ends that phase as a constant map (radius 6e-8, its last hidden layer saturated), which the cross-entropy
// cannot spread again: it must be reported, not returned silently. With the seed tutorial's spectral phase (10 epochs,
// batches of 500, rate 0.01) the same seed fits the spectral targets (radius ~1.4) and trains normally.
TEST(Paradime, UmapCollapseIsReportedAndTheTutorialSpectralPhaseAvoidsIt) {
    const Matrix<float> all = load_matrix<float>(std::string(NEMBED_TEST_DATA_DIR) + "/fmnist_4000_pca50.npy");
    const Matrix<float> X(3000, all.cols(), std::vector<float>(all.data(), all.data() + 3000 * all.cols()));
    std::vector<std::string> warnings;
    set_log_sink([&](LogLevel level, const std::string& m) {
        if (level == LogLevel::warning) warnings.push_back(m);
    });
    ParametricUMAPOptions uo;
    uo.n_neighbors = 15;
    uo.min_dist = 0.1;
    uo.batches_per_epoch = 10;
    uo.batch_size = 500;
    uo.learning_rate = 0.01;
    uo.epochs = 3;  // the collapse happens in the spectral phase; the main phase cannot undo it
    const ParametricDROptions po{.hidden_dims = {100, 100, 100}, .seed = 2, .n_threads = 2};
    ParametricDR collapsed = ParametricUMAP(uo, po);
    collapsed.train(X.view());
    set_log_sink({});
    ASSERT_EQ(collapsed.histories().size(), 2u);
    EXPECT_LT(collapsed.histories()[0].radius, collapse_radius);
    EXPECT_LT(collapsed.histories()[1].radius, collapse_radius);
    EXPECT_LT(embedding_radius(collapsed.apply(X.view()).view()), collapse_radius);
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_NE(warnings[0].find("collapsed"), std::string::npos) << warnings[0];
    EXPECT_NE(warnings[0].find("since phase 'spectral_init'"), std::string::npos) << warnings[0];

    warnings.clear();
    set_log_sink([&](LogLevel level, const std::string& m) {
        if (level == LogLevel::warning) warnings.push_back(m);
    });
    uo.init_epochs = 10;
    uo.init_batch_size = 500;
    uo.init_learning_rate = 0.01;
    uo.epochs = 60;
    ParametricDR tutorial = ParametricUMAP(uo, po);
    tutorial.train(X.view());
    set_log_sink({});
    EXPECT_TRUE(warnings.empty());
    // Measured (seeds 0-7): spectral-phase radius 1.34-1.40, final recall@10 0.238-0.256, accuracy 0.673-0.702.
    EXPECT_GT(tutorial.histories()[0].radius, 1.0);
    const Matrix<double> Y = tutorial.apply(X.view());
    const NdArray lab = read_npy(std::string(NEMBED_TEST_DATA_DIR) + "/fmnist_4000_labels.npy");
    std::vector<std::int64_t> labels(lab.size());
    lab.copy_to(labels.data());
    labels.resize(3000);
    EXPECT_GT(knn_recall(X.view(), Y.view(), 10, 2), 0.21);
    EXPECT_GT(knn_accuracy(Y.view(), labels, 10, 2), 0.64);
}

// The options beyond paraDime (early-exaggeration phase, learning-rate decay): the phases they add, a decay that
// changes the result, the same bits for any thread count.
TEST(Paradime, TsneExaggerationPhaseAndDecay) {
    std::vector<std::int64_t> labels;
    Matrix<float> X = test::labelled_blobs(300, 10, 3, labels, 9);
    ParametricTSNEOptions to;
    to.epochs = 4;
    to.init_epochs = 2;
    to.batch_size = 100;
    to.early_exaggeration_epochs = 3;
    to.lr_anneal = "linear";
    Matrix<double> ref;
    for (int threads : {1, 2}) {
        ParametricDR dr = ParametricTSNE(to, {.seed = 3, .n_threads = threads});
        ASSERT_EQ(dr.training_phases().size(), 3u);
        EXPECT_EQ(dr.training_phases()[1].name, "early_exaggeration");
        EXPECT_EQ(dr.training_phases()[1].loss.exaggeration, 12.0);
        EXPECT_EQ(dr.training_phases()[2].lr_anneal, LrAnneal::linear);
        dr.train(X.view());
        EXPECT_EQ(dr.histories()[1].losses.at("early_exaggeration").size(), 3u);
        Matrix<double> Y = dr.apply(X.view());
        if (threads == 1)
            ref = Y;
        else
            EXPECT_EQ(0, std::memcmp(ref.data(), Y.data(), ref.size() * sizeof(double))) << threads << " threads";
    }
    to.lr_anneal = "none";
    ParametricDR flat = ParametricTSNE(to, {.seed = 3});
    flat.train(X.view());
    Matrix<double> Y = flat.apply(X.view());
    EXPECT_NE(0, std::memcmp(ref.data(), Y.data(), ref.size() * sizeof(double)));
    to.lr_anneal = "umap";
    EXPECT_THROW(ParametricTSNE(to), InvalidArgument);
    to.lr_anneal = "sideways";
    EXPECT_THROW(ParametricTSNE(to), InvalidArgument);
    to.lr_anneal = "none";
    to.early_exaggeration = 0.0;
    EXPECT_THROW(ParametricTSNE(to), InvalidArgument);
    to.early_exaggeration = 12.0;
    to.early_exaggeration_epochs = -1;
    EXPECT_THROW(ParametricTSNE(to), InvalidArgument);
}

TEST(Paradime, EmbeddingTableIsAModelToo) {
    std::vector<std::int64_t> labels;
    Matrix<float> X = test::labelled_blobs(300, 10, 3, labels, 9);
    ParametricTSNEOptions to;
    to.epochs = 20;
    to.batch_size = 100;
    to.learning_rate = 0.5;  // a free table moves each point by about lr per Adam step
    ParametricDR dr = ParametricTSNE(to, {.seed = 4});
    EmbeddingTable table(random_points(300, 2, 1));
    dr.train(X.view(), table);
    EXPECT_GT(knn_accuracy(table.Y().view(), labels, 10), 0.95);
}

TEST(Paradime, LearnableAlphaMoves) {
    std::vector<std::int64_t> labels;
    Matrix<float> X = test::labelled_blobs(300, 10, 3, labels, 9);
    GlobalRelations g;
    g.transform = {Transform::PerplexityBasedRescale(20), Transform::Symmetrize(), Transform::Normalize()};
    BatchRelations b;
    b.transform = {Transform::StudentTTransform(1.0, true), Transform::Normalize()};
    TrainingPhase ph;
    ph.epochs = 5;
    ph.batch_size = 100;
    ParametricDR dr({.seed = 1}, {{"rel", g}}, {{"rel", b}}, {}, {ph});
    dr.train(X.view());
    EXPECT_NE(dr.transform_params("rel")[0].alpha, 1.0);
    EXPECT_TRUE(std::isfinite(dr.transform_params("rel")[0].alpha));
}

TEST(Paradime, ClearErrors) {
    EXPECT_THROW(parse_transform("StudentT"), InvalidArgument);
    EXPECT_THROW(parse_global_relation("KNN"), InvalidArgument);
    EXPECT_THROW(parse_batch_relation("PDist"), InvalidArgument);
    EXPECT_THROW(parse_loss("TripletLoss"), InvalidArgument);
    EXPECT_THROW(parse_sampling("edges"), InvalidArgument);
    TrainingPhase zero;
    zero.epochs = 0;
    EXPECT_THROW(validate(zero), InvalidArgument);
    try {
        validate(zero);
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("epochs"), std::string::npos);
    }
    ParametricDR dr = ParametricTSNE();
    EXPECT_THROW(dr.add_training_phase(zero), InvalidArgument);
    // DistsFromTo with standard sampling, a missing relation key, compound weights of the wrong length.
    ParametricDR u = ParametricUMAP();
    TrainingPhase std_phase;
    std_phase.loss = Loss::RelationLoss(RelationLossFunction::cross_entropy_loss);
    EXPECT_THROW(u.add_training_phase(std_phase), InvalidArgument);
    TrainingPhase missing;
    missing.loss = Loss::RelationLoss(RelationLossFunction::kullback_leibler_div, "nope");
    EXPECT_THROW(dr.add_training_phase(missing), InvalidArgument);
    TrainingPhase comp;
    comp.loss = Loss::CompoundLoss({Loss::PositionLoss("pca"), Loss::RelationLoss()}, {1.0});
    EXPECT_THROW(dr.add_training_phase(comp), InvalidArgument);
    // A batch transform on global relations; apply before train.
    GlobalRelations g;
    g.transform = {Transform::ModifiedCauchyTransform()};
    EXPECT_THROW(ParametricDR({}, {{"rel", g}}, {}), InvalidArgument);
    EXPECT_THROW(dr.apply(Matrix<float>(3, 4).view()), InvalidArgument);
    // A classification loss needs a classify head.
    std::vector<std::int64_t> labels;
    Matrix<float> X = test::labelled_blobs(60, 4, 2, labels, 1);
    TrainingPhase cls;
    cls.loss = Loss::ClassificationLoss();
    ParametricDR c = ParametricTSNE();
    c.add_training_phase(cls);
    EXPECT_THROW(c.train(X.view()), InvalidArgument);
}

// Bad settings of ParametricTSNE (each error names the setting and the value) and the batches of one point: the last
// batch of n = k·batch_size + 1 points holds one point, whose KL loss is 0 (no pairs, as torch's sums over empty
// tensors); it used to stop training with "Normalize: the batch relations sum to 0" (501 points, batches of 500).
TEST(Paradime, TsneBadSettingsAndBatchesOfOnePoint) {
    auto message = [](auto&& f) {
        try {
            f();
        } catch (const InvalidArgument& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    ParametricTSNEOptions neg_bs;
    neg_bs.init_batch_size = -7;
    EXPECT_NE(message([&] { ParametricTSNE(neg_bs); }).find("init_batch_size must be >= 0 (0: batch_size), got -7"),
              std::string::npos);
    ParametricTSNEOptions neg_lr;
    neg_lr.init_learning_rate = -1.0;
    EXPECT_NE(message([&] { ParametricTSNE(neg_lr); }).find("init_learning_rate must be >= 0"), std::string::npos);
    ParametricTSNEOptions one;
    one.batch_size = 1;
    EXPECT_NE(message([&] { ParametricTSNE(one); }).find("batch_size must be >= 2 for a relation loss"),
              std::string::npos);
    // The position phase reads no pairs: a batch of one point is fine there.
    TrainingPhase pos;
    pos.batch_size = 1;
    pos.loss = Loss::PositionLoss("pca");
    EXPECT_NO_THROW(validate(pos));

    std::vector<std::int64_t> labels;
    Matrix<float> X = test::labelled_blobs(41, 5, 2, labels, 3);
    ParametricTSNEOptions to;
    to.perplexity = 5;
    to.epochs = 2;
    to.init_epochs = 1;
    to.batch_size = 20;  // batches of 20, 20 and 1
    ParametricDR tsne = ParametricTSNE(to, {.hidden_dims = {8}, .seed = 1});
    tsne.train(X.view());
    const Matrix<double> Y = tsne.apply(X.view());
    for (std::size_t i = 0; i < Y.size(); ++i) ASSERT_TRUE(std::isfinite(Y.data()[i]));
    // The PCA phase with one column: the error names both numbers.
    Matrix<float> X1(10, 1);
    for (std::size_t i = 0; i < 10; ++i) X1(i, 0) = static_cast<float>(i);
    ParametricDR t1 = ParametricTSNE(to);
    EXPECT_NE(message([&] { t1.train(X1.view()); }).find("got n_components 2 for data of 1 feature(s)"),
              std::string::npos);
    // Values near float32's limit overflow the neighbour distances: named as such.
    Matrix<float> H(12, 2);
    for (std::size_t i = 0; i < H.size(); ++i) H.data()[i] = (i % 3 ? 3e38f : -3e38f);
    ParametricDR th = ParametricTSNE(to);
    EXPECT_NE(message([&] { th.train(H.view()); }).find("distance from row 0 to a neighbour is not finite"),
              std::string::npos);
}

// The triangular batch's 2-D loops (relations.cpp: distances, Student-t at α = 1 and its derivative, Normalize's
// backward, the distance backward) against the general pair loop: the same points with a third coordinate 0 take the
// general path, whose (t0² + t1²) + 0² and c·(y_ik − y_jk) give the same bits. Exaggeration 12 and a learnable
// α = 1 (the general Student-t loops) are covered too.
TEST(ParadimeRelations, TriangularTwoDimensionalLoopsEqualGeneralPath) {
    const std::size_t b = 37;
    const Matrix<double> Y = random_points(b, 2, 11);
    Matrix<double> Y3(b, 3);
    for (std::size_t i = 0; i < b; ++i) Y3(i, 0) = Y(i, 0), Y3(i, 1) = Y(i, 1), Y3(i, 2) = 0.0;
    Rng rng(5);
    std::vector<double> P(b * b, 0.0);
    for (std::size_t i = 0; i < b; ++i)
        for (std::size_t j = 0; j < b; ++j)
            if (i != j && rng.uniform() < 0.2) P[i * b + j] = rng.uniform();
    for (bool learnable : {false, true})
        for (double exaggeration : {1.0, 12.0}) {
            BatchRelations br;
            br.kind = BatchRelationKind::differentiable_pdist;
            br.transform = {Transform::StudentTTransform(1.0, learnable), Transform::Normalize()};
            std::vector<TransformParams> params;
            for (const Transform& t : br.transform) params.push_back(initial_params(t));
            BatchRelationData d2, d3;
            compute_batch_relations(br, Y.view(), params, d2);
            compute_batch_relations(br, Y3.view(), params, d3);
            for (std::size_t s = 0; s < d2.stages.size(); ++s)
                ASSERT_EQ(std::memcmp(d2.stages[s].data(), d3.stages[s].data(), d2.stages[s].size() * sizeof(double)), 0)
                    << "stage " << s;
            std::vector<double> p(d2.n_pairs()), pt(d2.n_pairs()), dq;
            for (std::size_t k = 0; k < p.size(); ++k) {
                p[k] = P[static_cast<std::size_t>(d2.from[k]) * b + static_cast<std::size_t>(d2.to[k])];
                pt[k] = P[static_cast<std::size_t>(d2.to[k]) * b + static_cast<std::size_t>(d2.from[k])];
            }
            relation_loss_value(RelationLossFunction::kullback_leibler_div, p, &pt, d2.values(), double(b), 1e-7, dq);
            std::vector<double> g2(b * 2, 0.25), g3(b * 3, 0.25);  // accumulated onto a nonzero gradient
            std::vector<TransformParams> dp2, dp3;
            batch_relations_backward(br, Y.view(), d2, dq, g2.data(), dp2, exaggeration);
            batch_relations_backward(br, Y3.view(), d3, dq, g3.data(), dp3, exaggeration);
            for (std::size_t i = 0; i < b; ++i)
                for (std::size_t k = 0; k < 2; ++k)
                    ASSERT_EQ(std::memcmp(&g2[i * 2 + k], &g3[i * 3 + k], sizeof(double)), 0) << i << " " << k;
            EXPECT_EQ(dp2[0].alpha, dp3[0].alpha);
        }
}

// triangular_pairs reads the batch's block at the pairs with the bits of sub() followed by the gather (the plan's
// ParametricTSNE batches), with and without normalize_sub, with batch points in any order and duplicates in a row.
TEST(ParadimeRelations, TriangularPairsEqualBlockGather) {
    const std::size_t n = 60;
    std::vector<Triplet<double>> t;
    Rng rng(3);
    for (std::size_t i = 0; i < n; ++i)
        for (int e = 0; e < 12; ++e) {
            const auto j = static_cast<index_t>(rng.below(n));
            if (j != static_cast<index_t>(i)) t.push_back({static_cast<index_t>(i), j, rng.uniform()});
        }
    GlobalRelationData g;
    g.sparse = csr_from_triplets(n, n, std::move(t));
    std::vector<index_t> batch;
    for (std::size_t i = 0; i < n; i += 2) batch.push_back(static_cast<index_t>((i * 7 + 3) % n));
    const std::size_t b = batch.size();
    std::vector<std::int64_t> pos(n, -1);
    for (bool normalize : {true, false}) {
        std::vector<double> block, p, pt;
        g.sub(batch, pos, block);
        double s = 1.0;
        if (normalize) {
            s = 0.0;
            for (double x : block) s += x;
            if (s <= 0.0) s = 1.0;
        }
        g.triangular_pairs(batch, pos, normalize, p, pt);
        ASSERT_EQ(p.size(), b * (b - 1) / 2);
        std::size_t k = 0;
        for (std::size_t i = 0; i < b; ++i)
            for (std::size_t j = i + 1; j < b; ++j, ++k) {
                const double want = block[i * b + j] / s, want_t = block[j * b + i] / s;
                ASSERT_EQ(std::memcmp(&p[k], &want, sizeof(double)), 0) << i << " " << j;
                ASSERT_EQ(std::memcmp(&pt[k], &want_t, sizeof(double)), 0) << i << " " << j;
            }
        for (std::int64_t v : pos) ASSERT_EQ(v, -1);
    }
}

// With batch phases the built-in network runs in chunks of 256 rows, so that paraDime's batches of 500 are two
// chunks (one per core): the bits stay the same for 1, 2 and 3 threads. A full-batch-only routine keeps 512 (its run
// is the encoder's; test_full_batch.cpp).
TEST(Paradime, BatchesOfFiveHundredRunInTwoChunksWithTheSameBits) {
    std::vector<std::int64_t> labels;
    const Matrix<float> X = test::labelled_blobs(600, 10, 3, labels, 12);
    Matrix<double> ref;
    for (int threads : {1, 2, 3}) {
        ParametricTSNEOptions to;
        to.epochs = 2;
        to.init_epochs = 1;
        ParametricDR dr = ParametricTSNE(to, {.seed = 6, .n_threads = threads});
        dr.train(X.view());
        EXPECT_EQ(dr.network().chunk_rows(), 256u);
        Matrix<double> Y = dr.apply(X.view());
        if (threads == 1)
            ref = Y;
        else
            EXPECT_EQ(0, std::memcmp(ref.data(), Y.data(), ref.size() * sizeof(double))) << threads << " threads";
    }
    ParametricTSNEOptions fb;
    fb.initialization = "none";
    fb.full_batch_iterations = 2;
    ParametricDR full = ParametricTSNE(fb, {.hidden_dims = {8}, .seed = 6, .n_threads = 2});
    full.train(X.view());
    EXPECT_EQ(full.network().chunk_rows(), 512u);
}

// ParametricTSNE's loss in fused passes (tsne_batch_loss.hpp) against the general path (compute_batch_relations →
// triangular_pairs → relation_loss_value → batch_relations_backward_in_place): value and dL/dY within rounding, with
// and without normalize_sub and exaggeration, a weight, a gradient accumulated onto nonzero values and batches too
// small for every row block; the same bits for 1, 2 and 3 threads.
TEST(ParadimeRelations, FusedTsneBatchLossEqualsGeneralPath) {
    const std::size_t n = 400;
    std::vector<Triplet<double>> t;
    Rng rng(8);
    for (std::size_t i = 0; i < n; ++i)
        for (int e = 0; e < 30; ++e) {
            const auto j = static_cast<index_t>(rng.below(n));
            t.push_back({static_cast<index_t>(i), j, rng.uniform()});  // the diagonal too: in the sum, never a pair
        }
    GlobalRelationData g;
    g.sparse = csr_from_triplets(n, n, std::move(t));
    BatchRelations br;
    br.transform = {Transform::StudentTTransform(1.0), Transform::Normalize()};
    std::vector<TransformParams> params;
    for (const Transform& tr : br.transform) params.push_back(initial_params(tr));
    std::vector<std::int64_t> pos(n, -1);
    for (std::size_t b : {2u, 9u, 37u, 250u}) {
        std::vector<index_t> batch;
        for (std::size_t i = 0; i < b; ++i) batch.push_back(static_cast<index_t>((i * 131 + 7) % n));
        const Matrix<double> Y = random_points(b, 2, 20 + b);
        for (bool normalize : {true, false})
            for (double exaggeration : {1.0, 12.0}) {
                Loss loss = Loss::RelationLoss(RelationLossFunction::kullback_leibler_div, "rel", "rel", normalize);
                loss.exaggeration = exaggeration;
                ASSERT_TRUE(fused_tsne_batch_applies(loss, br, params, g, 2));
                const double weight = 0.75;
                BatchRelationData data;
                compute_batch_relations(br, Y.view(), params, data);
                std::vector<double> p, pt, dq;
                g.triangular_pairs(batch, pos, normalize, p, pt);
                const double want = relation_loss_value(loss.loss_function, p, &pt, data.values(), double(b),
                                                        loss.epsilon, dq);
                for (double& x : dq) x *= weight;
                std::vector<double> dY_want(2 * b, 0.25), dp;
                std::vector<TransformParams> dparams;
                batch_relations_backward_in_place(br, Y.view(), data, dq, dY_want.data(), dparams, exaggeration);
                std::vector<double> ref;
                for (int threads : {1, 2, 3}) {
                    TsneBatchScratch scratch;
                    std::vector<double> dY(2 * b, 0.25);
                    const double got = fused_tsne_batch_kl(loss, g.sparse, batch, Y.view(), weight, dY.data(),
                                                           threads, scratch);
                    EXPECT_NEAR(got, want, 1e-12 * std::abs(want) + 1e-15) << b;
                    double scale = 0.0;
                    for (double x : dY_want) scale = std::max(scale, std::abs(x - 0.25));
                    for (std::size_t i = 0; i < 2 * b; ++i)
                        ASSERT_NEAR(dY[i], dY_want[i], 1e-9 * scale) << b << " " << i;
                    dY.push_back(got);
                    if (threads == 1)
                        ref = dY;
                    else
                        ASSERT_EQ(0, std::memcmp(ref.data(), dY.data(), ref.size() * sizeof(double))) << threads;
                }
            }
    }
    // Not for other transforms, a learnable α, other losses, PDist or 3-D positions.
    Loss kl = Loss::RelationLoss(RelationLossFunction::kullback_leibler_div);
    EXPECT_FALSE(fused_tsne_batch_applies(kl, br, params, g, 3));
    EXPECT_FALSE(fused_tsne_batch_applies(Loss::RelationLoss(RelationLossFunction::cross_entropy_loss), br, params, g, 2));
    BatchRelations learn = br;
    learn.transform[0] = Transform::StudentTTransform(1.0, true);
    EXPECT_FALSE(fused_tsne_batch_applies(kl, learn, params, g, 2));
    std::vector<TransformParams> alpha2 = params;
    alpha2[0].alpha = 2.0;
    EXPECT_FALSE(fused_tsne_batch_applies(kl, br, alpha2, g, 2));
    GlobalRelationData lazy;
    lazy.lazy_pdist = true;
    EXPECT_FALSE(fused_tsne_batch_applies(kl, br, params, lazy, 2));
}

// NeighborBasedPDist's rows straight from the kNN graph equal csr_from_triplets of its triplets, bit for bit, with a
// repeated point in a row (summed), for 1, 2 and 3 threads.
TEST(ParadimeRelations, KnnDistanceRowsEqualTriplets) {
    const std::size_t n = 300, k = 12;
    KnnGraph g = KnnGraph::sized(n, k, n);
    Rng rng(4);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < k; ++j) {
            g.indices[i * k + j] = static_cast<index_t>(rng.below(n));
            g.distances[i * k + j] = static_cast<float>(rng.uniform());
        }
    g.indices[7 * k + 3] = g.indices[7 * k + 5];  // a repeat
    std::vector<Triplet<double>> t;
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < k; ++j)
            t.push_back({static_cast<index_t>(i), g.neighbors(i)[j], static_cast<double>(g.dists(i)[j])});
    const CsrMatrix<double> want = csr_from_triplets(n, n, std::move(t));
    ASSERT_LT(want.nnz(), n * k);
    for (int threads : {1, 2, 3}) {
        const CsrMatrix<double> got = knn_distance_rows(g, threads);
        ASSERT_EQ(got.n_rows, n);
        ASSERT_EQ(got.n_cols, n);
        ASSERT_EQ(got.indptr, want.indptr);
        ASSERT_EQ(got.indices, want.indices);
        ASSERT_EQ(0, std::memcmp(got.values.data(), want.values.data(), want.nnz() * sizeof(double))) << threads;
    }
}
