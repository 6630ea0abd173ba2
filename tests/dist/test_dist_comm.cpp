// The communicator layer with one rank (the serial communicator every single-process run uses), the row partition,
// row-block .npy reading and the row-wise symmetrisation the distributed affinities rely on.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "nembed/affinity/symmetrize.hpp"
#include "nembed/core/error.hpp"
#include "nembed/dist/comm.hpp"
#include "nembed/dist/io.hpp"
#include "nembed/dist/rows.hpp"
#include "nembed/io/file.hpp"
#include "nembed/io/npy.hpp"

using namespace nembed;

TEST(DistComm, SerialCollectivesCopy) {
    auto comm = dist::make_serial_comm();
    EXPECT_EQ(comm->rank(), 0);
    EXPECT_EQ(comm->size(), 1);
    const std::vector<double> mine = {1.5, -2.0, 3.25};
    EXPECT_EQ(dist::allgatherv(*comm, mine), mine);
    std::vector<double> back(3);
    comm->alltoallv(mine.data(), {24}, back.data(), {24});
    EXPECT_EQ(back, mine);
    comm->sendrecv(mine.data(), 24, 0, back.data(), 24, 0);
    EXPECT_EQ(back, mine);
    EXPECT_THROW(comm->send(mine.data(), 8, 0), InvalidArgument);
    EXPECT_THROW(comm->allgatherv(mine.data(), 24, back.data(), {16}), InvalidArgument);
    EXPECT_EQ(comm->bytes_sent(), 0u);  // nothing leaves a single process
}

TEST(DistComm, OrderedFoldIsTheSequentialLoop) {
    auto comm = dist::make_serial_comm();
    int calls = 0;
    double s = 10.0;
    dist::ordered_fold(*comm, &s, sizeof s, [&](bool first) {
        EXPECT_TRUE(first);
        ++calls;
        s += 1.0;
    });
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(s, 11.0);
    // Not associative in floating point: the fold must add in the given order, starting from 0.
    const std::vector<double> p = {1e16, 1.0, -1e16, 1.0};
    double seq = 0.0;
    for (double v : p) seq += v;
    EXPECT_EQ(dist::ordered_sum(*comm, p), seq);
    EXPECT_EQ(seq, 1.0);
}

TEST(DistComm, CheckAllAndCollectiveReportTheError) {
    auto comm = dist::make_serial_comm();
    EXPECT_NO_THROW(dist::check_all(*comm, true, "unused"));
    try {
        dist::check_all(*comm, false, "bad block");
        FAIL() << "check_all(false) returned";
    } catch (const dist::CollectiveError& e) {
        EXPECT_STREQ(e.what(), "bad block");  // no "rank r:" prefix with one rank
    }
    EXPECT_THROW(dist::collective(*comm, [] { throw IoError("x.npy: truncated"); }), dist::CollectiveError);
    EXPECT_NO_THROW(dist::collective(*comm, [] {}));
}

TEST(DistComm, WorldCommWithoutLauncherIsSerial) {
    if (dist::launched_by_mpi()) GTEST_SKIP() << "started by mpirun";
    auto comm = dist::make_world_comm();
    EXPECT_EQ(comm->size(), 1);
    EXPECT_EQ(comm->name(), "serial");
}

TEST(DistRows, PartitionCoversAlignedBlocks) {
    for (std::size_t n : {std::size_t(1), std::size_t(1000), std::size_t(2048), std::size_t(4097),
                          std::size_t(70000), std::size_t(100003)}) {
        for (int R : {1, 2, 3, 4, 7}) {
            const dist::RowPartition part(n, R);
            std::size_t next = 0;
            for (int r = 0; r < R; ++r) {
                EXPECT_EQ(part.begin(r), next) << n << " " << R;
                EXPECT_TRUE(part.begin(r) % dist::kRowAlign == 0 || part.begin(r) == n);
                EXPECT_LE(part.begin(r), part.end(r));
                if (part.count(r) > 0) {
                    for (std::size_t i : {part.begin(r), part.end(r) - 1}) {
                        EXPECT_EQ(part.owner(i), r) << n << " " << R << " row " << i;
                    }
                }
                next = part.end(r);
            }
            EXPECT_EQ(next, n);
            // blocks split evenly: the counts differ by at most one block
            std::size_t lo = n, hi = 0;
            for (int r = 0; r < R; ++r) {
                lo = std::min(lo, part.count(r));
                hi = std::max(hi, part.count(r));
            }
            EXPECT_LE(hi - lo, 2 * dist::kRowAlign);
        }
    }
    EXPECT_THROW(dist::RowPartition(10, 0), InvalidArgument);
}

TEST(DistIo, ReadRowsByOffsetAndTruncation) {
    Matrix<float> M(50, 3);
    for (std::size_t t = 0; t < M.size(); ++t) M.data()[t] = static_cast<float>(t) * 0.5f;
    const std::string path = std::string(NEMBED_BINARY_DIR) + "/tests/dist_read_rows.npy";
    write_npy(path, M.view());
    const NpyHeader h = read_npy_header(path);
    EXPECT_EQ(h.shape, (std::vector<std::size_t>{50, 3}));
    EXPECT_EQ(h.data_offset % 64, 0u);
    const NdArray a = read_npy_rows(path, 10, 17);
    ASSERT_EQ(a.shape, (std::vector<std::size_t>{7, 3}));
    std::vector<float> v(21);
    a.copy_to(v.data());
    for (std::size_t t = 0; t < 21; ++t) EXPECT_EQ(v[t], M.data()[30 + t]);
    EXPECT_EQ(read_npy_rows(path, 50, 50).shape[0], 0u);
    EXPECT_THROW(read_npy_rows(path, 40, 51), IoError);
    // Cut the file in the middle of row 30: rows before it still read, rows after it name the truncation.
    std::vector<unsigned char> bytes = read_file_bytes(path);
    bytes.resize(h.data_offset + 30 * 3 * 4 + 5);
    const std::string cut = std::string(NEMBED_BINARY_DIR) + "/tests/dist_read_rows_cut.npy";
    write_file_atomic(cut, bytes.data(), bytes.size());
    EXPECT_EQ(read_npy_rows(cut, 0, 30).shape[0], 30u);
    try {
        read_npy_rows(cut, 25, 40);
        FAIL() << "a truncated block was read";
    } catch (const IoError& e) {
        EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("dist_read_rows_cut.npy"), std::string::npos) << e.what();
    }
}

TEST(DistAffinity, SymmetrizeRowsEqualsRowsOfSymmetrize) {
    // A small non-symmetric sparse matrix with sorted rows and an explicit zero.
    CsrMatrix<double> A;
    A.n_rows = A.n_cols = 5;
    A.indptr = {0, 2, 3, 5, 6, 8};
    A.indices = {1, 3, 0, 1, 4, 2, 0, 3};
    A.values = {0.3, 0.1, 0.7, 0.2, 0.0, 0.9, 0.4, 0.6};
    const CsrMatrix<double> T = transpose(A);
    for (Symmetrization rule : {Symmetrization::mean, Symmetrization::max, Symmetrization::fuzzy_union,
                                Symmetrization::fuzzy_intersection}) {
        const CsrMatrix<double> full = symmetrize(A, rule);
        // rows 2..4 only
        auto rows = [](const CsrMatrix<double>& M, std::size_t b, std::size_t e) {
            CsrMatrix<double> S;
            S.n_rows = e - b;
            S.n_cols = M.n_cols;
            S.indptr.push_back(0);
            for (std::size_t i = b; i < e; ++i) {
                for (offset_t p = M.indptr[i]; p < M.indptr[i + 1]; ++p) {
                    S.indices.push_back(M.indices[static_cast<std::size_t>(p)]);
                    S.values.push_back(M.values[static_cast<std::size_t>(p)]);
                }
                S.indptr.push_back(static_cast<offset_t>(S.indices.size()));
            }
            return S;
        };
        const CsrMatrix<double> got = symmetrize_rows(rows(A, 2, 5), rows(T, 2, 5), rule);
        const CsrMatrix<double> want = rows(full, 2, 5);
        EXPECT_EQ(got.indptr, want.indptr) << to_string(rule);
        EXPECT_EQ(got.indices, want.indices) << to_string(rule);
        EXPECT_EQ(got.values, want.values) << to_string(rule);
    }
    EXPECT_THROW(symmetrize_rows(A, CsrMatrix<double>{}, Symmetrization::mean), InvalidArgument);
}

// Precomputed neighbours (--knn-input): every row's checks name the file's row and the fault, and a valid file
// reads back as written. The checks run N·k times, so their messages are built only on failure.
TEST(DistIo, KnnInputRowChecksNameTheRow) {
    auto comm = dist::make_serial_comm();
    const std::string dir = std::string(NEMBED_BINARY_DIR) + "/tests/";
    auto write = [&](const std::string& prefix, std::vector<double> idx, std::vector<double> dst) {
        write_npy(dir + prefix + "_indices.npy", MatrixView<double>{idx.data(), 4, 2});
        write_npy(dir + prefix + "_distances.npy", MatrixView<double>{dst.data(), 4, 2});
    };
    const std::vector<double> good_i = {1, 2, 0, 2, 3, 1, 2, 0}, good_d = {1, 2, 1, 2, 0.5, 1, 0.5, 3};
    write("knn_in_ok", good_i, good_d);
    std::size_t cols = 0;
    const dist::RowPartition part = dist::npy_partition(*comm, dir + "knn_in_ok_indices.npy", &cols);
    ASSERT_EQ(part.n, 4u);
    const dist::DistKnnGraph g = dist::read_knn_block(*comm, part, dir + "knn_in_ok", 2);
    EXPECT_EQ(g.indices, (std::vector<std::int64_t>{1, 2, 0, 2, 3, 1, 2, 0}));
    EXPECT_EQ(g.distances, (std::vector<float>{1, 2, 1, 2, 0.5f, 1, 0.5f, 3}));
    struct Case {
        std::size_t at;
        double idx, dst;
        std::string expect;
    };
    const std::vector<Case> cases = {
        {2, 4, 1, "row 1 of the neighbours holds the index 4"},
        {3, 2.5, 2, "row 1 of the neighbours holds the index 2.5"},
        {4, 2, 0.5, "row 2 of the neighbours lists the point itself"},
        {7, 0, 0.25, "row 3 of the neighbours has a distance that is not finite, negative or out of ascending order"},
        {1, 1, 2, "row 0 of the neighbours lists an index twice"},
    };
    for (const Case& c : cases) {
        std::vector<double> bi = good_i, bd = good_d;
        bi[c.at] = c.idx;
        bd[c.at] = c.dst;
        write("knn_in_bad", bi, bd);
        try {
            (void)dist::read_knn_block(*comm, part, dir + "knn_in_bad", 2);
            ADD_FAILURE() << "accepted: " << c.expect;
        } catch (const std::exception& e) {
            EXPECT_NE(std::string(e.what()).find(c.expect), std::string::npos) << e.what();
        }
    }
}
