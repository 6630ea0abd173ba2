// The MPI communicator (dist/comm.hpp): MPI_COMM_WORLD, initialised on first use and finalised with the object.
// Compiled into the library only when CMake found MPI (NEMBED_HAVE_MPI); comm.cpp supplies the fallbacks otherwise.
#ifdef NEMBED_HAVE_MPI
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <thread>

#include "nembed/core/error.hpp"
#include "nembed/dist/comm.hpp"

namespace nembed::dist {

namespace {

// Messages larger than INT_MAX bytes (an all-gather of Y at 100 M points is 1.6 GB) travel in units of a
// contiguous type: the largest of 4096, 64, 8 and 1 bytes that divides every count and displacement.
struct Units {
    MPI_Datatype type = MPI_BYTE;
    std::size_t size = 1;
    bool owned = false;
    explicit Units(const std::vector<std::size_t>& sizes) {
        for (std::size_t u : {std::size_t(4096), std::size_t(64), std::size_t(8)}) {
            bool all = true;
            for (std::size_t s : sizes) all = all && s % u == 0;
            if (all) {
                size = u;
                break;
            }
        }
        if (size > 1) {
            MPI_Type_contiguous(static_cast<int>(size), MPI_BYTE, &type);
            MPI_Type_commit(&type);
            owned = true;
        }
    }
    ~Units() {
        if (owned) MPI_Type_free(&type);
    }
    Units(const Units&) = delete;
    Units& operator=(const Units&) = delete;
    int count(std::size_t bytes, const char* what) const {
        const std::size_t c = bytes / size;
        require(c <= static_cast<std::size_t>(INT_MAX),
                std::string("MPI ") + what + ": a message of " + std::to_string(bytes) + " bytes is too large");
        return static_cast<int>(c);
    }
};

void check(int rc, const char* what) {
    if (rc != MPI_SUCCESS) {
        char text[MPI_MAX_ERROR_STRING];
        int len = 0;
        MPI_Error_string(rc, text, &len);
        throw InvalidArgument(std::string("MPI ") + what + " failed: " + std::string(text, static_cast<std::size_t>(len)));
    }
}

// Completes `requests` without pinning a core. MPI's blocking calls busy-poll (Open MPI's default): a rank that
// waits for a slower or descheduled partner burns its core, which on a loaded or oversubscribed machine is the
// core the partner needs. Here the wait polls MPI_Testall — which also drives the progress of non-blocking
// collectives — in three stages: tight for the first polls (short waits stay as fast as a blocking call), then
// yielding the core until 200 µs have passed, then sleeping with a doubling interval capped at 250 µs (idle cost
// well under 1 % of a core; at most 250 µs added to a wait that was already longer than 200 µs).
void wait_all(int n, MPI_Request* requests, const char* what) {
    using clock = std::chrono::steady_clock;
    int done = 0;
    for (int i = 0; i < 64; ++i) {
        check(MPI_Testall(n, requests, &done, MPI_STATUSES_IGNORE), what);
        if (done) return;
    }
    const auto start = clock::now();
    auto nap = std::chrono::microseconds(10);
    for (;;) {
        check(MPI_Testall(n, requests, &done, MPI_STATUSES_IGNORE), what);
        if (done) return;
        if (clock::now() - start < std::chrono::microseconds(200)) {
            std::this_thread::yield();
        } else {
            std::this_thread::sleep_for(nap);
            nap = std::min(2 * nap, std::chrono::microseconds(250));
        }
    }
}

void wait(MPI_Request& request, const char* what) { wait_all(1, &request, what); }

class MpiComm final : public Comm {
public:
    MpiComm() {
        int inited = 0;
        MPI_Initialized(&inited);
        if (!inited) {
            int provided = 0;
            // Only the calling thread talks to MPI; worker threads compute between calls.
            check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
            owns_ = true;
        }
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
        MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
        MPI_Comm_size(MPI_COMM_WORLD, &size_);
    }
    ~MpiComm() override {
        int finalized = 0;
        MPI_Finalized(&finalized);
        if (owns_ && !finalized) MPI_Finalize();
    }
    int rank() const override { return rank_; }
    int size() const override { return size_; }
    std::string name() const override { return "MPI"; }

    void allgatherv(const void* send, std::size_t send_bytes, void* recv,
                    const std::vector<std::size_t>& counts) override {
        require(counts.size() == static_cast<std::size_t>(size_) && counts[static_cast<std::size_t>(rank_)] == send_bytes,
                "MPI allgatherv: counts do not match");
        std::vector<std::size_t> displs(counts.size(), 0);
        for (std::size_t r = 1; r < counts.size(); ++r) displs[r] = displs[r - 1] + counts[r - 1];
        std::vector<std::size_t> all = counts;
        all.insert(all.end(), displs.begin(), displs.end());
        Units u(all);
        std::vector<int> c(counts.size()), d(counts.size());
        for (std::size_t r = 0; r < counts.size(); ++r) {
            c[r] = u.count(counts[r], "allgatherv");
            d[r] = u.count(displs[r], "allgatherv");
        }
        bytes_sent_ += send_bytes * static_cast<std::uint64_t>(size_ - 1);
        MPI_Request req;
        check(MPI_Iallgatherv(send, c[static_cast<std::size_t>(rank_)], u.type, recv, c.data(), d.data(), u.type,
                              MPI_COMM_WORLD, &req), "MPI_Iallgatherv");
        wait(req, "MPI_Iallgatherv");
    }

    void alltoallv(const void* send, const std::vector<std::size_t>& send_counts, void* recv,
                   const std::vector<std::size_t>& recv_counts) override {
        const std::size_t R = static_cast<std::size_t>(size_);
        require(send_counts.size() == R && recv_counts.size() == R, "MPI alltoallv: one count per rank expected");
        std::vector<std::size_t> sd(R, 0), rd(R, 0);
        for (std::size_t r = 1; r < R; ++r) {
            sd[r] = sd[r - 1] + send_counts[r - 1];
            rd[r] = rd[r - 1] + recv_counts[r - 1];
        }
        std::vector<std::size_t> all = send_counts;
        all.insert(all.end(), recv_counts.begin(), recv_counts.end());
        all.insert(all.end(), sd.begin(), sd.end());
        all.insert(all.end(), rd.begin(), rd.end());
        Units u(all);
        std::vector<int> sc(R), rc(R), sdi(R), rdi(R);
        for (std::size_t r = 0; r < R; ++r) {
            sc[r] = u.count(send_counts[r], "alltoallv");
            rc[r] = u.count(recv_counts[r], "alltoallv");
            sdi[r] = u.count(sd[r], "alltoallv");
            rdi[r] = u.count(rd[r], "alltoallv");
            if (r != static_cast<std::size_t>(rank_)) bytes_sent_ += send_counts[r];
        }
        MPI_Request req;
        check(MPI_Ialltoallv(send, sc.data(), sdi.data(), u.type, recv, rc.data(), rdi.data(), u.type, MPI_COMM_WORLD,
                             &req), "MPI_Ialltoallv");
        wait(req, "MPI_Ialltoallv");
    }

    void send(const void* data, std::size_t bytes, int dest) override {
        Units u({bytes});
        bytes_sent_ += bytes;
        MPI_Request req;
        check(MPI_Isend(data, u.count(bytes, "send"), u.type, dest, kTag, MPI_COMM_WORLD, &req), "MPI_Isend");
        wait(req, "MPI_Isend");
    }
    void recv(void* data, std::size_t bytes, int source) override {
        Units u({bytes});
        MPI_Request req;
        check(MPI_Irecv(data, u.count(bytes, "recv"), u.type, source, kTag, MPI_COMM_WORLD, &req), "MPI_Irecv");
        wait(req, "MPI_Irecv");
    }
    void sendrecv(const void* s, std::size_t sb, int dest, void* r, std::size_t rb, int source) override {
        if (dest == rank_ && source == rank_) {
            require(sb == rb, "MPI sendrecv onto itself: sizes differ");
            if (sb > 0 && r != s) std::memmove(r, s, sb);
            return;
        }
        Units us({sb}), ur({rb});
        bytes_sent_ += sb;
        MPI_Request req[2];
        check(MPI_Irecv(r, ur.count(rb, "sendrecv"), ur.type, source, kTag, MPI_COMM_WORLD, &req[0]), "MPI_Irecv");
        check(MPI_Isend(s, us.count(sb, "sendrecv"), us.type, dest, kTag, MPI_COMM_WORLD, &req[1]), "MPI_Isend");
        wait_all(2, req, "sendrecv");
    }
    void bcast(void* data, std::size_t bytes, int root) override {
        Units u({bytes});
        if (root == rank_) bytes_sent_ += bytes * static_cast<std::uint64_t>(size_ - 1);
        MPI_Request req;
        check(MPI_Ibcast(data, u.count(bytes, "bcast"), u.type, root, MPI_COMM_WORLD, &req), "MPI_Ibcast");
        wait(req, "MPI_Ibcast");
    }
    void allreduce_max(double* data, std::size_t n) override {
        bytes_sent_ += n * sizeof(double);
        require(n <= static_cast<std::size_t>(INT_MAX), "MPI allreduce: too many values");
        MPI_Request req;
        check(MPI_Iallreduce(MPI_IN_PLACE, data, static_cast<int>(n), MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD, &req),
              "MPI_Iallreduce");
        wait(req, "MPI_Iallreduce");
    }
    void allreduce_sum(std::int64_t* data, std::size_t n) override {
        bytes_sent_ += n * sizeof(std::int64_t);
        require(n <= static_cast<std::size_t>(INT_MAX), "MPI allreduce: too many values");
        MPI_Request req;
        check(MPI_Iallreduce(MPI_IN_PLACE, data, static_cast<int>(n), MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD, &req),
              "MPI_Iallreduce");
        wait(req, "MPI_Iallreduce");
    }
    void barrier() override {
        MPI_Request req;
        check(MPI_Ibarrier(MPI_COMM_WORLD, &req), "MPI_Ibarrier");
        wait(req, "MPI_Ibarrier");
    }
    [[noreturn]] void abort(const std::string& message) override {
        std::fprintf(stderr, "nembed: error: rank %d of %d: %s\n", rank_, size_, message.c_str());
        std::fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, 1);
        std::_Exit(1);
    }

private:
    static constexpr int kTag = 7;
    int rank_ = 0, size_ = 1;
    bool owns_ = false;
};

} // namespace

bool mpi_built() { return true; }

std::unique_ptr<Comm> make_world_comm() {
    if (!launched_by_mpi()) return make_serial_comm();
    return std::make_unique<MpiComm>();
}

} // namespace nembed::dist
#endif
