#include "interrupt.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "nembed/core/interrupt.hpp"
#include "outputs.hpp"

namespace nembed::cli {
namespace {
std::atomic<int> g_signal{0};
std::atomic<double> g_grace{1.0};
std::atomic<bool> g_silent{false};
// Leaked: the watcher may use them while static destructors run.
std::mutex& finish_mutex() {
    static auto* m = new std::mutex;
    return *m;
}
std::condition_variable& finish_cv() {
    static auto* cv = new std::condition_variable;
    return *cv;
}
bool g_finished = false;

int g_pipe[2] = {-1, -1};

// Async-signal-safe: an atomic store and a write to the watcher's pipe.
extern "C" void on_signal(int sig) {
    int expected = 0;
    if (!g_signal.compare_exchange_strong(expected, sig)) return;  // the first signal decides the exit code
    request_interrupt();
    const char c = 1;
    [[maybe_unused]] const ssize_t n = ::write(g_pipe[1], &c, 1);
}

void watch() {
    char c = 0;
    while (::read(g_pipe[0], &c, 1) < 0 && errno == EINTR) {
    }
    const int sig = g_signal.load();
    if (sig == 0) return;
    std::unique_lock<std::mutex> lock(finish_mutex());
    const auto grace = std::chrono::duration<double>(g_grace.load());
    if (finish_cv().wait_for(lock, grace, [] { return g_finished; })) return;
    // The command is in a stretch that does not poll: end it here, as main would.
    discard_all_outputs();
    if (!g_silent.load()) {
        std::fprintf(stderr, "\nnembed: error: interrupted\n");
        std::fflush(stderr);
    }
    ::_exit(128 + sig);
}
} // namespace

void install_interrupt_handling() {
    if (::pipe(g_pipe) != 0) return;  // no watcher: signals keep their default action
    for (int sig : {SIGINT, SIGTERM}) {
        struct sigaction old {};
        ::sigaction(sig, nullptr, &old);
        if (old.sa_handler == SIG_IGN) continue;  // e.g. SIGINT of a background job: stays ignored, as the shell asked
        struct sigaction sa {};
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        ::sigaction(sig, &sa, nullptr);
    }
    std::thread(watch).detach();
}

int received_signal() { return g_signal.load(); }

void set_interrupt_grace(double seconds) { g_grace.store(seconds); }

void silence_errors() { g_silent.store(true); }

bool errors_silenced() { return g_silent.load(); }

void mark_finished() {
    std::lock_guard<std::mutex> lock(finish_mutex());
    g_finished = true;
    finish_cv().notify_all();
}

} // namespace nembed::cli
