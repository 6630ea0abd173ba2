#include "nembed/dist/cne.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/core/timer.hpp"
#include "nembed/affinity/symmetrize.hpp"
#include "nembed/dist/affinity.hpp"
#include "nembed/dist/knn.hpp"
#include "nembed/dist/tsne.hpp"
#include "nembed/init/pca.hpp"
#include "nembed/init/rescale.hpp"
#include "nembed/neighbors/metric.hpp"

namespace nembed::dist {

CsrMatrix<double> binary_symmetric_graph_rows(Comm& comm, const RowPartition& part, const KnnGraph& mine) {
    const int r = comm.rank();
    const std::size_t n = part.n, b = part.begin(r), n_own = part.count(r);
    require(mine.n_points == n_own && mine.n_reference == n,
            "binary_symmetric_graph_rows: this rank's neighbour rows have the wrong shape");
    // This rank's rows of A (i → its neighbours, self dropped), then of Aᵀ from their owners.
    const CsrMatrix<double> A = nembed::detail::binary_knn_rows(mine, b);
    // My rows of the binary union (max of the 0/1 entries of A and Aᵀ: binary_symmetric_graph's rows), placed in an
    // N-row matrix whose other rows are empty (the edge plan's distributed input).
    CsrMatrix<double> S = symmetrize_rows(A, transpose_rows(comm, part, A), Symmetrization::max);
    CsrMatrix<double> g;
    g.n_rows = g.n_cols = n;
    g.indptr.assign(n + 1, 0);
    for (std::size_t i = 0; i < n_own; ++i) g.indptr[b + i + 1] = S.indptr[i + 1];
    for (std::size_t i = b + n_own; i < n; ++i) g.indptr[i + 1] = g.indptr[i];
    g.indices = std::move(S.indices);
    g.values = std::move(S.values);
    return g;
}

CneEmbedding prepare_cne(Comm& comm, const RowPartition& part, MatrixView<float> X, const CneOptions& o,
                         const DistKnnGraph* given) {
    const int r = comm.rank();
    const std::size_t n = part.n;
    collective(comm, [&] {
        require(part.ranks == comm.size(), "distributed CNE: the partition does not match the communicator");
        require(n >= 2, "CNE needs at least 2 points, got " + std::to_string(n));
        require(X.rows == part.count(r), "distributed CNE: this rank holds " + std::to_string(X.rows) +
                                             " rows, its block has " + std::to_string(part.count(r)));
        validate(o, n);
        require(!o.parametric, "distributed CNE: parametric runs are not distributed");
        require(is_gemm_metric(o.input_metric),
                "distributed CNE: only the euclidean, cosine and inner-product input metrics are distributed");
        require(o.init != CneInit::pca || o.n_components <= X.cols || X.rows == 0,
                "CNE: PCA initialisation needs n_components <= number of features");
        require_finite(X, "input data");
        require(!o.exclude_neighbors, "distributed CNE: exclude_neighbors is not distributed");
    });
    const int threads = resolve_threads(o.n_jobs);
    CneTimings tm;
    Timer t;
    if (given) check_given_knn(comm, part, *given, o.k, "distributed CNE");
    CsrMatrix<double> g;
    {
        const KnnGraph mine =
            given ? given->to_graph()
                  : self_knn(comm, part, X, o.k, o.neighbors, o.knn_shards, o.input_metric, o.seed, threads).to_graph();
        tm.knn = t.seconds();
        t.reset();
        g = binary_symmetric_graph_rows(comm, part, mine);
    }
    tm.graph = t.seconds();
    t.reset();
    CneOptions opt = o;
    Matrix<double> Y;
    if (o.init == CneInit::pca) {  // cne_init's PCA by chained sums, the scores all-gathered
        const PcaResult res = pca(X, n, o.n_components, threads, row_share(comm, part));
        const std::vector<float> own(res.scores.data(), res.scores.data() + res.scores.size());
        const std::vector<float> all = allgatherv(comm, own);
        Y = convert<double>(MatrixView<float>{all.data(), n, o.n_components});
        rescale(Y, 1.0);  // as cne_init
    } else {
        Y = detail::cne_init(o, X, n, threads);  // random (per point, from the seed) or user: no data needed
    }
    tm.init = t.seconds();
    opt.share = {r, comm.size(), [&comm](std::int64_t* v, std::size_t count) { comm.allreduce_sum(v, count); },
                 [&comm](const void* send, const std::vector<std::size_t>& sc, void* recv,
                         const std::vector<std::size_t>& rc) { comm.alltoallv(send, sc, recv, rc); },
                 [&comm](const void* send, std::size_t bytes, void* recv, const std::vector<std::size_t>& counts) {
                     comm.allgatherv(send, bytes, recv, counts);
                 }};
    return CneEmbedding(std::move(opt), std::move(g), std::move(Y), tm);
}

} // namespace nembed::dist
