// nembed on SIGINT / SIGTERM (issue #19 item 8): exits 130 / 143 with "nembed: error: interrupted" as its last line,
// leaves the old output byte-identical and no temporaries; --save-partial writes the embedding reached so far.
// Timing-tolerant: signals are sent once the run is under way, and the only time bound is a generous 10 s.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "nembed/io/load.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

struct RunResult {
    int exit_code = -1;     // -1: did not exit by itself within the bound
    std::string stderr_text;
    double seconds_after_signal = 0;
};

std::string slurp(const fs::path& p) {
    std::ifstream f(p);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

class CliInterrupt : public ::testing::Test {
protected:
    fs::path dir;
    void SetUp() override {
        dir = fs::path(NEMBED_BINARY_DIR) / "tests" /
              ("cli_interrupt_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
        fs::remove_all(dir);
        fs::create_directories(dir);
        // 2 000 random points in 10-D: the kNN takes well under a second, each iteration a few milliseconds.
        std::mt19937_64 rng(1);
        std::normal_distribution<double> g;
        nembed::Matrix<double> X(2000, 10);
        for (auto& v : X.storage()) v = g(rng);
        nembed::save_matrix((dir / "X.npy").string(), X.view());
        std::ofstream(dir / "Y.npy") << "the previous output";
    }

    // Starts nembed with args, waits until its stderr contains `ready` (up to 60 s) and then `delay`, sends `sig`,
    // and waits up to 10 s for it to exit.
    RunResult run(std::vector<std::string> args, const std::string& ready, int sig,
                  std::chrono::milliseconds delay = 0ms) {
        const fs::path err = dir / "stderr.txt";
        args.insert(args.begin(), NEMBED_CLI_EXE);
        const pid_t pid = ::fork();
        if (pid == 0) {
            ::signal(SIGINT, SIG_DFL);  // a test runner may start us with SIGINT ignored
            ::signal(SIGTERM, SIG_DFL);
            const int fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            ::dup2(fd, 2);
            std::vector<char*> argv;
            for (auto& a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
        RunResult r;
        int status = 0;
        bool exited = false;
        for (auto t0 = std::chrono::steady_clock::now(); std::chrono::steady_clock::now() - t0 < 60s;) {
            if (slurp(err).find(ready) != std::string::npos) break;
            if (::waitpid(pid, &status, WNOHANG) == pid) {
                exited = true;
                break;
            }
            std::this_thread::sleep_for(20ms);
        }
        if (!exited) std::this_thread::sleep_for(delay);
        if (!exited && ::waitpid(pid, &status, WNOHANG) == pid) exited = true;
        EXPECT_FALSE(exited) << "nembed ended before it could be interrupted:\n" << slurp(err);
        ::kill(pid, sig);
        const auto t_sig = std::chrono::steady_clock::now();
        while (!exited && std::chrono::steady_clock::now() - t_sig < 10s) {
            if (::waitpid(pid, &status, WNOHANG) == pid) exited = true;
            else std::this_thread::sleep_for(10ms);
        }
        r.seconds_after_signal = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_sig).count();
        if (!exited) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
        } else if (WIFEXITED(status)) {
            r.exit_code = WEXITSTATUS(status);
        } else {
            r.exit_code = 1000 + WTERMSIG(status);  // killed by the signal: no clean stop
        }
        r.stderr_text = slurp(err);
        EXPECT_TRUE(exited) << "still running 10 s after the signal:\n" << r.stderr_text;
        std::printf("stopped %.3f s after the signal\n", r.seconds_after_signal);
        return r;
    }

    std::string last_line(const std::string& text) const {
        std::string t = text;
        while (!t.empty() && t.back() == '\n') t.pop_back();
        const auto nl = t.rfind('\n');
        return nl == std::string::npos ? t : t.substr(nl + 1);
    }

    void expect_no_temporaries() const {
        for (const auto& e : fs::directory_iterator(dir))
            EXPECT_NE(e.path().filename().string().rfind(".nembed-", 0), 0u) << "left behind: " << e.path();
    }
};

TEST_F(CliInterrupt, SigintDuringTsneLeavesTheOldOutput) {
    const std::string X = (dir / "X.npy").string(), Y = (dir / "Y.npy").string();
    const RunResult r = run({"tsne", X, "-o", Y, "--n-iter", "100000", "--plot", (dir / "p.png").string()}, "iteration",
                      SIGINT);
    EXPECT_EQ(r.exit_code, 130) << r.stderr_text;
    EXPECT_EQ(last_line(r.stderr_text), "nembed: error: interrupted") << r.stderr_text;
    EXPECT_EQ(slurp(dir / "Y.npy"), "the previous output");
    EXPECT_FALSE(fs::exists(dir / "p.png"));
    expect_no_temporaries();
}

TEST_F(CliInterrupt, SigtermDuringTheNeighbourSearchExits143) {
    // Signalled as soon as the run starts: the kNN, affinities or the first iterations.
    const std::string X = (dir / "X.npy").string(), Y = (dir / "Y.npy").string();
    const RunResult r = run({"tsne", X, "-o", Y, "--n-iter", "100000", "-j", "2"}, "t-SNE of", SIGTERM);
    EXPECT_EQ(r.exit_code, 143) << r.stderr_text;
    EXPECT_EQ(last_line(r.stderr_text), "nembed: error: interrupted") << r.stderr_text;
    EXPECT_EQ(slurp(dir / "Y.npy"), "the previous output");
    expect_no_temporaries();
}

TEST_F(CliInterrupt, AStepThatDoesNotPollIsEndedByTheWatchdog) {
    // The dense Hessian eigendecomposition of 800 points takes about a minute and polls nothing: one second after
    // the signal the watcher ends the process with the same line and exit code.
    std::mt19937_64 rng(2);
    std::normal_distribution<double> g;
    nembed::Matrix<double> X(800, 5), Y(800, 2);
    for (auto& v : X.storage()) v = g(rng);
    for (auto& v : Y.storage()) v = g(rng);
    nembed::save_matrix((dir / "SX.npy").string(), X.view());
    nembed::save_matrix((dir / "SY.npy").string(), Y.view());
    const RunResult r = run({"sensitivity", (dir / "SX.npy").string(), "-e", (dir / "SY.npy").string(), "-o",
                             (dir / "Y.npy").string(), "--solver", "dense", "-q"},
                            "", SIGINT, 1500ms);
    EXPECT_EQ(r.exit_code, 130) << r.stderr_text;
    EXPECT_EQ(last_line(r.stderr_text), "nembed: error: interrupted") << r.stderr_text;
    EXPECT_EQ(slurp(dir / "Y.npy"), "the previous output");
    expect_no_temporaries();
}

// The partial embedding is what the run reached: N x 2, finite, and not collapsed (each column varies).
void expect_partial_embedding(const fs::path& path, std::size_t n) {
    const auto Y = nembed::load_matrix<double>(path.string());
    ASSERT_EQ(Y.rows(), n);
    ASSERT_EQ(Y.cols(), 2u);
    for (std::size_t c = 0; c < 2; ++c) {
        double lo = Y(0, c), hi = Y(0, c);
        for (std::size_t i = 0; i < n; ++i) {
            ASSERT_TRUE(std::isfinite(Y(i, c)));
            lo = std::min(lo, Y(i, c));
            hi = std::max(hi, Y(i, c));
        }
        EXPECT_GT(hi - lo, 0.0) << "column " << c << " is constant";
    }
}

TEST_F(CliInterrupt, SavePartialWritesTheTsneEmbeddingReached) {
    const std::string X = (dir / "X.npy").string(), Y = (dir / "Y.npy").string();
    const RunResult r = run({"tsne", X, "-o", Y, "--n-iter", "100000", "--save-partial"}, "iteration", SIGINT);
    EXPECT_EQ(r.exit_code, 130) << r.stderr_text;
    EXPECT_NE(last_line(r.stderr_text).find("nembed: error: interrupted; the partial embedding (iteration "),
              std::string::npos)
        << r.stderr_text;
    expect_partial_embedding(dir / "Y.npy", 2000);
    expect_no_temporaries();
    // It is exactly the embedding after that many iterations: a run stopped there by its options gives the same bits.
    std::smatch m;
    const std::string line = last_line(r.stderr_text);
    ASSERT_TRUE(std::regex_search(line, m, std::regex("iteration ([0-9]+) of (early_exaggeration|main)"))) << line;
    const std::string k = m[1].str();
    const bool early = m[2].str() == "early_exaggeration";
    const std::string Z = (dir / "Z.npy").string();
    std::vector<std::string> args = {NEMBED_CLI_EXE, "tsne", X, "-o", Z, "-q"};
    for (const std::string& a : early ? std::vector<std::string>{"--early-exaggeration-iter", k, "--n-iter", "0"}
                                      : std::vector<std::string>{"--n-iter", k})
        args.push_back(a);
    std::string cmd;
    for (const auto& a : args) cmd += "'" + a + "' ";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    const auto partial = nembed::load_matrix<double>(Y), stopped = nembed::load_matrix<double>(Z);
    ASSERT_EQ(partial.size(), stopped.size());
    for (std::size_t i = 0; i < partial.size(); ++i)
        ASSERT_EQ(partial.data()[i], stopped.data()[i]) << "entry " << i << " after " << k << " iterations";
}

TEST_F(CliInterrupt, SavePartialWritesTheCneEmbeddingReached) {
    const std::string X = (dir / "X.npy").string(), Y = (dir / "Y.npy").string();
    const RunResult r = run({"cne", X, "-o", Y, "--n-epochs", "1000000", "--progress-every", "1", "--save-partial"},
                      "epoch", SIGTERM);
    EXPECT_EQ(r.exit_code, 143) << r.stderr_text;
    EXPECT_NE(last_line(r.stderr_text).find("nembed: error: interrupted; the partial embedding (after "),
              std::string::npos)
        << r.stderr_text;
    expect_partial_embedding(dir / "Y.npy", 2000);
}

TEST_F(CliInterrupt, SavePartialWritesTheUmapEmbeddingReached) {
    const std::string X = (dir / "X.npy").string(), Y = (dir / "Y.npy").string();
    const RunResult r = run({"umap", X, "-o", Y, "--n-epochs", "1000000", "--progress-every", "1", "--save-partial"},
                      "epoch", SIGINT);
    EXPECT_EQ(r.exit_code, 130) << r.stderr_text;
    EXPECT_NE(last_line(r.stderr_text).find("the partial embedding (after "), std::string::npos) << r.stderr_text;
    expect_partial_embedding(dir / "Y.npy", 2000);
}

} // namespace
