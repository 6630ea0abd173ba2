#pragma once
/// @file exclusive_pairs.hpp
/// Runs tasks that each own two resources (a pair of blocks, or one block twice) on several workers, never two tasks
/// that share a resource at once, without rounds or barriers. The exact kNN self-search uses it for its block pairs:
/// a round-robin tournament in rounds of disjoint pairs needed one fork-join per round (274 at 70 000 points), and on
/// a loaded machine a descheduled worker stalled every round's end; here a worker whose next pair is held by a
/// descheduled partner puts it aside and takes the next one, so only the partner's two blocks wait for it.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "nembed/core/parallel.hpp"

namespace nembed {

/// Calls fn(worker, t) exactly once for every t in [0, pairs.size()) on n_workers workers (worker in [0, n_workers)),
/// with resources pairs[t].first and pairs[t].second (both < n_resources; equal for a task on one resource) held
/// exclusively while it runs. Tasks are taken in their order from a shared cursor; a task whose resource is busy is
/// set aside and retried before the next new one, so tasks run roughly in order and a worker waits only at the end,
/// for a task of its own whose resource another worker holds. A resource is held only while its task runs, never
/// while waiting: no deadlock, also when the scheduler runs the workers one after another. The schedule (which task
/// runs when, on which worker) is not deterministic: callers whose results must not depend on it need tasks whose
/// outcome is independent of their order. After an exception the other workers stop taking tasks; the first
/// exception is rethrown (parallelize).
template <typename F>
void run_exclusive_pairs(int n_workers, std::size_t n_resources,
                         const std::vector<std::pair<std::size_t, std::size_t>>& pairs, F&& fn) {
    if (pairs.empty()) return;
    const auto busy = std::make_unique<std::atomic<bool>[]>(n_resources);  // value-initialised: false
    std::atomic<std::size_t> next{0};
    std::atomic<bool> failed{false};
    const auto workers = static_cast<std::size_t>(std::max(1, n_workers));
    parallelize(n_workers, workers, [&](int worker, std::size_t, std::size_t) {
        auto acquire = [&](std::size_t r) {
            return !busy[r].load(std::memory_order_relaxed) && !busy[r].exchange(true, std::memory_order_acquire);
        };
        // Runs task t if both its resources are free now; false (nothing held) if not.
        auto try_run = [&](std::size_t t) {
            const auto [a, b] = pairs[t];
            if (!acquire(a)) return false;
            if (b != a && !acquire(b)) {
                busy[a].store(false, std::memory_order_release);
                return false;
            }
            struct Release {
                std::atomic<bool>* busy;
                std::size_t a, b;
                ~Release() {
                    busy[a].store(false, std::memory_order_release);
                    if (b != a) busy[b].store(false, std::memory_order_release);
                }
            } release{busy.get(), a, b};
            try {
                fn(worker, t);
            } catch (...) {
                failed.store(true, std::memory_order_relaxed);
                throw;
            }
            return true;
        };
        std::vector<std::size_t> aside;
        auto retry_aside = [&] {
            std::size_t kept = 0;
            for (std::size_t t : aside)
                if (!try_run(t)) aside[kept++] = t;
            aside.resize(kept);
        };
        while (!failed.load(std::memory_order_relaxed)) {
            retry_aside();
            const std::size_t t = next.fetch_add(1, std::memory_order_relaxed);
            if (t >= pairs.size()) break;
            if (!try_run(t)) aside.push_back(t);
        }
        // Only tasks whose block another worker holds are left: yield, then nap, so that a worker waiting for a
        // descheduled partner does not keep a core the partner may need.
        for (int tries = 0; !aside.empty() && !failed.load(std::memory_order_relaxed); ++tries) {
            retry_aside();
            if (aside.empty()) break;
            if (tries < 64) {
                std::this_thread::yield();
            } else {
                std::this_thread::sleep_for(std::chrono::microseconds(50));
            }
        }
    });
}

} // namespace nembed
