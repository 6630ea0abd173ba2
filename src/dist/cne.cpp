#include "nembed/dist/cne.hpp"

#include <string>
#include <vector>

#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/core/timer.hpp"
#include "nembed/dist/knn.hpp"
#include "nembed/dist/tsne.hpp"
#include "nembed/init/pca.hpp"
#include "nembed/init/rescale.hpp"
#include "nembed/neighbors/metric.hpp"

namespace nembed::dist {

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
    });
    const int threads = resolve_threads(o.n_jobs);
    CneTimings tm;
    Timer t;
    if (given) check_given_knn(comm, part, *given, o.k, "distributed CNE");
    const KnnGraph mine =
        given ? given->to_graph()
              : self_knn(comm, part, X, o.k, o.neighbors, o.knn_shards, o.input_metric, o.seed, threads).to_graph();
    tm.knn = t.seconds();
    t.reset();
    KnnGraph knn = KnnGraph::sized(n, o.k, n);
    knn.indices = allgatherv(comm, mine.indices);
    knn.distances = allgatherv(comm, mine.distances);
    CsrMatrix<double> g = binary_symmetric_graph(knn);
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
    opt.share = {r, comm.size(), [&comm](std::int64_t* v, std::size_t count) { comm.allreduce_sum(v, count); }};
    return CneEmbedding(std::move(opt), std::move(g), std::move(Y), tm);
}

} // namespace nembed::dist
