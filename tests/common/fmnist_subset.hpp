#pragma once
// The committed Fashion-MNIST test subset (tests/data/fmnist_4000_*.npy: 4000 images, PCA-50, and their labels),
// loaded once per test executable.
#include <cstdint>
#include <string>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/io/npy.hpp"

namespace nembed::testing {

struct Fmnist {
    Matrix<float> X;
    std::vector<std::int64_t> labels;
};

inline const Fmnist& fmnist() {
    static Fmnist f = [] {
        Fmnist r;
        NdArray x = read_npy(std::string(NEMBED_TEST_DATA_DIR) + "/fmnist_4000_pca50.npy");
        r.X = Matrix<float>(x.shape.at(0), x.shape.at(1));
        x.copy_to(r.X.data());
        NdArray lab = read_npy(std::string(NEMBED_TEST_DATA_DIR) + "/fmnist_4000_labels.npy");
        r.labels.resize(lab.size());
        lab.copy_to(r.labels.data());
        return r;
    }();
    return f;
}

} // namespace nembed::testing
