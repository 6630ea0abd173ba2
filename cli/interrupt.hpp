#pragma once
// SIGINT / SIGTERM in the CLI: the handler turns the signal into nembed::request_interrupt(), which the long loops
// poll, and wakes a watcher thread; the command unwinds, its OutputSet removes the temporaries and main prints "nembed: error:
// interrupted" and exits 128 + signal (130 / 143). Should the command not have finished `grace` seconds later (a
// stretch of work that does not poll), the watcher removes the temporaries and ends the process itself, with the
// same line and exit code. Old outputs are never touched: outputs are only renamed into place by a commit.
#include <stdexcept>
#include <string>

namespace nembed::cli {

/// Installs the SIGINT and SIGTERM handlers (a signal ignored by the parent, such as SIGINT of a background job,
/// stays ignored) and starts the watcher. Call first thing in main.
void install_interrupt_handling();
/// 0, or the signal received (SIGINT, SIGTERM).
int received_signal();
/// Seconds the watcher waits for the command to unwind before it ends the process (default 1).
void set_interrupt_grace(double seconds);
/// Main is about to print its result and exit: the watcher must no longer end the process.
void mark_finished();
/// From now on this process prints no "nembed: error:" line, neither main nor the watcher (exit codes unchanged):
/// under mpirun rank 0 speaks for all ranks, and the others may be ended by mpirun (SIGTERM) while they exit.
void silence_errors();
bool errors_silenced();

/// Thrown by a command that wrote its partial result after an interrupt (--save-partial): main prints
/// "nembed: error: interrupted; <what>" and exits 128 + signal.
class InterruptedWithPartial : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

} // namespace nembed::cli
