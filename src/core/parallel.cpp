#include "nembed/core/parallel.hpp"

#include <sched.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>

#include "nembed/core/error.hpp"
#include "nembed/core/log.hpp"

namespace nembed {

namespace {

/// CPUs allowed by a cgroup quota (v2 cpu.max, else v1 cfs_quota/period), rounded up; 0 when there is none.
int cgroup_cpu_limit() {
    double quota = -1, period = -1;
    if (std::ifstream v2("/sys/fs/cgroup/cpu.max"); v2) {
        std::string q;
        if (v2 >> q >> period && q != "max") quota = std::strtod(q.c_str(), nullptr);
    } else {
        std::ifstream q1("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), p1("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
        if (!(q1 >> quota && p1 >> period)) quota = -1;
    }
    if (quota <= 0 || period <= 0) return 0;
    return std::max(1, static_cast<int>(std::ceil(quota / period)));
}

int count_available_cores() {
    int cores = 0;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0) cores = CPU_COUNT(&set);
    if (cores <= 0) cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    if (int limit = cgroup_cpu_limit(); limit > 0) cores = std::min(cores, limit);
    return std::max(1, cores);
}

bool oversubscription_allowed() {
    const char* v = std::getenv("NEMBED_OVERSUBSCRIBE");
    return v && *v && std::string(v) != "0";
}

} // namespace

int available_cores() {
    static const int cores = count_available_cores();
    return cores;
}

int resolve_threads(int n_jobs) {
    require(n_jobs != 0, "n_jobs must be a positive integer or negative (-1 = all cores), got 0");
    const int cores = available_cores();
    if (n_jobs < 0) return std::max(1, cores + 1 + std::max(n_jobs, -cores - 1));
    if (n_jobs <= cores || oversubscription_allowed()) return n_jobs;
    static std::atomic<bool> warned{false};
    if (!warned.exchange(true))
        warn("n_jobs = " + std::to_string(n_jobs) + " exceeds the " + std::to_string(cores) +
             " cores available to this process; using " + std::to_string(cores));
    return cores;
}

namespace detail {

void run_workers(std::size_t n_workers, void (*run)(void*, std::size_t), void* context) {
    // One task per worker range (grain 1, simple partitioner): which thread runs a range never changes what it
    // computes. Ranges beyond the scheduler's thread count simply run one after another.
    tbb::parallel_for(
        tbb::blocked_range<std::size_t>(0, n_workers, 1),
        [&](const tbb::blocked_range<std::size_t>& r) {
            for (std::size_t w = r.begin(); w != r.end(); ++w) run(context, w);
        },
        tbb::simple_partitioner());
}

} // namespace detail

} // namespace nembed
