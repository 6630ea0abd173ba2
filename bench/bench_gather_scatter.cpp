// The memory bound of CNE's batch step (issue #21 item 2): per head the fused kernel reads 7 random 2-D positions
// (head, partner, 5 negatives) and adds 7 contributions into a per-point fixed-point accumulator. This loop does
// only that — blocks of 448 random indices (64 heads x 7), positions gathered with a prefetch 28 ahead, then the
// read-modify-write of the accumulator — for positions in double or float and accumulators in int64 or int32, at
// n = 17 500 (everything in L2), 70 000 (Fashion-MNIST) and 280 000 points. Best of 7 passes over 2.3 M accesses;
// nanoseconds per access (one gather and one add).
//
//   bench_gather_scatter
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

namespace {
template <typename TY, typename TA>
double ns_per_access(std::size_t n, const std::vector<std::uint32_t>& draws) {
    std::vector<TY> Y(2 * n, TY(1));
    std::vector<TA> A(2 * n, 0);
    std::vector<std::uint32_t> idx(draws.size());
    for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<std::uint32_t>(draws[i] % n);
    constexpr std::size_t block = 448, ahead = 28;
    std::vector<double> buf(2 * block);
    double best = 1e300;
    for (int r = 0; r < 7; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        for (std::size_t b = 0; b + block <= idx.size(); b += block) {
            const std::uint32_t* p = idx.data() + b;
            for (std::size_t i = 0; i < block; ++i) {
                if (i + ahead < block) {
                    __builtin_prefetch(&Y[2 * std::size_t(p[i + ahead])]);
                    __builtin_prefetch(&A[2 * std::size_t(p[i + ahead])], 1);
                }
                buf[2 * i] = static_cast<double>(Y[2 * std::size_t(p[i])]);
                buf[2 * i + 1] = static_cast<double>(Y[2 * std::size_t(p[i]) + 1]);
            }
            for (std::size_t i = 0; i < block; ++i) {
                A[2 * std::size_t(p[i])] += static_cast<TA>(buf[2 * i] * 1000);
                A[2 * std::size_t(p[i]) + 1] += static_cast<TA>(buf[2 * i + 1] * 1000);
            }
        }
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    long double check = 0;
    for (TA a : A) check += static_cast<long double>(a);
    if (check == 42) std::printf(" ");
    return best * 1e9 / static_cast<double>(idx.size());
}
} // namespace

int main() {
    std::mt19937 g(1);
    std::vector<std::uint32_t> draws(7 * 32768 * 10);
    for (auto& x : draws) x = static_cast<std::uint32_t>(g());
    for (std::size_t n : {17500u, 70000u, 280000u})
        std::printf("n = %zu: ns per access  double/int64 %.2f  float/int64 %.2f  float/int32 %.2f\n", n,
                    ns_per_access<double, std::int64_t>(n, draws), ns_per_access<float, std::int64_t>(n, draws),
                    ns_per_access<float, std::int32_t>(n, draws));
    return 0;
}
