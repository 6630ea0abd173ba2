#pragma once
/// @file vmath.hpp
/// exp, log and pow over blocks of values, vectorised (Eigen's packet math: SSE2 in the default build, one
/// polynomial per function, about 1 ulp in float; float exp is a plain polynomial loop with AVX-512/AVX2/SSE2
/// clones, < 2 ulp, about 5x libm's expf). The hot loops of the dense kernels (SNE's Gaussian, COSNE's
/// hyperbolic distance, Sinkhorn's rows, UMAP's D^b) spend most of their time in libm's scalar calls; these take a
/// row block at a time.
///
/// Every value goes through the same packet code: the block must start on a kAlign-byte boundary and hold a
/// multiple of kPad values (a `VBuffer` gives both: pad the tail with any finite value and ignore it). So a result
/// depends on its argument only, never on its position in the block or on the thread that computes it.
/// The bits equal libm's to within the stated error, not exactly (docs/torchdr.md, "Vectorised kernels").
#include <cstddef>
#include <memory>
#include <span>

namespace nembed::vmath {

inline constexpr std::size_t kAlign = 64;  ///< byte alignment of a block's start
inline constexpr std::size_t kPad = 16;    ///< a block's length must be a multiple of this

/// Rounds n up to a multiple of kPad.
constexpr std::size_t padded(std::size_t n) { return (n + kPad - 1) / kPad * kPad; }

/// In place, element-wise. Throws InvalidArgument when x is misaligned or its size is not a multiple of kPad.
/// exp flushes results below the smallest normal number to 0 (arguments below -87.33 in float, -708.39 in double).
void exp(std::span<float> x);
void exp(std::span<double> x);
/// Natural log: log(0) = -inf, log(negative) = NaN, as std::log.
void log(std::span<float> x);
void log(std::span<double> x);
/// x^b for x >= 0 (0^b = 0 for b > 0).
void pow(std::span<float> x, float b);
void pow(std::span<double> x, double b);

/// An aligned scratch block of T (float or double) whose size() is padded(n) (the padding is zero-filled on
/// resize): `resize(n)` once per row length, fill the first n values, call a function on `all()`.
template <typename T>
class VBuffer {
public:
    VBuffer() = default;
    explicit VBuffer(std::size_t n) { resize(n); }
    void resize(std::size_t n) {
        const std::size_t p = padded(n);
        if (p > capacity_) {
            data_.reset(static_cast<T*>(::operator new[](p * sizeof(T), std::align_val_t(kAlign))));
            capacity_ = p;
        }
        size_ = p;
        for (std::size_t i = n; i < p; ++i) data_.get()[i] = T(0);
    }
    T* data() { return data_.get(); }
    const T* data() const { return data_.get(); }
    T& operator[](std::size_t i) { return data_.get()[i]; }
    T operator[](std::size_t i) const { return data_.get()[i]; }
    std::size_t size() const { return size_; }
    std::span<T> all() { return {data_.get(), size_}; }

private:
    struct Free {
        void operator()(T* p) const { ::operator delete[](p, std::align_val_t(kAlign)); }
    };
    std::unique_ptr<T[], Free> data_;
    std::size_t capacity_ = 0, size_ = 0;
};

} // namespace nembed::vmath
