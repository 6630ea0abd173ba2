// Where nembed UMAP spends its time on Fashion-MNIST 70 000 x PCA-50 (issue #21's per-phase profile), and the
// hardware figures each phase is held against.
//
//   bench_umap_parts DATA.npy [--threads T] [--reps R] [--scalar]
//
// Phases (UMAP at umap-learn's defaults, seed 42): kNN (UMAP::prepare's search), fuzzy graph and spectral init
// (from prepare's timings), then the 200 epochs alone, R times from the same start (median wall and process CPU
// seconds). The epochs' work is counted from the schedule: sampled edges, attraction and repulsion pairs, hence the
// time per pair. Hardware figures: a STREAM-like copy of 512 MiB (bytes read + written per second), one core's
// double multiply-add rate on independent chains, and pow_poly's throughput over 8-wide vectors on one core.
// --scalar runs the epochs through the per-row path (EdgeEpochOptions::lanes = false) for comparison.
#pragma GCC diagnostic ignored "-Wpsabi"  // the vectors stay inside always-inlined code
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "nembed/core/parallel.hpp"
#include "nembed/core/timer.hpp"
#include "nembed/io/load.hpp"
#include "nembed/kernel/pow_poly.hpp"
#include "nembed/methods/umap.hpp"
#include "nembed/optim/sgd.hpp"
#include "nembed/train/edge_epoch_plan.hpp"
#include "nembed/train/parametrization.hpp"
#include "nembed/train/phase.hpp"
#include "nembed/train/trainer.hpp"
#include "bench_clock.hpp"

using namespace nembed;
using nembed::bench::cpu_seconds;
using nembed::bench::median;

namespace {

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define BENCH_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define BENCH_CLONES
#endif

// Bytes moved per second by a copy of n doubles (read + write), best of 5, on `threads` halves.
double copy_bandwidth(int threads) {
    const std::size_t n = std::size_t(64) << 20;  // 512 MiB per array
    std::vector<double> a(n, 1.0), b(n, 0.0);
    std::vector<double> t;
    for (int r = 0; r < 5; ++r) {
        Timer tt;
        parallelize(threads, n, [&](int, std::size_t lo, std::size_t hi) {
            std::copy(a.data() + lo, a.data() + hi, b.data() + lo);
        });
        t.push_back(tt.seconds());
    }
    if (b[n / 2] != 1.0) std::printf("copy failed\n");
    return 2.0 * 8.0 * static_cast<double>(n) / *std::min_element(t.begin(), t.end());
}

// Multiply-adds per second on one core: 8 independent chains of 8-wide double vectors (a*x + c, no FMA contraction
// in this build: a multiply and an add each).
BENCH_CLONES double madd_rate() {
    using V = double __attribute__((vector_size(64)));
    V acc[8];
    for (int i = 0; i < 8; ++i) acc[i] = V{} + (1.0 + i * 1e-3);
    const V m = V{} + 0.999999, c = V{} + 1e-6;
    const long iters = 50'000'000;
    Timer t;
    for (long k = 0; k < iters; ++k)
        for (int i = 0; i < 8; ++i) acc[i] = acc[i] * m + c;
    const double s = t.seconds();
    double sum = 0;
    for (int i = 0; i < 8; ++i) sum += acc[i][0];
    if (sum == 42.0) std::printf(" ");
    return 8.0 * 8.0 * static_cast<double>(iters) / s;
}

// pow_poly values per second on one core (8-wide vectors, independent inputs).
BENCH_CLONES double pow_rate() {
    using V = double __attribute__((vector_size(64)));
    using VU = std::uint64_t __attribute__((vector_size(64)));
    std::vector<double> x(1 << 16);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = 0.01 + 1e-3 * static_cast<double>(i % 20000);
    V acc = V{};
    const int reps = 2000;
    Timer t;
    for (int r = 0; r < reps; ++r)
        for (std::size_t i = 0; i < x.size(); i += 8) {
            V v;
            std::copy(x.data() + i, x.data() + i + 8, reinterpret_cast<double*>(&v));
            acc += pow_poly<VU>(v, 0.895);
        }
    const double s = t.seconds();
    if (acc[0] == 42.0) std::printf(" ");
    return static_cast<double>(reps) * static_cast<double>(x.size()) / s;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: bench_umap_parts DATA.npy [--threads T] [--reps R] [--scalar]\n");
        return 2;
    }
    int threads = 2, reps = 3;
    bool scalar = false;
    for (int a = 2; a < argc; ++a) {
        if (std::string(argv[a]) == "--threads" && a + 1 < argc) threads = std::atoi(argv[++a]);
        if (std::string(argv[a]) == "--reps" && a + 1 < argc) reps = std::atoi(argv[++a]);
        if (std::string(argv[a]) == "--scalar") scalar = true;
    }
    try {
        Matrix<float> X = load_matrix<float>(argv[1]);
        UmapOptions o;
        o.n_jobs = threads;
        o.random_state = 42;
        UMAP umap(o);
        UmapEmbedding prep = umap.prepare(X.view());
        const auto& tm = prep.timings();
        std::printf("N %zu, threads %d\nkNN %.3f s, fuzzy graph %.3f s, init %.3f s\n", X.rows(), threads, tm.knn,
                    tm.graph, tm.init);
        const CsrMatrix<double> graph = prep.graph();
        const Matrix<double> Y0 = prep.embedding();
        const int n_epochs = prep.n_epochs();
        // The schedule's work: every sampled edge is two attraction pairs and its negatives.
        // umap-learn's rule written out (two divisions), against UmapEdgeSchedule::take (none): how often they differ.
        double samples = 0, negatives = 0, differ = 0;
        {
            UmapEdgeSchedule s = UmapEdgeSchedule::make(graph, n_epochs, o.negative_sample_rate);
            UmapEdgeSchedule s2 = s;
            for (int e = 0; e < n_epochs; ++e)
                for (std::size_t p = 0; p < graph.nnz(); ++p) {
                    if (s.next_sample[p] > e) continue;
                    const bool due2 = s2.next_sample[p] <= e;
                    const long n2 = due2 ? s2.take(p, e) : -1;
                    s.next_sample[p] += s.epochs_per_sample[p];
                    const double epns = s.epochs_per_sample[p] / s.negative_sample_rate;
                    const long n_neg = static_cast<long>((e - s.next_negative[p]) / epns);
                    samples += 1;
                    negatives += static_cast<double>(std::max(0L, n_neg));
                    s.next_negative[p] += static_cast<double>(n_neg) * epns;
                    differ += n2 == n_neg ? 0 : 1;
                }
        }
        std::printf("take() without divisions: %.0f of the samples draw another count than umap-learn's rule\n", differ);
        const double pairs = 2 * samples + negatives;
        std::printf("edges %zu, epochs %d: %.0f sampled edges, %.0f pairs (%.0f attraction, %.0f negatives)\n",
                    graph.nnz(), n_epochs, samples, pairs, 2 * samples, negatives);
        std::vector<double> wall, cpu;
        Matrix<double> last;
        for (int r = 0; r < reps; ++r) {
            EdgeEpochOptions eo;
            eo.n_epochs = n_epochs;
            eo.negative_sample_rate = o.negative_sample_rate;
            eo.seed = 42;
            eo.lanes = !scalar;
            EdgeEpochPlan plan(graph, prep.curve(), eo);
            EmbeddingTable table(Y0);
            Sgd sgd;
            Trainer tr(plan, table, sgd, threads);
            LrSchedule ls;
            ls.learning_rate = o.learning_rate;
            ls.anneal = LrAnneal::umap;
            ls.total_epochs = n_epochs;
            tr.set_schedule(ls);
            Phase ph;
            ph.n_steps = n_epochs;
            tr.add_phase(ph);
            const double c0 = cpu_seconds();
            Timer t;
            tr.run();
            wall.push_back(t.seconds());
            cpu.push_back(cpu_seconds() - c0);
            last = table.Y();
        }
        const double w = median(wall), c = median(cpu);
        std::printf("epochs (%s): wall %.3f s, CPU %.3f s (medians of %d); %.2f ns CPU per pair, %.1f M pairs/s wall\n",
                    scalar ? "per-row path" : "lanes", w, c, reps, 1e9 * c / pairs, pairs / w * 1e-6);
        const double bw = copy_bandwidth(threads);
        const double ma = madd_rate(), pw = pow_rate();
        std::printf("copy bandwidth (%d threads) %.1f GB/s; one core: %.1f G multiply-adds/s (8-wide), pow_poly "
                    "%.0f M values/s\n",
                    threads, bw * 1e-9, ma * 1e-9, pw * 1e-6);
        // Bytes an epoch pass must move at least: per edge its schedule (3 doubles read, 2 written) and column
        // index; per pair one tail read (16 B; the 1.1 MB snapshot stays in cache) and the row's own position.
        const double sched_bytes = static_cast<double>(n_epochs) * static_cast<double>(graph.nnz()) * (5 * 8 + 4);
        std::printf("schedule pass: %.1f GB over the run -> %.3f s at the copy bandwidth\n", sched_bytes * 1e-9,
                    sched_bytes / bw);
        std::printf("pow_poly alone for every pair: %.3f s on one core\n", pairs / pw);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
