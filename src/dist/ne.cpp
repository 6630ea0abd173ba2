// TorchDR's EntropicAffinity on distributed rows (dist/ne.hpp).
#include "nembed/dist/ne.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "nembed/affinity/entropic.hpp"
#include "nembed/affinity/symmetrize.hpp"
#include "nembed/affinity/umap_affinity.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/core/timer.hpp"
#include "nembed/dist/affinity.hpp"
#include "nembed/dist/knn.hpp"
#include "nembed/dist/tsne.hpp"
#include "nembed/init/pca.hpp"
#include "nembed/loss/ne_loss.hpp"
#include "nembed/loss/umap_ne.hpp"
#include "../affinity/torchdr_detail.hpp"

namespace nembed::dist {

const float* FetchedRows::row(std::int64_t id) const {
    const auto it = std::lower_bound(ids.begin(), ids.end(), id);
    require(it != ids.end() && *it == id, "fetch_rows: row " + std::to_string(id) + " was not fetched");
    return rows.row(static_cast<std::size_t>(it - ids.begin()));
}

FetchedRows fetch_rows(Comm& comm, const RowPartition& part, MatrixView<float> X_mine,
                       const std::vector<std::int64_t>& wanted) {
    const int R = comm.size(), r = comm.rank();
    const auto RR = static_cast<std::size_t>(R);
    // D from the largest: a rank without rows may hold a 0-column view.
    std::uint64_t D = X_mine.cols;
    for (std::uint64_t dr : allgather_u64(comm, X_mine.cols)) D = std::max(D, dr);
    FetchedRows out;
    out.ids = wanted;
    std::sort(out.ids.begin(), out.ids.end());
    out.ids.erase(std::unique(out.ids.begin(), out.ids.end()), out.ids.end());
    for (std::int64_t id : out.ids)
        require(id >= 0 && static_cast<std::size_t>(id) < part.n, "fetch_rows: index " + std::to_string(id) +
                                                                        " outside [0, " + std::to_string(part.n) + ")");
    // Ascending ids: each owner's requests are consecutive.
    std::vector<std::uint64_t> n_ask(RR, 0), n_asked(RR);
    for (std::int64_t id : out.ids) ++n_ask[static_cast<std::size_t>(part.owner(static_cast<std::size_t>(id)))];
    comm.alltoallv(n_ask.data(), std::vector<std::size_t>(RR, 8), n_asked.data(), std::vector<std::size_t>(RR, 8));
    std::vector<std::size_t> sb(RR), rb(RR);
    std::size_t total = 0;
    for (std::size_t q = 0; q < RR; ++q) {
        sb[q] = static_cast<std::size_t>(n_ask[q]) * 8;
        rb[q] = static_cast<std::size_t>(n_asked[q]) * 8;
        total += static_cast<std::size_t>(n_asked[q]);
    }
    std::vector<std::int64_t> asked(total);
    comm.alltoallv(out.ids.data(), sb, asked.data(), rb);
    // Answer in the order asked.
    const std::size_t b = part.begin(r), d = static_cast<std::size_t>(D);
    std::vector<float> answer(total * d);
    for (std::size_t t = 0; t < total; ++t) {
        const auto i = static_cast<std::size_t>(asked[t]);
        require(i >= b && i < b + X_mine.rows, "fetch_rows: row " + std::to_string(i) + " asked of a rank without it");
        std::copy(X_mine.row(i - b), X_mine.row(i - b) + d, answer.data() + t * d);
    }
    for (std::size_t q = 0; q < RR; ++q) {
        std::swap(sb[q], rb[q]);
        sb[q] = sb[q] / 8 * d * sizeof(float);
        rb[q] = rb[q] / 8 * d * sizeof(float);
    }
    out.rows = Matrix<float>(out.ids.size(), d);
    comm.alltoallv(answer.data(), sb, out.rows.data(), rb);
    return out;
}

namespace {

std::uint64_t data_columns(Comm& comm, MatrixView<float> X_mine) {
    std::uint64_t D = X_mine.cols;  // a rank without rows may hold a 0-column view: the largest is the data's
    for (std::uint64_t dr : allgather_u64(comm, X_mine.cols)) D = std::max(D, dr);
    return D;
}

// knn_cost's sqeuclidean / euclidean path on this rank's rows (what EntropicAffinity and UMAPAffinity start from):
// the k nearest (the ring, or the HNSW shards: dist::self_knn), their rows fetched, the costs recomputed in double and each row sorted by (cost, index).
// `what` names the affinity in errors; `repeated` (optional): whether any row of X has a repeat (cost 0).
SparseCost knn_cost_rows(Comm& comm, const RowPartition& part, MatrixView<float> X_mine, std::size_t k,
                         CostMetric metric, KnnMethod method, std::size_t shards, int threads, const std::string& what,
                         bool* repeated) {
    const int r = comm.rank();
    const std::size_t n = part.n;
    collective(comm, [&] {
        require(part.ranks == comm.size(), what + ": the partition does not match the communicator");
        require(X_mine.rows == part.count(r), what + ": this rank holds " + std::to_string(X_mine.rows) +
                                                  " rows, its block has " + std::to_string(part.count(r)));
        require(metric == CostMetric::sqeuclidean || metric == CostMetric::euclidean,
                what + ": only the sqeuclidean and euclidean costs are distributed");
        require(n <= static_cast<std::size_t>(std::numeric_limits<index_t>::max()),
                what + ": more points than a CSR index holds");
        require(k >= 1 && k < n, what + ": needs 1 <= k < N neighbours");
        require_finite(X_mine, "input data");
    });
    // The ring (exact) or the shards (hnsw; auto as dist::self_knn decides), with knn_cost's HNSW seed (0).
    const DistKnnGraph g = self_knn(comm, part, X_mine, k, method, shards, Metric::euclidean, 0, threads);
    const FetchedRows nb = fetch_rows(comm, part, X_mine, g.indices);
    SparseCost s;
    s.n = g.n_rows;
    s.k = k;
    s.indices.resize(s.n * k);
    s.costs.resize(s.n * k);
    parallel_for(threads, s.n, [&](std::size_t i) {
        std::vector<std::pair<double, index_t>> row(k);
        for (std::size_t t = 0; t < k; ++t) {
            const std::int64_t j = g.indices[i * k + t];
            row[t] = {pair_cost(X_mine.row(i), nb.row(j), X_mine.cols, metric), static_cast<index_t>(j)};
        }
        std::sort(row.begin(), row.end());
        for (std::size_t t = 0; t < k; ++t) {
            s.indices[i * k + t] = row[t].second;
            s.costs[i * k + t] = row[t].first;
        }
    });
    if (repeated != nullptr) {  // a repeated row is its twin's neighbour at cost 0 (both costs are 0 only there)
        double any = 0.0;
        for (std::size_t i = 0; i < s.n; ++i) any = std::max(any, s.costs[i * k] == 0.0 ? 1.0 : 0.0);
        comm.allreduce_max(&any, 1);
        *repeated = any > 0.0;
    }
    return s;
}

} // namespace

CsrMatrix<double> entropic_affinity_rows(Comm& comm, const RowPartition& part, MatrixView<float> X_mine,
                                         const torchdr::EntropicOptions& o, bool* repeated) {
    const std::size_t n = part.n;
    collective(comm, [&] {
        require(std::isfinite(o.perplexity) && o.perplexity > 0, "perplexity must be positive");
        require(o.perplexity < static_cast<double>(n), "perplexity must be smaller than the number of samples (" +
                                                            std::to_string(n) + ")");
        require(n >= 4, "EntropicAffinity needs at least 4 points");
        require(o.max_iter_affinity >= 1, "max_iter_affinity must be >= 1");
        require(o.sparsity, "distributed EntropicAffinity: the dense affinity (sparsity off) is not distributed");
    });
    const double perplexity = entropic_perplexity(n, o.perplexity);
    const std::size_t k = entropic_neighbors(n, o.perplexity);
    const SparseCost s = knn_cost_rows(comm, part, X_mine, k, o.metric, o.knn_method, o.knn_shards, o.n_threads,
                                       "distributed EntropicAffinity", repeated);
    const EntropicAffinityOptions eo = torchdr::entropic_affinity_options(o);  // what torchdr::entropic_affinity forwards
    std::vector<double> eps;
    const std::vector<double> vals = entropic_rows(s, perplexity, 1.0 / static_cast<double>(n), eo, eps);
    CsrMatrix<double> P = torchdr_detail::sparse_to_csr(s, vals, o.n_threads);
    P.n_cols = n;
    return P;
}

CsrMatrix<double> torchdr_umap_affinity_rows(Comm& comm, const RowPartition& part, MatrixView<float> X_mine,
                                             const torchdr::UMAPOptions& o, bool* repeated) {
    const std::size_t n = part.n;
    collective(comm, [&] {
        require(n >= 4, "UMAPAffinity needs at least 4 points");
        require(o.n_neighbors >= 2 && static_cast<std::size_t>(o.n_neighbors) < n - 1,
                "n_neighbors must lie in (1, N - 1) = (1, " + std::to_string(n - 1) + ")");
        require(o.max_iter_affinity >= 1, "max_iter_affinity must be >= 1");
    });
    const SparseCost s = knn_cost_rows(comm, part, X_mine, static_cast<std::size_t>(o.n_neighbors - 1), o.metric,
                                       o.knn_method, o.knn_shards, o.n_threads, "distributed UMAPAffinity", repeated);
    std::vector<double> rho, eps;
    const std::vector<double> vals = umap_affinity_rows(s, o.n_neighbors, o.max_iter_affinity, o.n_threads, rho, eps);
    CsrMatrix<double> A = torchdr_detail::sparse_to_csr(s, vals, o.n_threads);
    A.n_cols = n;
    // The fuzzy union with the transposed entries: the exchange `nembed umap` uses, the same per-row rule.
    return fuzzy_combine_rows(A, transpose_rows(comm, part, A), 1.0, o.n_threads);
}

namespace {

// TorchDR's run on this rank's rows (docs/mpi.md §5): P's rows stay where they were calibrated; the method's loss is
// built on them (NeRowSplit: the owned rows' gradient, the gradient rows all-gathered, the loss's sums chained) and
// runs in the one driver (run_method: TorchDR's phases, optimizer and stop rule on the Trainer), every rank stepping
// the same Y. make_loss(rows, P) returns the NeGradient.
template <typename Options, typename Affinity, typename MakeLoss>
NeResult fit_split(Comm& comm, const RowPartition& part, MatrixView<float> X_mine, Options o, const TrainHooks& hooks,
                   const char* who, Affinity&& affinity_rows, MakeLoss&& make_loss) {
    const std::size_t n = part.n, d = o.n_components;
    const std::uint64_t D = data_columns(comm, X_mine);
    collective(comm, [&] {
        validate(static_cast<const NeighborEmbeddingOptions&>(o), n);
        require(!o.encoder.enabled, "distributed TorchDR methods: the encoder is not distributed");
        require(o.init != NeInit::pca || d <= D, "init: pca needs n_components <= the data's columns (" +
                                                     std::to_string(D) + "); use init = random");
        require(o.init != NeInit::hyperbolic, "distributed TorchDR methods: init hyperbolic is COSNE's");
    });
    const Timer t;
    bool repeated = false;
    const CsrMatrix<double> P = affinity_rows(comm, part, X_mine, o, &repeated);
    check_all(comm, !(repeated && o.process_duplicates),
              "the data have repeated rows: process_duplicates (TorchDR's default: embed the unique rows) is not "
              "distributed; remove them or set process_duplicates false (--process-duplicates false)");
    NeGradient loss;
    collective(comm, [&] { loss = make_loss(NeRowSplit{&comm, part}, P); });
    const double affinity_seconds = t.seconds();
    if (o.init == NeInit::pca) {  // the distributed PCA's scores (one process's bits), as the array start
        const PcaResult res = pca(X_mine, n, d, o.n_threads, row_share(comm, part));
        const std::vector<float> mine(res.scores.data(), res.scores.data() + res.scores.size());
        const std::vector<float> all = allgatherv(comm, mine);
        Matrix<double> Y0(n, d);
        for (std::size_t q = 0; q < n * d; ++q) Y0.data()[q] = static_cast<double>(all[q]);
        o.init = NeInit::array;
        o.init_array = std::move(Y0);
    }
    NeResult r = run_method(o, MatrixView<float>{nullptr, 0, 0}, n, who, std::move(loss), hooks);
    r.timings.affinity = affinity_seconds;
    return r;
}

// This rank's rows of (P + Pᵀ)/2, what the KL losses hold: the transposed entries from their owners, merged per row
// as one process's symmetrize(mean).
CsrMatrix<double> symmetric_rows(Comm& comm, const RowPartition& part, const CsrMatrix<double>& P, int threads) {
    return symmetrize_rows(P, transpose_rows(comm, part, P), Symmetrization::mean, threads);
}

template <typename Loss>
NeGradient as_gradient(std::shared_ptr<Loss> loss) {
    return [loss](MatrixView<double> Y, const NeStepInfo& s, double* g, bool w) { return (*loss)(Y, s, g, w); };
}

} // namespace

NeResult fit_ne(Comm& comm, const RowPartition& part, MatrixView<float> X, const torchdr::SNEOptions& o,
                const TrainHooks& hooks) {
    return fit_split(comm, part, X, o, hooks, "SNE", entropic_affinity_rows,
                     [&](const NeRowSplit& rows, const CsrMatrix<double>& P) {
                         const CsrMatrix<double> Ps = symmetric_rows(comm, part, P, o.n_threads);
                         return as_gradient(std::make_shared<NeSneLoss>(rows, Ps, o.n_threads));
                     });
}
NeResult fit_ne(Comm& comm, const RowPartition& part, MatrixView<float> X, const torchdr::TSNEOptions& o,
                const TrainHooks& hooks) {
    return fit_split(comm, part, X, o, hooks, "TSNE", entropic_affinity_rows,
                     [&](const NeRowSplit& rows, const CsrMatrix<double>& P) -> NeGradient {
                         const CsrMatrix<double> Ps = symmetric_rows(comm, part, P, o.n_threads);
                         const RowShare share = row_share(comm, part);
                         std::shared_ptr<Repulsion> rep = torchdr::tsne_repulsion(o, &share);
                         auto loss = std::make_shared<NeTsneLoss>(rows, Ps, *rep, StudentTKernel(1.0), o.n_threads);
                         return [loss, rep](MatrixView<double> Y, const NeStepInfo& s, double* g, bool w) {
                             return (*loss)(Y, s, g, w);
                         };
                     });
}
NeResult fit_ne(Comm& comm, const RowPartition& part, MatrixView<float> X, const torchdr::InfoTSNEOptions& o,
                const TrainHooks& hooks) {
    return fit_split(comm, part, X, o, hooks, "InfoTSNE", entropic_affinity_rows,
                     [&](const NeRowSplit& rows, const CsrMatrix<double>& P) {
                         const CsrMatrix<double> Ps = symmetric_rows(comm, part, P, o.n_threads);
                         return as_gradient(std::make_shared<NeSampledLoss>(
                             rows, Ps, NeSampledRepulsion::log_sum, StudentTKernel(1.0),
                             torchdr::ne_negatives(P, o.n_negatives, o.exclude_neighbors_from_negative_sampling,
                                                   o.random_state, o.scatter_blocks),
                             o.n_threads));
                     });
}
NeResult fit_ne(Comm& comm, const RowPartition& part, MatrixView<float> X, const torchdr::LargeVisOptions& o,
                const TrainHooks& hooks) {
    return fit_split(comm, part, X, o, hooks, "LargeVis", entropic_affinity_rows,
                     [&](const NeRowSplit& rows, const CsrMatrix<double>& P) {
                         const CsrMatrix<double> Ps = symmetric_rows(comm, part, P, o.n_threads);
                         return as_gradient(std::make_shared<NeSampledLoss>(
                             rows, Ps, NeSampledRepulsion::binary, CauchyKernel{2.0},
                             torchdr::ne_negatives(P, o.n_negatives, o.exclude_neighbors_from_negative_sampling,
                                                   o.random_state, o.scatter_blocks),
                             o.n_threads));
                     });
}

NeResult fit_ne(Comm& comm, const RowPartition& part, MatrixView<float> X, const torchdr::UMAPOptions& o,
                const TrainHooks& hooks) {
    collective(comm, [&] { torchdr::validate(o, part.n); });
    return fit_split(comm, part, X, o, hooks, "UMAP", torchdr_umap_affinity_rows,
                     [&](const NeRowSplit& rows, const CsrMatrix<double>& P) {
                         return as_gradient(std::make_shared<NeUmapLoss>(rows, P, o.max_iter,
                                                                         torchdr::umap_ne_settings(o)));
                     });
}

} // namespace nembed::dist
