#pragma once
/// @file strings.hpp
/// ASCII lower-casing for the case-insensitive parsers of option names (`parse_*`) and file extensions.
#include <cctype>
#include <string>

namespace nembed {

/// `s` with every ASCII letter in lower case (locale-independent).
inline std::string to_lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

} // namespace nembed
