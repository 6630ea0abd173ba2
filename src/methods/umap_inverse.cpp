// umap-learn's inverse_transform and update on a fitted UMAP (methods/umap_inverse.hpp).
#include "nembed/methods/umap_inverse.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/core/timer.hpp"
#include "nembed/neighbors/distance.hpp"
#include "nembed/neighbors/generic.hpp"
#include "nembed/optim/sgd.hpp"
#include "nembed/train/parametrization.hpp"

namespace nembed {

Matrix<double> umap_inverse_transform(const UmapEmbedding& emb, MatrixView<float> ref, Metric metric,
                                      MatrixView<double> Y_new, int n_threads) {
    require(metric == Metric::euclidean, "inverse_transform: input metric " + to_string(metric) +
                                             " needs its gradient: pass it as an OutputMetric");
    return umap_inverse_transform(emb, ref, OutputMetric{}, Y_new, n_threads);
}

Matrix<double> umap_inverse_transform(const UmapEmbedding& emb, MatrixView<float> ref, const OutputMetric& metric,
                                      MatrixView<double> Y_new, int n_threads) {
    const Matrix<double>& Y = emb.embedding();
    const std::size_t n = Y.rows(), d = Y.cols();
    require(emb.output_metric().euclidean(),
            "inverse_transform needs the Euclidean output metric (the embedding's neighbourhoods are Euclidean here)");
    validate(metric, ref.cols);
    require(ref.rows == n, "inverse_transform: the reference data has " + std::to_string(ref.rows) +
                               " rows, the embedding " + std::to_string(n));
    require(Y_new.rows > 0, "inverse_transform: no points given");
    require(Y_new.cols == d, "inverse_transform: the points have " + std::to_string(Y_new.cols) +
                                 " columns, the embedding " + std::to_string(d));
    require_finite(Y_new, "inverse_transform points");
    require(emb.calibration.sigma.size() == n && emb.calibration.rho.size() == n,
            "inverse_transform needs the fit's calibration (sigma, rho)");
    n_threads = std::max(1, n_threads);
    const std::size_t m = std::min(ref.cols, n);
    const UmapCurve c = emb.curve();
    // the m nearest fitted points in the embedding (exact), with the output kernel's weights
    CsrMatrix<double> G;
    G.n_rows = Y_new.rows;
    G.n_cols = n;
    G.indptr.resize(Y_new.rows + 1);
    for (std::size_t i = 0; i <= Y_new.rows; ++i) G.indptr[i] = static_cast<offset_t>(i * m);
    G.indices.resize(Y_new.rows * m);
    G.values.resize(Y_new.rows * m);
    parallel_for(n_threads, Y_new.rows, [&](std::size_t i) {
        std::vector<std::pair<double, index_t>> cand(n);
        for (std::size_t j = 0; j < n; ++j) cand[j] = {squared_distance(Y_new.row(i), Y.row(j), d), static_cast<index_t>(j)};
        std::partial_sort(cand.begin(), cand.begin() + static_cast<std::ptrdiff_t>(m), cand.end());
        std::sort(cand.begin(), cand.begin() + static_cast<std::ptrdiff_t>(m),
                  [](const auto& x, const auto& y) { return x.second < y.second; });
        for (std::size_t t = 0; t < m; ++t) {
            G.indices[i * m + t] = cand[t].second;
            // 1/(1 + a·dist^(2b)) = the kernel of the squared distance
            G.values[i * m + t] = c.w(cand[t].first);
        }
    });
    // start: the weighted mean of the neighbours' data (umap-learn's init_transform on the l1-normalised rows)
    Matrix<double> H(Y_new.rows, ref.cols);
    for (std::size_t i = 0; i < Y_new.rows; ++i) {
        double s = 0;
        for (offset_t p = G.indptr[i]; p < G.indptr[i + 1]; ++p) s += G.values[p];
        for (offset_t p = G.indptr[i]; p < G.indptr[i + 1]; ++p) {
            const float* x = ref.row(static_cast<std::size_t>(G.indices[p]));
            for (std::size_t k = 0; k < ref.cols; ++k) H(i, k) += G.values[p] / s * x[k];
        }
    }
    const int n_ep = emb.requested_epochs ? *emb.requested_epochs / 3 : (Y_new.rows <= 10000 ? 100 : 30);
    if (n_ep <= 0) return H;
    Matrix<double> R(ref.rows, ref.cols);
    for (std::size_t i = 0; i < ref.rows; ++i)
        for (std::size_t k = 0; k < ref.cols; ++k) R(i, k) = ref(i, k);
    EdgeEpochOptions eo;
    eo.n_epochs = n_ep;
    eo.negative_sample_rate = emb.negative_sample_rate();
    eo.seed = emb.transform_seed;
    eo.family = SamplingFamily::umap_transform;
    UmapInverseLoss loss{&emb.calibration.sigma, &emb.calibration.rho, metric};
    EdgeEpochPlan plan(std::move(G), loss, eo, R);
    EmbeddingTable table(std::move(H));
    Sgd sgd;
    Trainer tr(plan, table, sgd, n_threads);
    LrSchedule s;  // umap-learn's decay from a quarter of the fit's rate, as transform
    s.learning_rate = emb.learning_rate() / 4.0;
    s.anneal = LrAnneal::umap;
    s.total_epochs = n_ep;
    tr.set_schedule(s);
    Phase ph;
    ph.name = "inverse_transform";
    ph.n_steps = n_ep;
    ph.repulsion_strength = emb.repulsion_strength();
    tr.add_phase(ph);
    TrainHooks hooks;
    hooks.who = "UMAP inverse_transform";
    tr.run(-1, hooks);
    return std::move(table.Y());
}

UmapEmbedding umap_update(const UmapEmbedding& emb, MatrixView<float> X_old, MatrixView<float> X_new,
                          const UmapOptions& options) {
    require(X_old.rows == emb.embedding().rows(), "update: the fitted data has " + std::to_string(X_old.rows) +
                                                      " rows, the embedding " +
                                                      std::to_string(emb.embedding().rows()));
    require(X_new.rows > 0, "update: no new points");
    require(X_new.cols == X_old.cols, "update: the new data has " + std::to_string(X_new.cols) +
                                          " columns, the fitted data " + std::to_string(X_old.cols));
    require_finite(X_new, "update data");
    const std::size_t n_old = X_old.rows, n = n_old + X_new.rows;
    Matrix<float> X(n, X_old.cols);
    for (std::size_t i = 0; i < n_old; ++i) std::copy(X_old.row(i), X_old.row(i) + X_old.cols, X.row(i));
    for (std::size_t i = 0; i < X_new.rows; ++i) std::copy(X_new.row(i), X_new.row(i) + X_new.cols, X.row(n_old + i));
    validate(options, n);
    Timer t;
    std::shared_ptr<const KnnIndex> index = build_knn_index(
        X.view(), fit_knn_options(options.neighbors, options.metric, options.random_state.value_or(0),
                                  resolve_threads(options.n_jobs), options.metric_params));
    const KnnGraph knn = index->self_neighbors(options.n_neighbors - 1);
    const double t_knn = t.seconds();
    UmapEmbedding out = umap_update(emb, knn, X.view(), options);
    out.timings().knn = t_knn;
    out.knn_index = index;
    return out;
}

UmapEmbedding umap_update(const UmapEmbedding& emb, const KnnGraph& knn, MatrixView<float> X,
                          const UmapOptions& options) {
    const std::size_t n_old = emb.embedding().rows(), d = emb.embedding().cols(), n = knn.n_points;
    require(n > n_old, "update: the kNN graph has " + std::to_string(n) + " points, the fit " + std::to_string(n_old) +
                           " (no new points)");
    require(X.rows == n, "update: the data has " + std::to_string(X.rows) + " rows, the kNN graph " +
                             std::to_string(n) + " points");
    knn.validate("update kNN graph");
    require(knn.n_reference == n, "update needs a self kNN graph of all the points");
    UmapOptions o = options;
    validate(o, n);
    const int n_threads = resolve_threads(o.n_jobs);
    // umap-learn's init_update: old points keep their place, a new one starts at the mean of its old neighbours
    Matrix<double> Y0(n, d);
    std::unique_ptr<detail::MetricRows> rows;
    std::copy(emb.embedding().data(), emb.embedding().data() + n_old * d, Y0.data());
    for (std::size_t i = n_old; i < n; ++i) {
        std::size_t cnt = 0;
        for (std::size_t t2 = 0; t2 < knn.k; ++t2) {
            const auto j = static_cast<std::size_t>(knn.neighbors(i)[t2]);
            if (j >= n_old) continue;
            ++cnt;
            for (std::size_t k = 0; k < d; ++k) Y0(i, k) += Y0(j, k);
        }
        if (cnt > 0) {
            for (std::size_t k = 0; k < d; ++k) Y0(i, k) /= static_cast<double>(cnt);
            continue;
        }
        // umap-learn divides by zero here; the nearest old point is the natural start
        // (point_distance serves the float32-path metrics; the others, and parameters, are MetricEval's)
        if (!rows && (!is_gemm_metric(o.metric) || !o.metric_params.empty()))
            rows = detail::metric_rows(X, fit_knn_options(KnnMethod::exact, o.metric, 0, n_threads,
                                                                  o.metric_params), "update");
        std::size_t best = 0;
        double best_d = std::numeric_limits<double>::infinity();
        for (std::size_t j = 0; j < n_old; ++j) {
            const double dj = rows ? rows->distance(i, *rows, j)
                                   : point_distance(X.row(i), X.row(j), X.cols, o.metric,
                                                    vector_norm(X.row(i), X.cols), vector_norm(X.row(j), X.cols));
            if (dj < best_d) best_d = dj, best = j;
        }
        std::copy(Y0.row(best), Y0.row(best) + d, Y0.row(i));
    }
    o.init = UmapInit::user;
    o.initial_embedding = std::move(Y0);
    if (!o.n_epochs) o.n_epochs = 0;  // umap-learn's update runs no epochs unless n_epochs was set
    UmapEmbedding out = UMAP(o).prepare(knn, X);
    out.requested_epochs = options.n_epochs;  // transform's epoch rule follows the model's n_epochs, as before
    out.optimize(-1, o.callback, o.callbacks_every_epochs, o.progress);
    if (o.output_dens) out.rad_emb = densmap_embedding_radii(out.embedding().view(), o.n_neighbors, n_threads);
    return out;
}

} // namespace nembed
