// The serial communicator and the collective helpers built on any communicator (dist/comm.hpp).
#include "nembed/dist/comm.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>

#include "nembed/core/error.hpp"

namespace nembed::dist {

namespace {

class SerialComm final : public Comm {
public:
    int rank() const override { return 0; }
    int size() const override { return 1; }
    std::string name() const override { return "serial"; }
    void allgatherv(const void* send, std::size_t send_bytes, void* recv,
                    const std::vector<std::size_t>& counts) override {
        require(counts.size() == 1 && counts[0] == send_bytes, "serial allgatherv: counts do not match");
        if (send_bytes > 0 && recv != send) std::memmove(recv, send, send_bytes);
    }
    void alltoallv(const void* send, const std::vector<std::size_t>& send_counts, void* recv,
                   const std::vector<std::size_t>& recv_counts) override {
        require(send_counts.size() == 1 && recv_counts.size() == 1 && send_counts[0] == recv_counts[0],
                "serial alltoallv: counts do not match");
        if (send_counts[0] > 0 && recv != send) std::memmove(recv, send, send_counts[0]);
    }
    void send(const void*, std::size_t, int) override { throw InvalidArgument("serial communicator: no peer to send to"); }
    void recv(void*, std::size_t, int) override { throw InvalidArgument("serial communicator: no peer to receive from"); }
    void sendrecv(const void* s, std::size_t sb, int dest, void* r, std::size_t rb, int source) override {
        require(dest == 0 && source == 0 && sb == rb, "serial sendrecv: only a shift onto itself is possible");
        if (sb > 0 && r != s) std::memmove(r, s, sb);
    }
    void bcast(void*, std::size_t, int root) override { require(root == 0, "serial bcast: root must be 0"); }
    void allreduce_max(double*, std::size_t) override {}
    void allreduce_sum(std::int64_t*, std::size_t) override {}
    void barrier() override {}
    [[noreturn]] void abort(const std::string& message) override {
        std::fprintf(stderr, "nembed: error: %s\n", message.c_str());
        std::exit(1);
    }
};

} // namespace

std::unique_ptr<Comm> make_serial_comm() { return std::make_unique<SerialComm>(); }

bool launched_by_mpi() {
    for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"}) {
        if (const char* v = std::getenv(var); v != nullptr && std::atoi(v) > 1) return true;
    }
    return false;
}

#ifndef NEMBED_HAVE_MPI
bool mpi_built() { return false; }
std::unique_ptr<Comm> make_world_comm() {
    if (launched_by_mpi())
        throw InvalidArgument("this nembed was built without MPI but started by an MPI launcher with several ranks; "
                              "rebuild with MPI (libopenmpi-dev) or run one process");
    return make_serial_comm();
}
#endif

void ordered_fold(Comm& comm, void* data, std::size_t bytes, const std::function<void(bool first)>& add_own) {
    const int r = comm.rank(), R = comm.size();
    if (r > 0) comm.recv(data, bytes, r - 1);
    add_own(r == 0);
    if (r + 1 < R) comm.send(data, bytes, r + 1);
    if (R > 1) comm.bcast(data, bytes, R - 1);
}

double ordered_sum(Comm& comm, const std::vector<double>& partials) {
    double s = 0.0;
    ordered_fold(comm, &s, sizeof s, [&](bool) {
        for (double p : partials) s += p;
    });
    return s;
}

std::vector<std::uint64_t> allgather_u64(Comm& comm, std::uint64_t mine) {
    const auto R = static_cast<std::size_t>(comm.size());
    std::vector<std::uint64_t> out(R);
    comm.allgatherv(&mine, sizeof mine, out.data(), std::vector<std::size_t>(R, sizeof mine));
    return out;
}

std::uint64_t shared_seed(Comm& comm, std::optional<std::uint64_t> given) {
    std::uint64_t seed = 0;
    if (given) {
        seed = *given;
    } else if (comm.rank() == 0) {
        std::random_device rd;
        seed = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
    }
    comm.bcast(&seed, sizeof seed, 0);
    return seed;
}

void check_all(Comm& comm, bool ok, const std::string& message) {
    const std::vector<std::uint64_t> flags = allgather_u64(comm, ok ? 0 : 1);
    int bad = -1;
    for (std::size_t r = 0; r < flags.size(); ++r)
        if (flags[r] != 0) {
            bad = static_cast<int>(r);
            break;
        }
    if (bad < 0) return;
    std::string text = comm.rank() == bad ? message : std::string();
    std::uint64_t len = text.size();
    comm.bcast(&len, sizeof len, bad);
    text.resize(static_cast<std::size_t>(len));
    comm.bcast(text.data(), text.size(), bad);
    if (comm.size() > 1) text = "rank " + std::to_string(bad) + ": " + text;
    throw CollectiveError(text);
}

} // namespace nembed::dist
