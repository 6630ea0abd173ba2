// Categorical palettes and viridis (palette.hpp); conventions in docs/dropin.md, "Plots".
#include "nembed/plot/palette.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>

#include "nembed/core/error.hpp"

namespace nembed {
namespace {
constexpr Rgb rgb8(int r, int g, int b) { return {r / 255.0, g / 255.0, b / 255.0}; }

// matplotlib's tab10 and tab20 (tab20 pairs each tab10 colour with its light variant).
constexpr std::array<Rgb, 20> kTab20 = {
    rgb8(31, 119, 180), rgb8(174, 199, 232), rgb8(255, 127, 14),  rgb8(255, 187, 120), rgb8(44, 160, 44),
    rgb8(152, 223, 138), rgb8(214, 39, 40),  rgb8(255, 152, 150), rgb8(148, 103, 189), rgb8(197, 176, 213),
    rgb8(140, 86, 75),  rgb8(196, 156, 148), rgb8(227, 119, 194), rgb8(247, 182, 210), rgb8(127, 127, 127),
    rgb8(199, 199, 199), rgb8(188, 189, 34), rgb8(219, 219, 141), rgb8(23, 190, 207),  rgb8(158, 218, 229)};

// 33 evenly spaced samples of matplotlib's viridis (its 256-entry table at i · 255/32).
constexpr std::array<Rgb, 33> kViridis = {
    rgb8(68, 1, 84),    rgb8(71, 13, 96),   rgb8(72, 24, 106),  rgb8(72, 35, 116),  rgb8(71, 45, 123),
    rgb8(69, 55, 129),  rgb8(66, 64, 134),  rgb8(62, 73, 137),  rgb8(59, 82, 139),  rgb8(55, 91, 141),
    rgb8(51, 99, 141),  rgb8(47, 107, 142), rgb8(44, 114, 142), rgb8(41, 122, 142), rgb8(38, 130, 142),
    rgb8(35, 137, 142), rgb8(33, 145, 140), rgb8(31, 152, 139), rgb8(31, 160, 136), rgb8(34, 167, 133),
    rgb8(40, 174, 128), rgb8(50, 182, 122), rgb8(63, 188, 115), rgb8(78, 195, 107), rgb8(94, 201, 98),
    rgb8(112, 207, 87), rgb8(132, 212, 75), rgb8(152, 216, 62), rgb8(173, 220, 48), rgb8(194, 223, 35),
    rgb8(216, 226, 25), rgb8(236, 229, 27), rgb8(253, 231, 37)};

double srgb_gamma(double x) { return x <= 0.0031308 ? 12.92 * x : 1.055 * std::pow(x, 1.0 / 2.4) - 0.055; }

// OKLab (L, a, b) to linear sRGB (Björn Ottosson's matrices); out of gamut when a component leaves [0, 1].
std::array<double, 3> oklab_to_linear(double L, double a, double b) {
    const double l = std::pow(L + 0.3963377774 * a + 0.2158037573 * b, 3);
    const double m = std::pow(L - 0.1055613458 * a - 0.0638541728 * b, 3);
    const double s = std::pow(L - 0.0894841775 * a - 1.2914855480 * b, 3);
    return {4.0767416621 * l - 3.3077115913 * m + 0.2309699292 * s,
            -1.2684380046 * l + 2.6097574011 * m - 0.3413193965 * s,
            -0.0041960863 * l - 0.7034186147 * m + 1.7076147010 * s};
}

// Hue k of n evenly spaced around the OKLCh circle at one of three lightness levels (neighbouring classes differ
// in lightness too), chroma 0.15 reduced until the colour fits sRGB.
Rgb generated(std::size_t k, std::size_t n) {
    constexpr double kLightness[3] = {0.55, 0.72, 0.87};
    const double L = kLightness[k % 3];
    const double h = 2.0 * std::numbers::pi * static_cast<double>(k) / static_cast<double>(n) + 0.5;
    for (double C = 0.15;; C *= 0.95) {
        const auto lin = oklab_to_linear(L, C * std::cos(h), C * std::sin(h));
        if (C < 1e-3 || std::all_of(lin.begin(), lin.end(), [](double v) { return v >= 0.0 && v <= 1.0; }))
            return {srgb_gamma(std::clamp(lin[0], 0.0, 1.0)), srgb_gamma(std::clamp(lin[1], 0.0, 1.0)),
                    srgb_gamma(std::clamp(lin[2], 0.0, 1.0))};
    }
}
} // namespace

std::vector<Rgb> categorical_palette(std::size_t k) {
    require(k >= 1, "categorical_palette: k must be >= 1");
    std::vector<Rgb> out(k);
    for (std::size_t i = 0; i < k; ++i) out[i] = k <= 10 ? kTab20[2 * i] : k <= 20 ? kTab20[i] : generated(i, k);
    return out;
}

Rgb viridis(double t) {
    require(!std::isnan(t), "viridis: t is NaN");
    const double u = std::clamp(t, 0.0, 1.0) * (kViridis.size() - 1);
    const std::size_t i = std::min(static_cast<std::size_t>(u), kViridis.size() - 2);
    const double f = u - static_cast<double>(i);
    const Rgb &a = kViridis[i], &b = kViridis[i + 1];
    return {a.r + f * (b.r - a.r), a.g + f * (b.g - a.g), a.b + f * (b.b - a.b)};
}

} // namespace nembed
