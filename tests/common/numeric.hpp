#pragma once
// Shared numeric helpers of the tests: random embeddings and data, bitwise comparison, central-difference gradient
// checks.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/core/random.hpp"

namespace nembed::test {

/// n × d embedding with N(0, sd²) entries from Rng(seed).
inline Matrix<double> random_y(std::size_t n, std::size_t d, double sd, std::uint64_t seed) {
    Matrix<double> Y(n, d);
    Rng rng(seed);
    for (std::size_t k = 0; k < Y.size(); ++k) Y.data()[k] = rng.normal() * sd;
    return Y;
}

/// n × D float rows with N(0, 1) entries from Rng(seed), shared (the parametrisations' data).
inline std::shared_ptr<const Matrix<float>> normal_rows(std::size_t n, std::size_t D, std::uint64_t seed = 3) {
    auto X = std::make_shared<Matrix<float>>(n, D);
    Rng rng(seed);
    for (std::size_t i = 0; i < X->size(); ++i) X->data()[i] = static_cast<float>(rng.normal());
    return X;
}

/// n × D float rows around three centres: row i has mean 3 at coordinate i % 3 (D >= 3), N(0, 1) noise from
/// Rng(seed) (a small clustered data set for the full-batch tests).
inline Matrix<float> three_blobs(std::size_t n, std::size_t D, std::uint64_t seed = 4) {
    Matrix<float> X(n, D);
    Rng rng(seed);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < D; ++j)
            X(i, j) = static_cast<float>(3.0 * static_cast<double>((i % 3) == j) + rng.normal());
    return X;
}

/// n × D Gaussian blobs with labels: row i in cluster i % k, centres 4·N(0, 1) then N(0, 1) noise, from Rng(seed).
inline Matrix<float> labelled_blobs(std::size_t n, std::size_t D, std::size_t k, std::vector<std::int64_t>& labels,
                                    std::uint64_t seed) {
    Rng rng(seed);
    Matrix<double> centres(k, D);
    for (std::size_t i = 0; i < centres.size(); ++i) centres.data()[i] = 4.0 * rng.normal();
    Matrix<float> X(n, D);
    labels.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        labels[i] = static_cast<std::int64_t>(i % k);
        for (std::size_t j = 0; j < D; ++j) X(i, j) = static_cast<float>(centres(i % k, j) + rng.normal());
    }
    return X;
}

/// The same shape and the same bytes.
inline bool same_bits(const Matrix<double>& a, const Matrix<double>& b) {
    return a.rows() == b.rows() && a.cols() == b.cols() &&
           std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

/// ‖num − factor·grad‖ / ‖num‖ with num the central difference (step 1e-5) of loss() in every entry of Y; Y is
/// restored. `factor` converts the library's gradient convention (openTSNE's KL gradient is a quarter of the true one).
template <typename F>
double relative_gradient_error(Matrix<double>& Y, const std::vector<double>& grad, double factor, F loss) {
    const double h = 1e-5;
    double err2 = 0, norm2 = 0;
    for (std::size_t k = 0; k < Y.size(); ++k) {
        const double orig = Y.data()[k];
        Y.data()[k] = orig + h;
        const double lp = loss();
        Y.data()[k] = orig - h;
        const double lm = loss();
        Y.data()[k] = orig;
        const double num = (lp - lm) / (2 * h);
        err2 += (num - factor * grad[k]) * (num - factor * grad[k]);
        norm2 += num * num;
    }
    return std::sqrt(err2 / norm2);
}

} // namespace nembed::test
