#include "commands.hpp"

#include "common.hpp"

namespace nembed::cli {
void register_tsne(CLI::App& app);
void register_transform(CLI::App& app);
void register_evaluate(CLI::App& app);
void register_pca(CLI::App& app);
void register_knn(CLI::App& app);
void register_plot(CLI::App& app);
void register_affinity(CLI::App& app);
void register_umap(CLI::App& app);
void register_cne(CLI::App& app);
void register_pacmap(CLI::App& app);
void register_ne(CLI::App& app);
void register_sensitivity(CLI::App& app);
void register_parametric(CLI::App& app);

void register_commands(CLI::App& app) {
    register_tsne(app);
    register_umap(app);
    register_cne(app);
    register_pacmap(app);
    register_ne(app);
    register_parametric(app);
    register_transform(app);
    register_evaluate(app);
    register_pca(app);
    register_knn(app);
    register_affinity(app);
    register_plot(app);
    register_sensitivity(app);
    add_value_checks(app);
}
} // namespace nembed::cli
