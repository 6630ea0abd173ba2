// libFuzzer harness: model directories read by `nembed transform -m DIR` (model.json and the .npy arrays that
// `nembed tsne --save-model` writes), run through the CLI's own command on 8 new points. The input lists the
// directory's files (fuzz::decode_members; names other than the five model files are ignored).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "../../cli/commands.hpp"
#include "fuzz_util.hpp"

namespace {
const char* const kFiles[] = {"model.json", "embedding.npy", "reference_data.npy", "pca_mean.npy", "pca_components.npy"};
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const std::string x = [] {
        const std::string p = fuzz::temp_path("new.csv");
        std::ofstream f(p);
        for (int i = 0; i < 8; ++i) f << i * 0.5 << "," << (i % 3) - 1.0 << "," << 2.0 - i * 0.25 << "\n";
        return p;
    }();
    const std::string dir = fuzz::temp_path("model");
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    for (const auto& m : fuzz::decode_members(data, size))
        for (const char* name : kFiles)
            if (m.name == name) {
                std::ofstream f(dir + "/" + name, std::ios::binary);
                f.write(reinterpret_cast<const char*>(m.data.data()), static_cast<std::streamsize>(m.data.size()));
            }
    CLI::App app{"nembed"};
    app.require_subcommand(1);
    nembed::cli::register_commands(app);
    std::vector<std::string> args = {"transform", x, "-m", dir, "-o", fuzz::temp_path("out.npy"),
                                     "-q", "-j", "1", "--n-iter", "2", "--perplexity", "2"};
    std::reverse(args.begin(), args.end());  // CLI11 takes the arguments in reverse order
    fuzz::expect_clean([&] { app.parse(args); });
    return 0;
}
