// UMAP's phases before the epochs on one data set (issue #21 item 2, s29): the exact k = 15 kNN (index build and
// self-search), the fuzzy graph (smooth kNN distances, memberships, symmetrisation; then the pruning), and the
// spectral start (components, the Lanczos solve with its products counted, the rest of UMAP's init: scaling and
// the epochs' plan). Wall and process CPU seconds per step, medians of --runs.
//
//   bench_umap_prelude DATA.npy [--threads 2] [--runs 3] [--double]
//
// --double: the solve step with the double products and 20-vector basis UMAP used before s29 (the spectral
// options' defaults) instead of laplacian_eigenmap_options.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "nembed/affinity/fuzzy.hpp"
#include "nembed/core/timer.hpp"
#include "nembed/init/multi_component.hpp"
#include "nembed/init/spectral.hpp"
#include "nembed/io/load.hpp"
#include "nembed/methods/umap.hpp"
#include "nembed/neighbors/exact.hpp"
#include "bench_clock.hpp"

using namespace nembed;
using nembed::bench::cpu_seconds;
using nembed::bench::median;

namespace {

struct Step {
    std::string name;
    std::vector<double> wall, cpu;
};

} // namespace

int main(int argc, char** argv) {
    std::string file;
    int threads = 2, runs = 3;
    bool dbl = false;
    for (int a = 1; a < argc; ++a) {
        const std::string s = argv[a];
        if (s == "--threads" && a + 1 < argc) threads = std::atoi(argv[++a]);
        else if (s == "--runs" && a + 1 < argc) runs = std::atoi(argv[++a]);
        else if (s == "--double") dbl = true;
        else file = s;
    }
    if (file.empty()) {
        std::fprintf(stderr, "usage: bench_umap_prelude DATA.npy [--threads T] [--runs R] [--double]\n");
        return 2;
    }
    try {
        const Matrix<float> X = load_matrix<float>(file);
        std::vector<Step> steps = {{"kNN: index (transform, locality order, panels)", {}, {}},
                                   {"kNN: self-search k = 15", {}, {}},
                                   {"graph: fuzzy simplicial set", {}, {}},
                                   {"graph: prune", {}, {}},
                                   {"init: connected components", {}, {}},
                                   {"init: spectral_eigenpairs (UMAP's options)", {}, {}},
                                   {"init: UMAP prepare_graph's init (spectral start, scaling, plan)", {}, {}}};
        std::size_t products = 0, restarts = 0;
        for (int r = 0; r < runs; ++r) {
            std::size_t s = 0;
            double c0 = cpu_seconds();
            Timer t;
            auto lap = [&] {
                steps[s].wall.push_back(t.seconds());
                steps[s].cpu.push_back(cpu_seconds() - c0);
                ++s;
                c0 = cpu_seconds();
                t.reset();
            };
            const auto index = make_exact_index(X.view(), Metric::euclidean, threads);
            lap();
            const KnnGraph g = index->self_neighbors(14);
            lap();
            FuzzyOptions fo;
            fo.n_threads = threads;
            CsrMatrix<double> P = fuzzy_simplicial_set(g, fo, nullptr);
            lap();
            P = umap_prune_graph(P, umap_default_epochs(X.rows()));
            lap();
            const GraphComponents comps = connected_components(P);
            lap();
            SpectralOptions so = laplacian_eigenmap_options(42, threads);
            if (dbl) {
                so.float_operator = false;
                so.ncv = 0;
            }
            const SpectralEigen e = spectral_eigenpairs(P, 3, so);
            products = e.products;
            restarts = e.restarts;
            lap();
            UmapOptions o;
            o.n_jobs = threads;
            o.random_state = 42;
            const UmapEmbedding emb = UMAP(o).prepare_graph(P, X.view());
            steps[s].wall.push_back(emb.timings().init);
            steps[s].cpu.push_back(cpu_seconds() - c0);
            std::fprintf(stderr, "run %d done (%zu components)\n", r + 1, comps.count);
        }
        std::printf("%s: %zu x %zu, %d threads, medians of %d runs; Lanczos: %zu restarts, %zu products\n",
                    file.c_str(), X.rows(), X.cols(), threads, runs, restarts, products);
        std::printf("| step | wall s | CPU s |\n|---|---|---|\n");
        for (const auto& st : steps)
            std::printf("| %s | %.3f | %.3f |\n", st.name.c_str(), median(st.wall), median(st.cpu));
    } catch (const std::exception& ex) {
        std::fprintf(stderr, "error: %s\n", ex.what());
        return 1;
    }
    return 0;
}
