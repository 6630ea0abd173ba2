#pragma once
/// @file palette.hpp
/// Colours of the plots, after matplotlib's conventions: categorical tab10 (up to 10 classes), tab20 (up to 20),
/// beyond that a generated palette of hues evenly spaced in OKLCh (perceptually uniform) with alternating
/// lightness; continuous values use viridis (docs/dropin.md, "Plots").
#include <cstddef>
#include <vector>

namespace nembed {

/// An sRGB colour with components in [0, 1].
struct Rgb {
    double r = 0.0, g = 0.0, b = 0.0;
};

/// `k` distinct class colours (k >= 1): tab10 for k <= 10, tab20 for k <= 20, else generated.
std::vector<Rgb> categorical_palette(std::size_t k);

/// matplotlib's viridis at t in [0, 1] (clamped; NaN is an error): linear interpolation between 33 samples of
/// matplotlib's 256-entry table, within 2.5/255 of it per channel.
Rgb viridis(double t);

} // namespace nembed
