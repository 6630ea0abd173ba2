// paraDime's model (parametric/parametric_dr.hpp) for nembed.paradime: specs as plain dicts (paraDime's names),
// the built-in network, and a model of Python callbacks (the PyTorch plug-in: nembed computes dL/dY of a batch,
// torch backpropagates through the user's module).
#include <nanobind/stl/function.h>
#include <nanobind/stl/map.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <memory>
#include <string>

#include "common.hpp"
#include "nembed/parametric/parametric_dr.hpp"
#include "nembed/train/parametrization.hpp"

namespace nb = nanobind;
using namespace nb::literals;
using namespace nembed_py;
namespace pd = nembed::paradime;

namespace {

template <typename T>
void get(const nb::dict& d, const char* key, T& out) {
    dict_get(d, key, out);
}

pd::Transform transform_spec(const nb::dict& d) {
    pd::Transform t;
    t.kind = pd::parse_transform(nb::cast<std::string>(d["kind"]));
    get(d, "perplexity", t.perplexity);
    get(d, "n_neighbors", t.n_neighbors);
    get(d, "subtract_product", t.subtract_product);
    get(d, "alpha", t.alpha);
    get(d, "min_dist", t.min_dist);
    get(d, "spread", t.spread);
    get(d, "learnable", t.learnable);
    if (d.contains("a") && !d["a"].is_none()) t.a = nb::cast<double>(d["a"]);
    if (d.contains("b") && !d["b"].is_none()) t.b = nb::cast<double>(d["b"]);
    return t;
}

std::vector<pd::Transform> transforms_spec(const nb::dict& d) {
    std::vector<pd::Transform> out;
    if (d.contains("transform") && !d["transform"].is_none())
        for (nb::handle h : nb::cast<nb::list>(d["transform"])) out.push_back(transform_spec(nb::cast<nb::dict>(h)));
    return out;
}

pd::GlobalRelations global_spec(const nb::dict& d, int n_threads, std::uint64_t seed) {
    pd::GlobalRelations g;
    g.kind = pd::parse_global_relation(nb::cast<std::string>(d["kind"]));
    g.transform = transforms_spec(d);
    get(d, "n_neighbors", g.n_neighbors);
    std::string metric = "euclidean", method = "auto";
    get(d, "metric", metric);
    get(d, "knn_method", method);
    g.knn = nembed::fit_knn_options(nembed::parse_knn_method(method), nembed::parse_metric(metric), seed, n_threads);
    if (d.contains("relations") && !d["relations"].is_none()) {
        nb::tuple t = nb::cast<nb::tuple>(d["relations"]);
        const auto n = nb::cast<std::size_t>(t[3]);
        g.relations = to_csr(nb::cast<I64Vec>(t[0]), nb::cast<I32Vec>(t[1]), nb::cast<F64Vec>(t[2]), n, n);
    }
    return g;
}

pd::BatchRelations batch_spec(const nb::dict& d) {
    pd::BatchRelations b;
    b.kind = pd::parse_batch_relation(nb::cast<std::string>(d["kind"]));
    b.transform = transforms_spec(d);
    return b;
}

pd::Loss loss_spec(const nb::dict& d) {
    pd::Loss l;
    l.kind = pd::parse_loss(nb::cast<std::string>(d["kind"]));
    get(d, "name", l.name);
    if (d.contains("loss_function") && !d["loss_function"].is_none())
        l.loss_function = pd::parse_relation_loss_function(nb::cast<std::string>(d["loss_function"]));
    get(d, "global_relation_key", l.global_relation_key);
    get(d, "batch_relation_key", l.batch_relation_key);
    get(d, "normalize_sub", l.normalize_sub);
    get(d, "epsilon", l.epsilon);
    get(d, "exaggeration", l.exaggeration);
    get(d, "position_key", l.position_key);
    get(d, "label_key", l.label_key);
    get(d, "weights", l.weights);
    if (d.contains("losses"))
        for (nb::handle h : nb::cast<nb::list>(d["losses"])) l.losses.push_back(loss_spec(nb::cast<nb::dict>(h)));
    return l;
}

pd::TrainingPhase phase_spec(const nb::dict& d) {
    pd::TrainingPhase p;
    get(d, "name", p.name);
    get(d, "epochs", p.epochs);
    get(d, "batch_size", p.batch_size);
    get(d, "batches_per_epoch", p.batches_per_epoch);
    if (d.contains("sampling")) p.sampling = pd::parse_sampling(nb::cast<std::string>(d["sampling"]));
    get(d, "neg_sampling_rate", p.neg_sampling_rate);
    get(d, "edge_rel_key", p.edge_rel_key);
    if (d.contains("optimizer") && !d["optimizer"].is_none())
        p.optimizer.kind = nembed::parse_optimizer_kind(nb::cast<std::string>(d["optimizer"]));
    get(d, "momentum", p.optimizer.momentum);
    get(d, "weight_decay", p.optimizer.weight_decay);
    get(d, "learning_rate", p.learning_rate);
    get(d, "report_interval", p.report_interval);
    if (d.contains("lr_anneal") && !d["lr_anneal"].is_none())
        p.lr_anneal = nembed::parse_lr_anneal(nb::cast<std::string>(d["lr_anneal"]));
    p.loss = loss_spec(nb::cast<nb::dict>(d["loss"]));
    return p;
}

nb::dict loss_to_dict(const pd::Loss& l) {
    nb::dict d;
    d["kind"] = pd::to_string(l.kind);
    d["name"] = l.name;
    nb::list parts;
    for (const pd::Loss& s : l.losses) parts.append(loss_to_dict(s));
    d["losses"] = parts;
    return d;
}

// A parametrisation of Python callables: forward(indices) -> (b, d) float64; backward(indices, dY); step(lr);
// embedding() -> (n, d). Called with the GIL held (train_model never releases it).
class CallbackModel final : public nembed::Parametrization {
public:
    CallbackModel(std::size_t n, std::size_t d, nb::callable fwd, nb::callable bwd, nb::callable step, nb::callable emb)
        : n_(n), d_(d), fwd_(std::move(fwd)), bwd_(std::move(bwd)), step_(std::move(step)), emb_(std::move(emb)) {}
    std::size_t n_points() const override { return n_; }
    std::size_t n_components() const override { return d_; }
    void forward(std::span<const nembed::index_t> batch, double* out) override {
        nb::object r = fwd_(indices(batch));
        auto a = nb::cast<F64Mat>(r);
        nembed::require(a.shape(0) == batch.size() && a.shape(1) == d_,
                        "paraDime model: forward must return a (batch, out_dim) float64 array");
        std::copy(a.data(), a.data() + batch.size() * d_, out);
    }
    void backward(std::span<const nembed::index_t> batch, const double* dY) override {
        std::vector<double> g(dY, dY + batch.size() * d_);
        bwd_(indices(batch), to_numpy(std::move(g), {batch.size(), d_}));
    }
    void step(nembed::Optimizer&, double lr, int) override { step_(lr); }
    nembed::Matrix<double> embedding() override { return to_matrix(nb::cast<F64Mat>(emb_())); }

private:
    static NpArray<std::int64_t> indices(std::span<const nembed::index_t> batch) {
        std::vector<std::int64_t> v(batch.begin(), batch.end());
        return to_numpy(std::move(v), {v.size()});
    }
    std::size_t n_, d_;
    nb::callable fwd_, bwd_, step_, emb_;
};

struct Routine {
    std::unique_ptr<pd::ParametricDR> dr;
    nembed::Matrix<float> X;  // the training data (PDist reads it lazily)
};

void set_data(Routine& r, const F32Mat& X) {
    if (r.X.empty()) {
        r.X = nembed::Matrix<float>(X.shape(0), X.shape(1),
                                    std::vector<float>(X.data(), X.data() + X.shape(0) * X.shape(1)));
    } else {
        nembed::require(X.shape(0) == r.X.rows() && X.shape(1) == r.X.cols(),
                        "ParametricDR: the routine's data is " + std::to_string(r.X.rows()) + " x " +
                            std::to_string(r.X.cols()) + "; got " + std::to_string(X.shape(0)) + " x " +
                            std::to_string(X.shape(1)));
    }
}

} // namespace

void bind_paradime(nb::module_& m) {
    nb::class_<Routine>(m, "_ParadimeRoutine")
        .def("__init__",
             [](Routine* self, nb::dict options, nb::dict global, nb::dict batch, nb::dict derived) {
                 pd::ParametricDROptions o;
                 get(options, "out_dim", o.out_dim);
                 get(options, "hidden_dims", o.hidden_dims);
                 get(options, "seed", o.seed);
                 get(options, "n_threads", o.n_threads);
                 get(options, "verbose", o.verbose);
                 if (options.contains("hidden_activation"))
                     o.hidden_activation =
                         nembed::parse_activation(nb::cast<std::string>(options["hidden_activation"]));
                 get(options, "normalize_inputs", o.normalize_inputs);
                 get(options, "input_row_norm", o.input_row_norm);
                 if (options.contains("network_precision"))
                     o.network_precision =
                         nembed::parse_precision(nb::cast<std::string>(options["network_precision"]));
                 if (options.contains("full_batch")) {
                     nb::dict f = nb::cast<nb::dict>(options["full_batch"]);
                     get(f, "iterations", o.full_batch.iterations);
                     get(f, "learning_rate", o.full_batch.learning_rate);
                     get(f, "method", o.full_batch.method);
                     get(f, "perplexity", o.full_batch.perplexity);
                     get(f, "early_exaggeration", o.full_batch.early_exaggeration);
                     get(f, "early_exaggeration_iter", o.full_batch.early_exaggeration_iter);
                     get(f, "n_neighbors", o.full_batch.n_neighbors);
                     get(f, "min_dist", o.full_batch.min_dist);
                     get(f, "spread", o.full_batch.spread);
                     get(f, "input_noise", o.full_batch.input_noise);
                     if (f.contains("consistency")) {
                         nb::dict c = nb::cast<nb::dict>(f["consistency"]);
                         auto& tc = o.full_batch.transform_consistency;
                         get(c, "weight", tc.weight);
                         get(c, "samples", tc.samples);
                         get(c, "n_neighbors", tc.n_neighbors);
                         get(c, "size", tc.size);
                         get(c, "perplexity", tc.perplexity);
                         bool through = !tc.stop_gradient;
                         get(c, "through_targets", through);
                         tc.stop_gradient = !through;
                     }
                     pd::validate(o.full_batch);
                 }
                 std::map<std::string, pd::GlobalRelations> g;
                 for (auto [k, v] : global)
                     g[nb::cast<std::string>(k)] = global_spec(nb::cast<nb::dict>(v), o.n_threads, o.seed);
                 std::map<std::string, pd::BatchRelations> b;
                 for (auto [k, v] : batch) b[nb::cast<std::string>(k)] = batch_spec(nb::cast<nb::dict>(v));
                 std::map<std::string, pd::DerivedData> dd;
                 for (auto [k, v] : derived) {
                     nb::dict d = nb::cast<nb::dict>(v);
                     pd::DerivedData x;
                     x.kind = pd::parse_derived_data(nb::cast<std::string>(d["kind"]));
                     get(d, "rel_key", x.rel_key);
                     get(d, "n_components", x.n_components);
                     dd[nb::cast<std::string>(k)] = x;
                 }
                 new (self) Routine{std::make_unique<pd::ParametricDR>(o, g, b, dd), {}};
             },
             "options"_a, "global_relations"_a, "batch_relations"_a, "derived_data"_a)
        .def("add_training_phase",
             [](Routine& r, nb::dict spec) {
                 r.dr->add_training_phase(phase_spec(spec));
                 return loss_to_dict(r.dr->training_phases().back().loss);
             })
        .def("add_to_dataset", [](Routine& r, const std::string& key, const F64Mat& pos) {
            r.dr->add_to_dataset(key, to_matrix(pos));
        })
        .def("compute_global_relations", [](Routine& r, const F32Mat& X) {
            set_data(r, X);
            r.dr->compute_global_relations(r.X.view());
        })
        .def("compute_derived_data", [](Routine& r, const F32Mat& X) {
            set_data(r, X);
            r.dr->compute_derived_data(r.X.view());
        })
        .def("global_relation", [](Routine& r, const std::string& key) -> nb::object {
            const pd::GlobalRelationData& g = r.dr->global_relation_data(key);
            nembed::require(!g.lazy_pdist, "global relations '" + key + "' are PDist, which is never stored");
            return from_csr(g.sparse);
        })
        .def("dataset_entry", [](Routine& r, const std::string& key) {
            auto it = r.dr->dataset().positions.find(key);
            nembed::require(it != r.dr->dataset().positions.end(), "no dataset entry '" + key + "'");
            return copy_to_numpy(it->second.view());
        })
        .def("train", [](Routine& r, const F32Mat& X) {
            set_data(r, X);
            run_long(true, [&] { r.dr->train(r.X.view()); });
        })
        .def("train_model",
             [](Routine& r, const F32Mat& X, nb::callable forward, nb::callable backward, nb::callable step,
                nb::callable embedding, nb::object external_loss, nb::object phase_start) {
                 set_data(r, X);
                 CallbackModel model(r.X.rows(), r.dr->options().out_dim, forward, backward, step, embedding);
                 if (!external_loss.is_none()) {
                     nb::callable f = nb::cast<nb::callable>(external_loss);
                     r.dr->set_external_loss([f](const pd::Loss& l, std::span<const nembed::index_t> batch, double w) {
                         std::vector<std::int64_t> v(batch.begin(), batch.end());
                         const std::size_t b = v.size();
                         return nb::cast<double>(f(l.name, to_numpy(std::move(v), {b}), w));
                     });
                 }
                 if (!phase_start.is_none()) {
                     nb::callable f = nb::cast<nb::callable>(phase_start);
                     r.dr->set_phase_start([f](int phase) { f(phase); });
                 }
                 try {
                     r.dr->train(r.X.view(), model);
                 } catch (...) {
                     r.dr->set_external_loss({});
                     r.dr->set_phase_start({});
                     throw;
                 }
                 r.dr->set_external_loss({});
                 r.dr->set_phase_start({});
             },
             "X"_a, "forward"_a, "backward"_a, "step"_a, "embedding"_a, "external_loss"_a.none(),
             "phase_start"_a.none())
        .def("n_inputs", [](Routine& r) { return r.dr->network().n_inputs(); })  // 0 before training
        .def("apply", [](Routine& r, const F32Mat& X) {
            return to_numpy(run_long(false, [&] { return r.dr->apply(view(X)); }));
        })
        .def("histories", [](Routine& r) {
            nb::list out;
            for (const pd::PhaseHistory& h : r.dr->histories()) out.append(nb::make_tuple(h.phase, h.losses));
            return out;
        })
        .def("phase_names", [](Routine& r) {
            std::vector<std::string> v;
            for (const pd::TrainingPhase& p : r.dr->training_phases()) v.push_back(p.name);
            return v;
        })
        .def("transform_params", [](Routine& r, const std::string& key) {
            nb::list out;
            for (const pd::TransformParams& p : r.dr->transform_params(key))
                out.append(nb::make_tuple(p.alpha, p.a, p.b));
            return out;
        })
        // Pickling (nembed.paradime.ParametricDR.__getstate__): the trained network as plain values, and back.
        .def("network_state", [](Routine& r) -> nb::object {
            const nembed::Mlp& net = r.dr->network();
            if (net.n_inputs() == 0) return nb::none();
            std::vector<double> master = net.master();
            const std::size_t n = master.size();
            nb::dict d;
            d["widths"] = net.widths();
            d["hidden_activation"] = nembed::to_string(net.hidden_activation());
            d["output_activation"] = nembed::to_string(net.output_activation());
            d["chunk_rows"] = net.chunk_rows();
            d["precision"] = nembed::to_string(net.precision());
            d["master"] = to_numpy(std::move(master), {n});
            put_input_normalization(d, net);
            return d;
        })
        .def("set_network_state", [](Routine& r, nb::dict d) {
            const auto master = dict_value<std::vector<double>>(d, "master");
            std::string precision = "float32";
            get(d, "precision", precision);
            nembed::Mlp net(dict_value<std::vector<std::size_t>>(d, "widths"),
                            nembed::parse_activation(dict_value<std::string>(d, "hidden_activation")),
                            nembed::parse_activation(dict_value<std::string>(d, "output_activation")),
                            std::vector<float>(master.size()), dict_value<std::size_t>(d, "chunk_rows"),
                            nembed::parse_precision(precision));
            net.set_parameters(master);  // the float32 copy is the master's rounding, as after every step
            net.set_input_normalization(input_normalization_from(d));  // pickles without it: none
            r.dr->set_network(std::move(net));
        })
        .def("set_transform_params", [](Routine& r, const std::string& key, nb::list params) {
            std::vector<pd::TransformParams> v;
            for (nb::handle h : params) {
                auto t = nb::cast<std::tuple<double, double, double>>(h);
                v.push_back({std::get<0>(t), std::get<1>(t), std::get<2>(t)});
            }
            r.dr->set_transform_params(key, std::move(v));
        })
        .def("network_parameters", [](Routine& r) {
            std::vector<double> v = r.dr->network().master();
            const std::size_t n = v.size();
            return to_numpy(std::move(v), {n});
        });
    // The full-batch preset's values from C++ (full_batch_preset), so Python does not restate them.
    m.def("_full_batch_preset", [](const std::string& method) {
        pd::ParametricDROptions o;
        std::string init;
        int iterations = 0;
        double rate = 0.0;
        if (method == "tsne") {
            pd::ParametricTSNEOptions t;
            pd::full_batch_preset(t, o);
            init = t.initialization, iterations = t.full_batch_iterations, rate = t.full_batch_learning_rate;
        } else if (method == "umap") {
            pd::ParametricUMAPOptions u;
            pd::full_batch_preset(u, o);
            init = u.initialization, iterations = u.full_batch_iterations, rate = u.full_batch_learning_rate;
        } else {
            throw nb::value_error(("full-batch preset: unknown method '" + method + "' (tsne or umap)").c_str());
        }
        nb::dict d;
        d["iterations"] = iterations;
        d["learning_rate"] = rate;
        d["hidden_dims"] = nb::tuple(nb::cast(o.hidden_dims));
        d["hidden_activation"] = nembed::to_string(o.hidden_activation);
        d["initialization"] = init;
        return d;
    });
}
