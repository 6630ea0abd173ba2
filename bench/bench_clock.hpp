#pragma once
// Shared by the benchmarks: the process's CPU seconds (all threads), and the median of repeated measurements
// (the upper middle for an even count), which the machines' noise calls for.
#include <algorithm>
#include <ctime>
#include <vector>

namespace nembed::bench {

inline double cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

inline double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

} // namespace nembed::bench
