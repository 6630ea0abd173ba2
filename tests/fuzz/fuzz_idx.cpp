// libFuzzer harness: MNIST idx files, plain or gzip, through read_idx and load_matrix (format sniffed, no
// extension). The first byte picks the form: even = the rest as it is (plain idx, or a gzip stream to corrupt);
// odd = the rest gzip-compressed here, so that mutations of the idx header reach the reader through gzip.
#include "fuzz_util.hpp"
#include "nembed/io/idx.hpp"
#include "nembed/io/load.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    std::string path;
    if (data[0] & 1) {
        path = fuzz::temp_path("x_idx");
        gzFile f = gzopen(path.c_str(), "wb");
        if (!f) std::abort();
        if (size > 1) gzwrite(f, data + 1, static_cast<unsigned>(size - 1));
        gzclose(f);
    } else {
        path = fuzz::write_temp("x_idx", data + 1, size - 1);
    }
    fuzz::expect_clean([&] { (void)nembed::read_idx(path); });
    fuzz::expect_clean([&] { (void)nembed::load_matrix<float>(path); });
    fuzz::expect_clean([&] { (void)nembed::load_labels(path); });
    return 0;
}
