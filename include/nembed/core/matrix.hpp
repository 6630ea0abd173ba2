#pragma once
/// @file matrix.hpp
/// Dense row-major matrices: N points (rows) by D features (columns), as numpy's C order.
/// `Matrix` owns its storage; `MatrixView` is a cheap non-owning view used for inputs.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "nembed/core/error.hpp"

namespace nembed {

template <typename T>
struct MatrixView {
    const T* data = nullptr;
    std::size_t rows = 0;
    std::size_t cols = 0;
    const T* row(std::size_t i) const { return data + i * cols; }
    T operator()(std::size_t i, std::size_t j) const { return data[i * cols + j]; }
    std::size_t size() const { return rows * cols; }
};

template <typename T>
class Matrix {
public:
    Matrix() = default;
    Matrix(std::size_t rows, std::size_t cols, T fill = T(0)) : rows_(rows), cols_(cols), data_(rows * cols, fill) {}
    Matrix(std::size_t rows, std::size_t cols, std::vector<T> data) : rows_(rows), cols_(cols), data_(std::move(data)) {
        require(data_.size() == rows * cols, "Matrix: data size does not match rows*cols");
    }

    std::size_t rows() const { return rows_; }
    std::size_t cols() const { return cols_; }
    std::size_t size() const { return data_.size(); }
    bool empty() const { return data_.empty(); }
    T* data() { return data_.data(); }
    const T* data() const { return data_.data(); }
    T* row(std::size_t i) { return data_.data() + i * cols_; }
    const T* row(std::size_t i) const { return data_.data() + i * cols_; }
    T& operator()(std::size_t i, std::size_t j) { return data_[i * cols_ + j]; }
    T operator()(std::size_t i, std::size_t j) const { return data_[i * cols_ + j]; }
    std::vector<T>& storage() { return data_; }
    const std::vector<T>& storage() const { return data_; }

    MatrixView<T> view() const { return {data_.data(), rows_, cols_}; }
    operator MatrixView<T>() const { return view(); }

private:
    std::size_t rows_ = 0;
    std::size_t cols_ = 0;
    std::vector<T> data_;
};

/// Copy a view into an owning matrix of another element type.
template <typename To, typename From>
Matrix<To> convert(MatrixView<From> v) {
    Matrix<To> out(v.rows, v.cols);
    for (std::size_t i = 0; i < v.size(); ++i) out.data()[i] = static_cast<To>(v.data[i]);
    return out;
}

namespace detail {
/// Whether any of n values (read as U's bits) has every bit of `exponent` set (inf or NaN), without a branch per value.
template <typename U, typename T>
bool any_exponent_all_ones(const T* p, std::size_t n, U exponent) {
    static_assert(sizeof(U) == sizeof(T));
    U any = 0;
    for (std::size_t i = 0; i < n; ++i) {
        U u;
        std::memcpy(&u, p + i, sizeof u);
        any |= static_cast<U>((u & exponent) == exponent);
    }
    return any != 0;
}
} // namespace detail

/// Throws InvalidArgument naming `what` and the first offending entry if any value is NaN or infinite.
template <typename T>
void require_finite(MatrixView<T> v, const std::string& what) {
    // Blocks screened without a branch per value (the exponent bits all set: inf or NaN), which vectorises: a fit
    // checks its data at every entry point (paraDime's routines: 7 times 5 000 x 784 values, 2 % of a run). Only a
    // failing block is searched for the first bad value.
    constexpr std::size_t block = 4096;
    for (std::size_t b0 = 0; b0 < v.size(); b0 += block) {
        const std::size_t b1 = b0 + block < v.size() ? b0 + block : v.size();
        bool bad = true;
        if constexpr (std::is_same_v<T, float>)
            bad = detail::any_exponent_all_ones<std::uint32_t>(v.data + b0, b1 - b0, 0x7f800000u);
        else if constexpr (std::is_same_v<T, double>)
            bad = detail::any_exponent_all_ones<std::uint64_t>(v.data + b0, b1 - b0, 0x7ff0000000000000u);
        if (!bad) continue;
        for (std::size_t i = b0; i < b1; ++i) {
            if (std::isfinite(static_cast<double>(v.data[i]))) continue;
            throw InvalidArgument(what + ": non-finite value at row " + std::to_string(i / (v.cols ? v.cols : 1)) +
                                  ", column " + std::to_string(i % (v.cols ? v.cols : 1)));
        }
    }
}

/// The data a method is fitted to: at least 2 points with at least 1 feature, all finite; `who` names the method.
template <typename T>
void require_fit_data(MatrixView<T> X, const std::string& who) {
    require(X.rows >= 2 && X.cols >= 1, who + " needs at least 2 points with at least 1 feature");
    require_finite(X, "input data");
}

} // namespace nembed
