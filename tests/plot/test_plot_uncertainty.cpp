#include <gtest/gtest.h>

#include <cairo.h>

#include <array>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "nembed/core/error.hpp"
#include "nembed/core/random.hpp"
#include "nembed/plot/uncertainty.hpp"

using namespace nembed;
namespace fs = std::filesystem;

namespace {
std::string slurp(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), {}};
}
fs::path temp(const std::string& name) { return fs::temp_directory_path() / ("nembed_test_uplot_" + name); }

struct Data {
    Matrix<double> Y{50, 2}, C{50, 4}, A{50, 2};
    std::vector<std::int64_t> labels = std::vector<std::int64_t>(50);
    Data() {
        Rng rng(2);
        for (std::size_t i = 0; i < 50; ++i) {
            Y(i, 0) = rng.normal();
            Y(i, 1) = rng.normal();
            C(i, 0) = 0.02;
            C(i, 1) = C(i, 2) = 0.005;
            C(i, 3) = 0.01;
            A(i, 0) = rng.normal();
            A(i, 1) = rng.normal();
            labels[i] = static_cast<std::int64_t>(i % 4);
        }
    }
};
} // namespace

TEST(UncertaintyPlots, EveryFormatByExtension) {
    Data d;
    for (const std::string ext : {".png", ".svg", ".pdf"}) {
        const auto e = temp("ellipses" + ext), a = temp("arrows" + ext), h = temp("heatmap" + ext);
        UncertaintyPlotOptions o;
        o.size = 200;
        o.title = "t";
        write_ellipses(e.string(), d.Y.view(), d.C.view(), d.labels, o);
        o.double_headed = true;
        write_arrows(a.string(), d.Y.view(), d.A.view(), {}, o);
        write_heatmap(h.string(), d.C.view(), o);
        for (const auto& f : {e, a, h}) {
            const std::string s = slurp(f);
            if (ext == ".png") {
                EXPECT_EQ(s.substr(1, 3), "PNG") << f;
            }
            if (ext == ".svg") {
                EXPECT_NE(s.find("<svg"), std::string::npos) << f;
            }
            if (ext == ".pdf") {
                EXPECT_EQ(s.rfind("%PDF-", 0), 0u) << f;
            }
            fs::remove(f);
        }
    }
}

TEST(UncertaintyPlots, HeatmapColoursFollowTheSign) {
    // Left half positive (red), right half negative (blue), white where zero.
    Matrix<double> M(10, 20);
    for (std::size_t i = 0; i < 10; ++i)
        for (std::size_t j = 0; j < 20; ++j) M(i, j) = j < 10 ? 1.0 : -1.0;
    const auto path = temp("sign.png");
    UncertaintyPlotOptions o;
    o.size = 100;
    write_heatmap(path.string(), M.view(), o);
    cairo_surface_t* s = cairo_image_surface_create_from_png(path.c_str());
    ASSERT_EQ(cairo_surface_status(s), CAIRO_STATUS_SUCCESS);
    auto at = [&](int x, int y) {
        std::uint32_t p;
        std::memcpy(&p, cairo_image_surface_get_data(s) + y * cairo_image_surface_get_stride(s) + 4 * x, 4);
        return std::array<int, 3>{static_cast<int>((p >> 16) & 255), static_cast<int>((p >> 8) & 255),
                                  static_cast<int>(p & 255)};
    };
    EXPECT_EQ(at(20, 50), (std::array<int, 3>{255, 0, 0}));
    EXPECT_EQ(at(80, 50), (std::array<int, 3>{0, 0, 255}));
    cairo_surface_destroy(s);
    fs::remove(path);
}

TEST(UncertaintyPlots, RejectBadInput) {
    Data d;
    EXPECT_THROW(write_ellipses(temp("e.gif").string(), d.Y.view(), d.C.view(), d.labels), InvalidArgument);
    EXPECT_THROW(write_ellipses("/nonexistent-dir/e.png", d.Y.view(), d.C.view(), d.labels), IoError);
    EXPECT_THROW(write_arrows(temp("a.png").string(), d.Y.view(), d.C.view(), d.labels), InvalidArgument);  // N x 4
    d.C(3, 1) = std::nan("");
    EXPECT_THROW(write_ellipses(temp("e.png").string(), d.Y.view(), d.C.view(), d.labels), InvalidArgument);
    d.Y(0, 0) = INFINITY;
    EXPECT_THROW(write_arrows(temp("a.png").string(), d.Y.view(), d.A.view(), d.labels), InvalidArgument);
    EXPECT_THROW(write_heatmap(temp("h.png").string(), d.Y.view()), InvalidArgument);
    EXPECT_FALSE(fs::exists(temp("e.png")));
    EXPECT_FALSE(fs::exists(temp("a.png")));
}
