#pragma once
/// @file log.hpp
/// Warnings and progress messages go through one replaceable sink (stderr by default), so the CLI can silence
/// them and the Python package can turn warnings into Python warnings.
#include <functional>
#include <string>

namespace nembed {

enum class LogLevel { debug, info, warning };

using LogSink = std::function<void(LogLevel, const std::string&)>;

/// Replaces the sink; pass an empty function to restore the default (stderr, warnings and info).
void set_log_sink(LogSink sink);
/// Sends a message to the sink.
void log(LogLevel level, const std::string& message);
inline void warn(const std::string& message) { log(LogLevel::warning, message); }
inline void info(const std::string& message) { log(LogLevel::info, message); }

} // namespace nembed
