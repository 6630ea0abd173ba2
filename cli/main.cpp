// nembed command-line entry point: subcommands register themselves in cli/commands.cpp.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "commands.hpp"
#include "common.hpp"
#include "interrupt.hpp"
#include "nembed/core/error.hpp"
#include "nembed/dist/comm.hpp"

namespace {

std::size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diag = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diag = up;
        }
    }
    return row[b.size()];
}

// "nembed tsnee": CLI11 would only say that a subcommand is required; name the commands and the nearest one.
std::string unknown_command_message(const CLI::App& app, const std::string& given) {
    std::string names, nearest;
    std::size_t best = std::string::npos;
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
        const std::string& n = sub->get_name();
        names += (names.empty() ? "" : ", ") + n;
        const std::size_t d = edit_distance(given, n);
        if (d < best) best = d, nearest = n;
    }
    std::string msg = "unknown command '" + given + "'";
    if (best <= 2 || (best <= given.size() / 2 && best != std::string::npos)) msg += "; did you mean '" + nearest + "'?";
    return msg + " (commands: " + names + ")";
}

// Library messages name parameters ("n_iter must be non-negative"); at the command line the same parameter is an
// option of the command that ran (--n-iter), so the message is given that name.
std::string option_spelling(const CLI::App& app, std::string msg) {
    std::size_t end = 0;
    while (end < msg.size() && (std::islower(static_cast<unsigned char>(msg[end])) || msg[end] == '_')) ++end;
    if (end == 0 || end == msg.size() || msg[end] != ' ') return msg;
    std::string option = "--" + msg.substr(0, end);
    std::replace(option.begin(), option.end(), '_', '-');
    for (const CLI::App* sub : app.get_subcommands()) {
        if (sub->get_option_no_throw(option)) return option + msg.substr(end);
    }
    return msg;
}

// Library messages name library functions; at the command line the same advice is an option.
std::string cli_spelling(std::string msg) {
    static const std::pair<const char*, const char*> table[] = {{"use random_init", "use --init random"}};
    for (const auto& [from, to] : table) {
        for (auto at = msg.find(from); at != std::string::npos; at = msg.find(from, at + std::strlen(to)))
            msg.replace(at, std::strlen(from), to);
    }
    return msg;
}

struct Outcome {
    int rc = 0;
    std::string error;  // printed as "nembed: error: <error>" when not empty
};

Outcome run(CLI::App& app, int argc, char** argv) {
    if (argc >= 2 && argv[1][0] != '-') {
        const std::string given = argv[1];
        const auto match = app.get_subcommands([&](const CLI::App* sub) { return sub->check_name(given); });
        if (match.empty()) return {2, unknown_command_message(app, given)};
        // Under mpirun with several ranks every rank would run the whole problem and write the same outputs.
        const std::string name = match.front()->get_name();
        if (nembed::dist::launched_by_mpi() && name != "tsne" && name != "umap" && name != "cne" &&
            name != "ne")
            return {2, "nembed " + name + " does not run distributed (under mpirun only tsne, umap, cne and ne do, "
                       "docs/mpi.md); start it as one process"};
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return {app.exit(e), ""};  // --help, --version
        return {e.get_exit_code(), std::string(e.what()) + " (see --help)"};
    } catch (const nembed::cli::InterruptedWithPartial& e) {
        return {128 + nembed::cli::received_signal(), std::string("interrupted; ") + e.what()};
    } catch (const nembed::cli::QuietFailure&) {
        return {1, ""};
    } catch (const std::exception& e) {
        // Whatever a signal made fail (an Interrupted from a loop, or a step it cut short) reads the same.
        if (const int sig = nembed::cli::received_signal()) return {128 + sig, "interrupted"};
        return {1, cli_spelling(option_spelling(app, nembed::cli::error_text(e)))};
    }
    return {0, ""};
}

} // namespace

int main(int argc, char** argv) {
    nembed::cli::install_interrupt_handling();
    CLI::App app{"nembed: neighbour embeddings (t-SNE, UMAP, contrastive) from the command line", "nembed"};
    app.set_version_flag("--version", std::string("nembed ") + NEMBED_VERSION);
    app.require_subcommand(1);
    nembed::cli::register_commands(app);
    const Outcome r = run(app, argc, argv);
    nembed::cli::mark_finished();
    if (!r.error.empty() && !nembed::cli::errors_silenced()) std::fprintf(stderr, "nembed: error: %s\n", r.error.c_str());
    return r.rc;
}
