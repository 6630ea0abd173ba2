#pragma once
// The eight lanes of a fixed-order sum added in one fixed tree: the same IEEE operations whatever the vector width
// of the ISA clone that filled them (the kernels' sums stay independent of the machine and the thread count).
#include <cstddef>

namespace nembed {

inline constexpr std::size_t kSumLanes = 8;

[[gnu::always_inline]] inline double lane_sum(const double* acc) {
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

} // namespace nembed
