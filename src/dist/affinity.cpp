// Row-distributed sparse matrices: the transpose exchange and the gather (dist/affinity.hpp).
#include "nembed/dist/affinity.hpp"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "nembed/core/error.hpp"

namespace nembed::dist {

namespace {
struct Entry {
    std::int64_t row, col;  // global (row of Aᵀ = column of A)
    double value;
};
} // namespace

CsrMatrix<double> transpose_rows(Comm& comm, const RowPartition& part, const CsrMatrix<double>& cond) {
    const int R = comm.size(), r = comm.rank();
    const std::size_t b = part.begin(r), n_own = part.count(r);
    require(part.ranks == R && cond.n_rows == n_own && cond.n_cols == part.n,
            "transpose_rows: this rank's rows have the wrong shape");
    // The entries of Aᵀ go to the owners of their rows (the columns of A), in A's row order.
    std::vector<std::size_t> send_n(static_cast<std::size_t>(R), 0);
    for (std::size_t i = 0; i < n_own; ++i)
        for (offset_t p = cond.indptr[i]; p < cond.indptr[i + 1]; ++p)
            ++send_n[static_cast<std::size_t>(part.owner(static_cast<std::size_t>(cond.indices[p])))];
    std::vector<std::size_t> at(static_cast<std::size_t>(R), 0);
    for (int q = 1; q < R; ++q) at[static_cast<std::size_t>(q)] = at[static_cast<std::size_t>(q - 1)] + send_n[static_cast<std::size_t>(q - 1)];
    std::vector<Entry> out(cond.values.size());
    for (std::size_t i = 0; i < n_own; ++i)
        for (offset_t p = cond.indptr[i]; p < cond.indptr[i + 1]; ++p) {
            const auto j = static_cast<std::size_t>(cond.indices[p]);
            out[at[static_cast<std::size_t>(part.owner(j))]++] =
                Entry{static_cast<std::int64_t>(j), static_cast<std::int64_t>(b + i), cond.values[p]};
        }
    // Counts first (one word to every rank), then the entries.
    std::vector<std::uint64_t> n_send(send_n.begin(), send_n.end()), n_recv(static_cast<std::size_t>(R));
    comm.alltoallv(n_send.data(), std::vector<std::size_t>(static_cast<std::size_t>(R), 8), n_recv.data(),
                   std::vector<std::size_t>(static_cast<std::size_t>(R), 8));
    std::vector<std::size_t> sb(static_cast<std::size_t>(R)), rb(static_cast<std::size_t>(R));
    std::size_t total = 0;
    for (std::size_t q = 0; q < static_cast<std::size_t>(R); ++q) {
        sb[q] = send_n[q] * sizeof(Entry);
        rb[q] = static_cast<std::size_t>(n_recv[q]) * sizeof(Entry);
        total += static_cast<std::size_t>(n_recv[q]);
    }
    std::vector<Entry> in(total);
    comm.alltoallv(out.data(), sb, in.data(), rb);
    out = {};
    // This rank's rows of Aᵀ, each sorted by column (the columns of a row of Aᵀ are distinct rows of A).
    std::sort(in.begin(), in.end(), [](const Entry& x, const Entry& y) {
        return x.row != y.row ? x.row < y.row : x.col < y.col;
    });
    CsrMatrix<double> T;
    T.n_rows = n_own;
    T.n_cols = part.n;
    T.indptr.assign(n_own + 1, 0);
    T.indices.resize(in.size());
    T.values.resize(in.size());
    for (std::size_t t = 0; t < in.size(); ++t) {
        const auto row = static_cast<std::size_t>(in[t].row);
        require(row >= b && row < b + n_own, "transpose_rows: received an entry of a row this rank does not own");
        ++T.indptr[row - b + 1];
        T.indices[t] = static_cast<index_t>(in[t].col);
        T.values[t] = in[t].value;
    }
    for (std::size_t i = 0; i < n_own; ++i) T.indptr[i + 1] += T.indptr[i];
    return T;
}

CsrMatrix<double> gather_rows(Comm& comm, const RowPartition& part, const CsrMatrix<double>& rows) {
    const int r = comm.rank();
    require(part.ranks == comm.size() && rows.n_rows == part.count(r) && rows.n_cols == part.n,
            "gather_rows: this rank's rows have the wrong shape");
    std::vector<std::uint64_t> len(rows.n_rows);
    for (std::size_t i = 0; i < rows.n_rows; ++i) len[i] = static_cast<std::uint64_t>(rows.indptr[i + 1] - rows.indptr[i]);
    const std::vector<std::uint64_t> all_len = allgatherv(comm, len);
    CsrMatrix<double> A;
    A.n_rows = part.n;
    A.n_cols = part.n;
    A.indptr.assign(part.n + 1, 0);
    for (std::size_t i = 0; i < part.n; ++i) A.indptr[i + 1] = A.indptr[i] + static_cast<offset_t>(all_len[i]);
    A.indices = allgatherv(comm, rows.indices);
    A.values = allgatherv(comm, rows.values);
    return A;
}

} // namespace nembed::dist
