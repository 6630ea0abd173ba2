#pragma once
/// @file uncertainty.hpp
/// Pictures of embedding uncertainty and sensitivity, drawn with cairo and written as PNG, SVG or PDF by the
/// path's extension: uncertainty ellipses from per-point 2 × 2 covariances, arrows (or double-headed axes) over the
/// map, and a diverging heatmap of a matrix (e.g. S, 2N × N·D), block-averaged down to the image size.
#include <cstdint>
#include <string>
#include <vector>

#include "nembed/core/matrix.hpp"

namespace nembed {

struct UncertaintyPlotOptions {
    int size = 1000;              ///< image width and height in pixels (64..20000)
    std::string title;            ///< drawn at the top (empty: none)
    /// Ellipses: the region drawn is {δ : δᵀ C⁻¹ δ ≤ q} with q = 5.991 (95 % for a 2-D Gaussian), times `scale`.
    /// Arrows: vectors are multiplied by `scale`; 0 = automatic (the 95th-percentile arrow is 6 % of the map).
    double scale = 0.0;
    bool double_headed = false;   ///< arrows: draw ±v (for sign-free axes)
    std::string font = "DejaVu Sans";  ///< fontconfig family of the text
};

/// Y: N × 2; covariances: N × 4 (c_xx, c_xy, c_yx, c_yy) per point; labels may be empty (colours as the scatter
/// plot's). Ellipse scale 0 = automatic (the median major semi-axis is 3 % of the map); the factor is printed on
/// the image. Throws InvalidArgument on bad shapes, values or extensions, IoError on write errors.
void write_ellipses(const std::string& path, MatrixView<double> Y, MatrixView<double> covariances,
                    const std::vector<std::int64_t>& labels, const UncertaintyPlotOptions& options = {});

/// Y: N × 2; arrows: N × 2 displacement per point.
void write_arrows(const std::string& path, MatrixView<double> Y, MatrixView<double> arrows,
                  const std::vector<std::int64_t>& labels, const UncertaintyPlotOptions& options = {});

/// Any matrix; blue (negative) – white (0) – red (positive), symmetric range ±max|block mean|.
void write_heatmap(const std::string& path, MatrixView<double> matrix, const UncertaintyPlotOptions& options = {});

} // namespace nembed
