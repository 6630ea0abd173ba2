#include "nembed/dist/tsne.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "nembed/affinity/multiscale.hpp"
#include "nembed/affinity/symmetrize.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/parallel.hpp"
#include "nembed/core/timer.hpp"
#include "nembed/dist/affinity.hpp"
#include "nembed/dist/knn.hpp"
#include "nembed/init/pca.hpp"
#include "nembed/init/pca_init.hpp"
#include "nembed/init/random.hpp"
#include "nembed/init/user.hpp"
#include "nembed/loss/attraction.hpp"
#include "nembed/loss/kl.hpp"

namespace nembed::dist {

RowShare row_share(Comm& comm, const RowPartition& part) {
    RowShare s;
    s.begin = part.begin(comm.rank());
    s.end = part.end(comm.rank());
    Comm* c = &comm;
    s.fold = [c](void* data, std::size_t bytes, const std::function<void(bool)>& add_own) {
        ordered_fold(*c, data, bytes, add_own);
    };
    return s;
}

MatrixView<double> own_rows(Comm& comm, const RowPartition& part, const Matrix<double>& full) {
    const int r = comm.rank();
    return MatrixView<double>{full.data() + part.begin(r) * full.cols(), part.count(r), full.cols()};
}

// ------------------------------------------------------------------------------------------------ affinities

CsrMatrix<double> symmetrize_joint(Comm& comm, const RowPartition& part, const CsrMatrix<double>& cond,
                                   int n_threads) {
    require(cond.n_rows == part.count(comm.rank()) && cond.n_cols == part.n,
            "symmetrize_joint: this rank's conditional P has the wrong shape");
    const CsrMatrix<double> T = transpose_rows(comm, part, cond);
    CsrMatrix<double> J = symmetrize_rows(cond, T, Symmetrization::mean, n_threads);
    // normalize_total's sum, over all rows in order.
    double s = 0.0;
    ordered_fold(comm, &s, sizeof s, [&](bool) {
        for (double v : J.values) s += v;
    });
    require(std::isfinite(s) && s > 0.0, "distributed affinities: the values sum to " + std::to_string(s) +
                                             "; they must have a positive, finite sum");
    for (double& v : J.values) v /= s;
    return J;
}

// ------------------------------------------------------------------------------------------------ prepare

TsneEmbedding prepare_tsne(Comm& comm, const RowPartition& part, MatrixView<float> X, const TsneOptions& o,
                           const DistKnnGraph* given) {
    const int r = comm.rank();
    const std::size_t n = part.n;
    require(part.ranks == comm.size(), "distributed t-SNE: the partition does not match the communicator");
    require(n >= 2, "t-SNE needs at least 2 points, got " + std::to_string(n));
    require(X.rows == part.count(r), "distributed t-SNE: this rank holds " + std::to_string(X.rows) +
                                         " rows, its block has " + std::to_string(part.count(r)));
    validate(o, n);
    require(o.initialization != TsneInit::spectral,
            "distributed t-SNE: the spectral initialisation is not distributed; use pca, random or an array");
    require(o.point_order != PointOrder::hilbert,
            "distributed t-SNE: point_order hilbert is not distributed (ranks keep the user's order); use auto or "
            "none (the single-process run with none gives the same bits)");
    require_finite(X, "t-SNE input data");
    const int threads = resolve_threads(o.n_jobs);
    const std::uint64_t seed = shared_seed(comm, o.random_state);
    TsneTimings times;

    const std::vector<double> perps = clean_perplexities(n, o.perplexities);
    const std::size_t k = multiscale_neighbors(n, perps);
    Timer t;
    if (given) check_given_knn(comm, part, *given, k, "distributed t-SNE");
    // Not const: freed once the conditional rows exist, before the exchange, the peak of the preparation.
    KnnGraph knn = given ? given->to_graph()
                         : self_knn(comm, part, X, k, o.neighbors, o.knn_shards, o.metric, seed, threads).to_graph();
    times.knn = t.seconds();

    t.reset();
    MultiscaleOptions mo;
    mo.perplexities = perps;
    mo.mode = MultiscaleMode::mixture;
    mo.symmetrize = false;  // the conditional rows; symmetrised across ranks below
    mo.n_threads = threads;
    CsrMatrix<double> cond;
    if (knn.n_points > 0) {
        cond = multiscale_affinities(knn, mo);
    } else {  // a rank without rows (N < R·2048) still takes part in the exchange
        cond.n_rows = 0;
        cond.n_cols = n;
        cond.indptr.assign(1, 0);
    }
    knn = KnnGraph{};
    CsrMatrix<double> P = symmetrize_joint(comm, part, cond, threads);
    times.affinities = t.seconds();

    t.reset();
    Matrix<double> Y;
    switch (o.initialization) {
    case TsneInit::pca: {
        const PcaResult res = pca(X, n, o.n_components, threads, row_share(comm, part));
        const std::vector<float> mine(res.scores.data(), res.scores.data() + res.scores.size());
        const std::vector<float> all = allgatherv(comm, mine);
        Y = pca_init_from_scores(MatrixView<float>{all.data(), n, o.n_components}, true, seed);
        break;
    }
    case TsneInit::random: Y = random_init(n, o.n_components, seed); break;
    case TsneInit::user: Y = user_init(o.initial_embedding.view(), n, o.n_components); break;
    case TsneInit::spectral: break;  // refused above
    }
    times.init = t.seconds();

    TsneGradientParams gp;
    gp.dof = o.dof;
    gp.repulsion = o.repulsion;
    gp.n_threads = threads;
    gp.point_order = PointOrder::none;  // rows stay in the user's order across ranks (checked in prepare above)
    TsneEmbedding emb(std::move(Y), std::move(P), gp, comm);
    emb.timings() = times;
    return emb;
}

// ------------------------------------------------------------------------------------------------ gradient

TsneRowsObjective::TsneRowsObjective(Comm& comm, const CsrMatrix<double>& P_rows, const TsneGradientParams& params,
                                     std::size_t n_points, std::size_t n_components)
    : comm_(comm), part_(n_points, comm.size()), P_(P_rows), kernel_(StudentTKernel(params.dof)),
      n_threads_(params.n_threads) {
    const int r = comm.rank();
    require(P_.n_rows == part_.count(r) && P_.n_cols == n_points, "distributed t-SNE objective: P has the wrong shape");
    for (double v : P_.values)
        require_lazy(std::isfinite(v) && v >= 0.0, [] { return std::string("distributed t-SNE objective: P must be finite and non-negative"); });
    p_f32_ = values_f32(P_);  // TsneObjective's float32 attraction values
    if (resolve_method(params.repulsion.method, n_points, n_components) == GradientMethod::fft) {
        FftOptions f = params.repulsion.fft;
        f.n_threads = params.n_threads;
        repulsion_ = make_fft_repulsion(f, row_share(comm, part_));
    } else {
        // Barnes-Hut and exact: every rank sums all points (redundant, docs/mpi.md), which keeps their bits.
        repulsion_ = make_repulsion(params, n_points, n_components);
    }
    // sum_p_log_p and P.sum() of TsneObjective, over all rows in order.
    ordered_fold(comm_, &sum_p_log_p_, sizeof(double), [&](bool) {
        for (double p : P_.values)
            if (p > 0.0) sum_p_log_p_ += p * std::log(p);
    });
    ordered_fold(comm_, &sum_p_, sizeof(double), [&](bool) {
        for (double p : P_.values) sum_p_ += p;
    });
}

double TsneRowsObjective::operator()(MatrixView<double> Y, double exaggeration, double* grad, bool want_kl) {
    const int r = comm_.rank(), R = comm_.size();
    require(Y.rows == part_.n, "distributed t-SNE objective: the embedding has " + std::to_string(Y.rows) +
                                   " points, expected " + std::to_string(part_.n));
    const std::size_t d = Y.cols, b = part_.begin(r), e = part_.end(r);
    forces_.resize(Y.size());
    const double Z = repulsion_->compute(Y, kernel_, forces_.data());
    require(std::isfinite(Z) && Z > 0.0, "t-SNE objective: the repulsion normalisation Z is not positive");
    const MatrixView<double> mine{Y.data + b * d, e - b, d};
    attractive_forces(P_, p_f32_, mine, Y, kernel_, exaggeration, grad + b * d, n_threads_);
    const double inv_z = 1.0 / Z;  // TsneObjective's ρ·(1/Z) with ρ = 1
    const double* f = forces_.data();
    parallelize(n_threads_, (e - b) * d, [&](int, std::size_t lo, std::size_t hi) {
        for (std::size_t k = b * d + lo; k < b * d + hi; ++k) grad[k] -= f[k] * inv_z;
    });
    // Every rank gets every row of the gradient (the optimizer then runs identically everywhere).
    own_.assign(grad + b * d, grad + e * d);
    std::vector<std::size_t> counts(static_cast<std::size_t>(R));
    for (int q = 0; q < R; ++q) counts[static_cast<std::size_t>(q)] = part_.count(q) * d * sizeof(double);
    comm_.allgatherv(own_.data(), own_.size() * sizeof(double), grad, counts);
    if (!want_kl) return std::numeric_limits<double>::quiet_NaN();
    const double slw = ordered_sum(comm_, sum_p_log_w_partials(P_, mine, Y, kernel_, n_threads_));
    return kl_from_parts(sum_p_log_p_, slw, sum_p_, Z);
}

} // namespace nembed::dist
