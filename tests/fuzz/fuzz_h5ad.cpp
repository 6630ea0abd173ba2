// libFuzzer harness: AnnData .h5ad files through load_matrix, load_labels_named, h5ad_n_obs and
// write_h5ad_embedding (the CLI adds embeddings to users' files). The input is the file itself; the seeds are the
// fixtures of tests/data/make_h5ad_fixtures.py, whose keys are tried here.
#include "fuzz_util.hpp"
#include "nembed/io/h5ad.hpp"
#include "nembed/io/load.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string path = fuzz::write_temp("x.h5ad", data, size);
    for (const char* key : {"", ":obsm/X_pca", ":layers/dense", ":layers/csc"})
        fuzz::expect_clean([&] { (void)nembed::load_matrix<double>(path + key); });
    for (const char* key : {":obs/cell_type", ":obs/batch", ":obs/flag", ":obs/nullable", ":obs/_index", ":obs/louvain"})
        fuzz::expect_clean([&] { (void)nembed::load_labels_named(path + key); });
    std::int64_t n = -1;
    fuzz::expect_clean([&] { n = nembed::h5ad_n_obs(path); });
    if (n > 0 && n <= 4096) {
        nembed::Matrix<double> Y(static_cast<std::size_t>(n), 2, 1.0);
        fuzz::expect_clean([&] { nembed::write_h5ad_embedding(path, "obsm/X_fuzz", Y.view()); });
    }
    return 0;
}
