#include "nembed/core/column_stats.hpp"

#include <algorithm>

#include "nembed/core/parallel.hpp"

namespace nembed {

void add_column_sums(MatrixView<float> X, std::vector<double>& acc, int n_threads) {
    constexpr std::size_t block_rows = 2048;  // fixed: results never depend on threads
    const std::size_t N = X.rows, D = X.cols;
    const std::size_t n_blocks = (N + block_rows - 1) / block_rows;
    std::vector<double> partial(n_blocks * D, 0.0);
    parallel_for(n_threads, n_blocks, [&](std::size_t blk) {
        double* s = partial.data() + blk * D;
        const std::size_t e = std::min(N, (blk + 1) * block_rows);
        for (std::size_t i = blk * block_rows; i < e; ++i) {
            const float* x = X.row(i);
            for (std::size_t c = 0; c < D; ++c) s[c] += static_cast<double>(x[c]);
        }
    });
    for (std::size_t blk = 0; blk < n_blocks; ++blk)
        for (std::size_t c = 0; c < D; ++c) acc[c] += partial[blk * D + c];
}

std::vector<double> column_means(MatrixView<float> X, int n_threads) {
    std::vector<double> mean(X.cols, 0.0);
    add_column_sums(X, mean, n_threads);
    for (double& m : mean) m /= static_cast<double>(X.rows);
    return mean;
}

} // namespace nembed
