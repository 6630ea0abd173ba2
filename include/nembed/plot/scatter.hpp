#pragma once
/// @file scatter.hpp
/// A scatter plot of a 2-D embedding drawn with cairo and written as PNG, SVG or PDF (by the path's extension),
/// with defaults that read well from 100 to 1 000 000 points: anti-aliased markers whose size and opacity follow
/// N, a seeded random drawing order (no class hides another, the same seed gives the same bytes), categorical
/// colours with a legend of class names, or continuous values with a colour bar (viridis).
#include <cstdint>
#include <string>
#include <vector>

#include "nembed/core/matrix.hpp"

namespace nembed {

struct ScatterOptions {
    int width = 1000;            ///< plot area width in pixels (100..20000; a legend or colour bar is added right)
    int height = 1000;           ///< image height in pixels (100..20000)
    /// Marker radius in pixels; 0 = automatic: sqrt(0.25 · width · height / (π N)) clamped to [0.5, 5 · s]
    /// with s = min(width, height) / 1000 (the markers' total area is about a quarter of the plot, at most 5 px).
    double point_radius = 0.0;
    /// Marker opacity in (0, 1]; 0 = automatic: sqrt(10 000 / N) clamped to [0.2, 0.9].
    double alpha = 0.0;
    bool legend = true;          ///< draw a legend (classes, up to 200) or a colour bar (values)
    std::string title;           ///< drawn at the top (empty: none)
    /// Legend text per label code: label_names[c] names code c (as io's LabelColumn::names); codes without a name
    /// show their number.
    std::vector<std::string> label_names;
    /// Continuous colour per point (viridis from min to max, with a colour bar); when given, labels must be empty.
    std::vector<double> values;
    std::string values_name;     ///< caption of the colour bar (empty: none)
    std::uint64_t seed = 0;      ///< seeds the drawing order (and the jitter of 1-D embeddings)
    std::string font = "DejaVu Sans";  ///< fontconfig family of all text (fontconfig substitutes when absent)
};

/// Renders `embedding` (N x 2; N x 1 is drawn against a jittered zero axis) coloured by `labels` (may be empty;
/// or by options.values) into an RGB image (row-major, 3 bytes per pixel). Throws InvalidArgument on bad shapes,
/// sizes or non-finite values.
std::vector<std::uint8_t> render_scatter(MatrixView<double> embedding, const std::vector<std::int64_t>& labels,
                                         const ScatterOptions& options, int* width_out, int* height_out);

/// Renders and writes PNG, SVG or PDF by the extension of `path` (plot_format_for); throws InvalidArgument for
/// another extension, IoError naming the path if it cannot be written.
void write_scatter(const std::string& path, MatrixView<double> embedding, const std::vector<std::int64_t>& labels,
                   const ScatterOptions& options = {});

/// write_scatter, kept for callers of the PNG-only API: the format still follows the extension.
void write_scatter_png(const std::string& path, MatrixView<double> embedding,
                       const std::vector<std::int64_t>& labels, const ScatterOptions& options = {});

} // namespace nembed
