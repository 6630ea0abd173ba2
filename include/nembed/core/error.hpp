#pragma once
/// @file error.hpp
/// Exception types. Every bad input raises one of these with a message that names the problem.
#include <stdexcept>
#include <string>

namespace nembed {

/// A parameter or argument is invalid (maps to Python ValueError).
class InvalidArgument : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

/// A file could not be read or written, or its content is malformed (maps to Python ValueError / OSError).
class IoError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// A run was stopped by a callback or an interrupt request.
class Interrupted : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Throw InvalidArgument with `msg` unless `cond` holds.
inline void require(bool cond, const std::string& msg) {
    if (!cond) throw InvalidArgument(msg);
}

/// As `require`, but the message is built only on failure: for checks inside loops over every element.
template <typename MakeMessage>
inline void require_lazy(bool cond, MakeMessage&& make_message) {
    if (!cond) [[unlikely]] throw InvalidArgument(make_message());
}

} // namespace nembed
