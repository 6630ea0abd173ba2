// Ellipse, arrow and heatmap PNGs for sensitivity analysis (uncertainty.hpp), drawn on the shared canvas.
#include "nembed/plot/uncertainty.hpp"

#include <algorithm>
#include <cstdio>
#include <cmath>
#include <numbers>

#include "nembed/core/error.hpp"

#include "canvas.hpp"

namespace nembed {
namespace {

using plot_detail::Rgb;

// The plots' canvas: square, black 2x text.
class Canvas : public plot_detail::Canvas {
public:
    explicit Canvas(int s) : plot_detail::Canvas(s, s) {}
    void text(int x, int y, const std::string& s) { plot_detail::Canvas::text(x, y, s, 2, {0, 0, 0}); }
    void write(const std::string& path) const { write_png(path); }
    int size() const { return width(); }
};

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

void check_common(MatrixView<double> Y, const std::vector<std::int64_t>& labels, const UncertaintyPlotOptions& o) {
    require(Y.cols == 2 && Y.rows >= 1, "plot: the embedding must be N x 2");
    require(labels.empty() || labels.size() == Y.rows, "plot: labels must have one entry per point");
    require(o.size >= 64 && o.size <= 20000, "plot: size must be between 64 and 20000 pixels");
    require(std::isfinite(o.scale) && o.scale >= 0.0, "plot: scale must be finite and >= 0");
    require_finite(Y, "plot: embedding");
}

Rgb color_of(const std::vector<std::int64_t>& labels, std::size_t i) {
    if (labels.empty()) return {60, 60, 60};
    const std::int64_t l = labels[i] < 0 ? 0 : labels[i];
    return plot_detail::kPalette[l % 10];
}

double point_radius(std::size_t n) { return std::clamp(6.0 / std::sqrt(std::max<double>(1.0, n / 100.0)), 1.2, 5.0); }

} // namespace

void write_ellipses_png(const std::string& path, MatrixView<double> Y, MatrixView<double> C,
                        const std::vector<std::int64_t>& labels, const UncertaintyPlotOptions& o) {
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
    Canvas cv(o.size);
    const Frame f = make_frame(xs, ys, o.size);
    const double r = point_radius(Y.rows);
    for (std::size_t i = 0; i < Y.rows; ++i) {
        const Rgb c = color_of(labels, i);
        double px = 0, py = 0;
        for (int k = 0; k <= 72; ++k) {
            const double t = 2 * std::numbers::pi * k / 72.0;
            const double ex = a1[i] * std::cos(t), ey = a2[i] * std::sin(t);
            const double x = Y(i, 0) + ex * std::cos(ang[i]) - ey * std::sin(ang[i]);
            const double y = Y(i, 1) + ex * std::sin(ang[i]) + ey * std::cos(ang[i]);
            if (k > 0) cv.line(px, py, f.px(x), f.py(y), c, 0.6f);
            px = f.px(x);
            py = f.py(y);
        }
        cv.disc(f.px(Y(i, 0)), f.py(Y(i, 1)), r, c, 0.9f);
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "95%% ellipses x %.3g", scale);
    cv.text(10, o.size - 24, buf);
    if (!o.title.empty()) cv.text(10, 8, o.title);
    cv.write(path);
}

void write_arrows_png(const std::string& path, MatrixView<double> Y, MatrixView<double> A,
                      const std::vector<std::int64_t>& labels, const UncertaintyPlotOptions& o) {
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
    Canvas cv(o.size);
    const double r = point_radius(Y.rows);
    for (std::size_t i = 0; i < Y.rows; ++i) cv.disc(f.px(Y(i, 0)), f.py(Y(i, 1)), r, color_of(labels, i), 0.8f);
    for (std::size_t i = 0; i < Y.rows; ++i) {
        const double x0 = f.px(Y(i, 0)), y0 = f.py(Y(i, 1));
        const double dx = A(i, 0) * scale * f.k, dy = -A(i, 1) * scale * f.k;
        const double L = std::hypot(dx, dy);
        if (L < 0.5) continue;
        auto head = [&](double sx, double sy, double ex, double ey) {
            cv.line(sx, sy, ex, ey, {0, 0, 0}, 0.8f);
            const double h = std::min(6.0, 0.35 * L), ux = (ex - sx) / L, uy = (ey - sy) / L;
            cv.line(ex, ey, ex - h * (ux + 0.5 * uy), ey - h * (uy - 0.5 * ux), {0, 0, 0}, 0.8f);
            cv.line(ex, ey, ex - h * (ux - 0.5 * uy), ey - h * (uy + 0.5 * ux), {0, 0, 0}, 0.8f);
        };
        head(x0, y0, x0 + dx, y0 + dy);
        if (o.double_headed) head(x0, y0, x0 - dx, y0 - dy);
    }
    char buf[96];
    std::snprintf(buf, sizeof buf, "arrows x %.3g", scale);
    cv.text(10, o.size - 24, buf);
    if (!o.title.empty()) cv.text(10, 8, o.title);
    cv.write(path);
}

void write_heatmap_png(const std::string& path, MatrixView<double> M, const UncertaintyPlotOptions& o) {
    require(M.rows >= 1 && M.cols >= 1, "plot: the heatmap matrix is empty");
    require(o.size >= 64 && o.size <= 20000, "plot: size must be between 64 and 20000 pixels");
    require_finite(M, "plot: heatmap matrix");
    // Block means on a grid of at most size × size cells; each cell is drawn as a rectangle of pixels.
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
    Canvas cv(o.size);
    const int top = o.title.empty() ? 0 : 30;
    const int h = o.size - top;
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < o.size; ++x) {
            const std::size_t a = static_cast<std::size_t>(y) * gr / static_cast<std::size_t>(h);
            const std::size_t b = static_cast<std::size_t>(x) * gc / static_cast<std::size_t>(o.size);
            const double v = std::clamp(grid[a * gc + b] / vmax, -1.0, 1.0);
            // RdBu-like: white at 0, red positive, blue negative.
            const Rgb c = v >= 0 ? Rgb{255, static_cast<float>(255 * (1 - v)), static_cast<float>(255 * (1 - v))}
                                 : Rgb{static_cast<float>(255 * (1 + v)), static_cast<float>(255 * (1 + v)), 255};
            cv.set(x, y + top, c);
        }
    char buf[96];
    std::snprintf(buf, sizeof buf, "  [range +-%.3g]", vmax);
    if (!o.title.empty()) cv.text(10, 8, o.title + buf);
    cv.write(path);
}

} // namespace nembed
