// The network's input map (parametric/mlp.hpp, InputNormalization; docs/parametric.md, "Input normalisation"): its
// statistics, its use in every pass that reads input rows, its save and reload, and what it is for: parametric maps
// that do not depend on where the data sits (an offset of 10⁴ or a scale of 10³⁰ left the raw network saturated or
// overflowing: NaN maps, recall near chance).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <cstring>
#include <filesystem>
#include <memory>

#include "nembed/core/error.hpp"
#include "nembed/core/random.hpp"
#include "nembed/io/model.hpp"
#include "nembed/metrics/quality.hpp"
#include "nembed/parametric/mlp.hpp"
#include "nembed/parametric/network_parametrization.hpp"
#include "nembed/parametric/parametric_dr.hpp"
#include "../common/numeric.hpp"

using namespace nembed;

namespace {

// Columns of different offsets and spreads (column j: 1000·j + (j + 1)·N(0, 1)).
Matrix<float> shifted_columns(std::size_t n, std::size_t D, std::uint64_t seed) {
    Rng rng(seed);
    Matrix<float> X(n, D);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < D; ++j)
            X(i, j) = static_cast<float>(1000.0 * static_cast<double>(j) + static_cast<double>(j + 1) * rng.normal());
    return X;
}

Matrix<float> affine(const Matrix<float>& X, double scale, double offset) {
    Matrix<float> Z(X.rows(), X.cols());
    for (std::size_t i = 0; i < X.size(); ++i)
        Z.data()[i] = static_cast<float>(static_cast<double>(X.data()[i]) * scale + offset);
    return Z;
}

bool same_bits(const float* a, const float* b, std::size_t n) { return std::memcmp(a, b, n * sizeof(float)) == 0; }

bool all_finite(const Matrix<double>& Y) {
    for (std::size_t i = 0; i < Y.size(); ++i)
        if (!std::isfinite(Y.data()[i])) return false;
    return true;
}

} // namespace

TEST(InputNormalization, FitIsTheColumnMeansAndTheRmsForAnyThreadCount) {
    const Matrix<float> X = shifted_columns(2500, 7, 1);  // more than two blocks of 1024 rows
    // Direct: the means, then the RMS of the centred entries, in long double.
    std::vector<long double> mean(7, 0.0L);
    for (std::size_t i = 0; i < X.rows(); ++i)
        for (std::size_t j = 0; j < 7; ++j) mean[j] += X(i, j);
    long double ss = 0.0L;
    for (std::size_t j = 0; j < 7; ++j) mean[j] /= static_cast<long double>(X.rows());
    for (std::size_t i = 0; i < X.rows(); ++i)
        for (std::size_t j = 0; j < 7; ++j) ss += (X(i, j) - mean[j]) * (X(i, j) - mean[j]);
    const double rms = static_cast<double>(std::sqrt(ss / (X.rows() * 7.0L)));

    const InputNormalization one = InputNormalization::fit(X.view(), 1);
    ASSERT_EQ(one.mean.size(), 7u);
    for (std::size_t j = 0; j < 7; ++j) EXPECT_NEAR(one.mean[j], static_cast<double>(mean[j]), 1e-12 * (1000.0 * j + 1));
    EXPECT_NEAR(one.scale, rms, 1e-12 * rms);
    for (int threads : {2, 3}) {
        const InputNormalization t = InputNormalization::fit(X.view(), threads);
        EXPECT_EQ(t.mean, one.mean) << threads << " threads";
        EXPECT_EQ(t.scale, one.scale) << threads << " threads";
    }
    // Constant data: centred only (scale 1), no division by zero.
    const InputNormalization c = InputNormalization::fit(Matrix<float>(10, 3, std::vector<float>(30, 7.5f)).view());
    EXPECT_EQ(c.mean, std::vector<double>(3, 7.5));
    EXPECT_EQ(c.scale, 1.0);
    EXPECT_EQ(InputNormalization::fit(Matrix<float>(10, 3, std::vector<float>(30, 7.5f)).view(), 1, 8.0).scale, 1.0);
    EXPECT_THROW(InputNormalization::fit(Matrix<float>(0, 3).view()), InvalidArgument);
    // A row-norm target (paraDime's routines): the RMS row norm √D · rms scaled to it, the same means.
    const InputNormalization r = InputNormalization::fit(X.view(), 2, 8.0);
    EXPECT_EQ(r.mean, one.mean);
    EXPECT_NEAR(r.scale, rms * std::sqrt(7.0) / 8.0, 1e-12 * rms);
    for (double bad : {-1.0, std::nan(""), std::numeric_limits<double>::infinity()})
        EXPECT_THROW(InputNormalization::fit(X.view(), 1, bad), InvalidArgument) << bad;
}

// One row of 1e30 among 3 blobs of unit noise sets the RMS alone (~1e30/√300): scaled by it the other rows would
// span ~1e-29 of the unit scale and map to one point (ParametricTSNE, ParametricUMAP and parametric CNE returned
// every other position equal). fit refuses it, naming the row; a far row that leaves the bulk resolved (1e4 here:
// bulk/scale 5e-3, where the routines' maps kept their accuracy, docs/parametric.md §1), a far minority cluster, or
// data with half its rows equal (the bulk's size is 0: nothing to compare) are fitted as before.
TEST(InputNormalization, RefusesABulkThatAFarRowWouldShrinkToAPoint) {
    std::vector<std::int64_t> labels;
    Matrix<float> X = test::labelled_blobs(300, 10, 3, labels, 0);
    const InputNormalization clean = InputNormalization::fit(X.view(), 2);
    for (std::size_t j = 0; j < 10; ++j) X(7, j) = 1e30f;
    try {
        (void)InputNormalization::fit(X.view(), 2);
        FAIL() << "no error";
    } catch (const InvalidArgument& e) {
        const std::string m = e.what();
        EXPECT_NE(m.find("row 7 lies"), std::string::npos) << m;
        EXPECT_NE(m.find("look alike"), std::string::npos) << m;
    }
    for (std::size_t j = 0; j < 10; ++j) X(7, j) = 1e4f;
    const InputNormalization far = InputNormalization::fit(X.view(), 2);
    EXPECT_GT(far.scale, 100.0 * clean.scale);  // still the plain RMS: the check changes no map
    // A minority cluster 10³ away (10 % of the rows): a real structure, not refused.
    Matrix<float> two = test::labelled_blobs(300, 10, 1, labels, 1);
    for (std::size_t i = 0; i < 30; ++i)
        for (std::size_t j = 0; j < 10; ++j) two(i, j) += 1e3f;
    EXPECT_NO_THROW((void)InputNormalization::fit(two.view(), 2));
    // Half the rows equal: the bulk's size is 0 and nothing is judged.
    Matrix<float> same(11, 2, std::vector<float>(22, 0.0f));
    same(10, 0) = 1e30f;
    EXPECT_NO_THROW((void)InputNormalization::fit(same.view(), 1));
    // Through a routine: the error reaches the caller before any training.
    for (std::size_t j = 0; j < 10; ++j) X(7, j) = 1e30f;
    paradime::ParametricDROptions po;
    po.n_threads = 2;
    paradime::ParametricUMAPOptions uo;
    uo.epochs = 2;
    paradime::ParametricDR dr = paradime::ParametricUMAP(uo, po);
    EXPECT_THROW(dr.train(X.view()), InvalidArgument);
    // Without the map the far row overflows the products: the first non-finite batch loss stops training (paraDime
    // would return a NaN map), naming the phase.
    po.normalize_inputs = false;
    for (bool umap : {true, false}) {
        paradime::ParametricDR raw = umap ? paradime::ParametricUMAP(uo, po) : paradime::ParametricTSNE({}, po);
        try {
            raw.train(X.view());
            FAIL() << "no error";
        } catch (const InvalidArgument& e) {
            const std::string m = e.what();
            EXPECT_NE(m.find("loss is not finite at epoch"), std::string::npos) << m;
        }
    }
}

TEST(InputNormalization, EveryPassReadsTheMappedRows) {
    const Matrix<float> X = shifted_columns(700, 7, 2);
    const InputNormalization norm = InputNormalization::fit(X.view(), 2);
    // The rows as the map defines them: (x − mean) / scale in double, rounded once.
    Matrix<float> Xn(X.rows(), X.cols());
    for (std::size_t i = 0; i < X.rows(); ++i)
        for (std::size_t j = 0; j < X.cols(); ++j)
            Xn(i, j) = static_cast<float>((static_cast<double>(X(i, j)) - norm.mean[j]) * (1.0 / norm.scale));
    MlpOptions o;
    o.hidden = {9, 5};
    o.hidden_activation = Activation::softplus;
    o.chunk_rows = 128;
    o.seed = 3;
    o.normalize_inputs = false;
    Mlp raw(7, 2, o), mapped(7, 2, o);
    mapped.set_input_normalization(norm);
    std::vector<float> member(X.size());
    mapped.normalize_inputs(X.data(), X.rows(), member.data());
    EXPECT_TRUE(same_bits(member.data(), Xn.data(), member.size()));

    // apply, forward on all rows and on sampled rows (the gather path), and dL/dX through the map.
    const Matrix<float> a = mapped.apply(X.view(), 2), b = raw.apply(Xn.view(), 2);
    EXPECT_TRUE(same_bits(a.data(), b.data(), a.size()));
    const std::vector<index_t> rows = {5, 699, 0, 5, 321, 100, 42};
    for (bool sampled : {false, true}) {
        const std::span<const index_t> r = sampled ? std::span<const index_t>(rows) : std::span<const index_t>();
        const std::size_t n = sampled ? rows.size() : X.rows();
        const MatrixView<float> ya = mapped.forward(X.view(), r, 2);
        std::vector<float> ycopy(ya.data, ya.data + ya.size());
        const MatrixView<float> yb = raw.forward(Xn.view(), r, 2);
        ASSERT_EQ(ya.rows, n);
        EXPECT_TRUE(same_bits(ycopy.data(), yb.data, ycopy.size())) << (sampled ? "sampled rows" : "all rows");
        // Rows mapped beforehand (a trainer's copy, X_mapped) are read as they are: the same bits.
        const MatrixView<float> yc = mapped.forward(Xn.view(), r, 2, nullptr, true);
        EXPECT_TRUE(same_bits(ycopy.data(), yc.data, ycopy.size())) << (sampled ? "sampled, premapped" : "premapped");
        std::vector<float> dY(n * 2);
        for (std::size_t k = 0; k < dY.size(); ++k) dY[k] = static_cast<float>(std::sin(0.7 * static_cast<double>(k)));
        std::vector<float> dXa(n * 7), dXb(n * 7);
        mapped.forward(X.view(), r, 2);
        mapped.backward(dY.data(), 2, dXa.data());
        raw.backward(dY.data(), 2, dXb.data());
        const float inv = static_cast<float>(1.0 / norm.scale);
        for (std::size_t k = 0; k < dXb.size(); ++k) ASSERT_EQ(dXa[k], dXb[k] * inv) << k;
        EXPECT_EQ(mapped.gradient(), raw.gradient());  // the weights see the same inputs
        mapped.zero_grad();
        raw.zero_grad();
    }
}

TEST(InputNormalization, FittedWhenTrainingStartsAndKeptWithTheModel) {
    const Matrix<float> X = shifted_columns(300, 7, 4);
    auto data = std::make_shared<const Matrix<float>>(X.rows(), X.cols(), std::vector<float>(X.data(), X.data() + X.size()));
    MlpOptions o;
    o.hidden = {6};
    Mlp fresh(7, 2, o);
    EXPECT_TRUE(fresh.input_normalization_pending());
    EXPECT_TRUE(fresh.input_normalization().identity());
    NetworkParametrization p(data, fresh, 2);
    EXPECT_FALSE(p.network().input_normalization_pending());
    const InputNormalization expected = InputNormalization::fit(X.view(), 1);
    EXPECT_EQ(p.network().input_normalization().mean, expected.mean);
    EXPECT_EQ(p.network().input_normalization().scale, expected.scale);
    // A network that already has its map (continued, reloaded) keeps it.
    NetworkParametrization again(std::make_shared<const Matrix<float>>(affine(X, 3.0, 1.0)), p.network(), 1);
    EXPECT_EQ(again.network().input_normalization().scale, expected.scale);
    // Off: the raw rows, as the peers.
    o.normalize_inputs = false;
    NetworkParametrization off(data, Mlp(7, 2, o), 1);
    EXPECT_TRUE(off.network().input_normalization().identity());

    // The trainer's forward reads its once-mapped copy of the rows: the network's own forward on the raw rows, bit
    // for bit, also after the network's map is set anew (the copy follows the map).
    const std::vector<index_t> batch = {3, 299, 3, 17, 150};
    for (double shift : {0.0, 2.5}) {
        if (shift > 0) {
            InputNormalization other = p.network().input_normalization();
            for (double& m : other.mean) m += shift;
            other.scale *= 2.0;
            p.network().set_input_normalization(other);
        }
        std::vector<double> through(batch.size() * 2);
        p.forward(batch, through.data());
        Mlp copy = p.network();
        const MatrixView<float> direct = copy.forward(X.view(), batch, 1);
        for (std::size_t k = 0; k < through.size(); ++k)
            ASSERT_EQ(through[k], static_cast<double>(direct.data[k])) << "shift " << shift << ", entry " << k;
    }

    Mlp net = p.network();
    EXPECT_THROW(net.set_input_normalization({std::vector<double>(6, 0.0), 1.0}), InvalidArgument);
    EXPECT_THROW(net.set_input_normalization({std::vector<double>(7, 0.0), 0.0}), InvalidArgument);
    EXPECT_THROW(net.set_input_normalization({std::vector<double>(7, NAN), 1.0}), InvalidArgument);
    EXPECT_THROW(net.set_input_normalization({{}, INFINITY}), InvalidArgument);

    // A saved paraDime model reloads with its map: the same bits on new rows.
    paradime::ParametricTSNEOptions to;
    to.epochs = 2;
    to.init_epochs = 1;
    to.batch_size = 100;
    paradime::ParametricDR dr = paradime::ParametricTSNE(to, {.seed = 5, .n_threads = 2});
    dr.train(X.view());
    ASSERT_FALSE(dr.network().input_normalization().identity());
    const std::string dir = (std::filesystem::temp_directory_path() / "nembed_input_map_model").string();
    std::filesystem::remove_all(dir);
    save_model(dir, dr, dr.apply(X.view()), "ParametricTSNE");
    const Model m = load_model(dir, 2);
    ASSERT_NE(m.network(), nullptr);
    EXPECT_EQ(m.network()->input_normalization().mean, dr.network().input_normalization().mean);
    EXPECT_EQ(m.network()->input_normalization().scale, dr.network().input_normalization().scale);
    const Matrix<float> T = shifted_columns(50, 7, 6);
    const Matrix<double> y1 = dr.apply(T.view()), y2 = m.transform(T.view());
    EXPECT_EQ(std::memcmp(y1.data(), y2.data(), y1.size() * sizeof(double)), 0);
    std::filesystem::remove_all(dir);
}

// ParametricTSNE's PCA targets with the input map are the PCA of the mapped rows: the same for the data scaled by
// 10⁶ and moved (paraDime's raw scores grow with the scale: the position phase then chases targets 10⁶ times further
// out); without the map, the raw scores.
TEST(InputNormalization, PcaTargetsAreThoseOfTheMappedRows) {
    std::vector<std::int64_t> labels;
    const Matrix<float> X = test::labelled_blobs(400, 12, 4, labels, 9);
    auto targets = [](const Matrix<float>& Z, bool normalize) {
        paradime::ParametricDR dr = paradime::ParametricTSNE({}, {.normalize_inputs = normalize, .n_threads = 2});
        dr.compute_derived_data(Z.view());
        return dr.dataset().positions.at("pca");
    };
    const Matrix<double> a = targets(X, true), b = targets(affine(X, 1e6, 5e6), true), raw = targets(X, false);
    const double s = InputNormalization::fit(X.view(), 1, paradime::ParametricDROptions{}.input_row_norm).scale;
    double max_a = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) max_a = std::max(max_a, std::abs(a.data()[i]));
    for (std::size_t i = 0; i < a.size(); ++i) {
        ASSERT_NEAR(b.data()[i], a.data()[i], 1e-4 * max_a) << i;
        ASSERT_NEAR(raw.data()[i] / s, a.data()[i], 1e-9 * max_a) << i;
    }
}

// The routines' maps of blobs moved and scaled: within 0.03 in 10-NN recall and accuracy of the map of the data at
// the origin, and finite. Without the map (normalize_inputs = false, paraDime's raw rows) the same offset costs
// ParametricUMAP most of its recall: the check can fail.
TEST(InputNormalization, RoutinesDoNotDependOnWhereTheDataSits) {
    std::vector<std::int64_t> labels;
    const Matrix<float> X = test::labelled_blobs(600, 20, 6, labels, 7);
    auto run = [&](const Matrix<float>& Z, bool umap, bool normalize) {
        paradime::ParametricDROptions po{.normalize_inputs = normalize, .seed = 8, .n_threads = 2};
        paradime::ParametricDR dr = [&] {
            if (umap) {
                paradime::ParametricUMAPOptions uo;
                uo.epochs = 10;
                uo.batch_size = 100;
                uo.batches_per_epoch = 10;
                return paradime::ParametricUMAP(uo, po);
            }
            paradime::ParametricTSNEOptions to;
            to.epochs = 10;
            to.init_epochs = 3;
            to.batch_size = 200;
            return paradime::ParametricTSNE(to, po);
        }();
        dr.train(Z.view());
        return dr.apply(Z.view());
    };
    for (bool umap : {false, true}) {
        const Matrix<double> Y0 = run(X, umap, true);
        const double r0 = knn_recall(X.view(), Y0.view(), 10), a0 = knn_accuracy(Y0.view(), labels, 10);
        for (auto [scale, offset] : {std::pair{1.0, 1e4}, {1e30, 0.0}, {1e-30, 0.0}, {1e6, -3e9}}) {
            const Matrix<double> Y = run(affine(X, scale, offset), umap, true);
            ASSERT_TRUE(all_finite(Y)) << "umap " << umap << " scale " << scale << " offset " << offset;
            EXPECT_NEAR(knn_recall(X.view(), Y.view(), 10), r0, 0.03)
                << "umap " << umap << " scale " << scale << " offset " << offset;
            EXPECT_NEAR(knn_accuracy(Y.view(), labels, 10), a0, 0.03)
                << "umap " << umap << " scale " << scale << " offset " << offset;
        }
        if (umap) {
            const Matrix<double> raw = run(affine(X, 1.0, 1e4), umap, false);
            EXPECT_LT(knn_recall(X.view(), raw.view(), 10), r0 - 0.1) << "the raw rows at offset 10^4";
        }
    }
}
