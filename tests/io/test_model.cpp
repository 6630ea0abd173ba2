// Model directories (io/model.hpp): round trips that transform bitwise as before saving, cne's refusal to
// transform, the old CLI t-SNE directories, and malformed models that must fail with an IoError naming the file and
// the field.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "io_test_util.hpp"
#include "nembed/core/random.hpp"
#include "nembed/io/load.hpp"
#include "nembed/io/model.hpp"
#include "nembed/io/npy.hpp"

using namespace nembed;
namespace fs = std::filesystem;

namespace {

Matrix<float> blobs(std::size_t n, std::size_t dim, std::uint64_t seed) {
    Rng rng(seed);
    Matrix<double> centres(4, dim);
    for (std::size_t k = 0; k < centres.size(); ++k) centres.data()[k] = rng.normal() * 6.0;
    Matrix<float> X(n, dim);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < dim; ++j) X(i, j) = static_cast<float>(centres(i % 4, j) + rng.normal());
    return X;
}

Matrix<float> rows(const Matrix<float>& X, std::size_t b, std::size_t e) {
    return Matrix<float>(e - b, X.cols(), std::vector<float>(X.data() + b * X.cols(), X.data() + e * X.cols()));
}

// A stand-in PCA (3 components of 8 features) so that the preprocessing's arrays are exercised.
Preprocessing some_pca() {
    Preprocessing p;
    p.scale = 2.5;
    Rng rng(5);
    p.pca_mean.resize(8);
    for (double& v : p.pca_mean) v = rng.normal();
    p.pca_components = Matrix<double>(3, 8);
    for (std::size_t i = 0; i < p.pca_components.size(); ++i) p.pca_components.data()[i] = rng.normal();
    return p;
}

TsneEmbedding small_tsne(const Matrix<float>& X, int n_jobs = 1) {
    TsneOptions o;
    o.random_state = 3;
    o.early_exaggeration_iter = 50;
    o.n_iter = 50;
    o.n_jobs = n_jobs;
    return TSNE(o).fit(X.view());
}

TransformOptions short_transform() {
    TransformOptions t;
    t.n_iter = 40;
    return t;
}

nlohmann::json read_json(const std::string& path) {
    std::ifstream f(path);
    return nlohmann::json::parse(f);
}
void write_json(const std::string& path, const nlohmann::json& j) { io_test::write_text(path, j.dump(2)); }

// A copy of `good` named `name` whose model.json is edited by `edit`.
template <typename F>
std::string edited(const io_test::TempDir& tmp, const std::string& good, const std::string& name, F&& edit) {
    const std::string dir = tmp.file(name);
    fs::remove_all(dir);
    fs::copy(good, dir, fs::copy_options::recursive);
    nlohmann::json j = read_json(dir + "/model.json");
    edit(j);
    write_json(dir + "/model.json", j);
    return dir;
}

} // namespace

TEST(Model, TsneRoundTripTransformsBitwise) {
    io_test::TempDir tmp;
    const Matrix<float> all = blobs(260, 3, 1);
    const Matrix<float> X = rows(all, 0, 200), Xnew = rows(all, 200, 260);
    for (int threads : {1, 2}) {
        TsneEmbedding emb = small_tsne(X, threads);
        const Matrix<double> before = emb.transform(Xnew.view(), short_transform());
        const std::string dir = tmp.file("tsne" + std::to_string(threads));
        Preprocessing pre;
        pre.scale = 4.0;
        save_model(dir, emb, pre);
        const Model m = load_model(dir, threads);
        EXPECT_EQ(m.method(), ModelMethod::tsne);
        EXPECT_TRUE(m.can_transform());
        EXPECT_EQ(m.embedding().storage(), emb.embedding().storage());
        EXPECT_EQ(m.reference_data()->storage(), X.storage());
        EXPECT_EQ(m.preprocessing().scale, 4.0);
        EXPECT_FALSE(m.preprocessing().has_pca());
        EXPECT_EQ(m.tsne().gradient_params().dof, emb.gradient_params().dof);
        EXPECT_EQ(m.transform(Xnew.view(), short_transform()).storage(), before.storage()) << threads << " threads";
        EXPECT_THROW((void)m.umap(), InvalidArgument);
        // P is not saved: the loaded model transforms but cannot continue the optimisation.
        TsneEmbedding copy = m.tsne();
        const TsneOptimizeOptions opt;
        EXPECT_THROW(copy.optimize(1, opt), InvalidArgument);
    }
}

TEST(Model, PreprocessingRoundTripsAndApplies) {
    io_test::TempDir tmp;
    const Matrix<float> raw = blobs(120, 8, 2);
    const Preprocessing pre = some_pca();
    const Matrix<float> X = pre.apply(raw.view());
    ASSERT_EQ(X.cols(), 3u);
    // apply: (x / scale − mean) · components, in double precision
    double s = 0;
    for (std::size_t j = 0; j < 8; ++j) s += (raw(7, j) / 2.5 - pre.pca_mean[j]) * pre.pca_components(1, j);
    EXPECT_EQ(X(7, 1), static_cast<float>(s));
    EXPECT_THROW((void)pre.apply(X.view()), InvalidArgument);  // 3 columns for a PCA of 8 features
    TsneEmbedding emb = small_tsne(X);
    save_model(tmp.file("m"), emb, pre);
    const Model m = load_model(tmp.file("m"));
    EXPECT_EQ(m.preprocessing().scale, 2.5);
    EXPECT_EQ(m.preprocessing().pca_mean, pre.pca_mean);
    EXPECT_EQ(m.preprocessing().pca_components.storage(), pre.pca_components.storage());
    EXPECT_EQ(m.preprocessing().apply(raw.view()).storage(), X.storage());
    // A PCA that does not produce the reference's columns is refused when saving.
    Preprocessing wrong = pre;
    wrong.pca_components = Matrix<double>(2, 8, 0.0);
    EXPECT_THROW(save_model(tmp.file("w"), emb, wrong), InvalidArgument);
}

TEST(Model, UmapRoundTripTransformsBitwise) {
    io_test::TempDir tmp;
    const Matrix<float> all = blobs(260, 5, 3);
    const Matrix<float> X = rows(all, 0, 200), Xnew = rows(all, 200, 260);
    for (int threads : {1, 2}) {
        UmapOptions o;
        o.random_state = 4;
        o.n_epochs = 60;
        o.n_jobs = threads;
        o.transform_seed = 11;
        o.negative_sample_rate = 3;
        o.learning_rate = 0.7;
        o.local_connectivity = 1.5;
        UmapEmbedding emb = UMAP(o).fit(X.view());
        const Matrix<double> before = emb.transform(Xnew.view());
        const std::string dir = tmp.file("umap" + std::to_string(threads));
        save_model(dir, emb, X.view());
        const Model m = load_model(dir, threads);
        EXPECT_EQ(m.method(), ModelMethod::umap);
        EXPECT_EQ(m.embedding().storage(), emb.embedding().storage());
        const UmapEmbedding& u = m.umap();
        EXPECT_EQ(u.curve().a, emb.curve().a);
        EXPECT_EQ(u.curve().b, emb.curve().b);
        EXPECT_EQ(u.requested_epochs, std::optional<int>(60));
        EXPECT_EQ(u.transform_seed, 11u);
        EXPECT_EQ(u.local_connectivity, 1.5);
        EXPECT_EQ(u.negative_sample_rate(), 3.0);
        EXPECT_EQ(u.learning_rate(), 0.7);
        EXPECT_EQ(m.transform(Xnew.view()).storage(), before.storage()) << threads << " threads";
        EXPECT_THROW((void)m.tsne(), InvalidArgument);
    }
    // The data must be the rows the model indexes.
    UmapOptions o;
    o.random_state = 4;
    o.n_epochs = 10;
    UmapEmbedding emb = UMAP(o).fit(X.view());
    EXPECT_THROW(save_model(tmp.file("bad"), emb, Xnew.view()), InvalidArgument);
}

// A UMAP laid out in another output metric records it; the reloaded model transforms in that metric, bit for bit.
TEST(Model, UmapOutputMetricIsSavedAndUsedByTransform) {
    using J = nlohmann::json;
    io_test::TempDir tmp;
    const Matrix<float> all = blobs(230, 4, 3);
    const Matrix<float> X = rows(all, 0, 200), Xnew = rows(all, 200, 230);
    for (const char* name : {"manhattan", "minkowski"}) {
        UmapOptions o;
        o.random_state = 2;
        o.n_epochs = 40;
        o.output_metric = parse_output_metric(name, 3.0);
        UmapEmbedding emb = UMAP(o).fit(X.view());
        const Matrix<double> before = emb.transform(Xnew.view());
        const std::string dir = tmp.file(std::string("umap_") + name);
        save_model(dir, emb, X.view());
        const Model m = load_model(dir);
        EXPECT_EQ(to_string(m.umap().output_metric()), name);
        if (o.output_metric.kind == OutputMetricKind::minkowski) {
            EXPECT_EQ(m.umap().output_metric().p, 3.0);
        }
        EXPECT_EQ(m.transform(Xnew.view()).storage(), before.storage()) << name;
        // the same model read as Euclidean transforms elsewhere: the metric is what made the bits equal
        const std::string eu = edited(tmp, dir, std::string("eu_") + name,
                                      [](J& j) { j["umap"]["output_metric"] = "euclidean"; });
        EXPECT_NE(load_model(eu).transform(Xnew.view()).storage(), before.storage()) << name;
    }
    UmapOptions o;
    o.random_state = 2;
    o.n_epochs = 10;
    const std::string good = tmp.file("umap_good");
    save_model(good, UMAP(o).fit(X.view()), X.view());
    EXPECT_IO_ERROR(load_model(edited(tmp, good, "om", [](J& j) { j["umap"]["output_metric"] = "wobbly"; })),
                    "field 'umap.output_metric'");
    EXPECT_IO_ERROR(load_model(edited(tmp, good, "omp", [](J& j) { j["umap"]["output_metric_p"] = -1; })),
                    "field 'umap.output_metric_p' must be a positive number");
}

TEST(Model, CneSavesAndRefusesToTransform) {
    io_test::TempDir tmp;
    const Matrix<float> X = blobs(150, 4, 6);
    CneOptions o;
    o.n_epochs = 6;
    o.batch_size = 64;
    o.seed = 9;
    o.loss_mode = ContrastiveMode::neg;
    o.s = 0.5;
    o.input_metric = Metric::minkowski;  // the kNN graph's metric is recorded with its parameters
    o.input_metric_params.p = 3.0;
    const CneResult r = CNE(o).fit(X.view());
    save_model(tmp.file("cne"), r, o);
    const Model m = load_model(tmp.file("cne"));
    EXPECT_EQ(m.method(), ModelMethod::cne);
    EXPECT_EQ(m.metric(), Metric::minkowski);
    EXPECT_EQ(m.metric_params().p, std::optional<double>(3.0));
    EXPECT_FALSE(m.can_transform());
    EXPECT_EQ(m.embedding().storage(), r.embedding.storage());
    EXPECT_EQ(m.reference_data(), nullptr);
    const CneModelSettings& s = m.cne();
    EXPECT_EQ(s.loss_mode, ContrastiveMode::neg);
    EXPECT_EQ(s.epochs_run, 6);
    EXPECT_EQ(s.batch_size, 64u);
    EXPECT_EQ(s.seed, 9u);
    EXPECT_EQ(s.spec, r.spectrum.spec);
    EXPECT_EQ(s.spec_early, r.spectrum.spec_early);
    try {
        (void)m.transform(X.view());
        ADD_FAILURE() << "a cne model transformed";
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("cne model cannot transform"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("non-parametric"), std::string::npos) << e.what();
    }
}

TEST(Model, ReadsTheOldCliTsneDirectories) {
    io_test::TempDir tmp;
    const Matrix<float> raw = blobs(230, 8, 7);
    const Preprocessing pre = some_pca();
    const Matrix<float> all = pre.apply(raw.view());
    const Matrix<float> X = rows(all, 0, 180), Xnew = rows(all, 180, 230);
    TsneEmbedding emb = small_tsne(X);
    // The layout `nembed tsne --save-model` wrote before: flat fields, float64 data, a 1 x D mean.
    const std::string dir = tmp.file("old");
    fs::create_directories(dir);
    write_npy(dir + "/embedding.npy", emb.embedding().view());
    write_npy(dir + "/reference_data.npy", convert<double>(X.view()).view());
    write_npy(dir + "/pca_mean.npy", MatrixView<double>{pre.pca_mean.data(), 1, pre.pca_mean.size()});
    write_npy(dir + "/pca_components.npy", pre.pca_components.view());
    nlohmann::json j = {{"format", "nembed-tsne-model"}, {"version", 1}, {"n_points", 180}, {"n_components", 2},
                        {"metric", "euclidean"}, {"scale", 2.5}, {"pca", true}, {"dof", 1.0},
                        {"negative_gradient_method", "auto"}, {"theta", 0.5}, {"n_interpolation_points", 3},
                        {"min_num_intervals", 50}, {"ints_in_interval", 1.0}};
    write_json(dir + "/model.json", j);
    const Model m = load_model(dir);
    EXPECT_EQ(m.method(), ModelMethod::tsne);
    EXPECT_EQ(m.preprocessing().pca_mean, pre.pca_mean);
    EXPECT_EQ(m.preprocessing().apply(raw.view()).storage(), all.storage());
    EXPECT_EQ(m.transform(Xnew.view(), short_transform()).storage(),
              emb.transform(Xnew.view(), short_transform()).storage());
    // Its fields are type-checked too.
    j["n_interpolation_points"] = -1;
    write_json(dir + "/model.json", j);
    EXPECT_IO_ERROR(load_model(dir), "model.json", "n_interpolation_points", "non-negative integer");
    j["n_interpolation_points"] = 3;
    j["dof"] = "one";
    write_json(dir + "/model.json", j);
    EXPECT_IO_ERROR(load_model(dir), "model.json", "'dof' must be a number, got string");
    j["dof"] = 1.0;
    j["version"] = 2;
    write_json(dir + "/model.json", j);
    EXPECT_IO_ERROR(load_model(dir), "model.json", "version 2 is not supported");
}

TEST(Model, MalformedModelsNameTheFileAndField) {
    io_test::TempDir tmp;
    const Matrix<float> raw = blobs(150, 8, 8);
    const Preprocessing pre = some_pca();
    const Matrix<float> X = pre.apply(raw.view());
    const std::string good = tmp.file("good");
    save_model(good, small_tsne(X), pre);
    ASSERT_NO_THROW((void)load_model(good));
    UmapOptions uo;
    uo.n_epochs = 10;
    uo.random_state = 1;
    const std::string good_umap = tmp.file("good_umap");
    save_model(good_umap, UMAP(uo).fit(X.view()), X.view());

    using J = nlohmann::json;
    EXPECT_IO_ERROR(load_model(edited(tmp, good, "missing", [](J& j) { j["tsne"].erase("dof"); })),
                    "model.json", "field 'tsne.dof' is missing");
    EXPECT_IO_ERROR(load_model(edited(tmp, good, "type", [](J& j) { j["tsne"]["theta"] = "half"; })),
                    "model.json", "field 'tsne.theta' must be a number, got string");
    EXPECT_IO_ERROR(load_model(edited(tmp, good, "count", [](J& j) { j["tsne"]["min_num_intervals"] = 2.5; })),
                    "field 'tsne.min_num_intervals' must be a non-negative integer");
    EXPECT_IO_ERROR(load_model(edited(tmp, good, "zero", [](J& j) { j["tsne"]["n_interpolation_points"] = 0; })),
                    "field 'tsne.n_interpolation_points' must be a positive integer");
    EXPECT_IO_ERROR(load_model(edited(tmp, good, "grad", [](J& j) { j["tsne"]["negative_gradient_method"] = "x"; })),
                    "field 'tsne.negative_gradient_method' is invalid");
    EXPECT_IO_ERROR(load_model(edited(tmp, good, "obj", [](J& j) { j["tsne"] = 3; })),
                    "field 'tsne' must be an object");
    EXPECT_IO_ERROR(load_model(edited(tmp, good, "method", [](J& j) { j["method"] = "pca"; })),
                    "field 'method' is invalid", "unknown method 'pca'");
    EXPECT_IO_ERROR(load_model(edited(tmp, good, "future", [](J& j) { j["version"] = 2; })),
                    "model.json: model version 2 is not supported");
    EXPECT_IO_ERROR(load_model(edited(tmp, good, "format", [](J& j) { j["format"] = "other"; })),
                    "model.json: not a nembed model");
    EXPECT_IO_ERROR(load_model(edited(tmp, good, "scale", [](J& j) { j["preprocessing"]["scale"] = 0.0; })),
                    "field 'preprocessing.scale' must be a positive number");
    EXPECT_IO_ERROR(load_model(edited(tmp, good, "metric", [](J& j) { j["metric"] = "manhatan"; })),  // manhattan is a kNN metric
                    "field 'metric' is invalid");
    EXPECT_IO_ERROR(load_model(edited(tmp, good, "ncomp", [](J& j) { j["n_components"] = 3; })),
                    "embedding.npy: has 2 columns but model.json says n_components = 3");
    EXPECT_IO_ERROR(load_model(edited(tmp, good_umap, "req", [](J& j) { j["umap"]["requested_epochs"] = "10"; })),
                    "field 'umap.requested_epochs' must be an integer, got string");
    EXPECT_IO_ERROR(load_model(edited(tmp, good_umap, "nn", [](J& j) { j["umap"]["n_neighbors"] = 1; })),
                    "field 'umap.n_neighbors' must be >= 2");
    EXPECT_IO_ERROR(load_model(edited(tmp, good_umap, "a", [](J& j) { j["umap"].erase("a"); })),
                    "field 'umap.a' is missing");

    // Arrays that disagree with each other.
    const std::string other = tmp.file("other.npy");
    auto with_array = [&](const std::string& name, const std::string& file, const Matrix<double>& a) {
        const std::string dir = edited(tmp, good, name, [](J&) {});
        write_npy(other, a.view());
        fs::copy_file(other, dir + "/" + file, fs::copy_options::overwrite_existing);
        return dir;
    };
    EXPECT_IO_ERROR(load_model(with_array("rows", "embedding.npy", Matrix<double>(149, 2, 0.0))),
                    "embedding.npy: has 149 rows but model.json says n_points = 150");
    EXPECT_IO_ERROR(load_model(with_array("comp", "pca_components.npy", Matrix<double>(3, 7, 0.0))),
                    "pca_components.npy: has 7 columns but pca_mean.npy has 8 values");
    EXPECT_IO_ERROR(load_model(with_array("comprows", "pca_components.npy", Matrix<double>(4, 8, 0.0))),
                    "pca_components.npy: has 4 rows but reference_data.npy has 3 columns");
    EXPECT_IO_ERROR(load_model(with_array("ref", "reference_data.npy", Matrix<double>(140, 3, 0.0))),
                    "embedding.npy: has 150 rows but reference_data.npy has 140");
    const std::string no_ref = edited(tmp, good, "noref", [](J&) {});
    fs::remove(no_ref + "/reference_data.npy");
    EXPECT_IO_ERROR(load_model(no_ref), "reference_data.npy: no such file");

    // Not a model at all.
    EXPECT_IO_ERROR(load_model(tmp.file("nowhere")), "model.json: no such file");
    const std::string junk = edited(tmp, good, "junk", [](J&) {});
    io_test::write_text(junk + "/model.json", "{\"format\": ");
    EXPECT_IO_ERROR(load_model(junk), "model.json: malformed JSON");
    io_test::write_text(junk + "/model.json", "42");
    EXPECT_IO_ERROR(load_model(junk), "model.json: not a nembed model");
    EXPECT_THROW((void)load_model(good, 0), InvalidArgument);
}

// A metric with parameters is saved with them, and the loaded model's rebuilt index measures the same distances:
// its transform equals the fitted embedding's bit for bit, and differs from the same metric without the parameters.
TEST(Model, MetricParametersAreSavedAndUsedByTransform) {
    io_test::TempDir tmp;
    const Matrix<float> all = blobs(260, 4, 9);
    const Matrix<float> X = rows(all, 0, 200), Xnew = rows(all, 200, 260);
    TsneOptions o;
    o.random_state = 3;
    o.early_exaggeration_iter = 30;
    o.n_iter = 30;
    o.metric = Metric::minkowski;
    o.metric_params.p = 3.0;
    o.metric_params.w = {1.0, 2.0, 0.5, 1.0};
    TsneEmbedding emb = TSNE(o).fit(X.view());
    ASSERT_EQ(emb.knn_index()->metric_params().p, std::optional<double>(3.0));
    const Matrix<double> before = emb.transform(Xnew.view(), short_transform());
    const std::string dir = tmp.file("tsne_minkowski");
    save_model(dir, emb);
    const nlohmann::json j = read_json(dir + "/model.json");
    EXPECT_EQ(j["metric"], "minkowski");
    EXPECT_EQ(j["metric_params"]["p"], 3.0);
    EXPECT_EQ(j["metric_params"]["w"], nlohmann::json({1.0, 2.0, 0.5, 1.0}));
    const Model m = load_model(dir);
    EXPECT_EQ(m.metric(), Metric::minkowski);
    EXPECT_EQ(m.metric_params().p, std::optional<double>(3.0));
    EXPECT_EQ(m.metric_params().w, o.metric_params.w);
    EXPECT_EQ(m.transform(Xnew.view(), short_transform()).storage(), before.storage());
    // p = inf (chebyshev, evaluated as another kind inside the index) survives the round trip too
    TsneOptions oi = o;
    oi.metric_params = {};
    oi.metric_params.p = std::numeric_limits<double>::infinity();
    TsneEmbedding ei = TSNE(oi).fit(X.view());
    save_model(tmp.file("tsne_pinf"), ei);
    EXPECT_EQ(read_json(tmp.file("tsne_pinf") + "/model.json")["metric_params"]["p"], "inf");
    const Model mi = load_model(tmp.file("tsne_pinf"));
    EXPECT_EQ(mi.metric(), Metric::minkowski);
    EXPECT_EQ(mi.transform(Xnew.view(), short_transform()).storage(),
              ei.transform(Xnew.view(), short_transform()).storage());
    const std::string plain = edited(tmp, dir, "no_params", [](nlohmann::json& jj) { jj.erase("metric_params"); });
    EXPECT_NE(load_model(plain).transform(Xnew.view(), short_transform()).storage(), before.storage());

    // UMAP: the same round trip with seuclidean's variances.
    UmapOptions u;
    u.random_state = 4;
    u.n_epochs = 30;
    u.metric = Metric::seuclidean;
    u.metric_params.V = {1.0, 4.0, 0.25, 2.0};
    UmapEmbedding ue = UMAP(u).fit(X.view());
    const Matrix<double> ubefore = ue.transform(Xnew.view());
    save_model(tmp.file("umap_seuclidean"), ue, X.view());
    const Model um = load_model(tmp.file("umap_seuclidean"));
    EXPECT_EQ(um.metric_params().V, u.metric_params.V);
    EXPECT_EQ(um.transform(Xnew.view()).storage(), ubefore.storage());

    // Malformed parameters name the field.
    using J = nlohmann::json;
    EXPECT_IO_ERROR(load_model(edited(tmp, dir, "mp_type", [](J& jj) { jj["metric_params"] = 3; })),
                    "model.json", "field 'metric_params' must be an object");
    EXPECT_IO_ERROR(load_model(edited(tmp, dir, "mp_name", [](J& jj) { jj["metric_params"]["q"] = 1; })),
                    "field 'metric_params.q' is invalid");
    EXPECT_IO_ERROR(load_model(edited(tmp, dir, "mp_value", [](J& jj) { jj["metric_params"]["w"] = "x"; })),
                    "field 'metric_params.w' must be a finite number");
    EXPECT_IO_ERROR(load_model(edited(tmp, dir, "mp_len", [](J& jj) { jj["metric_params"]["w"] = {1.0, 2.0}; })),
                    "field 'metric_params' does not fit the reference data");
}

// A fit over sharded HNSW (--knn-shards) records the shards; the reloaded model (with the fit's seed) rebuilds
// the same sharded index: the same neighbours of new points and the same transform, bit for bit. An index that is
// not sharded records none.
TEST(Model, KnnShardsAreSavedAndRebuilt) {
    io_test::TempDir tmp;
    const Matrix<float> all = blobs(260, 5, 3);
    const Matrix<float> X = rows(all, 0, 200), Xnew = rows(all, 200, 260);
    UmapOptions o;
    o.random_state = 4;
    o.n_epochs = 30;
    o.neighbors = KnnMethod::hnsw;
    o.knn_shards = 3;
    UmapEmbedding emb = UMAP(o).fit(X.view());
    ASSERT_EQ(emb.knn_index->hnsw_shards(), 3u);
    const Matrix<double> before = emb.transform(Xnew.view());
    const std::string dir = tmp.file("umap_shards");
    save_model(dir, emb, X.view());
    EXPECT_EQ(read_json(dir + "/model.json")["knn_shards"], 3);
    const Model m = load_model(dir, 1, 4);
    ASSERT_EQ(m.umap().knn_index->hnsw_shards(), 3u);
    const KnnGraph a = emb.knn_index->query(Xnew.view(), 7), b = m.umap().knn_index->query(Xnew.view(), 7);
    EXPECT_EQ(a.indices, b.indices);
    EXPECT_EQ(a.distances, b.distances);
    EXPECT_EQ(m.transform(Xnew.view()).storage(), before.storage());
    // Without the field the model rebuilds auto's index (exact at this size): not sharded.
    const std::string plain = edited(tmp, dir, "no_shards", [](nlohmann::json& jj) { jj.erase("knn_shards"); });
    EXPECT_EQ(load_model(plain, 1, 4).umap().knn_index->hnsw_shards(), 0u);
    // t-SNE records them too; an unsharded fit records none.
    TsneOptions t;
    t.random_state = 3;
    t.early_exaggeration_iter = 20;
    t.n_iter = 20;
    t.neighbors = KnnMethod::hnsw;
    t.knn_shards = 2;
    TsneEmbedding te = TSNE(t).fit(X.view());
    save_model(tmp.file("tsne_shards"), te);
    EXPECT_EQ(read_json(tmp.file("tsne_shards") + "/model.json")["knn_shards"], 2);
    EXPECT_EQ(load_model(tmp.file("tsne_shards"), 1, 3).tsne().knn_index()->hnsw_shards(), 2u);
    t.knn_shards = 0;
    save_model(tmp.file("tsne_one"), TSNE(t).fit(X.view()));
    EXPECT_FALSE(read_json(tmp.file("tsne_one") + "/model.json").contains("knn_shards"));
    // Bad values name the field.
    using J = nlohmann::json;
    EXPECT_IO_ERROR(load_model(edited(tmp, dir, "shards_big", [](J& jj) { jj["knn_shards"] = 201; })),
                    "model.json", "field 'knn_shards' must not exceed the number of reference points (200)");
    EXPECT_IO_ERROR(load_model(edited(tmp, dir, "shards_neg", [](J& jj) { jj["knn_shards"] = -1; })),
                    "model.json", "field 'knn_shards' must be a non-negative integer");
}

TEST(Model, SavingNeedsAModelFittedFromData) {
    io_test::TempDir tmp;
    const Matrix<float> X = blobs(100, 3, 9);
    TsneEmbedding from_p(small_tsne(X).embedding(), CsrMatrix<double>{}, TsneGradientParams{});
    EXPECT_THROW(save_model(tmp.file("m"), from_p, Preprocessing{}), InvalidArgument);
    EXPECT_FALSE(fs::exists(tmp.file("m") + "/model.json"));
}
