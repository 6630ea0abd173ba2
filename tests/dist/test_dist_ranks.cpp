// The distributed pieces against their single-process counterparts, bit for bit. This binary runs as an ordinary
// test (one rank: the serial communicator, so the distributed code path with R = 1) and, when MPI is found, under
// `mpirun -n 2` and `-n 3` (tests/CMakeLists.txt): every rank computes the single-process reference on all of X
// itself and compares its own rows.
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <typeinfo>
#include <vector>

#include "nembed/affinity/fuzzy.hpp"
#include "nembed/affinity/multiscale.hpp"
#include "nembed/core/random.hpp"
#include "nembed/dist/cne.hpp"
#include "nembed/dist/comm.hpp"
#include "nembed/dist/io.hpp"
#include "nembed/dist/knn.hpp"
#include "nembed/dist/ne.hpp"
#include "nembed/dist/rows.hpp"
#include "nembed/dist/tsne.hpp"
#include "nembed/dist/umap.hpp"
#include "nembed/init/multi_component.hpp"
#include "nembed/init/pca.hpp"
#include "nembed/methods/cne.hpp"
#include "nembed/methods/neighbor_embedding.hpp"
#include "nembed/io/load.hpp"
#include "nembed/io/npy.hpp"
#include "nembed/methods/tsne.hpp"
#include "nembed/methods/umap.hpp"
#include "nembed/neighbors/exact.hpp"
#include "nembed/neighbors/sharded.hpp"
#include "nembed/optim/optimizer.hpp"
#include "nembed/repulsion/repulsion.hpp"
#include "nembed/train/edge_batch_plan.hpp"
#include "nembed/train/parametrization.hpp"
#include "nembed/train/trainer.hpp"

using namespace nembed;

namespace {

dist::Comm& world() {
    static std::unique_ptr<dist::Comm> comm = dist::make_world_comm();
    return *comm;
}

// 4000 Fashion-MNIST points plus a noisy copy of the first 3000 (7000 x 50: four row blocks of 2048, so every rank
// of up to 4 owns rows), with exact duplicates of a few rows (ties in the kNN).
const Matrix<float>& data() {
    static const Matrix<float> X = [] {
        const Matrix<float> A = load_matrix<float>(std::string(NEMBED_TEST_DATA_DIR) + "/fmnist_4000_pca50.npy");
        const std::size_t n = A.rows() + 3000, d = A.cols();
        Matrix<float> X(n, d);
        std::memcpy(X.data(), A.data(), A.size() * sizeof(float));
        std::uint64_t state = 12345;
        for (std::size_t i = 0; i < 3000; ++i)
            for (std::size_t c = 0; c < d; ++c) {
                state = state * 6364136223846793005ull + 1442695040888963407ull;
                const double u = static_cast<double>(state >> 11) / 9007199254740992.0 - 0.5;
                X(A.rows() + i, c) = A(i, c) + static_cast<float>(0.05 * u);
            }
        for (std::size_t i = 0; i < 5; ++i)
            for (std::size_t c = 0; c < d; ++c) X(6990 + i, c) = X(10 + i, c);
        return X;
    }();
    return X;
}

MatrixView<float> mine(const dist::RowPartition& part, const Matrix<float>& X) {
    const int r = world().rank();
    return MatrixView<float>{X.data() + part.begin(r) * X.cols(), part.count(r), X.cols()};
}

} // namespace

TEST(DistRanks, ExactKnnEqualsSingleProcess) {
    dist::Comm& comm = world();
    const Matrix<float>& X = data();
    const dist::RowPartition part(X.rows(), comm.size());
    const std::size_t k = 20;
    const dist::DistKnnGraph g = dist::exact_self_knn(comm, part, mine(part, X), k, Metric::euclidean, 2);
    const KnnGraph ref = make_exact_index(X.view(), Metric::euclidean, 2)->self_neighbors(k);
    const std::size_t b = part.begin(comm.rank());
    ASSERT_EQ(g.n_rows, part.count(comm.rank()));
    for (std::size_t i = 0; i < g.n_rows; ++i)
        for (std::size_t t = 0; t < k; ++t) {
            ASSERT_EQ(g.indices[i * k + t], static_cast<std::int64_t>(ref.indices[(b + i) * k + t])) << "row " << b + i;
            ASSERT_EQ(g.distances[i * k + t], ref.distances[(b + i) * k + t]) << "row " << b + i;
        }
}

// The approximate kNN over shards (neighbors/sharded.hpp): the shards are fixed by N and M, indexed by the ranks
// ⌊s·R/M⌋ and searched by every rank's queries in turn; the result is the single-process sharded index's, bit for
// bit, for any R (1, 2, 3 registered; 4 run by hand) and any thread count. M = 1 (one rank indexes everything, the
// others none), 3 (uneven over 2 ranks) and 5.
TEST(DistRanks, ApproxKnnEqualsSingleProcess) {
    dist::Comm& comm = world();
    const Matrix<float>& X = data();
    const dist::RowPartition part(X.rows(), comm.size());
    const std::size_t k = 15;
    for (std::size_t M : {1u, 3u, 5u}) {
        KnnOptions ko = fit_knn_options(KnnMethod::hnsw, Metric::euclidean, 7, 1);
        ko.hnsw_shards = M;
        const KnnGraph ref = build_knn_index(X.view(), ko)->self_neighbors(k);
        ko.n_threads = 2;
        const dist::DistKnnGraph g = dist::approx_self_knn(comm, part, mine(part, X), k, ko);
        const std::size_t b = part.begin(comm.rank());
        ASSERT_EQ(g.n_rows, part.count(comm.rank()));
        for (std::size_t i = 0; i < g.n_rows; ++i)
            for (std::size_t t = 0; t < k; ++t) {
                ASSERT_EQ(g.indices[i * k + t], static_cast<std::int64_t>(ref.indices[(b + i) * k + t]))
                    << "M " << M << " row " << b + i;
                ASSERT_EQ(g.distances[i * k + t], ref.distances[(b + i) * k + t]) << "M " << M << " row " << b + i;
            }
    }
}

// Recall of the sharded search against the exact one on the clustered test set (Fashion-MNIST's 10 classes in 50
// PCA dimensions plus a noisy copy of 3000 points: tight pairs and clusters), 4 shards of 1750 points, HNSW's
// defaults: >= 0.95 at k = 15 and k = 90 (measured 0.9999 and 1.0000), and the same bits for 1 and 3 threads.
TEST(DistRanks, ShardedKnnRecall) {
    const Matrix<float>& X = data();
    for (std::size_t k : {15u, 90u}) {
        const KnnGraph exact = make_exact_index(X.view(), Metric::euclidean, 2)->self_neighbors(k);
        KnnOptions ko = fit_knn_options(KnnMethod::hnsw, Metric::euclidean, 1, 1);
        ko.hnsw_shards = 4;
        const KnnGraph g = build_knn_index(X.view(), ko)->self_neighbors(k);
        ko.n_threads = 3;
        const KnnGraph g3 = build_knn_index(X.view(), ko)->self_neighbors(k);
        EXPECT_EQ(g.indices, g3.indices);
        EXPECT_EQ(g.distances, g3.distances);
        std::size_t found = 0;
        for (std::size_t i = 0; i < X.rows(); ++i) {
            std::vector<index_t> want(exact.indices.begin() + static_cast<std::ptrdiff_t>(i * k),
                                      exact.indices.begin() + static_cast<std::ptrdiff_t>((i + 1) * k));
            std::sort(want.begin(), want.end());
            for (std::size_t t = 0; t < k; ++t) {
                const index_t j = g.indices[i * k + t];
                EXPECT_NE(j, static_cast<index_t>(i));
                found += std::binary_search(want.begin(), want.end(), j);
            }
        }
        const double recall = static_cast<double>(found) / static_cast<double>(X.rows() * k);
        if (world().rank() == 0) std::printf("sharded HNSW recall at k = %zu: %.4f\n", k, recall);
        EXPECT_GE(recall, 0.95) << "k = " << k;
    }
}

// 4100 points: with 3 ranks the last owns a block of 4 rows (fewer than k), searched by a scan in double.
TEST(DistRanks, ExactKnnWithATinyBlock) {
    dist::Comm& comm = world();
    const Matrix<float>& all = data();
    const MatrixView<float> X{all.data(), 4100, all.cols()};
    const dist::RowPartition part(X.rows, comm.size());
    const std::size_t k = 15;
    const int r = comm.rank();
    const MatrixView<float> rows{X.data + part.begin(r) * X.cols, part.count(r), X.cols};
    const dist::DistKnnGraph g = dist::exact_self_knn(comm, part, rows, k, Metric::euclidean, 2);
    const KnnGraph ref = make_exact_index(X, Metric::euclidean, 2)->self_neighbors(k);
    const std::size_t b = part.begin(r);
    for (std::size_t i = 0; i < g.n_rows; ++i)
        for (std::size_t t = 0; t < k; ++t) {
            ASSERT_EQ(g.indices[i * k + t], static_cast<std::int64_t>(ref.indices[(b + i) * k + t])) << "row " << b + i;
            ASSERT_EQ(g.distances[i * k + t], ref.distances[(b + i) * k + t]) << "row " << b + i;
        }
}

TEST(DistRanks, JointAffinitiesEqualSingleProcess) {
    dist::Comm& comm = world();
    const Matrix<float>& X = data();
    const dist::RowPartition part(X.rows(), comm.size());
    const KnnGraph full = make_exact_index(X.view(), Metric::euclidean, 2)->self_neighbors(90);
    MultiscaleOptions mo;
    mo.n_threads = 2;
    const CsrMatrix<double> P = multiscale_affinities(full, mo);  // symmetric, normalised
    const int r = comm.rank();
    const std::size_t b = part.begin(r), n_own = part.count(r);
    KnnGraph rows = KnnGraph::sized(n_own, full.k, full.n_reference);
    std::copy_n(full.indices.begin() + static_cast<std::ptrdiff_t>(b * full.k), n_own * full.k, rows.indices.begin());
    std::copy_n(full.distances.begin() + static_cast<std::ptrdiff_t>(b * full.k), n_own * full.k, rows.distances.begin());
    mo.symmetrize = false;
    const CsrMatrix<double> J = dist::symmetrize_joint(comm, part, multiscale_affinities(rows, mo), 2);
    ASSERT_EQ(J.n_rows, n_own);
    for (std::size_t i = 0; i < n_own; ++i) {
        ASSERT_EQ(J.indptr[i + 1] - J.indptr[i], P.indptr[b + i + 1] - P.indptr[b + i]) << "row " << b + i;
        for (offset_t p = J.indptr[i], q = P.indptr[b + i]; p < J.indptr[i + 1]; ++p, ++q) {
            ASSERT_EQ(J.indices[static_cast<std::size_t>(p)], P.indices[static_cast<std::size_t>(q)]);
            ASSERT_EQ(J.values[static_cast<std::size_t>(p)], P.values[static_cast<std::size_t>(q)]);
        }
    }
}

TEST(DistRanks, PcaEqualsSingleProcess) {
    dist::Comm& comm = world();
    const Matrix<float>& X = data();
    const dist::RowPartition part(X.rows(), comm.size());
    const PcaResult ref = pca(X.view(), 2, 2);
    const PcaResult got = pca(mine(part, X), X.rows(), 2, 1, dist::row_share(comm, part));
    ASSERT_EQ(got.mean, ref.mean);
    for (std::size_t t = 0; t < ref.components.size(); ++t) ASSERT_EQ(got.components.data()[t], ref.components.data()[t]);
    const std::size_t b = part.begin(comm.rank());
    for (std::size_t t = 0; t < got.scores.size(); ++t) ASSERT_EQ(got.scores.data()[t], ref.scores.data()[b * 2 + t]);
}

TEST(DistRanks, FftRepulsionByRowsEqualsFull) {
    dist::Comm& comm = world();
    const std::size_t n = 7000;
    Matrix<double> Y(n, 2);
    for (std::size_t i = 0; i < n; ++i) {  // three clusters of different spread
        const double a = 0.37 * static_cast<double>(i), s = 1.0 + static_cast<double>(i % 3) * 4.0;
        Y(i, 0) = s * std::cos(a) + 10.0 * static_cast<double>(i % 3);
        Y(i, 1) = s * std::sin(a * 1.3);
    }
    const dist::RowPartition part(n, comm.size());
    std::vector<double> f_ref(n * 2), f(n * 2, 0.0);
    const double z_ref = make_fft_repulsion({})->compute(Y.view(), StudentTKernel(1.0), f_ref.data());
    const double z = make_fft_repulsion({}, dist::row_share(comm, part))->compute(Y.view(), StudentTKernel(1.0), f.data());
    EXPECT_EQ(z, z_ref);
    for (std::size_t i = part.begin(comm.rank()); i < part.end(comm.rank()); ++i) {
        ASSERT_EQ(f[i * 2], f_ref[i * 2]) << i;
        ASSERT_EQ(f[i * 2 + 1], f_ref[i * 2 + 1]) << i;
    }
    // The Gaussian kernel takes the two-spectrum path.
    const double zg_ref = make_fft_repulsion({})->compute(Y.view(), GaussianKernel{4.0}, f_ref.data());
    const double zg = make_fft_repulsion({}, dist::row_share(comm, part))->compute(Y.view(), GaussianKernel{4.0}, f.data());
    EXPECT_EQ(zg, zg_ref);
    for (std::size_t i = part.begin(comm.rank()); i < part.end(comm.rank()); ++i) ASSERT_EQ(f[i * 2], f_ref[i * 2]) << i;
}

// The whole t-SNE (exact kNN, P, PCA init, FFT gradient, gains, both phases) equals TSNE::fit for 1, 2, 3 threads.
TEST(DistRanks, TsneEqualsSingleProcess) {
    dist::Comm& comm = world();
    const Matrix<float>& X = data();
    const dist::RowPartition part(X.rows(), comm.size());
    TsneOptions o;
    o.random_state = 7;
    o.early_exaggeration_iter = 60;
    o.n_iter = 60;
    o.neighbors = KnnMethod::exact;
    o.repulsion.method = GradientMethod::fft;
    o.n_jobs = 2;
    o.point_order = PointOrder::none;  // the order a distributed run keeps (auto would too below 10 000 points)
    const TsneEmbedding ref = TSNE(o).fit(X.view());
    for (int threads : {1, 3}) {
        o.n_jobs = threads;
        TsneEmbedding emb = dist::prepare_tsne(comm, part, mine(part, X), o);
        TSNE(o).run(emb);
        ASSERT_EQ(emb.embedding().size(), ref.embedding().size());
        for (std::size_t t = 0; t < ref.embedding().size(); ++t)
            ASSERT_EQ(emb.embedding().data()[t], ref.embedding().data()[t]) << "entry " << t << ", threads " << threads;
        EXPECT_EQ(emb.kl_divergence(), ref.kl_divergence());
    }
}

// The Hilbert point order renumbers the points, which the row blocks of a distributed run cannot: refused by name.
TEST(DistRanks, HilbertPointOrderRefused) {
    dist::Comm& comm = world();
    const Matrix<float>& X = data();
    const dist::RowPartition part(X.rows(), comm.size());
    TsneOptions o;
    o.point_order = PointOrder::hilbert;
    try {
        (void)dist::prepare_tsne(comm, part, mine(part, X), o);
        FAIL() << "hilbert accepted";
    } catch (const InvalidArgument& e) {
        EXPECT_NE(std::string(e.what()).find("point_order hilbert"), std::string::npos) << e.what();
    }
}

// Barnes-Hut (below 10 000 points by default) is computed in full on every rank: the same bits too.
TEST(DistRanks, TsneBarnesHutEqualsSingleProcess) {
    dist::Comm& comm = world();
    const Matrix<float>& X = data();
    const dist::RowPartition part(X.rows(), comm.size());
    TsneOptions o;
    o.random_state = 3;
    o.early_exaggeration_iter = 20;
    o.n_iter = 20;
    o.initialization = TsneInit::random;
    o.n_jobs = 2;
    const TsneEmbedding ref = TSNE(o).fit(X.view());
    TsneEmbedding emb = dist::prepare_tsne(comm, part, mine(part, X), o);
    TSNE(o).run(emb);
    for (std::size_t t = 0; t < ref.embedding().size(); ++t)
        ASSERT_EQ(emb.embedding().data()[t], ref.embedding().data()[t]) << "entry " << t;
}

// Row-block output: the file every rank wrote a block of equals the whole matrix written by one process.
TEST(DistRanks, RowBlockWriteAndRead) {
    dist::Comm& comm = world();
    const std::size_t n = 5000, d = 3;
    Matrix<double> M(n, d);
    for (std::size_t t = 0; t < M.size(); ++t) M.data()[t] = 0.5 * static_cast<double>(t) - 7.0;
    const dist::RowPartition part(n, comm.size());
    const std::string dir = std::string(NEMBED_BINARY_DIR) + "/tests";
    const std::string path = dir + "/dist_rows_" + std::to_string(comm.size()) + ".npy";
    dist::write_npy_block(comm, part, path, dist::own_rows(comm, part, M), d);
    comm.barrier();
    const NdArray a = read_npy(path);
    ASSERT_EQ(a.shape, (std::vector<std::size_t>{n, d}));
    std::vector<double> back(n * d);
    a.copy_to(back.data());
    for (std::size_t t = 0; t < back.size(); ++t) ASSERT_EQ(back[t], M.data()[t]);
    std::size_t cols = 0;
    const dist::RowPartition p2 = dist::npy_partition(comm, path, &cols);
    EXPECT_EQ(p2.n, n);
    EXPECT_EQ(cols, d);
    const Matrix<float> block = dist::read_npy_block(comm, p2, path);
    ASSERT_EQ(block.rows(), part.count(comm.rank()));
    for (std::size_t i = 0; i < block.rows(); ++i)
        EXPECT_EQ(block(i, 1), static_cast<float>(M(part.begin(comm.rank()) + i, 1)));
}

// umap-learn's σ/ρ of the owned rows equal the single-process calibration, including σ's floor from the global mean
// distance: 40 copies of one point (rows 4500..4539, on the third rank of 3) have only zero distances to their 14
// neighbours, so ρ = 0 and σ is 1e-3 × the mean over all N·k distances.
TEST(DistRanks, UmapCalibrationEqualsSingleProcess) {
    dist::Comm& comm = world();
    Matrix<float> X = data();
    for (std::size_t i = 4500; i < 4540; ++i)
        for (std::size_t c = 0; c < X.cols(); ++c) X(i, c) = X(4499, c);
    const dist::RowPartition part(X.rows(), comm.size());
    const std::size_t k = 14;
    FuzzyOptions fo;
    fo.n_threads = 2;
    const KnnGraph full = make_exact_index(X.view(), Metric::euclidean, 2)->self_neighbors(k);
    const FuzzyCalibration ref = smooth_knn_distances(full, fo);
    ASSERT_EQ(ref.rho[4510], 0.0);  // the floor is in play
    const KnnGraph rows = dist::exact_self_knn(comm, part, mine(part, X), k, Metric::euclidean, 1).to_graph();
    fo.n_threads = 3;
    const FuzzyCalibration got = dist::umap_calibration(comm, part, rows, fo);
    const std::size_t b = part.begin(comm.rank());
    ASSERT_EQ(got.rho.size(), part.count(comm.rank()));
    for (std::size_t i = 0; i < got.rho.size(); ++i) {
        ASSERT_EQ(got.rho[i], ref.rho[b + i]) << "row " << b + i;
        ASSERT_EQ(got.sigma[i], ref.sigma[b + i]) << "row " << b + i;
    }
}

namespace {
// The distributed UMAP (prepare_umap + the epochs) against UMAP::fit on all of X, entry by entry.
void expect_umap_equal(const MatrixView<float> X, UmapOptions o, const std::vector<int>& threads) {
    dist::Comm& comm = world();
    const dist::RowPartition part(X.rows, comm.size());
    o.neighbors = KnnMethod::exact;
    o.n_jobs = 2;
    const UmapEmbedding ref = UMAP(o).fit(X);
    const int r = comm.rank();
    const MatrixView<float> rows{X.data + part.begin(r) * X.cols, part.count(r), X.cols};
    for (int t : threads) {
        o.n_jobs = t;
        UmapEmbedding emb = dist::prepare_umap(comm, part, rows, o);
        EXPECT_EQ(emb.n_epochs(), ref.n_epochs());
        emb.optimize();
        ASSERT_EQ(emb.embedding().size(), ref.embedding().size());
        for (std::size_t q = 0; q < ref.embedding().size(); ++q)
            ASSERT_EQ(emb.embedding().data()[q], ref.embedding().data()[q]) << "entry " << q << ", threads " << t;
    }
}
} // namespace

// 7000 points (from 4096 the row order): kNN, fuzzy union, pruning, spectral / pca / random start and the epochs.
TEST(DistRanks, UmapEqualsSingleProcess) {
    const Matrix<float>& X = data();
    UmapOptions o;
    o.random_state = 11;
    o.n_epochs = 40;
    expect_umap_equal(X.view(), o, {1, 3});  // spectral
    o.init = UmapInit::pca;
    o.set_op_mix_ratio = 0.7;  // the general fuzzy combination
    expect_umap_equal(X.view(), o, {2});
    o.init = UmapInit::random;
    o.set_op_mix_ratio = 1.0;
    o.n_neighbors = 8;
    o.negative_sample_rate = 3;
    expect_umap_equal(X.view(), o, {2});
}

// A graph of 2 components (two copies of 3000 points, the second moved by 60 along the first axis; the points' norms
// are ~8): the spectral start places them on ± unit vectors without the data, so the distributed run starts and
// ends as one process does. (Copies thousands apart would not do: there the float32 keys of the exact kNN, single
// process too, are too coarse to rank neighbours ~1 apart; docs/mpi.md §2.)
TEST(DistRanks, UmapSpectralOfTwoComponentsEqualsSingleProcess) {
    const Matrix<float>& X = data();
    Matrix<float> two(6000, X.cols());
    for (std::size_t i = 0; i < 6000; ++i)
        for (std::size_t c = 0; c < X.cols(); ++c) two(i, c) = X(i % 3000, c) + (i >= 3000 && c == 0 ? 60.0f : 0.0f);
    UmapOptions o;
    o.random_state = 2;
    o.n_epochs = 20;
    o.neighbors = KnnMethod::exact;
    o.n_jobs = 2;
    const std::size_t n_comp = connected_components(UMAP(o).prepare(two.view()).graph()).count;
    ASSERT_GE(n_comp, 2u);
    ASSERT_LE(n_comp, 4u);  // 2·n_components: placed without the data
    expect_umap_equal(two.view(), o, {2});
}

// A graph of more than 2·n_components components (7 tight clusters of 900 points, centres 1.5·e_c, about 2.1
// apart so that the centroids' affinity exp(-d²) does not underflow): the spectral start places them by the
// data's centroids, whose c x D sums the ranks chain in row order (an ordered fold): the single-process bits.
TEST(DistRanks, UmapSpectralOfManyComponentsEqualsSingleProcess) {
    const std::size_t clusters = 7, per = 900, d = 50;
    Matrix<float> X(clusters * per, d);
    std::uint64_t state = 777;
    for (std::size_t i = 0; i < X.rows(); ++i)
        for (std::size_t c = 0; c < d; ++c) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            const double u = static_cast<double>(state >> 11) / 9007199254740992.0 - 0.5;
            X(i, c) = static_cast<float>((c == i % clusters ? 1.5 : 0.0) + 0.1 * u);  // clusters interleaved by row
        }
    UmapOptions o;
    o.random_state = 5;
    o.n_epochs = 5;
    o.neighbors = KnnMethod::exact;
    o.n_jobs = 2;
    const CsrMatrix<double> graph = UMAP(o).prepare(X.view()).graph();
    const std::size_t n_comp = connected_components(graph).count;
    ASSERT_GE(n_comp, 7u);  // > 2·n_components: the centroid layout
    // The data do place them: without the data the components land elsewhere (at random).
    EXPECT_NE(umap_spectral_init(graph, 2, 5, 1, X.view()).storage(), umap_spectral_init(graph, 2, 5, 1).storage());
    expect_umap_equal(X.view(), o, {1, 2});
}

// Below 4096 points umap-learn's serial edge order runs: the gathered graph on every rank, the same bits.
TEST(DistRanks, UmapSmallFitEqualsSingleProcess) {
    const Matrix<float>& X = data();
    UmapOptions o;
    o.random_state = 4;
    o.n_epochs = 30;
    expect_umap_equal(MatrixView<float>{X.data(), 3000, X.cols()}, o, {2});
    o.edge_order = EdgeOrder::rows;  // the row order at any size: distributed by rows
    o.init = UmapInit::random;
    expect_umap_equal(MatrixView<float>{X.data(), 3000, X.cols()}, o, {1});
}

// What is not distributed is refused on every rank with one agreed error.
TEST(DistRanks, UmapRefusesWhatIsNotDistributed) {
    dist::Comm& comm = world();
    const Matrix<float>& X = data();
    const dist::RowPartition part(X.rows(), comm.size());
    UmapOptions o;
    o.densmap = true;
    EXPECT_THROW(dist::prepare_umap(comm, part, mine(part, X), o), dist::CollectiveError);
    o.densmap = false;
    o.neighbors = KnnMethod::hnsw;
    o.knn_shards = X.rows() + 1;  // more shards than points
    EXPECT_THROW(dist::prepare_umap(comm, part, mine(part, X), o), dist::CollectiveError);
}

// Translation: the test data moved by +1e3 and +1e6 in every coordinate (float32 rounds the moved values; the ring
// and the single process search the same float32 rows) give the single-process neighbour lists under any rank
// count. The ring keys every block by the map of all of X (global column means by an ordered fold, the global
// largest offset), as one process keys all of X.
namespace {
Matrix<float> shifted(MatrixView<float> X, double by) {
    Matrix<float> S(X.rows, X.cols);
    for (std::size_t i = 0; i < X.rows; ++i)
        for (std::size_t c = 0; c < X.cols; ++c) S(i, c) = static_cast<float>(static_cast<double>(X.row(i)[c]) + by);
    return S;
}
void expect_ring_equals_single(const Matrix<float>& X, std::size_t k, std::size_t* same_as_unshifted = nullptr,
                               const KnnGraph* unshifted = nullptr) {
    dist::Comm& comm = world();
    const dist::RowPartition part(X.rows(), comm.size());
    const dist::DistKnnGraph g = dist::exact_self_knn(comm, part, mine(part, X), k, Metric::euclidean, 2);
    const KnnGraph ref = make_exact_index(X.view(), Metric::euclidean, 2)->self_neighbors(k);
    const std::size_t b = part.begin(comm.rank());
    std::size_t differ = 0;
    for (std::size_t i = 0; i < g.n_rows; ++i)
        for (std::size_t t = 0; t < k; ++t)
            differ += g.indices[i * k + t] != static_cast<std::int64_t>(ref.indices[(b + i) * k + t]) ||
                      g.distances[i * k + t] != ref.distances[(b + i) * k + t];
    EXPECT_EQ(differ, 0u) << "of " << g.n_rows * k << " entries on rank " << comm.rank();
    if (unshifted != nullptr)  // the single process's lists, unshifted against shifted
        for (std::size_t t = 0; t < ref.indices.size(); ++t) *same_as_unshifted += ref.indices[t] == unshifted->indices[t];
}
} // namespace

TEST(DistRanks, ExactKnnIsTranslationRobust) {
    const Matrix<float>& X = data();
    const std::size_t k = 20;
    const KnnGraph base = make_exact_index(X.view(), Metric::euclidean, 2)->self_neighbors(k);
    for (double by : {1e3, 1e6}) {
        SCOPED_TRACE("shift " + std::to_string(by));
        std::size_t same = 0;
        expect_ring_equals_single(shifted(X.view(), by), k, &same, &base);
        // +1e3 rounds the data by up to 3e-5 (float32 near 1000): only near-ties may swap (139 860 of 140 000 stay).
        // +1e6 rounds them to multiples of 1/16, a different data set (about half the entries stay): not compared.
        if (by == 1e3) {
            EXPECT_GE(same, base.indices.size() * 998 / 1000);
        }
    }
}

// The two-component set of the UMAP tests below, moved by +1000 in every coordinate (norm ~7000, neighbours ~1
// apart): the ring gives the single-process lists.
TEST(DistRanks, ExactKnnOfShiftedTwoComponents) {
    const Matrix<float>& X = data();
    Matrix<float> two(6000, X.cols());
    for (std::size_t i = 0; i < 6000; ++i)
        for (std::size_t c = 0; c < X.cols(); ++c) two(i, c) = X(i % 3000, c) + (i >= 3000 && c == 0 ? 60.0f : 0.0f) + 1000.0f;
    expect_ring_equals_single(two, 14);
}

// The edge mini-batch plan (cne) with its edges and batches split over the ranks (EdgeBatchShare: each rank holds
// its graph rows' edges, shuffles them by buckets, runs its chunks and finishes its slots) against one process: the
// same bits of Y for NEG, InfoNCE (cne's default) and nce (its learned log Z from the heads' dlog Z), with plain SGD
// (the fused step) and with momentum (the table's gradient and optimizer), 1 and 2 threads per rank.
namespace {
EdgeBatchShare edge_share(dist::Comm& comm) {
    return {comm.rank(), comm.size(), [&comm](std::int64_t* v, std::size_t n) { comm.allreduce_sum(v, n); },
            [&comm](const void* send, const std::vector<std::size_t>& sc, void* recv,
                    const std::vector<std::size_t>& rc) { comm.alltoallv(send, sc, recv, rc); },
            [&comm](const void* send, std::size_t bytes, void* recv, const std::vector<std::size_t>& counts) {
                comm.allgatherv(send, bytes, recv, counts);
            }};
}

// This rank's rows of `graph` (dist::RowPartition), the other rows empty: a distributed plan's input.
CsrMatrix<double> own_rows(const CsrMatrix<double>& graph, dist::Comm& comm) {
    const dist::RowPartition part(graph.n_rows, comm.size());
    const std::size_t b = part.begin(comm.rank()), e = part.end(comm.rank());
    CsrMatrix<double> g;
    g.n_rows = graph.n_rows;
    g.n_cols = graph.n_cols;
    g.indptr.assign(graph.n_rows + 1, 0);
    for (std::size_t i = 0; i < graph.n_rows; ++i) {
        if (i >= b && i < e)
            for (offset_t p = graph.indptr[i]; p < graph.indptr[i + 1]; ++p) {
                g.indices.push_back(graph.indices[p]);
                g.values.push_back(graph.values[p]);
            }
        g.indptr[i + 1] = static_cast<offset_t>(g.indices.size());
    }
    return g;
}

Matrix<double> run_edge_plan(const CsrMatrix<double>& graph, ContrastiveMode mode, double momentum, int threads,
                             bool shared, double* log_Z, std::size_t batch_size = 2048,
                             NegativeSampling sampling = NegativeSampling::in_batch) {
    dist::Comm& comm = world();
    ContrastiveLossParams lp;
    lp.mode = mode;
    EdgeBatchOptions eo;
    eo.batch_size = batch_size;  // 2048: 4 chunks of 512 heads per batch, ~18 batches per epoch (2b > n)
    eo.sampling = sampling;
    eo.seed = 7;
    if (shared) eo.share = edge_share(comm);
    EdgeBatchPlan plan(shared ? own_rows(graph, comm) : graph, lp, eo, 2);
    Matrix<double> Y0(graph.n_rows, 2);
    for (std::size_t i = 0; i < graph.n_rows; ++i) {
        Y0(i, 0) = std::sin(0.7 * static_cast<double>(i));
        Y0(i, 1) = std::cos(1.3 * static_cast<double>(i));
    }
    EmbeddingTable table(std::move(Y0));
    OptimizerOptions oo;
    oo.momentum = momentum;
    auto opt = make_optimizer(oo);
    Trainer tr(plan, table, *opt, threads);
    Phase ph;
    ph.n_steps = 3;
    ph.learning_rate = 0.5;
    tr.add_phase(ph);
    tr.run();
    *log_Z = plan.log_Z();
    return table.Y();
}
} // namespace

TEST(DistRanks, EdgeBatchPlanSharedEqualsSingleProcess) {
    const Matrix<float>& X = data();
    const MatrixView<float> sub{X.data(), 3000, X.cols()};
    const KnnGraph g = make_exact_index(sub, Metric::euclidean, 2)->self_neighbors(6);
    std::vector<Triplet<double>> t;
    for (std::size_t i = 0; i < g.n_points; ++i)
        for (std::size_t j = 0; j < g.k; ++j) {
            t.push_back({static_cast<index_t>(i), g.indices[i * g.k + j], 1.0});
            t.push_back({g.indices[i * g.k + j], static_cast<index_t>(i), 1.0});
        }
    CsrMatrix<double> graph = csr_from_triplets(3000, 3000, t);
    for (double& v : graph.values) v = 1.0;  // binary (duplicates summed)
    for (ContrastiveMode mode : {ContrastiveMode::neg, ContrastiveMode::infonce, ContrastiveMode::nce})
        for (double momentum : {0.0, 0.9}) {
            SCOPED_TRACE(to_string(mode) + " momentum " + std::to_string(momentum));
            double z_ref = 0, z = 0;
            const Matrix<double> ref = run_edge_plan(graph, mode, momentum, 2, false, &z_ref);
            for (int threads : {1, 2}) {
                const Matrix<double> Y = run_edge_plan(graph, mode, momentum, threads, true, &z);
                ASSERT_EQ(0, std::memcmp(Y.data(), ref.data(), Y.size() * sizeof(double))) << threads << " threads";
                EXPECT_EQ(z, z_ref);
            }
            // Small batches (2b = 512 < n): only the batch's slots are all-reduced; uniform negatives: all points.
            for (NegativeSampling sampling : {NegativeSampling::in_batch, NegativeSampling::uniform}) {
                SCOPED_TRACE(sampling == NegativeSampling::uniform ? "uniform, batch 256" : "in-batch, batch 256");
                const Matrix<double> ref_small = run_edge_plan(graph, mode, momentum, 2, false, &z_ref, 256, sampling);
                const Matrix<double> Y = run_edge_plan(graph, mode, momentum, 2, true, &z, 256, sampling);
                ASSERT_EQ(0, std::memcmp(Y.data(), ref_small.data(), Y.size() * sizeof(double)));
                EXPECT_EQ(z, z_ref);
            }
        }
}

// Every edge of an epoch is trained by exactly one rank, in the single-process position: the ranks' chunk edges
// (EdgeBatchPlan::epoch_edges), laid out again by the ownership rule (chunk c of every batch on rank c mod R), are
// the single-process epoch order — a rank that dropped, doubled or misplaced a chunk (or an edge) fails here. The
// batches' shapes include a partial last batch; several epochs, 1 and 2 threads. And the graph's rows built by the
// transpose exchange are binary_symmetric_graph's.
TEST(DistRanks, EdgeBatchChunksAreOwnedOnceEach) {
    dist::Comm& comm = world();
    const Matrix<float>& X = data();
    const std::size_t n = 3000;
    const MatrixView<float> sub{X.data(), n, X.cols()};
    const KnnGraph knn = make_exact_index(sub, Metric::euclidean, 2)->self_neighbors(6);
    const CsrMatrix<double> graph = binary_symmetric_graph(knn);
    const dist::RowPartition part(n, comm.size());
    const int r = comm.rank();
    {
        KnnGraph mine_knn = KnnGraph::sized(part.count(r), knn.k, n);
        std::copy_n(knn.indices.begin() + static_cast<std::ptrdiff_t>(part.begin(r) * knn.k), mine_knn.indices.size(),
                    mine_knn.indices.begin());
        const CsrMatrix<double> rows = dist::binary_symmetric_graph_rows(comm, part, mine_knn);
        const CsrMatrix<double> want = own_rows(graph, comm);
        ASSERT_EQ(rows.n_rows, want.n_rows);
        ASSERT_EQ(rows.indptr, want.indptr);
        ASSERT_EQ(rows.indices, want.indices);
        ASSERT_EQ(rows.values, want.values);
    }
    for (std::size_t batch : {std::size_t(2048), std::size_t(1300)}) {  // 4 and 3 chunks (512, 512, 276 heads)
        ContrastiveLossParams lp;
        EdgeBatchOptions eo;
        eo.batch_size = batch;
        eo.seed = 11;
        EdgeBatchPlan single(graph, lp, eo, 2);
        eo.share = edge_share(comm);
        EdgeBatchPlan split(own_rows(graph, comm), lp, eo, 2);
        ASSERT_EQ(split.n_edges(), single.n_edges());
        const std::size_t E = single.n_edges(), B = single.batch_size(), R = static_cast<std::size_t>(comm.size());
        ASSERT_NE(E % B, 0u) << "the test wants a partial last batch";
        const std::size_t per_chunk = std::clamp<std::size_t>(32768 / (single.negatives() + 2), 1, 512);  // 512
        for (std::int64_t epoch : {0, 1, 5})
            for (int threads : {1, 2}) {
                const std::vector<std::uint64_t> ref = single.epoch_edges(epoch, threads);
                const std::vector<std::uint64_t> own = split.epoch_edges(epoch, threads);
                const std::vector<std::uint64_t> all = dist::allgatherv(comm, own);
                const std::vector<std::uint64_t> counts = dist::allgather_u64(comm, own.size());
                std::vector<std::size_t> next(R, 0);
                for (std::size_t q = 1; q < R; ++q) next[q] = next[q - 1] + static_cast<std::size_t>(counts[q - 1]);
                const std::vector<std::size_t> end_of = [&] {
                    std::vector<std::size_t> e(R);
                    for (std::size_t q = 0; q < R; ++q) e[q] = next[q] + static_cast<std::size_t>(counts[q]);
                    return e;
                }();
                for (std::size_t p = 0; p < E; ++p) {
                    const std::size_t bi = p / B, q = (p - bi * B) / per_chunk % R;
                    ASSERT_LT(next[q], end_of[q]) << "rank " << q << " lacks the edge at position " << p;
                    ASSERT_EQ(all[next[q]++], ref[p]) << "position " << p << ", epoch " << epoch;
                }
                for (std::size_t q = 0; q < R; ++q) EXPECT_EQ(next[q], end_of[q]) << "rank " << q << " has extra edges";
            }
    }
}

// fetch_rows: any indices, repeated and unordered, come back as the rows of X.
TEST(DistRanks, FetchRowsGivesTheRequestedRows) {
    dist::Comm& comm = world();
    const Matrix<float>& X = data();
    const dist::RowPartition part(X.rows(), comm.size());
    std::vector<std::int64_t> wanted;
    for (std::int64_t t = 0; t < 300; ++t) wanted.push_back((t * 7919 + 13 * comm.rank()) % static_cast<std::int64_t>(X.rows()));
    wanted.push_back(wanted.front());  // a repeat
    const dist::FetchedRows got = dist::fetch_rows(comm, part, mine(part, X), wanted);
    for (std::int64_t id : wanted)
        for (std::size_t c = 0; c < X.cols(); ++c) ASSERT_EQ(got.row(id)[c], X(static_cast<std::size_t>(id), c));
    EXPECT_LE(got.ids.size(), 300u);
}

// TorchDR's EntropicAffinity (the input affinity of SNE, TSNE, InfoTSNE, LargeVis): every rank's rows are the
// single-process P's rows bit for bit (both costs, 1 and 2 threads); what is not distributed is refused on all ranks.
TEST(DistRanks, EntropicAffinityRowsEqualSingleProcess) {
    dist::Comm& comm = world();
    const Matrix<float>& X = data();
    const dist::RowPartition part(X.rows(), comm.size());
    const int r = comm.rank();
    const std::size_t b = part.begin(r);
    for (CostMetric metric : {CostMetric::sqeuclidean, CostMetric::euclidean})
        for (int threads : {1, 2}) {
            torchdr::EntropicOptions o;  // perplexity 30: the 90 nearest costs
            o.metric = metric;
            o.knn_method = KnnMethod::exact;
            o.n_threads = threads;
            const CsrMatrix<double> ref = torchdr::entropic_affinity(o, X.view());
            const CsrMatrix<double> P = dist::entropic_affinity_rows(comm, part, mine(part, X), o);
            ASSERT_EQ(P.n_rows, part.count(r));
            ASSERT_EQ(P.n_cols, X.rows());
            for (std::size_t i = 0; i < P.n_rows; ++i) {
                const offset_t a = ref.indptr[b + i], len = ref.indptr[b + i + 1] - a;
                ASSERT_EQ(P.indptr[i + 1] - P.indptr[i], len) << "row " << b + i;
                for (offset_t t = 0; t < len; ++t) {
                    ASSERT_EQ(P.indices[P.indptr[i] + t], ref.indices[a + t]) << "row " << b + i;
                    ASSERT_EQ(P.values[P.indptr[i] + t], ref.values[a + t]) << "row " << b + i << ", threads " << threads;
                }
            }
        }
    // The sharded HNSW search (--neighbors hnsw --knn-shards 3): one process with the same shards, row for row.
    torchdr::EntropicOptions o;
    o.knn_method = KnnMethod::hnsw;
    o.knn_shards = 3;
    o.n_threads = 2;
    {
        const CsrMatrix<double> ref = torchdr::entropic_affinity(o, X.view());
        const CsrMatrix<double> P = dist::entropic_affinity_rows(comm, part, mine(part, X), o);
        ASSERT_EQ(P.n_rows, part.count(r));
        for (std::size_t i = 0; i < P.n_rows; ++i) {
            const offset_t a = ref.indptr[b + i], len = ref.indptr[b + i + 1] - a;
            ASSERT_EQ(P.indptr[i + 1] - P.indptr[i], len) << "row " << b + i;
            for (offset_t t = 0; t < len; ++t) {
                ASSERT_EQ(P.indices[P.indptr[i] + t], ref.indices[a + t]) << "row " << b + i;
                ASSERT_EQ(P.values[P.indptr[i] + t], ref.values[a + t]) << "row " << b + i;
            }
        }
    }
    o.knn_method = KnnMethod::exact;
    o.sparsity = false;
    EXPECT_THROW(dist::entropic_affinity_rows(comm, part, mine(part, X), o), dist::CollectiveError);
    o.sparsity = true;
    o.metric = CostMetric::manhattan;
    EXPECT_THROW(dist::entropic_affinity_rows(comm, part, mine(part, X), o), dist::CollectiveError);
}

// TorchDR's SNE, TSNE, InfoTSNE, LargeVis and UMAP (`nembed ne` under mpirun, the optimisation split by rows): the
// distributed fit equals one process's fit_transform(X) bit for bit — embedding, last loss and gradient norm (pca and
// random starts, 1 and 2 threads; TSNE with the exact and the split FFT repulsion; at 6 000 and 7 000 points the
// sampled losses' scatter blocks span the rank boundaries under 2 and 3 ranks); the 7000-point set has repeated rows, which
// the default process_duplicates refuses on every rank and process_duplicates = false embeds as they are.
namespace {
template <typename Method, typename Options>
void expect_ne_equal(MatrixView<float> X, Options o, const std::vector<int>& threads) {
    dist::Comm& comm = world();
    SCOPED_TRACE(typeid(Method).name());
    const dist::RowPartition part(X.rows, comm.size());
    o.knn_method = KnnMethod::exact;
    o.n_threads = 2;
    const NeResult ref = Method(o).fit_transform(X);
    const int r = comm.rank();
    const MatrixView<float> rows{X.data + part.begin(r) * X.cols, part.count(r), X.cols};
    for (int t : threads) {
        o.n_threads = t;
        const NeResult got = dist::fit_ne(comm, part, rows, o);
        EXPECT_EQ(got.n_iter, ref.n_iter);
        EXPECT_EQ(std::isnan(got.loss), std::isnan(ref.loss));
        if (!std::isnan(ref.loss)) {
            EXPECT_EQ(got.loss, ref.loss) << "threads " << t;
        }
        EXPECT_EQ(got.grad_norm, ref.grad_norm) << "threads " << t;
        ASSERT_EQ(got.embedding.size(), ref.embedding.size());
        for (std::size_t q = 0; q < ref.embedding.size(); ++q)
            ASSERT_EQ(got.embedding.data()[q], ref.embedding.data()[q]) << "entry " << q << ", threads " << t;
    }
}
} // namespace

TEST(DistRanks, TorchdrMethodsEqualSingleProcess) {
    const Matrix<float>& X = data();
    const MatrixView<float> unique_rows{X.data(), 6000, X.cols()};  // the repeats are rows 6990-6994
    torchdr::SNEOptions sne;
    sne.max_iter = 15;
    expect_ne_equal<torchdr::SNE>(unique_rows, sne, {1, 2});
    torchdr::TSNEOptions tsne;
    tsne.max_iter = 20;
    tsne.early_exaggeration_iter = 8;
    tsne.init = NeInit::random;
    tsne.random_state = 3;
    expect_ne_equal<torchdr::TSNE>(unique_rows, tsne, {2});
    // The FFT repulsion split by rows (each rank spreads and interpolates its own points), the pca start.
    tsne.backend = NeBackend::fft;
    tsne.init = NeInit::pca;
    expect_ne_equal<torchdr::TSNE>(unique_rows, tsne, {1, 2});
    torchdr::InfoTSNEOptions info;
    info.max_iter = 20;
    info.early_exaggeration_iter = 8;
    info.n_negatives = 30;
    info.random_state = 5;
    expect_ne_equal<torchdr::InfoTSNE>(unique_rows, info, {1, 2});
    torchdr::LargeVisOptions lv;
    lv.max_iter = 20;
    lv.random_state = 6;
    lv.exclude_neighbors_from_negative_sampling = true;
    lv.process_duplicates = false;
    expect_ne_equal<torchdr::LargeVis>(X.view(), lv, {2});
    torchdr::UMAPOptions umap;
    umap.max_iter = 20;
    umap.random_state = 7;
    umap.n_neighbors = 12;
    expect_ne_equal<torchdr::UMAP>(unique_rows, umap, {1, 2});
    // The repeated rows with the default process_duplicates: refused on every rank.
    dist::Comm& comm = world();
    const dist::RowPartition part(X.rows(), comm.size());
    lv.process_duplicates = true;
    lv.knn_method = KnnMethod::exact;
    EXPECT_THROW(dist::fit_ne(comm, part, mine(part, X), lv), dist::CollectiveError);
}

namespace {
// Whether rank r's heads all lie inside one scatter block of InfoTSNE's / LargeVis's negatives that began on an
// earlier rank (`inside`), and whether r then passes that block on to a later rank (`passes`): NeSampledLoss's
// rule (256-head chunks, min(blocks, chunks) blocks of whole chunks), written out again.
struct BlockPath {
    bool inside = false, passes = false;
};
BlockPath scatter_block_path(const dist::RowPartition& part, int r, std::size_t blocks) {
    const std::size_t chunk = 256, n_chunks = (part.n + chunk - 1) / chunk, nb = std::min(blocks, n_chunks);
    const auto begin = [&](std::size_t b) { return b * n_chunks / nb; };
    const auto block_of = [&](std::size_t c) {
        std::size_t b = 0;
        while (b + 1 < nb && begin(b + 1) <= c) ++b;
        return b;
    };
    const std::size_t c_lo = part.begin(r) / chunk, c_hi = (part.end(r) + chunk - 1) / chunk;
    if (c_lo >= c_hi) return {};
    const std::size_t bf = block_of(c_lo), bl = block_of(c_hi - 1);
    const bool inside = bf == bl && begin(bf) < c_lo;
    return {inside, inside && begin(bl + 1) > c_hi};
}
} // namespace

// The path a rank takes when all its heads lie inside one scatter block begun on an earlier rank: it receives the
// block, adds its heads' pairs, then passes it on (or, the last such rank, keeps it). With the default 8 blocks it
// needs >= 9 ranks at N >= 32 768; with NeNegatives::scatter_blocks 1 or 2 it is reached at 2 and 3 ranks on 6 000
// and 7 000 points. Checked: that the geometry reaches it under mpirun (some rank inside one block; with 3 ranks one
// that passes it on), and InfoTSNE's and LargeVis's embedding, last loss and gradient norm equal to one process run
// with the same blocks, bit for bit.
TEST(DistRanks, SampledLossBlockInsideOneRankEqualsSingleProcess) {
    const Matrix<float>& X = data();
    const MatrixView<float> unique_rows{X.data(), 6000, X.cols()};
    dist::Comm& comm = world();
    const int R = comm.size();
    for (std::size_t blocks : {std::size_t(1), std::size_t(2)}) {
        SCOPED_TRACE("scatter_blocks " + std::to_string(blocks));
        for (std::size_t n : {std::size_t(6000), X.rows()}) {
            const dist::RowPartition part(n, R);
            int inside = 0, passes = 0;
            for (int r = 0; r < R; ++r) {
                const BlockPath p = scatter_block_path(part, r, blocks);
                inside += p.inside;
                passes += p.passes;
            }
            if (R >= 2 && blocks == 1) {
                EXPECT_GE(inside, 1) << n << " points";
            }
            if (R >= 3 && blocks == 1) {
                EXPECT_GE(passes, 1) << n << " points";
            }
            if (R == 3) {
                EXPECT_GE(inside, 1) << n << " points";
            }
        }
        torchdr::InfoTSNEOptions info;
        info.max_iter = 12;
        info.early_exaggeration_iter = 5;
        info.n_negatives = 30;
        info.random_state = 5;
        info.scatter_blocks = blocks;
        expect_ne_equal<torchdr::InfoTSNE>(unique_rows, info, {1, 2});
        torchdr::LargeVisOptions lv;
        lv.max_iter = 12;
        lv.random_state = 6;
        lv.exclude_neighbors_from_negative_sampling = true;
        lv.process_duplicates = false;
        lv.scatter_blocks = blocks;
        expect_ne_equal<torchdr::LargeVis>(X.view(), lv, {2});
    }
}

// A rank waiting for a late partner must not burn its core (MPI's blocking calls busy-poll; on a loaded or
// oversubscribed machine that core is the one the partner needs). The last rank sleeps 0.8 s before each
// collective; rank 0's CPU time across the wait must stay far below the wall time. With busy-polling (or Open
// MPI's yield-when-idle spin under --oversubscribe) it is about 0.8 s per wait.
TEST(DistRanks, WaitingRankDoesNotSpin) {
    dist::Comm& comm = world();
    const int R = comm.size();
    if (R < 2) GTEST_SKIP() << "needs mpirun with at least 2 ranks";
    auto cpu_seconds = [] {
        rusage u{};
        getrusage(RUSAGE_SELF, &u);
        return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
               1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
    };
    const auto late = [&] {
        if (comm.rank() == R - 1) std::this_thread::sleep_for(std::chrono::milliseconds(800));
    };
    comm.barrier();
    const double c0 = cpu_seconds();
    late();
    comm.barrier();
    late();
    std::vector<std::uint64_t> all = dist::allgather_u64(comm, static_cast<std::uint64_t>(comm.rank()));
    late();
    std::vector<double> v{static_cast<double>(comm.rank())};
    comm.allreduce_max(v.data(), 1);
    const double used = cpu_seconds() - c0;
    EXPECT_EQ(all.size(), static_cast<std::size_t>(R));
    EXPECT_EQ(v[0], static_cast<double>(R - 1));
    // Three waits of 0.8 s: a spinning rank uses ~2.4 s; a sleeping one a few ms (0.5 s leaves room for a loaded CI).
    if (comm.rank() != R - 1) {
        EXPECT_LT(used, 0.5) << "rank " << comm.rank() << " used " << used << " CPU s waiting";
    }
}
