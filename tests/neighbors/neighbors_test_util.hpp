#pragma once
// Helpers shared by the neighbour tests: a naive O(N^2) double-precision reference, random data and a tiny
// reader for the float32 .npy test data (C order, little-endian '<f4' only).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <fstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "nembed/core/matrix.hpp"
#include "nembed/core/random.hpp"
#include "nembed/neighbors/knn.hpp"
#include "nembed/neighbors/knn_graph.hpp"

namespace nembed::testing {

inline Matrix<float> random_matrix(std::size_t n, std::size_t d, std::uint64_t seed, double scale = 1.0) {
    Matrix<float> x(n, d);
    Rng rng(seed);
    for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = static_cast<float>(scale * rng.normal());
    return x;
}

inline double naive_distance(const float* a, const float* b, std::size_t d, Metric m) {
    double s = 0, na = 0, nb = 0;
    for (std::size_t t = 0; t < d; ++t) {
        double x = a[t], y = b[t];
        if (m == Metric::euclidean) s += (x - y) * (x - y);
        else s += x * y;
        na += x * x;
        nb += y * y;
    }
    if (m == Metric::euclidean) return std::sqrt(s);
    if (m == Metric::cosine) return (na > 0 && nb > 0) ? 1.0 - s / std::sqrt(na * nb) : 1.0;
    return 1.0 - s;
}

/// Full sorted (distance, index) list of every reference point for each query (self excluded if `self`).
struct NaiveKnn {
    std::vector<std::vector<std::pair<double, index_t>>> rows;
};

inline NaiveKnn naive_knn(MatrixView<float> ref, MatrixView<float> queries, bool self, Metric m, std::size_t keep) {
    NaiveKnn out;
    out.rows.resize(queries.rows);
    for (std::size_t i = 0; i < queries.rows; ++i) {
        auto& r = out.rows[i];
        for (std::size_t j = 0; j < ref.rows; ++j) {
            if (self && i == j) continue;
            r.emplace_back(naive_distance(queries.row(i), ref.row(j), ref.cols, m), static_cast<index_t>(j));
        }
        std::sort(r.begin(), r.end());
        r.resize(std::min(r.size(), keep));
    }
    return out;
}

/// Fraction of the true k neighbours found (set overlap per row, averaged).
inline double recall(const KnnGraph& approx, const KnnGraph& exact) {
    std::size_t hit = 0;
    std::vector<index_t> a, b;
    for (std::size_t i = 0; i < exact.n_points; ++i) {
        a.assign(approx.neighbors(i), approx.neighbors(i) + approx.k);
        b.assign(exact.neighbors(i), exact.neighbors(i) + exact.k);
        std::sort(a.begin(), a.end());
        std::sort(b.begin(), b.end());
        std::vector<index_t> c;
        std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(c));
        hit += c.size();
    }
    return static_cast<double>(hit) / static_cast<double>(exact.n_points * exact.k);
}

/// Minimal .npy reader for the float32 test matrices.
inline Matrix<float> read_npy_f32(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error("cannot open " + path);
    char magic[8];
    f.read(magic, 8);
    if (std::string(magic + 1, 5) != "NUMPY") throw std::runtime_error("not an npy file: " + path);
    std::size_t header_len = 0;
    if (magic[6] == 1) {
        unsigned char l[2];
        f.read(reinterpret_cast<char*>(l), 2);
        header_len = l[0] | (l[1] << 8);
    } else {
        unsigned char l[4];
        f.read(reinterpret_cast<char*>(l), 4);
        header_len = l[0] | (l[1] << 8) | (l[2] << 16) | (static_cast<std::size_t>(l[3]) << 24);
    }
    std::string header(header_len, '\0');
    f.read(header.data(), static_cast<std::streamsize>(header_len));
    if (header.find("'<f4'") == std::string::npos || header.find("'fortran_order': False") == std::string::npos)
        throw std::runtime_error("expected C-order <f4 in " + path);
    auto p = header.find("'shape': (");
    std::size_t rows = 0, cols = 0;
    if (std::sscanf(header.c_str() + p + 10, "%zu, %zu", &rows, &cols) != 2) throw std::runtime_error("bad shape");
    Matrix<float> m(rows, cols);
    f.read(reinterpret_cast<char*>(m.data()), static_cast<std::streamsize>(m.size() * sizeof(float)));
    if (!f) throw std::runtime_error("truncated " + path);
    return m;
}

} // namespace nembed::testing
