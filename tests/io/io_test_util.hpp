#pragma once
// Helpers for the io tests: a private temporary directory, file writers, hand-made .npy images, and an
// assertion that a call throws IoError whose message contains given fragments.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "nembed/core/error.hpp"

namespace io_test {

class TempDir {
public:
    TempDir() {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        path_ = std::filesystem::temp_directory_path() /
                ("nembed_io_" + std::to_string(::getpid()) + "_" + (info ? info->name() : "x"));
        std::filesystem::remove_all(path_);
        std::filesystem::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    std::string file(const std::string& name) const { return (path_ / name).string(); }

private:
    std::filesystem::path path_;
};

inline void write_bytes(const std::string& path, const std::vector<unsigned char>& b) {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

inline void write_text(const std::string& path, const std::string& s) {
    std::ofstream f(path, std::ios::binary);
    f << s;
}

inline std::vector<unsigned char> read_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

/// A .npy image with the given header dict text (padded as numpy does) and raw data bytes.
inline std::vector<unsigned char> npy_image(const std::string& dict, const std::vector<unsigned char>& data,
                                            int major = 1) {
    std::string header = dict;
    const std::size_t prefix = major == 1 ? 10 : 12;
    const std::size_t total = (prefix + header.size() + 1 + 63) / 64 * 64;
    header.append(total - prefix - header.size() - 1, ' ');
    header += '\n';
    std::vector<unsigned char> out = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<unsigned char>(major), 0};
    for (std::size_t i = 0; i < prefix - 8; ++i) out.push_back(static_cast<unsigned char>((header.size() >> (8 * i)) & 0xFF));
    out.insert(out.end(), header.begin(), header.end());
    out.insert(out.end(), data.begin(), data.end());
    return out;
}

/// Raw bytes of values of type T, little- or big-endian.
template <typename T>
std::vector<unsigned char> raw(const std::vector<T>& v, bool big_endian = false) {
    std::vector<unsigned char> out(v.size() * sizeof(T));
    if (!v.empty()) std::memcpy(out.data(), v.data(), out.size());
    if (big_endian)
        for (std::size_t i = 0; i < v.size(); ++i)
            std::reverse(out.begin() + static_cast<std::ptrdiff_t>(i * sizeof(T)),
                         out.begin() + static_cast<std::ptrdiff_t>((i + 1) * sizeof(T)));
    return out;
}

/// The message of the IoError thrown by fn, or "" (and a test failure) if none was thrown.
template <typename F>
std::string io_error_of(F&& fn) {
    try {
        fn();
    } catch (const nembed::IoError& e) {
        return e.what();
    } catch (const std::exception& e) {
        ADD_FAILURE() << "expected IoError, got another exception: " << e.what();
        return "";
    }
    ADD_FAILURE() << "expected IoError, nothing was thrown";
    return "";
}

} // namespace io_test

/// Asserts that `stmt` throws nembed::IoError whose message contains every fragment.
#define EXPECT_IO_ERROR(stmt, ...)                                                                    \
    do {                                                                                              \
        const std::string msg_ = ::io_test::io_error_of([&] { (void)(stmt); });                       \
        for (const std::string& frag_ : std::vector<std::string>{__VA_ARGS__})                        \
            EXPECT_NE(msg_.find(frag_), std::string::npos) << "message: " << msg_ << "\nmissing: " << frag_; \
    } while (0)
