// Sensitivity benchmark (issue #6). Synthetic Gaussian blobs (N points, D features, 10 centres), Y* from nembed's
// t-SNE (openTSNE defaults, perplexity 30), then one of
//   --mode full      the full S (2N × N·D) with the seed's dense P, β fixed, exact solve (target: N = 1000,
//                    D = 50 in ≤ 60 s and ≤ 4 GB on 2 threads);
//   --mode ellipses  per-point 2 × 2 covariances for per-entry variances (σ²_jf in [0.5, 1.5]) with kNN P
//                    (target: N = 10 000 ≤ 10 min); the automatic solver takes the dense inverse there.
// --lambda sets the Tikhonov damping (default 0), --solver auto|dense|inverse|minres, --damp-to-definite 1 raises
// λ tenfold until the Cholesky succeeds.
// Prints wall times per phase and the peak RSS.
//
//   bench_sensitivity --mode full --n 1000 --d 50 --threads 2
//   bench_sensitivity --mode ellipses --n 10000 --d 50 --threads 2
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "nembed/core/random.hpp"
#include "nembed/methods/tsne.hpp"
#include "nembed/sensitivity/sensitivity.hpp"

using namespace nembed;

namespace {

double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
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
    for (int a = 1; a + 1 < argc; a += 2) {
        const std::string k = argv[a], v = argv[a + 1];
        if (k == "--mode") mode = v;
        else if (k == "--n") n = std::stoul(v);
        else if (k == "--d") d = std::stoul(v);
        else if (k == "--threads") threads = std::stoi(v);
        else if (k == "--lambda") lambda = std::stod(v);
        else if (k == "--solver") solver = v;
        else if (k == "--damp-to-definite") damp = v == "1" || v == "true";
        else {
            std::fprintf(stderr, "unknown option %s\n", k.c_str());
            return 2;
        }
    }
    Rng rng(42);
    Matrix<float> Xf(n, d);
    Matrix<double> X(n, d);
    std::vector<double> centres(10 * d);
    for (double& c : centres) c = 4.0 * rng.normal();
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t f = 0; f < d; ++f) {
            X(i, f) = centres[(i % 10) * d + f] + rng.normal();
            Xf(i, f) = static_cast<float>(X(i, f));
        }
    double t0 = now();
    TsneOptions to;
    to.n_jobs = threads;
    to.random_state = 42;
    TsneEmbedding emb = TSNE(to).fit(Xf.view());
    const Matrix<double> Y = emb.embedding();
    std::printf("t-SNE (Y*): %.2f s\n", now() - t0);
    std::fflush(stdout);

    SensitivityOptions so;
    so.derivatives.perplexity = 30.0;
    so.derivatives.n_threads = threads;
    so.solve.damping = lambda;
    so.solve.solver = parse_solver_kind(solver);
    so.solve.damp_to_definite = damp;
    if (mode == "ellipses") so.derivatives.affinity = SensitivityAffinity::knn;
    t0 = now();
    TsneSensitivity sens(X.view(), Y.view(), so);
    std::printf("setup (P, Hessian, %s solver%s, lambda %.3g): %.2f s, max|g| %.3g\n", sens.solver().kind_name(),
                sens.solver().has_inverse() && !sens.solver().definite() ? ", indefinite" : "",
                sens.solver().options().damping, now() - t0, sens.diagnostics().gradient_max);
    const auto& dg = sens.diagnostics();
    if (dg.dense_spectrum && !dg.smallest_eigenvalues.empty()) {
        std::printf("smallest Hessian eigenvalues:");
        for (double e : dg.smallest_eigenvalues) std::printf(" %.3g", e);
        std::printf(" (%zu negative)\n", dg.n_negative);
    }
    std::fflush(stdout);
    t0 = now();
    if (mode == "full") {
        const Matrix<double> S = sens.jacobian();
        std::printf("full S (%zu x %zu): %.2f s\n", S.rows(), S.cols(), now() - t0);
    } else {
        std::vector<double> var(n * d);
        for (double& v : var) v = rng.uniform(0.5, 1.5);
        const Matrix<double> C = sens.point_covariances(InputCovariance::diagonal(var));
        std::printf("per-point covariances (%zu points): %.2f s\n", C.rows(), now() - t0);
    }
    std::printf("peak RSS: %.0f MiB\n", peak_rss_mib());
    return 0;
}
