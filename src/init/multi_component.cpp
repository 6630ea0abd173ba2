// umap-learn's layout of a disconnected graph: components placed by a meta layout, each with its own eigenmap.
#include "nembed/init/multi_component.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

#include "nembed/core/error.hpp"
#include "nembed/core/log.hpp"
#include "nembed/init/spectral.hpp"
#include "nembed/repulsion/negative_sampling.hpp"

namespace nembed {

GraphComponents connected_components(const CsrMatrix<double>& graph) {
    require(graph.n_rows == graph.n_cols, "connected_components: the graph must be square");
    graph.validate("connected_components: graph");
    const std::size_t n = graph.n_rows;
    std::vector<std::size_t> parent(n);
    std::iota(parent.begin(), parent.end(), std::size_t(0));
    auto find = [&](std::size_t x) {
        while (parent[x] != x) x = parent[x] = parent[parent[x]];
        return x;
    };
    for (std::size_t i = 0; i < n; ++i)
        for (offset_t p = graph.indptr[i]; p < graph.indptr[i + 1]; ++p) {
            const std::size_t a = find(i), b = find(static_cast<std::size_t>(graph.indices[p]));
            // The smaller index stays the root, so a root is its component's smallest point.
            if (a != b) parent[std::max(a, b)] = std::min(a, b);
        }
    GraphComponents c;
    c.labels.assign(n, 0);
    std::vector<std::size_t> label_of_root(n, std::numeric_limits<std::size_t>::max());
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t r = find(i);
        if (label_of_root[r] == std::numeric_limits<std::size_t>::max()) label_of_root[r] = c.count++;
        c.labels[i] = label_of_root[r];
    }
    return c;
}

SpectralOptions laplacian_eigenmap_options(std::uint64_t seed, int n_threads) {
    SpectralOptions so;
    so.seed = seed;
    so.n_threads = n_threads;
    so.add_jitter = false;
    so.float_operator = true;
    so.ncv = 12;
    return so;
}

std::optional<Matrix<double>> laplacian_eigenmap(const CsrMatrix<double>& A, std::size_t dim, std::uint64_t seed,
                                                 int n_threads, std::string* why) {
    const std::size_t n = A.n_rows;
    const SpectralOptions so = laplacian_eigenmap_options(seed, n_threads);
    SpectralEigen eig;
    try {
        eig = spectral_eigenpairs(A, dim + 1, so);
    } catch (const InvalidArgument&) {
        throw;
    } catch (const std::exception& e) {
        if (why) *why = e.what();
        return std::nullopt;
    }
    // v solves A v = λ D v (the largest λ of D^-½ A D^-½ are the smallest of the Laplacian); u = D^½ v.
    std::vector<double> deg(n, 0.0);
    for (std::size_t i = 0; i < n; ++i)
        for (offset_t p = A.indptr[i]; p < A.indptr[i + 1]; ++p) deg[i] += A.values[p];
    Matrix<double> U(n, dim);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t k = 0; k < dim; ++k) U(i, k) = std::sqrt(deg[i]) * eig.eigenvectors(i, k + 1);
    return U;
}

namespace {

// Stream numbers within SamplingFamily::umap_init (1 and 2 are UMAP's uniform init and its final noise).
constexpr std::uint64_t kMetaRandomStream = 3;
constexpr std::uint64_t kComponentBoxStream = 4;

Matrix<double> random_meta_layout(std::size_t count, std::size_t dim, std::uint64_t seed) {
    Matrix<double> M(count, dim);
    for (std::size_t a = 0; a < count; ++a) {
        Rng rng = sampling_rng(seed, SamplingFamily::umap_init, kMetaRandomStream, a);
        for (std::size_t k = 0; k < dim; ++k) M(a, k) = rng.uniform(0.0, 10.0);
    }
    return M;
}

// scikit-learn's SpectralEmbedding(affinity="precomputed") of exp(-‖c_a − c_b‖²) between component centroids,
// divided by its largest entry (umap-learn's component_layout). Falls back to random with a warning.
Matrix<double> centroid_meta_layout(const GraphComponents& comps, std::size_t dim, const std::vector<double>& sums,
                                    std::size_t D, std::uint64_t seed) {
    const std::size_t c = comps.count;
    std::vector<double> centroid = sums;
    std::vector<std::size_t> size(c, 0);
    for (std::size_t a : comps.labels) ++size[a];
    for (std::size_t a = 0; a < c; ++a)
        for (std::size_t f = 0; f < D; ++f) centroid[a * D + f] /= static_cast<double>(size[a]);
    // The Laplacian ignores the diagonal (scipy's csgraph.laplacian), so the affinity graph has none.
    CsrMatrix<double> A;
    A.n_rows = A.n_cols = c;
    A.indptr.assign(c + 1, 0);
    bool isolated = false;
    for (std::size_t a = 0; a < c; ++a) {
        double degree = 0.0;
        for (std::size_t b = 0; b < c; ++b) {
            if (a == b) continue;
            double d2 = 0.0;
            for (std::size_t f = 0; f < D; ++f) {
                const double t = centroid[a * D + f] - centroid[b * D + f];
                d2 += t * t;
            }
            const double w = std::exp(-d2);
            if (w <= 0.0) continue;
            A.indices.push_back(static_cast<index_t>(b));
            A.values.push_back(w);
            degree += w;
        }
        isolated = isolated || degree <= 0.0;
        A.indptr[a + 1] = static_cast<offset_t>(A.indices.size());
    }
    auto fallback = [&](const std::string& why) {
        warn("UMAP: the spectral layout of the " + std::to_string(c) + " component centroids failed (" + why +
             "); placing the components at random");
        return random_meta_layout(c, dim, seed);
    };
    // exp(−d²) underflows for centroids more than ~27 apart: such a centroid has no affinity left.
    if (isolated) return fallback("a centroid is too far from all others for the affinity exp(-d^2)");
    SpectralOptions so;
    so.seed = seed;
    so.add_jitter = false;
    SpectralEigen eig;
    try {
        eig = spectral_eigenpairs(A, dim + 1, so);
    } catch (const std::exception& e) {
        return fallback(e.what());
    }
    // v = u / √degree is scikit-learn's embedding (same sign rule: largest |entry| positive); drop the trivial one.
    Matrix<double> M(c, dim);
    double mx = -std::numeric_limits<double>::infinity();
    for (std::size_t a = 0; a < c; ++a)
        for (std::size_t k = 0; k < dim; ++k) {
            M(a, k) = eig.eigenvectors(a, k + 1);
            mx = std::max(mx, M(a, k));
        }
    if (!(mx > 0.0) || !std::isfinite(mx)) return fallback("the centroid embedding has no positive entry");
    for (double& v : M.storage()) v /= mx;
    return M;
}

} // namespace

void add_component_sums(const GraphComponents& comps, MatrixView<float> X, std::size_t row0, std::vector<double>& sums) {
    const std::size_t D = X.cols;
    require(row0 + X.rows <= comps.labels.size(), "add_component_sums: the rows lie past the graph's points");
    require(sums.size() == comps.count * D, "add_component_sums: the sums must hold components x features values");
    for (std::size_t i = 0; i < X.rows; ++i) {
        const std::size_t a = comps.labels[row0 + i];
        for (std::size_t f = 0; f < D; ++f) sums[a * D + f] += static_cast<double>(X(i, f));
    }
}

Matrix<double> multi_component_layout(const CsrMatrix<double>& graph, const GraphComponents& comps, std::size_t dim,
                                      MatrixView<float> X, std::uint64_t seed, int n_threads) {
    require(X.rows == 0 || X.rows == graph.n_rows,
            "multi_component_layout: the data must have one row per graph point (or none)");
    require(comps.labels.size() == graph.n_rows,
            "multi_component_layout: the graph must be square with one component label per point");
    // Only the layout of more than 2·dim components reads the data.
    const bool data = X.rows > 0 && X.cols > 0 && comps.count > 2 * dim;
    std::vector<double> sums(data ? comps.count * X.cols : 0, 0.0);
    if (data) add_component_sums(comps, X, 0, sums);
    return multi_component_layout(graph, comps, dim, sums, data ? X.cols : 0, seed, n_threads);
}

Matrix<double> multi_component_layout(const CsrMatrix<double>& graph, const GraphComponents& comps, std::size_t dim,
                                      const std::vector<double>& component_sums, std::size_t D, std::uint64_t seed,
                                      int n_threads) {
    const std::size_t n = graph.n_rows, c = comps.count;
    require(dim >= 1, "multi_component_layout: dim must be at least 1");
    require(graph.n_rows == graph.n_cols && comps.labels.size() == n,
            "multi_component_layout: the graph must be square with one component label per point");
    require(c >= 2, "multi_component_layout: needs at least 2 components");
    require(component_sums.size() == c * D,
            "multi_component_layout: the component sums must hold components x features values");

    Matrix<double> meta;
    if (c > 2 * dim) {
        meta = D > 0 ? centroid_meta_layout(comps, dim, component_sums, D, seed) : random_meta_layout(c, dim, seed);
    } else {
        // ± the first ceil(c/2) unit vectors: e1, e2, …, −e1, −e2, …
        const std::size_t half = (c + 1) / 2;
        meta = Matrix<double>(c, dim);
        for (std::size_t a = 0; a < c; ++a) meta(a, a % half) = a < half ? 1.0 : -1.0;
    }

    std::vector<std::vector<std::size_t>> members(c);
    for (std::size_t i = 0; i < n; ++i) members[comps.labels[i]].push_back(i);
    std::vector<std::int64_t> local(n, -1);
    Matrix<double> Y(n, dim);
    for (std::size_t a = 0; a < c; ++a) {
        // Half the distance to the nearest other meta point (distinct positions only).
        double nearest = std::numeric_limits<double>::infinity();
        for (std::size_t b = 0; b < c; ++b) {
            double d2 = 0.0;
            for (std::size_t k = 0; k < dim; ++k) d2 += (meta(a, k) - meta(b, k)) * (meta(a, k) - meta(b, k));
            if (d2 > 0.0) nearest = std::min(nearest, std::sqrt(d2));
        }
        const double range = std::isfinite(nearest) ? nearest / 2.0 : 1.0;
        const auto& pts = members[a];
        const std::size_t m = pts.size();
        auto place_in_box = [&] {
            for (std::size_t i : pts) {
                Rng rng = sampling_rng(seed, SamplingFamily::umap_init, kComponentBoxStream, i);
                for (std::size_t k = 0; k < dim; ++k) Y(i, k) = meta(a, k) + rng.uniform(-range, range);
            }
        };
        if (m < 2 * dim || m <= dim + 1) {
            place_in_box();
            continue;
        }
        // The component's own graph, indices renumbered in point order.
        for (std::size_t t = 0; t < m; ++t) local[pts[t]] = static_cast<std::int64_t>(t);
        CsrMatrix<double> sub;
        sub.n_rows = sub.n_cols = m;
        sub.indptr.assign(m + 1, 0);
        for (std::size_t t = 0; t < m; ++t) {
            const std::size_t i = pts[t];
            for (offset_t p = graph.indptr[i]; p < graph.indptr[i + 1]; ++p) {
                sub.indices.push_back(static_cast<index_t>(local[static_cast<std::size_t>(graph.indices[p])]));
                sub.values.push_back(graph.values[p]);
            }
            sub.indptr[t + 1] = static_cast<offset_t>(sub.indices.size());
        }
        std::string why;
        auto U = laplacian_eigenmap(sub, dim, seed + a, n_threads, &why);
        if (!U) {
            warn("UMAP: the spectral layout of component " + std::to_string(a) + " (" + std::to_string(m) +
                 " points) failed (" + why + "); placing its points at random");
            place_in_box();
            continue;
        }
        double mx = 0.0;
        for (double v : U->storage()) mx = std::max(mx, std::abs(v));
        const double expansion = mx > 0.0 ? range / mx : 0.0;
        for (std::size_t t = 0; t < m; ++t)
            for (std::size_t k = 0; k < dim; ++k) Y(pts[t], k) = (*U)(t, k) * expansion + meta(a, k);
    }
    return Y;
}

} // namespace nembed
