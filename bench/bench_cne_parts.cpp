// CNE's epochs alone (issue #21 item 2): the optimisation of `nembed cne` at cne's defaults on a data set, timed in
// wall and process CPU seconds, without the kNN search (done once) in the figures.
//
//   bench_cne_parts DATA.npy [--threads T] [--reps R] [--epochs E] [--loss infonce|neg] [--seed S] [--out Y.npy]
//                   [--parametric] [--batch-size B] [--optimizer sgd|adam] [--precision float32|bf16]
//                   [--chunk-rows R]
//
// Per repetition the run is prepared again from the same graph and the same PCA start (so every repetition does the
// same work and gives the same bits) and `optimize` is timed. Printed: the directed edges, the pairs (head with its
// partner and m negatives) per epoch, each repetition's wall and CPU seconds, their medians, and the CPU nanoseconds
// per pair. --out writes the last repetition's embedding (to cmp against the CLI's). --parametric trains cne's
// network (issue #17) instead of the table: the same graph, the epochs alone.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "nembed/core/timer.hpp"
#include "nembed/io/load.hpp"
#include "nembed/methods/cne.hpp"
#include "bench_clock.hpp"

using namespace nembed;
using nembed::bench::cpu_seconds;
using nembed::bench::median;

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: bench_cne_parts DATA.npy [--threads T] [--reps R] [--epochs E] "
                             "[--loss infonce|neg] [--seed S] [--out Y.npy] [--parametric] [--batch-size B] "
                             "[--optimizer sgd|adam] [--precision float32|bf16] [--chunk-rows R]\n");
        return 2;
    }
    int threads = 2, reps = 3, epochs = 200;
    std::uint64_t seed = 42;
    std::string loss = "infonce", out, optimizer = "sgd";
    bool parametric = false;
    std::string precision = "float32";  // the network's products (--parametric)
    std::size_t chunk_rows = 512;       // the network's chunk (MlpOptions::chunk_rows)
    std::size_t batch_size = 0;  // 0: CneOptions' default
    for (int a = 2; a < argc; ++a) {
        const std::string s = argv[a];
        if (s == "--threads" && a + 1 < argc) threads = std::atoi(argv[++a]);
        else if (s == "--reps" && a + 1 < argc) reps = std::atoi(argv[++a]);
        else if (s == "--epochs" && a + 1 < argc) epochs = std::atoi(argv[++a]);
        else if (s == "--loss" && a + 1 < argc) loss = argv[++a];
        else if (s == "--seed" && a + 1 < argc) seed = std::strtoull(argv[++a], nullptr, 10);
        else if (s == "--out" && a + 1 < argc) out = argv[++a];
        else if (s == "--parametric") parametric = true;
        else if (s == "--batch-size" && a + 1 < argc) batch_size = std::strtoull(argv[++a], nullptr, 10);
        else if (s == "--optimizer" && a + 1 < argc) optimizer = argv[++a];
        else if (s == "--precision" && a + 1 < argc) precision = argv[++a];
        else if (s == "--chunk-rows" && a + 1 < argc) chunk_rows = std::strtoull(argv[++a], nullptr, 10);
        else {
            std::fprintf(stderr, "bench_cne_parts: unknown argument %s\n", s.c_str());
            return 2;
        }
    }
    try {
        Matrix<float> X = load_matrix<float>(argv[1]);
        CneOptions o;
        o.loss_mode = parse_contrastive_mode(loss);
        o.n_epochs = epochs;
        o.n_jobs = threads;
        o.seed = seed;
        o.parametric = parametric;
        o.network.precision = parse_precision(precision);
        o.network.chunk_rows = chunk_rows;
        if (batch_size > 0) o.batch_size = batch_size;
        o.optimizer = parse_cne_optimizer(optimizer);
        CNE cne(o);
        CneEmbedding first = cne.prepare(X.view());
        const CsrMatrix<double> graph = first.result().graph;
        std::size_t directed = 0;
        for (std::size_t i = 0; i < graph.n_rows; ++i)
            for (offset_t p = graph.indptr[i]; p < graph.indptr[i + 1]; ++p)
                directed += static_cast<std::size_t>(graph.indices[p]) != i && graph.values[p] != 0;
        std::printf("points %zu, directed edges %zu, loss %s, epochs %d, threads %d%s, batch %zu, %s\n", graph.n_rows,
                    directed, loss.c_str(), epochs, threads, parametric ? ", parametric" : "", o.batch_size,
                    optimizer.c_str());
        std::vector<double> wall, cpu;
        Matrix<double> Y;
        for (int r = 0; r < reps; ++r) {
            CneEmbedding e = cne.prepare(graph, X.view());
            const double c0 = cpu_seconds();
            Timer t;
            e.optimize();
            wall.push_back(t.seconds());
            cpu.push_back(cpu_seconds() - c0);
            std::printf("rep %d: wall %.3f s, cpu %.3f s\n", r, wall.back(), cpu.back());
            std::fflush(stdout);
            if (r + 1 == reps) Y = e.embedding();
        }
        const double pairs = static_cast<double>(directed) * static_cast<double>(epochs);
        std::printf("median: wall %.3f s, cpu %.3f s; %.1f CPU ns per head (head, partner, 5 negatives)\n",
                    median(wall), median(cpu), 1e9 * median(cpu) / pairs);
        if (!out.empty()) save_matrix(out, Y.view());
    } catch (const std::exception& ex) {
        std::fprintf(stderr, "bench_cne_parts: %s\n", ex.what());
        return 1;
    }
    return 0;
}
