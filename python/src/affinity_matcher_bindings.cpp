// _core.affinity_matcher_fit: TorchDR's generic AffinityMatcher (nembed/methods/affinity_matcher.hpp) for
// python/nembed/torchdr/affinity_matcher.py, which checks TorchDR's parameters, computes P with the affinity_in
// object and passes plain values here (the output affinity by TorchDR's class name with its parameters).
#include <nanobind/stl/string.h>

#include <cmath>
#include <optional>
#include <string>

#include "common.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/timer.hpp"
#include "nembed/methods/affinity_matcher.hpp"

namespace nb = nanobind;
using namespace nb::literals;
using namespace nembed_py;

namespace {

using nembed::InvalidArgument;

// A number from d[key] (InvalidArgument naming `name` when absent or not a number).
double num(const nb::dict& d, const char* key, const std::string& name) {
    if (!d.contains(key)) throw InvalidArgument(name + "['" + key + "'] is missing");
    nb::handle v = d[key];
    if (nb::isinstance<bool>(v) || !(nb::isinstance<nb::int_>(v) || nb::isinstance<nb::float_>(v)))
        throw InvalidArgument(name + "['" + key + "'] must be a number");
    return nb::cast<double>(v);
}
bool flag(const nb::dict& d, const char* key, const std::string& name) {
    if (!d.contains(key) || !nb::isinstance<bool>(d[key])) throw InvalidArgument(name + "['" + key + "'] must be a bool");
    return nb::cast<bool>(d[key]);
}
std::string word(const nb::dict& d, const char* key, const std::string& name) {
    if (!d.contains(key) || !nb::isinstance<nb::str>(d[key])) throw InvalidArgument(name + "['" + key + "'] must be a string");
    return nb::cast<std::string>(d[key]);
}

} // namespace

void bind_affinity_matcher(nb::module_& m) {
    m.def(
        "affinity_matcher_fit",
        [](I64Vec indptr, I32Vec indices, F64Vec data, std::size_t n, F32Mat X, const std::string& affinity_out,
           nb::dict out_params, const std::string& loss_fn, nb::dict params, F64Mat init, bool handle_sigint) {
            nembed::torchdr::AffinityMatcherOptions o;
            o.affinity_out = nembed::parse_matcher_affinity_out(affinity_out);
            o.loss_fn = nembed::parse_matcher_loss_fn(loss_fn);
            const std::string ao = "affinity_out";
            const nembed::CostMetric metric = nembed::parse_cost_metric(word(out_params, "metric", ao));
            const bool zero_diag = flag(out_params, "zero_diag", ao);
            switch (*o.affinity_out) {
            case nembed::MatcherAffinityOut::normalized_gaussian:
                o.gaussian.sigma = num(out_params, "sigma", ao);
                o.gaussian.normalization_dim =
                    nembed::parse_normalization_dim(word(out_params, "normalization_dim", ao));
                o.gaussian.metric = metric;
                o.gaussian.zero_diag = zero_diag;
                break;
            case nembed::MatcherAffinityOut::normalized_student:
                o.student.degrees_of_freedom = num(out_params, "degrees_of_freedom", ao);
                o.student.normalization_dim =
                    nembed::parse_normalization_dim(word(out_params, "normalization_dim", ao));
                o.student.metric = metric;
                o.student.zero_diag = zero_diag;
                break;
            case nembed::MatcherAffinityOut::sinkhorn:
                o.sinkhorn.eps = num(out_params, "eps", ao);
                o.sinkhorn.tol = num(out_params, "tol", ao);
                o.sinkhorn.max_iter = static_cast<int>(num(out_params, "max_iter", ao));
                o.sinkhorn.base_kernel = nembed::parse_sinkhorn_base_kernel(word(out_params, "base_kernel", ao));
                o.sinkhorn.metric = metric;
                o.sinkhorn.zero_diag = zero_diag;
                break;
            }
            const std::string pn = "params";
            o.n_components = static_cast<std::size_t>(num(params, "n_components", pn));
            o.optimizer = word(params, "optimizer", pn);
            o.lr = num(params, "lr", pn);
            o.optimizer_kwargs->momentum = num(params, "momentum", pn);
            o.optimizer_kwargs->weight_decay = num(params, "weight_decay", pn);
            o.optimizer_kwargs->beta1 = num(params, "beta1", pn);
            o.optimizer_kwargs->beta2 = num(params, "beta2", pn);
            o.optimizer_kwargs->eps = num(params, "adam_eps", pn);
            o.scheduler = word(params, "scheduler", pn);
            o.scheduler_kwargs->start_factor = num(params, "start_factor", pn);
            o.scheduler_kwargs->end_factor = num(params, "end_factor", pn);
            o.scheduler_kwargs->total_iters = static_cast<int>(num(params, "total_iters", pn));
            if (params.contains("T_max")) o.scheduler_kwargs->T_max = static_cast<int>(num(params, "T_max", pn));
            o.scheduler_kwargs->eta_min = num(params, "eta_min", pn);
            if (params.contains("gamma")) o.scheduler_kwargs->gamma = num(params, "gamma", pn);
            o.min_grad_norm = num(params, "min_grad_norm", pn);
            o.max_iter = static_cast<int>(num(params, "max_iter", pn));
            o.check_interval = static_cast<int>(num(params, "check_interval", pn));
            o.init_scaling = num(params, "init_scaling", pn);
            const std::string init_name = word(params, "init", pn);
            if (init_name == "array") {
                if (init.shape(0) == 0) throw InvalidArgument("init: 'array' without an array");
                o.init = nembed::NeInit::array;
                o.init_array = to_matrix(init);
            } else {
                o.init = nembed::parse_ne_init(init_name);
            }
            o.random_state = nb::cast<std::uint64_t>(params["seed"]);
            o.n_threads = static_cast<int>(num(params, "n_jobs", pn));
            o.verbose = flag(params, "verbose", pn);
            const nembed::CsrMatrix<double> P = to_csr(indptr, indices, data, n, n);
            nembed::Timer t;
            nembed::NeResult r = run_long(handle_sigint, [&] {
                return nembed::torchdr::AffinityMatcher(o).fit_transform_affinity(P, view(X));
            });
            return ne_result_dict(std::move(r), t.seconds());
        },
        "indptr"_a, "indices"_a, "data"_a, "n"_a, "X"_a, "affinity_out"_a, "affinity_out_params"_a, "loss_fn"_a,
        "params"_a, "init"_a, "handle_sigint"_a = false,
        "TorchDR's AffinityMatcher on P (CSR parts, n x n): affinity_out by TorchDR's class name with its parameters "
        "(a dict), loss_fn 'square_loss' or 'cross_entropy_loss', params: the optimisation's (see "
        "nembed/torchdr/affinity_matcher.py). X: float32 n x D for init='pca' (else 0 x 0). Returns dict(embedding, "
        "n_iter, loss, stop, timings).");
}
