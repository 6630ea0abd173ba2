#pragma once
// One thread in a library for a scope, where nembed's workers are the parallelism (the network's chunks, the exact
// kNN's block pairs): the library's own idle threads would spin, and a product split over them would not change the
// bits but would oversubscribe the cores. SerialScope<get, set> saves the library's thread count, sets 1 and restores
// it at the end; it is changed only from the calling thread, outside the parallel region.
#ifdef NEMBED_HAVE_OPENBLAS_GEMM
#include <cblas.h>
#endif

namespace nembed::detail {

template <auto Get, auto Set>
class SerialScope {
public:
    SerialScope() : previous_(Get()) {
        if (previous_ != 1) Set(1);
    }
    ~SerialScope() {
        if (previous_ != 1) Set(previous_);
    }
    SerialScope(const SerialScope&) = delete;
    SerialScope& operator=(const SerialScope&) = delete;

private:
    int previous_;
};

// BlasSerial: OpenBLAS's threads (a process-wide setting); nothing without OpenBLAS.
#ifdef NEMBED_HAVE_OPENBLAS_GEMM
using BlasSerial = SerialScope<openblas_get_num_threads, openblas_set_num_threads>;
#else
struct BlasSerial {};
#endif

} // namespace nembed::detail
