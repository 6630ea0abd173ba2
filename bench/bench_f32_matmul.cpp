// The network's float32 backward products (parametric/gemm.hpp: dW = Gᵀ·H, dIn = G·W) through each float32
// backend available here (blas: OpenBLAS or Eigen; onednn), at the shapes of one chunk of paraDime's ParametricUMAP
// network (784 → 100 → 100 → 100 → 2, chunks of 256 rows) and of a short last chunk, on the calling thread. Best of
// REPS timings each (thread CPU seconds), GFLOPS = 2·m·n·k / seconds (issue #17).
//
//   bench_f32_matmul [REPS=5]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <vector>

#include "nembed/parametric/gemm.hpp"

using namespace nembed;

namespace {
double thread_cpu() {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}
template <typename F>
double best(int reps, int inner, const F& f) {
    double b = 1e300;
    for (int r = 0; r < reps; ++r) {
        const double t0 = thread_cpu();
        for (int i = 0; i < inner; ++i) f();
        b = std::min(b, (thread_cpu() - t0) / inner);
    }
    return b;
}
} // namespace

int main(int argc, char** argv) {
    const int reps = argc > 1 ? std::atoi(argv[1]) : 5;
    struct Shape {
        std::size_t m, o, a;
    };
    const Shape shapes[] = {{256, 100, 784}, {256, 100, 100}, {256, 2, 100}, {93, 100, 784}, {93, 100, 100}};
    std::printf("%-5s %4s %4s %4s  %-7s %8s %8s\n", "prod", "m", "o", "a", "backend", "GFLOPS", "us");
    for (const Shape& s : shapes) {
        std::vector<float> G(s.m * s.o, 0.01f), H(s.m * s.a, 0.5f), W(s.o * s.a, -0.02f), dW(s.o * s.a),
            dIn(s.m * s.a);
        const double flops = 2.0 * static_cast<double>(s.m * s.o * s.a);
        const int inner = std::max(1, static_cast<int>(2e8 / flops));
        for (gemm::F32Backend be : {gemm::F32Backend::blas, gemm::F32Backend::onednn}) {
            if (!gemm::available(be)) continue;
            const double tw = best(reps, inner, [&] { gemm::gt_h(s.m, s.o, s.a, G.data(), H.data(), dW.data(), be); });
            std::printf("dW    %4zu %4zu %4zu  %-7s %8.1f %8.2f\n", s.m, s.o, s.a, gemm::to_string(be).c_str(),
                        flops / tw * 1e-9, tw * 1e6);
            if (s.a == 784) continue;  // the first layer's dIn is not computed (no input gradient)
            const double ti = best(reps, inner, [&] { gemm::g_w(s.m, s.o, s.a, G.data(), W.data(), dIn.data(), be); });
            std::printf("dIn   %4zu %4zu %4zu  %-7s %8.1f %8.2f\n", s.m, s.o, s.a, gemm::to_string(be).c_str(),
                        flops / ti * 1e-9, ti * 1e6);
        }
    }
    return 0;
}
