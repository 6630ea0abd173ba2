#pragma once
/// @file parallel.hpp
/// The one parallel-for used everywhere. Work is split into contiguous ranges that depend only on the number of
/// tasks and workers; reductions that must not depend on the thread count use `fixed_block_sum`, whose blocks
/// depend only on the problem size.
///
/// Define NEMBED_CUSTOM_PARALLEL to a callable `(int n_workers, std::size_t n_tasks, fn)` before including this
/// header to replace the oneTBB implementation (e.g. with a host application's thread pool).
#include <algorithm>
#include <cstddef>
#include <exception>
#include <type_traits>
#include <vector>

namespace nembed {

/// Cores this process may actually run on: the CPU affinity mask, capped by a cgroup CPU quota (containers, Slurm)
/// when one is set. At least 1; computed once.
int available_cores();

/// openTSNE / joblib convention: n_jobs > 0 is used as is, -1 means all available cores, -2 all but one, and so on.
/// A positive n_jobs above available_cores() is capped there with one warning: more threads than cores only add
/// descheduled partners to wait for (results do not depend on the thread count). Setting the environment variable
/// NEMBED_OVERSUBSCRIBE=1 lifts the cap (the thread-count tests use it to check that 3 or 9 workers give the same
/// bits on a 2-core machine).
int resolve_threads(int n_jobs);

namespace detail {
/// Runs run(context, w) for every w in [0, n_workers) on oneTBB's work-stealing scheduler and returns when all
/// have run. Its workers sleep when out of work instead of spinning at a barrier, so a loaded or oversubscribed
/// machine slows a run down in proportion to the lost CPU time rather than by orders of magnitude (an OpenMP team
/// spinning while its partners were descheduled made -j 2 ten to twenty times slower than -j 1).
void run_workers(std::size_t n_workers, void (*run)(void* context, std::size_t worker), void* context);
} // namespace detail

/// Calls fn(worker, begin, end) for `n_workers` contiguous ranges covering [0, n_tasks). The ranges depend only on
/// n_tasks and n_workers, never on which thread runs them. Exceptions thrown by fn are rethrown (the first one, by
/// worker index) after all workers finish.
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
    struct Context {
        std::remove_reference_t<F>* fn;
        std::size_t chunk, extra;
        std::vector<std::exception_ptr> errors;
    } ctx{&fn, n_tasks / workers, n_tasks % workers, std::vector<std::exception_ptr>(workers)};
    detail::run_workers(workers, [](void* c, std::size_t w) {
        auto& x = *static_cast<Context*>(c);
        const std::size_t begin = w * x.chunk + std::min(w, x.extra);
        const std::size_t end = begin + x.chunk + (w < x.extra ? 1 : 0);
        try {
            (*x.fn)(static_cast<int>(w), begin, end);
        } catch (...) {
            x.errors[w] = std::current_exception();
        }
    }, &ctx);
    for (auto& e : ctx.errors)
        if (e) std::rethrow_exception(e);
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
