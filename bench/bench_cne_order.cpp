// CNE's epoch order alone (src/methods/bucket_shuffle.hpp, issue #21 item 2): n edges (head·2^32 + tail, sorted
// like a CSR graph's), cut into batches of b, written into the batches' head and tail slots as EdgeBatchPlan does —
// the order made in n_batches slices, as beside the batches. One thread; CPU milliseconds per epoch, median over the
// epochs, and each phase's share (count, copy, split and write), from separate runs of the phases.
//
//   bench_cne_order [--edges N] [--batch B] [--bucket-bytes K] [--epochs E]
//   (defaults: Fashion-MNIST's 1 564 334 directed edges at k 15, cne's 32 768, 131 072, 40)
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../src/methods/bucket_shuffle.hpp"  // private to the library
#include "bench_clock.hpp"

int main(int argc, char** argv) {
    std::size_t n = 1564334, B = 32768, bucket_bytes = nembed::detail::BucketShuffle::default_bucket_bytes;
    int epochs = 40;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        const auto v = std::strtoull(argv[i + 1], nullptr, 10);
        if (a == "--edges") n = v;
        else if (a == "--batch") B = v;
        else if (a == "--bucket-bytes") bucket_bytes = v;
        else if (a == "--epochs") epochs = static_cast<int>(v);
        else {
            std::fprintf(stderr, "unknown option %s\n", a.c_str());
            return 2;
        }
    }
    const std::size_t n_batches = (n + B - 1) / B, B_last = n - (n_batches - 1) * B, two_b = 2 * B;
    std::vector<std::uint64_t> edges(n);
    std::mt19937_64 g(1);
    for (auto& e : edges) e = ((g() % 70000) << 32) | (g() % 70000);
    std::sort(edges.begin(), edges.end());
    std::vector<std::uint32_t> slots(n_batches * two_b);
    // EdgeBatchPlan's writer: position p = bi·B + q to slot q (head) and b + q (tail) of batch bi
    auto write = [&](std::size_t p, const std::uint64_t* e, std::size_t count) {
        while (count > 0) {
            const std::size_t bi = p / B, q = p - bi * B, b = bi + 1 == n_batches ? B_last : B;
            const std::size_t k = std::min(count, b - q);
            std::uint32_t* heads = slots.data() + bi * two_b + q;
            for (std::size_t t = 0; t < k; ++t) {
                heads[t] = static_cast<std::uint32_t>(e[t] >> 32);
                heads[b + t] = static_cast<std::uint32_t>(e[t]);
            }
            p += k;
            e += k;
            count -= k;
        }
    };
    auto streams = [](std::uint64_t epoch) { return [epoch](std::uint64_t item) { return epoch * 1000003 + item; }; };
    nembed::detail::BucketShuffle order(edges, B, 42, streams(0), bucket_bytes);
    const std::size_t slice = (3 * n + n_batches - 1) / n_batches;
    std::vector<double> whole, count, copy, split;
    std::uint64_t check = 0;
    for (int ep = 0; ep < epochs; ++ep) {
        order.restart(streams(static_cast<std::uint64_t>(ep)));
        double t0 = nembed::bench::cpu_seconds();
        for (std::size_t bi = 0; bi < n_batches; ++bi) order.run(slice, write);
        order.run(~std::size_t(0), write);
        whole.push_back(nembed::bench::cpu_seconds() - t0);
        order.restart(streams(static_cast<std::uint64_t>(ep)));
        t0 = nembed::bench::cpu_seconds();
        order.run(n, write);
        const double t1 = nembed::bench::cpu_seconds();
        order.run(n, write);
        const double t2 = nembed::bench::cpu_seconds();
        order.run(~std::size_t(0), write);
        const double t3 = nembed::bench::cpu_seconds();
        count.push_back(t1 - t0);
        copy.push_back(t2 - t1);
        split.push_back(t3 - t2);
        for (std::size_t i = 0; i < slots.size(); i += 4099) check += slots[i];
    }
    using nembed::bench::median;
    std::printf("%zu edges, batches of %zu, %zu buckets: %.3f ms per epoch (count %.3f, copy %.3f, split and "
                "write %.3f); check %llu\n",
                n, B, order.n_buckets(), 1e3 * median(whole), 1e3 * median(count), 1e3 * median(copy),
                1e3 * median(split), static_cast<unsigned long long>(check));
}
