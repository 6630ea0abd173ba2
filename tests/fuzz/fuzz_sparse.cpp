// libFuzzer harness: scipy.sparse.save_npz files through load_sparse. The first byte picks the form as in
// fuzz_npz: even = a raw archive, odd = members packed into a valid archive (indptr, indices, row, col, shape, data
// and format reach the validation with correct CRCs).
#include "fuzz_util.hpp"
#include "nembed/io/load.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    std::string path;
    if (data[0] & 1) {
        const auto zip = fuzz::make_zip(fuzz::decode_members(data + 1, size - 1));
        path = fuzz::write_temp("g.npz", zip.data(), zip.size());
    } else {
        path = fuzz::write_temp("g.npz", data + 1, size - 1);
    }
    fuzz::expect_clean([&] {
        const nembed::CsrMatrix<double> m = nembed::load_sparse(path);
        m.validate("loaded sparse matrix");  // what the loader returns must be a well-formed CSR matrix
    });
    return 0;
}
