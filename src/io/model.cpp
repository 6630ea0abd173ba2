#include "nembed/io/model.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

#include "nembed/core/error.hpp"
#include "nembed/io/file.hpp"
#include "nembed/io/load.hpp"
#include "nembed/io/npy.hpp"
#include "nembed/parametric/parametric_dr.hpp"

namespace nembed {

std::string to_string(ModelMethod m) {
    switch (m) {
    case ModelMethod::tsne: return "tsne";
    case ModelMethod::umap: return "umap";
    case ModelMethod::cne: return "cne";
    case ModelMethod::paradime: return "paradime";
    case ModelMethod::ne: return "ne";
    }
    return "?";
}

Matrix<float> Preprocessing::apply(MatrixView<float> raw) const {
    Matrix<float> out(raw.rows, pca_mean.empty() ? raw.cols : pca_components.rows());
    if (pca_mean.empty()) {
        for (std::size_t i = 0; i < raw.size(); ++i) out.data()[i] = static_cast<float>(raw.data[i] / scale);
        return out;
    }
    require(raw.cols == pca_mean.size(), "new data has " + std::to_string(raw.cols) +
                                             " columns, the model expects " + std::to_string(pca_mean.size()));
    require(pca_components.cols() == pca_mean.size(),
            "preprocessing: the PCA components have " + std::to_string(pca_components.cols()) +
                " columns for a mean of " + std::to_string(pca_mean.size()) + " values");
    std::vector<double> centred(raw.cols);
    for (std::size_t i = 0; i < raw.rows; ++i) {
        for (std::size_t j = 0; j < raw.cols; ++j) centred[j] = raw(i, j) / scale - pca_mean[j];
        for (std::size_t c = 0; c < pca_components.rows(); ++c) {
            double s = 0;
            for (std::size_t j = 0; j < raw.cols; ++j) s += centred[j] * pca_components(c, j);
            out(i, c) = static_cast<float>(s);
        }
    }
    return out;
}

// ------------------------------------------------------------------------------------------------ Model

const Matrix<double>& Model::embedding() const {
    switch (method_) {
    case ModelMethod::tsne: return tsne_->embedding();
    case ModelMethod::umap: return umap_->embedding();
    case ModelMethod::cne:
    case ModelMethod::paradime:
    case ModelMethod::ne: break;
    }
    return cne_embedding_;
}

Matrix<double> Model::transform(MatrixView<float> X_new, const TransformOptions& tsne_options) const {
    switch (method_) {
    case ModelMethod::tsne: return tsne_->transform(X_new, tsne_options);
    case ModelMethod::umap: return umap_->transform(X_new);
    case ModelMethod::cne:
    case ModelMethod::paradime:
    case ModelMethod::ne:
        if (network_) {
            require(X_new.cols == network_->n_inputs(), "the new data has " + std::to_string(X_new.cols) +
                                                            " columns, the model's network takes " +
                                                            std::to_string(network_->n_inputs()));
            require_finite(X_new, "new data");
            return convert<double>(network_->apply(X_new, n_threads_).view());
        }
        break;
    }
    throw InvalidArgument("a cne model cannot transform new points: cne's embedding is non-parametric (a table of "
                          "positions, no map from the data); fit cne on the old and new points together");
}

const TsneEmbedding& Model::tsne() const {
    require(method_ == ModelMethod::tsne, "the model is a " + to_string(method_) + " model, not a tsne one");
    return *tsne_;
}
const UmapEmbedding& Model::umap() const {
    require(method_ == ModelMethod::umap, "the model is a " + to_string(method_) + " model, not a umap one");
    return *umap_;
}
const CneModelSettings& Model::cne() const {
    require(method_ == ModelMethod::cne, "the model is a " + to_string(method_) + " model, not a cne one");
    return cne_;
}
const ParadimeModelSettings& Model::paradime() const {
    require(method_ == ModelMethod::paradime, "the model is a " + to_string(method_) + " model, not a paradime one");
    return paradime_;
}
const NeModelSettings& Model::ne() const {
    require(method_ == ModelMethod::ne, "the model is a " + to_string(method_) + " model, not an ne one");
    return ne_;
}

// ------------------------------------------------------------------------------------------------ writing

namespace {

using json = nlohmann::json;

constexpr const char* kFormat = "nembed-model";
constexpr const char* kLegacyTsneFormat = "nembed-tsne-model";

std::string join(const std::string& dir, const char* file) { return (std::filesystem::path(dir) / file).string(); }

void make_dir(const std::string& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw IoError(dir + ": cannot create the model directory (" + ec.message() + ")");
}

// The header, the preprocessing and its arrays; the caller adds the method's settings and writes model.json last.
// n_features: the reference data's columns (none for cne, which keeps no data).
json begin_model(const std::string& dir, ModelMethod method, const Matrix<double>& Y,
                 std::optional<std::size_t> n_features, const Preprocessing& pre) {
    require(std::isfinite(pre.scale) && pre.scale > 0, "save_model: the preprocessing scale must be positive");
    if (pre.has_pca()) {
        require(pre.pca_components.cols() == pre.pca_mean.size() &&
                    (!n_features || pre.pca_components.rows() == *n_features),
                "save_model: the PCA components are " + std::to_string(pre.pca_components.rows()) + " x " +
                    std::to_string(pre.pca_components.cols()) + ", expected the reference's features x " +
                    std::to_string(pre.pca_mean.size()) + " (the mean's length)");
    }
    make_dir(dir);
    save_matrix(join(dir, "embedding.npy"), Y.view());
    if (pre.has_pca()) {
        write_npy(join(dir, "pca_mean.npy"), pre.pca_mean);
        write_npy(join(dir, "pca_components.npy"), pre.pca_components.view());
    }
    return json{{"format", kFormat},
                {"version", kModelVersion},
                {"method", to_string(method)},
                {"n_points", Y.rows()},
                {"n_components", Y.cols()},
                {"n_features", n_features ? json(*n_features) : json(nullptr)},
                {"preprocessing", {{"scale", pre.scale}, {"pca", pre.has_pca()}}}};
}

// A network: its shape in model.json's "network", its float32 parameters (1 x P) in network.npy.
void write_network(const std::string& dir, const Mlp& net, json& j) {
    write_npy(join(dir, "network.npy"), MatrixView<float>{net.parameters().data(), 1, net.n_parameters()});
    j["network"] = json{{"widths", net.widths()},
                        {"hidden_activation", to_string(net.hidden_activation())},
                        {"output_activation", to_string(net.output_activation())},
                        {"chunk_rows", net.chunk_rows()},
                        {"precision", to_string(net.precision())}};
    // The input map (MlpOptions::normalize_inputs): its scale here, its mean in network_input_mean.npy.
    const InputNormalization& norm = net.input_normalization();
    if (!norm.identity()) {
        j["network"]["input_scale"] = norm.scale;
        j["network"]["input_mean"] = !norm.mean.empty();
        if (!norm.mean.empty()) write_npy(join(dir, "network_input_mean.npy"), norm.mean);
    }
}

void finish_model(const std::string& dir, const json& j) {
    const std::string text = j.dump(2) + "\n";
    write_file_atomic(join(dir, "model.json"), text.data(), text.size());
}

json repulsion_json(const RepulsionOptions& r) {
    return json{{"negative_gradient_method", to_string(r.method)},
                {"theta", r.theta},
                {"n_interpolation_points", r.fft.n_interpolation_points},
                {"min_num_intervals", r.fft.min_num_intervals},
                {"ints_in_interval", r.fft.ints_in_interval}};
}

// The kNN metric and, when given, its parameters (so that a rebuilt index measures the same distances).
void put_metric(json& j, Metric metric, const MetricParams& p) {
    j["metric"] = to_string(metric);
    if (p.empty()) return;
    json m = json::object();
    if (p.p) m["p"] = std::isinf(*p.p) ? json("inf") : json(*p.p);  // JSON has no infinity
    if (!p.w.empty()) m["w"] = p.w;
    if (!p.V.empty()) m["V"] = p.V;
    if (!p.VI.empty()) m["VI"] = p.VI;
    j["metric_params"] = m;
}
// The metric, and the shards of a sharded HNSW index (absent otherwise: the index is rebuilt by KnnMethod::auto_).
void put_metric(json& j, const KnnIndex& index) {
    put_metric(j, index.metric(), index.metric_params());
    if (index.hnsw_shards() > 0) j["knn_shards"] = index.hnsw_shards();
}

} // namespace

void save_model(const std::string& dir, const TsneEmbedding& emb, const Preprocessing& pre) {
    require(emb.reference_data() != nullptr && emb.knn_index() != nullptr,
            "save_model: the t-SNE embedding has no training data (fit it from data to save a model)");
    const Matrix<float>& X = *emb.reference_data();
    json j = begin_model(dir, ModelMethod::tsne, emb.embedding(), X.cols(), pre);
    write_npy(join(dir, "reference_data.npy"), X.view());
    put_metric(j, *emb.knn_index());
    json t = repulsion_json(emb.gradient_params().repulsion);
    t["dof"] = emb.gradient_params().dof;
    j["tsne"] = t;
    finish_model(dir, j);
}

void save_model(const std::string& dir, const UmapEmbedding& emb, MatrixView<float> X, const Preprocessing& pre) {
    require(emb.knn_index != nullptr, "save_model: the UMAP embedding has no kNN index (fit it from data to save "
                                      "a model)");
    require(X.rows == emb.embedding().rows() && X.cols == emb.knn_index->n_dims() &&
                X.rows == emb.knn_index->n_points(),
            "save_model: the reference data is " + std::to_string(X.rows) + " x " + std::to_string(X.cols) +
                ", the UMAP model indexes " + std::to_string(emb.knn_index->n_points()) + " x " +
                std::to_string(emb.knn_index->n_dims()));
    json j = begin_model(dir, ModelMethod::umap, emb.embedding(), X.cols, pre);
    write_npy(join(dir, "reference_data.npy"), X);
    put_metric(j, *emb.knn_index);
    j["umap"] = json{{"n_neighbors", emb.n_neighbors},
                     {"local_connectivity", emb.local_connectivity},
                     {"a", emb.curve().a},
                     {"b", emb.curve().b},
                     {"n_epochs", emb.n_epochs()},
                     {"requested_epochs", emb.requested_epochs ? json(*emb.requested_epochs) : json(nullptr)},
                     {"learning_rate", emb.learning_rate()},
                     {"repulsion_strength", emb.repulsion_strength()},
                     {"negative_sample_rate", emb.negative_sample_rate()},
                     {"transform_seed", emb.transform_seed}};
    const OutputMetric& om = emb.output_metric();
    require(om.kind != OutputMetricKind::custom,
            "save_model: a UMAP model laid out in a custom (callable) output metric cannot be saved");
    j["umap"]["output_metric"] = to_string(om);
    if (om.kind == OutputMetricKind::minkowski) j["umap"]["output_metric_p"] = om.p;
    finish_model(dir, j);
}

void save_model(const std::string& dir, const CneResult& r, const CneOptions& o, const Preprocessing& pre) {
    require(!r.embedding.empty(), "save_model: the cne result has no embedding");
    json j = begin_model(dir, ModelMethod::cne, r.embedding,
                         r.network ? std::optional<std::size_t>(r.network->n_inputs()) : std::nullopt, pre);
    if (r.network) write_network(dir, *r.network, j);
    put_metric(j, o.input_metric, o.input_metric_params);  // the kNN graph's metric: how the model was built
    j["cne"] = json{{"loss_mode", to_string(o.loss_mode)},
                    {"similarity", to_string(o.metric)},
                    {"k", o.k},
                    {"negative_samples", o.negative_samples},
                    {"batch_size", o.batch_size},
                    {"n_epochs", o.n_epochs},
                    {"epochs_run", r.epochs_run},
                    {"learning_rate", o.learning_rate.value_or(o.parametric ? 0.001 : 1.0)},
                    {"temperature", o.temperature},
                    {"eps", o.eps},
                    {"spec", r.spectrum.spec},
                    {"spec_early", r.spectrum.spec_early},
                    {"early_epochs", r.spectrum.early_epochs},
                    {"log_Z", r.log_Z},
                    {"seed", o.seed}};
    finish_model(dir, j);
}

void save_model(const std::string& dir, const paradime::ParametricDR& dr, const Matrix<double>& embedding,
                const std::string& routine, const Preprocessing& pre) {
    const Mlp& net = dr.network();
    require(net.n_inputs() > 0, "save_model: the paraDime routine is not trained (train it with its built-in network)");
    require(embedding.cols() == net.n_outputs() && embedding.rows() > 0,
            "save_model: the embedding is " + std::to_string(embedding.rows()) + " x " +
                std::to_string(embedding.cols()) + ", the network embeds in " + std::to_string(net.n_outputs()) +
                " dimensions");
    json j = begin_model(dir, ModelMethod::paradime, embedding, net.n_inputs(), pre);
    write_network(dir, net, j);
    json phases = json::array();
    for (const paradime::TrainingPhase& p : dr.training_phases())
        phases.push_back(json{{"name", p.name},
                              {"epochs", p.epochs},
                              {"batch_size", p.batch_size},
                              {"learning_rate", p.learning_rate},
                              {"sampling", paradime::to_string(p.sampling)}});
    j["paradime"] = json{{"routine", routine}, {"seed", dr.options().seed}, {"phases", phases}};
    const paradime::FullBatchOptions& fb = dr.options().full_batch;
    if (fb.iterations > 0)  // a record of the run, as the phases (not read back: the network is the model)
        j["paradime"]["full_batch"] = json{
            {"method", fb.method}, {"iterations", fb.iterations}, {"learning_rate", fb.learning_rate}};
    if (fb.iterations > 0 && fb.input_noise > 0) j["paradime"]["full_batch"]["input_noise"] = fb.input_noise;
    if (const TransformConsistencyOptions& tc = fb.transform_consistency; fb.iterations > 0 && tc.weight > 0)
        j["paradime"]["full_batch"]["transform_consistency"] = json{{"weight", tc.weight},
                                                                    {"samples", tc.samples},
                                                                    {"n_neighbors", tc.n_neighbors},
                                                                    {"size", tc.size},
                                                                    {"perplexity", tc.perplexity},
                                                                    {"stop_gradient", tc.stop_gradient}};
    finish_model(dir, j);
}

void save_model(const std::string& dir, const NeResult& r, const NeModelSettings& settings, const Preprocessing& pre) {
    require(r.network != nullptr, "save_model: the " + settings.method + " fit has no network (fit it with the "
                                  "encoder to save a model; without it, TorchDR's transform needs the training data)");
    const Mlp& net = *r.network;
    require(r.embedding.cols() == net.n_outputs() && r.embedding.rows() > 0,
            "save_model: the embedding is " + std::to_string(r.embedding.rows()) + " x " +
                std::to_string(r.embedding.cols()) + ", the network embeds in " + std::to_string(net.n_outputs()) +
                " dimensions");
    json j = begin_model(dir, ModelMethod::ne, r.embedding, net.n_inputs(), pre);
    write_network(dir, net, j);
    j["ne"] = json{{"method", settings.method}, {"seed", settings.seed}, {"n_iter", settings.n_iter}};
    finish_model(dir, j);
}

// ------------------------------------------------------------------------------------------------ reading

namespace {

// Typed access to one JSON object of model.json; every error names the file and the field's path.
struct Fields {
    const json& j;
    std::string file;
    std::string path;  // "tsne." for nested objects, "" at the top

    [[noreturn]] void fail(const std::string& key, const std::string& problem) const {
        throw IoError(file + ": field '" + path + key + "' " + problem);
    }
    const json* find(const std::string& key, bool required) const {
        if (!j.contains(key)) {
            if (required) fail(key, "is missing");
            return nullptr;
        }
        return &j[key];
    }
    static std::string kind(const json& v) { return v.type_name(); }

    double number(const std::string& key, std::optional<double> def = std::nullopt) const {
        const json* v = find(key, !def);
        if (!v) return *def;
        if (!v->is_number()) fail(key, "must be a number, got " + kind(*v));
        const double x = v->get<double>();
        if (!std::isfinite(x)) fail(key, "must be finite");
        return x;
    }
    double positive(const std::string& key, std::optional<double> def = std::nullopt) const {
        const double x = number(key, def);
        if (!(x > 0)) fail(key, "must be a positive number");
        return x;
    }
    std::uint64_t unsigned_int(const std::string& key, std::optional<std::uint64_t> def = std::nullopt) const {
        const json* v = find(key, !def);
        if (!v) return *def;
        if (!v->is_number_unsigned()) fail(key, "must be a non-negative integer, got " + kind(*v));
        return v->get<std::uint64_t>();
    }
    std::size_t count(const std::string& key, std::optional<std::size_t> def = std::nullopt) const {
        const std::uint64_t x = unsigned_int(key, def);
        if (x < 1) fail(key, "must be a positive integer");
        return static_cast<std::size_t>(x);
    }
    std::int64_t integer(const std::string& key) const {
        const json* v = find(key, true);
        if (!v->is_number_integer()) fail(key, "must be an integer, got " + kind(*v));
        return v->get<std::int64_t>();
    }
    int small_int(const std::string& key, std::int64_t lo) const {
        const std::int64_t x = integer(key);
        if (x < lo || x > std::numeric_limits<int>::max()) fail(key, "is out of range");
        return static_cast<int>(x);
    }
    std::string text(const std::string& key, std::optional<std::string> def = std::nullopt) const {
        const json* v = find(key, !def);
        if (!v) return *def;
        if (!v->is_string()) fail(key, "must be a string, got " + kind(*v));
        return v->get<std::string>();
    }
    bool flag(const std::string& key, std::optional<bool> def = std::nullopt) const {
        const json* v = find(key, !def);
        if (!v) return *def;
        if (!v->is_boolean()) fail(key, "must be true or false, got " + kind(*v));
        return v->get<bool>();
    }
    Fields object(const std::string& key) const {
        const json* v = find(key, true);
        if (!v->is_object()) fail(key, "must be an object, got " + kind(*v));
        return Fields{*v, file, path + key + "."};
    }
    // A name parsed by the library's parser (which throws InvalidArgument for unknown names).
    template <typename F>
    auto parsed(const std::string& key, F&& parse, std::optional<std::string> def = std::nullopt) const {
        const std::string name = text(key, def);
        try {
            return parse(name);
        } catch (const InvalidArgument& e) {
            fail(key, std::string("is invalid: ") + e.what());
        }
    }
};

json read_json(const std::string& file) {
    std::ifstream f(file);
    if (!f) throw IoError(file + ": no such file (not a model directory?)");
    json j;
    try {
        f >> j;
    } catch (const json::exception& e) {
        throw IoError(file + ": malformed JSON (" + std::string(e.what()) + ")");
    }
    if (!j.is_object()) throw IoError(file + ": not a nembed model (the JSON is not an object)");
    return j;
}

template <typename T>
Matrix<T> read_array(const std::string& dir, const char* name) {
    const std::string file = join(dir, name);
    if (!std::filesystem::exists(file)) throw IoError(file + ": no such file (the model needs it)");
    return load_matrix<T>(file);
}

[[noreturn]] void shape_error(const std::string& dir, const char* file, const std::string& problem) {
    throw IoError(join(dir, file) + ": " + problem);
}

// The PCA arrays, cross-checked: components n_pca x D, mean D values (stored 1 x D or D).
Preprocessing read_preprocessing(const std::string& dir, double scale, bool pca) {
    Preprocessing p;
    p.scale = scale;
    if (!pca) return p;
    Matrix<double> m = read_array<double>(dir, "pca_mean.npy");
    p.pca_mean.assign(m.data(), m.data() + m.size());
    p.pca_components = read_array<double>(dir, "pca_components.npy");
    if (p.pca_components.cols() != p.pca_mean.size())
        shape_error(dir, "pca_components.npy", "has " + std::to_string(p.pca_components.cols()) +
                                                   " columns but pca_mean.npy has " +
                                                   std::to_string(p.pca_mean.size()) + " values");
    return p;
}

// The rows of the embedding and the reference data agree, and the PCA (if any) produces the reference's columns.
void check_reference(const std::string& dir, const Matrix<double>& Y, const Matrix<float>& X, const Preprocessing& p) {
    if (Y.rows() != X.rows())
        shape_error(dir, "embedding.npy", "has " + std::to_string(Y.rows()) + " rows but reference_data.npy has " +
                                              std::to_string(X.rows()));
    if (X.rows() < 2) shape_error(dir, "reference_data.npy", "needs at least 2 points");
    if (p.has_pca() && p.pca_components.rows() != X.cols())
        shape_error(dir, "pca_components.npy", "has " + std::to_string(p.pca_components.rows()) +
                                                   " rows but reference_data.npy has " + std::to_string(X.cols()) +
                                                   " columns");
}

// model.json's "metric_params" (absent: none): {"p": number, "w" / "V" / "VI": arrays of numbers}.
MetricParams read_metric_params(const Fields& top) {
    MetricParams params;
    const json* m = top.find("metric_params", false);
    if (m == nullptr) return params;
    if (!m->is_object()) top.fail("metric_params", "must be an object, got " + Fields::kind(*m));
    for (const auto& [name, value] : m->items()) {
        std::vector<double> values;
        for (const json& v : value.is_array() ? value : json::array({value})) {
            if (v == "inf") {  // p = inf (chebyshev), as the writer spells it
                values.push_back(std::numeric_limits<double>::infinity());
                continue;
            }
            if (!v.is_number() || !std::isfinite(v.get<double>()))
                top.fail("metric_params." + name, "must be a finite number (p: or \"inf\") or an array of them");
            values.push_back(v.get<double>());
        }
        try {
            set_metric_param(params, name, values);
        } catch (const InvalidArgument& e) {
            top.fail("metric_params." + name, std::string("is invalid: ") + e.what());
        }
    }
    return params;
}

// knn_shards > 0: the fit's sharded HNSW index (the same shards; with the fit's seed, the same graphs).
std::shared_ptr<const KnnIndex> rebuild_index(const Fields& top, const Matrix<float>& X, Metric metric,
                                              const MetricParams& params, int n_threads, std::uint64_t seed) {
    const std::string& file = top.file;
    const std::uint64_t shards = top.unsigned_int("knn_shards", 0);
    if (shards > X.rows()) top.fail("knn_shards", "must not exceed the number of reference points (" + std::to_string(X.rows()) + ")");
    KnnOptions ko;
    if (shards > 0) {
        ko.method = KnnMethod::hnsw;
        ko.hnsw_shards = static_cast<std::size_t>(shards);
    }
    ko.metric = metric;
    ko.metric_params = params;
    ko.n_threads = n_threads;
    ko.seed = seed;
    try {
        return build_knn_index(X.view(), ko);
    } catch (const InvalidArgument& e) {
        throw IoError(file + ": field 'metric_params' does not fit the reference data: " + e.what());
    }
}

TsneGradientParams read_tsne_params(const Fields& f, int n_threads) {
    TsneGradientParams gp;
    gp.dof = f.positive("dof");
    RepulsionOptions& r = gp.repulsion;
    r.method = f.parsed("negative_gradient_method", parse_gradient_method);
    r.theta = f.number("theta");
    r.fft.n_interpolation_points = f.count("n_interpolation_points");
    r.fft.min_num_intervals = f.count("min_num_intervals");
    r.fft.ints_in_interval = f.positive("ints_in_interval");
    gp.n_threads = n_threads;
    return gp;
}

// The CLI's earlier t-SNE directories: flat fields, each optional with the defaults it was written with.
TsneGradientParams read_legacy_tsne_params(const Fields& f, int n_threads) {
    TsneGradientParams gp;
    RepulsionOptions& r = gp.repulsion;
    gp.dof = f.positive("dof", 1.0);
    r.method = f.parsed("negative_gradient_method", parse_gradient_method, to_string(r.method));
    r.theta = f.number("theta", r.theta);
    r.fft.n_interpolation_points = f.count("n_interpolation_points", r.fft.n_interpolation_points);
    r.fft.min_num_intervals = f.count("min_num_intervals", r.fft.min_num_intervals);
    r.fft.ints_in_interval = f.positive("ints_in_interval", r.fft.ints_in_interval);
    gp.n_threads = n_threads;
    return gp;
}

// The network of a parametric model (see write_network), cross-checked against n_features and n_components.
Mlp read_network(const std::string& dir, const Fields& top, std::size_t n_components) {
    const Fields f = top.object("network");
    const json* w = f.find("widths", true);
    if (!w->is_array() || w->size() < 2) f.fail("widths", "must be a list of at least two positive integers");
    std::vector<std::size_t> widths;
    for (const json& v : *w) {
        if (!v.is_number_integer() || v.get<std::int64_t>() <= 0)
            f.fail("widths", "must be a list of at least two positive integers");
        widths.push_back(v.get<std::size_t>());
    }
    if (widths.back() != n_components) f.fail("widths", "ends in " + std::to_string(widths.back()) +
                                                            " but n_components is " + std::to_string(n_components));
    if (top.find("n_features", true)->is_null() || widths.front() != top.unsigned_int("n_features"))
        f.fail("widths", "must start with n_features (the network's inputs)");
    const Activation hidden = f.parsed("hidden_activation", parse_activation);
    const Activation output = f.parsed("output_activation", parse_activation);
    const std::size_t chunk_rows = f.count("chunk_rows");
    // The precision the network was trained in (models written before it existed: float32), so that a reloaded
    // network applies as the fit did, bit for bit.
    const Precision precision = f.parsed("precision", parse_precision, "float32");
    if (precision == Precision::bf16 && !bf16_gemm_available())
        f.fail("precision", "is bf16, which is not available here: " + bf16_unavailable_reason());
    // The input map (models written before it existed, or trained without it: none).
    InputNormalization norm;
    norm.scale = f.positive("input_scale", 1.0);
    if (f.flag("input_mean", false)) {
        Matrix<double> m = read_array<double>(dir, "network_input_mean.npy");
        norm.mean.assign(m.data(), m.data() + m.size());
    }
    Matrix<float> p = read_array<float>(dir, "network.npy");
    Mlp net;
    try {
        net = Mlp(std::move(widths), hidden, output, std::move(p.storage()), chunk_rows, precision);
    } catch (const InvalidArgument& e) {
        shape_error(dir, "network.npy", e.what());
    }
    try {
        net.set_input_normalization(std::move(norm));
    } catch (const InvalidArgument& e) {
        shape_error(dir, "network_input_mean.npy", e.what());
    }
    return net;
}

} // namespace

Model load_model(const std::string& dir, int n_threads, std::uint64_t knn_seed) {
    require(n_threads >= 1, "load_model: n_threads must be >= 1");
    const std::string mj = join(dir, "model.json");
    const json j = read_json(mj);
    const Fields top{j, mj, ""};
    if (!j.contains("format") || !j["format"].is_string())
        throw IoError(mj + ": not a nembed model (no \"format\": \"" + std::string(kFormat) + "\")");
    const std::string format = j["format"].get<std::string>();
    const bool legacy = format == kLegacyTsneFormat;
    if (!legacy && format != kFormat)
        throw IoError(mj + ": not a nembed model (format '" + format + "', expected '" + kFormat + "')");
    const std::int64_t version = top.integer("version");
    if (version < 1 || version > kModelVersion)
        throw IoError(mj + ": model version " + std::to_string(version) + " is not supported (this nembed reads " +
                      (legacy ? std::string("version 1 of the t-SNE format") : "versions 1 to " +
                                                                                   std::to_string(kModelVersion)) +
                      "; a newer nembed wrote it?)");

    Model m;
    double scale = 1.0;
    bool pca = false;
    if (legacy) {
        m.method_ = ModelMethod::tsne;
        scale = top.positive("scale", 1.0);
        pca = top.flag("pca", false);
    } else {
        m.method_ = top.parsed("method", [&](const std::string& name) {
            for (ModelMethod k :
                 {ModelMethod::tsne, ModelMethod::umap, ModelMethod::cne, ModelMethod::paradime, ModelMethod::ne})
                if (name == to_string(k)) return k;
            throw InvalidArgument("unknown method '" + name + "' (expected tsne, umap, cne, paradime or ne)");
        });
        const Fields p = top.object("preprocessing");
        scale = p.positive("scale");
        pca = p.flag("pca");
    }
    m.preprocessing_ = guard_allocation(dir, [&] { return read_preprocessing(dir, scale, pca); });
    Matrix<double> Y = read_array<double>(dir, "embedding.npy");
    if (!legacy) {
        if (Y.rows() != top.unsigned_int("n_points"))
            shape_error(dir, "embedding.npy", "has " + std::to_string(Y.rows()) + " rows but model.json says " +
                                                  "n_points = " + std::to_string(top.unsigned_int("n_points")));
        if (Y.cols() != top.unsigned_int("n_components"))
            shape_error(dir, "embedding.npy", "has " + std::to_string(Y.cols()) + " columns but model.json says " +
                                                  "n_components = " +
                                                  std::to_string(top.unsigned_int("n_components")));
    }
    if (m.method_ == ModelMethod::paradime) {
        // The network is the model (transform is its forward pass); the rest documents the run.
        const Fields pd = top.object("paradime");
        ParadimeModelSettings& s = m.paradime_;
        s.routine = pd.text("routine");
        s.seed = pd.unsigned_int("seed");
        const json* phases = pd.find("phases", true);
        if (!phases->is_array()) pd.fail("phases", "must be a list");
        for (std::size_t i = 0; i < phases->size(); ++i) {
            const Fields ph{(*phases)[i], mj, "paradime.phases[" + std::to_string(i) + "]."};
            if (!(*phases)[i].is_object()) pd.fail("phases", "must be a list of objects");
            s.phases.push_back({ph.text("name"), ph.text("sampling"), ph.small_int("epochs", 1),
                                ph.small_int("batch_size", 1), ph.positive("learning_rate")});
        }
        m.network_ = std::make_shared<const Mlp>(read_network(dir, top, Y.cols()));
        m.n_threads_ = n_threads;
        m.cne_embedding_ = std::move(Y);
        return m;
    }
    if (m.method_ == ModelMethod::ne) {
        // As paraDime's: the network is the model; the rest documents the run.
        const Fields ne = top.object("ne");
        m.ne_.method = ne.text("method");
        m.ne_.seed = ne.unsigned_int("seed");
        m.ne_.n_iter = ne.small_int("n_iter", 0);
        m.network_ = std::make_shared<const Mlp>(read_network(dir, top, Y.cols()));
        m.n_threads_ = n_threads;
        m.cne_embedding_ = std::move(Y);
        return m;
    }
    if (m.method_ == ModelMethod::cne) {
        const Fields c = top.object("cne");
        CneModelSettings& s = m.cne_;
        s.loss_mode = c.parsed("loss_mode", parse_contrastive_mode);
        s.similarity = c.parsed("similarity", parse_contrastive_metric);
        s.k = c.count("k");
        s.negative_samples = c.integer("negative_samples");
        s.batch_size = c.count("batch_size");
        s.n_epochs = c.small_int("n_epochs", 0);
        s.epochs_run = c.small_int("epochs_run", 0);
        s.learning_rate = c.positive("learning_rate");
        s.temperature = c.positive("temperature");
        s.eps = c.number("eps");
        s.spec = c.number("spec");
        s.spec_early = c.number("spec_early");
        s.early_epochs = c.small_int("early_epochs", 0);
        s.log_Z = c.number("log_Z");
        s.seed = c.unsigned_int("seed");
        // the input kNN metric (absent in models saved before it was recorded: euclidean)
        m.metric_ = top.parsed("metric", parse_metric, std::optional<std::string>("euclidean"));
        m.metric_params_ = read_metric_params(top);
        if (j.contains("network") && !j["network"].is_null()) {
            m.network_ = std::make_shared<const Mlp>(read_network(dir, top, Y.cols()));
            m.n_threads_ = n_threads;
        }
        m.cne_embedding_ = std::move(Y);
        return m;
    }

    // t-SNE and UMAP: the reference data and the kNN index over it.
    auto X = std::make_shared<Matrix<float>>(read_array<float>(dir, "reference_data.npy"));
    check_reference(dir, Y, *X, m.preprocessing_);
    if (!legacy && X->cols() != top.unsigned_int("n_features"))
        shape_error(dir, "reference_data.npy", "has " + std::to_string(X->cols()) + " columns but model.json " +
                                                   "says n_features = " +
                                                   std::to_string(top.unsigned_int("n_features")));
    m.metric_ = top.parsed("metric", parse_metric, legacy ? std::optional<std::string>("euclidean") : std::nullopt);
    if (m.metric_ == Metric::inner_product) throw IoError(mj + ": field 'metric' must not be the inner product");
    m.metric_params_ = read_metric_params(top);
    m.reference_ = X;
    const std::size_t d = Y.cols();
    if (m.method_ == ModelMethod::tsne) {
        const TsneGradientParams gp =
            legacy ? read_legacy_tsne_params(top, n_threads) : read_tsne_params(top.object("tsne"), n_threads);
        try {
            validate(gp.repulsion, d);
        } catch (const InvalidArgument& e) {
            throw IoError(mj + ": invalid t-SNE settings: " + e.what());
        }
        try {
            require_finite(Y.view(), "embedding");
        } catch (const InvalidArgument& e) {
            shape_error(dir, "embedding.npy", e.what());
        }
        // No P: a loaded t-SNE model transforms but cannot optimize.
        m.tsne_.emplace(std::move(Y), CsrMatrix<double>{}, gp, rebuild_index(top, *X, m.metric_, m.metric_params_, n_threads, knn_seed), X);
        return m;
    }

    const Fields u = top.object("umap");
    const std::size_t n_neighbors = u.count("n_neighbors");
    if (n_neighbors < 2) u.fail("n_neighbors", "must be >= 2 (it counts the point itself)");
    const double local_connectivity = u.number("local_connectivity");
    if (local_connectivity < 0) u.fail("local_connectivity", "must be >= 0");
    const UmapCurve curve{u.positive("a"), u.positive("b")};
    const int n_epochs = u.small_int("n_epochs", 0);
    std::optional<int> requested;
    if (!u.find("requested_epochs", true)->is_null()) requested = u.small_int("requested_epochs", 0);
    const double lr = u.positive("learning_rate");
    const double gamma = u.number("repulsion_strength");
    if (gamma < 0) u.fail("repulsion_strength", "must be >= 0");
    const double nsr = u.positive("negative_sample_rate");
    const std::uint64_t transform_seed = u.unsigned_int("transform_seed");
    // absent in models saved before output metrics were recorded: euclidean
    OutputMetric output_metric;
    try {
        output_metric = parse_output_metric(u.text("output_metric", std::string("euclidean")),
                                            u.positive("output_metric_p", 2.0));
        require(output_metric.kind != OutputMetricKind::custom, "a custom output metric cannot be loaded");
        validate(output_metric, Y.cols());
    } catch (const InvalidArgument& e) {
        u.fail("output_metric", e.what());
    }
    try {
        require_finite(Y.view(), "embedding");
    } catch (const InvalidArgument& e) {
        shape_error(dir, "embedding.npy", e.what());
    }
    // The fuzzy graph is not saved (transform does not use it): an N x N graph without edges.
    CsrMatrix<double> no_graph;
    no_graph.n_rows = no_graph.n_cols = Y.rows();
    no_graph.indptr.assign(Y.rows() + 1, 0);
    m.umap_.emplace(std::move(Y), std::move(no_graph), curve, n_epochs, lr, gamma, nsr, 0, n_threads);
    UmapEmbedding& e = *m.umap_;
    e.knn_index = rebuild_index(top, *X, m.metric_, m.metric_params_, n_threads, knn_seed);
    e.n_neighbors = n_neighbors;
    e.local_connectivity = local_connectivity;
    e.requested_epochs = requested;
    e.transform_seed = transform_seed;
    if (!output_metric.euclidean()) e.set_output_metric(output_metric);
    return m;
}

} // namespace nembed
