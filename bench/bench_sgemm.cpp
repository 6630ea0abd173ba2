// OpenBLAS's float32 GEMM rate on this CPU (docs/parametric.md, "The arithmetic bound"): one large square
// cblas_sgemm with 1 and 2 OpenBLAS threads (the machine's attainable peak), and the shapes of one 512-row chunk of
// cne's parametric network (in 50 → 100 → 100 → 100 → 2) at 1 thread, as parametric/mlp.cpp calls them. Best of
// REPS runs each, GFLOPS = 2·m·n·k / seconds.
//
//   bench_sgemm [N=2048] [REPS=5]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#ifdef NEMBED_BENCH_HAVE_CBLAS
#include <cblas.h>
#endif

namespace {
#ifdef NEMBED_BENCH_HAVE_CBLAS
double best_seconds(int reps, const auto& f) {
    double best = 1e300;
    for (int r = 0; r < reps; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        f();
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return best;
}

// C (m×n) = op(A) · op(B) with k the inner dimension, row-major, repeated `inner` times per timing.
void shape(const char* name, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, int reps) {
    std::vector<float> A(std::size_t(m) * k, 0.5f), B(std::size_t(k) * n, 0.25f), C(std::size_t(m) * n);
    const int lda = ta == CblasNoTrans ? k : m, ldb = tb == CblasNoTrans ? n : k;
    const int inner = std::max(1, int(2e8 / (2.0 * m * n * k)));
    const double s = best_seconds(reps, [&] {
        for (int i = 0; i < inner; ++i)
            cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, C.data(), n);
    });
    std::printf("%-34s m %4d n %4d k %4d: %7.1f GFLOPS\n", name, m, n, k, 2.0 * m * n * k * inner / s * 1e-9);
}
#endif
} // namespace

int main(int argc, char** argv) {
#ifdef NEMBED_BENCH_HAVE_CBLAS
    const int N = argc > 1 ? std::atoi(argv[1]) : 2048;
    const int reps = argc > 2 ? std::atoi(argv[2]) : 5;
    std::vector<float> A(std::size_t(N) * N, 0.5f), B(std::size_t(N) * N, 0.25f), C(std::size_t(N) * N);
    for (int threads : {1, 2}) {
        openblas_set_num_threads(threads);
        const double s = best_seconds(reps, [&] {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1.0f, A.data(), N, B.data(), N, 0.0f,
                        C.data(), N);
        });
        std::printf("square sgemm N %d, %d thread(s): %.1f GFLOPS\n", N, threads, 2.0 * N * N * N / s * 1e-9);
    }
    openblas_set_num_threads(1);
    const int m = 512;  // MlpOptions::chunk_rows
    // forward Z = H·Wᵀ; backward dW = Gᵀ·H, dH = G·W
    shape("fwd 50->100   (H Wt)", CblasNoTrans, CblasTrans, m, 100, 50, reps);
    shape("fwd 100->100  (H Wt)", CblasNoTrans, CblasTrans, m, 100, 100, reps);
    shape("fwd 100->2    (H Wt)", CblasNoTrans, CblasTrans, m, 2, 100, reps);
    shape("bwd dW 100->2   (Gt H)", CblasTrans, CblasNoTrans, 2, 100, m, reps);
    shape("bwd dH 100<-2   (G W)", CblasNoTrans, CblasNoTrans, m, 100, 2, reps);
    shape("bwd dW 100->100 (Gt H)", CblasTrans, CblasNoTrans, 100, 100, m, reps);
    shape("bwd dH 100<-100 (G W)", CblasNoTrans, CblasNoTrans, m, 100, 100, reps);
    shape("bwd dW 50->100  (Gt H)", CblasTrans, CblasNoTrans, 100, 50, m, reps);
#else
    (void)argc;
    (void)argv;
    std::puts("bench_sgemm: built without OpenBLAS's cblas (NEMBED_OPENBLAS_GEMM_USED is OFF)");
#endif
}
