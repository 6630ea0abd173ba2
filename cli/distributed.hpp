#pragma once
// What every command that runs under mpirun shares (docs/mpi.md): the communicator, who prints, how errors end
// all ranks, and the input/output rules of a distributed run.
#include <cstdint>
#include <functional>
#include <string>

#include "common.hpp"
#include "nembed/dist/comm.hpp"

namespace nembed::cli {

/// Runs `body` on every rank of `mpirun -n R nembed <command>` (R > 1). Rank 0 speaks for all: body gets `o` with
/// quiet set on the other ranks (logging configured from it). An error every rank agreed on
/// (dist::CollectiveError) is printed once by rank 0 before any rank exits, then every rank ends with exit code 1
/// (QuietFailure); any other error on one rank prints that rank's message and ends all ranks (Comm::abort), never a
/// hang.
void run_distributed(const CommonOptions& o, const std::function<void(dist::Comm&, const CommonOptions&)>& body);

/// The input/output rules of a distributed command, checked collectively: one C-order 2-D .npy input (each rank
/// reads its rows), -o an .npy (each rank writes its rows), no --labels, --pca or --scale, and `no_other_outputs`
/// (the command's outputs that would need all of X on one rank; `refused` names them in the error).
void check_distributed_io(dist::Comm& comm, const CommonOptions& o, const std::string& command, bool no_other_outputs,
                          const std::string& refused);

/// Prints (-v) every rank's bytes sent: `prepared` during the preparation (named by `what`, e.g. "kNN + affinities
/// + init") and `run` over `steps` steps of `unit`. Collective (the counts are gathered to rank 0).
void say_bytes_sent(dist::Comm& comm, const CommonOptions& quiet_o, const std::string& what, std::uint64_t prepared,
                    std::uint64_t run, int steps, const std::string& unit);

} // namespace nembed::cli
