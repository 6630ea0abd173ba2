#pragma once
// NEMBED_ISA_CLONES: a function compiled for AVX-512 (x86-64-v4), AVX2 (x86-64-v3) and the baseline, picked at run
// time (GCC's target_clones; nothing elsewhere). The library is built for the baseline, whose loops run 2 or 4 lanes
// wide. With -ffp-contract=off (CMakeLists.txt) an element-wise loop does the same operations in every clone, so
// the clones give the same bits; a reduction must fix its order itself. Files using a clone macro compile without
// trapping math (CMakeLists.txt finds them by their text): with it, GCC if-converts a select whose sides may trap only
// with AVX-512's masks, and the AVX2 clone of a branch-free loop stays scalar.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define NEMBED_ISA_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NEMBED_ISA_CLONES
#endif
