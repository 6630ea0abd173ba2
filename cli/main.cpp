// nembed command-line entry point: subcommands register themselves in cli/commands.cpp.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <string>

#include "commands.hpp"

int main(int argc, char** argv) {
    CLI::App app{"nembed: neighbour embeddings (t-SNE, UMAP, contrastive) from the command line", "nembed"};
    app.set_version_flag("--version", std::string("nembed ") + NEMBED_VERSION);
    app.require_subcommand(1);
    nembed::cli::register_commands(app);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
        std::fprintf(stderr, "nembed: error: %s (see --help)\n", e.what());
        return e.get_exit_code();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "nembed: error: %s\n", e.what());
        return 1;
    }
    return 0;
}
