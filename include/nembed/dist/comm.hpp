#pragma once
/// @file comm.hpp
/// The communicator of a distributed run (docs/mpi.md): R processes ("ranks") each owning a block of rows. All MPI
/// code sits behind this interface (src/dist/comm_mpi.cpp, built when CMake finds MPI); the serial communicator
/// (one rank) is what every single-process run uses, so the single-process path is the distributed one with R = 1.
///
/// Determinism: nothing here reduces floating-point values in an order that depends on R. Sums that must give the
/// same bits for any R are `ordered_fold`s: rank 0 starts from the initial value, adds its own terms in index
/// order, passes the running value to rank 1, and so on; the last rank broadcasts the result. That reproduces a
/// sequential loop over all items exactly, whatever the rank boundaries. Everything else moves bytes (allgatherv,
/// alltoallv, ring shifts) or takes max/min, which are exact in any order.
///
///   auto comm = dist::make_world_comm();      // MPI under mpirun (R > 1), else serial
///   double s = 0.0;
///   dist::ordered_fold(*comm, &s, sizeof s, [&](bool) { for (double v : mine) s += v; });
///
/// Every call is collective (all ranks call it, in the same order) unless noted. Bytes sent by this rank are
/// counted (bytes_sent()) so that runs can report their communication per iteration.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <optional>
#include <string>
#include <vector>

namespace nembed::dist {

/// An error every rank agreed on (check_all): thrown on every rank with the same message, so callers can print it
/// once (rank 0) and exit normally.
class CollectiveError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class Comm {
public:
    virtual ~Comm() = default;
    virtual int rank() const = 0;
    virtual int size() const = 0;
    /// "serial" or "MPI".
    virtual std::string name() const = 0;

    /// Rank r contributes counts[r] bytes (send_bytes == counts[rank()]); recv receives all of them in rank order.
    virtual void allgatherv(const void* send, std::size_t send_bytes, void* recv,
                            const std::vector<std::size_t>& counts) = 0;
    /// send_counts[r] bytes (consecutive in `send`, in rank order) go to rank r; recv_counts[r] bytes arrive from r.
    virtual void alltoallv(const void* send, const std::vector<std::size_t>& send_counts, void* recv,
                           const std::vector<std::size_t>& recv_counts) = 0;
    /// Point to point (not collective): blocks until matched.
    virtual void send(const void* data, std::size_t bytes, int dest) = 0;
    virtual void recv(void* data, std::size_t bytes, int source) = 0;
    /// Sends to `dest` and receives from `source` at once (a ring shift).
    virtual void sendrecv(const void* send, std::size_t send_bytes, int dest, void* recv, std::size_t recv_bytes,
                          int source) = 0;
    virtual void bcast(void* data, std::size_t bytes, int root) = 0;
    /// Element-wise max over ranks of n doubles, in place (exact in any order).
    virtual void allreduce_max(double* data, std::size_t n) = 0;
    /// Element-wise sum over ranks of n 64-bit integers, in place: exact and the same in any order (wrap-around
    /// excepted; the fixed-point gradient sums stay far inside the range). The distributed edge batches' fixed-point
    /// accumulators with uniform negatives (train/edge_batch_plan.hpp).
    virtual void allreduce_sum(std::int64_t* data, std::size_t n) = 0;
    virtual void barrier() = 0;
    /// Ends every rank now (MPI_Abort), after printing `message` once from this rank: for errors found on one rank
    /// outside a check_all, where the others may already wait in a collective. Never returns.
    [[noreturn]] virtual void abort(const std::string& message) = 0;

    /// Bytes this rank has sent so far (payloads of every call above, not counting MPI's own headers).
    std::uint64_t bytes_sent() const { return bytes_sent_; }

protected:
    std::uint64_t bytes_sent_ = 0;
};

/// The single-process communicator: rank 0 of 1; collectives copy, point-to-point calls throw (no peer).
std::unique_ptr<Comm> make_serial_comm();

/// True when this build has the MPI communicator.
bool mpi_built();
/// True when this process was started by an MPI launcher (mpirun / srun set their environment) with more than one
/// rank; a plain start never initialises MPI.
bool launched_by_mpi();
/// The MPI world communicator when launched_by_mpi() in an MPI build (initialises MPI, finalised when the object
/// is destroyed), else the serial one. Throws InvalidArgument when started by mpirun with R > 1 in a build
/// without MPI (every rank would otherwise run the whole problem alone).
std::unique_ptr<Comm> make_world_comm();

// ------------------------------------------------------------------------------------------------ helpers

/// The chained, fixed-order reduction described in the file comment: on each rank in turn, `data` holds the value
/// after all lower ranks' contributions and add_own(first) adds this rank's (first: rank 0, which must start
/// from the initial value already in `data`); afterwards every rank holds the final value.
void ordered_fold(Comm& comm, void* data, std::size_t bytes, const std::function<void(bool first)>& add_own);

/// Σ of every rank's partials, added one by one in rank order starting from 0.0: bitwise the sequential sum of all
/// partials (fixed_block_sum's final loop) when ranks hold consecutive blocks.
double ordered_sum(Comm& comm, const std::vector<double>& partials);

/// Every rank's value of `mine`, in rank order.
std::vector<std::uint64_t> allgather_u64(Comm& comm, std::uint64_t mine);

/// One seed for all ranks: `given`, or rank 0's draw from std::random_device when none is given.
std::uint64_t shared_seed(Comm& comm, std::optional<std::uint64_t> given);

/// Concatenation of every rank's `mine` in rank order (T trivially copyable).
template <typename T>
std::vector<T> allgatherv(Comm& comm, const std::vector<T>& mine) {
    const std::vector<std::uint64_t> n = allgather_u64(comm, mine.size());
    std::vector<std::size_t> bytes(n.size());
    std::size_t total = 0;
    for (std::size_t r = 0; r < n.size(); ++r) {
        bytes[r] = static_cast<std::size_t>(n[r]) * sizeof(T);
        total += static_cast<std::size_t>(n[r]);
    }
    std::vector<T> out(total);
    comm.allgatherv(mine.data(), mine.size() * sizeof(T), out.data(), bytes);
    return out;
}

/// Collective agreement on failure: if any rank passes ok = false, every rank throws CollectiveError with the
/// message of the lowest failing rank ("rank r: message" when R > 1). Returns normally when all are ok.
void check_all(Comm& comm, bool ok, const std::string& message);

/// Runs f() on every rank and agrees on its outcome: an exception on any rank becomes a CollectiveError on all
/// (check_all). f must not itself call collectives that could be left unmatched when another rank throws.
template <typename F>
void collective(Comm& comm, F&& f) {
    bool ok = true;
    std::string message;
    try {
        f();
    } catch (const std::exception& e) {
        ok = false;
        message = e.what();
    }
    check_all(comm, ok, message);
}

} // namespace nembed::dist
