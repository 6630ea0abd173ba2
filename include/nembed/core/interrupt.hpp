#pragma once
/// @file interrupt.hpp
/// A process-wide interrupt request (set from a signal handler, e.g. Python's SIGINT) that long loops poll.
#include <atomic>

namespace nembed {
inline std::atomic<bool>& interrupt_flag() {
    static std::atomic<bool> flag{false};
    return flag;
}
inline void request_interrupt() { interrupt_flag().store(true); }
inline void clear_interrupt() { interrupt_flag().store(false); }
inline bool interrupt_requested() { return interrupt_flag().load(std::memory_order_relaxed); }
} // namespace nembed
