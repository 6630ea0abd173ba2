#pragma once
/// @file rows.hpp
/// Which rows each rank owns. Rows are cut into blocks of `kRowAlign` = 2048 (a multiple of every fixed block
/// size the single-process reductions use: 256 for Σ p log w, 1024 for the FFT's Z, 2048 for the PCA scatter and
/// column means), and rank r owns the consecutive blocks [r·B/R, (r+1)·B/R) of the B blocks. So every fixed block
/// of a reduction lies on one rank and the block partials, chained in rank order, are added in block order: the
/// same bits as one process (docs/mpi.md §determinism). A rank may own no rows (N < R·2048).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "nembed/core/error.hpp"

namespace nembed::dist {

inline constexpr std::size_t kRowAlign = 2048;

struct RowPartition {
    std::size_t n = 0;  ///< global rows
    int ranks = 1;

    RowPartition() = default;
    RowPartition(std::size_t n_rows, int n_ranks) : n(n_rows), ranks(n_ranks) {
        require(n_ranks >= 1, "RowPartition: the number of ranks must be >= 1, got " + std::to_string(n_ranks));
    }
    std::size_t blocks() const { return (n + kRowAlign - 1) / kRowAlign; }
    std::size_t begin(int r) const {
        const std::size_t b = blocks() * static_cast<std::size_t>(r) / static_cast<std::size_t>(ranks);
        return std::min(n, b * kRowAlign);
    }
    std::size_t end(int r) const { return r + 1 >= ranks ? n : begin(r + 1); }
    std::size_t count(int r) const { return end(r) - begin(r); }
    /// The rank owning global row i (i < n): the last rank starting at or before i (it is never empty).
    int owner(std::size_t i) const {
        int lo = 0, hi = ranks - 1;
        while (lo < hi) {
            const int mid = (lo + hi + 1) / 2;
            if (begin(mid) <= i) lo = mid;
            else hi = mid - 1;
        }
        return lo;
    }
};

} // namespace nembed::dist
