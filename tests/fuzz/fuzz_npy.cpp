// libFuzzer harness: .npy files through read_npy, load_matrix and load_labels.
#include "fuzz_util.hpp"
#include "nembed/io/load.hpp"
#include "nembed/io/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string path = fuzz::write_temp("x.npy", data, size);
    fuzz::expect_clean([&] {
        const nembed::NdArray a = nembed::read_npy(path);
        // Everything below reads the array's elements, which must all be there.
        if (a.size()) (void)a.value(a.size() - 1);
    });
    fuzz::expect_clean([&] { (void)nembed::load_matrix<float>(path); });
    fuzz::expect_clean([&] { (void)nembed::load_labels(path); });
    return 0;
}
