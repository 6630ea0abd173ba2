// Scatter plots with cairo (scatter.hpp); the size, opacity and palette rules are in docs/dropin.md, "Plots".
#include "nembed/plot/scatter.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <numbers>
#include <numeric>

#include "nembed/core/error.hpp"
#include "nembed/core/random.hpp"
#include "nembed/plot/format.hpp"
#include "nembed/plot/palette.hpp"

#include "canvas.hpp"

namespace nembed {
namespace {

using plot_detail::Align;
using plot_detail::Canvas;
using plot_detail::ClassColours;

constexpr std::size_t kMaxLegendEntries = 200;
constexpr Rgb kInk{0.1, 0.1, 0.1};
constexpr Rgb kSingle{31 / 255.0, 119 / 255.0, 180 / 255.0};  // tab10's first colour, for unlabelled points

void validate(MatrixView<double> Y, const std::vector<std::int64_t>& labels, const ScatterOptions& opt) {
    require(Y.rows > 0, "scatter plot: the embedding is empty");
    require(Y.cols == 1 || Y.cols == 2, "scatter plot: the embedding must have 1 or 2 columns, got " +
                                            std::to_string(Y.cols));
    require(labels.empty() || labels.size() == Y.rows,
            "scatter plot: " + std::to_string(labels.size()) + " labels for " + std::to_string(Y.rows) + " points");
    require(opt.values.empty() || opt.values.size() == Y.rows, "scatter plot: " + std::to_string(opt.values.size()) +
                                                                   " values for " + std::to_string(Y.rows) + " points");
    require(opt.values.empty() || labels.empty(), "scatter plot: colour by labels or by values, not both");
    require(opt.width >= 100 && opt.height >= 100 && opt.width <= 20000 && opt.height <= 20000,
            "scatter plot: width and height must be between 100 and 20000 pixels");
    require(std::isfinite(opt.point_radius) && opt.point_radius >= 0.0 && opt.point_radius <= 1000.0,
            "scatter plot: point_radius must be in [0, 1000] pixels (0 = automatic)");
    require(std::isfinite(opt.alpha) && opt.alpha >= 0.0 && opt.alpha <= 1.0,
            "scatter plot: alpha must be in [0, 1] (0 = automatic)");
    require(!opt.font.empty(), "scatter plot: font must name a font family");
    require_finite(Y, "scatter plot embedding");
    for (std::size_t i = 0; i < opt.values.size(); ++i)
        require_lazy(std::isfinite(opt.values[i]), [&] {
            return "scatter plot: value " + std::to_string(i) + " (0-based) is not finite";
        });
}

std::string format_number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g", v);
    return buf;
}

std::unique_ptr<Canvas> draw(PlotFormat format, MatrixView<double> Y, const std::vector<std::int64_t>& labels,
                             const ScatterOptions& opt) {
    validate(Y, labels, opt);
    const std::size_t n = Y.rows;
    const double s = std::min(opt.width, opt.height) / 1000.0;
    const double fs = std::clamp(16.0 * s, 9.0, 48.0);  // font size of the legend
    const double margin = 0.04 * std::min(opt.width, opt.height);
    const double top = opt.title.empty() ? margin : margin + 1.8 * fs;
    const double H = opt.height;

    // The legend's (or colour bar's) column to the right of the plot area.
    const ClassColours classes(labels);
    const bool continuous = !opt.values.empty();
    double vlo = 0.0, vhi = 0.0;
    if (continuous) {
        const auto [lo, hi] = std::minmax_element(opt.values.begin(), opt.values.end());
        vlo = *lo;
        vhi = *hi;
    }
    // Text widths for the layout, measured on a scratch surface with the plot's font.
    const Canvas scratch(PlotFormat::png, 1, 1, opt.font);
    auto measure = [&](const std::string& text, double size) { return scratch.text_width(text, size); };
    std::vector<std::string> names;
    std::vector<double> ticks;
    double legend_w = 0.0, entry_h = 1.5 * fs, col_w = 0.0;
    std::size_t rows_per_col = 1;
    if (opt.legend && continuous) {
        const int n_ticks = vhi > vlo ? 5 : 1;
        double widest = opt.values_name.empty() ? 0.0 : measure(opt.values_name, fs);
        for (int k = 0; k < n_ticks; ++k) {
            ticks.push_back(n_ticks == 1 ? vlo : vlo + (vhi - vlo) * k / (n_ticks - 1));
            widest = std::max(widest, 1.6 * fs + measure(format_number(ticks.back()), fs));
        }
        legend_w = widest + 0.5 * margin + fs;
    } else if (opt.legend && classes.size() > 0 && classes.size() <= kMaxLegendEntries) {
        double widest = 0.0;
        for (std::int64_t code : classes.codes()) {
            const bool named = code >= 0 && static_cast<std::uint64_t>(code) < opt.label_names.size();
            names.push_back(named ? opt.label_names[static_cast<std::size_t>(code)] : std::to_string(code));
            widest = std::max(widest, measure(names.back(), fs));
        }
        rows_per_col = std::max<std::size_t>(1, static_cast<std::size_t>((H - top - margin) / entry_h));
        const std::size_t cols = (names.size() + rows_per_col - 1) / rows_per_col;
        col_w = 2.0 * fs + widest;
        legend_w = static_cast<double>(cols) * col_w + margin;
    }
    const int W = opt.width + static_cast<int>(std::ceil(legend_w));
    auto canvas = std::make_unique<Canvas>(format, W, opt.height, opt.font);
    cairo_t* cr = canvas->cr();

    // Data to pixels: one scale for both axes, centred in the plot area. 1-D embeddings get a seeded jitter.
    Rng jitter_rng(opt.seed, 1);
    std::vector<double> ys(n);
    double xmin = Y(0, 0), xmax = Y(0, 0);
    for (std::size_t i = 0; i < n; ++i) {
        xmin = std::min(xmin, Y(i, 0));
        xmax = std::max(xmax, Y(i, 0));
    }
    for (std::size_t i = 0; i < n; ++i)
        ys[i] = Y.cols == 2 ? Y(i, 1) : 0.05 * std::max(xmax - xmin, 1e-12) * jitter_rng.uniform(-1.0, 1.0);
    const auto [ymin, ymax] = std::minmax_element(ys.begin(), ys.end());
    const double span = std::max({xmax - xmin, *ymax - *ymin, 1e-12});
    const double scale = std::min(opt.width - 2 * margin, H - top - margin) / span;
    const double cx = (xmin + xmax) / 2, cy = (*ymin + *ymax) / 2;
    const double ox = opt.width / 2.0, oy = top + (H - top - margin) / 2.0;

    const double nd = static_cast<double>(n);
    const double r = opt.point_radius > 0
                         ? opt.point_radius
                         : std::clamp(std::sqrt(0.25 * opt.width * opt.height / (std::numbers::pi * nd)), 0.5,
                                      std::max(0.5, 5.0 * s));
    const double a = opt.alpha > 0 ? opt.alpha : std::clamp(std::sqrt(10000.0 / nd), 0.2, 0.9);

    // A seeded random drawing order: no class is buried under the ones drawn after it.
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    Rng order_rng(opt.seed, 0);
    for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[order_rng.below(i)]);
    for (std::size_t i : order) {
        const Rgb c = continuous ? viridis(vhi > vlo ? (opt.values[i] - vlo) / (vhi - vlo) : 0.5)
                      : labels.empty() ? kSingle
                                       : classes.of(labels[i]);
        canvas->set_colour(c, a);
        cairo_new_sub_path(cr);
        cairo_arc(cr, ox + (Y(i, 0) - cx) * scale, oy - (ys[i] - cy) * scale, r, 0.0, 2.0 * std::numbers::pi);
        cairo_fill(cr);
    }

    if (!opt.title.empty())
        canvas->text(opt.width / 2.0, margin / 2 + 1.25 * fs, opt.title, 1.25 * fs, kInk, Align::centre);
    if (!names.empty()) {
        for (std::size_t k = 0; k < names.size(); ++k) {
            const double x0 = opt.width + static_cast<double>(k / rows_per_col) * col_w;
            const double y0 = top + static_cast<double>(k % rows_per_col) * entry_h;
            canvas->set_colour(classes.colours()[k]);
            cairo_new_sub_path(cr);
            cairo_arc(cr, x0 + 0.5 * fs, y0 + 0.5 * entry_h, 0.4 * fs, 0.0, 2.0 * std::numbers::pi);
            cairo_fill(cr);
            canvas->text(x0 + 1.3 * fs, y0 + 0.5 * entry_h + 0.35 * fs, names[k], fs, kInk);
        }
    }
    if (!ticks.empty()) {
        // Viridis as a linear gradient through its samples, bottom (min) to top (max).
        const double bx = opt.width, bw = 0.8 * fs;
        const double by = top + (opt.values_name.empty() ? 0.0 : 1.5 * fs), bh = std::max(H - by - margin, 10.0);
        cairo_pattern_t* gradient = cairo_pattern_create_linear(0.0, by + bh, 0.0, by);
        for (int k = 0; k <= 32; ++k) {
            const Rgb c = viridis(k / 32.0);
            cairo_pattern_add_color_stop_rgb(gradient, k / 32.0, c.r, c.g, c.b);
        }
        cairo_rectangle(cr, bx, by, bw, bh);
        cairo_set_source(cr, gradient);
        cairo_fill(cr);
        cairo_pattern_destroy(gradient);
        if (!opt.values_name.empty()) canvas->text(bx, top + fs, opt.values_name, fs, kInk);
        cairo_set_line_width(cr, std::max(1.0, 0.08 * fs));
        for (double t : ticks) {
            const double y = ticks.size() == 1 ? by + bh / 2 : by + bh - bh * (t - vlo) / (vhi - vlo);
            canvas->set_colour(kInk);
            cairo_move_to(cr, bx + bw, y);
            cairo_line_to(cr, bx + bw + 0.3 * fs, y);
            cairo_stroke(cr);
            canvas->text(bx + bw + 0.5 * fs, y + 0.35 * fs, format_number(t), fs, kInk);
        }
    }
    return canvas;
}
} // namespace

std::vector<std::uint8_t> render_scatter(MatrixView<double> Y, const std::vector<std::int64_t>& labels,
                                         const ScatterOptions& opt, int* width_out, int* height_out) {
    auto canvas = draw(PlotFormat::png, Y, labels, opt);
    if (width_out) *width_out = canvas->width();
    if (height_out) *height_out = canvas->height();
    return canvas->rgb();
}

void write_scatter(const std::string& path, MatrixView<double> Y, const std::vector<std::int64_t>& labels,
                   const ScatterOptions& options) {
    draw(plot_format_for(path), Y, labels, options)->write(path);
}

void write_scatter_png(const std::string& path, MatrixView<double> Y, const std::vector<std::int64_t>& labels,
                       const ScatterOptions& options) {
    write_scatter(path, Y, labels, options);
}

} // namespace nembed
