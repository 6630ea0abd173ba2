// libFuzzer harness: .npz archives through npz_members, read_npz and load_matrix. The first byte picks the form:
// even = the rest is the archive itself (ZIP structure, deflate streams, CRCs); odd = the rest lists members
// (fuzz::decode_members) that are packed into a valid archive, so that mutations reach the .npy parser.
#include "fuzz_util.hpp"
#include "nembed/io/load.hpp"
#include "nembed/io/npz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    std::string path;
    if (data[0] & 1) {
        const auto zip = fuzz::make_zip(fuzz::decode_members(data + 1, size - 1));
        path = fuzz::write_temp("x.npz", zip.data(), zip.size());
    } else {
        path = fuzz::write_temp("x.npz", data + 1, size - 1);
    }
    std::vector<std::string> members;
    fuzz::expect_clean([&] { members = nembed::npz_members(path); });
    fuzz::expect_clean([&] { (void)nembed::read_npz(path); });
    for (std::size_t k = 0; k < members.size() && k < 4; ++k) {
        fuzz::expect_clean([&] { (void)nembed::read_npz_image(path, members[k]); });
        fuzz::expect_clean([&] { (void)nembed::load_matrix<double>(path + ":" + members[k]); });
    }
    return 0;
}
