#pragma once
// Private to src/plot: the raster both PNG writers draw on (scatter.cpp, uncertainty.cpp) and the categorical
// palette. stb_image_write's implementation lives in stb_image_write.cpp.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "nembed/core/error.hpp"

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-function"
#endif
#include <stb_easy_font.h>
#include <stb_image_write.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

namespace nembed::plot_detail {

struct Rgb {
    float r, g, b;
};

// matplotlib's tab10 followed by the light halves of tab20: distinct, colour-blind-aware categorical colours.
const Rgb kPalette[] = {
    {31, 119, 180}, {255, 127, 14}, {44, 160, 44},   {214, 39, 40},   {148, 103, 189}, {140, 86, 75},
    {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207},  {174, 199, 232}, {255, 187, 120},
    {152, 223, 138}, {255, 152, 150}, {197, 176, 213}, {196, 156, 148}, {247, 182, 210}, {199, 199, 199},
    {219, 219, 141}, {158, 218, 229}};
constexpr int kPaletteSize = sizeof(kPalette) / sizeof(kPalette[0]);

class Canvas {
public:
    Canvas(int w, int h) : w_(w), h_(h), px_(static_cast<std::size_t>(w) * h * 3, 1.0f) {}
    void blend(int x, int y, Rgb c, float a) {
        if (x < 0 || y < 0 || x >= w_ || y >= h_) return;
        float* p = &px_[(static_cast<std::size_t>(y) * w_ + x) * 3];
        p[0] = p[0] * (1 - a) + c.r / 255.0f * a;
        p[1] = p[1] * (1 - a) + c.g / 255.0f * a;
        p[2] = p[2] * (1 - a) + c.b / 255.0f * a;
    }
    void disc(double cx, double cy, double r, Rgb c, float a) {
        int x0 = static_cast<int>(std::floor(cx - r - 1)), x1 = static_cast<int>(std::ceil(cx + r + 1));
        int y0 = static_cast<int>(std::floor(cy - r - 1)), y1 = static_cast<int>(std::ceil(cy + r + 1));
        for (int y = y0; y <= y1; ++y) {
            for (int x = x0; x <= x1; ++x) {
                double d = std::hypot(x + 0.5 - cx, y + 0.5 - cy);
                double cover = std::clamp(r + 0.5 - d, 0.0, 1.0);  // anti-aliased edge
                if (cover > 0) blend(x, y, c, static_cast<float>(a * cover));
            }
        }
    }
    void set(int x, int y, Rgb c) { blend(x, y, c, 1.0f); }
    void line(double x0, double y0, double x1, double y1, Rgb c, float a) {
        const int steps = static_cast<int>(std::ceil(std::max(std::abs(x1 - x0), std::abs(y1 - y0)))) + 1;
        for (int k = 0; k <= steps; ++k) {
            const double t = static_cast<double>(k) / steps;
            blend(static_cast<int>(std::lround(x0 + t * (x1 - x0))), static_cast<int>(std::lround(y0 + t * (y1 - y0))),
                  c, a);
        }
    }
    void rect(int x0, int y0, int x1, int y1, Rgb c) {
        for (int y = y0; y < y1; ++y)
            for (int x = x0; x < x1; ++x) blend(x, y, c, 1.0f);
    }
    // Text via stb_easy_font quads, scaled by an integer factor.
    void text(int x, int y, const std::string& s, int scale, Rgb c) {
        std::vector<char> buf(s.size() * 270 + 64);
        std::string copy = s;
        int quads = stb_easy_font_print(0, 0, copy.data(), nullptr, buf.data(), static_cast<int>(buf.size()));
        const float* v = reinterpret_cast<const float*>(buf.data());
        for (int q = 0; q < quads; ++q) {
            const float* qv = v + q * 16;  // 4 vertices of (x, y, z, color)
            int qx0 = static_cast<int>(qv[0]), qy0 = static_cast<int>(qv[1]);
            int qx1 = static_cast<int>(qv[8]), qy1 = static_cast<int>(qv[9]);
            rect(x + qx0 * scale, y + qy0 * scale, x + qx1 * scale, y + qy1 * scale, c);
        }
    }
    std::vector<std::uint8_t> bytes() const {
        std::vector<std::uint8_t> out(px_.size());
        for (std::size_t i = 0; i < px_.size(); ++i)
            out[i] = static_cast<std::uint8_t>(std::lround(std::clamp(px_[i], 0.0f, 1.0f) * 255.0f));
        return out;
    }

    void write_png(const std::string& path) const {
        const auto out = bytes();
        if (!stbi_write_png(path.c_str(), w_, h_, 3, out.data(), w_ * 3)) throw IoError(path + ": cannot write PNG");
    }
    int width() const { return w_; }
    int height() const { return h_; }

private:
    int w_, h_;
    std::vector<float> px_;
};

} // namespace nembed::plot_detail
