#pragma once
// BlasSerial: OpenBLAS's own threads off for a scope (restored after), where nembed's workers are the parallelism
// (the network's chunks, the exact kNN's block pairs): OpenBLAS's idle threads would spin, and a product split over
// its threads would not change the bits but would oversubscribe the cores. The setting is process-wide; it is
// changed only from the calling thread, outside the parallel region. Nothing without OpenBLAS.
#ifdef NEMBED_HAVE_OPENBLAS_GEMM
#include <cblas.h>
#endif

namespace nembed::detail {

struct BlasSerial {
#ifdef NEMBED_HAVE_OPENBLAS_GEMM
    int previous = openblas_get_num_threads();
    BlasSerial() {
        if (previous != 1) openblas_set_num_threads(1);
    }
    ~BlasSerial() {
        if (previous != 1) openblas_set_num_threads(previous);
    }
    BlasSerial(const BlasSerial&) = delete;
    BlasSerial& operator=(const BlasSerial&) = delete;
#endif
};

} // namespace nembed::detail
