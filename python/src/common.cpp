#include "common.hpp"

#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <Python.h>

#include <string>

namespace nembed_py {

namespace {
volatile std::sig_atomic_t g_sigint = 0;

extern "C" void on_sigint(int) {
    g_sigint = 1;
    nembed::request_interrupt();  // a lock-free atomic store: async-signal-safe
}
} // namespace

bool sigint_received() { return g_sigint != 0; }

SigintGuard::SigintGuard(bool enable) {
    g_sigint = 0;
    nembed::clear_interrupt();
    if (!enable) return;
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    active_ = sigaction(SIGINT, &sa, &old_) == 0;
}

SigintGuard::~SigintGuard() {
    if (active_) sigaction(SIGINT, &old_, nullptr);
    nembed::clear_interrupt();
}

void raise_keyboard_interrupt() {
    g_sigint = 0;
    PyErr_SetNone(PyExc_KeyboardInterrupt);
    throw nb::python_error();
}

nembed::CsrMatrix<double> to_csr(const I64Vec& indptr, const I32Vec& indices, const F64Vec& data, std::size_t n_rows,
                                 std::size_t n_cols) {
    nembed::require(indptr.shape(0) == n_rows + 1, "sparse matrix: indptr must have n_rows + 1 entries");
    nembed::require(indices.shape(0) == data.shape(0), "sparse matrix: indices and data differ in length");
    nembed::CsrMatrix<double> m;
    m.n_rows = n_rows;
    m.n_cols = n_cols;
    m.indptr.assign(indptr.data(), indptr.data() + indptr.shape(0));
    m.indices.assign(indices.data(), indices.data() + indices.shape(0));
    m.values.assign(data.data(), data.data() + data.shape(0));
    m.validate("sparse matrix");
    return m;
}

nb::tuple from_csr(const nembed::CsrMatrix<double>& m) {
    auto indptr = to_numpy(std::vector<std::int64_t>(m.indptr.begin(), m.indptr.end()), {m.indptr.size()});
    auto indices = to_numpy(std::vector<std::int32_t>(m.indices.begin(), m.indices.end()), {m.indices.size()});
    auto values = to_numpy(std::vector<double>(m.values.begin(), m.values.end()), {m.values.size()});
    return nb::make_tuple(indptr, indices, values);
}

nembed::KnnGraph to_graph(const I32Mat& indices, const nb::ndarray<const float, nb::ndim<2>, nb::c_contig>& distances,
                          std::size_t n_reference) {
    nembed::require(indices.shape(0) == distances.shape(0) && indices.shape(1) == distances.shape(1),
                    "neighbour graph: indices and distances must have the same shape");
    nembed::KnnGraph g;
    g.n_points = indices.shape(0);
    g.k = indices.shape(1);
    g.n_reference = n_reference;
    const std::size_t n = g.n_points * g.k;
    g.indices.assign(indices.data(), indices.data() + n);
    g.distances.assign(distances.data(), distances.data() + n);
    g.validate("neighbour graph");
    return g;
}

nb::tuple from_graph(nembed::KnnGraph&& g) {
    const std::size_t n = g.n_points, k = g.k;
    auto idx = to_numpy(std::move(g.indices), {n, k});
    auto dst = to_numpy(std::move(g.distances), {n, k});
    return nb::make_tuple(idx, dst);
}

nembed::TrainCallback make_train_callback(nb::handle callable) {
    StepCallback cb = make_callback(callable);
    if (!cb) return {};
    return [cb](const nembed::TrainEvent& e) { return cb(e.phase_step, e.loss, e.embedding); };
}

StepCallback make_callback(nb::handle callable) {
    if (!callable.is_valid() || callable.is_none()) return {};
    PyObject* raw = callable.ptr();
    return [raw](int iteration, double kl, nembed::MatrixView<double> Y) -> bool {
        nb::gil_scoped_acquire gil;
        nb::object result = nb::handle(raw)(iteration, kl, copy_to_numpy(Y));
        int truth = PyObject_IsTrue(result.ptr());
        if (truth < 0) throw nb::python_error();
        return truth == 1;
    };
}

nb::dict ne_result_dict(nembed::NeResult&& r, double fit_seconds) {
    nb::dict out, timings;
    timings["fit"] = fit_seconds;
    timings["affinity"] = r.timings.affinity;
    timings["init"] = r.timings.init;
    timings["optimize"] = r.timings.optimize;
    out["timings"] = timings;
    out["n_iter"] = r.n_iter;
    out["loss"] = r.loss;
    out["stop"] = nembed::to_string(r.stop);
    out["embedding"] = to_numpy(std::move(r.embedding));
    if (r.network) out["network"] = network_dict(*r.network);  // TorchDR's encoder, as parametric CNE's network_
    return out;
}

nb::dict network_dict(const nembed::Mlp& network) {
    nb::dict net;
    net["widths"] = network.widths();
    net["hidden_activation"] = nembed::to_string(network.hidden_activation());
    net["output_activation"] = nembed::to_string(network.output_activation());
    net["chunk_rows"] = network.chunk_rows();
    net["precision"] = nembed::to_string(network.precision());
    std::vector<float> p = network.parameters();
    const std::size_t np = p.size();
    net["parameters"] = to_numpy(std::move(p), {np});
    put_input_normalization(net, network);
    return net;
}

void put_input_normalization(nb::dict& d, const nembed::Mlp& net) {
    const nembed::InputNormalization& norm = net.input_normalization();
    std::vector<double> mean = norm.mean;
    const std::size_t n = mean.size();
    if (n == 0)
        d["input_mean"] = nb::none();
    else
        d["input_mean"] = to_numpy(std::move(mean), {n});
    d["input_scale"] = norm.scale;
}

nembed::InputNormalization input_normalization_from(const nb::dict& d) {
    nembed::InputNormalization norm;
    dict_get(d, "input_mean", norm.mean);
    dict_get(d, "input_scale", norm.scale);
    return norm;
}

nembed::Mlp network_from_dict(const nb::dict& d) {
    const auto params = dict_value<std::vector<float>>(d, "parameters");
    std::string precision = "float32";
    dict_get(d, "precision", precision);
    nembed::Mlp net(dict_value<std::vector<std::size_t>>(d, "widths"),
                    nembed::parse_activation(dict_value<std::string>(d, "hidden_activation")),
                    nembed::parse_activation(dict_value<std::string>(d, "output_activation")), params,
                    dict_value<std::size_t>(d, "chunk_rows"), nembed::parse_precision(precision));
    net.set_input_normalization(input_normalization_from(d));
    return net;
}

} // namespace nembed_py
