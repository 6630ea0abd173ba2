// The 2-D transform at the heart of the FFT repulsion (RealFft2d, fft/fft.hpp), alone: median CPU ms of 41 calls of
// convolve() (an L x L transform whose input has M non-zero rows and columns, as the charge grids have) and of
// even_spectrum() (the kernel's spectrum), on T workers.
//
//   bench_fft2d [L] [M] [T]      defaults 1250 624 2: the late Fashion-MNIST 70 000 map (624 nodes per side)
//
// To compare two versions of fft.cpp, build this file against each (bench/RESULTS.md, t27) and interleave the runs.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <vector>

#include "nembed/fft/fft.hpp"
#include "bench_clock.hpp"

using nembed::bench::cpu_seconds;

int main(int argc, char** argv) {
    const std::size_t L = argc > 1 ? static_cast<std::size_t>(std::atol(argv[1])) : 1250;
    const std::size_t m = argc > 2 ? static_cast<std::size_t>(std::atol(argv[2])) : 624;
    const int threads = argc > 3 ? std::atoi(argv[3]) : 2;
    if (L < 2 || L % 2 != 0 || m < 1 || m > L) {
        std::fprintf(stderr, "usage: bench_fft2d [L (even)] [M <= L] [threads]\n");
        return 2;
    }
    nembed::RealFft2d f(L, L, threads);
    const std::size_t nc = L / 2 + 1;
    std::vector<float> kernel((L / 2 + 1) * L), spectrum(L * nc), grid(m * m);
    unsigned s = 1;
    auto next = [&s] { return static_cast<float>((s = s * 1103515245u + 12345u) >> 8) / 16777216.0f; };
    for (float& v : kernel) v = next();
    for (float& v : grid) v = next();
    std::vector<double> conv, spec;
    for (int r = 0; r < 41; ++r) {
        double c0 = cpu_seconds();
        f.convolve(spectrum.data(), grid.data(), m, m, m, grid.data(), m);
        conv.push_back(cpu_seconds() - c0);
        c0 = cpu_seconds();
        f.even_spectrum(kernel.data(), spectrum.data());
        spec.push_back(cpu_seconds() - c0);
    }
    std::sort(conv.begin(), conv.end());
    std::sort(spec.begin(), spec.end());
    std::printf("L = %zu, M = %zu, %d threads: convolve %.2f ms CPU, even_spectrum %.2f ms CPU (medians of 41)\n", L, m,
                threads, 1e3 * conv[20], 1e3 * spec[20]);
    return 0;
}
