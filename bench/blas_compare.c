// The network's float32 GEMM shapes through several BLAS libraries (loaded with dlopen, one thread each), beside
// the core's float32 FMA peak, measured by a loop of independent AVX2 FMAs. Built and run by bench/blas_compare.sh.
#include <dlfcn.h>
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef void (*sgemm_t)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*,
                        int);
enum { kRowMajor = 101, kNoTrans = 111, kTrans = 112 };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

// 12 independent chains of 8-lane FMAs (named registers: an array was kept in memory), 2 flops × 8 lanes × 12
// an iteration.
#define FMA12(x) \
    a0 = _mm256_fmadd_ps(a0, x, b); a1 = _mm256_fmadd_ps(a1, x, b); a2 = _mm256_fmadd_ps(a2, x, b); \
    a3 = _mm256_fmadd_ps(a3, x, b); a4 = _mm256_fmadd_ps(a4, x, b); a5 = _mm256_fmadd_ps(a5, x, b); \
    a6 = _mm256_fmadd_ps(a6, x, b); a7 = _mm256_fmadd_ps(a7, x, b); a8 = _mm256_fmadd_ps(a8, x, b); \
    a9 = _mm256_fmadd_ps(a9, x, b); a10 = _mm256_fmadd_ps(a10, x, b); a11 = _mm256_fmadd_ps(a11, x, b)
static double fma_peak(void) {
    double best = 0;
    for (int rep = 0; rep < 5; ++rep) {
        __m256 a0 = _mm256_set1_ps(0.f), a1 = _mm256_set1_ps(1.f), a2 = _mm256_set1_ps(2.f), a3 = _mm256_set1_ps(3.f);
        __m256 a4 = _mm256_set1_ps(4.f), a5 = _mm256_set1_ps(5.f), a6 = _mm256_set1_ps(6.f), a7 = _mm256_set1_ps(7.f);
        __m256 a8 = _mm256_set1_ps(8.f), a9 = _mm256_set1_ps(9.f), a10 = _mm256_set1_ps(1.f), a11 = _mm256_set1_ps(2.f);
        const __m256 x = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
        const long iters = 50000000;
        const double t = now();
        for (long k = 0; k < iters; ++k) {
            FMA12(x);
        }
        const double dt = now() - t;
        __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                                 _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
        s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
        if (_mm256_cvtss_f32(s) == 12345.f) printf(" ");
        const double gf = 2.0 * 8 * 12 * (double)iters / dt / 1e9;
        if (gf > best) best = gf;
    }
    return best;
}

int main(int argc, char** argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s libblas.so... (each exporting cblas_sgemm)\n", argv[0]);
        return 2;
    }
    printf("float32 FMA peak of one core: %.1f GFLOP/s\n", fma_peak());
    // ParametricUMAP / ParametricTSNE's network 784 -> 100 -> 50 -> 2 on chunks of 256 and 512 rows.
    const struct {
        const char* name;
        int ta, tb, M, N, K;
    } shapes[] = {
        {"forward 256x100, k 784", kNoTrans, kTrans, 256, 100, 784},
        {"dW1 100x784, k 256", kTrans, kNoTrans, 100, 784, 256},
        {"forward 256x50, k 100", kNoTrans, kTrans, 256, 50, 100},
        {"dW2 50x100, k 256", kTrans, kNoTrans, 50, 100, 256},
        {"dH 256x100, k 50", kNoTrans, kNoTrans, 256, 100, 50},
        {"forward 512x100, k 784", kNoTrans, kTrans, 512, 100, 784},
        {"dW1 100x784, k 512", kTrans, kNoTrans, 100, 784, 512},
    };
    float *A = malloc(sizeof(float) << 20), *B = malloc(sizeof(float) << 20), *C = malloc(sizeof(float) << 20);
    for (int i = 0; i < 1 << 20; ++i) A[i] = (float)(i % 7) * 0.1f, B[i] = (float)(i % 5) * 0.1f, C[i] = 0;
    printf("%-26s", "shape (GFLOP/s, best of 7)");
    for (int l = 1; l < argc; ++l) printf("  %s", argv[l]);
    printf("\n");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s) {
        printf("%-26s", shapes[s].name);
        for (int l = 1; l < argc; ++l) {
            // "path:prefix" for libraries whose symbols carry a prefix (scipy-openblas32's "scipy_").
            char path[4096], sym[256], threads_sym[256];
            const char* colon = strchr(argv[l], ':');
            const size_t plen = colon ? (size_t)(colon - argv[l]) : strlen(argv[l]);
            snprintf(path, sizeof path, "%.*s", (int)plen, argv[l]);
            snprintf(sym, sizeof sym, "%scblas_sgemm", colon ? colon + 1 : "");
            snprintf(threads_sym, sizeof threads_sym, "%sopenblas_set_num_threads", colon ? colon + 1 : "");
            void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
            sgemm_t f = h ? (sgemm_t)dlsym(h, sym) : NULL;
            if (!f) {
                printf("  (cannot load cblas_sgemm)");
                continue;
            }
            void (*threads)(int) = (void (*)(int))dlsym(h, threads_sym);
            if (threads) threads(1);
            const int M = shapes[s].M, N = shapes[s].N, K = shapes[s].K, ta = shapes[s].ta, tb = shapes[s].tb;
            const int lda = ta == kNoTrans ? K : M, ldb = tb == kNoTrans ? N : K;
            double best = 1e9;
            for (int r = 0; r < 7; ++r) {
                const int reps = 200;
                const double t = now();
                for (int i = 0; i < reps; ++i) f(kRowMajor, ta, tb, M, N, K, 1.f, A, lda, B, ldb, 0.f, C, N);
                const double dt = (now() - t) / reps;
                if (dt < best) best = dt;
            }
            printf("  %8.1f", 2.0 * M * N * K / best / 1e9);
        }
        printf("\n");
    }
    return 0;
}
