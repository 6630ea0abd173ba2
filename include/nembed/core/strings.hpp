#pragma once
/// @file strings.hpp
/// ASCII lower-casing for the case-insensitive parsers of option names (`parse_*`) and file extensions; short
/// numbers for messages.
#include <cctype>
#include <cstdio>
#include <string>

namespace nembed {

/// `s` with every ASCII letter in lower case (locale-independent).
inline std::string to_lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

/// `v` with `digits` significant digits (%g) for messages: std::to_string prints 1e300 with 300 digits and 1e-9
/// as 0.000000.
inline std::string short_number(double v, int digits = 6) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.*g", digits, v);
    return buf;
}

} // namespace nembed
