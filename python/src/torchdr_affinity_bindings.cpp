// Bindings of TorchDR's affinities (nembed/affinity/{cost,entropic,symmetric_entropic,sinkhorn,normalized,
// self_tuning,umap_affinity}.hpp) as functions of the submodule _core.torchdr; the classes with TorchDR's names
// and signatures are in python/nembed/torchdr/affinity.py.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include <cmath>
#include <optional>
#include <span>
#include <string>

#include "common.hpp"
#include "nembed/affinity/entropic.hpp"
#include "nembed/affinity/normalized.hpp"
#include "nembed/affinity/self_tuning.hpp"
#include "nembed/affinity/sinkhorn.hpp"
#include "nembed/affinity/symmetric_entropic.hpp"
#include "nembed/affinity/umap_affinity.hpp"
#include "nembed/core/strings.hpp"

namespace nb = nanobind;
using namespace nb::literals;
using namespace nembed_py;

namespace {

NpArray<double> vec(std::vector<double> v) {
    const std::size_t n = v.size();
    return to_numpy(std::move(v), {n});
}

nb::tuple csr(nembed::CsrMatrix<double>&& P, bool log) {
    if (log)
        for (double& v : P.values) v = std::log(v);
    return from_csr(P);
}

nembed::OptimizerOptions::Kind sea_optimizer(const std::string& name) {
    const std::string s = nembed::to_lower(name);
    if (s == "adam") return nembed::OptimizerOptions::Kind::adam;
    if (s == "sgd") return nembed::OptimizerOptions::Kind::sgd;
    throw nembed::InvalidArgument("optimizer: unknown or unsupported '" + name + "' (expected Adam or SGD)");
}

} // namespace

void bind_torchdr_affinity(nb::module_& parent) {
    nb::module_ m = parent.def_submodule("torchdr", "TorchDR's affinities on nembed's core.");

    m.def(
        "entropic_affinity",
        [](F32Mat X, double perplexity, int max_iter, bool sparsity, const std::string& metric, bool zero_diag,
           bool log, int n_threads, bool handle_sigint) {
            nembed::EntropicAffinityOptions o;
            o.perplexity = perplexity;
            o.max_iter = max_iter;
            o.sparsity = sparsity;
            o.metric = nembed::parse_cost_metric(metric);
            o.zero_diag = zero_diag;
            o.n_threads = n_threads;
            nembed::EntropicAffinity ea(o);
            auto P = run_long(handle_sigint, [&] { return ea(view(X)); });
            return nb::make_tuple(csr(std::move(P), log), vec(ea.eps()), ea.effective_perplexity());
        },
        "X"_a, "perplexity"_a, "max_iter"_a, "sparsity"_a, "metric"_a, "zero_diag"_a, "log"_a, "n_threads"_a,
        "handle_sigint"_a = false);

    m.def(
        "symmetric_entropic_affinity",
        [](F64Mat X, double perplexity, double lr, bool eps_square, double tol, int max_iter,
           const std::string& optimizer, const std::string& metric, bool zero_diag, bool log, int n_threads,
           bool handle_sigint) {
            nembed::SymmetricEntropicAffinityOptions o;
            o.perplexity = perplexity;
            o.lr = lr;
            o.eps_square = eps_square;
            o.tol = tol;
            o.max_iter = max_iter;
            o.optimizer = sea_optimizer(optimizer);
            o.metric = nembed::parse_cost_metric(metric);
            o.zero_diag = zero_diag;
            o.n_threads = n_threads;
            nembed::SymmetricEntropicAffinity sea(o);
            auto P = run_long(handle_sigint, [&] { return sea(view(X), log); });
            return nb::make_tuple(to_numpy(std::move(P)), vec(sea.eps()), vec(sea.mu()), sea.n_iter());
        },
        "X"_a, "perplexity"_a, "lr"_a, "eps_square"_a, "tol"_a, "max_iter"_a, "optimizer"_a, "metric"_a,
        "zero_diag"_a, "log"_a, "n_threads"_a, "handle_sigint"_a = false);

    m.def(
        "sinkhorn_affinity",
        [](F64Mat X, double eps, double tol, int max_iter, const std::string& base_kernel, const std::string& metric,
           bool zero_diag, std::optional<F64Vec> init_dual, bool log, int n_threads, bool handle_sigint) {
            nembed::SinkhornAffinityOptions o;
            o.eps = eps;
            o.tol = tol;
            o.max_iter = max_iter;
            o.base_kernel = nembed::parse_sinkhorn_base_kernel(base_kernel);
            o.metric = nembed::parse_cost_metric(metric);
            o.zero_diag = zero_diag;
            o.n_threads = n_threads;
            nembed::SinkhornAffinity sk(o);
            std::span<const double> f;
            if (init_dual) f = std::span<const double>(init_dual->data(), init_dual->shape(0));
            auto P = run_long(handle_sigint, [&] { return log ? sk.log_affinity(view(X), f) : sk(view(X), f); });
            return nb::make_tuple(to_numpy(std::move(P)), vec(sk.dual()), sk.n_iter());
        },
        "X"_a, "eps"_a, "tol"_a, "max_iter"_a, "base_kernel"_a, "metric"_a, "zero_diag"_a, "init_dual"_a.none(),
        "log"_a, "n_threads"_a, "handle_sigint"_a = false);

    m.def(
        "normalized_affinity",
        [](F64Mat X, const std::string& kernel, double parameter, const std::string& normalization_dim,
           const std::string& metric, bool zero_diag, bool log, int n_threads) {
            const auto dim = nembed::parse_normalization_dim(normalization_dim);
            const auto cm = nembed::parse_cost_metric(metric);
            if (kernel == "gaussian") {
                nembed::NormalizedGaussianAffinityOptions o{parameter, dim, cm, zero_diag, n_threads};
                return to_numpy(run_long(false, [&] { return nembed::normalized_gaussian_affinity(view(X), o, log); }));
            }
            if (kernel == "student") {
                nembed::NormalizedStudentAffinityOptions o{parameter, dim, cm, zero_diag, n_threads};
                return to_numpy(run_long(false, [&] { return nembed::normalized_student_affinity(view(X), o, log); }));
            }
            throw nembed::InvalidArgument("kernel must be gaussian or student");
        },
        "X"_a, "kernel"_a, "parameter"_a, "normalization_dim"_a, "metric"_a, "zero_diag"_a, "log"_a, "n_threads"_a);

    m.def(
        "self_tuning_affinity",
        [](F64Mat X, int K, const std::string& normalization_dim, const std::string& metric, bool zero_diag, bool log,
           int n_threads) {
            nembed::SelfTuningAffinityOptions o{K, nembed::parse_normalization_dim(normalization_dim),
                                                nembed::parse_cost_metric(metric), zero_diag, n_threads};
            return to_numpy(run_long(false, [&] { return nembed::self_tuning_affinity(view(X), o, log); }));
        },
        "X"_a, "K"_a, "normalization_dim"_a, "metric"_a, "zero_diag"_a, "log"_a, "n_threads"_a);

    m.def(
        "magic_affinity",
        [](F64Mat X, int K, const std::string& metric, bool zero_diag, int n_threads) {
            nembed::MAGICAffinityOptions o{K, nembed::parse_cost_metric(metric), zero_diag, n_threads};
            return to_numpy(run_long(false, [&] { return nembed::magic_affinity(view(X), o); }));
        },
        "X"_a, "K"_a, "metric"_a, "zero_diag"_a, "n_threads"_a);

    m.def(
        "umap_affinity",
        [](F32Mat X, int n_neighbors, int max_iter, bool sparsity, const std::string& metric, bool zero_diag,
           bool symmetrize, int n_threads, bool handle_sigint) {
            nembed::UMAPAffinityOptions o;
            o.n_neighbors = n_neighbors;
            o.max_iter = max_iter;
            o.sparsity = sparsity;
            o.metric = nembed::parse_cost_metric(metric);
            o.zero_diag = zero_diag;
            o.symmetrize = symmetrize;
            o.n_threads = n_threads;
            nembed::UMAPAffinity ua(o);
            auto P = run_long(handle_sigint, [&] { return ua(view(X)); });
            return nb::make_tuple(csr(std::move(P), false), vec(ua.rho()), vec(ua.eps()));
        },
        "X"_a, "n_neighbors"_a, "max_iter"_a, "sparsity"_a, "metric"_a, "zero_diag"_a, "symmetrize"_a, "n_threads"_a,
        "handle_sigint"_a = false);
}
