// Ellipse, arrow and heatmap plots for sensitivity analysis (uncertainty.hpp), drawn with cairo.
#include "nembed/plot/uncertainty.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <numbers>

#include "nembed/core/error.hpp"
#include "nembed/plot/format.hpp"
#include "nembed/plot/palette.hpp"

#include "canvas.hpp"

namespace nembed {
namespace {

using plot_detail::Canvas;
using plot_detail::ClassColours;

constexpr Rgb kInk{0.0, 0.0, 0.0};
constexpr Rgb kGrey{60 / 255.0, 60 / 255.0, 60 / 255.0};

double font_size(int size) { return std::clamp(16.0 * size / 1000.0, 8.0, 48.0); }

// Maps data to pixels: equal scale on both axes, 6 % margins, y up.
struct Frame {
    double cx, cy, k;
    int s;
    double px(double x) const { return s / 2.0 + (x - cx) * k; }
    double py(double y) const { return s / 2.0 - (y - cy) * k; }
};

Frame make_frame(const std::vector<double>& xs, const std::vector<double>& ys, int s) {
    const auto [xmin, xmax] = std::minmax_element(xs.begin(), xs.end());
    const auto [ymin, ymax] = std::minmax_element(ys.begin(), ys.end());
    const double span = std::max({*xmax - *xmin, *ymax - *ymin, 1e-12});
    return {(*xmin + *xmax) / 2, (*ymin + *ymax) / 2, 0.88 * s / span, s};
}

void check_size(const UncertaintyPlotOptions& o) {
    require(o.size >= 64 && o.size <= 20000, "plot: size must be between 64 and 20000 pixels");
    require(!o.font.empty(), "plot: font must name a font family");
}

void check_common(MatrixView<double> Y, const std::vector<std::int64_t>& labels, const UncertaintyPlotOptions& o) {
    require(Y.cols == 2 && Y.rows >= 1, "plot: the embedding must be N x 2");
    require(labels.empty() || labels.size() == Y.rows, "plot: labels must have one entry per point");
    check_size(o);
    require(std::isfinite(o.scale) && o.scale >= 0.0, "plot: scale must be finite and >= 0");
    require_finite(Y, "plot: embedding");
}

Rgb colour_of(const ClassColours& classes, const std::vector<std::int64_t>& labels, std::size_t i) {
    return labels.empty() ? kGrey : classes.of(labels[i]);
}

double point_radius(std::size_t n) { return std::clamp(6.0 / std::sqrt(std::max<double>(1.0, n / 100.0)), 1.2, 5.0); }

void dot(Canvas& cv, double x, double y, double r, Rgb c, double alpha) {
    cv.set_colour(c, alpha);
    cairo_new_sub_path(cv.cr());
    cairo_arc(cv.cr(), x, y, r, 0.0, 2.0 * std::numbers::pi);
    cairo_fill(cv.cr());
}

// The caption at the bottom left and the title at the top left.
void captions(Canvas& cv, const std::string& caption, const std::string& title, int size) {
    const double fs = font_size(size);
    if (!caption.empty()) cv.text(10, size - 0.8 * fs, caption, fs, kInk);
    if (!title.empty()) cv.text(10, 8 + fs, title, fs, kInk);
}

} // namespace

void write_ellipses(const std::string& path, MatrixView<double> Y, MatrixView<double> C,
                    const std::vector<std::int64_t>& labels, const UncertaintyPlotOptions& o) {
    const PlotFormat format = plot_format_for(path);
    check_common(Y, labels, o);
    require(C.rows == Y.rows && C.cols == 4, "plot: covariances must be N x 4 (c_xx, c_xy, c_yx, c_yy)");
    require_finite(C, "plot: covariances");
    // Ellipse axes from each block's eigenpairs; scale 0: the median major semi-axis becomes 3 % of the map.
    std::vector<double> a1(Y.rows), a2(Y.rows), ang(Y.rows), xs, ys;
    for (std::size_t i = 0; i < Y.rows; ++i) {
        const double a = C(i, 0), b = 0.5 * (C(i, 1) + C(i, 2)), d = C(i, 3);
        const double tr = 0.5 * (a + d), det = std::sqrt(std::max(0.0, 0.25 * (a - d) * (a - d) + b * b));
        a1[i] = std::sqrt(5.991) * std::sqrt(std::max(0.0, tr + det));
        a2[i] = std::sqrt(5.991) * std::sqrt(std::max(0.0, tr - det));
        ang[i] = 0.5 * std::atan2(2 * b, a - d);
        xs.push_back(Y(i, 0));
        ys.push_back(Y(i, 1));
    }
    double scale = o.scale;
    if (scale == 0.0) {
        const Frame f0 = make_frame(xs, ys, o.size);
        std::vector<double> m = a1;
        std::nth_element(m.begin(), m.begin() + static_cast<std::ptrdiff_t>(m.size() / 2), m.end());
        scale = m[m.size() / 2] > 0.0 ? 0.03 * 0.88 * o.size / f0.k / m[m.size() / 2] : 1.0;
    }
    xs.clear();
    ys.clear();
    for (std::size_t i = 0; i < Y.rows; ++i) {
        a1[i] *= scale;
        a2[i] *= scale;
        xs.push_back(Y(i, 0) - a1[i]);
        xs.push_back(Y(i, 0) + a1[i]);
        ys.push_back(Y(i, 1) - a1[i]);
        ys.push_back(Y(i, 1) + a1[i]);
    }
    Canvas cv(format, o.size, o.size, o.font);
    cairo_t* cr = cv.cr();
    const Frame f = make_frame(xs, ys, o.size);
    const ClassColours classes(labels);
    const double r = point_radius(Y.rows);
    cairo_set_line_width(cr, 1.0);
    for (std::size_t i = 0; i < Y.rows; ++i) {
        const Rgb c = colour_of(classes, labels, i);
        // The unit circle mapped by rotation and axis scaling (y flipped: data y points up); degenerate axes
        // (zero variance) are drawn as a line or nothing rather than a singular transform.
        cairo_save(cr);
        cairo_translate(cr, f.px(Y(i, 0)), f.py(Y(i, 1)));
        cairo_rotate(cr, -ang[i]);
        const double sx = std::max(a1[i] * f.k, 1e-6), sy = std::max(a2[i] * f.k, 1e-6);
        cairo_scale(cr, sx, sy);
        cairo_new_path(cr);
        cairo_arc(cr, 0.0, 0.0, 1.0, 0.0, 2.0 * std::numbers::pi);
        cairo_restore(cr);  // stroke in device units: the line width stays 1 px
        cv.set_colour(c, 0.6);
        cairo_stroke(cr);
        dot(cv, f.px(Y(i, 0)), f.py(Y(i, 1)), r, c, 0.9);
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "95%% ellipses x %.3g", scale);
    captions(cv, buf, o.title, o.size);
    cv.write(path);
}

void write_arrows(const std::string& path, MatrixView<double> Y, MatrixView<double> A,
                  const std::vector<std::int64_t>& labels, const UncertaintyPlotOptions& o) {
    const PlotFormat format = plot_format_for(path);
    check_common(Y, labels, o);
    require(A.rows == Y.rows && A.cols == 2, "plot: arrows must be N x 2");
    require_finite(A, "plot: arrows");
    std::vector<double> xs, ys, len;
    for (std::size_t i = 0; i < Y.rows; ++i) {
        xs.push_back(Y(i, 0));
        ys.push_back(Y(i, 1));
        len.push_back(std::hypot(A(i, 0), A(i, 1)));
    }
    const Frame f = make_frame(xs, ys, o.size);
    double scale = o.scale;
    if (scale == 0.0) {
        std::vector<double> l = len;
        std::nth_element(l.begin(), l.begin() + static_cast<std::ptrdiff_t>(0.95 * (l.size() - 1)), l.end());
        const double p95 = l[static_cast<std::size_t>(0.95 * (l.size() - 1))];
        scale = p95 > 0.0 ? 0.06 * o.size / f.k / p95 : 1.0;
    }
    Canvas cv(format, o.size, o.size, o.font);
    cairo_t* cr = cv.cr();
    const ClassColours classes(labels);
    const double r = point_radius(Y.rows);
    for (std::size_t i = 0; i < Y.rows; ++i) dot(cv, f.px(Y(i, 0)), f.py(Y(i, 1)), r, colour_of(classes, labels, i), 0.8);
    cairo_set_line_width(cr, 1.0);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
    cv.set_colour(kInk, 0.8);
    for (std::size_t i = 0; i < Y.rows; ++i) {
        const double x0 = f.px(Y(i, 0)), y0 = f.py(Y(i, 1));
        const double dx = A(i, 0) * scale * f.k, dy = -A(i, 1) * scale * f.k;
        const double L = std::hypot(dx, dy);
        if (L < 0.5) continue;
        auto arrow = [&](double ex, double ey) {
            const double h = std::min(6.0, 0.35 * L), ux = (ex - x0) / L, uy = (ey - y0) / L;
            cairo_move_to(cr, x0, y0);
            cairo_line_to(cr, ex, ey);
            cairo_move_to(cr, ex - h * (ux + 0.5 * uy), ey - h * (uy - 0.5 * ux));
            cairo_line_to(cr, ex, ey);
            cairo_line_to(cr, ex - h * (ux - 0.5 * uy), ey - h * (uy + 0.5 * ux));
            cairo_stroke(cr);
        };
        arrow(x0 + dx, y0 + dy);
        if (o.double_headed) arrow(x0 - dx, y0 - dy);
    }
    char buf[96];
    std::snprintf(buf, sizeof buf, "arrows x %.3g", scale);
    captions(cv, buf, o.title, o.size);
    cv.write(path);
}

void write_heatmap(const std::string& path, MatrixView<double> M, const UncertaintyPlotOptions& o) {
    const PlotFormat format = plot_format_for(path);
    require(M.rows >= 1 && M.cols >= 1, "plot: the heatmap matrix is empty");
    check_size(o);
    require_finite(M, "plot: heatmap matrix");
    // Block means on a grid of at most size × size cells, painted as an image scaled with nearest-neighbour
    // filtering (crisp cells in every format).
    const std::size_t gr = std::min<std::size_t>(M.rows, static_cast<std::size_t>(o.size));
    const std::size_t gc = std::min<std::size_t>(M.cols, static_cast<std::size_t>(o.size));
    std::vector<double> grid(gr * gc, 0.0), count(gr * gc, 0.0);
    for (std::size_t i = 0; i < M.rows; ++i)
        for (std::size_t j = 0; j < M.cols; ++j) {
            const std::size_t a = i * gr / M.rows, b = j * gc / M.cols;
            grid[a * gc + b] += M(i, j);
            count[a * gc + b] += 1.0;
        }
    double vmax = 0.0;
    for (std::size_t q = 0; q < grid.size(); ++q) vmax = std::max(vmax, std::abs(grid[q] /= count[q]));
    if (vmax == 0.0) vmax = 1.0;
    const std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)> owner(
        cairo_image_surface_create(CAIRO_FORMAT_RGB24, static_cast<int>(gc), static_cast<int>(gr)), &cairo_surface_destroy);
    cairo_surface_t* cells = owner.get();
    require(cairo_surface_status(cells) == CAIRO_STATUS_SUCCESS, "plot: cannot allocate the heatmap grid");
    cairo_surface_flush(cells);
    unsigned char* data = cairo_image_surface_get_data(cells);
    const int stride = cairo_image_surface_get_stride(cells);
    for (std::size_t a = 0; a < gr; ++a)
        for (std::size_t b = 0; b < gc; ++b) {
            const double v = std::clamp(grid[a * gc + b] / vmax, -1.0, 1.0);
            // RdBu-like: white at 0, red positive, blue negative.
            const double fade = 255.0 * (1.0 - std::abs(v));
            const auto hi = std::uint32_t{255}, lo = static_cast<std::uint32_t>(std::lround(fade));
            const std::uint32_t px = v >= 0 ? (hi << 16) | (lo << 8) | lo : (lo << 16) | (lo << 8) | hi;
            std::copy_n(reinterpret_cast<const unsigned char*>(&px), 4,
                        data + a * static_cast<std::size_t>(stride) + 4 * b);
        }
    cairo_surface_mark_dirty(cells);
    Canvas cv(format, o.size, o.size, o.font);
    cairo_t* cr = cv.cr();
    const double top = o.title.empty() ? 0.0 : 1.9 * font_size(o.size);
    cairo_save(cr);
    cairo_translate(cr, 0.0, top);
    cairo_scale(cr, static_cast<double>(o.size) / static_cast<double>(gc),
                (o.size - top) / static_cast<double>(gr));
    cairo_set_source_surface(cr, cells, 0.0, 0.0);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
    cairo_paint(cr);
    cairo_restore(cr);
    char buf[96];
    std::snprintf(buf, sizeof buf, "  [range +-%.3g]", vmax);
    if (!o.title.empty()) captions(cv, "", o.title + buf, o.size);
    cv.write(path);
}

} // namespace nembed
