#pragma once
/// @file parallel.hpp
/// The one parallel-for used everywhere. Work is split into contiguous ranges that depend only on the number of
/// tasks and workers; reductions that must not depend on the thread count use `fixed_block_sum`, whose blocks
/// depend only on the problem size.
///
/// Define NEMBED_CUSTOM_PARALLEL to a callable `(int n_workers, std::size_t n_tasks, fn)` before including this
/// header to replace the OpenMP implementation (e.g. with a host application's thread pool).
#include <algorithm>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "nembed/core/error.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace nembed {

/// openTSNE / joblib convention: n_jobs > 0 is used as is, -1 means all cores, -2 all but one, and so on.
inline int resolve_threads(int n_jobs) {
    int hw = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    require(n_jobs != 0, "n_jobs must be a positive integer or negative (-1 = all cores), got 0");
    if (n_jobs > 0) return n_jobs;
    return std::max(1, hw + 1 + n_jobs);
}

/// Calls fn(worker, begin, end) for `n_workers` contiguous ranges covering [0, n_tasks).
/// Exceptions thrown by fn are rethrown (the first one) after all workers finish.
template <typename F>
void parallelize(int n_workers, std::size_t n_tasks, F&& fn) {
    if (n_tasks == 0) return;
    std::size_t workers = static_cast<std::size_t>(std::max(1, n_workers));
    workers = std::min(workers, n_tasks);
#if defined(NEMBED_CUSTOM_PARALLEL)
    NEMBED_CUSTOM_PARALLEL(static_cast<int>(workers), n_tasks, fn);
#else
    if (workers == 1) {
        fn(0, std::size_t(0), n_tasks);
        return;
    }
    const std::size_t chunk = n_tasks / workers, extra = n_tasks % workers;
    std::exception_ptr error;
    std::mutex error_mutex;
    auto run_worker = [&](std::size_t w) {
        std::size_t begin = w * chunk + std::min(w, extra);
        std::size_t end = begin + chunk + (w < extra ? 1 : 0);
        try {
            fn(static_cast<int>(w), begin, end);
        } catch (...) {
            std::lock_guard<std::mutex> lock(error_mutex);
            if (!error) error = std::current_exception();
        }
    };
#if defined(_OPENMP)
#pragma omp parallel for num_threads(static_cast<int>(workers)) schedule(static, 1)
    for (long long w = 0; w < static_cast<long long>(workers); ++w) run_worker(static_cast<std::size_t>(w));
#else
    std::vector<std::thread> threads;
    threads.reserve(workers - 1);
    for (std::size_t w = 1; w < workers; ++w) threads.emplace_back(run_worker, w);
    run_worker(0);
    for (auto& t : threads) t.join();
#endif
    if (error) std::rethrow_exception(error);
#endif
}

/// Calls fn(i) for every i in [0, n) using `n_workers` workers.
template <typename F>
void parallel_for(int n_workers, std::size_t n, F&& fn) {
    parallelize(n_workers, n, [&](int, std::size_t b, std::size_t e) {
        for (std::size_t i = b; i < e; ++i) fn(i);
    });
}

/// Deterministic parallel sum: [0, n) is cut into blocks of `block` items (independent of the thread count),
/// fn(begin, end) returns each block's partial sum, and partials are added in block order.
template <typename F>
double fixed_block_sum(int n_workers, std::size_t n, F&& fn, std::size_t block = 1024) {
    if (n == 0) return 0.0;
    const std::size_t n_blocks = (n + block - 1) / block;
    std::vector<double> partial(n_blocks, 0.0);
    parallel_for(n_workers, n_blocks, [&](std::size_t b) {
        partial[b] = fn(b * block, std::min(n, (b + 1) * block));
    });
    double s = 0.0;
    for (double p : partial) s += p;
    return s;
}

} // namespace nembed
