#pragma once
/// @file aligned.hpp
/// 64-byte aligned storage (a cache line, an AVX-512 vector, an AMX tile row): FFTW's SIMD codelets need aligned
/// arrays, and AMX tile loads of rows split across cache lines run at about half the rate.
#include <cstddef>
#include <new>
#include <vector>

namespace nembed {

template <typename T>
struct AlignedAllocator {
    using value_type = T;
    AlignedAllocator() = default;
    template <typename U>
    AlignedAllocator(const AlignedAllocator<U>&) {}
    T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(64))); }
    void deallocate(T* p, std::size_t) { ::operator delete(p, std::align_val_t(64)); }
    template <typename U>
    bool operator==(const AlignedAllocator<U>&) const { return true; }
};
template <typename T>
using AlignedVector = std::vector<T, AlignedAllocator<T>>;

} // namespace nembed
