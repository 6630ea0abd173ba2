// Memory bandwidth of this machine, stream-like: a read-only sum and a triad c = a + 3 b over 512 MiB arrays, with
// 1 and 2 threads (medians of 5). The bound each t-SNE phase is compared with in bench/RESULTS.md (issue #21).
// The read sum has one accumulator per thread, so it is latency bound (an add chain); the triad counts 24 B per
// element (no write-allocate), the usual STREAM convention.
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>
#include <algorithm>
int main(){
  const size_t n = size_t{1} << 26; // 64 Mi doubles = 512 MiB per array
  std::vector<double> a(n, 1.0), b(n, 2.0), c(n, 0.0);
  for (int T : {1, 2}) {
    std::vector<double> rd, tr;
    for (int rep = 0; rep < 5; ++rep) {
      double sums[2] = {0, 0};
      auto t0 = std::chrono::steady_clock::now();
      { std::vector<std::thread> th; for (int t = 0; t < T; ++t) th.emplace_back([&, t]{ double s = 0; for (size_t i = n*t/T; i < n*(t+1)/T; ++i) s += a[i]; sums[t] = s; }); for (auto& x : th) x.join(); }
      auto t1 = std::chrono::steady_clock::now();
      { std::vector<std::thread> th; for (int t = 0; t < T; ++t) th.emplace_back([&, t]{ for (size_t i = n*t/T; i < n*(t+1)/T; ++i) c[i] = a[i] + 3.0*b[i]; }); for (auto& x : th) x.join(); }
      auto t2 = std::chrono::steady_clock::now();
      rd.push_back(8.0*n/std::chrono::duration<double>(t1-t0).count()/1e9);
      tr.push_back(24.0*n/std::chrono::duration<double>(t2-t1).count()/1e9);
      if (sums[0] < 0) std::puts("x");  // keeps the sum alive
    }
    std::sort(rd.begin(), rd.end()); std::sort(tr.begin(), tr.end());
    std::printf("threads %d: read %.1f GB/s (median of 5, best %.1f); triad %.1f GB/s (median, best %.1f)\n", T, rd[2], rd[4], tr[2], tr[4]);
  }
}
