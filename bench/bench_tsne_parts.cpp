// Where one t-SNE iteration spends its time on Fashion-MNIST 70 000 x PCA-50 (issue #3's profile), and how far the
// attractive term is from the memory-bandwidth bound.
//
//   bench_tsne_parts DATA.npy EMBEDDING.npy [--threads 2]
//
// DATA: the PCA-50 matrix (bench/peers/prepare_fmnist.py); EMBEDDING: a final t-SNE embedding of it (from
// `nembed tsne`), whose span sets the FFT grid of the late iterations; the same embedding shrunk 10x stands for
// the early ones. Times are medians over repeated calls. The bandwidth bound is the bytes the attraction must
// stream (P's values and column indices, row pointers, the output) divided by a measured read bandwidth (a
// parallel sum over a 512 MiB array, median of 5).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include "nembed/affinity/perplexity.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/core/timer.hpp"
#include "nembed/io/load.hpp"
#include "nembed/loss/attraction.hpp"
#include "nembed/neighbors/knn.hpp"
#include "nembed/repulsion/repulsion.hpp"

using namespace nembed;

namespace {
template <typename F>
double median_time(int reps, F&& fn) {
    std::vector<double> t;
    for (int r = 0; r < reps; ++r) {
        Timer tt;
        fn();
        t.push_back(tt.seconds());
    }
    std::sort(t.begin(), t.end());
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
    for (int a = 3; a < argc; ++a) {
        if (std::string(argv[a]) == "--threads" && a + 1 < argc) threads = std::atoi(argv[++a]);
        if (std::string(argv[a]) == "--fft-only") fft_only = true;
        if (std::string(argv[a]) == "--shrink" && a + 1 < argc) shrink = std::atof(argv[++a]);
    }
    try {
        Matrix<float> X = load_matrix<float>(argv[1]);
        Matrix<double> Y = load_matrix<double>(argv[2]);
        require(X.rows() == Y.rows(), "data and embedding differ in rows");
        if (fft_only) {
            for (double& v : Y.storage()) v /= shrink;
            FftOptions fo;
            fo.n_threads = threads;
            auto fft = make_fft_repulsion(fo);
            std::vector<double> f(Y.size());
            const double t = median_time(41, [&] { fft->compute(Y.view(), StudentTKernel(1.0), f.data()); });
            std::printf("FFT repulsion: %.2f ms per call\n", 1e3 * t);
            return 0;
        }
        KnnOptions ko;
        ko.method = KnnMethod::exact;
        ko.n_threads = threads;
        KnnGraph g = find_neighbors(X.view(), 90, ko);
        PerplexityOptions po;
        po.n_threads = threads;
        CsrMatrix<double> P = perplexity_affinities(g, po);
        const std::size_t n = Y.rows(), d = Y.cols();
        std::vector<double> out(n * d);

        const double t_attr = median_time(21, [&] { attractive_forces(P, Y.view(), StudentTKernel(1.0), 1.0, out.data(), threads); });
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
        const double t_fft_early = median_time(11, [&] { fft->compute(Ys.view(), StudentTKernel(1.0), out.data()); });
        auto bh = make_barnes_hut_repulsion(0.5, threads);
        const double t_bh = median_time(3, [&] { bh->compute(Y.view(), StudentTKernel(1.0), out.data()); });

        // Read bandwidth: parallel sum over 512 MiB of doubles.
        std::vector<double> big(std::size_t(64) << 20, 1.0);
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
        std::printf("N = %zu, nnz(P) = %zu, embedding span %.1f, %d threads\n\n", n, P.nnz(), hi - lo, threads);
        std::printf("| part | time per call (ms, median) |\n|---|---|\n");
        std::printf("| attraction (CSR) | %.2f |\n", 1e3 * t_attr);
        std::printf("| KL's data term sum p log w (every 50 iterations) | %.2f |\n", 1e3 * t_kl);
        std::printf("| FFT repulsion, final embedding (span %.0f) | %.2f |\n", hi - lo, 1e3 * t_fft_late);
        std::printf("| FFT repulsion, embedding / 10 (span %.0f) | %.2f |\n", (hi - lo) / 10, 1e3 * t_fft_early);
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
