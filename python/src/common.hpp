#pragma once
// Shared helpers of the nembed._core bindings: numpy <-> Matrix/CSR conversion, GIL release with SIGINT handling,
// Python callbacks. The bindings are a thin layer: every algorithm lives in the C++ library.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <csignal>
#include <functional>
#include <limits>
#include <string>
#include <type_traits>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "nembed/core/error.hpp"
#include "nembed/core/interrupt.hpp"
#include "nembed/core/matrix.hpp"
#include "nembed/core/sparse.hpp"
#include "nembed/neighbors/knn.hpp"
#include "nembed/methods/neighbor_embedding.hpp"  // NeResult
#include "nembed/methods/tsne.hpp"  // OptimizationInterrupt
#include "nembed/parametric/mlp.hpp"

namespace nembed_py {

namespace nb = nanobind;

// Inputs: the Python layer converts dtype and order (np.ascontiguousarray), so these never copy.
using F32Mat = nb::ndarray<const float, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
using F64Mat = nb::ndarray<const double, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
using I64Mat = nb::ndarray<const std::int64_t, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
using I32Mat = nb::ndarray<const std::int32_t, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
using F64Vec = nb::ndarray<const double, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
using I64Vec = nb::ndarray<const std::int64_t, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
using I32Vec = nb::ndarray<const std::int32_t, nb::ndim<1>, nb::c_contig, nb::device::cpu>;

template <typename T>
using NpArray = nb::ndarray<nb::numpy, T>;

/// What a value of type T must be, for the error messages of dict_value / dict_get.
template <typename T>
std::string expected_value() {
    if constexpr (std::is_same_v<T, bool>) {
        return "true or false";
    } else if constexpr (std::is_integral_v<T>) {
        return "an integer from " + std::to_string(std::numeric_limits<T>::min()) + " to " +
               std::to_string(std::numeric_limits<T>::max());
    } else if constexpr (std::is_floating_point_v<T>) {
        return "a number";
    } else if constexpr (std::is_same_v<T, std::string>) {
        return "a string";
    } else if constexpr (requires { typename T::value_type; }) {
        return "a list whose items are each " + expected_value<typename T::value_type>();
    } else {
        return "a value of another type";
    }
}

/// d[key] as a T. nanobind's failed cast is a bare std::bad_cast (Python: "RuntimeError: std::bad_cast"); a value of
/// the wrong type or out of T's range is an InvalidArgument (ValueError) naming the key and the value instead.
template <typename T>
T dict_value(const nb::dict& d, const char* key) {
    if (!d.contains(key)) throw nembed::InvalidArgument(std::string(key) + " is missing");
    nb::object v = d[key];
    try {
        return nb::cast<T>(v);
    } catch (const std::bad_cast&) {
        throw nembed::InvalidArgument(std::string(key) + " must be " + expected_value<T>() + ", got " +
                                      nb::cast<std::string>(nb::repr(v)));
    }
}

/// d[key] into `out` when present and not None (else `out` keeps its default), with dict_value's errors.
template <typename T>
void dict_get(const nb::dict& d, const char* key, T& out) {
    if (d.contains(key) && !d[key].is_none()) out = dict_value<T>(d, key);
}

inline nembed::MatrixView<float> view(const F32Mat& a) { return {a.data(), a.shape(0), a.shape(1)}; }
inline nembed::MatrixView<double> view(const F64Mat& a) { return {a.data(), a.shape(0), a.shape(1)}; }
inline nembed::Matrix<double> to_matrix(const F64Mat& a) {
    const double* p = a.data();
    return nembed::Matrix<double>(a.shape(0), a.shape(1), std::vector<double>(p, p + a.shape(0) * a.shape(1)));
}

/// Hands a vector to numpy without copying (the array owns it through a capsule).
template <typename T>
NpArray<T> to_numpy(std::vector<T>&& v, std::initializer_list<std::size_t> shape) {
    auto* heap = new std::vector<T>(std::move(v));
    nb::capsule owner(heap, [](void* p) noexcept { delete static_cast<std::vector<T>*>(p); });
    return NpArray<T>(heap->data(), shape, owner);
}
template <typename T>
NpArray<T> to_numpy(nembed::Matrix<T>&& m) {
    const std::size_t r = m.rows(), c = m.cols();
    return to_numpy(std::move(m.storage()), {r, c});
}
template <typename T>
NpArray<T> copy_to_numpy(nembed::MatrixView<T> m) {
    return to_numpy(std::vector<T>(m.data, m.data + m.size()), {m.rows, m.cols});
}

/// CSR from scipy's (indptr, indices, data) with the given shape; validated.
nembed::CsrMatrix<double> to_csr(const I64Vec& indptr, const I32Vec& indices, const F64Vec& data, std::size_t n_rows,
                                 std::size_t n_cols);
/// (indptr, indices, data) copies for scipy.sparse.csr_matrix.
nb::tuple from_csr(const nembed::CsrMatrix<double>& m);

/// A kNN graph from N x k int32 indices and float32 distances.
nembed::KnnGraph to_graph(const I32Mat& indices, const nb::ndarray<const float, nb::ndim<2>, nb::c_contig>& distances,
                          std::size_t n_reference);
/// (indices int32 N x k, distances float32 N x k).
nb::tuple from_graph(nembed::KnnGraph&& g);

/// True when a SIGINT arrived during the current long call.
bool sigint_received();

/// Installs a C-level SIGINT handler for the duration of a long call (main thread only): Ctrl-C sets
/// nembed::request_interrupt(), which the C++ loops poll. The previous handler is restored on destruction.
class SigintGuard {
public:
    explicit SigintGuard(bool enable);
    ~SigintGuard();
    SigintGuard(const SigintGuard&) = delete;
    SigintGuard& operator=(const SigintGuard&) = delete;

private:
    bool active_ = false;
    struct sigaction old_ {};
};

/// Raises KeyboardInterrupt (as a C++ exception nanobind passes through).
[[noreturn]] void raise_keyboard_interrupt();

/// Runs f() without the GIL, with Ctrl-C turned into KeyboardInterrupt (when handle_sigint is set).
template <typename F>
auto run_long(bool handle_sigint, F&& f) -> decltype(f()) {
    SigintGuard guard(handle_sigint);
    try {
        if constexpr (std::is_void_v<decltype(f())>) {
            {
                nb::gil_scoped_release release;
                f();
            }
            if (sigint_received()) raise_keyboard_interrupt();
        } else {
            auto result = [&] {
                nb::gil_scoped_release release;
                return f();
            }();
            if (sigint_received()) raise_keyboard_interrupt();
            return result;
        }
    } catch (const nembed::OptimizationInterrupt&) {
        throw;
    } catch (const nembed::Interrupted&) {
        if (sigint_received()) raise_keyboard_interrupt();
        throw;
    }
}

/// The Python callback form (iteration, loss, embedding) -> stop?, as openTSNE calls its callbacks.
using StepCallback = std::function<bool(int iteration, double loss, nembed::MatrixView<double> Y)>;
/// Wraps a Python callable (iteration, kl, embedding) -> truthy-to-stop as a StepCallback. The callable is
/// borrowed: the caller keeps it alive for the duration of the run (copies of the std::function never touch
/// reference counts, so they may be made and destroyed without the GIL).
StepCallback make_callback(nb::handle callable);
/// The same as a TrainCallback: (the step within its phase, the loss, the embedding); empty when callable is None.
nembed::TrainCallback make_train_callback(nb::handle callable);

/// The result of a TorchDR-family fit for Python: embedding, n_iter, loss, stop and timings (fit: the call's wall
/// seconds; affinity, init, optimize: the driver's parts).
nb::dict ne_result_dict(nembed::NeResult&& r, double fit_seconds);

/// A trained network as Python sees it (parametric CNE's and TorchDR's encoder's `network_`): widths, activations,
/// chunk_rows, precision, the flat float32 parameters and the input map (input_mean: None or an array; input_scale).
nb::dict network_dict(const nembed::Mlp& net);
/// network_dict's network back (dicts without precision or the input map: float32, no map).
nembed::Mlp network_from_dict(const nb::dict& d);
/// The input map's entries of network_dict (also in paraDime's pickled network state), and back from such a dict.
void put_input_normalization(nb::dict& d, const nembed::Mlp& net);
nembed::InputNormalization input_normalization_from(const nb::dict& d);

} // namespace nembed_py
