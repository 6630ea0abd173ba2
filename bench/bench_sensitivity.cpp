// Sensitivity benchmark (issue #6). Synthetic Gaussian blobs (N points, D features, 10 centres), Y* from nembed's
// t-SNE (openTSNE defaults, perplexity 30), then one of
//   --mode full      the full S (2N × N·D) with the seed's dense P, β fixed, exact solve (target: N = 1000,
//                    D = 50 in ≤ 60 s and ≤ 4 GB on 2 threads);
//   --mode ellipses  per-point 2 × 2 covariances for per-entry variances (σ²_jf in [0.5, 1.5]) with kNN P
//                    (target: N = 10 000 ≤ 10 min); the automatic solver takes the dense inverse there.
//   --mode validate  the ellipse mode twice: exact (dense inverse) and matrix-free (grid-interpolated Hessian products,
//                    preconditioned MINRES, --samples sampled covariances); prints the median relative error of the
//                    ellipse areas and axes (issue #21; N = 10 000).
//   --mode mf        the ellipse mode with the matrix-free solver only (N = 100 000 x D = 50, --clusters 100).
// --lambda sets the Tikhonov damping (default 0), --solver auto|dense|inverse|minres|matrix-free, --damp-to-definite 1
// raises λ tenfold until the Cholesky succeeds; --clusters (10), --samples (256), --mf-width (grid box width),
// --mf-points (nodes per box), --mf-tol (MINRES tolerance), --mf-near (near/far split radius; 0 = all on the grid)
// and --mf-far (the far grid's box width) set up the matrix-free path; --mf-f64 1 keeps the exact part's pair
// coefficients in float64 (default float32); --mf-coarse K adds the two-level preconditioner (aggregates of ~K points),
// --mf-affine 1 its affine motions. The matrix-free runs print the operator's pair count and where its time
// went (exact part and grid part per column), and every phase its CPU seconds beside the wall time.
// --tsne-order none|auto|hilbert: the t-SNE point order for Y* (default none: the Y* of the saved exact runs, made
// before the locality order existed; the order changes Y*'s bits).
// --knn-search 1 takes the kNN sets from nembed's exact kNN search (fast at N = 100 000) instead of the derivatives'
// float64 brute force.
// --save-cov FILE (ellipses/validate) writes the exact per-point covariances and the λ they used (uint64 N, double λ,
// N x 4 doubles); --exact-cov FILE (validate) reads them instead of recomputing the dense inverse, so that every
// matrix-free variant is compared against one exact run (N = 10 000: ~261 s and 3.6 GB once).
// Prints wall times per phase and the peak RSS.
//
//   bench_sensitivity --mode full --n 1000 --d 50 --threads 2
//   bench_sensitivity --mode ellipses --n 10000 --d 50 --threads 2
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "nembed/core/log.hpp"
#include "nembed/core/random.hpp"
#include "nembed/methods/tsne.hpp"
#include "nembed/neighbors/knn.hpp"
#include "nembed/sensitivity/sensitivity.hpp"

using namespace nembed;

namespace {

double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Process CPU seconds (user + system, all threads): on a shared machine the wall time is an upper bound, this is not.
double cpu() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

double peak_rss_mib() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_maxrss) / 1024.0;
}

} // namespace

int main(int argc, char** argv) {
    std::string mode = "full";
    std::size_t n = 1000, d = 50;
    int threads = 2;
    double lambda = 0.0;
    std::string solver = "auto";
    bool damp = false;
    std::size_t clusters = 10, samples = 256;
    double mf_width = 0.0, mf_tol = 0.0, mf_near = 0.0, mf_far = 0.0;
    std::size_t mf_points = 0;
    bool mf_f64 = false;
    std::size_t mf_coarse = 0;
    bool mf_affine = false;
    std::string save_cov, exact_cov;
    bool knn_search = false;
    std::string tsne_order = "none";
    for (int a = 1; a + 1 < argc; a += 2) {
        const std::string k = argv[a], v = argv[a + 1];
        if (k == "--mode") mode = v;
        else if (k == "--n") n = std::stoul(v);
        else if (k == "--d") d = std::stoul(v);
        else if (k == "--threads") threads = std::stoi(v);
        else if (k == "--lambda") lambda = std::stod(v);
        else if (k == "--solver") solver = v;
        else if (k == "--damp-to-definite") damp = v == "1" || v == "true";
        else if (k == "--clusters") clusters = std::stoul(v);
        else if (k == "--samples") samples = std::stoul(v);
        else if (k == "--mf-width") mf_width = std::stod(v);
        else if (k == "--mf-points") mf_points = std::stoul(v);
        else if (k == "--mf-tol") mf_tol = std::stod(v);
        else if (k == "--mf-near") mf_near = std::stod(v);
        else if (k == "--mf-far") mf_far = std::stod(v);
        else if (k == "--mf-f64") mf_f64 = v == "1" || v == "true";
        else if (k == "--mf-coarse") mf_coarse = std::stoul(v);
        else if (k == "--mf-affine") mf_affine = v == "1" || v == "true";
        else if (k == "--save-cov") save_cov = v;
        else if (k == "--exact-cov") exact_cov = v;
        else if (k == "--knn-search") knn_search = v == "1" || v == "true";
        else if (k == "--tsne-order") tsne_order = v;
        else {
            std::fprintf(stderr, "unknown option %s\n", k.c_str());
            return 2;
        }
    }
    // Progress of long solves (the library's debug messages) with wall and CPU seconds, warnings as before.
    const double start = now();
    set_log_sink([start](LogLevel level, const std::string& m) {
        std::fprintf(stderr, "%s[%.1f s, CPU %.1f s] %s\n", level == LogLevel::warning ? "warning: " : "", now() - start,
                     cpu(), m.c_str());
    });
    Rng rng(42);
    Matrix<float> Xf(n, d);
    Matrix<double> X(n, d);
    std::vector<double> centres(clusters * d);
    for (double& c : centres) c = 4.0 * rng.normal();
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t f = 0; f < d; ++f) {
            X(i, f) = centres[(i % clusters) * d + f] + rng.normal();
            Xf(i, f) = static_cast<float>(X(i, f));
        }
    double t0 = now(), c0 = cpu();
    TsneOptions to;
    to.n_jobs = threads;
    to.random_state = 42;
    // Y* as the saved exact covariances were made (before t-SNE's locality order): --tsne-order auto for today's default.
    to.point_order = parse_point_order(tsne_order);
    TsneEmbedding emb = TSNE(to).fit(Xf.view());
    const Matrix<double> Y = emb.embedding();
    std::printf("t-SNE (Y*): %.2f s (CPU %.1f s)\n", now() - t0, cpu() - c0);
    std::fflush(stdout);

    SensitivityOptions so;
    so.derivatives.perplexity = 30.0;
    so.derivatives.n_threads = threads;
    so.solve.damping = lambda;
    so.solve.solver = parse_solver_kind(solver);
    so.solve.damp_to_definite = damp;
    if (mode != "full") so.derivatives.affinity = SensitivityAffinity::knn;
    if (mode == "mf") so.solve.solver = HessianSolverKind::matrix_free;
    if (mode == "validate" && solver == "auto") so.solve.solver = HessianSolverKind::inverse;
    so.covariance_samples = samples;
    if (mf_width > 0.0) so.solve.matrix_free.ints_in_interval = mf_width;
    if (mf_points > 0) so.solve.matrix_free.n_interpolation_points = mf_points;
    if (mf_tol > 0.0) so.solve.matrix_free_tolerance = mf_tol;
    so.solve.matrix_free.near_radius = mf_near;
    so.solve.matrix_free.far_width = mf_far;
    so.solve.matrix_free.float_coefficients = !mf_f64;
    so.solve.matrix_free.coarse_points = mf_coarse;
    so.solve.matrix_free.coarse_affine = mf_affine;
    // --knn-search 1: the neighbour sets from nembed's exact kNN search (blocked float32, seconds) instead of the
    // derivatives' own float64 brute force (O(N² D) scalar: minutes at N = 100 000); the float64 distances are
    // recomputed on the given sets.
    if (knn_search && mode != "full") {
        t0 = now();
        c0 = cpu();
        KnnOptions ko;
        ko.method = KnnMethod::exact;
        ko.n_threads = threads;
        const std::size_t k = std::min<std::size_t>(n - 1, 90);
        const KnnGraph g = find_neighbors(Xf.view(), k, ko);
        so.derivatives.neighbors.assign(g.indices.begin(), g.indices.end());
        so.derivatives.neighbors_k = k;
        std::printf("kNN sets (exact search, k = %zu): %.2f s (CPU %.1f s)\n", k, now() - t0, cpu() - c0);
    }
    // Exact covariances from an earlier run: the analysis below is then the matrix-free one only.
    const bool from_file = mode == "validate" && !exact_cov.empty();
    Matrix<double> C_file;
    if (from_file) {
        std::FILE* f = std::fopen(exact_cov.c_str(), "rb");
        std::uint64_t fn = 0;
        double flambda = 0.0;
        if (!f || std::fread(&fn, sizeof fn, 1, f) != 1 || std::fread(&flambda, sizeof flambda, 1, f) != 1 ||
            fn != n) {
            std::fprintf(stderr, "--exact-cov %s: cannot read, or not N = %zu\n", exact_cov.c_str(), n);
            return 2;
        }
        C_file = Matrix<double>(n, 4);
        const bool full = std::fread(C_file.data(), sizeof(double), n * 4, f) == n * 4;
        std::fclose(f);
        if (!full) {
            std::fprintf(stderr, "--exact-cov %s: truncated\n", exact_cov.c_str());
            return 2;
        }
        so.solve.solver = HessianSolverKind::matrix_free;
        so.solve.damping = flambda;
        so.solve.damp_to_definite = false;
        std::printf("exact covariances from %s (lambda %.3g)\n", exact_cov.c_str(), flambda);
    }
    t0 = now();
    c0 = cpu();
    TsneSensitivity sens(X.view(), Y.view(), so);
    if (sens.solver().coarse_aggregates() > 0)
        std::printf("coarse level: %zu aggregates, dimension %zu\n", sens.solver().coarse_aggregates(),
                    sens.solver().coarse_dimension());
    std::printf("setup (P, Hessian, %s solver%s, lambda %.3g): %.2f s (CPU %.1f s), max|g| %.3g\n",
                sens.solver().kind_name(), sens.solver().has_inverse() && !sens.solver().definite() ? ", indefinite" : "",
                sens.solver().options().damping, now() - t0, cpu() - c0, sens.diagnostics().gradient_max);
    auto mf_report = [](const TsneSensitivity& s) {
        if (!s.solver().is_matrix_free()) return;
        const MatrixFreeHessian& h = *s.solver().matrix_free_hessian();
        const MatrixFreeHessian::Timings& t = h.timings();
        std::printf("matrix-free operator: %zu exact pairs (%zu near), %zu grid nodes; build pairs %.2f s, grid %.2f s; "
                    "%zu columns applied: exact part %.2f s, grid part %.2f s (%.2f + %.2f ms per column)\n",
                    h.exact_pairs(), h.near_pairs(), h.grid_nodes(), t.build_pairs, t.build_grid, t.columns, t.exact,
                    t.grid, 1e3 * t.exact / double(std::max<std::size_t>(t.columns, 1)),
                    1e3 * t.grid / double(std::max<std::size_t>(t.columns, 1)));
    };
    const auto& dg = sens.diagnostics();
    if (dg.dense_spectrum && !dg.smallest_eigenvalues.empty()) {
        std::printf("smallest Hessian eigenvalues:");
        for (double e : dg.smallest_eigenvalues) std::printf(" %.3g", e);
        std::printf(" (%zu negative)\n", dg.n_negative);
    }
    mf_report(sens);
    std::fflush(stdout);
    t0 = now();
    c0 = cpu();
    if (mode == "full") {
        const Matrix<double> S = sens.jacobian();
        std::printf("full S (%zu x %zu): %.2f s\n", S.rows(), S.cols(), now() - t0);
    } else {
        std::vector<double> var(n * d);
        for (double& v : var) v = rng.uniform(0.5, 1.5);
        const InputCovariance cov = InputCovariance::diagonal(var);
        const Matrix<double> C = from_file ? C_file : sens.point_covariances(cov);
        std::printf("per-point covariances (%zu points, %s solver", C.rows(), sens.solver().kind_name());
        if (sens.solver().is_matrix_free())
            std::printf(", %zu samples, %zu grid nodes, %zu near pairs, MINRES <= %d iterations, residual %.1e",
                        samples, sens.solver().matrix_free_hessian()->grid_nodes(),
                        sens.solver().matrix_free_hessian()->near_pairs(), sens.solver().last_iterations(),
                        sens.solver().last_residual());
        std::printf("): %.2f s (CPU %.1f s)\n", now() - t0, cpu() - c0);
        mf_report(sens);
        if (sens.solver().is_matrix_free())
            std::printf("MINRES: %ld block iterations over %ld blocks (mean %.1f)\n", sens.solver().total_iterations(),
                        sens.solver().total_blocks(),
                        double(sens.solver().total_iterations()) / double(std::max(1L, sens.solver().total_blocks())));
        std::fflush(stdout);
        if (!save_cov.empty() && !from_file) {
            std::FILE* f = std::fopen(save_cov.c_str(), "wb");
            const std::uint64_t un = n;
            const double ul = sens.solver().options().damping;
            bool ok = f && std::fwrite(&un, sizeof un, 1, f) == 1 && std::fwrite(&ul, sizeof ul, 1, f) == 1;
            ok = ok && C.cols() == 4 && std::fwrite(C.data(), sizeof(double), n * 4, f) == n * 4;
            if (f) ok = std::fclose(f) == 0 && ok;
            if (!ok) {
                std::fprintf(stderr, "--save-cov %s: write failed\n", save_cov.c_str());
                return 2;
            }
            std::printf("saved exact covariances to %s\n", save_cov.c_str());
        }
        if (mode == "validate") {
            // The same analysis with the matrix-free solver, λ as the exact run ended with.
            SensitivityOptions mo = so;
            mo.solve.solver = HessianSolverKind::matrix_free;
            mo.solve.damping = sens.solver().options().damping;
            mo.solve.damp_to_definite = false;
            t0 = now();
            // With --exact-cov, `sens` already is the matrix-free analysis; no second setup.
            std::optional<TsneSensitivity> own;
            if (!from_file) own.emplace(X.view(), Y.view(), mo);
            const TsneSensitivity& mf = from_file ? sens : *own;
            const double setup = now() - t0;
            const Matrix<double> M = mf.point_covariances(cov);
            std::printf("matrix-free: setup %.2f s, %zu samples %.2f s (%zu grid nodes, %zu near pairs, MINRES <= %d "
                        "iterations, residual %.1e)\n", setup, samples, now() - t0 - setup,
                        mf.solver().matrix_free_hessian()->grid_nodes(), mf.solver().matrix_free_hessian()->near_pairs(),
                        mf.solver().last_iterations(), mf.solver().last_residual());
            std::printf("MINRES: %ld block iterations over %ld blocks (mean %.1f)\n", mf.solver().total_iterations(),
                        mf.solver().total_blocks(),
                        double(mf.solver().total_iterations()) / double(std::max(1L, mf.solver().total_blocks())));
            mf_report(mf);
            std::vector<double> area, major, minor;
            auto axes = [](const Matrix<double>& c, std::size_t i, double& a, double& b) {
                const double tr = c(i, 0) + c(i, 3), det = c(i, 0) * c(i, 3) - c(i, 1) * c(i, 2);
                const double disc = std::sqrt(std::max(0.0, 0.25 * tr * tr - det));
                a = std::sqrt(std::max(0.0, 0.5 * tr + disc));
                b = std::sqrt(std::max(0.0, 0.5 * tr - disc));
            };
            for (std::size_t i = 0; i < n; ++i) {
                double a0, b0, a1, b1;
                axes(C, i, a0, b0);
                axes(M, i, a1, b1);
                area.push_back(std::abs(a1 * b1 / (a0 * b0) - 1.0));
                major.push_back(std::abs(a1 / a0 - 1.0));
                minor.push_back(std::abs(b1 / b0 - 1.0));
            }
            auto med = [](std::vector<double> v) {
                std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
                return v[v.size() / 2];
            };
            std::printf("median relative error vs exact: area %.4f, major axis %.4f, minor axis %.4f "
                        "(sampling alone: area ~%.4f, axes ~%.4f)\n", med(area), med(major), med(minor),
                        0.674 / std::sqrt(double(samples)), 0.674 / std::sqrt(2.0 * double(samples)));
        }
    }
    std::printf("peak RSS: %.0f MiB\n", peak_rss_mib());
    return 0;
}
