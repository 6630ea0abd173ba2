#include "commands.hpp"

namespace nembed::cli {
void register_pca(CLI::App& app);
void register_knn(CLI::App& app);
void register_plot(CLI::App& app);

void register_commands(CLI::App& app) {
    register_pca(app);
    register_knn(app);
    register_plot(app);
}
} // namespace nembed::cli
