// nembed._core sensitivity bindings: TsneSensitivity and InputCovariance (thin; the maths is in the C++ library).
#include <cstdint>
#include <nanobind/eigen/dense.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <string>

#include "common.hpp"
#include "nembed/sensitivity/sensitivity.hpp"

namespace nb = nanobind;
using namespace nb::literals;
using namespace nembed_py;

namespace {

nembed::Matrix<double> matrix_of(const F64Mat& a) { return to_matrix(a); }
std::vector<double> vector_of(const F64Vec& v) { return std::vector<double>(v.data(), v.data() + v.shape(0)); }

nembed::SensitivityOptions make_options(bool seed_compatible, double perplexity, const std::string& affinity,
                                        std::size_t n_neighbors, const std::string& bandwidth, double damping,
                                        bool project_gauge, const std::string& solver, double rcond, double tolerance,
                                        int max_iter, bool refine, int refine_max_iter, double refine_tolerance,
                                        double stationarity_tolerance, int n_threads, double max_output_gib,
                                        std::size_t lanczos_eigenvalues, bool damp_to_definite) {
    nembed::SensitivityOptions o = seed_compatible ? nembed::seed_compatible_options(perplexity)
                                                   : nembed::SensitivityOptions{};
    o.derivatives.perplexity = perplexity;
    o.derivatives.n_threads = n_threads;
    if (!seed_compatible) {
        nembed::require(affinity == "dense" || affinity == "knn", "affinity must be 'dense' or 'knn', got '" + affinity + "'");
        nembed::require(bandwidth == "fixed" || bandwidth == "differentiated",
                        "bandwidth must be 'fixed' or 'differentiated', got '" + bandwidth + "'");
        o.derivatives.affinity = affinity == "knn" ? nembed::SensitivityAffinity::knn : nembed::SensitivityAffinity::dense;
        o.derivatives.n_neighbors = n_neighbors;
        o.derivatives.bandwidth =
            bandwidth == "differentiated" ? nembed::BandwidthMode::differentiated : nembed::BandwidthMode::fixed;
        o.solve.damping = damping;
        o.solve.project_gauge = project_gauge;
        o.solve.solver = nembed::parse_solver_kind(solver);
        o.solve.damp_to_definite = damp_to_definite;
        o.solve.rcond = rcond;
    }
    o.solve.tolerance = tolerance;
    o.solve.max_iter = max_iter;
    o.refine = refine;
    o.refine_max_iter = refine_max_iter;
    o.refine_tolerance = refine_tolerance;
    o.stationarity_tolerance = stationarity_tolerance;
    o.lanczos_eigenvalues = lanczos_eigenvalues;
    nembed::require(max_output_gib > 0.0, "max_output_gib must be > 0");
    o.max_output_bytes = static_cast<std::size_t>(max_output_gib * 1024.0 * 1024.0 * 1024.0);
    return o;
}

// The objective's kernel and the affinities that produced Y* (empty arrays: recompute from X).
void set_objective_and_affinities(nembed::SensitivityOptions& o, std::size_t n, const std::string& kernel, double dof,
                                  const I64Vec& P_indptr, const I64Vec& P_indices, const F64Vec& P_data,
                                  const I64Mat& neighbors, const F64Vec& beta) {
    nembed::require(kernel == "student-t" || kernel == "gaussian",
                    "kernel must be 'student-t' or 'gaussian', got '" + kernel + "'");
    if (kernel == "gaussian") o.derivatives.kernel = nembed::GaussianKernel{1.0};
    else o.derivatives.kernel = nembed::StudentTKernel{dof};
    if (P_indptr.shape(0) > 0) {
        nembed::require(P_indptr.shape(0) == n + 1 && P_indices.shape(0) == P_data.shape(0),
                        "affinities: expected an N x N CSR matrix");
        nembed::CsrMatrix<double> P;
        P.n_rows = P.n_cols = n;
        P.indptr.assign(P_indptr.data(), P_indptr.data() + P_indptr.shape(0));
        P.indices.resize(P_indices.shape(0));
        for (std::size_t q = 0; q < P.indices.size(); ++q) {
            const std::int64_t v = P_indices.data()[q];
            nembed::require(v >= 0 && static_cast<std::size_t>(v) < n, "affinities: column index out of range");
            P.indices[q] = static_cast<nembed::index_t>(v);
        }
        P.values.assign(P_data.data(), P_data.data() + P_data.shape(0));
        o.derivatives.joint = std::move(P);
    }
    if (neighbors.shape(0) > 0) {
        nembed::require(neighbors.shape(0) == n, "neighbors: expected N rows");
        o.derivatives.neighbors_k = neighbors.shape(1);
        o.derivatives.neighbors.resize(neighbors.shape(0) * neighbors.shape(1));
        for (std::size_t q = 0; q < o.derivatives.neighbors.size(); ++q) {
            const std::int64_t v = neighbors.data()[q];
            nembed::require(v >= 0 && static_cast<std::size_t>(v) < n, "neighbors: index out of range [0, N)");
            o.derivatives.neighbors[q] = static_cast<std::size_t>(v);
        }
        o.derivatives.affinity = nembed::SensitivityAffinity::knn;
    }
    if (beta.shape(0) > 0) o.derivatives.beta = vector_of(beta);
}

} // namespace

void bind_sensitivity(nb::module_& m) {
    using nembed::InputCovariance;
    nb::class_<InputCovariance>(m, "InputCovariance", "Cov(X) over point-major X_flat (index i*D + f).")
        .def_static("scalar", &InputCovariance::scalar, "variance"_a)
        .def_static("diagonal", [](F64Vec v) { return InputCovariance::diagonal(vector_of(v)); }, "variances"_a)
        .def_static("kronecker", [](F64Mat U, F64Mat V) { return InputCovariance::kronecker(matrix_of(U), matrix_of(V)); },
                    "sample_cov"_a, "feature_cov"_a)
        .def_static("dense", [](F64Mat C) { return InputCovariance::dense(matrix_of(C)); }, "covariance"_a)
        .def_static("low_rank_plus_diagonal",
                    [](F64Mat L, F64Vec d) { return InputCovariance::low_rank_plus_diagonal(matrix_of(L), vector_of(d)); },
                    "factor"_a, "diagonal"_a)
        .def("to_dense", &InputCovariance::to_dense, "n"_a, "d"_a);

    using nembed::TsneSensitivity;
    nb::class_<TsneSensitivity>(m, "TsneSensitivity", "S = dY*/dX of a t-SNE embedding and its uncertainty.")
        .def(
            "__init__",
            [](TsneSensitivity* self, F64Mat X, F64Mat Y, bool seed_compatible, double perplexity,
               const std::string& affinity, std::size_t n_neighbors, const std::string& bandwidth, double damping,
               bool project_gauge, const std::string& solver, double rcond, double tolerance, int max_iter,
               bool refine, int refine_max_iter, double refine_tolerance, double stationarity_tolerance, int n_threads,
               double max_output_gib, std::size_t lanczos_eigenvalues, bool damp_to_definite,
               const std::string& kernel, double dof, I64Vec P_indptr, I64Vec P_indices, F64Vec P_data,
               I64Mat neighbors, F64Vec beta, std::size_t covariance_samples, std::uint64_t covariance_seed,
               double grid_width, std::size_t grid_points, double solver_tolerance) {
                auto o = make_options(seed_compatible, perplexity, affinity, n_neighbors, bandwidth, damping,
                                      project_gauge, solver, rcond, tolerance, max_iter, refine, refine_max_iter,
                                      refine_tolerance, stationarity_tolerance, n_threads, max_output_gib,
                                      lanczos_eigenvalues, damp_to_definite);
                set_objective_and_affinities(o, X.shape(0), kernel, dof, P_indptr, P_indices, P_data, neighbors, beta);
                o.covariance_samples = covariance_samples;
                o.covariance_seed = covariance_seed;
                o.solve.matrix_free.ints_in_interval = grid_width;
                o.solve.matrix_free.n_interpolation_points = grid_points;
                o.solve.matrix_free_tolerance = solver_tolerance;
                nb::gil_scoped_release release;
                new (self) TsneSensitivity(view(X), view(Y), o);
            },
            "X"_a, "Y"_a, "seed_compatible"_a = false, "perplexity"_a = 30.0, "affinity"_a = "dense",
            "n_neighbors"_a = 0, "bandwidth"_a = "fixed", "damping"_a = 0.0, "project_gauge"_a = true,
            "solver"_a = "auto", "rcond"_a = 0.0, "tolerance"_a = 1e-10, "max_iter"_a = 0, "refine"_a = false,
            "refine_max_iter"_a = 200, "refine_tolerance"_a = 1e-10, "stationarity_tolerance"_a = 1e-6,
            "n_threads"_a = 1, "max_output_gib"_a = 4.0, "lanczos_eigenvalues"_a = 0,
            "damp_to_definite"_a = false, "kernel"_a = "student-t", "dof"_a = 1.0, "P_indptr"_a, "P_indices"_a,
            "P_data"_a, "neighbors"_a, "beta"_a, "covariance_samples"_a = 256, "covariance_seed"_a = 0,
            "grid_width"_a = 0.5, "grid_points"_a = 3, "solver_tolerance"_a = 1e-6)
        .def("embedding", [](const TsneSensitivity& s) { return copy_to_numpy(s.embedding().view()); })
        .def_prop_ro("beta", [](const TsneSensitivity& s) { return s.derivatives().beta(); })
        .def_prop_ro("diagnostics",
                     [](const TsneSensitivity& s) {
                         const auto& d = s.diagnostics();
                         nb::dict out;
                         out["gradient_max"] = d.gradient_max;
                         out["gradient_norm"] = d.gradient_norm;
                         out["refine_iterations"] = d.refine_iterations;
                         out["kl"] = d.kl;
                         out["dense_spectrum"] = d.dense_spectrum;
                         out["smallest_eigenvalues"] = d.smallest_eigenvalues;
                         out["n_negative"] = d.n_negative;
                         out["rotation_residual"] = d.rotation_residual;
                         out["solver"] = s.solver().kind_name();
                         out["damping"] = s.solver().options().damping;
                         out["positive_definite"] = s.solver().has_inverse() ? s.solver().definite() : d.n_negative == 0;
                         return out;
                     })
        .def("gradient", [](const TsneSensitivity& s) { return Eigen::VectorXd(s.derivatives().gradient()); })
        .def("hessian_product", [](const TsneSensitivity& s, const Eigen::MatrixXd& V) {
            return s.derivatives().hessian_product(V); }, "V"_a, nb::call_guard<nb::gil_scoped_release>())
        .def("jacobian_product", [](const TsneSensitivity& s, const Eigen::MatrixXd& U) {
            return s.derivatives().jacobian_product(U); }, "U"_a, nb::call_guard<nb::gil_scoped_release>())
        .def("jacobian_transpose_product", [](const TsneSensitivity& s, const Eigen::MatrixXd& V) {
            return s.derivatives().jacobian_transpose_product(V); }, "V"_a, nb::call_guard<nb::gil_scoped_release>())
        .def("apply", &TsneSensitivity::apply, "U"_a, nb::call_guard<nb::gil_scoped_release>())
        .def("apply_transpose", &TsneSensitivity::apply_transpose, "V"_a, nb::call_guard<nb::gil_scoped_release>())
        .def("jacobian", [](const TsneSensitivity& s) {
            nembed::Matrix<double> S;
            { nb::gil_scoped_release r; S = s.jacobian(); }
            return to_numpy(std::move(S)); })
        .def("covariance", [](const TsneSensitivity& s, const InputCovariance& c) {
            nembed::Matrix<double> C;
            { nb::gil_scoped_release r; C = s.covariance(c); }
            return to_numpy(std::move(C)); }, "cov"_a)
        .def("point_covariances", [](const TsneSensitivity& s, const InputCovariance& c) {
            nembed::Matrix<double> C;
            { nb::gil_scoped_release r; C = s.point_covariances(c); }
            return to_numpy(std::move(C)); }, "cov"_a)
        .def("hypothetical_outcomes", [](const TsneSensitivity& s, const InputCovariance& c, std::size_t n_frames,
                                         std::uint64_t seed) {
            nembed::HypotheticalOutcomes h;
            { nb::gil_scoped_release r; h = s.hypothetical_outcomes(c, n_frames, seed); }
            const std::size_t n = s.n_points();
            std::vector<double> frames;
            frames.reserve(n_frames * 2 * n);
            for (const auto& f : h.frames) frames.insert(frames.end(), f.storage().begin(), f.storage().end());
            return nb::make_tuple(to_numpy(std::move(frames), {n_frames, n, 2}), to_numpy(std::move(h.a)),
                                  to_numpy(std::move(h.b)));
        }, "cov"_a, "n_frames"_a, "seed"_a)
        .def("importance", [](const TsneSensitivity& s) {
            nembed::SensitivityImportance imp;
            { nb::gil_scoped_release r; imp = s.importance(); }
            const std::size_t n = imp.per_point.size(), d = imp.per_feature.size();
            return nb::make_tuple(to_numpy(std::move(imp.per_point), {n}), to_numpy(std::move(imp.per_feature), {d}),
                                  to_numpy(std::move(imp.summed_abs)));
        })
        .def("variance_spectrum", [](const TsneSensitivity& s, const InputCovariance& c, std::size_t n_soft,
                                     const std::vector<double>& lambdas) {
            nembed::VarianceSpectrum v;
            { nb::gil_scoped_release r; v = s.variance_spectrum(c, n_soft, lambdas); }
            nb::dict out;
            out["mode_variance"] = v.mode_variance;
            out["soft_share"] = v.soft_share;
            out["lambdas"] = v.lambdas;
            out["trace_cov"] = v.trace_cov;
            return out;
        }, "cov"_a, "n_soft"_a = 3, "lambdas"_a = std::vector<double>{});
}
