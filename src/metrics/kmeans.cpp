// Deterministic k-means++ + Lloyd, and TorchDR's kmeans_ari (see kmeans.hpp).
#include "nembed/metrics/kmeans.hpp"

#include <algorithm>
#include <limits>
#include <set>
#include <string>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/core/random.hpp"
#include "nembed/metrics/adjusted_rand.hpp"

namespace nembed {

namespace {

constexpr std::uint64_t kKMeansStreams = std::uint64_t(8) << 40;
constexpr std::size_t kBlock = 1024;  // points per partial centroid sum (independent of the thread count)

double sqdist(const double* a, const double* b, std::size_t d) {
    double s = 0;
    for (std::size_t c = 0; c < d; ++c) s += (a[c] - b[c]) * (a[c] - b[c]);
    return s;
}

// Nearest centre of every point (ties to the smaller centre) and its squared distance.
void assign(MatrixView<double> X, const Matrix<double>& C, std::vector<std::int64_t>& lab, std::vector<double>& d2,
            int n_threads) {
    const std::size_t K = C.rows(), D = X.cols;
    parallelize(n_threads, X.rows, [&](int, std::size_t b, std::size_t e) {
        for (std::size_t i = b; i < e; ++i) {
            double best = std::numeric_limits<double>::infinity();
            std::size_t arg = 0;
            for (std::size_t c = 0; c < K; ++c) {
                const double v = sqdist(X.row(i), C.row(c), D);
                if (v < best) {
                    best = v;
                    arg = c;
                }
            }
            lab[i] = static_cast<std::int64_t>(arg);
            d2[i] = best;
        }
    });
}

// k-means++: the first centre uniform, each next one with probability proportional to the squared distance to the
// nearest chosen centre (a uniform one when every point sits on a centre).
Matrix<double> seed_centres(MatrixView<double> X, std::size_t K, Rng& rng, int n_threads) {
    const std::size_t N = X.rows, D = X.cols;
    Matrix<double> C(K, D);
    std::vector<double> d2(N, std::numeric_limits<double>::infinity());
    std::size_t pick = static_cast<std::size_t>(rng.below(N));
    for (std::size_t c = 0; c < K; ++c) {
        std::copy(X.row(pick), X.row(pick) + D, C.row(c));
        if (c + 1 == K) break;
        parallelize(n_threads, N, [&](int, std::size_t b, std::size_t e) {
            for (std::size_t i = b; i < e; ++i) d2[i] = std::min(d2[i], sqdist(X.row(i), C.row(c), D));
        });
        double total = 0;
        for (double v : d2) total += v;
        if (!(total > 0)) {
            pick = static_cast<std::size_t>(rng.below(N));
            continue;
        }
        const double u = rng.uniform() * total;
        double acc = 0;
        pick = N;
        std::size_t last_positive = 0;
        for (std::size_t i = 0; i < N; ++i) {
            if (d2[i] > 0) last_positive = i;
            acc += d2[i];
            if (u < acc && d2[i] > 0) {
                pick = i;
                break;
            }
        }
        if (pick == N) pick = last_positive;  // u at the rounding edge of the total
    }
    return C;
}

// Centroids of the assignment, summed in fixed blocks of points added in block order. An empty cluster restarts at
// the point farthest from its centre (not already taken by another empty cluster).
void update_centres(MatrixView<double> X, const std::vector<std::int64_t>& lab, const std::vector<double>& d2,
                    Matrix<double>& C, int n_threads) {
    const std::size_t N = X.rows, D = X.cols, K = C.rows();
    const std::size_t n_blocks = (N + kBlock - 1) / kBlock;
    std::vector<double> part(n_blocks * K * D, 0.0);
    std::vector<std::size_t> part_n(n_blocks * K, 0);
    parallel_for(n_threads, n_blocks, [&](std::size_t blk) {
        double* s = part.data() + blk * K * D;
        std::size_t* cnt = part_n.data() + blk * K;
        for (std::size_t i = blk * kBlock; i < std::min(N, (blk + 1) * kBlock); ++i) {
            const auto c = static_cast<std::size_t>(lab[i]);
            for (std::size_t j = 0; j < D; ++j) s[c * D + j] += X(i, j);
            cnt[c]++;
        }
    });
    std::vector<double> sum(K * D, 0.0);
    std::vector<std::size_t> cnt(K, 0);
    for (std::size_t blk = 0; blk < n_blocks; ++blk) {
        for (std::size_t t = 0; t < K * D; ++t) sum[t] += part[blk * K * D + t];
        for (std::size_t c = 0; c < K; ++c) cnt[c] += part_n[blk * K + c];
    }
    std::vector<bool> taken(N, false);
    for (std::size_t c = 0; c < K; ++c) {
        if (cnt[c] > 0) {
            for (std::size_t j = 0; j < D; ++j) C(c, j) = sum[c * D + j] / static_cast<double>(cnt[c]);
            continue;
        }
        std::size_t far = 0;
        double worst = -1;
        for (std::size_t i = 0; i < N; ++i)
            if (!taken[i] && d2[i] > worst) {
                worst = d2[i];
                far = i;
            }
        taken[far] = true;
        std::copy(X.row(far), X.row(far) + D, C.row(c));
    }
}

} // namespace

KMeansResult kmeans(MatrixView<double> X, const KMeansOptions& o) {
    require(o.n_threads >= 1, "kmeans: n_threads must be >= 1");
    require(X.data != nullptr && X.rows > 0 && X.cols > 0, "kmeans: X is empty");
    require_finite(X, "kmeans: X");
    require(o.n_clusters >= 1, "kmeans: n_clusters must be at least 1, got " + std::to_string(o.n_clusters));
    require(o.n_clusters <= X.rows, "kmeans: n_clusters (" + std::to_string(o.n_clusters) +
                                        ") cannot be greater than n_samples (" + std::to_string(X.rows) + ")");
    require(o.niter >= 1, "kmeans: niter must be at least 1");
    require(o.nredo >= 1, "kmeans: nredo must be at least 1");
    const std::size_t N = X.rows;
    KMeansResult best;
    best.objective = std::numeric_limits<double>::infinity();
    for (std::size_t r = 0; r < o.nredo; ++r) {
        Rng rng(o.seed, kKMeansStreams + r);
        Matrix<double> C = seed_centres(X, o.n_clusters, rng, o.n_threads);
        std::vector<std::int64_t> lab(N, -1), prev;
        std::vector<double> d2(N);
        std::size_t it = 0;
        while (it < o.niter) {
            prev = lab;
            assign(X, C, lab, d2, o.n_threads);
            if (lab == prev) break;  // converged: the centroids would not move
            update_centres(X, lab, d2, C, o.n_threads);
            ++it;
        }
        assign(X, C, lab, d2, o.n_threads);  // the labels are the nearest final centroids (faiss's index.search)
        double obj = 0;
        for (double v : d2) obj += v;
        if (obj < best.objective) {
            best.labels = std::move(lab);
            best.centroids = std::move(C);
            best.objective = obj;
            best.n_iter = it;
        }
    }
    return best;
}

KMeansAri kmeans_ari(MatrixView<double> X, const std::vector<std::int64_t>& labels, KMeansOptions options) {
    require(X.data != nullptr && X.rows > 0, "kmeans_ari: X is empty");
    require(labels.size() == X.rows, "kmeans_ari: labels: " + std::to_string(labels.size()) + " labels for " +
                                         std::to_string(X.rows) + " samples");
    if (options.n_clusters == 0) options.n_clusters = std::set<std::int64_t>(labels.begin(), labels.end()).size();
    KMeansResult km = kmeans(X, options);
    KMeansAri out;
    out.ari = adjusted_rand_score(labels, km.labels);
    out.predicted = std::move(km.labels);
    return out;
}

} // namespace nembed
