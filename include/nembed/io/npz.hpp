#pragma once
/// @file npz.hpp
/// NumPy .npz archives (ZIP files of .npy members, from np.savez / np.savez_compressed). Only the central
/// directory and the one requested member are read; deflated members are inflated with zlib and checked
/// against their CRC-32. ZIP64 size fields in member entries are understood; ZIP64 archives with more than
/// 65535 members or a central directory beyond 4 GiB are rejected with a clear message.
#include <string>
#include <vector>

#include "nembed/io/npy.hpp"

namespace nembed {

/// Member names as stored (e.g. "x.npy"), in archive order.
std::vector<std::string> npz_members(const std::string& path);

/// Reads one member. `member` may be given with or without ".npy"; an empty name selects the only member
/// (an error if there are several). A missing name is an IoError that lists the available members.
NdArray read_npz(const std::string& path, const std::string& member = "");

/// One member's raw .npy image (header and data), for members whose dtype NdArray does not hold (strings).
std::vector<unsigned char> read_npz_image(const std::string& path, const std::string& member);

} // namespace nembed
