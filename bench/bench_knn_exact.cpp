// The exact kNN self-search alone (issue #21 item 1, t25): wall and process CPU seconds per run, and how many rows
// the float32 keys could not certify and were rescanned in double (docs/neighbors.md §1).
//
//   bench_knn_exact FILE.npy|--spread [-k 90] [--threads 2] [--runs 3] [--hnsw] [--isa avx2] [-v] [--out FILE]
//
// -v: the index's debug lines on stderr (screen, tiles stopped early, rescans). --out: the last run's lists as raw
// bytes (n x k int32 indices, then n x k float32 distances), to compare kernels and builds with cmp.
//
// --spread: the widely spread set, 12 copies of a 7 000-point 50-D Gaussian set (sd 0.15: neighbours ~1
// apart) moved 7 000 apart along random directions (84 000 points). --hnsw: also HNSW at the default settings and
// its recall against the exact lists.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "nembed/core/log.hpp"
#include "nembed/core/matrix.hpp"
#include "nembed/core/random.hpp"
#include "nembed/core/timer.hpp"
#include "nembed/io/load.hpp"
#include "nembed/neighbors/exact.hpp"
#include "nembed/neighbors/hnsw.hpp"
#include "nembed/neighbors/knn.hpp"
#include "../tests/common/spread_copies.hpp"
#include "bench_clock.hpp"

using namespace nembed;
using nembed::bench::cpu_seconds;
using nembed::bench::median;

int main(int argc, char** argv) {
    std::string file, isa;
    std::size_t k = 90;
    int threads = 2, runs = 3;
    bool hnsw = false, verbose = false;
    std::string out;
    for (int a = 1; a < argc; ++a) {
        const std::string s = argv[a];
        if (s == "-k" && a + 1 < argc) k = std::strtoul(argv[++a], nullptr, 10);
        else if (s == "--threads" && a + 1 < argc) threads = std::atoi(argv[++a]);
        else if (s == "--runs" && a + 1 < argc) runs = std::atoi(argv[++a]);
        else if (s == "--isa" && a + 1 < argc) isa = argv[++a];
        else if (s == "--hnsw") hnsw = true;
        else if (s == "-v") verbose = true;
        else if (s == "--out" && a + 1 < argc) out = argv[++a];
        else file = s;
    }
    if (file.empty()) {
        std::fprintf(stderr, "usage: bench_knn_exact FILE.npy|--spread [-k K] [--threads T] [--runs R] [--hnsw]\n");
        return 2;
    }
    const Matrix<float> x = file == "--spread" ? nembed::test::spread_copies(12, 7000, 50, 7000.0, 5) : load_matrix<float>(file);
    std::size_t rescanned = 0;
    set_log_sink([&](LogLevel level, const std::string& msg) {
        if (level == LogLevel::debug && msg.rfind("exact kNN: ", 0) == 0) rescanned += std::stoul(msg.substr(11));
        if (verbose) std::fprintf(stderr, "%s\n", msg.c_str());
    });
    std::vector<double> wall, cpu;
    KnnGraph exact;
    for (int r = 0; r < runs; ++r) {
        rescanned = 0;
        const double c0 = cpu_seconds();
        Timer t;
        const auto index = isa.empty() ? make_exact_index(x.view(), Metric::euclidean, threads)
                                       : detail::make_exact_index(x.view(), Metric::euclidean, threads, isa);
        exact = index->self_neighbors(k);
        wall.push_back(t.seconds());
        cpu.push_back(cpu_seconds() - c0);
        std::printf("exact run %d: %.2f s wall, %.2f s CPU, %zu of %zu rows rescanned in double\n", r + 1, wall.back(),
                    cpu.back(), rescanned, x.rows());
    }
    std::printf("exact k = %zu, %zu x %zu, %d threads: median %.2f s wall, %.2f s CPU\n", k, x.rows(), x.cols(),
                threads, median(wall), median(cpu));
    if (!out.empty()) {
        std::FILE* f = std::fopen(out.c_str(), "wb");
        if (f == nullptr) return 1;
        std::fwrite(exact.indices.data(), sizeof(exact.indices[0]), exact.indices.size(), f);
        std::fwrite(exact.distances.data(), sizeof(exact.distances[0]), exact.distances.size(), f);
        std::fclose(f);
    }
    if (hnsw) {
        KnnOptions o;
        o.method = KnnMethod::hnsw;
        o.n_threads = threads;
        const double c0 = cpu_seconds();
        Timer t;
        const KnnGraph g = find_neighbors(x.view(), k, o);
        const double w = t.seconds(), c = cpu_seconds() - c0;
        std::size_t hit = 0;
        std::vector<index_t> a, b;
        for (std::size_t i = 0; i < x.rows(); ++i) {
            a.assign(g.neighbors(i), g.neighbors(i) + k);
            b.assign(exact.neighbors(i), exact.neighbors(i) + k);
            std::sort(a.begin(), a.end());
            std::sort(b.begin(), b.end());
            std::vector<index_t> both;
            std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(both));
            hit += both.size();
        }
        std::printf("hnsw k = %zu: %.2f s wall, %.2f s CPU, recall %.4f\n", k, w, c,
                    static_cast<double>(hit) / static_cast<double>(x.rows() * k));
    }
    return 0;
}
