#pragma once
// Every subcommand is one `register_*` function in its own cli/cmd_<name>.cpp.
#include <CLI/CLI.hpp>

namespace nembed::cli {
void register_commands(CLI::App& app);
} // namespace nembed::cli
