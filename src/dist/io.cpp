#include "nembed/dist/io.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "nembed/core/error.hpp"
#include "nembed/io/npy.hpp"

namespace nembed::dist {

RowPartition npy_partition(Comm& comm, const std::string& path, std::size_t* n_cols) {
    std::uint64_t shape[2] = {0, 0};
    bool ok = true;
    std::string message;
    if (comm.rank() == 0) {
        try {
            const NpyHeader h = read_npy_header(path);
            require(h.shape.size() == 2, path + ": expected a 2-D array (N x D), got " + std::to_string(h.shape.size()) +
                                             " dimensions");
            require(!h.fortran_order, path + ": a distributed run reads blocks of rows and needs a C-order array");
            shape[0] = h.shape[0];
            shape[1] = h.shape[1];
        } catch (const std::exception& e) {
            ok = false;
            message = e.what();
        }
    }
    check_all(comm, ok, message);
    comm.bcast(shape, sizeof shape, 0);
    if (n_cols) *n_cols = static_cast<std::size_t>(shape[1]);
    return RowPartition(static_cast<std::size_t>(shape[0]), comm.size());
}

Matrix<float> read_npy_block(Comm& comm, const RowPartition& part, const std::string& path) {
    const int r = comm.rank();
    Matrix<float> X;
    collective(comm, [&] {
        const NdArray a = read_npy_rows(path, part.begin(r), part.end(r));
        require(a.ndim() == 2, path + ": expected a 2-D array");
        X = Matrix<float>(a.shape[0], a.shape[1]);
        if (X.size()) a.copy_to(X.data());
        require_finite(X.view(), path);
    });
    return X;
}

DistKnnGraph read_knn_block(Comm& comm, const RowPartition& part, const std::string& prefix, std::size_t k) {
    const int r = comm.rank();
    const std::size_t b = part.begin(r), e = part.end(r), n = part.n;
    DistKnnGraph g;
    collective(comm, [&] {
        const std::string fi = prefix + "_indices.npy", fd = prefix + "_distances.npy";
        const NpyHeader hi = read_npy_header(fi), hd = read_npy_header(fd);
        for (const auto* h : {&hi, &hd}) {
            const std::string& f = h == &hi ? fi : fd;
            require(h->shape.size() == 2 && h->shape[0] == n,
                    f + ": expected a 2-D array of " + std::to_string(n) + " rows of neighbours (one per input row)");
            require(!h->fortran_order, f + ": neighbours are read by rows and need a C-order array");
        }
        require(hi.shape[1] == hd.shape[1], fi + " and " + fd + " have different numbers of columns");
        require(k >= 1 && hi.shape[1] >= k, fi + ": " + std::to_string(hi.shape[1]) + " neighbours per row, the run "
                                                "needs " + std::to_string(k));
        const std::size_t K = hi.shape[1], rows = e - b;
        g.n_rows = rows;
        g.k = k;
        g.n_reference = n;
        g.row0 = b;
        g.indices.resize(rows * k);
        g.distances.resize(rows * k);
        // In chunks of rows, so that the file's K columns in its dtype are never held for all rows at once.
        constexpr std::size_t chunk = 16384;
        std::vector<double> idx, dst;
        std::vector<std::int64_t> seen(k);
        for (std::size_t c0 = b; c0 < e; c0 += chunk) {
            const std::size_t c1 = std::min(e, c0 + chunk);
            idx.resize((c1 - c0) * K);
            dst.resize((c1 - c0) * K);
            read_npy_rows(fi, c0, c1).copy_to(idx.data());
            read_npy_rows(fd, c0, c1).copy_to(dst.data());
            for (std::size_t row = c0; row < c1; ++row) {
                const double* ri = idx.data() + (row - c0) * K;
                const double* rd = dst.data() + (row - c0) * K;
                const std::size_t at = (row - b) * k;
                auto bad = [&](const std::string& what) {
                    return prefix + ": row " + std::to_string(row) + " of the neighbours " + what;
                };
                for (std::size_t j = 0; j < k; ++j) {  // messages built only on failure: this runs N·k times
                    require_lazy(ri[j] >= 0 && ri[j] < static_cast<double>(n) && ri[j] == std::floor(ri[j]), [&] {
                        return bad("holds the index " + std::to_string(ri[j]) + ", not an integer in [0, " +
                                   std::to_string(n) + ")");
                    });
                    require_lazy(static_cast<std::size_t>(ri[j]) != row,
                                 [&] { return bad("lists the point itself (self must be excluded)"); });
                    require_lazy(std::isfinite(rd[j]) && rd[j] >= 0 && (j == 0 || rd[j] >= rd[j - 1]), [&] {
                        return bad("has a distance that is not finite, negative or out of ascending order");
                    });
                    g.indices[at + j] = static_cast<std::int64_t>(ri[j]);
                    g.distances[at + j] = static_cast<float>(rd[j]);
                    seen[j] = g.indices[at + j];
                }
                std::sort(seen.begin(), seen.end());
                require_lazy(std::adjacent_find(seen.begin(), seen.end()) == seen.end(),
                             [&] { return bad("lists an index twice"); });
            }
        }
    });
    return g;
}

void write_npy_block(Comm& comm, const RowPartition& part, const std::string& path, MatrixView<double> mine,
                     std::size_t n_cols) {
    const int r = comm.rank();
    const std::vector<unsigned char> header = npy_header_bytes(DType::f64, {part.n, n_cols});
    // One temporary name for all ranks (rank 0's pid).
    std::uint64_t pid = static_cast<std::uint64_t>(::getpid());
    comm.bcast(&pid, sizeof pid, 0);
    const std::string tmp = path + ".tmp" + std::to_string(pid);
    const std::uint64_t total = header.size() + static_cast<std::uint64_t>(part.n) * n_cols * sizeof(double);
    collective(comm, [&] {
        require(mine.rows == part.count(r) && (mine.rows == 0 || mine.cols == n_cols),
                "write_npy_block: this rank holds " + std::to_string(mine.rows) + " rows, expected " +
                    std::to_string(part.count(r)));
        if (r != 0) return;
        const int fd = ::open(tmp.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0644);
        if (fd < 0) throw IoError(path + ": cannot create " + tmp + ": " + std::strerror(errno));
        const bool good = ::pwrite(fd, header.data(), header.size(), 0) == static_cast<ssize_t>(header.size()) &&
                          ::ftruncate(fd, static_cast<off_t>(total)) == 0;
        ::close(fd);
        if (!good) throw IoError(path + ": cannot write the header of " + tmp);
    });
    collective(comm, [&] {
        if (mine.rows == 0) return;
        const int fd = ::open(tmp.c_str(), O_WRONLY);
        if (fd < 0) throw IoError(path + ": cannot open " + tmp + ": " + std::strerror(errno));
        const auto* p = reinterpret_cast<const unsigned char*>(mine.data);
        std::size_t left = mine.rows * n_cols * sizeof(double);
        off_t at = static_cast<off_t>(header.size() + part.begin(r) * n_cols * sizeof(double));
        bool good = true;
        while (left > 0 && good) {
            const ssize_t w = ::pwrite(fd, p, left, at);
            good = w > 0;
            if (good) {
                p += w;
                left -= static_cast<std::size_t>(w);
                at += w;
            }
        }
        good = ::fsync(fd) == 0 && good;
        ::close(fd);
        if (!good) throw IoError(path + ": writing rows " + std::to_string(part.begin(r)) + ".." +
                                 std::to_string(part.end(r)) + " failed");
    });
    collective(comm, [&] {
        if (r == 0 && std::rename(tmp.c_str(), path.c_str()) != 0)
            throw IoError(path + ": cannot rename " + tmp + " into place: " + std::strerror(errno));
    });
}

} // namespace nembed::dist
