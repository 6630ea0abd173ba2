#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "nembed/core/error.hpp"
#include "nembed/core/random.hpp"
#include "nembed/plot/scatter.hpp"

using namespace nembed;

namespace {
Matrix<double> clusters(std::size_t n, std::vector<std::int64_t>& labels) {
    Matrix<double> y(n, 2);
    Rng rng(5);
    labels.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        labels[i] = static_cast<std::int64_t>(i % 3);
        y(i, 0) = rng.normal() + 10.0 * static_cast<double>(labels[i]);
        y(i, 1) = rng.normal();
    }
    return y;
}
} // namespace

TEST(Scatter, DrawsColouredPointsAndLegend) {
    std::vector<std::int64_t> labels;
    auto y = clusters(3000, labels);
    int w = 0, h = 0;
    ScatterOptions opt;
    opt.width = 400;
    opt.height = 300;
    auto px = render_scatter(y.view(), labels, opt, &w, &h);
    EXPECT_EQ(h, 300);
    EXPECT_GT(w, 400);  // legend panel added
    ASSERT_EQ(px.size(), static_cast<std::size_t>(w) * h * 3);
    // Count pixels close to the first two palette colours (tab10 blue, orange): both clusters are drawn.
    std::size_t blueish = 0, orangeish = 0, white = 0;
    for (std::size_t p = 0; p < px.size(); p += 3) {
        if (px[p] < 120 && px[p + 2] > 150) blueish++;
        if (px[p] > 200 && px[p + 1] > 90 && px[p + 1] < 170 && px[p + 2] < 100) orangeish++;
        if (px[p] == 255 && px[p + 1] == 255 && px[p + 2] == 255) white++;
    }
    EXPECT_GT(blueish, 200u);
    EXPECT_GT(orangeish, 200u);
    EXPECT_GT(white, px.size() / 3 / 2);  // mostly background
}

TEST(Scatter, WritesPng) {
    std::vector<std::int64_t> labels;
    auto y = clusters(500, labels);
    auto path = std::filesystem::temp_directory_path() / "nembed_scatter_test.png";
    write_scatter_png(path.string(), y.view(), labels);
    std::ifstream f(path, std::ios::binary);
    char magic[8] = {};
    f.read(magic, 8);
    EXPECT_EQ(std::string(magic + 1, 3), "PNG");
    std::filesystem::remove(path);
    EXPECT_THROW(write_scatter_png("/nonexistent-dir/x.png", y.view(), labels), IoError);
}

TEST(Scatter, RejectsBadInput) {
    std::vector<std::int64_t> labels;
    auto y = clusters(10, labels);
    labels.pop_back();
    EXPECT_THROW(render_scatter(y.view(), labels, {}, nullptr, nullptr), InvalidArgument);
    Matrix<double> y3(5, 3);
    EXPECT_THROW(render_scatter(y3.view(), {}, {}, nullptr, nullptr), InvalidArgument);
    Matrix<double> bad(5, 2);
    bad(2, 1) = std::nan("");
    EXPECT_THROW(render_scatter(bad.view(), {}, {}, nullptr, nullptr), InvalidArgument);
}
