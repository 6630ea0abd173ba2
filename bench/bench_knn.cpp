// kNN and affinity benchmark (issue #2): exact vs HNSW on all 70 000 Fashion-MNIST images (train + t10k, scaled
// to [0, 1], PCA to 50 dimensions), k = 90 and k = 15 (exact k = 15 also with each key kernel the CPU runs):
// build and query times and recall of HNSW against exact;
// then the time of the input affinities on the exact graph (perplexity 30 on k = 90, the multiscale mixture of
// perplexities 10 and 30, UMAP's fuzzy set on k = 14 (umap-learn's n_neighbors = 15)), median of 3 runs.
//
//   bench_knn [--data DIR] [--threads 2] [--n N] [--skip-exact-15]
//
// DIR holds train-images-idx3-ubyte.gz and t10k-images-idx3-ubyte.gz (default /usr/share/datasets/fashion-mnist).
// --n keeps the first N points (quick runs). Prints a Markdown table.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "nembed/affinity/fuzzy.hpp"
#include "nembed/affinity/multiscale.hpp"
#include "nembed/affinity/perplexity.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/matrix.hpp"
#include "nembed/core/timer.hpp"
#include "nembed/init/pca.hpp"
#include "nembed/io/load.hpp"
#include "nembed/neighbors/exact.hpp"
#include "nembed/neighbors/hnsw.hpp"
#include "nembed/neighbors/knn.hpp"

using namespace nembed;

namespace {

double recall(const KnnGraph& approx, const KnnGraph& exact, std::size_t k) {
    std::size_t hit = 0;
    std::vector<index_t> a, b;
    for (std::size_t i = 0; i < exact.n_points; ++i) {
        a.assign(approx.neighbors(i), approx.neighbors(i) + k);
        b.assign(exact.neighbors(i), exact.neighbors(i) + k);
        std::sort(a.begin(), a.end());
        std::sort(b.begin(), b.end());
        std::size_t x = 0, y = 0;
        while (x < k && y < k) {
            if (a[x] == b[y]) { ++hit; ++x; ++y; }
            else if (a[x] < b[y]) ++x;
            else ++y;
        }
    }
    return static_cast<double>(hit) / static_cast<double>(exact.n_points * k);
}

struct Row {
    std::string method;
    std::size_t k;
    double build_s, query_s, recall;
};

} // namespace

int main(int argc, char** argv) {
    std::string dir = "/usr/share/datasets/fashion-mnist";
    int threads = 2;
    std::size_t n_keep = 0;
    bool exact15 = true;
    KnnOptions hnsw;  // HNSW settings (defaults unless --m / --ef-construction / --ef)
    hnsw.method = KnnMethod::hnsw;
    for (int a = 1; a < argc; ++a) {
        std::string arg = argv[a];
        if (arg == "--data" && a + 1 < argc) dir = argv[++a];
        else if (arg == "--threads" && a + 1 < argc) threads = std::atoi(argv[++a]);
        else if (arg == "--n" && a + 1 < argc) n_keep = static_cast<std::size_t>(std::atoll(argv[++a]));
        else if (arg == "--skip-exact-15") exact15 = false;
        else if (arg == "--m" && a + 1 < argc) hnsw.hnsw_m = std::atoi(argv[++a]);
        else if (arg == "--ef-construction" && a + 1 < argc) hnsw.hnsw_ef_construction = std::atoi(argv[++a]);
        else if (arg == "--ef" && a + 1 < argc) hnsw.hnsw_ef = std::atoi(argv[++a]);
        else {
            std::fprintf(stderr, "usage: bench_knn [--data DIR] [--threads T] [--n N] [--skip-exact-15] [--m M] "
                                 "[--ef-construction E] [--ef E]\n");
            return 2;
        }
    }
    try {
        Timer t;
        Matrix<float> train = load_matrix<float>(dir + "/train-images-idx3-ubyte.gz");
        Matrix<float> test = load_matrix<float>(dir + "/t10k-images-idx3-ubyte.gz");
        require(train.cols() == test.cols(), "train and t10k images differ in size");
        std::vector<float> all(train.storage());
        all.insert(all.end(), test.storage().begin(), test.storage().end());
        Matrix<float> x(train.rows() + test.rows(), train.cols(), std::move(all));
        for (float& v : x.storage()) v /= 255.0f;
        if (n_keep > 0 && n_keep < x.rows()) {
            x.storage().resize(n_keep * x.cols());
            x = Matrix<float>(n_keep, x.cols(), std::move(x.storage()));
        }
        const double load_s = t.seconds();
        t.reset();
        PcaResult p = pca(x.view(), 50, threads);
        const double pca_s = t.seconds();
        const Matrix<float>& y = p.scores;
        std::printf("data: %zu x %zu -> PCA %zu x %zu (load %.1f s, PCA %.1f s), %d threads\n\n", x.rows(), x.cols(),
                    y.rows(), y.cols(), load_s, pca_s, threads);

        std::vector<Row> rows;
        t.reset();
        auto exact = make_exact_index(y.view(), Metric::euclidean, threads);
        const double exact_build = t.seconds();
        t.reset();
        KnnGraph e90 = exact->self_neighbors(90);
        rows.push_back({"exact", 90, exact_build, t.seconds(), 1.0});
        std::fprintf(stderr, "exact k=90 done (%.1f s)\n", rows.back().query_s);
        if (exact15) {
            t.reset();
            KnnGraph e15 = exact->self_neighbors(15);
            rows.push_back({"exact", 15, exact_build, t.seconds(), recall(e15, e90, 15)});
            for (const std::string& isa : detail::exact_knn_isas()) {  // every key kernel this CPU runs
                t.reset();
                auto ex = detail::make_exact_index(y.view(), Metric::euclidean, threads, isa);
                const double b = t.seconds();
                t.reset();
                KnnGraph ei = ex->self_neighbors(15);
                rows.push_back({"exact, " + isa + " kernel", 15, b, t.seconds(), recall(ei, e90, 15)});
            }
        }

        KnnOptions opt = hnsw;
        opt.n_threads = threads;
        t.reset();
        auto hnsw = build_knn_index(y.view(), opt);
        const double hnsw_build = t.seconds();
        for (std::size_t k : {std::size_t(90), std::size_t(15)}) {
            t.reset();
            KnnGraph h = hnsw->self_neighbors(k);
            const std::string name = "hnsw (M " + std::to_string(opt.hnsw_m) + ", ef_c " +
                                     std::to_string(opt.hnsw_ef_construction) + ", ef " +
                                     (opt.hnsw_ef > 0 ? std::to_string(opt.hnsw_ef) : std::string("default max(50, 4k/3)")) + ")";
            rows.push_back({name, k, hnsw_build, t.seconds(), recall(h, e90, k)});
        }

        std::printf("| method | k | build (s) | query (s) | total (s) | recall@k vs exact |\n");
        std::printf("|---|---|---|---|---|---|\n");
        for (const Row& r : rows)
            std::printf("| %s | %zu | %.2f | %.2f | %.2f | %.5f |\n", r.method.c_str(), r.k, r.build_s, r.query_s,
                        r.build_s + r.query_s, r.recall);
        std::printf("\n(exact k = 15 recall is against the first 15 columns of exact k = 90; build = index build, "
                    "shared by both k)\n\n");

        // Affinities on the exact graph: median of 3 runs each.
        auto median3 = [](auto&& fn) {
            std::vector<double> t3;
            for (int r = 0; r < 3; ++r) {
                Timer tt;
                fn();
                t3.push_back(tt.seconds());
            }
            std::sort(t3.begin(), t3.end());
            return t3[1];
        };
        PerplexityOptions po;
        po.perplexity = 30;
        po.n_threads = threads;
        std::size_t nnz = 0;
        const double t_perp = median3([&] { nnz = perplexity_affinities(e90, po).nnz(); });
        MultiscaleOptions mo;
        mo.perplexities = {10, 30};
        mo.n_threads = threads;
        const double t_multi = median3([&] { multiscale_affinities(e90, mo); });
        KnnGraph e14;
        e14.n_points = e14.n_reference = e90.n_points;
        e14.k = 14;
        for (std::size_t i = 0; i < e90.n_points; ++i) {
            e14.indices.insert(e14.indices.end(), e90.neighbors(i), e90.neighbors(i) + 14);
            e14.distances.insert(e14.distances.end(), e90.dists(i), e90.dists(i) + 14);
        }
        FuzzyOptions fo;
        fo.n_threads = threads;
        const double t_fuzzy = median3([&] { fuzzy_simplicial_set(e14, fo); });
        std::printf("| affinity | neighbours | time (s, median of 3) |\n|---|---|---|\n");
        std::printf("| perplexity 30, joint P (%zu non-zeros) | 90 | %.3f |\n", nnz, t_perp);
        std::printf("| multiscale mixture, perplexities 10 + 30 | 90 | %.3f |\n", t_multi);
        std::printf("| UMAP fuzzy simplicial set | 14 (+ self) | %.3f |\n", t_fuzzy);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_knn: %s\n", e.what());
        return 1;
    }
    return 0;
}
