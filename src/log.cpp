#include "nembed/core/log.hpp"

#include <cstdio>
#include <mutex>

namespace nembed {
namespace {
std::mutex& sink_mutex() {
    static std::mutex m;
    return m;
}
LogSink& sink_ref() {
    static LogSink s;
    return s;
}
} // namespace

void set_log_sink(LogSink sink) {
    std::lock_guard<std::mutex> lock(sink_mutex());
    sink_ref() = std::move(sink);
}

void log(LogLevel level, const std::string& message) {
    std::lock_guard<std::mutex> lock(sink_mutex());
    if (sink_ref()) {
        sink_ref()(level, message);
        return;
    }
    if (level == LogLevel::debug) return;
    std::fprintf(stderr, "%s%s\n", level == LogLevel::warning ? "warning: " : "", message.c_str());
}
} // namespace nembed
