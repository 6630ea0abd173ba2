#include "commands.hpp"

namespace nembed::cli {
void register_commands(CLI::App& app) {
    (void)app;
}
} // namespace nembed::cli
