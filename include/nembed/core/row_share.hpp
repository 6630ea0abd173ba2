#pragma once
/// @file row_share.hpp
/// The seam through which full-batch computations run distributed (dist/, docs/mpi.md) without depending on MPI:
/// a process owns rows [begin, end) of N and combines partial results with a `RowFold`, a chained reduction in a
/// fixed order (dist::ordered_fold). A single process owns all rows and its fold just runs add_own once, so the
/// single-process computation is the distributed one with one rank.
#include <cstddef>
#include <functional>

namespace nembed {

/// Runs add_own(first) on the `bytes` at `data` once per process in rank order, each process starting from the
/// value left by the previous one (first: the first process, which starts from the value already there); every
/// process ends with the final value.
using RowFold = std::function<void(void* data, std::size_t bytes, const std::function<void(bool first)>& add_own)>;

struct RowShare {
    std::size_t begin = 0, end = 0;  ///< the rows this process owns (begin on a multiple of every fixed block size)
    RowFold fold;                    ///< empty: a single process (add_own runs once, first = true)

    std::size_t count() const { return end - begin; }
    void run_fold(void* data, std::size_t bytes, const std::function<void(bool first)>& add_own) const {
        if (fold) fold(data, bytes, add_own);
        else add_own(true);
    }
    /// All rows [0, n) of one process.
    static RowShare all(std::size_t n) { return RowShare{0, n, {}}; }
};

} // namespace nembed
