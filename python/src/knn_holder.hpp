#pragma once
// The Python-side handle on a built kNN index: the index, the data it was built on (kept for pickling and
// transform) and the options that rebuild it.
#include <memory>

#include "common.hpp"
#include "nembed/core/matrix.hpp"
#include "nembed/neighbors/knn.hpp"

namespace nembed_py {

struct KnnHolder {
    std::shared_ptr<const nembed::KnnIndex> index;
    std::shared_ptr<const nembed::Matrix<float>> data;
    nembed::KnnOptions options;
};

/// Copies `data` and builds the index chosen by `o` over it (GIL released, Ctrl-C honoured).
std::shared_ptr<KnnHolder> build_holder(F32Mat data, const nembed::KnnOptions& o, bool handle_sigint);

} // namespace nembed_py
