// _core.torchdr_fit and _core.torchdr_transform: TorchDR's neighbour-embedding methods (nembed/methods/
// neighbor_embedding.hpp, pacmap.hpp, cosne.hpp, tsnekhorn.hpp, torchdr_umap.hpp; the transform of ne_transform.hpp)
// for the classes of python/nembed/torchdr/neighbor_embedding.py. The dict of TorchDR's parameters is mapped onto the
// method's Options; a parameter the method's Options do not have, an unknown key or an unsupported value is a
// ValueError naming it. A new method is one line in kMethods (its name, class and Options).
#include <nanobind/stl/string.h>

#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <type_traits>

#include "common.hpp"
#include "nembed/core/strings.hpp"
#include "nembed/core/timer.hpp"
#include "nembed/methods/cosne.hpp"
#include "nembed/methods/ne_transform.hpp"
#include "nembed/methods/neighbor_embedding.hpp"
#include "nembed/methods/pacmap.hpp"
#include "nembed/methods/torchdr_umap.hpp"
#include "nembed/methods/tsnekhorn.hpp"

namespace nb = nanobind;
using namespace nb::literals;
using namespace nembed_py;

namespace {

using nembed::InvalidArgument;

// The parameters of one call; take() consumes a key, finish() refuses what no one took.
class Params {
public:
    explicit Params(nb::dict d) {
        for (auto [k, v] : d) {
            if (!nb::isinstance<nb::str>(k)) throw InvalidArgument("parameter names must be strings");
            items_[nb::cast<std::string>(k)] = nb::borrow(v);
        }
    }
    /// The value of `key` (removed), or none when absent.
    std::optional<nb::object> take(const std::string& key) {
        auto it = items_.find(key);
        if (it == items_.end()) return std::nullopt;
        nb::object v = it->second;
        items_.erase(it);
        return v;
    }
    void finish(const std::string& method) const {
        if (!items_.empty())
            throw InvalidArgument(items_.begin()->first + ": not a parameter of TorchDR's " + method +
                                  " (or not supported by nembed)");
    }

private:
    std::map<std::string, nb::object> items_;
};

bool is_none(const nb::handle& v) { return v.is_none(); }
bool is_word(const nb::handle& v, const char* word) {
    return nb::isinstance<nb::str>(v) && nb::cast<std::string>(v) == word;
}

double number(const nb::handle& v, const std::string& key) {
    if (nb::isinstance<bool>(v) || !(nb::isinstance<nb::int_>(v) || nb::isinstance<nb::float_>(v)))
        throw InvalidArgument(key + " must be a number, got " + nb::cast<std::string>(nb::repr(v)));
    const double x = nb::cast<double>(v);
    if (!std::isfinite(x)) throw InvalidArgument(key + " must be a finite number, got " + std::to_string(x));
    return x;
}
long long integer(const nb::handle& v, const std::string& key) {
    const double x = number(v, key);
    if (x != std::floor(x) || std::fabs(x) > 9e15)
        throw InvalidArgument(key + " must be an integer, got " + nb::cast<std::string>(nb::repr(v)));
    return static_cast<long long>(x);
}
int int32(const nb::handle& v, const std::string& key) {
    const long long x = integer(v, key);
    if (x < -2147483647LL || x > 2147483647LL) throw InvalidArgument(key + " is out of range");
    return static_cast<int>(x);
}
std::size_t count(const nb::handle& v, const std::string& key) {
    const long long x = integer(v, key);
    if (x < 0) throw InvalidArgument(key + " must be >= 0, got " + std::to_string(x));
    return static_cast<std::size_t>(x);
}
bool boolean(const nb::handle& v, const std::string& key) {
    if (!nb::isinstance<bool>(v)) throw InvalidArgument(key + " must be True or False");
    return nb::cast<bool>(v);
}
std::string text(const nb::handle& v, const std::string& key) {
    if (!nb::isinstance<nb::str>(v)) throw InvalidArgument(key + " must be a string");
    return nb::cast<std::string>(v);
}

// optimizer_kwargs: "auto" (none), None (torch's defaults) or a dict of torch.optim keywords nembed implements.
std::optional<nembed::OptimizerKwargs> optimizer_kwargs(const nb::handle& v) {
    if (is_word(v, "auto")) return std::nullopt;
    nembed::OptimizerKwargs k;
    if (is_none(v)) return k;
    if (!nb::isinstance<nb::dict>(v)) throw InvalidArgument("optimizer_kwargs must be a dict, 'auto' or None");
    for (auto [key_h, val] : nb::borrow<nb::dict>(v)) {
        const std::string key = nb::cast<std::string>(nb::str(key_h));
        const std::string name = "optimizer_kwargs['" + key + "']";
        if (key == "momentum") k.momentum = number(val, name);
        else if (key == "weight_decay") k.weight_decay = number(val, name);
        else if (key == "eps") k.eps = number(val, name);
        else if (key == "betas") {
            if (!nb::isinstance<nb::sequence>(val) || nb::len(val) != 2)
                throw InvalidArgument(name + " must be a pair of numbers");
            k.beta1 = number(val[0], name);
            k.beta2 = number(val[1], name);
        } else {
            throw InvalidArgument(name + ": not supported (supported: momentum, weight_decay, betas, eps)");
        }
    }
    return k;
}

// scheduler_kwargs: "auto" (none), None (torch's defaults) or a dict of torch.optim.lr_scheduler keywords.
std::optional<nembed::SchedulerKwargs> scheduler_kwargs(const nb::handle& v) {
    if (is_word(v, "auto")) return std::nullopt;
    nembed::SchedulerKwargs k;
    if (is_none(v)) return k;
    if (!nb::isinstance<nb::dict>(v)) throw InvalidArgument("scheduler_kwargs must be a dict, 'auto' or None");
    for (auto [key_h, val] : nb::borrow<nb::dict>(v)) {
        const std::string key = nb::cast<std::string>(nb::str(key_h));
        const std::string name = "scheduler_kwargs['" + key + "']";
        if (key == "start_factor") k.start_factor = number(val, name);
        else if (key == "end_factor") k.end_factor = number(val, name);
        else if (key == "total_iters") k.total_iters = int32(val, name);
        else if (key == "T_max") k.T_max = int32(val, name);
        else if (key == "eta_min") k.eta_min = number(val, name);
        else if (key == "gamma") k.gamma = number(val, name);
        else
            throw InvalidArgument(name + ": not supported (supported: start_factor, end_factor, total_iters, T_max, "
                                         "eta_min, gamma)");
    }
    return k;
}

// encoder: None (the table) or a dict of nembed's network settings (the Python side turns True into {}); unknown
// keys are refused.
nembed::NeEncoderOptions encoder_options(const nb::handle& v) {
    if (!nb::isinstance<nb::dict>(v))
        throw InvalidArgument("encoder must be None, True or a dict of network settings (hidden, activation, "
                              "network_init, normalize_inputs, batch_size, learning_rate, optimizer)");
    nembed::NeEncoderOptions e;
    e.enabled = true;
    for (auto [k, val] : nb::cast<nb::dict>(v)) {
        const std::string key = nb::cast<std::string>(k);
        const std::string name = "encoder['" + key + "']";
        if (key == "hidden") {
            e.network.hidden.clear();
            for (nb::handle h : val) e.network.hidden.push_back(static_cast<long>(integer(h, name)));
        } else if (key == "activation") {
            e.network.hidden_activation = nembed::parse_activation(text(val, name));
        } else if (key == "network_init") {
            e.network.init = nembed::parse_mlp_init(text(val, name));
        } else if (key == "normalize_inputs") {
            if (!nb::isinstance<nb::bool_>(val)) throw InvalidArgument(name + " must be True or False");
            e.network.normalize_inputs = nb::cast<bool>(val);
        } else if (key == "batch_size") {
            e.batch_size = count(val, name);
        } else if (key == "learning_rate") {
            e.learning_rate = number(val, name);
        } else if (key == "optimizer") {
            e.optimizer = text(val, name);
        } else {
            throw InvalidArgument("encoder: unknown setting '" + key + "' (hidden, activation, network_init, "
                                  "normalize_inputs, batch_size, learning_rate, optimizer)");
        }
    }
    return e;
}

// A value converted to the type of the Options' field (the methods differ: PACMAP's n_neighbors is a count, UMAP's an
// int; UMAP's a and b take None).
template <class T>
T convert(const nb::handle& v, const std::string& key) {
    if constexpr (std::is_same_v<T, bool>) return boolean(v, key);
    else if constexpr (std::is_same_v<T, std::size_t>) return count(v, key);
    else if constexpr (std::is_same_v<T, int>) return int32(v, key);
    else if constexpr (std::is_same_v<T, double>) return number(v, key);
    else if constexpr (std::is_same_v<T, std::optional<double>>) {
        if (is_none(v)) return std::nullopt;
        return number(v, key);
    } else static_assert(sizeof(T) == 0, "no conversion for this field type");
}
#define NE_FIELD(key, field) NE_TAKE(key, field, convert<std::remove_cvref_t<decltype(o.field)>>)

// Sets o.field from the key through `conv` when given; a key the Options have no field for is refused.
#define NE_TAKE(key, field, conv)                                                         \
    if (auto v_ = p.take(key)) {                                                          \
        if constexpr (requires { o.field; }) o.field = conv(*v_, key);                    \
        else throw InvalidArgument(std::string(key) + ": not a parameter of " + method);  \
    }

template <class Options>
Options options_from_dict(Params& p, const std::string& method, std::optional<nembed::Matrix<double>> init_array) {
    Options o;
    NE_TAKE("perplexity", perplexity, number)
    NE_TAKE("max_iter_affinity", max_iter_affinity, int32)
    NE_TAKE("n_components", n_components, count)
    NE_TAKE("min_grad_norm", min_grad_norm, number)
    NE_TAKE("max_iter", max_iter, int32)
    NE_TAKE("init_scaling", init_scaling, number)
    NE_TAKE("repulsion_strength", repulsion_strength, number)
    NE_TAKE("check_interval", check_interval, int32)
    NE_TAKE("n_negatives", n_negatives, count)
    NE_TAKE("optimizer", optimizer, text)
    NE_FIELD("n_neighbors", n_neighbors)
    NE_FIELD("MN_ratio", MN_ratio)
    NE_FIELD("FP_ratio", FP_ratio)
    NE_FIELD("iter_per_phase", iter_per_phase)
    NE_FIELD("learning_rate_for_h_loss", learning_rate_for_h_loss)
    NE_FIELD("gamma", gamma)
    NE_FIELD("lr_affinity_in", lr_affinity_in)
    NE_FIELD("eps_square_affinity_in", eps_square_affinity_in)
    NE_FIELD("tol_affinity_in", tol_affinity_in)
    NE_FIELD("max_iter_affinity_in", max_iter_affinity_in)
    NE_FIELD("symmetric_affinity", symmetric_affinity)
    NE_FIELD("unrolling", unrolling)
    NE_FIELD("min_dist", min_dist)
    NE_FIELD("spread", spread)
    NE_FIELD("a", a)
    NE_FIELD("b", b)
    NE_FIELD("negative_sample_rate", negative_sample_rate)
    NE_FIELD("sparsity", sparsity)
    // UMAP's input_layout: "sharded" splits the input over torchrun's processes (distributed only).
    if (auto v = p.take("input_layout")) {
        const std::string l = text(*v, "input_layout");
        if (l != "replicated")
            throw InvalidArgument("input_layout: '" + l + "' is not supported (only 'replicated'; 'sharded' is "
                                  "TorchDR's distributed mode)");
    }
    if (auto v = p.take("lr")) {
        if (is_word(*v, "auto")) o.lr.reset();
        else o.lr = number(*v, "lr");
    }
    if (auto v = p.take("optimizer_kwargs")) o.optimizer_kwargs = optimizer_kwargs(*v);
    if (auto v = p.take("scheduler")) o.scheduler = is_none(*v) ? std::string("none") : text(*v, "scheduler");
    if (auto v = p.take("scheduler_kwargs")) o.scheduler_kwargs = scheduler_kwargs(*v);
    // TorchDR's None: no exaggeration (coefficient 1, 0 iterations).
    if (auto v = p.take("early_exaggeration_coeff")) o.early_exaggeration_coeff = is_none(*v) ? 1.0 : number(*v, "early_exaggeration_coeff");
    if (auto v = p.take("early_exaggeration_iter")) o.early_exaggeration_iter = is_none(*v) ? 0 : int32(*v, "early_exaggeration_iter");
    if (auto v = p.take("init")) {
        o.init = nembed::parse_ne_init(text(*v, "init") == "array" ? "pca" : text(*v, "init"));
        if (text(*v, "init") == "array") {
            if (!init_array) throw InvalidArgument("init: 'array' without an array");
            o.init = nembed::NeInit::array;
            o.init_array = std::move(init_array);
        }
    }
    // exclude_neighbors_from_negative_sampling, with TorchDR's deprecated alias discard_NNs (None: the other's value).
    {
        auto ex = p.take("exclude_neighbors_from_negative_sampling");
        auto dn = p.take("discard_NNs");
        const bool ex_set = ex && !is_none(*ex), dn_set = dn && !is_none(*dn);
        if (ex_set || dn_set) {
            if constexpr (requires { o.exclude_neighbors_from_negative_sampling; }) {
                const bool e = ex_set ? boolean(*ex, "exclude_neighbors_from_negative_sampling") : false;
                const bool d = dn_set ? boolean(*dn, "discard_NNs") : false;
                if (ex_set && dn_set && e != d)
                    throw InvalidArgument("Conflicting values were provided for "
                                          "exclude_neighbors_from_negative_sampling and its deprecated alias "
                                          "discard_NNs");
                o.exclude_neighbors_from_negative_sampling = ex_set ? e : d;
            } else {
                throw InvalidArgument("exclude_neighbors_from_negative_sampling: not a parameter of " + method);
            }
        }
    }
    // backend: TorchDR's kNN/memory backends (None, "keops", "faiss") give the same exact results here; TSNE's
    // repulsion may also be nembed's "bh" (Barnes–Hut) or "fft".
    if (auto v = p.take("backend")) {
        const std::string b = is_none(*v) ? "exact" : nembed::to_lower(text(*v, "backend"));
        const bool torchdr_backend = b == "exact" || b == "keops" || b == "faiss";
        if constexpr (requires { o.backend; }) {
            o.backend = nembed::parse_ne_backend(torchdr_backend ? std::string("exact") : b);
        } else if (!torchdr_backend) {
            throw InvalidArgument("backend: '" + b + "' is not supported by " + method +
                                  " (supported: None, 'keops', 'faiss')");
        }
    }
    // The input metric: each method's metric type parses (and names) what it accepts.
    if (auto v = p.take("metric")) {
        const std::string m = text(*v, "metric");
        if constexpr (std::is_same_v<std::decay_t<decltype(o)>, nembed::torchdr::PACMAPOptions>) o.metric = nembed::parse_pacmap_metric(m);
        else o.metric = nembed::parse_cost_metric(m);
    }
    NE_FIELD("process_duplicates", process_duplicates)
    if (auto v = p.take("encoder"); v && !is_none(*v)) o.encoder = encoder_options(*v);
    if (auto v = p.take("seed")) o.random_state = static_cast<std::uint64_t>(nb::cast<std::uint64_t>(*v));
    if (auto v = p.take("n_jobs")) o.n_threads = int32(*v, "n_jobs");
    if (auto v = p.take("verbose")) o.verbose = boolean(*v, "verbose");
    p.finish(method);
    return o;
}
#undef NE_FIELD
#undef NE_TAKE

template <class Method, class Options>
nb::dict fit(F32Mat X, Params& p, const std::string& method, std::optional<nembed::Matrix<double>> init,
             bool handle_sigint) {
    const Options o = options_from_dict<Options>(p, method, std::move(init));
    nembed::Timer t;
    nembed::NeResult r = run_long(handle_sigint, [&] { return Method(o).fit_transform(view(X)); });
    return ne_result_dict(std::move(r), t.seconds());
}

// TorchDR's non-parametric transform (UMAP, LargeVis, InfoTSNE): the fit's parameters, X_new against the training
// data and its frozen embedding.
template <class Options>
NpArray<double> transform(F32Mat X_new, F32Mat X_train, F64Mat Y_train, Params& p, const std::string& method,
                 bool handle_sigint) {
    p.take("init");  // the fit's start: the transform starts from the neighbours' weighted positions
    const Options o = options_from_dict<Options>(p, method, std::nullopt);
    const nembed::Matrix<double> Y = to_matrix(Y_train);
    nembed::Matrix<double> Z = run_long(
        handle_sigint, [&] { return nembed::torchdr::transform(o, view(X_new), view(X_train), Y.view()); });
    return to_numpy(std::move(Z));
}

using FitFn = nb::dict (*)(F32Mat, Params&, const std::string&, std::optional<nembed::Matrix<double>>, bool);
using TransformFn = NpArray<double> (*)(F32Mat, F32Mat, F64Mat, Params&, const std::string&, bool);
struct NeMethod {
    const char* name;   // the Python class's _method
    const char* title;  // TorchDR's class name
    FitFn fit;
    TransformFn transform;  // null: TorchDR has no transform of new data for the method
};
namespace td = nembed::torchdr;
const NeMethod kMethods[] = {
    {"sne", "SNE", fit<td::SNE, td::SNEOptions>, nullptr},
    {"tsne", "TSNE", fit<td::TSNE, td::TSNEOptions>, nullptr},
    {"infotsne", "InfoTSNE", fit<td::InfoTSNE, td::InfoTSNEOptions>, transform<td::InfoTSNEOptions>},
    {"largevis", "LargeVis", fit<td::LargeVis, td::LargeVisOptions>, transform<td::LargeVisOptions>},
    {"umap", "UMAP", fit<td::UMAP, td::UMAPOptions>, transform<td::UMAPOptions>},
    {"pacmap", "PACMAP", fit<td::PACMAP, td::PACMAPOptions>, nullptr},
    {"tsnekhorn", "TSNEkhorn", fit<td::TSNEkhorn, td::TSNEkhornOptions>, nullptr},
    {"cosne", "COSNE", fit<td::COSNE, td::COSNEOptions>, nullptr},
};

const NeMethod& find_method(const std::string& method) {
    for (const NeMethod& nm : kMethods)
        if (method == nm.name) return nm;
    std::string names;
    for (const NeMethod& nm : kMethods) names += (names.empty() ? "" : ", ") + std::string(nm.name);
    throw InvalidArgument("method: unknown '" + method + "' (available: " + names + ")");
}

} // namespace

void bind_torchdr_ne(nb::module_& m) {
    m.def(
        "torchdr_fit",
        [](F32Mat X, const std::string& method, nb::dict params, F64Mat init, bool handle_sigint) {
            std::optional<nembed::Matrix<double>> init_array;
            if (init.shape(0) > 0) init_array = to_matrix(init);
            Params p(params);
            const NeMethod& nm = find_method(method);
            return nm.fit(X, p, nm.title, std::move(init_array), handle_sigint);
        },
        "X"_a, "method"_a, "params"_a, "init"_a, "handle_sigint"_a = false,
        "Fits TorchDR's method (sne, tsne, infotsne, largevis, umap, pacmap, tsnekhorn, cosne) on X (float32 n x D) "
        "with TorchDR's parameters (a dict); init: an n x n_components float64 array or 0 x 0 (none). Returns "
        "dict(embedding, n_iter, loss, stop, timings).");
    m.def(
        "torchdr_transform",
        [](F32Mat X_new, F32Mat X_train, F64Mat Y_train, const std::string& method, nb::dict params,
           bool handle_sigint) {
            Params p(params);
            const NeMethod& nm = find_method(method);
            if (!nm.transform)
                throw InvalidArgument(std::string(nm.title) + " has no transform of new data (TorchDR's transform: "
                                                              "umap, largevis, infotsne)");
            return nm.transform(X_new, X_train, Y_train, p, nm.title, handle_sigint);
        },
        "X_new"_a, "X_train"_a, "Y_train"_a, "method"_a, "params"_a, "handle_sigint"_a = false,
        "TorchDR's non-parametric transform (umap, largevis, infotsne): X_new (float32) embedded against the "
        "training data X_train (float32) and its fitted embedding Y_train (float64), with the fit's parameters. "
        "Returns n_new x n_components float64.");
}
