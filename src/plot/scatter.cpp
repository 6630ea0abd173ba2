#include "nembed/plot/scatter.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "nembed/core/error.hpp"

#include "canvas.hpp"

namespace nembed {

using plot_detail::Canvas;
using plot_detail::kPalette;
using plot_detail::kPaletteSize;
using plot_detail::Rgb;

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
