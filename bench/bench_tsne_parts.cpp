// Where one t-SNE iteration spends its time on Fashion-MNIST 70 000 x PCA-50 (issue #3's profile), and how far the
// attractive term is from the memory-bandwidth bound.
//
//   bench_tsne_parts DATA.npy EMBEDDING.npy [--threads 2] [--order none|final|init] [--quick] [--fft-only]
//
// DATA: the PCA-50 matrix (bench/peers/prepare_fmnist.py); EMBEDDING: a final t-SNE embedding of it (from
// `nembed tsne`), whose span sets the FFT grid of the late iterations; the same embedding shrunk 10x stands for
// the early ones. Times are medians over repeated calls. The bandwidth bound is the bytes the attraction must
// stream (P's values and column indices, row pointers, the output) divided by a measured read bandwidth (a
// parallel sum over a 512 MiB array, median of 5).
// --order renumbers the points first (X, the embedding and so P together): `final` along a Hilbert curve of the
// final embedding (the best case for the late iterations), `init` along a Hilbert curve of the PCA initialisation
// (what a run can do once, before it starts); `none` keeps the file's order.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <numeric>
#include <string>
#include <vector>

#include "nembed/affinity/perplexity.hpp"
#include "nembed/core/locality_order.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/core/timer.hpp"
#include "nembed/init/pca_init.hpp"
#include "nembed/io/load.hpp"
#include "nembed/loss/attraction.hpp"
#include "nembed/neighbors/knn.hpp"
#include "nembed/repulsion/repulsion.hpp"
#include "bench_clock.hpp"

using namespace nembed;
using nembed::bench::cpu_seconds;

namespace {
double last_cpu = 0;  ///< the median CPU seconds (all threads) of the last median_time call

// Median wall seconds over `reps` calls; the median CPU seconds go to last_cpu (on a shared machine the CPU time
// is the steadier figure: a descheduled worker adds wall time, not CPU time).
template <typename F>
double median_time(int reps, F&& fn) {
    std::vector<double> t, c;
    for (int r = 0; r < reps; ++r) {
        const double c0 = cpu_seconds();
        Timer tt;
        fn();
        t.push_back(tt.seconds());
        c.push_back(cpu_seconds() - c0);
    }
    std::sort(t.begin(), t.end());
    std::sort(c.begin(), c.end());
    last_cpu = c[c.size() / 2];
    return t[t.size() / 2];
}
} // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: bench_tsne_parts DATA.npy EMBEDDING.npy [--threads T]\n");
        return 2;
    }
    int threads = 2;
    bool fft_only = false;  // for profiling the FFT repulsion alone
    double shrink = 1.0;    // --fft-only: divide the embedding by this (a smaller span, as early in a run)
    std::string order = "none";
    bool quick = false;  // skip Barnes-Hut and the bandwidth measurement
    int rounds = 0;      // --compare-orders R: the orders none/init/final interleaved, R rounds, in one process
    for (int a = 3; a < argc; ++a) {
        if (std::string(argv[a]) == "--threads" && a + 1 < argc) threads = std::atoi(argv[++a]);
        if (std::string(argv[a]) == "--fft-only") fft_only = true;
        if (std::string(argv[a]) == "--shrink" && a + 1 < argc) shrink = std::atof(argv[++a]);
        if (std::string(argv[a]) == "--order" && a + 1 < argc) order = argv[++a];
        if (std::string(argv[a]) == "--quick") quick = true;
        if (std::string(argv[a]) == "--compare-orders" && a + 1 < argc) rounds = std::atoi(argv[++a]);
    }
    try {
        Matrix<float> X = load_matrix<float>(argv[1]);
        Matrix<double> Y = load_matrix<double>(argv[2]);
        require(X.rows() == Y.rows(), "data and embedding differ in rows");
        if (order != "none") {
            require(order == "final" || order == "init", "--order must be none, final or init");
            const Matrix<double> key = order == "final" ? Y : pca_init(X.view(), 2, true, 42, threads);
            const std::vector<index_t> perm = hilbert_order(key.view());
            Matrix<float> Xp(X.rows(), X.cols());
            Matrix<double> Yp(Y.rows(), Y.cols());
            for (std::size_t r = 0; r < perm.size(); ++r) {
                const auto o = static_cast<std::size_t>(perm[r]);
                std::copy_n(X.data() + o * X.cols(), X.cols(), Xp.data() + r * X.cols());
            }
            gather_rows(Y.data(), perm, Y.cols(), Yp.data(), 1);
            X = std::move(Xp);
            Y = std::move(Yp);
        }
        if (rounds > 0) {
            // One P in the file's order; each order renumbers P and Y (as TsneEmbedding::run does) and times the
            // attraction and the late FFT repulsion; the orders alternate within each round.
            KnnOptions ko;
            ko.method = KnnMethod::exact;
            ko.n_threads = std::max(threads, 2);
            PerplexityOptions po;
            po.n_threads = ko.n_threads;
            const CsrMatrix<double> P = perplexity_affinities(find_neighbors(X.view(), 90, ko), po);
            const std::vector<std::string> names = {"none", "init", "final"};
            std::vector<index_t> identity(Y.rows());
            std::iota(identity.begin(), identity.end(), index_t{0});
            const std::vector<std::vector<index_t>> perms = {
                identity, hilbert_order(pca_init(X.view(), 2, true, 42, threads).view()), hilbert_order(Y.view())};
            std::vector<std::vector<double>> wall(6), cpu(6);
            auto fft = make_fft_repulsion(FftOptions{3, 50, 1.0, threads});
            std::vector<double> out(Y.size());
            for (int r = 0; r < rounds; ++r)
                for (std::size_t o = 0; o < perms.size(); ++o) {
                    const CsrMatrix<double> Po = permute_symmetric(P, perms[o], threads);
                    Matrix<double> Yo(Y.rows(), Y.cols());
                    gather_rows(Y.data(), perms[o], Y.cols(), Yo.data(), 1);
                    wall[2 * o].push_back(median_time(11, [&] {
                        attractive_forces(Po, Yo.view(), StudentTKernel(1.0), 1.0, out.data(), threads);
                    }));
                    cpu[2 * o].push_back(last_cpu);
                    wall[2 * o + 1].push_back(
                        median_time(11, [&] { fft->compute(Yo.view(), StudentTKernel(1.0), out.data()); }));
                    cpu[2 * o + 1].push_back(last_cpu);
                }
            auto med = [](std::vector<double> v) {
                std::sort(v.begin(), v.end());
                return 1e3 * v[v.size() / 2];
            };
            std::printf("N = %zu, nnz(P) = %zu, %d threads, %d rounds (medians of the rounds' medians of 11)\n\n",
                        Y.rows(), P.nnz(), threads, rounds);
            std::printf("| order | attraction wall ms | attraction CPU ms | FFT late wall ms | FFT late CPU ms |\n"
                        "|---|---|---|---|---|\n");
            for (std::size_t o = 0; o < perms.size(); ++o)
                std::printf("| %s | %.2f | %.2f | %.2f | %.2f |\n", names[o].c_str(), med(wall[2 * o]),
                            med(cpu[2 * o]), med(wall[2 * o + 1]), med(cpu[2 * o + 1]));
            return 0;
        }
        if (fft_only) {
            for (double& v : Y.storage()) v /= shrink;
            FftOptions fo;
            fo.n_threads = threads;
            auto fft = make_fft_repulsion(fo);
            std::vector<double> f(Y.size());
            const double t = median_time(41, [&] { fft->compute(Y.view(), StudentTKernel(1.0), f.data()); });
            std::printf("FFT repulsion: %.2f ms per call (CPU %.2f ms)\n", 1e3 * t, 1e3 * last_cpu);
            return 0;
        }
        KnnOptions ko;
        ko.method = KnnMethod::exact;
        ko.n_threads = std::max(threads, 2);  // the set-up, not measured
        KnnGraph g = find_neighbors(X.view(), 90, ko);
        PerplexityOptions po;
        po.n_threads = threads;
        CsrMatrix<double> P = perplexity_affinities(g, po);
        const std::size_t n = Y.rows(), d = Y.cols();
        std::vector<double> out(n * d);

        const double t_attr = median_time(21, [&] { attractive_forces(P, Y.view(), StudentTKernel(1.0), 1.0, out.data(), threads); });
        const double c_attr = last_cpu;
        const std::vector<float> p32 = values_f32(P);  // what TsneObjective reads
        const double t_attr32 =
            median_time(21, [&] { attractive_forces(P, p32, Y.view(), StudentTKernel(1.0), 1.0, out.data(), threads); });
        const double c_attr32 = last_cpu;
        volatile double kl_sink = 0;
        const double t_kl = median_time(5, [&] { kl_sink = sum_p_log_w(P, Y.view(), StudentTKernel(1.0), threads); });

        double lo = Y(0, 0), hi = Y(0, 0);
        for (double v : Y.storage()) lo = std::min(lo, v), hi = std::max(hi, v);
        Matrix<double> Ys(n, d);
        for (std::size_t i = 0; i < Y.size(); ++i) Ys.data()[i] = Y.data()[i] / 10.0;
        FftOptions fo;
        fo.n_threads = threads;
        auto fft = make_fft_repulsion(fo);
        const double t_fft_late = median_time(11, [&] { fft->compute(Y.view(), StudentTKernel(1.0), out.data()); });
        const double c_fft_late = last_cpu;
        const double t_fft_early = median_time(11, [&] { fft->compute(Ys.view(), StudentTKernel(1.0), out.data()); });
        const double c_fft_early = last_cpu;
        auto bh = make_barnes_hut_repulsion(0.5, threads);
        const double t_bh = quick ? 0.0 : median_time(3, [&] { bh->compute(Y.view(), StudentTKernel(1.0), out.data()); });

        // Read bandwidth: parallel sum over 512 MiB of doubles.
        std::vector<double> big(quick ? std::size_t(1) << 16 : std::size_t(64) << 20, 1.0);
        volatile double sink = 0;
        const double t_bw = median_time(5, [&] {
            sink = fixed_block_sum(threads, big.size(), [&](std::size_t b, std::size_t e) {
                double s = 0;
                for (std::size_t i = b; i < e; ++i) s += big[i];
                return s;
            }, std::size_t(1) << 16);
        });
        const double gbps = double(big.size() * sizeof(double)) / t_bw / 1e9;
        const double bytes = double(P.nnz()) * (sizeof(double) + sizeof(index_t)) + double(n + 1) * sizeof(offset_t) +
                             2.0 * double(n * d) * sizeof(double);
        std::printf("N = %zu, nnz(P) = %zu, embedding span %.1f, %d threads, order %s\n\n", n, P.nnz(), hi - lo, threads,
                    order.c_str());
        std::printf("| part | time per call (ms, median) | CPU (ms, median) |\n|---|---|---|\n");
        std::printf("| attraction (CSR) | %.2f | %.2f |\n", 1e3 * t_attr, 1e3 * c_attr);
        std::printf("| attraction, P's values in float32 (t-SNE's objective) | %.2f | %.2f |\n", 1e3 * t_attr32,
                    1e3 * c_attr32);
        std::printf("| KL's data term sum p log w (every 50 iterations) | %.2f |\n", 1e3 * t_kl);
        std::printf("| FFT repulsion, final embedding (span %.0f) | %.2f | %.2f |\n", hi - lo, 1e3 * t_fft_late,
                    1e3 * c_fft_late);
        std::printf("| FFT repulsion, embedding / 10 (span %.0f) | %.2f | %.2f |\n", (hi - lo) / 10, 1e3 * t_fft_early,
                    1e3 * c_fft_early);
        std::printf("| Barnes-Hut (theta 0.5), final embedding | %.2f |\n\n", 1e3 * t_bh);
        std::printf("attraction streams %.1f MB per call; measured read bandwidth %.1f GB/s -> bound %.2f ms; "
                    "measured %.2f ms = %.0f%% of the bound's speed\n",
                    bytes / 1e6, gbps, 1e3 * bytes / gbps / 1e9, 1e3 * t_attr, 100.0 * (bytes / gbps / 1e9) / t_attr);
        (void)sink;
        (void)kl_sink;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_tsne_parts: %s\n", e.what());
        return 1;
    }
    return 0;
}
