// Distributed UMAP (dist/umap.hpp, docs/mpi.md §5).
#include "nembed/dist/umap.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "nembed/affinity/fuzzy.hpp"
#include "nembed/affinity/symmetrize.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/core/timer.hpp"
#include "nembed/dist/affinity.hpp"
#include "nembed/dist/knn.hpp"
#include "nembed/dist/tsne.hpp"
#include "nembed/init/multi_component.hpp"
#include "nembed/init/pca.hpp"
#include "nembed/train/parametrization.hpp"

namespace nembed::dist {

double RowsAllGatherPlan::step(Parametrization& params, Optimizer& optimizer, const StepContext& ctx) {
    inner_.step(params, optimizer, ctx);
    EmbeddingTable* table = params.table();
    require(table != nullptr, "distributed epochs: the plan trains an embedding table");
    Matrix<double>& Y = table->Y();
    const int r = comm_.rank(), R = comm_.size();
    const std::size_t d = Y.cols();
    require(Y.rows() == part_.n, "distributed epochs: the table has " + std::to_string(Y.rows()) + " points, the "
                                 "partition " + std::to_string(part_.n));
    // The owned rows leave through a copy: MPI forbids a send buffer inside the receive buffer.
    own_.assign(Y.data() + part_.begin(r) * d, Y.data() + part_.end(r) * d);
    std::vector<std::size_t> counts(static_cast<std::size_t>(R));
    for (int q = 0; q < R; ++q) counts[static_cast<std::size_t>(q)] = part_.count(q) * d * sizeof(double);
    comm_.allgatherv(own_.data(), own_.size() * sizeof(double), Y.data(), counts);
    return std::numeric_limits<double>::quiet_NaN();
}

namespace {

// umap-learn's small-data threshold of the edge order (train/edge_epoch_plan.cpp).
constexpr std::size_t kEdgeOrderThreshold = 4096;

bool runs_by_edges(EdgeOrder order, std::size_t n) {
    return order == EdgeOrder::edges || (order == EdgeOrder::automatic && n < kEdgeOrderThreshold);
}

} // namespace

FuzzyCalibration umap_calibration(Comm& comm, const RowPartition& part, const KnnGraph& g, FuzzyOptions fo) {
    require(fo.self_in_count, "distributed UMAP calibration: the rules of a fit (self_in_count) only");
    require(g.n_points == part.count(comm.rank()) && g.n_reference == part.n,
            "distributed UMAP calibration: the kNN rows do not match this rank's block");
    // fixed_block_sum's partials over the N·k distances (fuzzy.cpp), this rank's blocks.
    constexpr std::size_t kBlock = 1024;
    const std::size_t n_dist = g.distances.size();
    std::vector<double> partials((n_dist + kBlock - 1) / kBlock, 0.0);
    parallel_for(fo.n_threads, partials.size(), [&](std::size_t q) {
        double s = 0.0;
        for (std::size_t p = q * kBlock; p < std::min(n_dist, (q + 1) * kBlock); ++p) s += g.distances[p];
        partials[q] = s;
    });
    // k is the same on every rank, also on one without rows (then g.k may be 0): take it from the largest.
    std::uint64_t k = g.k;
    for (std::uint64_t kr : allgather_u64(comm, g.k)) k = std::max(k, kr);
    fo.global_mean_distance = ordered_sum(comm, partials) / static_cast<double>(part.n * (k + 1));
    if (g.n_points == 0) return {};
    return smooth_knn_distances(g, fo);
}

UmapEmbedding prepare_umap(Comm& comm, const RowPartition& part, MatrixView<float> X, const UmapOptions& o) {
    const int r = comm.rank();
    const std::size_t n = part.n;
    collective(comm, [&] {
        require(part.ranks == comm.size(), "distributed UMAP: the partition does not match the communicator");
        require(n >= 2, "UMAP needs at least 2 points, got " + std::to_string(n));
        require(X.rows == part.count(r), "distributed UMAP: this rank holds " + std::to_string(X.rows) +
                                             " rows, its block has " + std::to_string(part.count(r)));
        validate(o, n);
        require(o.target.values.empty(), "distributed UMAP: supervised targets are not distributed");
        require(!o.densmap && !o.output_dens,
                "distributed UMAP: densMAP and output_dens are not distributed (their radii need the whole graph)");
        require(o.output_metric.euclidean(), "distributed UMAP: only the Euclidean output metric is distributed");
        require(o.init != UmapInit::pca || o.n_components <= X.cols || X.rows == 0,
                "UMAP: init = pca needs n_components <= number of features");
        require_finite(X, "input data");
    });
    const int threads = resolve_threads(o.n_jobs);
    const std::uint64_t seed = shared_seed(comm, o.random_state);
    UmapTimings times;

    Timer t;
    const std::size_t k = o.n_neighbors - 1;  // n_neighbors counts the point itself
    const KnnGraph knn = self_knn(comm, part, X, k, o.neighbors, o.knn_shards, o.metric,
                                    o.random_state.value_or(0), threads).to_graph();
    times.knn = t.seconds();

    t.reset();
    FuzzyOptions fo;
    fo.local_connectivity = o.local_connectivity;
    fo.set_op_mix_ratio = o.set_op_mix_ratio;
    fo.n_threads = threads;
    const FuzzyCalibration cal = umap_calibration(comm, part, knn, fo);
    CsrMatrix<double> A;
    if (knn.n_points > 0) {
        A = fuzzy_memberships(knn, cal, threads);
    } else {  // a rank without rows (N < R·2048) still takes part in every exchange
        A.n_rows = 0;
        A.n_cols = n;
        A.indptr.assign(1, 0);
    }
    // The fuzzy union with the transposed entries, then umap-learn's pruning from the global largest weight.
    CsrMatrix<double> P = fuzzy_combine_rows(A, transpose_rows(comm, part, A), o.set_op_mix_ratio, threads);
    A = {};
    const int n_epochs = o.n_epochs.value_or(umap_default_epochs(n, false));
    double wmax = 0.0;
    for (double v : P.values) wmax = std::max(wmax, v);
    comm.allreduce_max(&wmax, 1);
    P = umap_prune_graph(P, n_epochs > 10 ? n_epochs : umap_default_epochs(n, false), wmax);
    times.graph = t.seconds();

    t.reset();
    const bool by_edges = runs_by_edges(o.edge_order, n);
    CsrMatrix<double> full;  // the whole pruned graph, where a step needs it
    if (by_edges || o.init == UmapInit::spectral) full = gather_rows(comm, part, P);
    Matrix<double> Y;
    switch (o.init) {
        case UmapInit::spectral: {
            // Every rank holds the same graph and finds the same components, so every rank asks for the sums
            // together. More than 2·n_components components are placed by the data's centroids: the c x D sums are
            // chained over the ranks in row order (an ordered fold), bitwise one process's loop over all rows.
            std::uint64_t D = X.cols;  // a rank without rows may hold a 0-column view: the largest is the data's
            for (std::uint64_t dr : allgather_u64(comm, X.cols)) D = std::max(D, dr);
            Y = umap_spectral_init(full, o.n_components, seed, threads, D, [&](const GraphComponents& comps) {
                std::vector<double> sums(comps.count * D, 0.0);
                ordered_fold(comm, sums.data(), sums.size() * sizeof(double), [&](bool) {
                    if (X.rows > 0) add_component_sums(comps, X, part.begin(r), sums);
                });
                return sums;
            });
            break;
        }
        case UmapInit::random: Y = umap_uniform_init(n, o.n_components, seed); break;
        case UmapInit::pca: {
            const PcaResult res = pca(X, n, o.n_components, threads, row_share(comm, part));
            const std::vector<float> mine(res.scores.data(), res.scores.data() + res.scores.size());
            const std::vector<float> all = allgatherv(comm, mine);
            Y = convert<double>(MatrixView<float>{all.data(), n, o.n_components});
            umap_noisy_scale(Y, seed);
            break;
        }
        case UmapInit::user: Y = o.initial_embedding; break;
    }
    umap_rescale_0_10(Y);
    times.init = t.seconds();

    const UmapCurve curve = UMAP(o).curve();
    auto make = [&]() {
        if (by_edges) {  // the serial edge order on every rank, from the same graph and start: one process's bits
            UmapEmbedding e(std::move(Y), std::move(full), curve, n_epochs, o.learning_rate, o.repulsion_strength,
                            o.negative_sample_rate, seed, threads);
            e.set_edge_order(o.edge_order);
            return e;
        }
        full = {};
        return UmapEmbedding(std::move(Y), P, curve, n_epochs, o.learning_rate, o.repulsion_strength,
                             o.negative_sample_rate, seed, threads, comm);
    };
    UmapEmbedding emb = make();
    emb.timings() = times;
    emb.n_neighbors = o.n_neighbors;
    emb.local_connectivity = o.local_connectivity;
    emb.requested_epochs = o.n_epochs;
    emb.transform_seed = o.transform_seed;
    return emb;
}

} // namespace nembed::dist
