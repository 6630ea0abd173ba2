#include "distributed.hpp"

#include <cstdio>
#include <memory>
#include <vector>

#include "interrupt.hpp"
#include "nembed/core/error.hpp"
#include "nembed/core/log.hpp"

namespace nembed::cli {

void run_distributed(const CommonOptions& o, const std::function<void(dist::Comm&, const CommonOptions&)>& body) {
    std::unique_ptr<dist::Comm> comm = dist::make_world_comm();
    const int rank = comm->rank();
    if (rank != 0) silence_errors();  // rank 0 speaks for all; comm->abort prints from the rank that failed
    CommonOptions quiet_o = o;
    if (rank != 0) quiet_o.quiet = true;
    configure_logging(quiet_o);
    try {
        body(*comm, quiet_o);
    } catch (const dist::CollectiveError& e) {
        // mpirun ends every rank as soon as one exits non-zero: rank 0 prints before any rank leaves (the barrier),
        // and from then on no rank prints (a rank ended while it exits would add "interrupted").
        if (rank == 0) {
            std::fprintf(stderr, "nembed: error: %s\n", e.what());
            std::fflush(stderr);
        }
        try {
            comm->barrier();
        } catch (const std::exception&) {
        }
        silence_errors();
        throw QuietFailure();
    } catch (const std::exception& e) {
        comm->abort(error_text(e));
    }
}

void check_distributed_io(dist::Comm& comm, const CommonOptions& o, const std::string& command, bool no_other_outputs,
                          const std::string& refused) {
    dist::collective(comm, [&] {
        require(o.inputs.size() == 1 && o.inputs[0].ends_with(".npy"),
                "under mpirun, nembed " + command + " reads one .npy file (each rank reads its rows)");
        require(o.output.ends_with(".npy"), "under mpirun, -o must be an .npy file (each rank writes its rows)");
        require(o.labels.empty() && o.pca == 0 && o.scale == 1.0 && no_other_outputs,
                "under mpirun, nembed " + command + " supports -o and --timings only (no --labels, --pca, --scale, " +
                    refused + ")");
    });
}

void say_bytes_sent(dist::Comm& comm, const CommonOptions& quiet_o, const std::string& what, std::uint64_t prepared,
                    std::uint64_t run, int steps, const std::string& unit) {
    const std::vector<std::uint64_t> prep = dist::allgather_u64(comm, prepared);
    const std::vector<std::uint64_t> opt = dist::allgather_u64(comm, run);
    for (std::size_t q = 0; q < prep.size(); ++q) {
        char line[240];
        std::snprintf(line, sizeof line, "rank %zu sent: %s %.3f MB, optimisation %.1f kB per %s", q, what.c_str(),
                      static_cast<double>(prep[q]) / 1e6,
                      steps > 0 ? static_cast<double>(opt[q]) / steps / 1e3 : 0.0, unit.c_str());
        say(quiet_o, line);
    }
}

} // namespace nembed::cli
