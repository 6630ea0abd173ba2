// rescale, jitter, random, user and PCA initialisations.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "nembed/core/error.hpp"
#include "nembed/core/log.hpp"
#include "nembed/core/random.hpp"
#include "nembed/init/pca.hpp"
#include "nembed/init/pca_init.hpp"
#include "nembed/init/random.hpp"
#include "nembed/init/rescale.hpp"
#include "nembed/init/user.hpp"

namespace nembed {

namespace {
// Stream families so that the same seed never reuses a stream across purposes.
constexpr std::uint64_t kRandomInitStreams = 0;
constexpr std::uint64_t kJitterStreams = std::uint64_t(1) << 40;
} // namespace

double column_std(MatrixView<double> Y, std::size_t col) {
    require(Y.data != nullptr && Y.rows > 0 && Y.cols > 0, "column_std: the embedding is empty");
    require(col < Y.cols, "column_std: column " + std::to_string(col) + " out of range (" + std::to_string(Y.cols) +
                              " columns)");
    double mean = 0.0;
    for (std::size_t i = 0; i < Y.rows; ++i) mean += Y(i, col);
    mean /= static_cast<double>(Y.rows);
    double ss = 0.0;
    for (std::size_t i = 0; i < Y.rows; ++i) {
        const double d = Y(i, col) - mean;
        ss += d * d;
    }
    return std::sqrt(ss / static_cast<double>(Y.rows));
}

void rescale(Matrix<double>& Y, double target_std) {
    require(std::isfinite(target_std) && target_std > 0.0, "rescale: target_std must be positive and finite");
    require(!Y.empty(), "rescale: the embedding is empty");
    require_finite(Y.view(), "rescale: embedding");
    const double s = column_std(Y.view(), 0);
    require(s > 0.0, "rescale: the first column of the embedding is constant (standard deviation 0); "
                     "cannot rescale it");
    const double f = target_std / s;
    for (double& v : Y.storage()) v *= f;
}

void jitter(Matrix<double>& Y, double scale, std::uint64_t seed) {
    require(std::isfinite(scale) && scale >= 0.0, "jitter: scale must be finite and non-negative");
    require(!Y.empty(), "jitter: the embedding is empty");
    if (scale == 0.0) return;
    const double sd = scale * column_std(Y.view(), 0);
    for (std::size_t i = 0; i < Y.rows(); ++i) {
        Rng rng(seed, kJitterStreams + i);
        double* y = Y.row(i);
        for (std::size_t c = 0; c < Y.cols(); ++c) y[c] += sd * rng.normal();
    }
}

Matrix<double> random_init(std::size_t n, std::size_t n_components, std::uint64_t seed, double std) {
    require(n >= 1, "random_init: the number of points must be at least 1");
    require(n_components >= 1, "random_init: n_components must be at least 1");
    require(std::isfinite(std) && std > 0.0, "random_init: std must be positive and finite");
    Matrix<double> Y(n, n_components);
    for (std::size_t i = 0; i < n; ++i) {
        Rng rng(seed, kRandomInitStreams + i);
        for (std::size_t c = 0; c < n_components; ++c) Y(i, c) = std * rng.normal();
    }
    return Y;
}

void check_init_spread(MatrixView<double> Y0, const std::string& what) {
    if (Y0.rows < 2) return;
    for (std::size_t c = 0; c < Y0.cols; ++c) {
        double lo = Y0(0, c), hi = lo;
        for (std::size_t i = 1; i < Y0.rows; ++i) {
            lo = std::min(lo, Y0(i, c));
            hi = std::max(hi, Y0(i, c));
        }
        // "constant" up to the last few bits of the values: no gradient can tell the points apart there either
        if (hi - lo > 1e-12 * std::max(std::abs(lo), std::abs(hi))) continue;
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.17g", lo);
        const std::string col = "column " + std::to_string(c) + " of " + std::to_string(Y0.cols);
        throw InvalidArgument(
            what + " is degenerate: " + col + " is the same (" + buf + ") for all " + std::to_string(Y0.rows) +
            " points" +
            "; every gradient is along differences of positions, so the map could never spread in that direction "
            "(all points would stay at one place). Give an initialisation whose every column varies across the "
            "points, or use the pca, spectral or random initialisation");
    }
}

Matrix<double> user_init(MatrixView<double> Y0, std::size_t n_expected, std::size_t n_components, bool warn_wide) {
    require(Y0.data != nullptr && Y0.rows > 0 && Y0.cols > 0, "initial embedding is empty");
    require(Y0.rows == n_expected, "initial embedding has " + std::to_string(Y0.rows) + " rows, expected " +
                                       std::to_string(n_expected) + " (one per point)");
    require(n_components == 0 || Y0.cols == n_components,
            "initial embedding has " + std::to_string(Y0.cols) + " columns, expected n_components = " +
                std::to_string(n_components));
    require_finite(Y0, "initial embedding");
    check_init_spread(Y0, "the initial embedding");
    const double s = column_std(Y0, 0);
    if (warn_wide && s > user_init_std_warning) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.3g", s);
        warn(std::string("initial embedding has a standard deviation of ") + buf +
             " in its first column; t-SNE may converge poorly from such a wide start: consider rescaling it to 1e-4 "
             "(nembed::rescale)");
    }
    Matrix<double> Y(Y0.rows, Y0.cols);
    std::copy(Y0.data, Y0.data + Y0.size(), Y.data());
    return Y;
}

Matrix<double> pca_init(MatrixView<float> X, std::size_t n_components, bool add_jitter, std::uint64_t seed,
                        int n_threads, double target_std) {
    PcaResult res = pca(X, n_components, n_threads);
    return pca_init_from_scores(res.scores.view(), add_jitter, seed, target_std);
}

Matrix<double> pca_init_from_scores(MatrixView<float> scores, bool add_jitter, std::uint64_t seed,
                                    double target_std) {
    Matrix<double> Y = convert<double>(scores);
    if (column_std(Y.view(), 0) == 0.0)
        throw InvalidArgument("pca_init: the data have zero variance (all points identical); use random_init");
    rescale(Y, target_std);
    if (add_jitter) jitter(Y, 0.01, seed);
    return Y;
}

} // namespace nembed
