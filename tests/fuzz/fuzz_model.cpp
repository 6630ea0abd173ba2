// libFuzzer harness: model directories (io/model.hpp) read by nembed::load_model, in the current format and the CLI's
// earlier t-SNE format, then (when the model transforms) 8 new 3-column points preprocessed and transformed as
// `nembed transform -m DIR` does. The input lists the directory's files (fuzz::decode_members; names other than the
// five model files are ignored).
#include <filesystem>
#include <fstream>

#include "fuzz_util.hpp"
#include "nembed/io/model.hpp"

namespace {
const char* const kFiles[] = {"model.json", "embedding.npy", "reference_data.npy", "pca_mean.npy", "pca_components.npy"};
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const nembed::Matrix<float> x = [] {
        nembed::Matrix<float> m(8, 3);
        for (int i = 0; i < 8; ++i) {
            m(i, 0) = i * 0.5f;
            m(i, 1) = (i % 3) - 1.0f;
            m(i, 2) = 2.0f - i * 0.25f;
        }
        return m;
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
    fuzz::expect_clean([&] {
        const nembed::Model model = nembed::load_model(dir, 1, 0);
        if (!model.can_transform()) return;
        nembed::TransformOptions t;
        t.n_iter = 2;
        t.perplexity = 2;
        (void)model.transform(model.preprocessing().apply(x.view()).view(), t);
    });
    return 0;
}
