#include <gtest/gtest.h>

#include <cairo.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <array>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "nembed/core/error.hpp"
#include "nembed/core/random.hpp"
#include "nembed/plot/format.hpp"
#include "nembed/plot/palette.hpp"
#include "nembed/plot/scatter.hpp"

using namespace nembed;
namespace fs = std::filesystem;

namespace {
Matrix<double> clusters(std::size_t n, std::vector<std::int64_t>& labels, std::int64_t k = 3) {
    Matrix<double> y(n, 2);
    Rng rng(5);
    labels.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        labels[i] = static_cast<std::int64_t>(i) % k;
        y(i, 0) = rng.normal() + 10.0 * static_cast<double>(labels[i]);
        y(i, 1) = rng.normal();
    }
    return y;
}

std::string slurp(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), {}};
}

fs::path temp(const std::string& name) { return fs::temp_directory_path() / ("nembed_test_plot_" + name); }

// A PNG read back with cairo: RGB of pixel (x, y).
struct Png {
    explicit Png(const fs::path& p) : s(cairo_image_surface_create_from_png(p.c_str())) {}
    ~Png() { cairo_surface_destroy(s); }
    bool ok() const { return cairo_surface_status(s) == CAIRO_STATUS_SUCCESS; }
    int width() const { return cairo_image_surface_get_width(s); }
    int height() const { return cairo_image_surface_get_height(s); }
    std::array<int, 3> at(int x, int y) const {
        const unsigned char* d = cairo_image_surface_get_data(s) + y * cairo_image_surface_get_stride(s) + 4 * x;
        std::uint32_t p;
        std::memcpy(&p, d, 4);
        return {static_cast<int>((p >> 16) & 255), static_cast<int>((p >> 8) & 255), static_cast<int>(p & 255)};
    }
    // Pixels in [x0, x1) x [0, height) within `tol` of colour c (0..255 per channel).
    std::size_t count(int x0, int x1, Rgb c, int tol) const {
        std::size_t n = 0;
        for (int y = 0; y < height(); ++y)
            for (int x = x0; x < x1; ++x) {
                const auto p = at(x, y);
                n += std::abs(p[0] - std::lround(255 * c.r)) <= tol && std::abs(p[1] - std::lround(255 * c.g)) <= tol &&
                     std::abs(p[2] - std::lround(255 * c.b)) <= tol;
            }
        return n;
    }
    cairo_surface_t* s;
};
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

TEST(Scatter, PngReadBackHasLegendTextAndClassColours) {
    std::vector<std::int64_t> labels;
    auto y = clusters(2000, labels);
    ScatterOptions opt;
    opt.width = opt.height = 500;
    opt.label_names = {"alpha", "beta", "gamma"};
    opt.title = "Three clusters";
    int w = 0, h = 0;
    render_scatter(y.view(), labels, opt, &w, &h);
    const auto path = temp("legend.png");
    write_scatter(path.string(), y.view(), labels, opt);
    Png png(path);
    ASSERT_TRUE(png.ok());
    EXPECT_EQ(png.width(), w);
    EXPECT_EQ(png.height(), 500);
    // The legend column (right of the plot area) holds dark text pixels (anti-aliased glyphs: near-black cores).
    std::size_t dark = 0;
    for (int yy = 0; yy < png.height(); ++yy)
        for (int x = opt.width; x < png.width(); ++x) {
            const auto p = png.at(x, yy);
            dark += p[0] < 80 && p[1] < 80 && p[2] < 80;
        }
    EXPECT_GT(dark, 40u);
    // Each class colour (tab10's first three) appears exactly in its opaque legend swatch, and blended over white
    // at the automatic opacity in the plot area.
    const auto palette = categorical_palette(3);
    for (const Rgb& c : palette) {
        EXPECT_GT(png.count(opt.width, png.width(), c, 3), 20u);
        EXPECT_GT(png.count(0, opt.width, c, 40), 200u);
    }
    // Longer names widen the legend: the text is measured, not a fixed column.
    opt.label_names = {"alpha with a much longer name", "beta", "gamma"};
    int w2 = 0;
    render_scatter(y.view(), labels, opt, &w2, nullptr);
    EXPECT_GT(w2, w + 50);
    fs::remove(path);
}

TEST(Scatter, SvgAndPdfCarryTheFontsGlyphs) {
    std::vector<std::int64_t> labels;
    auto y = clusters(300, labels);
    ScatterOptions opt;
    opt.label_names = {"alpha", "beta", "gamma"};
    const auto svg = temp("legend.svg"), pdf = temp("legend.pdf");
    write_scatter(svg.string(), y.view(), labels, opt);
    write_scatter(pdf.string(), y.view(), labels, opt);
    const std::string s = slurp(svg), p = slurp(pdf);
    EXPECT_EQ(s.rfind("<?xml", 0), 0u);
    EXPECT_NE(s.find("<svg"), std::string::npos);
    // cairo writes text as glyph symbols, one per distinct glyph (a l p h b e t g m: 9, and glyph0-0, the font's
    // .notdef), used once per character.
    std::size_t symbols = 0, uses = 0;
    for (std::size_t at = 0; (at = s.find("id=\"glyph", at)) != std::string::npos; ++at) ++symbols;
    for (std::size_t at = 0; (at = s.find("xlink:href=\"#glyph", at)) != std::string::npos; ++at) ++uses;
    EXPECT_EQ(symbols, 10u);
    EXPECT_EQ(uses, 5u + 4u + 5u);
    // 300 markers as vector paths, not a bitmap.
    EXPECT_EQ(s.find("<image"), std::string::npos);
    EXPECT_EQ(p.rfind("%PDF-", 0), 0u);
    EXPECT_NE(p.find("/FontFile"), std::string::npos);  // the font's glyph subset is embedded
    fs::remove(svg);
    fs::remove(pdf);
}

TEST(Scatter, SameSeedSameBytesAndRandomOrder) {
    // Two classes at the very same positions, class 1 after class 0 in the data: drawn in data order with
    // opaque markers, class 1 would hide class 0 completely. The seeded random order shows both.
    const std::size_t n = 2000;
    Matrix<double> y(n, 2);
    std::vector<std::int64_t> labels(n);
    Rng rng(3);
    for (std::size_t i = 0; i < n / 2; ++i) {
        y(i, 0) = y(i + n / 2, 0) = rng.normal();
        y(i, 1) = y(i + n / 2, 1) = rng.normal();
        labels[i] = 0;
        labels[i + n / 2] = 1;
    }
    ScatterOptions opt;
    opt.width = opt.height = 300;
    opt.alpha = 1.0;
    opt.legend = false;
    const auto a = temp("seed_a.png"), b = temp("seed_b.png"), c = temp("seed_c.png");
    write_scatter(a.string(), y.view(), labels, opt);
    write_scatter(b.string(), y.view(), labels, opt);
    opt.seed = 1;
    write_scatter(c.string(), y.view(), labels, opt);
    EXPECT_EQ(slurp(a), slurp(b));
    EXPECT_NE(slurp(a), slurp(c));
    Png png(a);
    ASSERT_TRUE(png.ok());
    const auto palette = categorical_palette(2);
    const std::size_t blue = png.count(0, 300, palette[0], 2), orange = png.count(0, 300, palette[1], 2);
    EXPECT_GT(blue, (blue + orange) / 4);
    EXPECT_GT(orange, (blue + orange) / 4);
    for (const auto& f : {a, b, c}) fs::remove(f);
}

TEST(Scatter, ColourBarForValues) {
    const std::size_t n = 1000;
    Matrix<double> y(n, 2);
    ScatterOptions opt;
    opt.width = opt.height = 300;
    Rng rng(1);
    for (std::size_t i = 0; i < n; ++i) {
        y(i, 0) = rng.normal();
        y(i, 1) = rng.normal();
        opt.values.push_back(y(i, 0) * 3.0 + 7.0);
    }
    opt.values_name = "depth";
    const auto path = temp("values.png");
    write_scatter(path.string(), y.view(), {}, opt);
    Png png(path);
    ASSERT_TRUE(png.ok());
    EXPECT_GT(png.width(), 300);  // the colour bar's column
    // The bar spans viridis from its first to its last colour; the points use them too (min and max values).
    EXPECT_GT(png.count(300, png.width(), viridis(0.0), 4), 5u);
    EXPECT_GT(png.count(300, png.width(), viridis(1.0), 4), 5u);
    EXPECT_GT(png.count(300, png.width(), viridis(0.5), 4), 5u);
    fs::remove(path);
    // Labels and values together, or non-finite values, are refused.
    EXPECT_THROW(render_scatter(y.view(), std::vector<std::int64_t>(n, 0), opt, nullptr, nullptr), InvalidArgument);
    opt.values[5] = std::nan("");
    EXPECT_THROW(render_scatter(y.view(), {}, opt, nullptr, nullptr), InvalidArgument);
    opt.values.pop_back();
    EXPECT_THROW(render_scatter(y.view(), {}, opt, nullptr, nullptr), InvalidArgument);
}

TEST(Scatter, ManyClassesGetDistinctColoursAndAMultiColumnLegend) {
    std::vector<std::int64_t> labels;
    auto y = clusters(3000, labels, 60);
    ScatterOptions opt;
    opt.width = opt.height = 300;
    int w = 0;
    auto px = render_scatter(y.view(), labels, opt, &w, nullptr);
    // 60 entries of 1.5 × 9 px do not fit 300 px: several columns.
    EXPECT_GT(w, 300 + 2 * 30);
    const auto palette = categorical_palette(60);
    ASSERT_EQ(palette.size(), 60u);
    double closest = 1e9;
    for (std::size_t a = 0; a < palette.size(); ++a) {
        for (std::size_t b = a + 1; b < palette.size(); ++b)
            closest = std::min(closest, std::hypot(palette[a].r - palette[b].r, palette[a].g - palette[b].g,
                                                   palette[a].b - palette[b].b));
        for (double v : {palette[a].r, palette[a].g, palette[a].b}) {
            EXPECT_GE(v, 0.0);
            EXPECT_LE(v, 1.0);
        }
    }
    EXPECT_GT(closest, 0.03);  // no two classes share a colour
}

TEST(Palette, MatplotlibConventions) {
    auto near = [](Rgb c, int r, int g, int b, double tol) {
        return std::abs(255 * c.r - r) <= tol && std::abs(255 * c.g - g) <= tol && std::abs(255 * c.b - b) <= tol;
    };
    const auto tab10 = categorical_palette(10), tab20 = categorical_palette(20);
    EXPECT_TRUE(near(tab10[0], 31, 119, 180, 0.01));   // tab:blue
    EXPECT_TRUE(near(tab10[9], 23, 190, 207, 0.01));   // tab:cyan
    EXPECT_TRUE(near(tab20[1], 174, 199, 232, 0.01));  // tab20's light blue follows blue
    EXPECT_TRUE(near(tab20[19], 158, 218, 229, 0.01));
    EXPECT_TRUE(near(categorical_palette(3)[2], 44, 160, 44, 0.01));
    // viridis against matplotlib's table (entries 0, 128, 255: (68,1,84), (33,145,140) at 0.5 to within the
    // documented 2.5/255, (253,231,37)).
    EXPECT_TRUE(near(viridis(0.0), 68, 1, 84, 0.01));
    EXPECT_TRUE(near(viridis(0.5), 33, 145, 140, 2.5));
    EXPECT_TRUE(near(viridis(1.0), 253, 231, 37, 0.01));
    EXPECT_TRUE(near(viridis(7.0), 253, 231, 37, 0.01));  // clamped
    EXPECT_THROW(viridis(std::nan("")), InvalidArgument);
    EXPECT_THROW(categorical_palette(0), InvalidArgument);
}

TEST(Scatter, WritesPngAndRejectsBadPaths) {
    std::vector<std::int64_t> labels;
    auto y = clusters(500, labels);
    const auto path = temp("scatter.png");
    write_scatter_png(path.string(), y.view(), labels);
    EXPECT_EQ(slurp(path).substr(1, 3), "PNG");
    fs::remove(path);
    EXPECT_THROW(write_scatter("/nonexistent-dir/x.png", y.view(), labels), IoError);
    EXPECT_THROW(write_scatter("/nonexistent-dir/x.svg", y.view(), labels), IoError);
    EXPECT_THROW(write_scatter(temp("x.jpg").string(), y.view(), labels), InvalidArgument);
    EXPECT_THROW(write_scatter(temp("noext").string(), y.view(), labels), InvalidArgument);
    EXPECT_FALSE(fs::exists(temp("x.jpg")));
    EXPECT_EQ(plot_format_for("a/B.PDF"), PlotFormat::pdf);
    EXPECT_EQ(plot_format_for("x.svg"), PlotFormat::svg);
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
    bad(2, 1) = INFINITY;
    EXPECT_THROW(write_scatter(temp("inf.png").string(), bad.view(), {}), InvalidArgument);
    EXPECT_FALSE(fs::exists(temp("inf.png")));
    Matrix<double> ok(5, 2);
    ScatterOptions opt;
    opt.alpha = 1.5;
    EXPECT_THROW(render_scatter(ok.view(), {}, opt, nullptr, nullptr), InvalidArgument);
    opt.alpha = 0.0;
    opt.point_radius = std::nan("");
    EXPECT_THROW(render_scatter(ok.view(), {}, opt, nullptr, nullptr), InvalidArgument);
    opt.point_radius = 0.0;
    opt.width = 50;
    EXPECT_THROW(render_scatter(ok.view(), {}, opt, nullptr, nullptr), InvalidArgument);
}

TEST(Scatter, OneDimensionalEmbeddingIsJittered) {
    Matrix<double> y(400, 1);
    for (std::size_t i = 0; i < 400; ++i) y(i, 0) = static_cast<double>(i);
    ScatterOptions opt;
    opt.width = opt.height = 200;
    int w = 0, h = 0;
    auto px = render_scatter(y.view(), {}, opt, &w, &h);
    // The points spread over more than one row of pixels (a strip, not a line).
    int first = h, last = -1;
    for (int r = 0; r < h; ++r)
        for (int c = 0; c < w; ++c)
            if (px[(static_cast<std::size_t>(r) * w + c) * 3] < 200) {
                first = std::min(first, r);
                last = std::max(last, r);
            }
    EXPECT_GT(last - first, 5);
}
