// nembed sensitivity: S = dY*/dX and the propagated uncertainty of an embedding Y* of X (issue #6).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "common.hpp"
#include "outputs.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/timer.hpp"
#include "nembed/io/file.hpp"
#include "nembed/io/load.hpp"
#include "nembed/plot/uncertainty.hpp"
#include "nembed/sensitivity/sensitivity.hpp"

namespace nembed::cli {
namespace {

struct SensArgs {
    std::string embedding, what = "points", affinity = "dense", bandwidth = "fixed", solver = "auto";
    double perplexity = 30.0, lambda = 0.0, variance = 1.0;
    std::size_t n_neighbors = 0, lanczos = 0, samples = 256, grid_points = 3;
    std::uint64_t seed = 0;
    double grid_width = 0.5, mf_tolerance = 1e-6, near_radius = 0.0, far_width = 0.0;
    bool seed_compatible = false, no_gauge = false, refine = false, damp_to_definite = false;
    std::string variances, sample_cov, feature_cov;
    std::string plot_ellipses, plot_arrows, plot_heatmap, diagnostics;
    double ellipse_scale = 0.0;
    // the objective's kernel and the affinities that produced Y*
    std::string kernel = "student-t", affinities, knn, beta;
    double dof = 1.0;
    // Options given on the command line that a setting would otherwise ignore (checked in the callback).
    std::vector<std::string> given_solve_options;  // ignored by --seed-compatible
    bool variance_given = false, dof_given = false;
};

// The joint P written by `nembed affinity -o PREFIX` (PREFIX_indptr.npy, PREFIX_indices.npy, PREFIX_data.npy), or
// a scipy.sparse.save_npz file.
CsrMatrix<double> load_joint(const std::string& spec, std::size_t n) {
    if (file_extension(spec) == ".npz") return load_sparse(spec);
    std::string stem = spec;
    if (file_extension(stem) == ".npy") stem.resize(stem.size() - 4);
    for (const char* suffix : {"_data", "_indices", "_indptr"})
        if (stem.size() > std::string(suffix).size() && stem.ends_with(suffix)) stem.resize(stem.size() - std::string(suffix).size());
    const Matrix<double> indptr = load_matrix<double>(stem + "_indptr.npy");
    const Matrix<double> indices = load_matrix<double>(stem + "_indices.npy");
    const Matrix<double> data = load_matrix<double>(stem + "_data.npy");
    require(indptr.size() == n + 1, "--affinities: " + stem + "_indptr.npy has " + std::to_string(indptr.size()) +
                                        " entries, expected N + 1 = " + std::to_string(n + 1));
    require(indices.size() == data.size(), "--affinities: the indices and data arrays differ in length");
    CsrMatrix<double> P;
    P.n_rows = P.n_cols = n;
    P.indptr.resize(n + 1);
    for (std::size_t i = 0; i <= n; ++i) P.indptr[i] = static_cast<offset_t>(indptr.data()[i]);
    P.indices.resize(indices.size());
    for (std::size_t q = 0; q < indices.size(); ++q) {
        const double v = indices.data()[q];
        require(v >= 0.0 && v < static_cast<double>(n), "--affinities: column index out of range in " + stem + "_indices.npy");
        P.indices[q] = static_cast<index_t>(v);
    }
    P.values = data.storage();
    return P;
}

// The neighbour sets written by `nembed knn -o PREFIX` (PREFIX_indices.npy, N x k), or any N x k index array.
std::vector<std::size_t> load_neighbor_sets(const std::string& spec, std::size_t n, std::size_t& k) {
    std::string path = spec;
    if (file_extension(path) != ".npy" && file_extension(path) != ".npz" && file_extension(path) != ".csv")
        path += "_indices.npy";
    const Matrix<double> idx = load_matrix<double>(path);
    require(idx.rows() == n, "--knn: " + path + " has " + std::to_string(idx.rows()) + " rows, expected N = " +
                                 std::to_string(n));
    k = idx.cols();
    std::vector<std::size_t> out(idx.size());
    for (std::size_t q = 0; q < idx.size(); ++q) {
        const double v = idx.data()[q];
        require(v >= 0.0 && v < static_cast<double>(n) && v == std::floor(v),
                "--knn: " + path + " holds an entry that is not a point index in [0, N)");
        out[q] = static_cast<std::size_t>(v);
    }
    return out;
}

Matrix<double> load_x(const std::vector<std::string>& specs) {
    Matrix<double> X;
    for (const auto& s : specs) {
        Matrix<double> part = load_matrix<double>(s);
        if (X.empty()) {
            X = std::move(part);
            continue;
        }
        require(part.cols() == X.cols(), s + ": has " + std::to_string(part.cols()) + " columns, expected " +
                                             std::to_string(X.cols()));
        X.storage().insert(X.storage().end(), part.storage().begin(), part.storage().end());
        X = Matrix<double>(X.rows() + part.rows(), X.cols(), std::move(X.storage()));
    }
    return X;
}

InputCovariance input_covariance(const SensArgs& a, std::size_t n, std::size_t d) {
    const int forms = (!a.variances.empty()) + (!a.sample_cov.empty() || !a.feature_cov.empty());
    require(forms <= 1, "give either --variances or --sample-cov/--feature-cov, not both");
    // --variance has a default; given with another form it would be silently ignored.
    require(!(forms == 1 && a.variance_given),
            "--variance sets Cov(X) = variance * I; give it or --variances or --sample-cov/--feature-cov, not both");
    if (!a.variances.empty()) {
        const Matrix<double> v = load_matrix<double>(a.variances);
        require(v.size() == n * d, "--variances must hold N x D = " + std::to_string(n) + " x " + std::to_string(d) +
                                       " per-entry variances, got " + std::to_string(v.rows()) + " x " +
                                       std::to_string(v.cols()));
        return InputCovariance::diagonal(v.storage());
    }
    if (!a.sample_cov.empty() || !a.feature_cov.empty()) {
        require(!a.sample_cov.empty() && !a.feature_cov.empty(), "--sample-cov and --feature-cov go together");
        return InputCovariance::kronecker(load_matrix<double>(a.sample_cov), load_matrix<double>(a.feature_cov));
    }
    return InputCovariance::scalar(a.variance);
}

} // namespace

void register_sensitivity(CLI::App& app) {
    auto o = std::make_shared<CommonOptions>();
    auto a = std::make_shared<SensArgs>();
    auto* sub = app.add_subcommand(
        "sensitivity",
        "Sensitivity S = dY*/dX of a t-SNE embedding and its uncertainty Cov(Y) = S Cov(X) S^T (implicit function "
        "theorem); writes per-point 2x2 covariances (N x 4: cxx, cxy, cyx, cyy), S (2N x N*D) or Cov(Y) (2N x 2N)");
    add_common_options(sub, *o, true, false);
    sub->add_option("-e,--embedding", a->embedding, "The embedding Y* of the input (N x 2)")->required();
    sub->add_option("--what", a->what, "points (per-point covariances), jacobian (S) or covariance (Cov(Y))")
        ->check(CLI::IsMember({"points", "jacobian", "covariance"}))
        ->capture_default_str();
    sub->add_option("--perplexity", a->perplexity, "Perplexity of the differentiated P (use the one that made Y*)")
        ->capture_default_str();
    sub->add_option("--affinity", a->affinity, "dense (the seed's P over all points) or knn (nembed's t-SNE)")
        ->check(CLI::IsMember({"dense", "knn"}))
        ->capture_default_str();
    sub->add_option("--n-neighbors", a->n_neighbors, "kNN P: neighbours per point (0 = min(N-1, 3*perplexity))");
    sub->add_option("--bandwidth", a->bandwidth, "fixed (the seed's) or differentiated through the perplexity")
        ->check(CLI::IsMember({"fixed", "differentiated"}))
        ->capture_default_str();
    sub->add_option("--kernel", a->kernel,
                    "Output kernel of the differentiated KL: student-t (t-SNE; --dof) or gaussian (SNE)")
        ->check(CLI::IsMember({"student-t", "gaussian"}))
        ->capture_default_str();
    sub->add_option("--dof", a->dof, "Student-t kernel: degrees of freedom (1 = t-SNE's; < 1 heavier tails)")
        ->capture_default_str();
    sub->add_option("--affinities", a->affinities,
                    "The joint P that produced Y*: the prefix written by `nembed affinity -o PREFIX` or a "
                    "scipy.sparse .npz; used as given in the objective (default: recomputed from X)");
    sub->add_option("--knn", a->knn,
                    "The neighbour sets that produced Y*: the prefix written by `nembed knn -o PREFIX` (or an N x k "
                    "index array); implies --affinity knn (default: exact float64 kNN of X)");
    sub->add_option("--beta", a->beta,
                    "The bandwidths beta_i of exp(-beta_i d^2) (N values; openTSNE's precision tau_i = 2 beta_i); "
                    "default: calibrated to --perplexity");
    sub->add_option("--lambda", a->lambda, "Tikhonov damping added to the Hessian (the seed's: 1e-3)")
        ->capture_default_str();
    sub->add_flag("--no-gauge", a->no_gauge, "Do not project out translations and rotation (the seed's)");
    sub->add_flag("--damp-to-definite", a->damp_to_definite,
                  "Inverse solver: raise lambda tenfold until H + lambda I is positive definite (fast Cholesky) "
                  "instead of the slower exact indefinite inverse");
    sub->add_option("--solver", a->solver, "auto, dense (eigendecomposition), inverse (dense Cholesky inverse, "
                                         "N up to ~16 000), minres (exact O(N^2) products) or matrix-free "
                                         "(grid-interpolated products, preconditioned MINRES, sampled per-point "
                                         "covariances; auto above the inverse's size)")
        ->check(CLI::IsMember({"auto", "dense", "inverse", "minres", "matrix-free"}))
        ->capture_default_str();
    sub->add_option("--samples", a->samples,
                    "Matrix-free: samples of the per-point covariances (relative error ~ 1/sqrt(samples) per area)")
        ->capture_default_str();
    sub->add_option("--sample-seed", a->seed, "Matrix-free: seed of the covariance samples")->capture_default_str();
    sub->add_option("--grid-width", a->grid_width, "Matrix-free: box width of the repulsion grid (smaller: more "
                                                   "accurate Hessian products, slower)")->capture_default_str();
    sub->add_option("--grid-points", a->grid_points, "Matrix-free: interpolation nodes per box")->capture_default_str();
    sub->add_option("--near-radius", a->near_radius,
                    "Matrix-free: pairs closer than this are summed exactly, the rest on a coarse grid (0 = all on "
                    "the grid; validated at N = 10 000: 3 with --far-width 1, and 3 with --far-width 1.5 --grid-points 4 "
                    "--solver-tolerance 1e-3, half the time, same errors)")->capture_default_str();
    sub->add_option("--far-width", a->far_width,
                    "Matrix-free with --near-radius: box width of the far grid (0 = near radius / 2)")
        ->capture_default_str();
    sub->add_option("--solver-tolerance", a->mf_tolerance,
                    "Matrix-free: relative (preconditioned) MINRES residual to stop at")->capture_default_str();
    sub->add_flag("--seed-compatible", a->seed_compatible,
                  "The seed's settings: its beta search, fixed beta, dense P, lambda 1e-3, no gauge projection");
    sub->add_option("--lanczos", a->lanczos,
                    "MINRES solver: estimate this many smallest Hessian eigenvalues by Lanczos (diagnostics, warning)");
    sub->add_flag("--refine", a->refine, "Refine Y* to a stationary point of the differentiated objective first");
    sub->add_option("--variance", a->variance, "Cov(X) = variance * I")->capture_default_str();
    sub->add_option("--variances", a->variances, "Cov(X) diagonal: an N x D array of per-entry variances");
    sub->add_option("--sample-cov", a->sample_cov, "Cov(X) = kron(sample_cov, feature_cov): N x N between points");
    sub->add_option("--feature-cov", a->feature_cov, "... and D x D between features");
    sub->add_option("--plot-ellipses", a->plot_ellipses, "Plot of the 95% uncertainty ellipses over the map (.png, .svg or .pdf)");
    sub->add_option("--ellipse-scale", a->ellipse_scale, "Magnify the 95% ellipses by this factor (0 = automatic, printed on the image)")->capture_default_str();
    sub->add_option("--plot-arrows", a->plot_arrows,
                    "Plot of each point's self-sensitivity axis (largest singular direction of dy_i/dx_i), scaled "
                    "(.png, .svg or .pdf)");
    sub->add_option("--plot-heatmap", a->plot_heatmap, "Heatmap of S (.png, .svg or .pdf; needs S to fit in memory)");
    sub->add_option("--diagnostics", a->diagnostics,
                    "JSON: gradient norms, smallest Hessian eigenvalues, negative count, rotation residual, and (dense "
                    "solver) the share of trace Cov(Y) in the 3 softest modes and trace Cov(Y) for several lambdas");
    sub->callback([o, a, sub] {
        configure_logging(*o);
        // Which settings were given (not defaulted): those that another setting would silently override.
        for (const char* name : {"--affinity", "--n-neighbors", "--bandwidth", "--lambda", "--no-gauge", "--solver",
                                 "--damp-to-definite"})
            if (sub->get_option(name)->count() > 0) a->given_solve_options.emplace_back(name);
        a->variance_given = sub->get_option("--variance")->count() > 0;
        a->dof_given = sub->get_option("--dof")->count() > 0;
        OutputSet out;
        out.add("-o", o->output, OutputKind::matrix);
        out.add("--plot-ellipses", a->plot_ellipses, OutputKind::plot);
        out.add("--plot-arrows", a->plot_arrows, OutputKind::plot);
        out.add("--plot-heatmap", a->plot_heatmap, OutputKind::plot);
        out.add("--diagnostics", a->diagnostics, OutputKind::json);
        Timer t;
        const Matrix<double> X = load_x(o->inputs);
        const Matrix<double> Y = load_matrix<double>(a->embedding);
        require(Y.rows() == X.rows(), "--embedding has " + std::to_string(Y.rows()) + " rows but the input has " +
                                          std::to_string(X.rows()));
        SensitivityOptions so = a->seed_compatible ? seed_compatible_options(a->perplexity) : SensitivityOptions{};
        so.derivatives.perplexity = a->perplexity;
        so.derivatives.n_threads = o->n_threads();
        if (!a->seed_compatible) {
            so.derivatives.affinity = a->affinity == "knn" ? SensitivityAffinity::knn : SensitivityAffinity::dense;
            so.derivatives.n_neighbors = a->n_neighbors;
            so.derivatives.bandwidth =
                a->bandwidth == "differentiated" ? BandwidthMode::differentiated : BandwidthMode::fixed;
            so.solve.damping = a->lambda;
            so.solve.project_gauge = !a->no_gauge;
            so.solve.solver = parse_solver_kind(a->solver);
            so.solve.damp_to_definite = a->damp_to_definite;
        }
        const bool given = !a->affinities.empty() || !a->knn.empty() || !a->beta.empty();
        require(!(a->seed_compatible && given),
                "--seed-compatible recomputes the seed's dense P; it does not take --affinities, --knn or --beta");
        require(!(a->seed_compatible && (a->kernel != "student-t" || a->dof != 1.0)),
                "--seed-compatible differentiates t-SNE's kernel (Student-t, dof 1); drop --kernel/--dof");
        // --seed-compatible fixes the affinity, bandwidths, lambda, gauge and solver: a given one would be ignored.
        require(!a->seed_compatible || a->given_solve_options.empty(),
                "--seed-compatible fixes the seed's affinity, bandwidth, lambda, gauge and solver; drop " +
                    [&] {
                        std::string names;
                        for (const auto& n : a->given_solve_options) names += (names.empty() ? "" : ", ") + n;
                        return names;
                    }());
        require(!(a->kernel == "gaussian" && a->dof_given),
                "--dof applies to the student-t kernel only; the gaussian kernel (--kernel gaussian) has no degrees of "
                "freedom");
        if (a->kernel == "gaussian") so.derivatives.kernel = GaussianKernel{1.0};
        else so.derivatives.kernel = StudentTKernel{a->dof};
        if (!a->affinities.empty()) so.derivatives.joint = load_joint(a->affinities, X.rows());
        if (!a->knn.empty()) {
            so.derivatives.neighbors = load_neighbor_sets(a->knn, X.rows(), so.derivatives.neighbors_k);
            so.derivatives.affinity = SensitivityAffinity::knn;
        }
        if (!a->beta.empty()) {
            const Matrix<double> b = load_matrix<double>(a->beta);
            require(b.size() == X.rows(), "--beta must hold N = " + std::to_string(X.rows()) + " values, got " +
                                              std::to_string(b.size()));
            so.derivatives.beta = b.storage();
        }
        so.refine = a->refine;
        so.lanczos_eigenvalues = a->lanczos;
        so.covariance_samples = a->samples;
        so.covariance_seed = a->seed;
        so.solve.matrix_free.ints_in_interval = a->grid_width;
        so.solve.matrix_free.n_interpolation_points = a->grid_points;
        so.solve.matrix_free.near_radius = a->near_radius;
        so.solve.matrix_free.far_width = a->far_width;
        so.solve.matrix_free_tolerance = a->mf_tolerance;
        TsneSensitivity sens(X.view(), Y.view(), so);
        const auto& dg = sens.diagnostics();
        char buf[256];
        std::snprintf(buf, sizeof buf, "sensitivity: N = %zu, D = %zu, max|g| = %.3g, KL = %.5g, %s solver (%.2f s)",
                      X.rows(), X.cols(), dg.gradient_max, dg.kl, sens.solver().kind_name(),
                      t.seconds());
        say(*o, buf);
        if (dg.dense_spectrum && !dg.smallest_eigenvalues.empty()) {
            std::snprintf(buf, sizeof buf, "Hessian: smallest eigenvalue %.3g, %zu negative, rotation residual %.3g",
                          dg.smallest_eigenvalues[0], dg.n_negative, dg.rotation_residual);
            say(*o, buf);
        }
        const InputCovariance cov = input_covariance(*a, X.rows(), X.cols());
        Matrix<double> S;
        const bool need_s = a->what == "jacobian" || !a->plot_heatmap.empty();
        if (need_s) S = sens.jacobian();
        Matrix<double> points;
        if (a->what == "points" || !a->plot_ellipses.empty()) points = sens.point_covariances(cov);
        const std::string out_path = out.staged(o->output);
        if (a->what == "jacobian") save_matrix(out_path, S.view());
        else if (a->what == "covariance") save_matrix(out_path, sens.covariance(cov).view());
        else save_matrix(out_path, points.view());
        const auto labels = load_label_files(*o, X.rows());
        if (!a->plot_ellipses.empty()) {
            UncertaintyPlotOptions po;
            po.scale = a->ellipse_scale;
            po.title = "uncertainty ellipses";
            write_ellipses(out.staged(a->plot_ellipses), sens.embedding().view(), points.view(), labels, po);
        }
        if (!a->plot_arrows.empty()) {
            // Per point: the 2 x D block dy_i/dx_i; its largest singular pair gives the axis (sign-free).
            const std::size_t n = X.rows(), d = X.cols();
            Matrix<double> arrows(n, 2);
            const std::size_t bs = 64;
            for (std::size_t r0 = 0; r0 < 2 * n; r0 += bs) {
                const std::size_t m = std::min(bs, 2 * n - r0);
                const Eigen::MatrixXd R = sens.rows(r0, m);
                for (std::size_t c = 0; c < m; c += 2) {
                    const std::size_t i = (r0 + c) / 2;
                    const Eigen::MatrixXd B = R.block(static_cast<Eigen::Index>(c), static_cast<Eigen::Index>(i * d), 2,
                                                      static_cast<Eigen::Index>(d));
                    Eigen::JacobiSVD<Eigen::MatrixXd> svd(B, Eigen::ComputeThinU);
                    arrows(i, 0) = svd.singularValues()[0] * svd.matrixU()(0, 0);
                    arrows(i, 1) = svd.singularValues()[0] * svd.matrixU()(1, 0);
                }
            }
            UncertaintyPlotOptions po;
            po.double_headed = true;
            po.title = "self-sensitivity axes |dy_i/dx_i|";
            write_arrows(out.staged(a->plot_arrows), sens.embedding().view(), arrows.view(), labels, po);
        }
        if (!a->plot_heatmap.empty()) {
            UncertaintyPlotOptions po;
            po.title = "S = dY/dX (rows 2i+k, columns j*D+f)";
            write_heatmap(out.staged(a->plot_heatmap), S.view(), po);
        }
        if (!a->diagnostics.empty()) {
            nlohmann::json j;
            j["gradient_max"] = dg.gradient_max;
            j["gradient_norm"] = dg.gradient_norm;
            j["kl"] = dg.kl;
            j["refine_iterations"] = dg.refine_iterations;
            j["solver"] = sens.solver().kind_name();
            j["damping"] = sens.solver().options().damping;
            if (dg.dense_spectrum) {
                j["smallest_eigenvalues"] = dg.smallest_eigenvalues;
                j["n_negative"] = dg.n_negative;
                j["rotation_residual"] = dg.rotation_residual;
                const std::vector<double> lambdas = {0.0, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2};
                const VarianceSpectrum vs = sens.variance_spectrum(cov, 3, lambdas);
                j["soft_mode_share"] = vs.soft_share;
                j["lambdas"] = vs.lambdas;
                j["trace_cov"] = vs.trace_cov;
            }
            write_text(out.staged(a->diagnostics), j.dump(2) + "\n");
        }
        out.commit();
        std::snprintf(buf, sizeof buf, "done in %.2f s", t.seconds());
        say(*o, buf);
    });
}

} // namespace nembed::cli
