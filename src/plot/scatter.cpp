#include "nembed/plot/scatter.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "nembed/core/error.hpp"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-function"
#endif
#include <stb_image_write.h>
#include <stb_easy_font.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

namespace nembed {
namespace {

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

private:
    int w_, h_;
    std::vector<float> px_;
};

} // namespace

std::vector<std::uint8_t> render_scatter(MatrixView<double> Y, const std::vector<std::int64_t>& labels,
                                         const ScatterOptions& opt, int* width_out, int* height_out) {
    require(Y.rows > 0, "scatter plot: the embedding is empty");
    require(Y.cols == 1 || Y.cols == 2, "scatter plot: the embedding must have 1 or 2 columns, got " +
                                            std::to_string(Y.cols));
    require(labels.empty() || labels.size() == Y.rows,
            "scatter plot: " + std::to_string(labels.size()) + " labels for " + std::to_string(Y.rows) + " points");
    require(opt.width >= 100 && opt.height >= 100 && opt.width <= 20000 && opt.height <= 20000,
            "scatter plot: width and height must be between 100 and 20000 pixels");
    require_finite(Y, "scatter plot embedding");

    // Distinct labels in sorted order -> palette slots.
    std::map<std::int64_t, int> slot;
    for (auto l : labels) slot.emplace(l, 0);
    int next = 0;
    for (auto& kv : slot) kv.second = next++;
    const bool with_legend = opt.legend && !slot.empty() && slot.size() <= 40;
    const int legend_w = with_legend ? 180 : 0;
    const int W = opt.width + legend_w, H = opt.height;
    Canvas canvas(W, H);

    double xmin = 1e300, xmax = -1e300, ymin = 1e300, ymax = -1e300;
    for (std::size_t i = 0; i < Y.rows; ++i) {
        double x = Y(i, 0), y = Y.cols == 2 ? Y(i, 1) : 0.0;
        xmin = std::min(xmin, x);
        xmax = std::max(xmax, x);
        ymin = std::min(ymin, y);
        ymax = std::max(ymax, y);
    }
    // Equal aspect ratio: one scale for both axes, centred.
    const double margin = 0.04 * std::min(opt.width, opt.height);
    const double top = opt.title.empty() ? margin : margin + 24;
    double span = std::max({xmax - xmin, ymax - ymin, 1e-12});
    double scale = std::min((opt.width - 2 * margin), (H - top - margin)) / span;
    double cx = (xmin + xmax) / 2, cy = (ymin + ymax) / 2;
    double ox = opt.width / 2.0, oy = top + (H - top - margin) / 2.0;

    const double n = static_cast<double>(Y.rows);
    double r = opt.point_radius > 0 ? opt.point_radius : std::clamp(6.0 / std::pow(n, 0.25), 0.6, 4.0);
    double a = opt.alpha > 0 ? std::min(opt.alpha, 1.0) : std::clamp(400.0 / std::sqrt(n), 0.25, 0.9);
    for (std::size_t i = 0; i < Y.rows; ++i) {
        Rgb c = labels.empty() ? Rgb{31, 119, 180} : kPalette[slot[labels[i]] % kPaletteSize];
        double y = Y.cols == 2 ? Y(i, 1) : 0.0;
        canvas.disc(ox + (Y(i, 0) - cx) * scale, oy - (y - cy) * scale, r, c, static_cast<float>(a));
    }
    if (!opt.title.empty()) canvas.text(static_cast<int>(margin), 8, opt.title, 2, {20, 20, 20});
    if (with_legend) {
        int y = static_cast<int>(top);
        for (auto& [label, s] : slot) {
            std::string name = (s < static_cast<int>(opt.label_names.size())) ? opt.label_names[s]
                                                                              : std::to_string(label);
            canvas.rect(opt.width + 10, y, opt.width + 24, y + 14, kPalette[s % kPaletteSize]);
            canvas.text(opt.width + 32, y + 1, name, 2, {20, 20, 20});
            y += 24;
        }
    }
    if (width_out) *width_out = W;
    if (height_out) *height_out = H;
    return canvas.bytes();
}

void write_scatter_png(const std::string& path, MatrixView<double> Y, const std::vector<std::int64_t>& labels,
                       const ScatterOptions& options) {
    int w = 0, h = 0;
    auto px = render_scatter(Y, labels, options, &w, &h);
    if (!stbi_write_png(path.c_str(), w, h, 3, px.data(), w * 3)) throw IoError(path + ": cannot write PNG");
}

} // namespace nembed
