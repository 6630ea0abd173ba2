// TorchDR's non-parametric transform for UMAP, LargeVis and InfoTSNE (methods/ne_transform.hpp).
#include "nembed/methods/ne_transform.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <utility>

#include "../affinity/torchdr_detail.hpp"
#include "nembed/affinity/perplexity.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/loss/ne_transform_loss.hpp"
#include "nembed/loss/umap_ne.hpp"
#include "nembed/optim/optimizer.hpp"
#include "nembed/train/parametrization.hpp"

namespace nembed::torchdr {
namespace {

void check_input(std::size_t n_components, MatrixView<float> X_new, MatrixView<float> X_train,
                 MatrixView<double> Y_train) {
    require(X_new.rows >= 1, "transform: X_new has no rows");
    require(X_new.cols == X_train.cols, "transform: X_new has " + std::to_string(X_new.cols) +
                                            " features, but X_train has " + std::to_string(X_train.cols));
    require(X_train.rows == Y_train.rows, "transform: X_train has " + std::to_string(X_train.rows) +
                                              " samples, but the training embedding Y_train has " +
                                              std::to_string(Y_train.rows) +
                                              "; pass the training samples, in the same order, used in fit");
    require(Y_train.cols == n_components, "transform: Y_train has " + std::to_string(Y_train.cols) +
                                              " columns, n_components is " + std::to_string(n_components));
    for (std::size_t k = 0; k < Y_train.size(); ++k)
        require_lazy(std::isfinite(Y_train.data[k]), [] { return std::string("transform: Y_train is not finite"); });
}

Matrix<double> copy(MatrixView<double> Y) {
    Matrix<double> M(Y.rows, Y.cols);
    std::copy(Y.data, Y.data + Y.size(), M.data());
    return M;
}

// CSR (n_new x n_train, columns sorted) of per-neighbour values in nb's order.
CsrMatrix<double> bipartite_csr(const BipartiteNeighbors& nb, const std::vector<double>& vals) {
    CsrMatrix<double> A;
    A.n_rows = nb.n_new;
    A.n_cols = nb.n_train;
    A.indptr.resize(nb.n_new + 1);
    A.indices.resize(nb.n_new * nb.k);
    A.values.resize(nb.n_new * nb.k);
    std::vector<std::pair<index_t, double>> r(nb.k);
    for (std::size_t i = 0; i < nb.n_new; ++i) {
        A.indptr[i] = static_cast<offset_t>(i * nb.k);
        for (std::size_t t = 0; t < nb.k; ++t) r[t] = {nb.indices[i * nb.k + t], vals[i * nb.k + t]};
        std::sort(r.begin(), r.end());
        for (std::size_t t = 0; t < nb.k; ++t) {
            A.indices[i * nb.k + t] = r[t].first;
            A.values[i * nb.k + t] = r[t].second;
        }
    }
    A.indptr[nb.n_new] = static_cast<offset_t>(nb.n_new * nb.k);
    return A;
}

Matrix<double> entropic_transform(const EntropicOptions& o, std::size_t n_negatives, bool exclude,
                                  NeSampledRepulsion repulsion, const OutputKernel& kernel, const char* who,
                                  MatrixView<float> X_new, MatrixView<float> X_train, MatrixView<double> Y_train,
                                  const TrainHooks& hooks) {
    check_input(o.n_components, X_new, X_train, Y_train);
    validate(static_cast<const NeighborEmbeddingOptions&>(o), X_train.rows);
    require(std::isfinite(o.perplexity) && o.perplexity > 0, "perplexity must be positive");
    require(o.max_iter_affinity >= 1, "max_iter_affinity must be >= 1");
    const std::size_t k = transform_n_neighbors(X_train.rows, static_cast<std::size_t>(3.0 * o.perplexity));
    const BipartiteNeighbors nb = transform_neighbors(X_new, X_train, k, o.metric, o.knn_method,
                                                      o.n_threads);
    const CsrMatrix<double> A = entropic_bipartite_affinity(nb, o.perplexity, o.max_iter_affinity, o.n_threads);
    Matrix<double> Y0 = transform_initial_embedding(A, nb, Y_train, false);
    const int T = transform_max_iter(o.max_iter);
    if (T == 0) return Y0;
    auto loss = std::make_shared<NeBipartiteSampledLoss>(A, copy(Y_train), repulsion, kernel, n_negatives, exclude,
                                                         o.random_state, o.n_threads);
    TrainHooks h = hooks;
    if (h.who == "train") h.who = std::string(who) + " transform";
    return run_ne_transform(
        std::move(Y0),
        [loss](MatrixView<double> Y, const NeStepInfo& s, double* g, bool w) { return (*loss)(Y, s, g, w); },
        transform_learning_rate(o, X_train.rows), T, o.repulsion_strength, o.n_threads, h);
}

} // namespace

std::size_t transform_n_neighbors(std::size_t n_train, std::size_t requested) {
    require(n_train >= 3, "transform: at least 3 training samples are required, got " + std::to_string(n_train));
    return std::max<std::size_t>(2, std::min(requested, n_train - 1));
}

BipartiteNeighbors transform_neighbors(MatrixView<float> X_new, MatrixView<float> X_train, std::size_t k,
                                       CostMetric metric, KnnMethod method, int n_threads) {
    require(metric == CostMetric::sqeuclidean || metric == CostMetric::euclidean,
            "metric: transform supports sqeuclidean and euclidean, got " + to_string(metric));
    require(k >= 1 && k <= X_train.rows, "transform: k must lie in [1, n_train]");
    require(X_new.cols == X_train.cols, "transform: X_new and X_train have different feature counts");
    const auto index = build_knn_index(X_train, fit_knn_options(method, Metric::euclidean, 0, n_threads));
    const KnnGraph g = index->query(X_new, k);
    BipartiteNeighbors nb;
    nb.n_new = X_new.rows;
    nb.n_train = X_train.rows;
    nb.k = k;
    nb.indices.resize(nb.n_new * k);
    nb.costs.resize(nb.n_new * k);
    const bool sq = metric == CostMetric::sqeuclidean;
    parallelize(n_threads, nb.n_new, [&](int, std::size_t b, std::size_t e) {
        std::vector<std::pair<double, index_t>> r(k);
        for (std::size_t i = b; i < e; ++i) {
            // The costs again in double from the data (the index's are float), ascending, ties by index.
            for (std::size_t t = 0; t < k; ++t) {
                const index_t j = g.indices[i * k + t];
                const double D = squared_distance(X_new.row(i), X_train.row(static_cast<std::size_t>(j)), X_new.cols);
                r[t] = {sq ? D : std::sqrt(D), j};
            }
            std::sort(r.begin(), r.end());
            for (std::size_t t = 0; t < k; ++t) {
                nb.costs[i * k + t] = std::max(0.0, r[t].first);
                nb.indices[i * k + t] = r[t].second;
            }
        }
    });
    return nb;
}

CsrMatrix<double> umap_bipartite_affinity(const BipartiteNeighbors& nb, int n_neighbors, int max_iter_affinity,
                                          int n_threads) {
    require(n_neighbors >= 2, "n_neighbors must be >= 2, got " + std::to_string(n_neighbors));
    require(max_iter_affinity >= 1, "max_iter_affinity must be >= 1");
    require(nb.k >= 2, "transform: UMAP needs at least 2 neighbours");
    const double target = std::log2(static_cast<double>(n_neighbors));
    std::vector<double> vals(nb.n_new * nb.k);
    parallel_for(n_threads, nb.n_new, [&](std::size_t i) {
        const double* c = nb.costs.data() + i * nb.k;
        // ρ = 0 (umap-learn's transform lowers local_connectivity by one); the nearest column is left out of the
        // calibration sum but kept in the graph.
        auto gap = [&](double sigma) {
            double m = 0.0;
            for (std::size_t t = 1; t < nb.k; ++t) m += std::exp(-c[t] / sigma);
            return m - target;
        };
        const double sigma = torchdr_detail::torchdr_binary_search(gap, 1.0, 1.0, max_iter_affinity);
        for (std::size_t t = 0; t < nb.k; ++t) vals[i * nb.k + t] = std::exp(-c[t] / sigma);
    });
    return bipartite_csr(nb, vals);
}

CsrMatrix<double> entropic_bipartite_affinity(const BipartiteNeighbors& nb, double perplexity, int max_iter_affinity,
                                              int n_threads) {
    const auto k = static_cast<double>(nb.k);
    require(!(perplexity > k), "perplexity (" + std::to_string(perplexity) +
                                   ") exceeds the transform's neighbour support (" + std::to_string(nb.k) +
                                   "); use a larger training set or a smaller perplexity");
    const double inv_n = 1.0 / static_cast<double>(nb.n_new);
    std::vector<double> vals(nb.n_new * nb.k);
    if (perplexity == k) {
        // The only distribution of entropy log k is the uniform one (TorchDR's boundary case).
        std::fill(vals.begin(), vals.end(), inv_n / k);
        return bipartite_csr(nb, vals);
    }
    CalibrationOptions cal;
    cal.tolerance = 1e-6;  // TorchDR's binary_search tolerance
    cal.max_iter = max_iter_affinity;
    parallelize(n_threads, nb.n_new, [&](int, std::size_t b, std::size_t e) {
        std::vector<double> c(nb.k);
        for (std::size_t i = b; i < e; ++i) {
            const double* ci = nb.costs.data() + i * nb.k;
            // Shifted by the row's smallest cost: the normalised row is unchanged (as EntropicAffinity does).
            for (std::size_t t = 0; t < nb.k; ++t) c[t] = ci[t] - ci[0];
            const double tau = calibrate_precision(c, perplexity, cal);  // p ∝ exp(−c τ/2)
            double* out = vals.data() + i * nb.k;
            double z = 0.0;
            for (std::size_t t = 0; t < nb.k; ++t) z += out[t] = std::exp(-c[t] * tau / 2.0);
            for (std::size_t t = 0; t < nb.k; ++t) out[t] = out[t] / z * inv_n;
        }
    });
    return bipartite_csr(nb, vals);
}

Matrix<double> transform_initial_embedding(const CsrMatrix<double>& A, const BipartiteNeighbors& nb,
                                           MatrixView<double> Y_train, bool snap_exact) {
    require(A.n_rows == nb.n_new && A.n_cols == Y_train.rows, "transform: affinity and embeddings disagree");
    const std::size_t d = Y_train.cols;
    Matrix<double> Y(nb.n_new, d);
    for (std::size_t i = 0; i < nb.n_new; ++i) {
        double s = 0.0;
        for (auto p = A.indptr[i]; p < A.indptr[i + 1]; ++p) s += A.values[static_cast<std::size_t>(p)];
        const double inv = 1.0 / std::max(s, 1e-10);
        for (auto p = A.indptr[i]; p < A.indptr[i + 1]; ++p) {
            const double w = A.values[static_cast<std::size_t>(p)] * inv;
            const double* yj = Y_train.row(static_cast<std::size_t>(A.indices[static_cast<std::size_t>(p)]));
            for (std::size_t q = 0; q < d; ++q) Y(i, q) += w * yj[q];
        }
        if (!snap_exact) continue;
        for (std::size_t t = 0; t < nb.k; ++t)
            if (nb.costs[i * nb.k + t] == 0.0) {  // an exact match: its training position
                const double* yj = Y_train.row(static_cast<std::size_t>(nb.indices[i * nb.k + t]));
                for (std::size_t q = 0; q < d; ++q) Y(i, q) = yj[q];
                break;
            }
    }
    return Y;
}

int transform_max_iter(int max_iter) { return std::min(max_iter / 3, 100); }

double transform_learning_rate(const NeighborEmbeddingOptions& o, std::size_t n_train) {
    return ne_learning_rate(o, n_train, o.early_exaggeration_coeff) / 4.0;
}

Matrix<double> run_ne_transform(Matrix<double> Y0, NeGradient loss, double lr, int n_steps, double repulsion_strength,
                                int n_threads, TrainHooks hooks) {
    require(n_steps >= 0, "transform: negative step count");
    if (n_steps == 0) return Y0;
    OptimizerOptions oo;
    oo.kind = OptimizerOptions::Kind::sgd;
    oo.momentum = 0.0;
    std::unique_ptr<Optimizer> optimizer = make_optimizer(oo);
    EmbeddingTable table(std::move(Y0));
    NeighborEmbeddingPlan plan(std::move(loss));
    Trainer trainer(plan, table, *optimizer, n_threads);
    Phase p;
    p.name = "transform";
    p.n_steps = n_steps;
    p.repulsion_strength = repulsion_strength;
    p.momentum = 0.0;
    LrSchedule s;
    s.learning_rate = lr;
    s.anneal = LrAnneal::linear_lr;  // lr·(1 − t/T): torch's LinearLR from 1 to 0 over T steps
    s.start_factor = 1.0;
    s.end_factor = 0.0;
    s.total_iters = n_steps;
    p.schedule = s;
    trainer.add_phase(p);
    trainer.run(-1, hooks);
    return std::move(table.Y());
}

Matrix<double> transform(const UMAPOptions& o, MatrixView<float> X_new, MatrixView<float> X_train,
                         MatrixView<double> Y_train, const TrainHooks& hooks) {
    check_input(o.n_components, X_new, X_train, Y_train);
    validate(static_cast<const NeighborEmbeddingOptions&>(o), X_train.rows);
    require(o.n_neighbors >= 2, "n_neighbors must be >= 2, got " + std::to_string(o.n_neighbors));
    require(o.negative_sample_rate >= 0, "negative_sample_rate must be >= 0");
    const UmapCurve curve = torchdr_umap_curve(o);
    const std::size_t k = transform_n_neighbors(X_train.rows, static_cast<std::size_t>(o.n_neighbors));
    const BipartiteNeighbors nb = transform_neighbors(X_new, X_train, k, o.metric, o.knn_method, o.n_threads);
    const CsrMatrix<double> A = umap_bipartite_affinity(nb, o.n_neighbors, o.max_iter_affinity, o.n_threads);
    Matrix<double> Y0 = transform_initial_embedding(A, nb, Y_train, true);
    const int T = transform_max_iter(o.max_iter);
    if (T == 0) return Y0;
    NeUmapSettings s;
    s.curve = curve;
    s.negative_sample_rate = o.negative_sample_rate;
    s.exclude_neighbors = o.exclude_neighbors_from_negative_sampling;
    s.seed = o.random_state;
    s.n_threads = o.n_threads;
    auto loss = std::make_shared<NeUmapLoss>(A, copy(Y_train), T, s);
    TrainHooks h = hooks;
    if (h.who == "train") h.who = "UMAP transform";
    return run_ne_transform(
        std::move(Y0),
        [loss](MatrixView<double> Y, const NeStepInfo& info, double* g, bool w) { return (*loss)(Y, info, g, w); },
        transform_learning_rate(o, X_train.rows), T, o.repulsion_strength, o.n_threads, h);
}

Matrix<double> transform(const LargeVisOptions& o, MatrixView<float> X_new, MatrixView<float> X_train,
                         MatrixView<double> Y_train, const TrainHooks& hooks) {
    return entropic_transform(o, o.n_negatives, o.exclude_neighbors_from_negative_sampling,
                              NeSampledRepulsion::binary, CauchyKernel{2.0}, "LargeVis", X_new, X_train, Y_train,
                              hooks);
}

Matrix<double> transform(const InfoTSNEOptions& o, MatrixView<float> X_new, MatrixView<float> X_train,
                         MatrixView<double> Y_train, const TrainHooks& hooks) {
    return entropic_transform(o, o.n_negatives, o.exclude_neighbors_from_negative_sampling,
                              NeSampledRepulsion::log_sum, StudentTKernel(1.0), "InfoTSNE", X_new, X_train, Y_train,
                              hooks);
}

} // namespace nembed::torchdr
