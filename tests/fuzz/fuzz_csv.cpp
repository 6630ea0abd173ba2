// libFuzzer harness: delimited text through read_csv, read_csv_labels and load_matrix. The first byte picks the
// file name's extension (which sets the delimiter) and the header option.
#include "fuzz_util.hpp"
#include "nembed/io/csv.hpp"
#include "nembed/io/load.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    static const char* names[] = {"x.csv", "x.tsv", "x.txt", "x.dat"};
    const std::string path = fuzz::write_temp(names[data[0] & 3], data + 1, size - 1);
    nembed::CsvOptions o;
    o.header = static_cast<int>((data[0] >> 2) % 3) - 1;
    fuzz::expect_clean([&] { (void)nembed::read_csv<float>(path, o); });
    fuzz::expect_clean([&] { (void)nembed::read_csv_labels(path, o); });
    fuzz::expect_clean([&] { (void)nembed::load_matrix<double>(path); });
    return 0;
}
