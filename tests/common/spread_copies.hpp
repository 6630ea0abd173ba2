#pragma once
// Widely spread test data, shared by the exact kNN's certification test and bench/bench_knn_exact.cpp: neighbours
// ~1 apart inside clusters thousands apart, where float32 distance keys lose the neighbour order.
#include <cmath>
#include <cstdint>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/core/random.hpp"

namespace nembed::test {

// n_copies copies of one n_base-point Gaussian set in d dims (sd 0.15: nearest neighbours about 1 apart), copy c
// moved by `spread` along its own random unit direction.
inline Matrix<float> spread_copies(std::size_t n_copies, std::size_t n_base, std::size_t d, double spread,
                                   std::uint64_t seed) {
    Rng rng(seed);
    std::vector<double> base(n_base * d);
    for (double& v : base) v = 0.15 * rng.normal();
    Matrix<float> x(n_copies * n_base, d);
    std::vector<double> dir(d);
    for (std::size_t c = 0; c < n_copies; ++c) {
        double nrm = 0;
        for (double& v : dir) {
            v = rng.normal();
            nrm += v * v;
        }
        nrm = std::sqrt(nrm);
        for (std::size_t i = 0; i < n_base; ++i)
            for (std::size_t t = 0; t < d; ++t)
                x(c * n_base + i, t) = static_cast<float>(base[i * d + t] + spread * dir[t] / nrm);
    }
    return x;
}

} // namespace nembed::test
